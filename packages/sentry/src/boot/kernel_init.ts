// Assembles one container inside the sentry from its parts: the file system tree over the gofer (vfs
// buildContainerRoot: root with an optional memory overlay, /proc, /dev, the spec's mounts), the Kernel with the
// ELF loader, and the container's stdio (the sentry's own fds 0-2, which runsc gave it). Returns the
// InitLauncher the control socket's lifecycle drives.
//
// Not wired yet (the kernel has no such options): --network (netstack or hostinet), process.rlimits, capabilities,
// and process.terminal (no pseudo-terminals: stdio is passed through as plain streams).
import { HostFile } from '../fsimpl/host_file.js';
import { vfsExecutableSource } from '../kernel/executable_source.js';
import { Kernel } from '../kernel/kernel.js';
import { loadExecutable } from '../loader/index.js';
import { buildContainerRoot } from '../vfs/container_root.js';
import { O_RDONLY, O_WRONLY } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import fs from 'node:fs';
import type { InitLauncher } from './container_lifecycle.js';
import { lookupExecutable } from './executable_lookup.js';
import type { InitLauncherFactory } from './sandbox_boot.js';

/** The container's stdin, stdout and stderr: the sentry's own, as runsc passed them (like runc without a tty). */
function hostStdio(): [FileDescription, FileDescription, FileDescription] {
  return [
    new FileDescription(new HostFile(0), O_RDONLY, null),
    new FileDescription(new HostFile(1), O_WRONLY, null),
    new FileDescription(new HostFile(2), O_WRONLY, null),
  ];
}

export const createKernelInit: InitLauncherFactory = async ({ options, spec, gofer, logger }) => {
  const root = await buildContainerRoot({
    gofer,
    overlay: options.overlay2 === 'root:memory' ? 'memory' : 'none',
    mounts: spec.mounts ?? [],
    readonly: spec.root.readonly === true,
  });
  const kernel = new Kernel({
    hostname: spec.hostname ?? 'tsvisor',
    rootFs: root.mounts,
    logger,
    loadExecutable,
    executableSource: (task) => vfsExecutableSource(task),
  });
  if (options.network !== 'none') {
    logger.warn({ network: options.network }, 'network mode not wired into the kernel yet: the container has no network');
  }
  const user = spec.process.user;
  const launcher: InitLauncher = {
    run: async () => {
      const env = spec.process.env ?? [];
      try {
        const file = await lookupExecutable(root.mounts, spec.process.args[0] ?? '', env, spec.process.cwd);
        return await kernel.runInit({
          argv: [file, ...spec.process.args.slice(1)],
          env,
          cwd: spec.process.cwd,
          uid: user.uid,
          gid: user.gid,
          groups: user.additionalGids ?? [],
          stdio: hostStdio(),
        });
      } catch (err) {
        // As runc does, say why on the container's stderr (the caller's terminal or log), then fail the start.
        const message = (err as Error).message;
        logger.error({ code: (err as { code?: string }).code }, `cannot run the container's init: ${message}`);
        try {
          fs.writeSync(2, `runsc: cannot run ${JSON.stringify(spec.process.args[0])}: ${message}\n`);
        } catch {
          // stderr closed: the log has it.
        }
        throw err;
      }
    },
    signal: (signal, all) => {
      if (all) {
        kernel.kill(signal);
        return;
      }
      // runc kill without --all signals the container's init only (pid 1 in its pid namespace).
      const init = kernel.pids.group(1);
      if (!init?.alive) return;
      try {
        process.kill(init.hostTgid, signal);
      } catch {
        // Exited meanwhile: the lifecycle learns it from runInit.
      }
      kernel.interruptForSignal(init, signal);
    },
    pause: () => kernel.pause(),
    resume: () => kernel.resume(),
    processes: () =>
      kernel.processes()
        .filter((p) => p.state !== 'Z')
        .map((p) => ({ pid: p.pid, ppid: p.ppid, uid: p.creds.uid, argv: p.argv.length > 0 ? p.argv : [p.comm] })),
  };
  return launcher;
};

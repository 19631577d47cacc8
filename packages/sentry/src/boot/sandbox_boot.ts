// The sentry's boot sequence, run by main.ts in a process runsc started (sandbox_launcher.ts in runsc):
//   1. read the frozen spec, open the log;
//   2. connect the 9P client to the gofer over the inherited socket;
//   3. let the kernel side assemble the container (file system, kernel) and hand back its init launcher;
//   4. serve the control socket, report "ready" on the readiness fd;
//   5. when the container's init ends, answer the waiters and exit with its status (128+N for signal N), which
//      is what containerd's shim and conmon read as the container's exit status.
// A failure before "ready" is reported on the readiness fd (runsc create prints it) and the sentry exits 1.
import { markBootPhase } from './boot_timing.js';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import type { Logger } from 'pino';
import { P9Client } from '@tsvisor/p9';
import type { BootOptions } from './boot_args.js';
import { ContainerLifecycle, type InitLauncher } from './container_lifecycle.js';
import { exitStatusToCode, type ReadyMessage } from './control_protocol.js';
import { ControlServer } from './control_server.js';
import { createFormattedLogger } from './log_destination.js';

/** The parts of the OCI config the sentry reads (runsc validated the whole file against the runtime-spec). */
export interface SandboxSpec {
  process: {
    terminal?: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env?: string[];
    cwd: string;
    rlimits?: Array<{ type: string; soft: number; hard: number }>;
  };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: Array<{ destination: string; type?: string; source?: string; options?: string[] }>;
  linux?: { maskedPaths?: string[]; readonlyPaths?: string[]; [field: string]: unknown };
  annotations?: Record<string, string>;
}

/** What the kernel side gets to build the container from. */
export interface ContainerSetup {
  options: BootOptions;
  spec: SandboxSpec;
  gofer: P9Client;
  logger: Logger;
}

/** Builds the container (file system over the gofer, kernel) and returns how to run its init. */
export type InitLauncherFactory = (setup: ContainerSetup) => Promise<InitLauncher>;

export class BootError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function report(fd: number, message: ReadyMessage): void {
  try {
    fs.writeSync(fd, `${JSON.stringify(message)}\n`);
    fs.closeSync(fd);
  } catch {
    // runsc went away (killed while waiting): nobody is left to tell.
  }
}

function openLog(options: BootOptions): Logger {
  const fd = options.logFile !== undefined ? fs.openSync(options.logFile, 'a', 0o600) : fs.openSync('/dev/null', 'w');
  return createFormattedLogger(fd, options.logFormat, options.debug ? 'debug' : 'info', { sentry: process.pid, id: options.id });
}

function readSpec(file: string): SandboxSpec {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxSpec;
  } catch (err) {
    throw new BootError('EBADCONFIG', `cannot read the container spec ${file}: ${(err as Error).message}`);
  }
}

async function connectGofer(fd: number): Promise<P9Client> {
  const socket = new net.Socket({ fd, readable: true, writable: true });
  try {
    return await P9Client.connect(socket);
  } catch (err) {
    socket.destroy();
    throw new BootError('EGOFER', `cannot speak 9P to the gofer on fd ${fd}: ${(err as Error).message}`);
  }
}

// Signals sent to the sentry's pid (the pid-file's pid, which supervisors treat as the container's init) are
// meant for the container: they are forwarded to its init rather than ending the sentry.
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Boots the sandbox and resolves with the exit code the sentry process should exit with. */
export async function bootSandbox(
  options: BootOptions,
  makeInit: InitLauncherFactory,
  { forwardSignals = true }: { forwardSignals?: boolean } = {},
): Promise<number> {
  let logger: Logger | undefined;
  let lifecycle: ContainerLifecycle;
  let server: ControlServer;
  try {
    logger = openLog(options);
    const spec = readSpec(options.specFile);
    logger.info({ rootfs: options.rootfs, network: options.network, platform: options.platform, overlay2: options.overlay2 }, 'booting');
    const gofer = await connectGofer(options.goferFd);
    markBootPhase('9P connected');
    const launcher = await makeInit({ options, spec, gofer, logger });
    markBootPhase('container root built');
    lifecycle = new ContainerLifecycle(launcher);
    server = new ControlServer(options.controlSocket, lifecycle, logger);
    await server.listen();
  } catch (err) {
    const code = err instanceof BootError ? err.code : ((err as { code?: string }).code ?? 'EBOOT');
    const message = (err as Error).message;
    logger?.error({ code }, message);
    report(options.readyFd, { ready: false, code, error: message });
    return 1;
  }
  for (const name of forwardSignals ? FORWARDED_SIGNALS : []) {
    process.on(name, () => {
      try {
        lifecycle.kill(os.constants.signals[name], false);
      } catch (err) {
        logger.warn({ signal: name, err: (err as Error).message }, 'signal not forwarded');
      }
    });
  }
  report(options.readyFd, { ready: true, pid: process.pid });
  markBootPhase('ready');
  logger.info('created');
  const exit = await lifecycle.wait();
  logger.info({ exit }, 'container stopped');
  await server.close();
  return exitStatusToCode(exit);
}

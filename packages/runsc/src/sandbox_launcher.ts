// Starts one sandbox: the gofer (serves the rootfs over 9P) and the sentry (the application kernel), joined by a
// socketpair whose ends they inherit as fds. The sentry reports on an inherited pipe once it has booted (9P
// attached, file system built, control socket listening) or why it could not; launchSandbox returns only then.
//
// Both run in their own session (detached: setsid): a terminal's Ctrl-C reaches runsc, which forwards it to the
// container through the control socket, never to the sandbox processes themselves; and after `runsc create`
// exits they live on, reparented to the caller's subreaper (containerd's shim, conmon) as runc's container is.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { formatBootArgs, parseReadyMessage, type BootOptions } from '@tsvisor/sentry/boot';
import type { GlobalOptions } from './global_options.js';
import type { OciSpec } from './oci_spec.js';
import { processStartTime } from './process_identity.js';
import { RuntimeError } from './runtime_error.js';
import {
  GOFER_MAIN,
  GOFER_SOCKET_FD,
  SENTRY_GOFER_FD,
  SENTRY_MAIN,
  SENTRY_READY_FD,
  UNSHARE_ARGS,
  goferSpawnOptions,
  takePrewarmed,
} from './sandbox_prewarm.js';

export { GOFER_MAIN, SENTRY_MAIN } from './sandbox_prewarm.js';

const READY_TIMEOUT_MS = 30_000;

export interface LaunchOptions {
  id: string;
  /** The container's state directory: the frozen spec and the control socket go here. */
  stateDir: string;
  spec: OciSpec;
  bundle: string;
  rootfs: string;
  global: GlobalOptions;
  /** "root:memory" puts a memory upper layer over the root (runsc do); otherwise global.overlay2. */
  overlay2?: string;
  /** Fds the sentry gets as stdin, stdout, stderr (the container's stdio). */
  stdio: [number, number, number];
}

export interface LaunchedSandbox {
  sentry: ChildProcess;
  sentryPid: number;
  sentryStartTime: string | undefined;
  goferPid: number;
  goferStartTime: string | undefined;
  controlSocket: string;
}

function spawnFailure(what: string, err: unknown): RuntimeError {
  return new RuntimeError('ESANDBOX', `cannot start the ${what}: ${(err as Error).message}`);
}

/** Waits for the sentry's readiness line, its exit, or the timeout, whichever comes first. */
function awaitReady(sentry: ChildProcess, logHint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const pipe = sentry.stdio[SENTRY_READY_FD] as NodeJS.ReadableStream | null;
    let buffered = '';
    const cleanup = () => {
      clearTimeout(timer);
      sentry.off('exit', onExit);
      pipe?.removeAllListeners('data');
      (pipe as unknown as { destroy?: () => void } | null)?.destroy?.();
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup();
      reject(new RuntimeError('ESANDBOX', `the sentry exited (${signal ?? `code ${code}`}) before it was ready${logHint}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new RuntimeError('ESANDBOX', `the sentry did not become ready within ${READY_TIMEOUT_MS} ms${logHint}`));
    }, READY_TIMEOUT_MS);
    sentry.once('exit', onExit);
    pipe?.setEncoding('utf8');
    pipe?.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      cleanup();
      try {
        const message = parseReadyMessage(buffered.slice(0, newline));
        if (message.ready) resolve();
        else reject(new RuntimeError('ESANDBOX', `the sandbox failed to boot: ${message.error}`));
      } catch (err) {
        reject(new RuntimeError('ESANDBOX', (err as Error).message));
      }
    });
  });
}

/**
 * The spec's bind mounts as gofer flags (--mount DEST=SRC, --mount-ro for "ro"): the gofer serves each under the
 * attach name DEST, which is where the sentry's VFS mounts it. A relative source is relative to the bundle
 * (runtime-spec config.md "Mounts").
 */
export function goferMountArgs(spec: OciSpec, bundle: string): string[] {
  const args: string[] = [];
  for (const mount of spec.mounts ?? []) {
    const options = mount.options ?? [];
    const isBind = mount.type === 'bind' || options.includes('bind') || options.includes('rbind');
    if (!isBind || mount.source === undefined) continue;
    const source = path.resolve(bundle, mount.source);
    args.push(options.includes('ro') ? '--mount-ro' : '--mount', `${mount.destination}=${source}`);
  }
  return args;
}

function killQuietly(child: ChildProcess | undefined): void {
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

export async function launchSandbox(options: LaunchOptions): Promise<LaunchedSandbox> {
  for (const [what, main] of [['sentry', SENTRY_MAIN], ['gofer', GOFER_MAIN]] as const) {
    if (!fs.existsSync(main)) throw new RuntimeError('ESANDBOX', `the ${what} is not built (${main} missing): run "make build"`);
  }
  const { global } = options;
  const specFile = path.join(options.stateDir, 'config.json');
  fs.writeFileSync(specFile, JSON.stringify(options.spec), { mode: 0o600 });
  const controlSocket = path.join(options.stateDir, 'control.sock');
  const sentryLog = global.debugLog ?? global.log ?? path.join(options.stateDir, 'sentry.log');
  const logHint = ` (see ${sentryLog})`;

  const overlay2 = options.overlay2 ?? global.overlay2;
  const goferArgs = [
    '--root',
    options.rootfs,
    '--fd',
    String(GOFER_SOCKET_FD),
    '--log',
    global.debugLog ?? path.join(options.stateDir, 'gofer.log'),
    ...goferMountArgs(options.spec, options.bundle),
  ];
  // With a memory overlay the sentry never writes to the lower layer: the gofer can refuse writes outright.
  if (options.spec.root?.readonly || overlay2 === 'root:memory') goferArgs.push('--readonly');
  const boot: BootOptions = {
    id: options.id,
    specFile,
    rootfs: options.rootfs,
    bundle: options.bundle,
    controlSocket,
    goferFd: SENTRY_GOFER_FD,
    readyFd: SENTRY_READY_FD,
    network: global.network,
    gso: global.gso,
    platform: global.platform,
    overlay2,
    logFile: sentryLog,
    logFormat: global.logFormat,
    debug: global.debug,
  };

  let gofer: ChildProcess | undefined;
  let sentry: ChildProcess | undefined;
  // unshare(1) missing is reported asynchronously; the sentry then fails to attach and says why in its log.
  let goferSpawnError: Error | undefined;
  const onGoferError = (err: Error) => {
    goferSpawnError = err;
  };
  try {
    const warm = takePrewarmed();
    if (warm && warm.stdio.every((fd, i) => fd === options.stdio[i])) {
      ({ gofer, sentry } = warm);
      gofer.once('error', onGoferError);
      warm.send(formatBootArgs(boot), goferArgs);
    } else {
      // Not prewarmed (runsc used as a library, or other stdio): start both now. An unused prewarmed pair ends
      // by itself when runsc exits and closes their argument pipes.
      ({ gofer, sentry } = await spawnSandbox(boot, goferArgs, options.stdio));
      gofer.once('error', onGoferError);
    }
    try {
      await awaitReady(sentry, logHint);
    } catch (err) {
      if (goferSpawnError) throw spawnFailure('gofer (unshare(1) from util-linux is required)', goferSpawnError);
      throw err;
    }
    if (sentry.pid === undefined || gofer.pid === undefined) throw new RuntimeError('ESANDBOX', 'sandbox processes have no pid');
    return {
      sentry,
      sentryPid: sentry.pid,
      sentryStartTime: processStartTime(sentry.pid),
      goferPid: gofer.pid,
      goferStartTime: processStartTime(gofer.pid),
      controlSocket,
    };
  } catch (err) {
    killQuietly(sentry);
    killQuietly(gofer);
    throw err;
  }
}

/** Starts the gofer (under unshare(1), see UNSHARE_ARGS) and the sentry with their arguments on the command line,
 * joined by a fresh socketpair. */
async function spawnSandbox(
  boot: BootOptions,
  goferArgs: string[],
  stdio: [number, number, number],
): Promise<{ gofer: ChildProcess; sentry: ChildProcess }> {
  // Loaded here, not at the top: only commands that start a sandbox need the native addon, so `runsc state`,
  // `list`, `spec` and the error paths work (and start faster) without it.
  const { closeFd, socketpair } = await import('@tsvisor/native');
  const [sentryEnd, goferEnd] = socketpair();
  let gofer: ChildProcess | undefined;
  try {
    const goferStdio: StdioOptions = ['ignore', 'ignore', 'inherit', goferEnd];
    try {
      gofer = spawn('unshare', [...UNSHARE_ARGS, process.execPath, GOFER_MAIN, ...goferArgs], goferSpawnOptions(goferStdio));
    } catch (err) {
      throw spawnFailure('gofer', err);
    }
    gofer.on('error', () => undefined); // reported through the caller's own listener
    const sentryStdio: StdioOptions = [...stdio, 'pipe', sentryEnd];
    try {
      const sentry = spawn(process.execPath, [SENTRY_MAIN, ...formatBootArgs(boot)], { stdio: sentryStdio, detached: true });
      return { gofer, sentry };
    } catch (err) {
      killQuietly(gofer);
      throw spawnFailure('sentry', err);
    }
  } finally {
    // The children hold their own copies now; ours must go, or the gofer would never see the sentry's end close.
    closeFd(sentryEnd);
    closeFd(goferEnd);
  }
}

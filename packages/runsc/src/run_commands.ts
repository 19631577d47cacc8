// runsc run (create + start + wait, then delete) and runsc do (the same over the host root with a spec built in
// memory). Both exit with the application's status: its exit code, or 128+N if signal N killed it, like runc.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { controlRequest, SandboxRefused } from './control_client.js';
import { DEFAULT_PATH } from './default_spec.js';
import type { GlobalOptions } from './global_options.js';
import { createContainer, deleteContainer, startContainer } from './lifecycle_commands.js';
import { OCI_VERSION, type OciSpec } from './oci_spec.js';
import { RuntimeError } from './runtime_error.js';

// Signals a terminal or a supervisor sends to runsc that belong to the application instead (runc forwards them
// the same way). SIGKILL cannot be caught: if runsc dies by it, the sandbox (in its own session) lives on until
// `runsc delete`, as a runc container does.
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** The status the sentry process ended with, as a shell exit code: its code, or 128+N if signal N killed it. */
function sentryExitCode(sentry: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) =>
      resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
    if (sentry.exitCode !== null || sentry.signalCode !== null) done(sentry.exitCode, sentry.signalCode);
    else sentry.once('exit', done);
  });
}

// A sandbox that cannot take a terminating signal within this time is hung: runsc then kills it, so that a
// supervisor's SIGTERM (timeout(1), systemd) still ends `runsc run` instead of leaving it waiting forever.
const FORWARD_TIMEOUT_MS = 5_000;
const TERMINATING: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);

function forwardSignals(controlSocket: string, logger: Logger, killSandbox: () => void): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const name of FORWARDED_SIGNALS) {
    const handler = () => {
      controlRequest(controlSocket, { op: 'kill', signal: os.constants.signals[name], all: false }, FORWARD_TIMEOUT_MS).catch(
        (err: Error) => {
          logger.warn({ signal: name, err: err.message }, 'could not forward signal');
          // A refusal (the container just stopped) is an answer; only silence means the sandbox is hung.
          if (TERMINATING.has(name) && !(err instanceof SandboxRefused)) {
            logger.error({ signal: name }, 'the sandbox does not answer: killing it');
            killSandbox();
          }
        },
      );
    };
    handlers.set(name, handler);
    process.on(name, handler);
  }
  return () => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
}

export interface RunRequest {
  id: string;
  global: GlobalOptions;
  logger: Logger;
  bundle: string;
  spec?: { spec: OciSpec; rootfs: string };
  pidFile?: string;
  consoleSocket?: string;
  overlay2?: string;
  /** runc run --detach: return after start, leaving the container running. */
  detach?: boolean;
  /** runc run --keep: do not delete the container after it exits. */
  keep?: boolean;
}

/** runsc run; resolves with the exit code runsc should exit with. */
export async function runContainer(request: RunRequest): Promise<number> {
  const createRequest: Parameters<typeof createContainer>[0] = {
    id: request.id,
    global: request.global,
    logger: request.logger,
    bundle: request.bundle,
  };
  if (request.spec) createRequest.spec = request.spec;
  if (request.pidFile !== undefined) createRequest.pidFile = request.pidFile;
  if (request.consoleSocket !== undefined) createRequest.consoleSocket = request.consoleSocket;
  if (request.overlay2 !== undefined) createRequest.overlay2 = request.overlay2;
  const { state, sandbox } = await createContainer(createRequest);
  const stopForwarding = forwardSignals(state.controlSocket, request.logger, () => sandbox.sentry.kill('SIGKILL'));
  try {
    const exited = sentryExitCode(sandbox.sentry);
    try {
      await startContainer(request.global, request.id, request.logger);
    } catch (err) {
      await deleteContainer(request.global, request.id, true, request.logger);
      throw err;
    }
    if (request.detach) {
      sandbox.sentry.unref();
      return 0;
    }
    const code = await exited;
    if (!request.keep) await deleteContainer(request.global, request.id, true, request.logger);
    return code;
  } finally {
    stopForwarding();
  }
}

export interface DoRequest {
  global: GlobalOptions;
  logger: Logger;
  argv: string[];
}

/**
 * The spec `runsc do` runs under: the host's / (served read-only) beneath a memory overlay (writes vanish at exit), the
 * caller's working directory and whole environment (as gVisor's `runsc do`: the command should see what it would
 * see unsandboxed; PATH gets a default if the caller has none), root in the sandbox, and the usual /proc and /dev.
 */
export function doSpec(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): OciSpec {
  const processEnv = Object.entries({ PATH: DEFAULT_PATH, ...env })
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${value}`);
  return {
    ociVersion: OCI_VERSION,
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: argv, env: processEnv, cwd },
    // Writable for the application: writes land in the memory overlay (--overlay2=root:memory), while the gofer
    // serves the host's / read-only, so nothing reaches the host.
    root: { path: '/', readonly: false },
    hostname: os.hostname(),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
    ],
    linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
  };
}

/** runsc do; resolves with the exit code. Its state lives in a temporary root, removed at exit. */
export async function doCommand(request: DoRequest): Promise<number> {
  if (request.argv.length === 0) throw new RuntimeError('EUSAGE', 'runsc do: a command is required: runsc do -- CMD [ARGS...]');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-do-'));
  try {
    return await runContainer({
      id: `do-${process.pid}`,
      global: { ...request.global, root },
      logger: request.logger,
      bundle: root,
      spec: { spec: doSpec(request.argv), rootfs: '/' },
      overlay2: 'root:memory',
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

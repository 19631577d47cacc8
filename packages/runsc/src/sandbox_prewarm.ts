// Starts the sandbox processes early. A sentry or gofer spends most of its start loading modules; so does runsc
// (yargs, the logger, the launcher) before it knows their arguments. On a 2-core host those can overlap: main.ts
// calls prewarmSandbox() first thing when the command will run a sandbox (run, create, do), and the gofer and the
// sentry start with `--argv-fd=N`, loading their modules while runsc parses and validates. launchSandbox then
// sends each its arguments (one JSON string array on its pipe, then EOF). If runsc never does (a bad bundle, a
// usage error, a crash), the pipes close when runsc exits and both processes exit 0 without doing anything.
//
// Only Node built-ins and the native addon (socketpair) are imported here: this runs before everything else.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { closeFd, socketpair } from '@tsvisor/native';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Entry points of the other processes, compiled (dist) whether runsc runs from dist or from src under vitest. */
export const SENTRY_MAIN = path.resolve(here, '../../sentry/dist/main.js');
export const GOFER_MAIN = path.resolve(here, '../../gofer/dist/main.js');

// Fd numbers inside the children: 0-2 stdio, then these (Node's spawn places stdio[i] at fd i).
export const SENTRY_READY_FD = 3;
export const SENTRY_GOFER_FD = 4;
const SENTRY_ARGV_FD = 5;
export const GOFER_SOCKET_FD = 3;
const GOFER_ARGV_FD = 4;

/** The gofer's namespaces (mount with private propagation, network, IPC; see gofer/src/main.ts) are made by
 * unshare(1), which then execs Node: every thread Node starts is inside them, and no wrapper Node process boots
 * first only to re-execute itself. TSVISOR_GOFER_NS=1 tells the gofer they already exist. */
export const UNSHARE_ARGS = ['--mount', '--propagation', 'private', '--net', '--ipc', '--'];

export function goferSpawnOptions(stdio: StdioOptions) {
  return { stdio, detached: true, env: { ...process.env, TSVISOR_GOFER_NS: '1' } };
}

export interface PrewarmedSandbox {
  sentry: ChildProcess;
  gofer: ChildProcess;
  /** The container stdio the sentry was started with (runsc's own 0, 1, 2). */
  stdio: [number, number, number];
  /** Sends the sentry its boot arguments and the gofer its arguments; each process starts work on receipt. */
  send(sentryArgs: string[], goferArgs: string[]): void;
}

let prewarmed: PrewarmedSandbox | undefined;

/** The commands that start a sandbox. A global flag's value never equals one of these words in practice; if one
 * did, the cost is two processes that exit at once. */
const SANDBOX_COMMANDS = new Set(['run', 'create', 'do']);
const GLOBAL_FLAGS_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--debug-log', '--rootless', '--criu', '--network', '--platform', '--overlay2']);

/** True if argv (without node and the script) names a command that starts a sandbox (and asks for no help). */
export function startsSandbox(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h' || arg === '--version' || arg === '-v') return false;
    if (arg.startsWith('-')) {
      if (GLOBAL_FLAGS_WITH_VALUE.has(arg)) i++;
      continue;
    }
    return SANDBOX_COMMANDS.has(arg) && !argv.slice(i + 1).some((a) => a === '--help' || a === '-h');
  }
  return false;
}

function pipeOf(child: ChildProcess, fd: number): Writable {
  return child.stdio[fd] as Writable;
}

/** Starts a gofer and a sentry waiting for their arguments; later takePrewarmed() hands them to launchSandbox. */
export function prewarmSandbox(): void {
  if (prewarmed) return;
  const [sentryEnd, goferEnd] = socketpair();
  let gofer: ChildProcess | undefined;
  let sentry: ChildProcess | undefined;
  try {
    gofer = spawn(
      'unshare',
      [...UNSHARE_ARGS, process.execPath, GOFER_MAIN, `--argv-fd=${GOFER_ARGV_FD}`],
      goferSpawnOptions(['ignore', 'ignore', 'inherit', goferEnd, 'pipe']),
    );
    // unshare(1) missing is reported asynchronously: the sentry then fails to attach and says why.
    gofer.on('error', () => undefined);
    sentry = spawn(process.execPath, [SENTRY_MAIN, `--argv-fd=${SENTRY_ARGV_FD}`], {
      stdio: [0, 1, 2, 'pipe', sentryEnd, 'pipe'],
      detached: true,
    });
  } catch {
    // Could not start them now: launchSandbox starts them the ordinary way and reports any failure.
    gofer?.kill('SIGKILL');
    closeFd(sentryEnd);
    closeFd(goferEnd);
    return;
  }
  // The children hold their own copies now; ours must go, or the gofer would never see the sentry's end close.
  closeFd(sentryEnd);
  closeFd(goferEnd);
  // A write to a process that already died (EPIPE) surfaces as the sentry's early exit in awaitReady instead.
  for (const [child, fd] of [[gofer, GOFER_ARGV_FD], [sentry, SENTRY_ARGV_FD]] as const) pipeOf(child, fd).on('error', () => undefined);
  // Not unref'd: main.ts ends runsc with process.exit, and `run` waits on the sentry's exit through these handles.
  const started = { gofer, sentry };
  prewarmed = {
    ...started,
    stdio: [0, 1, 2],
    send(sentryArgs, goferArgs) {
      pipeOf(started.gofer, GOFER_ARGV_FD).end(JSON.stringify(goferArgs));
      pipeOf(started.sentry, SENTRY_ARGV_FD).end(JSON.stringify(sentryArgs));
    },
  };
}

/** The prewarmed sandbox processes, once (undefined if none were started or they were already taken). */
export function takePrewarmed(): PrewarmedSandbox | undefined {
  const taken = prewarmed;
  prewarmed = undefined;
  return taken;
}

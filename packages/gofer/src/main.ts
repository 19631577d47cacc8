// Gofer process entry:
//   node packages/gofer/dist/main.js --root DIR [--readonly] [--mount DEST=SRC ...] [--mount-ro DEST=SRC ...]
//                                    --fd N [--log FILE] [--log-level LEVEL]
// Serves DIR (and the extra mounts, attach name DEST) over 9P2000.L on the inherited socket fd N, confined to
// them (confine.ts), with every thread's capabilities cut down to what serving files needs (capabilities.ts), under
// its seccomp filter. Exits 0 when the client closes the connection, 1 on a startup failure (message on stderr).
//
// The process first re-executes itself under `unshare --mount --propagation private --net --ipc` (util-linux),
// because a mount namespace must be entered before Node starts its thread pool (see confine.ts), and the gofer
// needs no network. The environment variable
// `main.js --argv-fd=N` reads those arguments as a JSON string array from the inherited pipe N instead (runsc
// starts the gofer before it knows them, see sandbox_prewarm.ts in runsc; an empty pipe means "not needed": exit 0).
//
// TSVISOR_GOFER_NS=1 marks the re-executed child (a launcher that already creates the namespace may set it: runsc
// starts the gofer as `unshare ... -- node main.js` with it set, so only one Node process boots).
//
// Only Node built-ins are imported statically: the wrapper process decides to re-execute before it loads pino, 9P,
// seccomp or the file server (dynamic imports in serve()), which would only slow down a process about to be replaced.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { ConfineMount } from './confine.js';

export interface GoferArgs {
  root: string;
  readonly: boolean;
  mounts: ConfineMount[];
  fd: number;
  log?: string;
  logLevel: string;
  /** Install the gofer's seccomp self filter after confinement (default on; --no-seccomp to debug). */
  seccomp: boolean;
  /** --confine=pivot_root|chroot forces a confinement method (default: pivot_root, chroot where impossible). */
  confine?: 'pivot_root' | 'chroot';
}

/** Parse the command line; throws an Error with a usage message on bad input. */
export function parseGoferArgs(argv: string[]): GoferArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      root: { type: 'string' },
      readonly: { type: 'boolean', default: false },
      mount: { type: 'string', multiple: true, default: [] },
      'mount-ro': { type: 'string', multiple: true, default: [] },
      fd: { type: 'string' },
      log: { type: 'string' },
      'log-level': { type: 'string' },
      seccomp: { type: 'boolean', default: true },
      confine: { type: 'string' },
    },
    allowNegative: true,
    strict: true,
  });
  const usage =
    "usage: main.js --root DIR [--readonly] [--mount DEST=SRC]... [--mount-ro DEST=SRC]... --fd N [--log FILE] " +
    "[--log-level LEVEL] [--no-seccomp] [--confine=pivot_root|chroot]";
  if (!values.root) throw new Error(`--root is required; ${usage}`);
  const fd = Number(values.fd);
  if (values.fd === undefined || !Number.isInteger(fd) || fd < 0) throw new Error(`--fd must be a descriptor number; ${usage}`);
  if (values.confine !== undefined && values.confine !== 'pivot_root' && values.confine !== 'chroot') {
    throw new Error(`--confine must be pivot_root or chroot; ${usage}`);
  }
  const mounts: ConfineMount[] = [];
  const addMounts = (specs: string[], readonly: boolean): void => {
    for (const spec of specs) {
      const eq = spec.indexOf('=');
      const dest = spec.slice(0, eq);
      const src = spec.slice(eq + 1);
      if (eq <= 0 || !dest.startsWith('/') || dest === '/' || !src) {
        throw new Error(`--mount ${JSON.stringify(spec)}: expected DEST=SRC with an absolute DEST other than /`);
      }
      mounts.push({ dest, src, readonly });
    }
  };
  addMounts(values.mount as string[], values.readonly as boolean);
  addMounts(values['mount-ro'] as string[], true);
  return {
    root: values.root,
    readonly: values.readonly as boolean,
    mounts,
    fd,
    log: values.log,
    // stderr is usually the container's (runsc inherits it): only warnings there unless asked; a file gets info.
    logLevel: values['log-level'] ?? (values.log ? 'info' : 'warn'),
    seccomp: values.seccomp as boolean,
    confine: values.confine as GoferArgs['confine'],
  };
}

/** Re-execute this script in new mount (private propagation), network and IPC namespaces, passing fd N through;
 * resolves to its exit code. */
function reexecInMountNamespace(args: GoferArgs, argv: string[]): Promise<number> {
  const stdio: ('inherit' | 'ignore' | number)[] = ['inherit', 'inherit', 'inherit'];
  while (stdio.length <= args.fd) stdio.push('ignore');
  stdio[args.fd] = args.fd;
  const child = spawn(
    'unshare',
    // --net and --ipc too: the gofer talks only over its inherited socket (design.md: "no network").
    ['--mount', '--propagation', 'private', '--net', '--ipc', '--', process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...argv],
    { stdio, env: { ...process.env, TSVISOR_GOFER_NS: '1', TSVISOR_GOFER_PARENT: String(process.pid) } },
  );
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`gofer: cannot run unshare(1): ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
}

/** Reads the arguments runsc sends on fd (--argv-fd): one JSON array of strings, then EOF; undefined if the pipe
 * was closed empty. */
function readArgvPipe(fd: number): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const stream = fs.createReadStream('', { fd, autoClose: true });
    stream.on('data', (chunk) => chunks.push(chunk as Buffer));
    stream.on('error', (err) => reject(new Error(`cannot read arguments from fd ${fd}: ${err.message}`)));
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(undefined);
      try {
        const value: unknown = JSON.parse(text);
        if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return resolve(value as string[]);
      } catch {
        // Reported below.
      }
      reject(new Error(`arguments on fd ${fd} must be a JSON array of strings`));
    });
  });
}

type ServingModules = Awaited<ReturnType<typeof loadServingModules>>;

function loadServingModules() {
  return Promise.all([
    import('pino'),
    import('@tsvisor/p9'),
    import('@tsvisor/seccomp'),
    import('./confine.js'),
    import('./gofer.js'),
    import('./capabilities.js'),
  ]);
}

async function run(argv: string[]): Promise<number> {
  const inNamespace = process.env.TSVISOR_GOFER_NS === '1';
  // Already in the namespaces: start loading what serving needs while the arguments are parsed (or still coming).
  const serving = inNamespace ? loadServingModules() : undefined;
  serving?.catch(() => undefined);
  const pipe = argv.length === 1 ? /^--argv-fd=(\d+)$/.exec(argv[0]!) : null;
  if (pipe) {
    let sent: string[] | undefined;
    try {
      sent = await readArgvPipe(Number(pipe[1]));
    } catch (err) {
      process.stderr.write(`gofer: ${(err as Error).message}\n`);
      return 2;
    }
    if (sent === undefined) return 0;
    argv = sent;
  }
  let args: GoferArgs;
  try {
    args = parseGoferArgs(argv);
  } catch (err) {
    process.stderr.write(`gofer: ${(err as Error).message}\n`);
    return 2;
  }
  if (!serving) return reexecInMountNamespace(args, argv);
  return serve(args, await serving);
}

async function serve(args: GoferArgs, modules: ServingModules): Promise<number> {
  const [{ pino }, { P9Errno, serveP9 }, { SCMP_ACT, apiLevel, installSelfFilter }, { confineToRoots }, { Gofer }, { dropGoferCapabilities }] =
    modules;
  // Open the log before confinement: afterwards the host path is out of reach.
  const dest = args.log ? pino.destination({ dest: args.log, sync: true, append: true }) : pino.destination({ fd: 2, sync: true });
  const log: Logger = pino({ name: 'gofer', level: args.logLevel }, dest);
  try {
    fs.fstatSync(args.fd);
  } catch {
    log.error({ fd: args.fd }, 'the 9P socket descriptor is not open');
    return 1;
  }
  // libseccomp is loaded from the host's /usr/lib, so it must be loaded before the host disappears from view.
  if (args.seccomp) apiLevel();
  // The thread list, for dropping every thread's capabilities after the pivot (proc is not in the new root). It
  // leads to every process's /proc entry, so it is closed before anything is served.
  let taskDir: number;
  try {
    taskDir = fs.openSync('/proc/self/task', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (err) {
    log.error({ err }, 'cannot open /proc/self/task; refusing to serve');
    process.stderr.write(`gofer: cannot open /proc/self/task: ${(err as Error).message}\n`);
    return 1;
  }
  let confinement;
  try {
    try {
      confinement = confineToRoots({ root: args.root, readonly: args.readonly, mounts: args.mounts, method: args.confine });
    } catch (err) {
      log.error({ err, code: (err as { code?: string }).code }, 'gofer confinement failed; refusing to serve');
      process.stderr.write(`gofer: confinement failed: ${(err as Error).message}\n`);
      return 1;
    }
    log.info({ method: confinement.method, roots: confinement.roots, hostRoot: args.root }, 'gofer confined');
    // Before the seccomp filter, which allows neither capset nor PR_CAPBSET_DROP.
    try {
      log.info(dropGoferCapabilities(taskDir), 'gofer capabilities dropped on every thread');
    } catch (err) {
      log.error({ err }, 'cannot drop the gofer\'s capabilities; refusing to serve');
      process.stderr.write(`gofer: dropping capabilities failed: ${(err as Error).message}\n`);
      return 1;
    }
  } finally {
    fs.closeSync(taskDir);
  }
  if (args.seccomp) {
    // Second wall: even a compromised gofer cannot mount, unshare, ptrace, exec or open by handle.
    // Outside the allow-list a call fails with EPERM rather than killing the gofer mid-request; either way the
    // kernel never runs it.
    try {
      installSelfFilter('gofer', { defaultAction: SCMP_ACT.errno(P9Errno.EPERM) });
    } catch (err) {
      log.error({ err }, 'cannot install the gofer seccomp filter; refusing to serve');
      return 1;
    }
    log.info('gofer seccomp filter installed');
  }
  // Under the re-exec wrapper, whoever launched us holds the wrapper's pid: if the wrapper is killed (SIGKILL cannot
  // be forwarded), stop serving too rather than linger as an orphan.
  const wrapper = Number(process.env.TSVISOR_GOFER_PARENT);
  if (wrapper > 0) {
    setInterval(() => {
      if (process.ppid !== wrapper) {
        log.warn({ wrapper }, 'gofer wrapper process is gone; exiting');
        process.exit(1);
      }
    }, 500).unref();
  }
  const gofer = new Gofer({ roots: confinement.roots, log });
  const socket = new net.Socket({ fd: args.fd, readable: true, writable: true });
  const session = serveP9(socket, gofer, { log });
  await session.done;
  log.info('9P client disconnected; gofer exiting');
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`gofer: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

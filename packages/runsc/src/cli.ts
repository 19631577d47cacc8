// The runsc command line: runc's commands and global flags (Docker, Podman and containerd call runsc exactly as
// they call runc) plus gVisor's sandbox flags and `runsc do`. Each command's work lives in its own module; this
// file only parses arguments and prints results. runCli resolves with the process exit code.
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import type { Logger } from 'pino';
import type { GlobalOptions } from './global_options.js';
import { deleteContainer, createContainer, killContainer, pauseContainer, startContainer } from './lifecycle_commands.js';
import { createLogger } from './logger.js';
import { OCI_VERSION } from './oci_spec.js';
import { listCommand, psCommand, stateCommand, type ListFormat } from './query_commands.js';
import { doCommand, runContainer } from './run_commands.js';
import { RuntimeError } from './runtime_error.js';
import { parseSignal } from './signal_names.js';
import { specCommand } from './spec_command.js';
import { installCommand } from './install_command.js';
import { featuresCommand } from './features_command.js';
import { DEFAULT_STATE_ROOT } from './state_store.js';

export const RUNSC_VERSION = '0.1.0';
/** The launcher script Docker should run: bin/runsc of this checkout (it runs this package's dist/main.js). */
const RUNSC_BIN = fileURLToPath(new URL('../../../bin/runsc', import.meta.url));

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

type Parsed = Record<string, unknown>;

function globalOptions(argv: Parsed): GlobalOptions {
  const options: GlobalOptions = {
    root: argv.root as string,
    logFormat: argv['log-format'] as 'text' | 'json',
    debug: argv.debug === true,
    systemdCgroup: argv['systemd-cgroup'] === true,
    network: argv.network as GlobalOptions['network'],
    gso: argv.gso !== false,
    platform: argv.platform as string,
    overlay2: argv.overlay2 as string,
  };
  if (typeof argv.log === 'string' && argv.log !== '') options.log = argv.log;
  if (typeof argv['debug-log'] === 'string' && argv['debug-log'] !== '') options.debugLog = argv['debug-log'];
  return options;
}

function withGlobalFlags(parser: Argv): Argv {
  return parser
    .option('root', { type: 'string', default: DEFAULT_STATE_ROOT, describe: 'root directory for container state' })
    .option('log', { type: 'string', describe: 'log file (default: stderr)' })
    .option('log-format', { choices: ['text', 'json'], default: 'text', describe: 'log format' })
    .option('debug', { type: 'boolean', default: false, describe: 'enable debug logging' })
    .option('debug-log', { type: 'string', describe: "the sentry's log file" })
    .option('systemd-cgroup', { type: 'boolean', default: false, describe: 'accepted for runc compatibility (no effect)' })
    .option('rootless', { type: 'string', describe: 'accepted for runc compatibility (true|false|auto)' })
    .option('criu', { type: 'string', hidden: true })
    .option('network', { choices: ['sandbox', 'host', 'none'], default: 'sandbox', describe: 'netstack | host passthrough | loopback only' })
    .option('gso', { type: 'boolean', default: true, describe: 'generic segmentation offload on the link endpoint' })
    .option('platform', { type: 'string', default: 'ptrace', describe: 'how application syscalls reach the sentry' })
    .option('overlay2', { choices: ['none', 'root:memory'], default: 'none', describe: 'memory overlay over the root file system' });
}

function idArg(argv: Parsed): string {
  return String(argv.id);
}

function notSupported(command: string): never {
  throw new RuntimeError('ENOTSUP', `"runsc ${command}" is not implemented by tsvisor yet`);
}

export async function runCli(args: string[], io: CliIo = defaultIo): Promise<number> {
  let exitCode = 0;
  let logger: Logger | undefined;
  let loggerToFile = false;
  const log = (argv: Parsed): Logger => {
    if (!logger) {
      const created = createLogger(globalOptions(argv));
      logger = created.logger;
      loggerToFile = created.toFile;
    }
    return logger;
  };

  let parsed: Parsed = {};
  const parser = withGlobalFlags(yargs(args))
    .scriptName('runsc')
    .usage('runsc: an OCI runtime running containers in a TypeScript application kernel (tsvisor)')
    .parserConfiguration({ 'populate--': true })
    .version(`runsc version ${RUNSC_VERSION}\nspec: ${OCI_VERSION}`)
    .strict()
    .demandCommand(1, 'a command is required (see runsc --help)')
    .recommendCommands()
    .exitProcess(false)
    // Remember the parsed flags before any handler runs, so a failing command still logs where --log says.
    .middleware((argv) => {
      parsed = argv as Parsed;
    })
    .fail((message, error) => {
      if (error) throw error;
      throw new RuntimeError('EUSAGE', message);
    })
    .command(
      'spec',
      'write a new config.json (runc default) into the bundle',
      (y) =>
        y
          .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'bundle directory' })
          .option('rootless', { type: 'string', describe: 'write a spec for an unprivileged user' }),
      (argv) => {
        // --rootless is also runc's global flag (a string: true|false|auto); bare `spec --rootless` means true.
        const rootless = argv.rootless !== undefined && argv.rootless !== 'false';
        specCommand(argv.bundle as string, rootless);
      },
    )
    .command(
      'create <id>',
      'create a container, ready for start',
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'bundle directory' })
          .option('pid-file', { type: 'string', describe: "file to write the sandbox's pid to" })
          .option('console-socket', { type: 'string', describe: 'pty master destination (terminals are not supported yet: refused)' })
          .option('no-pivot', { type: 'boolean', describe: 'accepted for runc compatibility' })
          .option('no-new-keyring', { type: 'boolean', describe: 'accepted for runc compatibility' })
          .option('preserve-fds', { type: 'number', describe: 'accepted for runc compatibility' }),
      async (argv) => {
        const request: Parameters<typeof createContainer>[0] = {
          id: idArg(argv),
          global: globalOptions(argv),
          logger: log(argv),
          bundle: argv.bundle as string,
        };
        if (typeof argv['pid-file'] === 'string') request.pidFile = argv['pid-file'];
        if (typeof argv['console-socket'] === 'string') request.consoleSocket = argv['console-socket'];
        const { sandbox } = await createContainer(request);
        sandbox.sentry.unref();
      },
    )
    .command(
      'start <id>',
      'run the user program of a created container',
      (y) => y.positional('id', { type: 'string', demandOption: true }),
      async (argv) => {
        await startContainer(globalOptions(argv), idArg(argv), log(argv));
      },
    )
    .command(
      'run <id>',
      'create and start a container, wait for it, then delete it',
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'bundle directory' })
          .option('pid-file', { type: 'string', describe: "file to write the sandbox's pid to" })
          .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return after start' })
          .option('keep', { type: 'boolean', default: false, describe: 'do not delete the container after it exits' })
          .option('console-socket', { type: 'string', describe: 'pty master destination (terminals are not supported yet: refused)' })
          .option('no-pivot', { type: 'boolean', describe: 'accepted for runc compatibility' })
          .option('no-new-keyring', { type: 'boolean', describe: 'accepted for runc compatibility' })
          .option('preserve-fds', { type: 'number', describe: 'accepted for runc compatibility' }),
      async (argv) => {
        const request: Parameters<typeof runContainer>[0] = {
          id: idArg(argv),
          global: globalOptions(argv),
          logger: log(argv),
          bundle: argv.bundle as string,
          detach: argv.detach === true,
          keep: argv.keep === true,
        };
        if (typeof argv['pid-file'] === 'string') request.pidFile = argv['pid-file'];
        if (typeof argv['console-socket'] === 'string') request.consoleSocket = argv['console-socket'];
        exitCode = await runContainer(request);
      },
    )
    .command(
      'state <id>',
      "print the container's state as JSON",
      (y) => y.positional('id', { type: 'string', demandOption: true }),
      (argv) => {
        io.stdout(stateCommand(globalOptions(argv), idArg(argv)));
      },
    )
    .command(
      'kill <id> [signal]',
      "send a signal (default SIGTERM) to the container's init",
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .positional('signal', { type: 'string', default: 'SIGTERM' })
          .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'signal every process of the container' }),
      async (argv) => {
        await killContainer(globalOptions(argv), idArg(argv), parseSignal(String(argv.signal)), argv.all === true);
      },
    )
    .command(
      'delete <id>',
      'delete a stopped (or, with --force, running) container',
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'kill the container if it runs' }),
      async (argv) => {
        await deleteContainer(globalOptions(argv), idArg(argv), argv.force === true, log(argv));
      },
    )
    .command(
      'list',
      'list containers',
      (y) =>
        y
          .option('format', { alias: 'f', choices: ['table', 'json'], default: 'table' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'ids only' }),
      (argv) => {
        io.stdout(listCommand(globalOptions(argv), argv.format as ListFormat, argv.quiet === true));
      },
    )
    .command(
      'ps <id>',
      "list the container's processes",
      (y) =>
        y.positional('id', { type: 'string', demandOption: true }).option('format', { alias: 'f', choices: ['table', 'json'], default: 'table' }),
      async (argv) => {
        io.stdout(await psCommand(globalOptions(argv), idArg(argv), argv.format as ListFormat));
      },
    )
    .command(
      'do [cmd..]',
      'run one command sandboxed over the host root (read-only, memory overlay): runsc do -- CMD ARGS',
      (y) => y.positional('cmd', { type: 'string', array: true }),
      async (argv) => {
        const command = [...((argv.cmd as string[] | undefined) ?? []), ...((argv['--'] as string[] | undefined) ?? [])].map(String);
        exitCode = await doCommand({ global: globalOptions(argv), logger: log(argv), argv: command });
      },
    )
    .command(
      'install',
      'register runsc as a Docker runtime in daemon.json: runsc install [--runtime NAME] [-- RUNTIME_ARGS]',
      (y) =>
        y
          .option('runtime', { type: 'string', default: 'runsc', describe: 'runtime name in Docker' })
          .option('config-file', { type: 'string', default: '/etc/docker/daemon.json', describe: "Docker's daemon.json" }),
      (argv) => {
        installCommand({
          configFile: argv['config-file'] as string,
          runtimeName: argv.runtime as string,
          runscPath: RUNSC_BIN,
          runtimeArgs: ((argv['--'] as string[] | undefined) ?? []).map(String),
        });
      },
    )
    .command('features', 'print the runtime-spec features structure (JSON)', (y) => y, () => {
      io.stdout(featuresCommand(RUNSC_VERSION));
    })
    .command('exec <id>', 'not implemented yet', (y) => y.strict(false), () => notSupported('exec'))
    .command(
      'pause <id>',
      'freeze every process of a running container',
      (y) => y.positional('id', { type: 'string', demandOption: true }),
      async (argv) => {
        await pauseContainer(globalOptions(argv), idArg(argv), true);
      },
    )
    .command(
      'resume <id>',
      'thaw a paused container',
      (y) => y.positional('id', { type: 'string', demandOption: true }),
      async (argv) => {
        await pauseContainer(globalOptions(argv), idArg(argv), false);
      },
    )
    .command('events <id>', 'not implemented yet', (y) => y.strict(false), () => notSupported('events'))
    .command('checkpoint <id>', 'not implemented yet', (y) => y.strict(false), () => notSupported('checkpoint'))
    .command('restore <id>', 'not implemented yet', (y) => y.strict(false), () => notSupported('restore'));

  try {
    await parser.parseAsync();
    return exitCode;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof RuntimeError ? err.code : 'EINTERNAL';
    if (err instanceof RuntimeError && err.code === 'EUSAGE') {
      io.stderr(`runsc: ${message}\n(see runsc --help)\n`);
      return 1;
    }
    // The log (a file for containerd, which reports its last error line) gets the message with its code; the
    // user sees it on stderr either way, once.
    try {
      const l = logger ?? log(parsed);
      if (loggerToFile) l.error({ code }, message);
    } catch {
      // No usable log (e.g. unwritable --log): stderr still has the message.
    }
    io.stderr(`runsc: ${message}\n`);
    if (code === 'EINTERNAL' && err instanceof Error && err.stack) log(parsed).debug({ stack: err.stack }, 'internal error');
    return 1;
  }
}

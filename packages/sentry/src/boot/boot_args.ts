// The sentry's command line, written by runsc (formatBootArgs) and read by the sentry's main (parseBootArgs).
// Keeping both directions in one file keeps the two processes agreeing on it.
import { parseArgs } from 'node:util';

export type NetworkMode = 'sandbox' | 'host' | 'none';
export type LogFormat = 'text' | 'json';

export interface BootOptions {
  /** Container id. */
  id: string;
  /** The validated config.json runsc froze for this container (the sentry trusts it). */
  specFile: string;
  /** Host path of the root file system: for messages only, the sentry reaches files through the gofer. */
  rootfs: string;
  bundle: string;
  /** Unix socket the sentry serves the control protocol on. */
  controlSocket: string;
  /** Inherited fd of the sentry's end of the 9P socketpair to the gofer. */
  goferFd: number;
  /** Inherited fd (a pipe) the sentry writes its one readiness line to, then closes. */
  readyFd: number;
  network: NetworkMode;
  gso: boolean;
  platform: string;
  /** gVisor's --overlay2 syntax: "none", or "root:memory" for a memory-backed upper layer over the root. */
  overlay2: string;
  logFile?: string;
  logFormat: LogFormat;
  debug: boolean;
}

export class BootArgsError extends Error {
  readonly code = 'EBOOTARGS';
}

export function formatBootArgs(o: BootOptions): string[] {
  const args = [
    `--id=${o.id}`,
    `--spec-file=${o.specFile}`,
    `--rootfs=${o.rootfs}`,
    `--bundle=${o.bundle}`,
    `--control-socket=${o.controlSocket}`,
    `--gofer-fd=${o.goferFd}`,
    `--ready-fd=${o.readyFd}`,
    `--network=${o.network}`,
    `--gso=${o.gso}`,
    `--platform=${o.platform}`,
    `--overlay2=${o.overlay2}`,
    `--log-format=${o.logFormat}`,
  ];
  if (o.logFile !== undefined) args.push(`--log=${o.logFile}`);
  if (o.debug) args.push('--debug');
  return args;
}

function requireString(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new BootArgsError(`sentry: --${name} is required`);
  return value;
}

function fdArg(values: Record<string, unknown>, name: string): number {
  const text = requireString(values, name);
  const fd = Number(text);
  if (!Number.isInteger(fd) || fd < 3) throw new BootArgsError(`sentry: --${name} must be an inherited fd number >= 3, got ${text}`);
  return fd;
}

function oneOf<T extends string>(values: Record<string, unknown>, name: string, allowed: readonly T[], fallback: T): T {
  const value = values[name];
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new BootArgsError(`sentry: --${name} must be one of ${allowed.join(', ')}, got ${String(value)}`);
}

export function parseBootArgs(argv: string[]): BootOptions {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        id: { type: 'string' },
        'spec-file': { type: 'string' },
        rootfs: { type: 'string' },
        bundle: { type: 'string' },
        'control-socket': { type: 'string' },
        'gofer-fd': { type: 'string' },
        'ready-fd': { type: 'string' },
        network: { type: 'string' },
        gso: { type: 'string' },
        platform: { type: 'string' },
        overlay2: { type: 'string' },
        log: { type: 'string' },
        'log-format': { type: 'string' },
        debug: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new BootArgsError(`sentry: ${(err as Error).message}`);
  }
  const overlay2 = typeof values.overlay2 === 'string' ? values.overlay2 : 'none';
  if (overlay2 !== 'none' && overlay2 !== 'root:memory') {
    throw new BootArgsError(`sentry: --overlay2 must be "none" or "root:memory", got ${overlay2}`);
  }
  const options: BootOptions = {
    id: requireString(values, 'id'),
    specFile: requireString(values, 'spec-file'),
    rootfs: requireString(values, 'rootfs'),
    bundle: requireString(values, 'bundle'),
    controlSocket: requireString(values, 'control-socket'),
    goferFd: fdArg(values, 'gofer-fd'),
    readyFd: fdArg(values, 'ready-fd'),
    network: oneOf(values, 'network', ['sandbox', 'host', 'none'] as const, 'sandbox'),
    gso: oneOf(values, 'gso', ['true', 'false'] as const, 'true') === 'true',
    platform: typeof values.platform === 'string' ? values.platform : 'ptrace',
    overlay2,
    logFormat: oneOf(values, 'log-format', ['text', 'json'] as const, 'text'),
    debug: values.debug === true,
  };
  if (typeof values.log === 'string') options.logFile = values.log;
  return options;
}

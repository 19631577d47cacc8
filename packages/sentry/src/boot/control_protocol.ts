// The control protocol between runsc (short-lived CLI) and the sentry (one process per sandbox): JSON lines over
// the unix socket <state root>/<id>/control.sock, one request per line, one response line per request, in order.
// Both sides import these types, and each side validates what it receives here, at the edge.

/** runtime-spec runtime.md status values. */
export type ControlContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

/** How the container's init ended: wait(2) distinguishes a normal exit from death by a signal. */
export type ExitStatus = { exitCode: number } | { signal: number };

export type ControlRequest =
  | { op: 'state' }
  | { op: 'start' }
  /** Sends `signal` to the container's init, or with `all` to every process in the container (runc kill --all). */
  | { op: 'kill'; signal: number; all: boolean }
  /** Answered when the container's init has exited. */
  | { op: 'wait' }
  | { op: 'ps' }
  /** Freezes every process of the container (runc pause) / thaws them (runc resume). */
  | { op: 'pause' }
  | { op: 'resume' };

/** One process of the container, as `runsc ps` shows it (pids as the container sees them). */
export interface ProcessSummary {
  pid: number;
  ppid: number;
  uid: number;
  argv: string[];
}

export type ControlResponse =
  | { ok: true; status: ControlContainerStatus; exit?: ExitStatus; pids?: number[]; processes?: ProcessSummary[] }
  | { ok: false; code: string; error: string };

/** The line the sentry writes once on its readiness fd: booted and waiting for start, or why it failed. */
export type ReadyMessage = { ready: true; pid: number } | { ready: false; code: string; error: string };

/** The shell's and runc's convention for an exit status as one number: the code, or 128 + the signal. */
export function exitStatusToCode(status: ExitStatus): number {
  return 'signal' in status ? 128 + status.signal : status.exitCode;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const STATUSES: ReadonlySet<string> = new Set(['creating', 'created', 'running', 'stopped', 'paused']);

/** Parses one request line; returns an error string for anything malformed. */
export function parseControlRequest(line: string): ControlRequest | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: 'request is not valid JSON' };
  }
  if (!isObject(value) || typeof value.op !== 'string') return { error: 'request must be an object with a string "op"' };
  switch (value.op) {
    case 'state':
    case 'start':
    case 'wait':
    case 'ps':
    case 'pause':
    case 'resume':
      return { op: value.op };
    case 'kill': {
      const signal = value.signal;
      if (typeof signal !== 'number' || !Number.isInteger(signal) || signal < 1 || signal > 64) {
        return { error: 'kill: "signal" must be an integer from 1 to 64' };
      }
      if (value.all !== undefined && typeof value.all !== 'boolean') return { error: 'kill: "all" must be a boolean' };
      return { op: 'kill', signal, all: value.all === true };
    }
    default:
      return { error: `unknown op ${JSON.stringify(value.op)}` };
  }
}

function parseExitStatus(value: unknown): ExitStatus | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.exitCode === 'number' && Number.isInteger(value.exitCode)) return { exitCode: value.exitCode };
  if (typeof value.signal === 'number' && Number.isInteger(value.signal)) return { signal: value.signal };
  return undefined;
}

function isProcessSummary(value: unknown): value is ProcessSummary {
  return (
    isObject(value) &&
    typeof value.pid === 'number' &&
    typeof value.ppid === 'number' &&
    typeof value.uid === 'number' &&
    Array.isArray(value.argv) &&
    value.argv.every((a) => typeof a === 'string')
  );
}

/** Parses one response line (runsc side); throws with a message naming what is wrong. */
export function parseControlResponse(line: string): ControlResponse {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`malformed response from the sentry: ${line.slice(0, 80)}`);
  }
  if (!isObject(value) || typeof value.ok !== 'boolean') throw new Error('malformed response from the sentry');
  if (!value.ok) {
    return { ok: false, code: String(value.code ?? 'EUNKNOWN'), error: String(value.error ?? 'unknown error') };
  }
  if (typeof value.status !== 'string' || !STATUSES.has(value.status)) {
    throw new Error('malformed response from the sentry: bad status');
  }
  const response: ControlResponse = { ok: true, status: value.status as ControlContainerStatus };
  const exit = parseExitStatus(value.exit);
  if (exit) response.exit = exit;
  if (Array.isArray(value.pids) && value.pids.every((p) => typeof p === 'number')) response.pids = value.pids as number[];
  if (Array.isArray(value.processes) && value.processes.every(isProcessSummary)) response.processes = value.processes;
  return response;
}

/** Parses the readiness line (runsc side). */
export function parseReadyMessage(line: string): ReadyMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`malformed readiness message from the sentry: ${line.slice(0, 80)}`);
  }
  if (isObject(value) && value.ready === true && typeof value.pid === 'number') return { ready: true, pid: value.pid };
  if (isObject(value) && value.ready === false) {
    return { ready: false, code: String(value.code ?? 'EUNKNOWN'), error: String(value.error ?? 'unknown error') };
  }
  throw new Error('malformed readiness message from the sentry');
}

// What the stack does when its own code throws on a packet path: a bug in a protocol handler, or a packet shape
// no parser anticipated. Parsers are meant to reject bad input with a counted drop, never an exception; this is
// the net under them. The packet is dropped, the stack counts it (stats.internalErrors.receive / .transmit) and
// the error is logged at error level once per distinct message, so a flood of packets that all hit the same bug
// cannot flood the log. Nothing propagates: an exception leaving a link's receive callback (the fdbased uv_poll
// callback, a setImmediate or microtask) would be an uncaught exception, fatal to the whole process, or would
// stop that link's receive loop in the middle of a batch.
//
// The containment boundaries: NIC.deliverNetworkPacket for everything a link (or the stack's local delivery)
// hands up, Stack.flushBatch for each batch-end hook, FifoQdisc.flush and WorkerQdisc for deferred transmits, and
// the timer callbacks that send (neighbour resolution, reassembly timeouts, neighbour solicitations).

import { pino, type Logger } from 'pino';
import type { StackStats } from './stats.js';

/** The part of a pino logger used here. */
export type InternalErrorLogger = Pick<Logger, 'error'>;

/** Distinct messages remembered; beyond this, further new messages are logged only as a count at the end. */
const MAX_DISTINCT_MESSAGES = 256;

let logger: InternalErrorLogger | null = null;
const loggedMessages = new Set<string>();
let suppressedNoticeLogged = false;

/**
 * Routes internal-error log lines to `l` (the embedding program's pino logger); default: a pino logger of its
 * own writing to stderr. Also forgets which messages were already logged, so each is logged once to the new one.
 */
export function setInternalErrorLogger(l: InternalErrorLogger | null): void {
  logger = l;
  loggedMessages.clear();
  suppressedNoticeLogged = false;
}

function defaultLogger(): InternalErrorLogger {
  // Synchronous writes: the process may be about to exit for other reasons and the line is what explains it.
  return pino({ name: 'netstack', level: 'error' }, pino.destination({ fd: 2, sync: true }));
}

/**
 * Counts an exception caught at a packet-path boundary in stats.internalErrors[path] and logs it (once per
 * distinct `where` + message). `where` names the boundary, e.g. "nic1 receive (EtherType 0x0800)".
 */
export function recordInternalError(stats: StackStats, path: 'receive' | 'transmit', where: string, err: unknown): void {
  stats.internalErrors[path]++;
  logInternalError(path, where, err);
}

/**
 * Logs without counting (a link not attached to a stack has no stack statistics to count in). Path 'timer': the
 * last-resort net of SystemClock's timers (clock.ts), for a callback with no containment of its own.
 */
export function logInternalError(path: 'receive' | 'transmit' | 'timer', where: string, err: unknown): void {
  // Nothing here may throw (a logger whose destination closed under it, an error whose message getter throws):
  // that would turn a contained error back into an uncontained one at every boundary that logs. The line is lost
  // then; the counters still count.
  try {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const key = `${where}\n${message}`;
    if (loggedMessages.has(key)) return;
    const log = (logger ??= defaultLogger());
    if (loggedMessages.size >= MAX_DISTINCT_MESSAGES) {
      if (!suppressedNoticeLogged) {
        suppressedNoticeLogged = true;
        log.error({ path }, `netstack: more than ${MAX_DISTINCT_MESSAGES} distinct internal errors; further new ones are only counted (stats.internalErrors)`);
      }
      return;
    }
    loggedMessages.add(key);
    log.error(
      { err, path, where },
      path === 'timer'
        ? `netstack: internal error in a timer callback (${where}): ${message} (that run of it lost; further occurrences are not logged)`
        : `netstack: internal error on the ${path} path at ${where}: ${message} (packet dropped; further occurrences are only counted in stats.internalErrors.${path})`,
    );
  } catch { /* nowhere left to report to */ }
}

// runsc's own log: --log FILE (stderr without it) in --log-format text|json, the formats runc writes
// (log_destination.ts in the sentry's boot package, shared so both processes log alike).
import fs from 'node:fs';
import type { Logger } from 'pino';
import { createFormattedLogger } from '@tsvisor/sentry/boot';
import type { GlobalOptions } from './global_options.js';

export interface RunscLogger {
  logger: Logger;
  /** True if messages go to a file rather than stderr. */
  toFile: boolean;
}

export function createLogger(options: Pick<GlobalOptions, 'log' | 'logFormat' | 'debug'>): RunscLogger {
  const toFile = options.log !== undefined && options.log !== '' && options.log !== '/dev/stderr';
  const fd = toFile ? fs.openSync(options.log!, 'a', 0o600) : 2;
  // On stderr only warnings and errors unless --debug: stderr is the user's terminal or the caller's pipe.
  const level = options.debug ? 'debug' : toFile ? 'info' : 'warn';
  return { logger: createFormattedLogger(fd, options.logFormat, level), toFile };
}

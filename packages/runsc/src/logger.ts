// runsc's log, in the two formats runc writes with --log-format: "json", one object per line with string levels
// ({"level":"error","msg":"...","time":"..."}; containerd's runc shim reads the last error from it), and
// "text" (time="..." level=error msg="..."). Without --log, messages go to stderr.
import fs from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { GlobalOptions } from './global_options.js';

function quoteText(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[A-Za-z0-9_./:-]+$/.test(text) ? text : JSON.stringify(text);
}

/** Rewrites pino's JSON lines as key=value text, time, level and msg first, like runc's text log. */
function textStream(fd: number): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        fs.writeSync(fd, line);
        return;
      }
      const { time, level, msg, ...rest } = record;
      const fields = [`time=${quoteText(time)}`, `level=${quoteText(level)}`, `msg=${quoteText(msg ?? '')}`];
      for (const [key, value] of Object.entries(rest)) fields.push(`${key}=${quoteText(value)}`);
      fs.writeSync(fd, `${fields.join(' ')}\n`);
    },
  };
}

export interface RunscLogger {
  logger: Logger;
  /** True if messages go to a file rather than stderr. */
  toFile: boolean;
}

export function createLogger(options: Pick<GlobalOptions, 'log' | 'logFormat' | 'debug'>): RunscLogger {
  const toFile = options.log !== undefined && options.log !== '' && options.log !== '/dev/stderr';
  // Synchronous appends: runsc is short-lived and often exits with process.exit, which would drop buffered lines.
  const fd = toFile ? fs.openSync(options.log!, 'a', 0o600) : 2;
  const destination: DestinationStream =
    options.logFormat === 'json' ? { write: (line: string) => void fs.writeSync(fd, line) } : textStream(fd);
  const logger = pino(
    {
      level: options.debug ? 'debug' : toFile ? 'info' : 'warn',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return { logger, toFile };
}

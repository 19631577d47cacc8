// Where runsc's and the sentry's pino logs go, in the two formats runc writes with --log-format: "json" (one
// object per line, string levels: {"level":"error","msg":"...","time":"..."}; containerd's runc shim reads the
// last error from it) and "text" (time="..." level=error msg="...", key=value pairs). Writes are synchronous:
// both processes may end with process.exit, which would drop buffered lines.
import fs from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat } from './boot_args.js';

function quoteText(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[A-Za-z0-9_./:-]+$/.test(text) ? text : JSON.stringify(text);
}

/** One pino JSON line as runc-style key=value text, time, level and msg first. */
export function formatTextLogLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = record;
  const fields = [`time=${quoteText(time)}`, `level=${quoteText(level)}`, `msg=${quoteText(msg ?? '')}`];
  for (const [key, value] of Object.entries(rest)) fields.push(`${key}=${quoteText(value)}`);
  return `${fields.join(' ')}\n`;
}

export function logDestination(fd: number, format: LogFormat): DestinationStream {
  return format === 'json'
    ? { write: (line: string) => void fs.writeSync(fd, line) }
    : { write: (line: string) => void fs.writeSync(fd, formatTextLogLine(line)) };
}

/** A pino logger writing to `fd` in `format`, with runc's string levels and ISO times. */
export function createFormattedLogger(fd: number, format: LogFormat, level: string, base?: Record<string, unknown>): Logger {
  return pino(
    {
      level,
      base: base ?? undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    logDestination(fd, format),
  );
}

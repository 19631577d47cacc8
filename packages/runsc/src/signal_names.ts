// Signal arguments as runc accepts them for `kill`: a name with or without the SIG prefix, in any case
// ("TERM", "SIGTERM", "term"), or a number (signal(7)).
import os from 'node:os';
import { RuntimeError } from './runtime_error.js';

const SIGNALS = os.constants.signals as Record<string, number>;

export function parseSignal(text: string): number {
  if (/^[0-9]+$/.test(text)) {
    const number = Number(text);
    // 1..31 are the standard signals, 32..64 the real-time ones (SIGRTMIN..SIGRTMAX on Linux, signal(7)).
    if (number >= 1 && number <= 64) return number;
    throw new RuntimeError('EBADSIGNAL', `invalid signal number ${text}: must be from 1 to 64`);
  }
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const number = SIGNALS[name];
  if (number === undefined) throw new RuntimeError('EBADSIGNAL', `unknown signal ${JSON.stringify(text)}`);
  return number;
}

/** The name of a signal number ("SIGTERM"), or "signal N" for one without a name. */
export function signalName(signal: number): string {
  for (const [name, number] of Object.entries(SIGNALS)) if (number === signal) return name;
  return `signal ${signal}`;
}

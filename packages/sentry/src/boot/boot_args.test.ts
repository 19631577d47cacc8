import { describe, expect, it } from 'vitest';
import { BootArgsError, formatBootArgs, parseBootArgs, type BootOptions } from './boot_args.js';

const options: BootOptions = {
  id: 'c1',
  specFile: '/run/tsvisor/c1/config.json',
  rootfs: '/b/rootfs',
  bundle: '/b',
  controlSocket: '/run/tsvisor/c1/control.sock',
  goferFd: 4,
  readyFd: 3,
  network: 'none',
  gso: false,
  platform: 'ptrace',
  overlay2: 'root:memory',
  logFile: '/tmp/sentry.log',
  logFormat: 'json',
  debug: true,
};

describe('boot args', () => {
  it('round-trips through the command line', () => {
    expect(parseBootArgs(formatBootArgs(options))).toEqual(options);
    const { logFile: _, ...noLog } = options;
    expect(parseBootArgs(formatBootArgs({ ...noLog, debug: false }))).toEqual({ ...noLog, debug: false });
  });

  it('rejects missing, unknown and malformed arguments with a message naming the flag', () => {
    const args = formatBootArgs(options);
    expect(() => parseBootArgs(args.filter((a) => !a.startsWith('--id=')))).toThrow(/--id is required/);
    expect(() => parseBootArgs([...args, '--bogus'])).toThrow(BootArgsError);
    expect(() => parseBootArgs(args.map((a) => (a.startsWith('--gofer-fd') ? '--gofer-fd=1' : a)))).toThrow(/--gofer-fd must be/);
    expect(() => parseBootArgs(args.map((a) => (a.startsWith('--network') ? '--network=wifi' : a)))).toThrow(/--network must be one of/);
    expect(() => parseBootArgs(args.map((a) => (a.startsWith('--overlay2') ? '--overlay2=root:disk' : a)))).toThrow(/--overlay2/);
  });
});

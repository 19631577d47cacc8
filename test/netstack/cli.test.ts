// bin/netstack's command line: usage errors and setup failures exit non-zero with an actionable message.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'netstack');
const run = (...args: string[]) => spawnSync(bin, args, { encoding: 'utf8', timeout: 20_000 });

describe('netstack CLI', () => {
  it('prints usage and exits 2 without a command or with an unknown option', () => {
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/netstack --help/);
    const bad = run('serve', '--bogus-flag');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/bogus-flag/);
  });

  it('documents serve and its options', () => {
    const help = run('serve', '--help');
    expect(help.status).toBe(0);
    for (const opt of ['--device', '--http-root', '--http-port', '--gso', '--tcp-workers']) expect(help.stdout).toContain(opt);
  });

  it('fails with the error code and device name for a missing device', () => {
    const r = run('serve', '--device', 'tsvnodev0');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/EHOSTNETDEV: no device named tsvnodev0/);
  });
});

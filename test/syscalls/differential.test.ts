// Differential syscall tests: each C program in this folder is compiled by the test run, then run natively and
// under `runsc do` (the sentry emulating its system calls, the gofer serving the host root read-only with a memory
// overlay). Standard output and exit status must match byte for byte: the programs print only what Linux makes
// deterministic (values and errno names, not inode numbers or times).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const runsc = path.resolve(here, '..', '..', 'bin', 'runsc');
const programs = ['files', 'dirs', 'process', 'memory', 'copy', 'unknown', 'hostile', 'hostile_events', 'signals'];
const flavours = { static: ['-static'], dynamic: [] as string[] };
let buildDir = '';

beforeAll(() => {
  buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-diff-'));
  for (const p of programs) {
    for (const [flavour, flags] of Object.entries(flavours)) {
      execFileSync('gcc', ['-O1', '-o', path.join(buildDir, `${p}-${flavour}`), ...flags, path.join(here, `${p}.c`)]);
    }
  }
  return () => fs.rmSync(buildDir, { recursive: true, force: true });
});

/** Runs argv with stdout to a pipe, or (`stdoutFile`) to a regular file that is read back afterwards. */
function run(argv: string[], stdoutFile?: string): { stdout: string; status: number | null; stderr: string } {
  if (stdoutFile === undefined) {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
    return { stdout: r.stdout, status: r.status, stderr: r.stderr };
  }
  const fd = fs.openSync(stdoutFile, 'w');
  try {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', fd, 'pipe'] });
    return { stdout: fs.readFileSync(stdoutFile, 'utf8'), status: r.status, stderr: r.stderr };
  } finally {
    fs.closeSync(fd);
  }
}

describe.each(Object.keys(flavours))('%s binaries: native and sandboxed outputs match', (flavour) => {
  it.each(programs)('%s', (program) => {
    const binary = path.join(buildDir, `${program}-${flavour}`);
    // Each side gets its own empty scratch directory; inside the sandbox, writes land in the memory overlay.
    const nativeDir = fs.mkdtempSync(path.join(buildDir, 'native-'));
    const sandboxDir = fs.mkdtempSync(path.join(buildDir, 'sandbox-'));
    const native = run([binary, nativeDir]);
    const sandboxed = run([runsc, 'do', '--', binary, sandboxDir]);
    expect(sandboxed.stdout, sandboxed.stderr).toBe(native.stdout);
    expect(sandboxed.status).toBe(native.status);
    // Nothing written inside reached the host.
    expect(fs.readdirSync(sandboxDir)).toEqual([]);
  });
});

// The sentry's stdout is a host regular file here (as with `runsc do ... > out`): copy_file_range, sendfile and
// plain writes into it must behave as on Linux, where coreutils cat copies with copy_file_range.
describe('stdout redirected to a host regular file', () => {
  it.each(['copy', 'files'])('%s', (program) => {
    const binary = path.join(buildDir, `${program}-dynamic`);
    const native = run([binary, fs.mkdtempSync(path.join(buildDir, 'native-'))], path.join(buildDir, `${program}.native.out`));
    const sandboxDir = fs.mkdtempSync(path.join(buildDir, 'sandbox-'));
    const sandboxed = run([runsc, 'do', '--', binary, sandboxDir], path.join(buildDir, `${program}.sandbox.out`));
    expect(sandboxed.stdout, sandboxed.stderr).toBe(native.stdout);
    expect(sandboxed.status).toBe(native.status);
  });

  it('coreutils cat of a file', () => {
    const native = run(['/bin/cat', '/etc/passwd'], path.join(buildDir, 'cat.native.out'));
    const sandboxed = run([runsc, 'do', '--', '/bin/cat', '/etc/passwd'], path.join(buildDir, 'cat.sandbox.out'));
    expect(sandboxed.stderr).toBe('');
    expect(sandboxed.stdout).toBe(native.stdout);
    expect(sandboxed.status).toBe(0);
  });
});

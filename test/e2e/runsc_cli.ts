// Runs the built runsc CLI (bin/runsc -> packages/runsc/dist/main.js) for end-to-end tests. `make test` builds
// first; run `npx tsc -b` before running these files with vitest alone.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const runscBin = path.join(repoRoot, 'bin', 'runsc');

export function assertBuilt(): void {
  const main = path.join(repoRoot, 'packages/runsc/dist/main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: build first (make build, or npx tsc -b)`);
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runsc(args: string[], options: { cwd?: string; input?: string; timeoutMs?: number } = {}): RunResult {
  const result = spawnSync(runscBin, args, {
    cwd: options.cwd ?? repoRoot,
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * For commands that leave a sandbox behind (create, run --detach): the sandbox inherits runsc's stdio, as a runc
 * container does, so output goes to files here; a pipe would stay open (and spawnSync wait) until it exits.
 */
export function runscDetached(args: string[], outputDir: string): RunResult {
  const out = path.join(outputDir, `out-${process.hrtime.bigint()}`);
  const err = `${out}.err`;
  const outFd = fs.openSync(out, 'w');
  const errFd = fs.openSync(err, 'w');
  try {
    const result = spawnSync(runscBin, args, { stdio: ['ignore', outFd, errFd], timeout: 30_000 });
    return { status: result.status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') };
  } finally {
    fs.closeSync(outFd);
    fs.closeSync(errFd);
  }
}

/** Async variant, for running several runsc calls at once. */
export function runscAsync(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(runscBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A unique temporary directory; the caller removes it. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tsvisor-e2e-${prefix}-`));
}

/** A bundle with a busybox-static rootfs (sh, ls, cat, ... as links to /bin/busybox) and runsc's default spec. */
export function busyboxBundle(dir: string, change?: (spec: Record<string, any>) => void): string {
  const rootfs = path.join(dir, 'rootfs');
  // Only the top-level directories an image has: the nested mount points of the default spec (/dev/pts, /dev/shm,
  // /dev/mqueue) are made by the sentry inside the /dev tmpfs, as runc does, even though the root is read-only.
  const dirs = ['bin', 'proc', 'sys', 'tmp', 'etc', 'dev'];
  for (const sub of dirs) fs.mkdirSync(path.join(rootfs, sub), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'ls', 'cat', 'echo', 'sleep', 'true', 'false', 'hostname', 'id', 'env', 'kill']) {
    fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  }
  const spec = runsc(['spec', '--bundle', dir]);
  if (spec.status !== 0) throw new Error(`runsc spec failed: ${spec.stderr}`);
  if (change) {
    const file = path.join(dir, 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, any>;
    change(config);
    fs.writeFileSync(file, JSON.stringify(config));
  }
  return dir;
}

// Files the benchmarks run on: C workloads compiled here (like the differential tests, compiled by the run, not
// shipped as binaries), a 50 MB file, and an OCI bundle over a busybox-static rootfs for `runsc run` vs `runc run`.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const workDir = path.join(benchDir, '.work');
export const repoRoot = path.resolve(benchDir, '..');
export const runsc = path.join(repoRoot, 'bin', 'runsc');

export function compile(name: string): string {
  const out = path.join(workDir, name);
  const src = path.join(benchDir, 'c', `${name}.c`);
  fs.mkdirSync(workDir, { recursive: true });
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    execFileSync('gcc', ['-O2', '-o', out, src], { stdio: 'inherit' });
  }
  return out;
}

/** A file of `mb` MiB of random bytes (made once) and its sha256. */
export function bigFile(mb: number): { file: string; sha256: string } {
  const file = path.join(workDir, `random-${mb}M.bin`);
  if (!fs.existsSync(file) || fs.statSync(file).size !== mb << 20) {
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < mb; i++) fs.writeSync(fd, randomBytes(1 << 20));
    fs.closeSync(fd);
  }
  const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return { file, sha256 };
}

/** An OCI bundle whose rootfs holds busybox-static and whose process is `args`. */
export function busyboxBundle(name: string, args: string[]): string {
  const bundle = path.join(workDir, name);
  const rootfs = path.join(bundle, 'rootfs');
  fs.rmSync(bundle, { recursive: true, force: true });
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d));
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'true', 'echo', 'ls', 'cat']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  execFileSync('runc', ['spec', '--bundle', bundle]);
  const configPath = path.join(bundle, 'config.json');
  const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  config.process.terminal = false;
  config.process.args = args;
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  return bundle;
}

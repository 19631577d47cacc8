// End to end: the plan the loader returns really starts programs. testdata/plan_runner.c maps each region of a
// plan into its own process and jumps to the entry point with the planned stack, as the platform does in a task.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostExecutableSource } from './host_executable_source.js';
import { loadExecutable } from './loader.js';
import type { LoadedImage, LoadOptions } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const host = new HostExecutableSource();
// Away from where the runner (linked at 0x30000000) and its host-chosen stack and mmap region are.
const opts: LoadOptions = {
  random16: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
  uid: 0,
  gid: 0,
  layout: { pieBase: 0x555555554000n, interpBase: 0x500000000000n, stackTop: 0x600000000000n, stackSize: 0x800000n },
};

function serialize(img: LoadedImage): Buffer {
  const parts: Buffer[] = [Buffer.from('TSVPLAN1')];
  const u64 = (v: bigint): void => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    parts.push(b);
  };
  u64(img.entry);
  u64(img.stack.sp);
  u64(BigInt(img.mappings.length + 1));
  for (const m of img.mappings) {
    u64(m.start);
    u64(m.length);
    u64(BigInt(m.prot));
    u64(m.start);
    u64(BigInt(m.contents.length));
    parts.push(m.contents);
  }
  u64(img.stack.top - img.stack.size);
  u64(img.stack.size);
  u64(BigInt(img.stack.prot));
  u64(img.stack.sp);
  u64(BigInt(img.stack.image.length));
  parts.push(img.stack.image);
  return Buffer.concat(parts);
}

let dir: string;
let runner: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-loader-exec-'));
  runner = path.join(dir, 'plan_runner');
  execFileSync('gcc', ['-static', '-O1', '-Wall', '-Werror', '-Wl,-Ttext-segment=0x30000000', '-o', runner, path.join(here, 'testdata', 'plan_runner.c')]);
  const show = path.join(here, 'testdata', 'show_start.c');
  execFileSync('gcc', ['-O1', '-Wall', '-Werror', '-static-pie', '-o', path.join(dir, 'show-static-pie'), show]);
  execFileSync('gcc', ['-O1', '-Wall', '-Werror', '-pie', '-fPIE', '-o', path.join(dir, 'show-pie'), show]);
  execFileSync('gcc', ['-O1', '-Wall', '-Werror', '-static', '-no-pie', '-o', path.join(dir, 'show-static'), show]);
  // A PIE linked above pieBase: it is placed there with a negative load bias.
  execFileSync('gcc', ['-O1', '-Wall', '-Werror', '-pie', '-fPIE', '-Wl,-Ttext-segment=0x580000000000', '-o', path.join(dir, 'show-pie-high'), show]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(file: string, argv: string[], envp: string[] = []): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const img = await loadExecutable(host, file, argv, envp, opts);
  const planPath = path.join(dir, `plan-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(planPath, serialize(img));
  const r = spawnSync(runner, [planPath], { encoding: 'utf8', timeout: 20_000 });
  fs.rmSync(planPath, { force: true });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('loaded images run', () => {
  it('runs static busybox', async () => {
    const r = await run('/bin/busybox', ['busybox', 'echo', 'hello', 'from the plan']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from the plan\n');
    expect(r.status).toBe(0);
  });

  it('runs dynamic ls through its interpreter', async () => {
    const r = await run('/bin/ls', ['ls', '-d', '/etc', '/'], ['LC_ALL=C']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/\n/etc\n');
    expect(r.status).toBe(0);
  });

  for (const kind of ['static', 'static-pie', 'pie', 'pie-high']) {
    it(`gives a ${kind} C program its argv, environment and auxv`, async () => {
      const file = path.join(dir, `show-${kind}`);
      const r = await run(file, ['show', 'one', 'two words'], ['FOO=bar baz', 'OTHER=1']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(
        [
          'argc=3',
          'argv[0]=show',
          'argv[1]=one',
          'argv[2]=two words',
          'FOO=bar baz',
          `execfn=${file}`,
          'platform=x86_64',
          'pagesz=4096',
          'random=00112233445566778899aabbccddeeff',
          'uid=0',
          '',
        ].join('\n'),
      );
    });
  }

  it('runs a #! script through busybox sh', async () => {
    const script = path.join(dir, 'script.sh');
    fs.writeFileSync(script, '#!/bin/busybox sh\necho "script:$0:$1:$2"\n', { mode: 0o755 });
    const r = await run(script, ['ignored', 'a b', 'c']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`script:${script}:a b:c\n`);
    expect(r.status).toBe(0);
  });
});

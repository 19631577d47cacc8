// The kernel end to end with real programs: static busybox runs as init under the seccomp filter, its files
// served from the sentry's VFS (a tmpfs holding a copy of the host's /bin/busybox), its output written through
// the stdio FileDescriptions. Differential: exit codes and output must match what Linux gives natively.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostFile } from '../fsimpl/host_file.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import type { LoadedImage, LoadExecutable, MappingPlan } from '../loader/types.js';
import { makeTestTask } from '../syscalls/fs_test_task.js';
import { AT_FDCWD, O_CREAT, O_RDONLY, O_WRONLY } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import { MountNamespace } from '../vfs/mount.js';
import { mkdirAt, openAt } from '../vfs/operations.js';
import { vfsExecutableSource } from './executable_source.js';
import { Kernel, type ExitResult } from './kernel.js';

// Interim loader for static ET_EXEC files only, until loader/loader.ts (helper B) lands; then this test switches
// to the real one. It is not a part of the sentry.
const interimLoad: LoadExecutable = async (src, file, argv, envp, opts) => {
  const f = await src.open(file);
  const data = await f.read(0, f.size);
  const entry = data.readBigUInt64LE(24);
  const phoff = Number(data.readBigUInt64LE(32));
  const phnum = data.readUInt16LE(56);
  const mappings: MappingPlan[] = [];
  let brk = 0n;
  let phdrAddr = 0n;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * 56;
    if (data.readUInt32LE(o) !== 1) continue;
    const flags = data.readUInt32LE(o + 4);
    const off = Number(data.readBigUInt64LE(o + 8));
    const vaddr = data.readBigUInt64LE(o + 16);
    const filesz = Number(data.readBigUInt64LE(o + 32));
    const memsz = data.readBigUInt64LE(o + 40);
    const start = vaddr & ~0xfffn;
    const end = (vaddr + memsz + 0xfffn) & ~0xfffn;
    const lead = Number(vaddr - start);
    if (off === 0) phdrAddr = vaddr + BigInt(phoff);
    const prot = (flags & 4 ? 1 : 0) | (flags & 2 ? 2 : 0) | (flags & 1 ? 4 : 0);
    mappings.push({ start, length: end - start, prot, contents: data.subarray(off - lead, off + filesz), name: file });
    if (end > brk) brk = end;
  }
  const top = 0x7ff000000000n;
  const size = 0x800000n;
  const strings: Buffer[] = [];
  let cursor = top;
  const place = (b: Buffer): bigint => {
    cursor -= BigInt(b.length);
    strings.push(b);
    return cursor;
  };
  const random = place(opts.random16);
  const platform = place(Buffer.from('x86_64\0'));
  const envPtrs = envp.map((e) => place(Buffer.from(e + '\0')));
  const argPtrs = argv.map((a) => place(Buffer.from(a + '\0')));
  const auxv: Array<[number, bigint]> = [
    [3, phdrAddr], [4, 56n], [5, BigInt(phnum)], [6, 4096n], [9, entry], [11, BigInt(opts.uid)],
    [12, BigInt(opts.euid ?? opts.uid)], [13, BigInt(opts.gid)], [14, BigInt(opts.egid ?? opts.gid)], [23, 0n],
    [25, random], [15, platform], [17, 100n],
    ...(opts.vdsoBase !== undefined ? ([[33, opts.vdsoBase]] as Array<[number, bigint]>) : []),
    [0, 0n],
  ];
  const words = 1 + argPtrs.length + 1 + envPtrs.length + 1 + auxv.length * 2;
  let sp = (cursor - BigInt(words * 8)) & ~0xfn;
  const ptrs = Buffer.alloc(Number(cursor - sp));
  let w = 0;
  const put = (v: bigint): void => {
    ptrs.writeBigUInt64LE(v, w);
    w += 8;
  };
  put(BigInt(argv.length));
  argPtrs.forEach(put);
  put(0n);
  envPtrs.forEach(put);
  put(0n);
  for (const [k, v] of auxv) {
    put(BigInt(k));
    put(v);
  }
  const image = Buffer.concat([ptrs, ...strings.reverse()]);
  const loaded: LoadedImage = {
    mappings,
    entry,
    stack: { top, size, image, sp, prot: 3 },
    brkStart: brk,
    execPath: file,
    argv,
    auxv,
    interpBase: 0n,
    loadBias: 0n,
  };
  return loaded;
};

const BUSYBOX = '/bin/busybox';
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-kernel-test-'));
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

async function rootWithBusybox(): Promise<MountNamespace> {
  const mounts = new MountNamespace(new Tmpfs());
  const setup = makeTestTask(mounts);
  await mkdirAt(setup, AT_FDCWD, '/bin', 0o755);
  const f = await openAt(setup, AT_FDCWD, '/bin/busybox', O_CREAT | O_WRONLY, 0o755);
  await f.write(fs.readFileSync(BUSYBOX));
  return mounts;
}

interface RunResult {
  result: ExitResult;
  stdout: string;
  stderr: string;
}

async function runSandboxed(argv: string[], env: string[] = ['PATH=/bin']): Promise<RunResult> {
  const mounts = await rootWithBusybox();
  const outPath = path.join(work, `out-${Math.random()}`);
  const errPath = path.join(work, `err-${Math.random()}`);
  const inFd = fs.openSync('/dev/null', 'r');
  const outFd = fs.openSync(outPath, 'w+');
  const errFd = fs.openSync(errPath, 'w+');
  const stdio: [FileDescription, FileDescription, FileDescription] = [
    new FileDescription(new HostFile(inFd), O_RDONLY, null),
    new FileDescription(new HostFile(outFd), O_WRONLY, null),
    new FileDescription(new HostFile(errFd), O_WRONLY, null),
  ];
  const kernel = new Kernel({
    hostname: 'sandbox',
    rootFs: mounts,
    logger: pino({ level: process.env.TSVISOR_TEST_LOG ?? 'silent' }),
    loadExecutable: interimLoad,
    executableSource: vfsExecutableSource,
  });
  const result = await kernel.runInit({ argv, env, cwd: '/', uid: 0, gid: 0, stdio });
  // Let queued host writes finish before reading the files back.
  await new Promise((r) => setTimeout(r, 20));
  const stdout = fs.readFileSync(outPath, 'utf8');
  const stderr = fs.readFileSync(errPath, 'utf8');
  for (const fd of [inFd, outFd, errFd]) fs.closeSync(fd);
  return { result, stdout, stderr };
}

function runNative(argv: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: '/bin' } });
  return { status: r.status, stdout: r.stdout };
}

describe('Kernel with static busybox as init', () => {
  it('runs `busybox true` and `busybox false` with their exit codes', async () => {
    expect((await runSandboxed([BUSYBOX, 'true'])).result).toEqual({ exitCode: 0 });
    expect((await runSandboxed([BUSYBOX, 'false'])).result).toEqual({ exitCode: 1 });
  });

  it('echo hi writes through the stdio file descriptions, like natively', async () => {
    const r = await runSandboxed([BUSYBOX, 'echo', 'hi']);
    expect(r.result).toEqual({ exitCode: 0 });
    expect(r.stdout).toBe(runNative([BUSYBOX, 'echo', 'hi']).stdout);
    expect(r.stdout).toBe('hi\n');
  });

  it("sh -c 'exit 7' exits 7", async () => {
    const r = await runSandboxed([BUSYBOX, 'sh', '-c', 'exit 7']);
    expect(r.result).toEqual({ exitCode: 7 });
  });

  it('uname answers the sandbox hostname and release 4.4.0', async () => {
    const r = await runSandboxed([BUSYBOX, 'uname', '-snrm']);
    expect(r.stdout).toBe('Linux sandbox 4.4.0 x86_64\n');
  });
});

void execFileSync;

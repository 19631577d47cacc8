// The loader checked against the files on this machine: mappings against `readelf -lW`, the initial stack decoded
// back, shebang rewriting, Linux's errors.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyscallError, Errno } from '../kernel/syscall_error.js';
import { AT } from './auxv.js';
import { HostExecutableSource } from './host_executable_source.js';
import { DEFAULT_LAYOUT, PROT_EXEC, PROT_READ, PROT_WRITE, pageDown, pageUp } from './layout.js';
import { checkArgumentLimits } from './initial_stack.js';
import { loadExecutable } from './loader.js';
import type { ExecutableSource, LoadedImage, LoadOptions } from './types.js';

const host = new HostExecutableSource();
const opts: LoadOptions = { random16: Buffer.from('0123456789abcdef'), uid: 1000, gid: 1001 };

interface ReadelfLoad {
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
  prot: number;
}

function readelf(file: string): { loads: ReadelfLoad[]; entry: bigint; phnum: number; interp?: string; execStack: boolean } {
  const out = execFileSync('readelf', ['-hlW', file], { encoding: 'utf8' });
  const loads: ReadelfLoad[] = [];
  let execStack = false;
  for (const line of out.split('\n')) {
    const m = /^\s*(LOAD|GNU_STACK)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+([RWE ]+?)\s+0x[0-9a-f]+$/.exec(line);
    if (!m) continue;
    const flags = m[6]!;
    const prot = (flags.includes('R') ? PROT_READ : 0) | (flags.includes('W') ? PROT_WRITE : 0) | (flags.includes('E') ? PROT_EXEC : 0);
    if (m[1] === 'GNU_STACK') {
      execStack = flags.includes('E');
      continue;
    }
    loads.push({ offset: BigInt(m[2]!), vaddr: BigInt(m[3]!), filesz: BigInt(m[4]!), memsz: BigInt(m[5]!), prot });
  }
  const entry = BigInt(/Entry point address:\s+(0x[0-9a-f]+)/.exec(out)![1]!);
  const phnum = Number(/Number of program headers:\s+(\d+)/.exec(out)![1]!);
  const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(out)?.[1];
  return { loads, entry, phnum, ...(interp ? { interp } : {}), execStack };
}

/** Every mapping readelf implies for `file` at `bias` is in the plan, with the file's bytes and the right prot. */
function expectSegments(img: LoadedImage, file: string, bias: bigint): void {
  const data = fs.readFileSync(file);
  for (const l of readelf(file).loads) {
    const start = pageDown(l.vaddr + bias);
    const m = img.mappings.find((x) => x.start === start);
    expect(m, `mapping at ${start.toString(16)} for ${file}`).toBeDefined();
    expect(m!.start + m!.length).toBe(pageUp(l.vaddr + bias + l.memsz));
    expect(m!.prot).toBe(l.prot);
    const inPage = Number(l.vaddr + bias - start);
    const fileBytes = data.subarray(Number(l.offset), Number(l.offset + l.filesz));
    expect(m!.contents.subarray(inPage, inPage + fileBytes.length).equals(fileBytes)).toBe(true);
    // bss (memsz beyond filesz) is zero: the plan's contents stop at the end of the file part.
    if (l.memsz > l.filesz) expect(m!.contents.length).toBe(inPage + fileBytes.length);
  }
}

function expectWellFormed(img: LoadedImage): void {
  let prevEnd = 0n;
  for (const m of img.mappings) {
    expect(m.start % 4096n).toBe(0n);
    expect(m.length % 4096n).toBe(0n);
    expect(m.length).toBeGreaterThan(0n);
    expect(m.start).toBeGreaterThanOrEqual(prevEnd); // sorted, non-overlapping
    expect(BigInt(m.contents.length)).toBeLessThanOrEqual(m.length);
    prevEnd = m.start + m.length;
  }
  expect(img.stack.sp % 16n).toBe(0n);
  expect(img.stack.top - BigInt(img.stack.image.length)).toBe(img.stack.sp);
}

/** Decodes the initial stack the way a C runtime does. */
function decodeStack(img: LoadedImage): { argv: string[]; envp: string[]; auxv: Map<number, bigint> } {
  const { image, sp } = img.stack;
  const word = (addr: bigint): bigint => image.readBigUInt64LE(Number(addr - sp));
  const cstr = (addr: bigint): string => {
    const off = Number(addr - sp);
    return image.subarray(off, image.indexOf(0, off)).toString();
  };
  let p = sp;
  const argc = Number(word(p));
  p += 8n;
  const argv: string[] = [];
  for (let i = 0; i < argc; i++, p += 8n) argv.push(cstr(word(p)));
  expect(word(p)).toBe(0n);
  p += 8n;
  const envp: string[] = [];
  for (; word(p) !== 0n; p += 8n) envp.push(cstr(word(p)));
  p += 8n;
  const auxv = new Map<number, bigint>();
  for (;;) {
    const k = Number(word(p));
    const v = word(p + 8n);
    p += 16n;
    if (k === AT.NULL) break;
    auxv.set(k, v);
  }
  return { argv, envp, auxv };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-loader-'));
  fs.writeFileSync(path.join(dir, 'hello.c'), 'int main(int c, char **v) { return c; }\n');
  execFileSync('gcc', ['-static-pie', '-O1', '-o', path.join(dir, 'static-pie'), path.join(dir, 'hello.c')]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('loadExecutable on real binaries', () => {
  it('loads a static ET_EXEC (busybox) at its link addresses', async () => {
    const img = await loadExecutable(host, '/bin/busybox', ['busybox', 'echo', 'hi'], ['PATH=/bin'], opts);
    const re = readelf('/bin/busybox');
    expect(re.interp).toBeUndefined();
    expectWellFormed(img);
    expectSegments(img, '/bin/busybox', 0n);
    expect(img.mappings.length).toBe(re.loads.length);
    expect(img.entry).toBe(re.entry);
    expect(img.loadBias).toBe(0n);
    expect(img.interpBase).toBe(0n);
    const last = re.loads[re.loads.length - 1]!;
    expect(img.brkStart).toBe(pageUp(last.vaddr + last.memsz));
    const { argv, envp, auxv } = decodeStack(img);
    expect(argv).toEqual(['busybox', 'echo', 'hi']);
    expect(envp).toEqual(['PATH=/bin']);
    expect(auxv.get(AT.ENTRY)).toBe(re.entry);
    expect(auxv.get(AT.BASE)).toBe(0n);
    expect(auxv.get(AT.PHNUM)).toBe(BigInt(re.phnum));
    expect(auxv.get(AT.PHENT)).toBe(56n);
    expect(auxv.get(AT.PAGESZ)).toBe(4096n);
    expect(auxv.get(AT.UID)).toBe(1000n);
    expect(auxv.get(AT.EUID)).toBe(1000n);
    expect(auxv.get(AT.GID)).toBe(1001n);
    expect(auxv.get(AT.EGID)).toBe(1001n);
    expect(auxv.get(AT.SECURE)).toBe(0n);
    expect(auxv.get(AT.CLKTCK)).toBe(100n);
    expect(auxv.has(AT.SYSINFO_EHDR)).toBe(false);
    // AT_PHDR points at a copy of the file's program-header table (e_phoff is 64).
    const phdr = auxv.get(AT.PHDR)!;
    const phdrMapping = img.mappings.find((m) => m.start <= phdr && phdr < m.start + m.length)!;
    const phOff = Number(phdr - phdrMapping.start);
    const table = fs.readFileSync('/bin/busybox').subarray(64, 64 + 56 * re.phnum);
    expect(phdrMapping.contents.subarray(phOff, phOff + table.length).equals(table)).toBe(true);
  });

  it('loads a dynamic PIE (ls) at pieBase and its PT_INTERP at interpBase', async () => {
    const img = await loadExecutable(host, '/bin/ls', ['ls', '-l'], [], { ...opts, vdsoBase: 0x7ffff7fc1000n });
    const re = readelf('/bin/ls');
    expect(re.interp).toBe('/lib64/ld-linux-x86-64.so.2');
    const ld = readelf(re.interp!);
    expectWellFormed(img);
    expect(img.loadBias).toBe(DEFAULT_LAYOUT.pieBase);
    expect(img.interpBase).toBe(DEFAULT_LAYOUT.interpBase);
    expectSegments(img, '/bin/ls', img.loadBias);
    expectSegments(img, re.interp!, img.interpBase);
    expect(img.mappings.length).toBe(re.loads.length + ld.loads.length);
    expect(img.entry).toBe(ld.entry + img.interpBase); // the interpreter runs first
    const { auxv } = decodeStack(img);
    expect(auxv.get(AT.ENTRY)).toBe(re.entry + img.loadBias);
    expect(auxv.get(AT.BASE)).toBe(img.interpBase);
    expect(auxv.get(AT.SYSINFO_EHDR)).toBe(0x7ffff7fc1000n);
    expect(auxv.get(AT.PHDR)).toBe(img.loadBias + 64n); // ls: e_phoff 64 in the segment at file offset 0
    expect(img.stack.prot).toBe(re.execStack ? 7 : PROT_READ | PROT_WRITE);
    expect(img.execPath).toBe('/bin/ls');
  });

  it('loads a static-PIE in the loader region (interpBase), with no AT_BASE', async () => {
    const file = path.join(dir, 'static-pie');
    const re = readelf(file);
    expect(re.interp).toBeUndefined();
    const img = await loadExecutable(host, file, ['static-pie'], [], opts);
    expectWellFormed(img);
    expect(img.loadBias).toBe(DEFAULT_LAYOUT.interpBase);
    expectSegments(img, file, img.loadBias);
    expect(img.entry).toBe(re.entry + img.loadBias);
    expect(decodeStack(img).auxv.get(AT.BASE)).toBe(0n);
  });

  it('lays out the initial stack per the ABI: strings, AT_RANDOM, AT_EXECFN, AT_PLATFORM, 16-byte sp', async () => {
    const img = await loadExecutable(host, '/bin/busybox', ['a', '', 'ünïcode'], ['X=1', 'EMPTY='], {
      ...opts,
      euid: 0,
      hwcap: 0x178bfbffn,
      hwcap2: 2n,
      minSigStkSz: 3632n,
      layout: { ...DEFAULT_LAYOUT, stackTop: 0x7fff00000000n, stackSize: 0x100000n },
    });
    expect(img.stack.top).toBe(0x7fff00000000n);
    const { argv, envp, auxv } = decodeStack(img);
    expect(argv).toEqual(['a', '', 'ünïcode']);
    expect(envp).toEqual(['X=1', 'EMPTY=']);
    const at = (addr: bigint): number => Number(addr - img.stack.sp);
    expect(img.stack.image.subarray(at(auxv.get(AT.RANDOM)!), at(auxv.get(AT.RANDOM)!) + 16).toString()).toBe('0123456789abcdef');
    const execfn = auxv.get(AT.EXECFN)!;
    expect(img.stack.image.subarray(at(execfn), at(execfn) + 13).toString()).toBe('/bin/busybox\0');
    const platform = auxv.get(AT.PLATFORM)!;
    expect(img.stack.image.subarray(at(platform), at(platform) + 7).toString()).toBe('x86_64\0');
    expect(auxv.get(AT.SECURE)).toBe(1n); // uid 1000 running with euid 0: set-id
    expect(auxv.get(AT.HWCAP)).toBe(0x178bfbffn);
    expect(auxv.get(AT.HWCAP2)).toBe(2n);
    expect(auxv.get(AT.MINSIGSTKSZ)).toBe(3632n);
    // The top 8 bytes are zero and the execfn string ends just below them, as Linux places it.
    expect(img.stack.image.subarray(-8).equals(Buffer.alloc(8))).toBe(true);
    expect(execfn + 13n).toBe(img.stack.top - 8n);
  });
});

/** An in-memory source: path -> bytes (mode ignored); other paths fail with ENOENT. */
function memorySource(files: Record<string, Buffer | string>): ExecutableSource {
  return {
    async open(p: string) {
      const f = files[p];
      if (f === undefined) throw new SyscallError(Errno.ENOENT, p);
      const data = typeof f === 'string' ? Buffer.from(f) : f;
      return { path: p, size: data.length, read: async (o: number, l: number) => data.subarray(o, o + l) };
    },
  };
}

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SyscallError);
    return (err as SyscallError).errno;
  }
  throw new Error('expected a SyscallError');
}

describe('interpreter scripts', () => {
  const busybox = fs.readFileSync('/bin/busybox');

  it('rewrites argv as binfmt_script does: interpreter, optional argument, script path, argv[1..]', async () => {
    const src = memorySource({ '/bin/busybox': busybox, '/s.sh': '#!  /bin/busybox   sh -e  \t\necho hi\n' });
    const img = await loadExecutable(src, '/s.sh', ['whatever', 'x', 'y'], [], opts);
    expect(img.argv).toEqual(['/bin/busybox', 'sh -e', '/s.sh', 'x', 'y']);
    expect(decodeStack(img).argv).toEqual(img.argv);
    expect(img.execPath).toBe('/bin/busybox');
    const { auxv } = decodeStack(img);
    const execfn = auxv.get(AT.EXECFN)!;
    const off = Number(execfn - img.stack.sp);
    expect(img.stack.image.subarray(off, off + 6).toString()).toBe('/s.sh\0'); // AT_EXECFN: the path given to execve
  });

  it('follows a chain of five scripts and refuses a sixth level with ELOOP', async () => {
    const files: Record<string, Buffer | string> = { '/bin/busybox': busybox, '/s0': '#!/bin/busybox\n' };
    for (let i = 1; i <= 6; i++) files[`/s${i}`] = `#!/s${i - 1}\n`;
    const src = memorySource(files);
    const five = await loadExecutable(src, '/s4', ['s4', 'arg'], [], opts);
    expect(five.argv).toEqual(['/bin/busybox', '/s0', '/s1', '/s2', '/s3', '/s4', 'arg']);
    expect(await errnoOf(loadExecutable(src, '/s5', ['s5'], [], opts))).toBe(Errno.ELOOP);
  });

  it('fails as Linux does for unknown formats, empty #! lines, cut interpreter paths and missing interpreters', async () => {
    const src = memorySource({
      '/text': 'echo not a script\n',
      '/empty': '',
      '/blank': '#!   \n',
      '/long': `#!/${'a'.repeat(300)}`,
      '/longarg': `#!/bin/busybox ${'b'.repeat(300)}`,
      '/missing': '#!/no/such/interp\n',
      '/bin/busybox': busybox,
    });
    expect(await errnoOf(loadExecutable(src, '/text', ['t'], [], opts))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(loadExecutable(src, '/empty', ['t'], [], opts))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(loadExecutable(src, '/blank', ['t'], [], opts))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(loadExecutable(src, '/long', ['t'], [], opts))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(loadExecutable(src, '/missing', ['t'], [], opts))).toBe(Errno.ENOENT);
    expect(await errnoOf(loadExecutable(src, '/nope', ['t'], [], opts))).toBe(Errno.ENOENT);
    // A long argument is cut at the 256-byte buffer, not refused (Linux >= 5.0).
    const cut = await loadExecutable(src, '/longarg', ['t'], [], opts);
    expect(cut.argv[1]).toBe('b'.repeat(255 - '#!/bin/busybox '.length));
  });

  it('turns an empty argv into [""] and refuses oversized arguments with E2BIG', async () => {
    const src = memorySource({ '/bin/busybox': busybox });
    expect((await loadExecutable(src, '/bin/busybox', [], [], opts)).argv).toEqual(['']);
    expect(await errnoOf(loadExecutable(src, '/bin/busybox', ['x'.repeat(131072)], [], opts))).toBe(Errno.E2BIG);
    const many = Array.from({ length: 40 }, () => 'y'.repeat(100000));
    expect(await errnoOf(loadExecutable(src, '/bin/busybox', ['b'], many, opts))).toBe(Errno.E2BIG);
  });
});

describe('argument limits against the host kernel', () => {
  it('counts the execve path with argv and envp, and refuses one byte over the limit as the host does', async () => {
    // The host's limit follows this process's RLIMIT_STACK; give the loader a stack of that size.
    const rlimit = /^Max stack size\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))![1]!;
    const stackSize = rlimit === 'unlimited' ? 32n << 20n : BigInt(rlimit) & ~4095n;
    const limit = Math.max(Math.min(Number(stackSize / 4n), 6 << 20), 32 * 4096);
    const exe = '/bin/true';
    // Entries of at most MAX_ARG_STRLEN (NUL included) that, with the path, argv[0] and the pointers, fill `limit`.
    const envFor = (total: number): Record<string, string> => {
      const env: Record<string, string> = {};
      const entries = Math.ceil(total / 131000);
      let left = total - (1 + entries) * 8 - 2 * (exe.length + 1);
      for (let i = 0; i < entries; i++) {
        const len = Math.min(left, 131000) - 1; // "Kn=value" plus its NUL
        const key = `K${i}`;
        env[key] = 'v'.repeat(len - key.length - 1);
        left -= len + 1;
      }
      expect(left).toBe(0);
      return env;
    };
    const layout = { ...DEFAULT_LAYOUT, stackSize };
    const asEnvp = (env: Record<string, string>): string[] => Object.entries(env).map(([k, v]) => `${k}=${v}`);
    for (const [total, want] of [[limit, 0], [limit + 1, Errno.E2BIG]] as const) {
      const env = envFor(total);
      const hostErr = spawnSync(exe, [], { env }).error as NodeJS.ErrnoException | undefined;
      expect(hostErr?.code, `host at ${total}`).toBe(want ? 'E2BIG' : undefined);
      const ours = loadExecutable(host, exe, [exe], asEnvp(env), { ...opts, layout });
      if (want) expect(await errnoOf(ours), `loader at ${total}`).toBe(want);
      else expect((await ours).stack.image.length, `loader at ${total}`).toBeGreaterThan(total);
    }
  });

  it('always allows ARG_MAX (32 pages) of arguments, however small the stack', () => {
    const args = [Buffer.alloc(100 * 1024 - 9, 0x61)];
    expect(() => checkArgumentLimits(args, [], 64n * 1024n, Buffer.from('/x'))).not.toThrow();
    expect(() => checkArgumentLimits([...args, Buffer.alloc(32 * 1024)], [], 64n * 1024n, Buffer.from('/x'))).toThrow(SyscallError);
  });
});

describe('PT_INTERP handling', () => {
  it('reports a missing interpreter with ENOENT and a non-ELF interpreter with ELIBBAD', async () => {
    const ls = fs.readFileSync('/bin/ls');
    expect(await errnoOf(loadExecutable(memorySource({ '/ls': ls }), '/ls', ['ls'], [], opts))).toBe(Errno.ENOENT);
    const notElf = memorySource({ '/ls': ls, '/lib64/ld-linux-x86-64.so.2': '#!/bin/sh\n' });
    expect(await errnoOf(loadExecutable(notElf, '/ls', ['ls'], [], opts))).toBe(Errno.ELIBBAD);
    const truncatedLd = memorySource({ '/ls': ls, '/lib64/ld-linux-x86-64.so.2': fs.readFileSync('/lib64/ld-linux-x86-64.so.2').subarray(0, 100) });
    expect(await errnoOf(loadExecutable(truncatedLd, '/ls', ['ls'], [], opts))).toBe(Errno.ELIBBAD);
  });
});

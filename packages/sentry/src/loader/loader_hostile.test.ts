// Hand-built ELF files with hostile header values: each must fail with the errno execve gives for it (or load as
// Linux would), never with another exception, and never make the loader read more of the file than it may.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SyscallError, Errno } from '../kernel/syscall_error.js';
import { HostExecutableSource } from './host_executable_source.js';
import { DEFAULT_LAYOUT, TASK_SIZE } from './layout.js';
import { loadExecutable, MAX_IMAGE_FILE_BYTES } from './loader.js';
import type { ExecutableSource } from './types.js';

const PT_LOAD = 1;
const PT_INTERP = 3;
const ET_EXEC = 2;
const ET_DYN = 3;
const U64_MAX = 0xffffffffffffffffn;

interface Phdr {
  type: number;
  flags?: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align?: bigint;
}

/** An ELF64 x86_64 header and program headers (at offset 64), padded with zeros to `size` bytes. */
function elf(type: number, entry: bigint, phdrs: Phdr[], size = 0x3000, phoff = 64n): Buffer {
  const b = Buffer.alloc(Math.max(size, 64 + 56 * phdrs.length));
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  b.writeUInt16LE(type, 16);
  b.writeUInt16LE(62, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(entry, 24);
  b.writeBigUInt64LE(phoff, 32);
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(phdrs.length, 56);
  phdrs.forEach((p, i) => {
    const o = 64 + 56 * i;
    b.writeUInt32LE(p.type, o);
    b.writeUInt32LE(p.flags ?? 5, o + 4);
    b.writeBigUInt64LE(p.offset, o + 8);
    b.writeBigUInt64LE(p.vaddr, o + 16);
    b.writeBigUInt64LE(p.vaddr, o + 24);
    b.writeBigUInt64LE(p.filesz, o + 32);
    b.writeBigUInt64LE(p.memsz, o + 40);
    b.writeBigUInt64LE(p.align ?? 0x1000n, o + 48);
  });
  return b;
}

/** A source serving `files`; `virtualSize` claims a larger size than the bytes held (reads past them are zeros). */
function source(files: Record<string, Buffer>, virtualSize?: number): ExecutableSource & { bytesRead: number } {
  const src = {
    bytesRead: 0,
    async open(p: string) {
      const data = files[p];
      if (!data) throw new SyscallError(Errno.ENOENT, p);
      const size = virtualSize ?? data.length;
      return {
        path: p,
        size,
        read: async (offset: number, length: number) => {
          // A real VFS read of this length would allocate it: refuse to be asked for more than a test needs.
          if (length > 64 * 1024 * 1024) throw new Error(`test source asked for ${length} bytes`);
          src.bytesRead += length;
          const out = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
          data.copy(out, 0, Math.min(offset, data.length), Math.min(offset + length, data.length));
          return out;
        },
      };
    },
  };
  return src;
}

const opts = { random16: Buffer.alloc(16), uid: 0, gid: 0 };

async function errnoOf(file: Buffer, extra: Record<string, Buffer> = {}): Promise<number> {
  try {
    await loadExecutable(source({ '/x': file, ...extra }), '/x', ['x'], [], opts);
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    return e.errno;
  }
  return 0;
}

const text = (over: Partial<Phdr> = {}): Phdr => ({ type: PT_LOAD, offset: 0n, vaddr: 0x400000n, filesz: 0x1000n, memsz: 0x1000n, ...over });

describe('loader on hostile ELF headers', () => {
  it('loads the well-formed base case (so the failures below are about the field changed)', async () => {
    const img = await loadExecutable(source({ '/x': elf(ET_EXEC, 0x400100n, [text()]) }), '/x', ['x'], [], opts);
    expect(img.entry).toBe(0x400100n);
    expect(img.mappings.map((m) => [m.start, m.length])).toEqual([[0x400000n, 0x1000n]]);
  });

  it('refuses file and memory ranges whose arithmetic would wrap 64 bits', async () => {
    expect(await errnoOf(elf(ET_EXEC, 0x400100n, [text({ offset: U64_MAX - 0xfffn, filesz: 0x2000n })]))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(elf(ET_EXEC, 0x400100n, [text({ filesz: U64_MAX })]))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(elf(ET_EXEC, 0x400100n, [text({ vaddr: 0xfffffffffffff000n, offset: 0n })]))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(elf(ET_EXEC, 0x400100n, [text({ memsz: U64_MAX - 0x3fffffn })]))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(elf(ET_DYN, 0x100n, [text({ vaddr: 0n, memsz: TASK_SIZE })]))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(elf(ET_EXEC, U64_MAX, [text()]))).toBe(Errno.ENOEXEC); // entry outside the address space
    expect(await errnoOf(elf(ET_EXEC, 0x400100n, [text()], 0x3000, U64_MAX - 8n))).toBe(Errno.ENOEXEC); // e_phoff
  });

  it('refuses p_filesz > p_memsz, segments below mmap_min_addr or on the stack', async () => {
    expect(await errnoOf(elf(ET_EXEC, 0x400100n, [text({ memsz: 0x800n })]))).toBe(Errno.ENOEXEC);
    expect(await errnoOf(elf(ET_EXEC, 0x1100n, [text({ vaddr: 0x1000n })]))).toBe(Errno.ENOEXEC);
    const stackLow = DEFAULT_LAYOUT.stackTop - 0x1000n;
    expect(await errnoOf(elf(ET_EXEC, stackLow + 0x100n, [text({ vaddr: stackLow })]))).toBe(Errno.ENOEXEC);
  });

  it('lays overlapping segments as MAP_FIXED does: the later one owns the shared page', async () => {
    const file = elf(ET_EXEC, 0x400100n, [
      text({ memsz: 0x2000n, filesz: 0x2000n, flags: 5 }),
      text({ offset: 0x1000n, vaddr: 0x401000n, filesz: 0x1000n, memsz: 0x2000n, flags: 6 }),
    ]);
    file.fill(0xaa, 0x1000, 0x2000);
    const img = await loadExecutable(source({ '/x': file }), '/x', ['x'], [], opts);
    expect(img.mappings.map((m) => [m.start, m.length, m.prot])).toEqual([
      [0x400000n, 0x1000n, 5],
      [0x401000n, 0x2000n, 3],
    ]);
    expect(img.mappings[1]!.contents.equals(Buffer.alloc(0x1000, 0xaa))).toBe(true);
  });

  it('ignores a p_align that is not a power of two and refuses one that pushes the image out', async () => {
    const odd = await loadExecutable(
      source({ '/x': elf(ET_DYN, 0x100n, [text({ vaddr: 0n, align: 0x3000n })]) }), '/x', ['x'], [], opts);
    expect(odd.mappings[0]!.start).toBe(DEFAULT_LAYOUT.interpBase); // no PT_INTERP: the loader region
    // 2^63 aligns the bias down to 0: the segment would sit at address 0.
    expect(await errnoOf(elf(ET_DYN, 0x100n, [text({ vaddr: 0n, align: 1n << 63n })]))).toBe(Errno.ENOEXEC);
  });

  it('checks PT_INTERP: 2..PATH_MAX bytes, NUL-terminated, inside the file', async () => {
    const withInterp = (interp: Buffer, filesz = BigInt(interp.length)): Buffer => {
      const f = elf(ET_DYN, 0x100n, [{ type: PT_INTERP, offset: 0x800n, vaddr: 0x800n, filesz, memsz: filesz }, text({ vaddr: 0n })]);
      interp.copy(f, 0x800);
      return f;
    };
    expect(await errnoOf(withInterp(Buffer.from('/ld.so')))).toBe(Errno.ENOEXEC); // no NUL
    expect(await errnoOf(withInterp(Buffer.from('\0')))).toBe(Errno.ENOEXEC); // 1 byte
    expect(await errnoOf(withInterp(Buffer.from('/ld.so\0'), 4097n))).toBe(Errno.ENOEXEC); // over PATH_MAX
    expect(await errnoOf(withInterp(Buffer.from('/ld.so\0'), 0x10000n))).toBe(Errno.ENOEXEC); // past end of file
    expect(await errnoOf(withInterp(Buffer.from('\0\0')))).toBe(Errno.ENOENT); // empty path
    expect(await errnoOf(withInterp(Buffer.from('/ld.so\0')))).toBe(Errno.ENOENT); // a good path, not there
    // The path ends at the first NUL, as the kernel's C string does.
    const ld = elf(ET_DYN, 0x100n, [text({ vaddr: 0n })]);
    expect(await errnoOf(withInterp(Buffer.from('/ld.so\0junk\0')), { '/ld.so': ld })).toBe(0);
  });

  it('fails with ENOMEM, before reading, for segments holding more of the file than MAX_IMAGE_FILE_BYTES', async () => {
    // A 64 GiB file whose one segment maps 32 GiB of it.
    const huge = elf(ET_EXEC, 0x400100n, [text({ filesz: 1n << 35n, memsz: 1n << 35n })]);
    const hugeSrc = source({ '/x': huge }, 2 ** 36);
    await expect(loadExecutable(hugeSrc, '/x', ['x'], [], opts)).rejects.toMatchObject({ errno: Errno.ENOMEM });
    // Many segments mapping the same 32 MiB of a file: each is read separately, so they count separately.
    const MiB = 0x100000n;
    const copies = Number(BigInt(MAX_IMAGE_FILE_BYTES) / (32n * MiB)) + 1;
    const phdrs = Array.from({ length: copies }, (_, i) => text({ vaddr: 0x400000n + BigInt(i) * 64n * MiB, filesz: 32n * MiB, memsz: 32n * MiB }));
    const many = source({ '/x': elf(ET_EXEC, 0x400100n, phdrs) }, Number(32n * MiB));
    await expect(loadExecutable(many, '/x', ['x'], [], opts)).rejects.toMatchObject({ errno: Errno.ENOMEM });
    expect(hugeSrc.bytesRead + many.bytesRead).toBeLessThan(64 * 1024); // headers only
  });

  it('HostExecutableSource refuses a file too large to hold with ENOMEM, not a RangeError', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-loader-huge-'));
    try {
      const file = path.join(dir, 'huge');
      fs.writeFileSync(file, elf(ET_EXEC, 0x400100n, [text()]), { mode: 0o755 });
      fs.truncateSync(file, 3 * 2 ** 30); // sparse: 3 GiB, more than Node's readFile takes
      await expect(new HostExecutableSource().open(file)).rejects.toMatchObject({ errno: Errno.ENOMEM });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('releases every file it opened (script, executable, interpreter), whether the load succeeds or fails', async () => {
    const ld = elf(ET_DYN, 0x100n, [text({ vaddr: 0n })]);
    const exe = elf(ET_DYN, 0x100n, [{ type: PT_INTERP, offset: 0x800n, vaddr: 0x800n, filesz: 7n, memsz: 7n }, text({ vaddr: 0n })]);
    Buffer.from('/ld.so\0').copy(exe, 0x800);
    const badLd = elf(ET_DYN, 0x100n, [text({ vaddr: 0n, memsz: 0x10n })]); // p_filesz > p_memsz
    const files: Record<string, Buffer> = { '/s': Buffer.from('#!/exe\n'), '/exe': exe, '/ld.so': ld };
    const open = new Map<string, number>();
    const counting = (over: Record<string, Buffer> = {}): ExecutableSource => ({
      async open(p: string) {
        const data = over[p] ?? files[p];
        if (!data) throw new SyscallError(Errno.ENOENT, p);
        open.set(p, (open.get(p) ?? 0) + 1);
        let released = false;
        return {
          path: p,
          size: data.length,
          read: async (o: number, l: number) => Buffer.from(data.subarray(o, o + l)),
          release: () => {
            expect(released, `${p} released twice`).toBe(false);
            released = true;
            open.set(p, open.get(p)! - 1);
          },
        };
      },
    });
    const img = await loadExecutable(counting(), '/s', ['s'], [], opts);
    expect(img.argv).toEqual(['/exe', '/s']);
    expect([...open]).toEqual([['/s', 0], ['/exe', 0], ['/ld.so', 0]]);
    open.clear();
    await expect(loadExecutable(counting({ '/ld.so': badLd }), '/s', ['s'], [], opts)).rejects.toMatchObject({ errno: Errno.ELIBBAD });
    expect([...open]).toEqual([['/s', 0], ['/exe', 0], ['/ld.so', 0]]);
  });
});

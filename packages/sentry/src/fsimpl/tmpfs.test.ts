// tmpfs data limits: a mount's size= and the sentry-wide budget every tmpfs shares (all of it is sentry heap).
import { afterEach, describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { SyscallError } from '../kernel/syscall_error.js';
import { sentryTmpfsMemory, Tmpfs, type TmpfsFile } from './tmpfs.js';

const CHUNK = 64 * 1024;

async function newFile(fs: Tmpfs, name: string): Promise<TmpfsFile> {
  return (await fs.root().create(name, { mode: 0o644, uid: 0, gid: 0 })) as TmpfsFile;
}

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof SyscallError) return e.errno;
    throw e;
  }
  return undefined;
}

describe('tmpfs size limits', () => {
  const savedLimit = sentryTmpfsMemory.limit;
  afterEach(() => {
    sentryTmpfsMemory.limit = savedLimit;
  });

  it('size= limit: a write that crosses it is short, the next is ENOSPC', async () => {
    const fs = new Tmpfs({ sizeLimit: 2 * CHUNK });
    const f = await newFile(fs, 'a');
    expect(f.writeAt(Buffer.alloc(3 * CHUNK, 1), 0n)).toBe(2 * CHUNK);
    expect(errnoOf(() => f.writeAt(Buffer.alloc(1), BigInt(2 * CHUNK)))).toBe(Errno.ENOSPC);
  });

  it('every tmpfs shares one sentry-wide budget, and freed data returns to it', async () => {
    const a = await newFile(new Tmpfs(), 'a');
    const b = await newFile(new Tmpfs(), 'b');
    sentryTmpfsMemory.limit = sentryTmpfsMemory.used + 3 * CHUNK;
    expect(a.writeAt(Buffer.alloc(2 * CHUNK, 1), 0n)).toBe(2 * CHUNK);
    // A second, unlimited mount still stops at the shared budget.
    expect(b.writeAt(Buffer.alloc(2 * CHUNK, 1), 0n)).toBe(CHUNK);
    expect(errnoOf(() => b.writeAt(Buffer.alloc(1), BigInt(CHUNK)))).toBe(Errno.ENOSPC);
    await a.setattr({ size: 0n });
    expect(b.writeAt(Buffer.alloc(2 * CHUNK, 1), BigInt(CHUNK))).toBe(2 * CHUNK);
    await b.setattr({ size: 0n });
  });
});

describe('tmpfs st_blocks', () => {
  it('counts written pages, not the holes of a sparse file', async () => {
    const fs = new Tmpfs();
    const f = await newFile(fs, 'sparse');
    await f.setattr({ size: 1n << 30n });
    expect((await f.stat()).blocks).toBe(0n);
    f.writeAt(Buffer.from('x'), 0n);
    // Linux would say 8 (one page); holes are tracked per 64 KiB chunk here, so the written chunk counts whole.
    expect((await f.stat()).blocks).toBe(128n);
    const small = await newFile(fs, 'small');
    small.writeAt(Buffer.alloc(5000, 1), 0n);
    expect((await small.stat()).blocks).toBe(16n);
    await f.setattr({ size: 0n });
    await small.setattr({ size: 0n });
  });
});

describe('tmpfs extended attributes', () => {
  const savedLimit = sentryTmpfsMemory.limit;
  afterEach(() => {
    sentryTmpfsMemory.limit = savedLimit;
  });

  it('are charged to the sentry-wide budget: ENOSPC when it is used up, freed by removexattr', async () => {
    const f = await newFile(new Tmpfs(), 'x');
    sentryTmpfsMemory.limit = sentryTmpfsMemory.used + 3000;
    const value = Buffer.alloc(1000, 1);
    await f.setxattr('user.a', value, 0);
    await f.setxattr('user.b', value, 0);
    let err: unknown;
    await f.setxattr('user.c', value, 0).catch((e: unknown) => (err = e));
    expect((err as SyscallError).errno).toBe(Errno.ENOSPC);
    await f.removexattr('user.a');
    await f.setxattr('user.c', value, 0);
    expect((await f.listxattr()).sort()).toEqual(['user.b', 'user.c']);
    await f.removexattr('user.b');
    await f.removexattr('user.c');
  });

  it('are returned to the budget when their file is deleted', async () => {
    const fs = new Tmpfs();
    const f = await newFile(fs, 'x');
    const before = sentryTmpfsMemory.used;
    await f.setxattr('user.a', Buffer.alloc(1000), 0);
    expect(sentryTmpfsMemory.used).toBe(before + 1006);
    await fs.root().unlink('x');
    expect(sentryTmpfsMemory.used).toBe(before);
  });
});

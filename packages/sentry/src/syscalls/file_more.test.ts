// Handlers not covered elsewhere: sendfile, copy_file_range, statx, statfs, utimensat, faccessat2, *at with
// dirfds (O_PATH, a file as dirfd, AT_EMPTY_PATH), getdents (the old layout), truncate.
import { describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_CREAT, O_DIRECTORY, O_PATH, O_RDONLY, O_RDWR, O_WRONLY } from '../vfs/constants.js';
import { MountNamespace } from '../vfs/mount.js';
import { fileSyscalls as sys } from './fs_syscalls.js';
import { makeTestTask, type TestTask } from './fs_test_task.js';

const newTask = (): TestTask => makeTestTask(new MountNamespace(new Tmpfs({ mode: 0o755 })));

async function fileWith(t: TestTask, path: string, text: string): Promise<number> {
  const fd = await t.call(sys.open, t.put(path), O_CREAT | O_RDWR, 0o644);
  await t.call(sys.write, fd, t.put(Buffer.from(text)), text.length);
  return fd;
}

describe('copying between files', () => {
  it('sendfile from a file offset into a pipe, updating *offset and not the file offset', async () => {
    const t = newTask();
    const src = await fileWith(t, '/src', '0123456789');
    const fds = t.alloc(8);
    await t.call(sys.pipe2, fds, 0);
    const [r, w] = [t.memory.read(fds, 8).readInt32LE(0), t.memory.read(fds, 8).readInt32LE(4)];
    const off = t.put(Buffer.alloc(8));
    t.memory.writeU64(off, 3n);
    expect(await t.call(sys.sendfile, w, src, off, 4)).toBe(4);
    expect(t.memory.readU64(off)).toBe(7n);
    expect(await t.call(sys.lseek, src, 0, 1)).toBe(10);
    const buf = t.alloc(16);
    expect(await t.call(sys.read, r, buf, 16)).toBe(4);
    expect(t.memory.read(buf, 4).toString()).toBe('3456');
    // Without an offset pointer the file offset is used and advanced.
    await t.call(sys.lseek, src, 8, 0);
    expect(await t.call(sys.sendfile, w, src, 0, 100)).toBe(2);
    expect(await t.call(sys.lseek, src, 0, 1)).toBe(10);
    expect(await t.call(sys.sendfile, r, src, 0, 1)).toBe(-Errno.EBADF);
    expect(await t.call(sys.sendfile, src, w, 0, 1)).toBe(-Errno.EBADF);
  });

  it('copy_file_range between regular files', async () => {
    const t = newTask();
    const a = await fileWith(t, '/a', 'abcdefgh');
    const b = await t.call(sys.open, t.put('/b'), O_CREAT | O_RDWR, 0o644);
    const inOff = t.put(Buffer.alloc(8));
    t.memory.writeU64(inOff, 2n);
    expect(await t.call(sys.copy_file_range, a, inOff, b, 0, 3, 0)).toBe(3);
    expect(t.memory.readU64(inOff)).toBe(5n);
    expect(await t.call(sys.lseek, b, 0, 1)).toBe(3);
    const buf = t.alloc(8);
    expect(await t.call(sys.pread64, b, buf, 8, 0)).toBe(3);
    expect(t.memory.read(buf, 3).toString()).toBe('cde');
    expect(await t.call(sys.copy_file_range, a, 0, b, 0, 3, 1)).toBe(-Errno.EINVAL);
  });
});

describe('stat family', () => {
  it('statx, fstatat with AT_EMPTY_PATH, statfs', async () => {
    const t = newTask();
    const fd = await fileWith(t, '/s', 'twelve bytes');
    await t.call(sys.symlink, t.put('s'), t.put('/ln'));
    const sx = t.alloc(256);
    expect(await t.call(sys.statx, AT_FDCWD, t.put('/ln'), 0, 0x7ff, sx)).toBe(0);
    const raw = t.memory.read(sx, 256);
    expect(raw.readUInt32LE(0) & 0x7ff).toBe(0x7ff);
    expect(raw.readBigUInt64LE(40)).toBe(12n);
    expect(raw.readUInt16LE(28) & 0o170000).toBe(0o100000);
    await t.call(sys.statx, AT_FDCWD, t.put('/ln'), AT_SYMLINK_NOFOLLOW, 0x7ff, sx);
    expect(t.memory.read(sx, 256).readUInt16LE(28) & 0o170000).toBe(0o120000);
    const st = t.alloc(144);
    expect(await t.call(sys.newfstatat, fd, t.put(''), st, AT_EMPTY_PATH)).toBe(0);
    expect(t.memory.read(st, 144).readBigInt64LE(48)).toBe(12n);
    expect(await t.call(sys.newfstatat, fd, t.put(''), st, 0)).toBe(-Errno.ENOENT);
    const sf = t.alloc(120);
    expect(await t.call(sys.statfs, t.put('/'), sf)).toBe(0);
    expect(t.memory.read(sf, 120).readBigInt64LE(0)).toBe(0x01021994n);
    expect(await t.call(sys.fstatfs, fd, sf)).toBe(0);
  });

  it('utimensat sets explicit times and UTIME_OMIT keeps one', async () => {
    const t = newTask();
    await fileWith(t, '/u', 'x');
    const times = Buffer.alloc(32);
    times.writeBigInt64LE(1000n, 0);
    times.writeBigInt64LE(5n, 8);
    times.writeBigInt64LE(2000n, 16);
    times.writeBigInt64LE((1n << 30n) - 2n, 24); // UTIME_OMIT for mtime
    const before = t.alloc(144);
    await t.call(sys.stat, t.put('/u'), before);
    expect(await t.call(sys.utimensat, AT_FDCWD, t.put('/u'), t.put(times), 0)).toBe(0);
    const after = t.alloc(144);
    await t.call(sys.stat, t.put('/u'), after);
    const a = t.memory.read(after, 144);
    expect([a.readBigInt64LE(72), a.readBigInt64LE(80)]).toEqual([1000n, 5n]);
    expect(a.readBigInt64LE(88)).toBe(t.memory.read(before, 144).readBigInt64LE(88));
    times.writeBigInt64LE(2_000_000_000n, 8);
    expect(await t.call(sys.utimensat, AT_FDCWD, t.put('/u'), t.put(times), 0)).toBe(-Errno.EINVAL);
  });
});

describe('dirfds', () => {
  it('relative paths from an O_PATH directory fd; a file as dirfd is ENOTDIR; truncate', async () => {
    const t = newTask();
    await t.call(sys.mkdir, t.put('/d'), 0o755);
    await fileWith(t, '/d/f', 'content');
    const dfd = await t.call(sys.open, t.put('/d'), O_PATH | O_DIRECTORY);
    const ffd = await t.call(sys.openat, dfd, t.put('f'), O_RDONLY);
    expect(ffd).toBeGreaterThan(0);
    expect(await t.call(sys.read, dfd, t.alloc(4), 4)).toBe(-Errno.EBADF);
    expect(await t.call(sys.openat, ffd, t.put('x'), O_RDONLY)).toBe(-Errno.ENOTDIR);
    // An absolute path ignores dirfd, even a bad one.
    expect(await t.call(sys.openat, 999, t.put('/d/f'), O_RDONLY)).toBeGreaterThan(0);
    expect(await t.call(sys.openat, 999, t.put('f'), O_RDONLY)).toBe(-Errno.EBADF);
    expect(await t.call(sys.faccessat2, dfd, t.put('f'), 4, 0)).toBe(0);
    expect(await t.call(sys.mkdirat, dfd, t.put('sub'), 0o700)).toBe(0);
    expect(await t.call(sys.unlinkat, dfd, t.put('sub'), 0)).toBe(-Errno.EISDIR);
    expect(await t.call(sys.unlinkat, dfd, t.put('sub'), 0x200)).toBe(0);
    expect(await t.call(sys.truncate, t.put('/d/f'), 3)).toBe(0);
    const buf = t.alloc(16);
    expect(await t.call(sys.pread64, ffd, buf, 16, 0)).toBe(3);
    expect(await t.call(sys.truncate, t.put('/d'), 0)).toBe(-Errno.EISDIR);
    expect(await t.call(sys.ftruncate, ffd, 0)).toBe(-Errno.EINVAL);
    const wfd = await t.call(sys.open, t.put('/d/f'), O_WRONLY);
    expect(await t.call(sys.ftruncate, wfd, -1)).toBe(-Errno.EINVAL);
    expect(await t.call(sys.renameat2, dfd, t.put('f'), dfd, t.put('g'), 2)).toBe(-Errno.EINVAL);
    expect(await t.call(sys.renameat2, dfd, t.put('f'), dfd, t.put('g'), 1)).toBe(0);
    await fileWith(t, '/d/f', 'again');
    expect(await t.call(sys.renameat2, dfd, t.put('f'), dfd, t.put('g'), 1)).toBe(-Errno.EEXIST);
  });

  it('getdents (old layout) puts d_type in the last byte of each record', async () => {
    const t = newTask();
    await t.call(sys.mkdir, t.put('/dd'), 0o755);
    await fileWith(t, '/dd/file', '');
    const fd = await t.call(sys.open, t.put('/dd'), O_RDONLY | O_DIRECTORY);
    const buf = t.alloc(1024);
    const n = await t.call(sys.getdents, fd, buf, 1024);
    const raw = t.memory.read(buf, n);
    const seen: string[] = [];
    for (let off = 0; off < n; ) {
      const reclen = raw.readUInt16LE(off + 16);
      seen.push(`${raw.toString('utf8', off + 18, raw.indexOf(0, off + 18))}:${raw[off + reclen - 1]}`);
      off += reclen;
    }
    expect(seen.sort()).toEqual(['.:4', '..:4', 'file:8'].sort());
  });
});

describe('O_TMPFILE', () => {
  it('makes an unnamed file that linkat with AT_EMPTY_PATH can name', async () => {
    const t = newTask();
    await t.call(sys.mkdir, t.put('/tmp'), 0o1777);
    const O_TMPFILE = 0o20200000;
    expect(await t.call(sys.open, t.put('/tmp'), O_TMPFILE | O_RDONLY, 0o600)).toBe(-Errno.EINVAL);
    const fd = await t.call(sys.open, t.put('/tmp'), O_TMPFILE | O_RDWR, 0o600);
    expect(fd).toBeGreaterThanOrEqual(0);
    await t.call(sys.write, fd, t.put(Buffer.from('unnamed')), 7);
    const st = t.alloc(144);
    await t.call(sys.fstat, fd, st);
    expect(t.memory.read(st, 144).readBigUInt64LE(16)).toBe(0n);
    const dir = await t.call(sys.open, t.put('/tmp'), O_RDONLY | O_DIRECTORY);
    const buf = t.alloc(4096);
    const n = await t.call(sys.getdents64, dir, buf, 4096);
    expect(t.memory.read(buf, n).toString()).not.toContain('tmpfile');
    expect(await t.call(sys.linkat, fd, t.put(''), AT_FDCWD, t.put('/tmp/named'), AT_EMPTY_PATH)).toBe(0);
    const r = await t.call(sys.open, t.put('/tmp/named'), O_RDONLY);
    expect(await t.call(sys.read, r, buf, 16)).toBe(7);
    expect(await t.call(sys.open, t.put('/tmp/named'), O_TMPFILE | O_RDWR, 0o600)).toBe(-Errno.ENOTDIR);
  });
});

describe('hostile transfer sizes', () => {
  it('a 2 GiB read of a sparse file is short (64 MiB): the sentry never buffers the whole count', async () => {
    const t = newTask();
    const fd = await t.call(sys.open, t.put('/sparse'), O_CREAT | O_RDWR, 0o644);
    expect(await t.call(sys.ftruncate, fd, 2 ** 40)).toBe(0);
    // Record what reaches the task instead of copying it: the test memory is only 4 MiB.
    const copied: number[] = [];
    t.memory.write = (_addr, data) => void copied.push(data.length);
    expect(await t.call(sys.read, fd, 0x100000, 0x7ffff000)).toBe(64 << 20);
    expect(await t.call(sys.pread64, fd, 0x100000, 0x7ffff000, 0)).toBe(64 << 20);
    expect(copied).toEqual([64 << 20, 64 << 20]);
  });

  it('a read into a faulting buffer leaves the file offset where it was', async () => {
    const t = newTask();
    const fd = await fileWith(t, '/f', 'abcdef');
    await t.call(sys.lseek, fd, 0, 0);
    expect(await t.call(sys.read, fd, 1, 6)).toBe(-Errno.EFAULT);
    expect(await t.call(sys.lseek, fd, 0, 1)).toBe(0);
  });

  it('pread/pwrite where offset + count overflows loff_t: EINVAL (rw_verify_area)', async () => {
    const t = newTask();
    const fd = await fileWith(t, '/f', 'abcdef');
    const buf = t.alloc(8);
    const max = (1n << 63n) - 1n;
    expect(await t.call(sys.pread64, fd, buf, 1, max)).toBe(-Errno.EINVAL);
    expect(await t.call(sys.pwrite64, fd, buf, 2, max - 1n)).toBe(-Errno.EINVAL);
    expect(await t.call(sys.pwrite64, fd, buf, 1, -1)).toBe(-Errno.EINVAL);
  });
});

describe('getdents64 into a faulting buffer', () => {
  it('is EFAULT and loses no entries: the next call lists them', async () => {
    const t = newTask();
    await t.call(sys.mkdir, t.put('/d'), 0o755);
    await fileWith(t, '/d/one', '1');
    const d = await t.call(sys.open, t.put('/d'), O_RDONLY | O_DIRECTORY);
    expect(await t.call(sys.getdents64, d, 1, 4096)).toBe(-Errno.EFAULT);
    const buf = t.alloc(4096);
    const n = await t.call(sys.getdents64, d, buf, 4096);
    const names: string[] = [];
    for (let off = 0; off < n; ) {
      const b = t.memory.read(buf + BigInt(off), 8 + 8 + 2 + 1 + 256);
      const reclen = b.readUInt16LE(16);
      names.push(b.subarray(19, b.indexOf(0, 19)).toString());
      off += reclen;
    }
    expect(names.sort()).toEqual(['.', '..', 'one']);
  });
});

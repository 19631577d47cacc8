// File syscall handlers driven the way the dispatcher drives them: raw bigint arguments, results or -errno, with
// the task's memory a Buffer (see fs_test_task.ts for why that is a faithful double of the address space).
import { describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import {
  AT_FDCWD,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  POLLIN,
  POLLOUT,
  SIGPIPE,
} from '../vfs/constants.js';
import { MountNamespace } from '../vfs/mount.js';
import { fileSyscalls as sys } from './fs_syscalls.js';
import { makeTestTask, type TestTask } from './fs_test_task.js';

function newTask(): TestTask {
  return makeTestTask(new MountNamespace(new Tmpfs({ mode: 0o755 })));
}

function pipeFds(t: TestTask, addr: bigint): [number, number] {
  const b = t.memory.read(addr, 8);
  return [b.readInt32LE(0), b.readInt32LE(4)];
}

describe('file syscalls', () => {
  it('open, write, lseek, read, fstat, close', async () => {
    const t = newTask();
    const fd = await t.call(sys.openat, AT_FDCWD, t.put('/f.txt'), O_CREAT | O_RDWR, 0o640);
    expect(fd).toBe(0);
    expect(await t.call(sys.write, fd, t.put(Buffer.from('hello, world')), 12)).toBe(12);
    expect(await t.call(sys.lseek, fd, 7, 0)).toBe(7);
    const buf = t.alloc(64);
    expect(await t.call(sys.read, fd, buf, 64)).toBe(5);
    expect(t.memory.read(buf, 5).toString()).toBe('world');
    const st = t.alloc(144);
    expect(await t.call(sys.fstat, fd, st)).toBe(0);
    const raw = t.memory.read(st, 144);
    expect(raw.readUInt32LE(24)).toBe(0o100640);
    expect(raw.readBigInt64LE(48)).toBe(12n);
    expect(await t.call(sys.close, fd)).toBe(0);
    expect(await t.call(sys.close, fd)).toBe(-Errno.EBADF);
    expect(await t.call(sys.read, 99, buf, 1)).toBe(-Errno.EBADF);
    // A bad pointer is EFAULT, not a crash.
    expect(await t.call(sys.open, 0x1, O_RDONLY)).toBe(-Errno.EFAULT);
  });

  it('readv/writev scatter and gather; pread/pwrite leave the offset alone', async () => {
    const t = newTask();
    const fd = await t.call(sys.open, t.put('/v'), O_CREAT | O_RDWR, 0o600);
    const iov = Buffer.alloc(32);
    const a = t.put(Buffer.from('abc'));
    const b = t.put(Buffer.from('defg'));
    iov.writeBigUInt64LE(a, 0);
    iov.writeBigUInt64LE(3n, 8);
    iov.writeBigUInt64LE(b, 16);
    iov.writeBigUInt64LE(4n, 24);
    expect(await t.call(sys.writev, fd, t.put(iov), 2)).toBe(7);
    expect(await t.call(sys.pwrite64, fd, t.put(Buffer.from('XY')), 2, 1)).toBe(2);
    expect(await t.call(sys.lseek, fd, 0, 1)).toBe(7);
    const out1 = t.alloc(2);
    const out2 = t.alloc(16);
    const riov = Buffer.alloc(32);
    riov.writeBigUInt64LE(out1, 0);
    riov.writeBigUInt64LE(2n, 8);
    riov.writeBigUInt64LE(out2, 16);
    riov.writeBigUInt64LE(16n, 24);
    expect(await t.call(sys.preadv, fd, t.put(riov), 2, 0)).toBe(7);
    expect(t.memory.read(out1, 2).toString() + t.memory.read(out2, 5).toString()).toBe('aXYdefg');
    expect(await t.call(sys.readv, fd, t.put(riov), 2000)).toBe(-Errno.EINVAL);
    // A hostile iov_len is EINVAL, not an attempt to copy exabytes.
    const bad = Buffer.alloc(16);
    bad.writeBigUInt64LE(a, 0);
    bad.writeBigUInt64LE(1n << 62n, 8);
    expect(await t.call(sys.writev, fd, t.put(bad), 1)).toBe(-Errno.EINVAL);
  });

  it('getdents64 lists names with types, and EINVAL for a too-small buffer', async () => {
    const t = newTask();
    await t.call(sys.mkdir, t.put('/d'), 0o755);
    await t.call(sys.mkdir, t.put('/d/sub'), 0o755);
    await t.call(sys.symlink, t.put('sub'), t.put('/d/ln'));
    const fd = await t.call(sys.open, t.put('/d'), O_RDONLY | O_DIRECTORY);
    expect(await t.call(sys.getdents64, fd, t.alloc(8), 8)).toBe(-Errno.EINVAL);
    const buf = t.alloc(4096);
    const n = await t.call(sys.getdents64, fd, buf, 4096);
    const raw = t.memory.read(buf, n);
    const seen: string[] = [];
    for (let off = 0; off < n; ) {
      const reclen = raw.readUInt16LE(off + 16);
      const type = raw.readUInt8(off + 18);
      const name = raw.toString('utf8', off + 19, raw.indexOf(0, off + 19));
      seen.push(`${name}:${type}`);
      off += reclen;
    }
    expect(seen.sort()).toEqual(['.:4', '..:4', 'ln:10', 'sub:4'].sort());
    expect(await t.call(sys.getdents64, fd, buf, 4096)).toBe(0);
  });

  it('getcwd, chdir, readlink truncation, umask', async () => {
    const t = newTask();
    await t.call(sys.mkdir, t.put('/home'), 0o755);
    expect(await t.call(sys.chdir, t.put('/home'))).toBe(0);
    const buf = t.alloc(64);
    expect(await t.call(sys.getcwd, buf, 64)).toBe(6);
    expect(t.memory.readCString(buf)).toBe('/home');
    expect(await t.call(sys.getcwd, buf, 3)).toBe(-Errno.ERANGE);
    await t.call(sys.symlink, t.put('/a/long/target'), t.put('l'));
    expect(await t.call(sys.readlink, t.put('l'), buf, 4)).toBe(4);
    expect(t.memory.read(buf, 4).toString()).toBe('/a/l');
    expect(await t.call(sys.readlink, t.put('/home'), buf, 64)).toBe(-Errno.EINVAL);
    expect(await t.call(sys.umask, 0o077)).toBe(0o022);
    await t.call(sys.open, t.put('/home/p'), O_CREAT | O_WRONLY, 0o666);
    const st = t.alloc(144);
    await t.call(sys.stat, t.put('/home/p'), st);
    expect(t.memory.read(st, 144).readUInt32LE(24) & 0o777).toBe(0o600);
  });

  it('dup, dup2, dup3, fcntl flags and close-on-exec', async () => {
    const t = newTask();
    const fd = await t.call(sys.open, t.put('/x'), O_CREAT | O_RDWR | O_CLOEXEC, 0o600);
    expect(await t.call(sys.fcntl, fd, 1)).toBe(1);
    const d = await t.call(sys.dup, fd);
    expect(d).toBe(1);
    expect(await t.call(sys.fcntl, d, 1)).toBe(0);
    expect(await t.call(sys.dup2, fd, 10)).toBe(10);
    expect(await t.call(sys.dup3, fd, fd, 0)).toBe(-Errno.EINVAL);
    expect(await t.call(sys.dup3, fd, 11, O_CLOEXEC)).toBe(11);
    expect(await t.call(sys.fcntl, fd, 1030, 5)).toBe(5);
    expect((await t.call(sys.fcntl, fd, 3)) & 3).toBe(O_RDWR);
    expect(await t.call(sys.fcntl, fd, 4, O_NONBLOCK | O_WRONLY)).toBe(0);
    // F_SETFL changes O_NONBLOCK but never the access mode.
    expect((await t.call(sys.fcntl, d, 3)) & (O_NONBLOCK | 3)).toBe(O_NONBLOCK | O_RDWR);
    expect(await t.call(sys.fcntl, fd, 6, 0)).toBe(-Errno.ENOLCK);
    t.fdTable.onExec();
    expect(t.fdTable.fds()).toEqual([1, 10]);
  });

  it('ioctl: TCGETS is ENOTTY on a file, FIONREAD counts bytes left, FIOCLEX sets close-on-exec', async () => {
    const t = newTask();
    const fd = await t.call(sys.open, t.put('/i'), O_CREAT | O_RDWR, 0o600);
    await t.call(sys.write, fd, t.put(Buffer.from('12345')), 5);
    await t.call(sys.lseek, fd, 1, 0);
    const out = t.alloc(8);
    expect(await t.call(sys.ioctl, fd, 0x5401, out)).toBe(-Errno.ENOTTY);
    expect(await t.call(sys.ioctl, fd, 0x541b, out)).toBe(0);
    expect(t.memory.readU32(out)).toBe(4);
    expect(await t.call(sys.ioctl, fd, 0x5451, 0)).toBe(0);
    expect(await t.call(sys.fcntl, fd, 1)).toBe(1);
  });
});

describe('pipes', () => {
  it('a blocking read waits for a writer and sees end of file after the last writer closes', async () => {
    const t = newTask();
    const fds = t.alloc(8);
    expect(await t.call(sys.pipe2, fds, 0)).toBe(0);
    const [r, w] = pipeFds(t, fds);
    const buf = t.alloc(16);
    let settled = false;
    const pending = t.call(sys.read, r, buf, 16).then((n) => ((settled = true), n));
    await new Promise((res) => setTimeout(res, 20));
    expect(settled).toBe(false);
    expect(await t.call(sys.write, w, t.put(Buffer.from('ping')), 4)).toBe(4);
    expect(await pending).toBe(4);
    expect(t.memory.read(buf, 4).toString()).toBe('ping');
    expect(await t.call(sys.close, w)).toBe(0);
    expect(await t.call(sys.read, r, buf, 16)).toBe(0);
  });

  it('O_NONBLOCK gives EAGAIN; a signal interrupts a blocked read with ERESTARTSYS', async () => {
    const t = newTask();
    const fds = t.alloc(8);
    await t.call(sys.pipe2, fds, O_NONBLOCK);
    const [r] = pipeFds(t, fds);
    expect(await t.call(sys.read, r, t.alloc(4), 4)).toBe(-Errno.EAGAIN);
    await t.call(sys.fcntl, r, 4, 0);
    const pending = t.call(sys.read, r, t.alloc(4), 4);
    await new Promise((res) => setTimeout(res, 5));
    t.blocker.interrupt();
    expect(await pending).toBe(-Errno.ERESTARTSYS);
  });

  it('writing with no reader is EPIPE and raises SIGPIPE; a full pipe blocks the writer until read', async () => {
    const t = newTask();
    const fds = t.alloc(8);
    await t.call(sys.pipe, fds);
    const [r, w] = pipeFds(t, fds);
    const big = t.put(Buffer.alloc(100 * 1024, 0x61));
    const writing = t.call(sys.write, w, big, 100 * 1024);
    const sink = t.alloc(100 * 1024);
    let got = 0;
    while (got < 100 * 1024) got += await t.call(sys.read, r, sink + BigInt(got), 100 * 1024 - got);
    expect(await writing).toBe(100 * 1024);
    expect(await t.call(sys.close, r)).toBe(0);
    expect(await t.call(sys.write, w, big, 1)).toBe(-Errno.EPIPE);
    expect(t.signals).toEqual([SIGPIPE]);
  });

  it('poll reports readiness, times out, and wakes when data arrives; select agrees', async () => {
    const t = newTask();
    const fds = t.alloc(8);
    await t.call(sys.pipe, fds);
    const [r, w] = pipeFds(t, fds);
    const pfd = Buffer.alloc(16);
    pfd.writeInt32LE(r, 0);
    pfd.writeUInt16LE(POLLIN, 4);
    pfd.writeInt32LE(w, 8);
    pfd.writeUInt16LE(POLLOUT, 12);
    const addr = t.put(pfd);
    expect(await t.call(sys.poll, addr, 2, 0)).toBe(1);
    expect(t.memory.read(addr, 16).readUInt16LE(6)).toBe(0);
    expect(t.memory.read(addr, 16).readUInt16LE(14) & POLLOUT).toBe(POLLOUT);
    const only = t.put(pfd.subarray(0, 8));
    const start = Date.now();
    expect(await t.call(sys.poll, only, 1, 30)).toBe(0);
    expect(Date.now() - start).toBeGreaterThanOrEqual(25);
    const waiting = t.call(sys.poll, only, 1, -1);
    setTimeout(() => void t.call(sys.write, w, t.put(Buffer.from('x')), 1), 10);
    expect(await waiting).toBe(1);
    expect(t.memory.read(only, 8).readUInt16LE(6) & POLLIN).toBe(POLLIN);
    const set = Buffer.alloc(8);
    set[0] = (1 << r) | (1 << w);
    const rset = t.put(set);
    expect(await t.call(sys.select, Math.max(r, w) + 1, rset, 0, 0, t.put(Buffer.alloc(16)))).toBe(1);
    expect(t.memory.read(rset, 8)[0]).toBe(1 << r);
    const bad = Buffer.alloc(8);
    bad[0] = 1 << 7;
    expect(await t.call(sys.select, 8, t.put(bad), 0, 0, t.put(Buffer.alloc(16)))).toBe(-Errno.EBADF);
  });
});

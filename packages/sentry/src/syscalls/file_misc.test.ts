// xattrs, flock, memfd_create, close_range, fallocate, chroot through the syscall handlers (Buffer-memory task,
// see fs_test_task.ts).
import { describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { O_CLOEXEC, O_CREAT, O_RDONLY, O_RDWR } from '../vfs/constants.js';
import { MountNamespace } from '../vfs/mount.js';
import { fileSyscalls as sys } from './fs_syscalls.js';
import { makeTestTask, type TestTask } from './fs_test_task.js';

const newTask = (): TestTask => makeTestTask(new MountNamespace(new Tmpfs({ mode: 0o777 })));

describe('xattrs', () => {
  it('set, get, list and remove user attributes with Linux errors', async () => {
    const t = newTask();
    await t.call(sys.open, t.put('/f'), O_CREAT | O_RDWR, 0o644);
    const name = t.put('user.comment');
    const val = t.put(Buffer.from('hello'));
    expect(await t.call(sys.setxattr, t.put('/f'), name, val, 5, 0)).toBe(0);
    expect(await t.call(sys.setxattr, t.put('/f'), name, val, 5, 1)).toBe(-Errno.EEXIST);
    expect(await t.call(sys.setxattr, t.put('/f'), t.put('user.none'), val, 5, 2)).toBe(-Errno.ENODATA);
    expect(await t.call(sys.getxattr, t.put('/f'), name, 0, 0)).toBe(5);
    const out = t.alloc(16);
    expect(await t.call(sys.getxattr, t.put('/f'), name, out, 2)).toBe(-Errno.ERANGE);
    expect(await t.call(sys.getxattr, t.put('/f'), name, out, 16)).toBe(5);
    expect(t.memory.read(out, 5).toString()).toBe('hello');
    expect(await t.call(sys.listxattr, t.put('/f'), out, 16)).toBe(13);
    expect(t.memory.read(out, 13).toString()).toBe('user.comment\0');
    expect(await t.call(sys.getxattr, t.put('/f'), t.put('bogus.x'), out, 16)).toBe(-Errno.EOPNOTSUPP);
    expect(await t.call(sys.removexattr, t.put('/f'), name)).toBe(0);
    expect(await t.call(sys.getxattr, t.put('/f'), name, out, 16)).toBe(-Errno.ENODATA);
    // trusted.* is root's: invisible and unsettable for others.
    await t.call(sys.setxattr, t.put('/f'), t.put('trusted.x'), val, 5, 0);
    const user = makeTestTask(t.fsContext.mounts, { uid: 1000, euid: 1000, gid: 1000, egid: 1000 });
    expect(await user.call(sys.getxattr, user.put('/f'), user.put('trusted.x'), user.alloc(8), 8)).toBe(-Errno.ENODATA);
    expect(await user.call(sys.listxattr, user.put('/f'), 0, 0)).toBe(0);
    expect(await user.call(sys.setxattr, user.put('/f'), user.put('user.y'), user.put(Buffer.from('v')), 1, 0)).toBe(-Errno.EACCES);
  });
});

describe('flock', () => {
  it('shared locks coexist, an exclusive lock waits for them, and closing releases', async () => {
    const t = newTask();
    const a = await t.call(sys.open, t.put('/lock'), O_CREAT | O_RDWR, 0o644);
    const b = await t.call(sys.open, t.put('/lock'), O_RDONLY);
    const c = await t.call(sys.open, t.put('/lock'), O_RDONLY);
    expect(await t.call(sys.flock, a, 1)).toBe(0);
    expect(await t.call(sys.flock, b, 1)).toBe(0);
    expect(await t.call(sys.flock, c, 2 | 4)).toBe(-Errno.EAGAIN);
    let got = false;
    const waiting = t.call(sys.flock, c, 2).then((r) => ((got = true), r));
    await t.call(sys.flock, a, 8);
    await new Promise((r) => setTimeout(r, 5));
    expect(got).toBe(false);
    // A dup shares the description: closing the original fd alone keeps the lock; closing the last one drops it.
    const bdup = await t.call(sys.dup, b);
    await t.call(sys.close, b);
    await new Promise((r) => setTimeout(r, 5));
    expect(got).toBe(false);
    await t.call(sys.close, bdup);
    expect(await waiting).toBe(0);
    expect(await t.call(sys.flock, a, 1 | 4)).toBe(-Errno.EAGAIN);
  });
});

describe('memfd, close_range, fallocate, chroot', () => {
  it('memfd_create gives an unlinked read-write file named memfd:NAME', async () => {
    const t = newTask();
    const fd = await t.call(sys.memfd_create, t.put('buf'), 1);
    expect(await t.call(sys.fcntl, fd, 1)).toBe(1);
    expect(await t.call(sys.ftruncate, fd, 8192)).toBe(0);
    expect(await t.call(sys.pwrite64, fd, t.put(Buffer.from('abc')), 3, 100)).toBe(3);
    const st = t.alloc(144);
    await t.call(sys.fstat, fd, st);
    expect(t.memory.read(st, 144).readBigInt64LE(48)).toBe(8192n);
    expect(t.memory.read(st, 144).readBigUInt64LE(16)).toBe(0n);
  });

  it('close_range closes or marks close-on-exec a range', async () => {
    const t = newTask();
    for (let i = 0; i < 6; i++) await t.call(sys.open, t.put('/'), O_RDONLY);
    expect(await t.call(sys.close_range, 4, 0xffffffff, 0)).toBe(0);
    expect(t.fdTable.fds()).toEqual([0, 1, 2, 3]);
    expect(await t.call(sys.close_range, 1, 2, 4)).toBe(0);
    t.fdTable.onExec();
    expect(t.fdTable.fds()).toEqual([0, 3]);
    expect(await t.call(sys.close_range, 5, 1, 0)).toBe(-Errno.EINVAL);
  });

  it('fallocate grows a file unless KEEP_SIZE; chroot confines absolute paths and ".."', async () => {
    const t = newTask();
    const fd = await t.call(sys.open, t.put('/g'), O_CREAT | O_RDWR | O_CLOEXEC, 0o644);
    expect(await t.call(sys.fallocate, fd, 0, 0, 4096)).toBe(0);
    expect(await t.call(sys.fallocate, fd, 1, 0, 1 << 20)).toBe(0);
    const st = t.alloc(144);
    await t.call(sys.fstat, fd, st);
    expect(t.memory.read(st, 144).readBigInt64LE(48)).toBe(4096n);
    expect(await t.call(sys.fallocate, fd, 2, 0, 10)).toBe(-Errno.EOPNOTSUPP);
    await t.call(sys.mkdir, t.put('/jail'), 0o755);
    await t.call(sys.mkdir, t.put('/jail/inside'), 0o755);
    expect(await t.call(sys.chroot, t.put('/jail'))).toBe(0);
    expect(await t.call(sys.stat, t.put('/inside'), st)).toBe(0);
    expect(await t.call(sys.stat, t.put('/../../g'), st)).toBe(-Errno.ENOENT);
    const user = makeTestTask(t.fsContext.mounts, { uid: 1, euid: 1 });
    expect(await user.call(sys.chroot, user.put('/jail'))).toBe(-Errno.EPERM);
  });
});

describe('FIFOs', () => {
  it('a blocking open waits for the other end; O_NONBLOCK writers without a reader get ENXIO', async () => {
    const t = newTask();
    expect(await t.call(sys.mknod, t.put('/fifo'), 0o010644, 0)).toBe(0);
    expect(await t.call(sys.open, t.put('/fifo'), 0o1 | 0o4000)).toBe(-Errno.ENXIO);
    let opened = false;
    const reader = t.call(sys.open, t.put('/fifo'), O_RDONLY).then((fd) => ((opened = true), fd));
    await new Promise((r) => setTimeout(r, 10));
    expect(opened).toBe(false);
    const w = await t.call(sys.open, t.put('/fifo'), 0o1);
    const r = await reader;
    expect(r).toBeGreaterThanOrEqual(0);
    expect(await t.call(sys.write, w, t.put(Buffer.from('through the fifo')), 16)).toBe(16);
    const buf = t.alloc(32);
    expect(await t.call(sys.read, r, buf, 32)).toBe(16);
    expect(t.memory.read(buf, 16).toString()).toBe('through the fifo');
    await t.call(sys.close, w);
    expect(await t.call(sys.read, r, buf, 32)).toBe(0);
    const st = t.alloc(144);
    await t.call(sys.fstat, r, st);
    expect(t.memory.read(st, 144).readUInt32LE(24)).toBe(0o010644);
  });
});

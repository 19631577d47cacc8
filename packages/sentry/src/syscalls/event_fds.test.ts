import { describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { O_NONBLOCK, POLLIN } from '../vfs/constants.js';
import { MountNamespace } from '../vfs/mount.js';
import { fileSyscalls as sys } from './fs_syscalls.js';
import { makeTestTask } from './fs_test_task.js';

const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};

describe('eventfd', () => {
  it('adds on write, drains on read, blocks at zero, counts down as a semaphore', async () => {
    const t = makeTestTask(new MountNamespace(new Tmpfs()));
    const fd = await t.call(sys.eventfd2, 3, 0);
    const out = t.alloc(8);
    expect(await t.call(sys.write, fd, t.put(u64(4n)), 8)).toBe(8);
    expect(await t.call(sys.read, fd, out, 8)).toBe(8);
    expect(t.memory.readU64(out)).toBe(7n);
    expect(await t.call(sys.read, fd, out, 4)).toBe(-Errno.EINVAL);
    const pending = t.call(sys.read, fd, out, 8);
    setTimeout(() => void t.call(sys.write, fd, t.put(u64(2n)), 8), 5);
    expect(await pending).toBe(8);
    expect(t.memory.readU64(out)).toBe(2n);
    expect(await t.call(sys.write, fd, t.put(u64(0xffffffffffffffffn)), 8)).toBe(-Errno.EINVAL);
    const sem = await t.call(sys.eventfd2, 2, 1 | O_NONBLOCK);
    expect(await t.call(sys.read, sem, out, 8)).toBe(8);
    expect(t.memory.readU64(out)).toBe(1n);
    expect(await t.call(sys.read, sem, out, 8)).toBe(8);
    expect(await t.call(sys.read, sem, out, 8)).toBe(-Errno.EAGAIN);
  });
});

describe('timerfd', () => {
  it('expires once, then periodically, and reports the count of expirations', async () => {
    const t = makeTestTask(new MountNamespace(new Tmpfs()));
    const fd = await t.call(sys.timerfd_create, 1, 0);
    const spec = Buffer.alloc(32);
    spec.writeBigInt64LE(20_000_000n, 24); // it_value = 20 ms, no interval
    expect(await t.call(sys.timerfd_settime, fd, 0, t.put(spec), 0)).toBe(0);
    const out = t.alloc(8);
    const start = Date.now();
    expect(await t.call(sys.read, fd, out, 8)).toBe(8);
    expect(Date.now() - start).toBeGreaterThanOrEqual(15);
    expect(t.memory.readU64(out)).toBe(1n);
    // Periodic: 5 ms interval; after ~30 ms several expirations are pending in one read.
    const periodic = Buffer.alloc(32);
    periodic.writeBigInt64LE(5_000_000n, 8);
    periodic.writeBigInt64LE(5_000_000n, 24);
    await t.call(sys.timerfd_settime, fd, 0, t.put(periodic), 0);
    await new Promise((r) => setTimeout(r, 32));
    expect(await t.call(sys.read, fd, out, 8)).toBe(8);
    expect(t.memory.readU64(out)).toBeGreaterThanOrEqual(4n);
    const cur = t.alloc(32);
    expect(await t.call(sys.timerfd_gettime, fd, cur)).toBe(0);
    expect(t.memory.read(cur, 32).readBigInt64LE(8)).toBe(5_000_000n);
    // Disarmed: nothing to read, and poll says not readable.
    await t.call(sys.timerfd_settime, fd, 0, t.put(Buffer.alloc(32)), 0);
    await t.call(sys.fcntl, fd, 4, O_NONBLOCK);
    expect(await t.call(sys.read, fd, out, 8)).toBe(-Errno.EAGAIN);
    const pfd = Buffer.alloc(8);
    pfd.writeInt32LE(fd, 0);
    pfd.writeUInt16LE(POLLIN, 4);
    expect(await t.call(sys.poll, t.put(pfd), 1, 0)).toBe(0);
    expect(await t.call(sys.timerfd_create, 42, 0)).toBe(-Errno.EINVAL);
    await t.call(sys.close, fd);
  });
});

import { describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { O_CREAT, O_RDWR, POLLIN, POLLOUT } from '../vfs/constants.js';
import { MountNamespace } from '../vfs/mount.js';
import { EPOLLET, EPOLLONESHOT } from '../fsimpl/epoll.js';
import { fileSyscalls as sys } from './fs_syscalls.js';
import { makeTestTask, type TestTask } from './fs_test_task.js';

function ev(t: TestTask, events: number, data: bigint): bigint {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(events >>> 0, 0);
  b.writeBigUInt64LE(data, 4);
  return t.put(b);
}

function events(t: TestTask, addr: bigint, n: number): Array<[number, bigint]> {
  const raw = t.memory.read(addr, n * 12);
  return Array.from({ length: n }, (_, i) => [raw.readUInt32LE(i * 12), raw.readBigUInt64LE(i * 12 + 4)]);
}

async function pipe(t: TestTask): Promise<[number, number]> {
  const a = t.alloc(8);
  await t.call(sys.pipe2, a, 0);
  const b = t.memory.read(a, 8);
  return [b.readInt32LE(0), b.readInt32LE(4)];
}

describe('epoll', () => {
  it('level-triggered readiness, wakeup on write, errors of epoll_ctl', async () => {
    const t = makeTestTask(new MountNamespace(new Tmpfs()));
    const ep = await t.call(sys.epoll_create1, 0);
    const [r, w] = await pipe(t);
    expect(await t.call(sys.epoll_ctl, ep, 1, r, ev(t, POLLIN, 42n))).toBe(0);
    expect(await t.call(sys.epoll_ctl, ep, 1, r, ev(t, POLLIN, 42n))).toBe(-Errno.EEXIST);
    expect(await t.call(sys.epoll_ctl, ep, 1, ep, ev(t, POLLIN, 0n))).toBe(-Errno.EINVAL);
    const file = await t.call(sys.open, t.put('/f'), O_CREAT | O_RDWR, 0o644);
    expect(await t.call(sys.epoll_ctl, ep, 1, file, ev(t, POLLIN, 0n))).toBe(-Errno.EPERM);
    expect(await t.call(sys.epoll_ctl, ep, 3, w, ev(t, POLLOUT, 0n))).toBe(-Errno.ENOENT);
    const out = t.alloc(12 * 4);
    expect(await t.call(sys.epoll_wait, ep, out, 4, 0)).toBe(0);
    const waiting = t.call(sys.epoll_wait, ep, out, 4, -1);
    setTimeout(() => void t.call(sys.write, w, t.put(Buffer.from('x')), 1), 5);
    expect(await waiting).toBe(1);
    expect(events(t, out, 1)).toEqual([[POLLIN, 42n]]);
    // Still readable: level-triggered reports it again.
    expect(await t.call(sys.epoll_wait, ep, out, 4, 0)).toBe(1);
    expect(await t.call(sys.epoll_wait, ep, out, 0, 0)).toBe(-Errno.EINVAL);
    const start = Date.now();
    expect(await t.call(sys.epoll_ctl, ep, 2, r, 0)).toBe(0);
    expect(await t.call(sys.epoll_wait, ep, out, 4, 20)).toBe(0);
    expect(Date.now() - start).toBeGreaterThanOrEqual(15);
  });

  it('edge-triggered and one-shot entries report once', async () => {
    const t = makeTestTask(new MountNamespace(new Tmpfs()));
    const ep = await t.call(sys.epoll_create, 1);
    const [r, w] = await pipe(t);
    const [r2, w2] = await pipe(t);
    await t.call(sys.epoll_ctl, ep, 1, r, ev(t, POLLIN | EPOLLET, 1n));
    await t.call(sys.epoll_ctl, ep, 1, r2, ev(t, POLLIN | EPOLLONESHOT, 2n));
    await t.call(sys.write, w, t.put(Buffer.from('a')), 1);
    await t.call(sys.write, w2, t.put(Buffer.from('b')), 1);
    const out = t.alloc(12 * 4);
    expect(await t.call(sys.epoll_wait, ep, out, 4, 0)).toBe(2);
    expect(await t.call(sys.epoll_wait, ep, out, 4, 0)).toBe(0);
    await t.call(sys.write, w, t.put(Buffer.from('c')), 1);
    expect(await t.call(sys.epoll_wait, ep, out, 4, 0)).toBe(1);
    expect(events(t, out, 1)[0]![1]).toBe(1n);
    await t.call(sys.epoll_ctl, ep, 3, r2, ev(t, POLLIN, 3n));
    expect(await t.call(sys.epoll_wait, ep, out, 4, 0)).toBe(1);
    expect(events(t, out, 1)[0]![1]).toBe(3n);
    // Closing the only fd of a watched pipe end drops its registration; the epoll fd itself polls as readable.
    await t.call(sys.close, r2);
    const pfd = Buffer.alloc(8);
    pfd.writeInt32LE(ep, 0);
    pfd.writeUInt16LE(POLLIN, 4);
    expect(await t.call(sys.poll, t.put(pfd), 1, 0)).toBe(0);
  });
});

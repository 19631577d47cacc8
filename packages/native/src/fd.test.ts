import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { closeFd, dupFd, memfdCreate, recvFds, sendFds, socketpair, clearCloexec, setNonBlocking } from './fd.js';

function isCloexec(fd: number): boolean {
  // /proc/self/fdinfo/N "flags:" is octal; O_CLOEXEC is 02000000.
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const flags = parseInt(/flags:\s*([0-7]+)/.exec(info)![1]!, 8);
  return (flags & 0o2000000) !== 0;
}

describe('fd', () => {
  it('passes a memfd over a socketpair with SCM_RIGHTS and the receiver sees its contents', () => {
    const [a, b] = socketpair();
    const m = memfdCreate('tsv-test');
    fs.writeSync(m, Buffer.from('hello memfd'));
    expect(sendFds(a, [m], Buffer.from('tag'))).toBe(3);
    const got = recvFds(b, 4);
    expect(got.data.toString()).toBe('tag');
    expect(got.fds).toHaveLength(1);
    expect(got.truncated).toBe(false);
    const r = got.fds[0]!;
    expect(r).not.toBe(m);
    expect(isCloexec(r)).toBe(true);
    const buf = Buffer.alloc(32);
    const n = fs.readSync(r, buf, 0, 32, 0);
    expect(buf.subarray(0, n).toString()).toBe('hello memfd');
    for (const fd of [a, b, m, r]) closeFd(fd);
  });

  it('reports truncation when more fds arrive than asked for, and end of stream as empty data', () => {
    const [a, b] = socketpair();
    const m1 = memfdCreate('x');
    const m2 = memfdCreate('y');
    // CMSG_SPACE rounds to 8 bytes, so room for 1 fd holds 2; send 3 to overflow it.
    sendFds(a, [m1, m2, m1]);
    const got = recvFds(b, 1);
    expect(got.truncated).toBe(true);
    expect(got.fds.length).toBeLessThanOrEqual(2);
    for (const fd of got.fds) closeFd(fd);
    closeFd(a);
    expect(recvFds(b, 1).data.length).toBe(0);
    for (const fd of [b, m1, m2]) closeFd(fd);
  });

  it('dupFd honours the minimum and clearCloexec clears the flag', () => {
    const m = memfdCreate('d');
    const d = dupFd(m, 100);
    expect(d).toBeGreaterThanOrEqual(100);
    expect(isCloexec(d)).toBe(true);
    clearCloexec(d);
    expect(isCloexec(d)).toBe(false);
    closeFd(d);
    closeFd(m);
  });

  it('throws errno errors with a code for bad fds and non-blocking empty reads', () => {
    expect(() => closeFd(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    const [a, b] = socketpair();
    setNonBlocking(b, true);
    expect(() => recvFds(b, 1)).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
    expect(() => sendFds(a, [123456])).toThrow(expect.objectContaining({ code: 'EBADF' }));
    closeFd(a);
    closeFd(b);
  });
});

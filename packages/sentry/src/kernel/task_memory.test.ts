// HostTaskMemory on a real host process: reads and writes reach it until the task is released; after that they
// fail with ESRCH, even though the host pid still names a live process (as a recycled pid would).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HostTaskMemory } from './task_memory.js';
import { Errno, SyscallError } from './syscall_error.js';

/** The address of a readable, writable mapping of `pid` (its stack), from /proc/PID/maps. */
async function stackOf(pid: number): Promise<bigint> {
  const { readFileSync } = await import('node:fs');
  const line = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').find((l) => l.endsWith('[stack]'))!;
  return BigInt(`0x${line.split('-')[0]}`);
}

describe('HostTaskMemory', () => {
  it('reaches the process until released, then answers ESRCH without touching the pid', async () => {
    const child = spawn('/bin/sleep', ['5']);
    try {
      await new Promise((r) => child.once('spawn', r));
      await new Promise((r) => setTimeout(r, 50));
      const mem = new HostTaskMemory(child.pid!);
      const addr = await stackOf(child.pid!);
      mem.write(addr, Buffer.from('tsvisor'));
      expect(mem.read(addr, 7).toString()).toBe('tsvisor');
      mem.release();
      for (const access of [() => mem.read(addr, 7), () => mem.write(addr, Buffer.from('x')), () => mem.writeForce(addr, Buffer.from('x')), () => mem.readCString(addr)]) {
        let err: unknown;
        try {
          access();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(SyscallError);
        expect((err as SyscallError).errno).toBe(Errno.ESRCH);
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});

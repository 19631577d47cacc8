// TaskMemory for a host task: process_vm_readv/writev, with writes to read-only pages through /proc/PID/mem
// (design.md: process_vm_writev fails on read-only pages). Reads are chunked by page so an unmapped page yields
// EFAULT, never a partial buffer presented as whole.
import { readMemory, writeMemory, writeMemoryForce } from '@tsvisor/native';
import type { TaskMemory } from './context.js';
import { Errno, fail } from './syscall_error.js';

/** IOV_MAX (uio.h). */
const IOV_MAX = 1024;
const PATH_MAX = 4096;

export class HostTaskMemory implements TaskMemory {
  private released = false;

  /** `hostPid` is any thread of the address space's owner (they share one mm). */
  constructor(public hostPid: number) {}

  /**
   * The thread is gone: every later access fails with ESRCH. A handler still running for it (a blocked read that
   * completes later) must not reach whatever process holds the host tid next once the host recycles it.
   */
  release(): void {
    this.released = true;
  }

  private pid(): number {
    if (this.released) fail(Errno.ESRCH, `task ${this.hostPid} has exited`);
    return this.hostPid;
  }

  read(addr: bigint, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    if (length === 0) return out;
    const n = readMemory(this.pid(), addr, out);
    if (n !== length) fail(Errno.EFAULT, `read of ${length} bytes at 0x${addr.toString(16)}`);
    return out;
  }

  write(addr: bigint, data: Uint8Array): void {
    if (data.length === 0) return;
    const n = writeMemory(this.pid(), addr, data);
    if (n === data.length) return;
    // The rest may be on a read-only page the application may still not write: only the loader and the platform
    // use writeForce on purpose; for syscall results a read-only destination is EFAULT, as on Linux.
    fail(Errno.EFAULT, `write of ${data.length} bytes at 0x${addr.toString(16)}`);
  }

  /** Writes ignoring page protections (image loading, filling file mappings). */
  writeForce(addr: bigint, data: Uint8Array): void {
    if (data.length === 0) return;
    const n = writeMemoryForce(this.pid(), addr, data);
    if (n !== data.length) fail(Errno.EFAULT, `forced write of ${data.length} bytes at 0x${addr.toString(16)}`);
  }

  readCString(addr: bigint, max = PATH_MAX): string {
    const chunks: Buffer[] = [];
    let total = 0;
    let at = addr;
    while (total < max) {
      // Read up to the end of the current page so a string ending just before an unmapped page is fine.
      const pageLeft = Number(0x1000n - (at & 0xfffn));
      const want = Math.min(pageLeft, max - total);
      const buf = Buffer.allocUnsafe(want);
      const n = readMemory(this.pid(), at, buf);
      if (n === 0) fail(Errno.EFAULT, `string at 0x${addr.toString(16)}`);
      const z = buf.subarray(0, n).indexOf(0);
      if (z >= 0) {
        chunks.push(buf.subarray(0, z));
        return Buffer.concat(chunks).toString('utf8');
      }
      chunks.push(buf.subarray(0, n));
      total += n;
      at += BigInt(n);
    }
    fail(Errno.ENAMETOOLONG, `string at 0x${addr.toString(16)} longer than ${max}`);
  }

  readIovecs(addr: bigint, count: number): Array<{ base: bigint; length: number }> {
    if (count < 0 || count > IOV_MAX) fail(Errno.EINVAL, `iovcnt ${count}`);
    const raw = this.read(addr, count * 16);
    const out: Array<{ base: bigint; length: number }> = [];
    for (let i = 0; i < count; i++) {
      const len = raw.readBigUInt64LE(i * 16 + 8);
      if (len > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.EINVAL, 'iov_len too large');
      out.push({ base: raw.readBigUInt64LE(i * 16), length: Number(len) });
    }
    return out;
  }

  readU32(addr: bigint): number {
    return this.read(addr, 4).readUInt32LE(0);
  }
  readU64(addr: bigint): bigint {
    return this.read(addr, 8).readBigUInt64LE(0);
  }
  writeU32(addr: bigint, value: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(value >>> 0);
    this.write(addr, b);
  }
  writeU64(addr: bigint, value: bigint): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, value));
    this.write(addr, b);
  }

  /** Reads a NULL-terminated array of string pointers (argv/envp of execve), at most `maxCount` entries. */
  readStringArray(addr: bigint, maxCount = 0x7fffffff >> 3): string[] {
    const out: string[] = [];
    if (addr === 0n) return out;
    for (let i = 0; ; i++) {
      if (i >= maxCount) fail(Errno.E2BIG, 'too many arguments');
      const p = this.readU64(addr + BigInt(i * 8));
      if (p === 0n) return out;
      out.push(this.readCString(p, 128 * 1024));
    }
  }
}

// A task for exercising file syscall handlers without a real process: its TaskMemory is a Buffer standing in for
// the address space (a legitimate test double of memory: the same read/write/EFAULT contract over plain bytes),
// its Blocker waits on the real readiness callbacks, and its fd table and fs context are the real VFS objects.
// Used by the syscall tests and by other areas' tests that need an FsSyscallContext.
import type { Blocker, Credentials, TaskMemory } from '../kernel/context.js';
import { Errno, fail, SyscallError } from '../kernel/syscall_error.js';
import { FdTable } from '../vfs/fd_table.js';
import { FsContext } from '../vfs/fs_context.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import type { MountNamespace } from '../vfs/mount.js';
import type { SyscallArgs, SyscallHandler } from './types.js';

export class BufferMemory implements TaskMemory {
  readonly bytes: Buffer;
  constructor(
    readonly base: bigint,
    size: number,
  ) {
    this.bytes = Buffer.alloc(size);
  }
  private off(addr: bigint, length: number): number {
    const o = addr - this.base;
    if (o < 0n || o + BigInt(length) > BigInt(this.bytes.length)) fail(Errno.EFAULT);
    return Number(o);
  }
  read(addr: bigint, length: number): Buffer {
    const o = this.off(addr, length);
    return Buffer.from(this.bytes.subarray(o, o + length));
  }
  write(addr: bigint, data: Uint8Array): void {
    this.bytes.set(data, this.off(addr, data.length));
  }
  readCString(addr: bigint, max = 4096): string {
    const o = this.off(addr, 1);
    const end = this.bytes.indexOf(0, o);
    if (end < 0) fail(Errno.EFAULT);
    if (end - o >= max) fail(Errno.ENAMETOOLONG);
    return this.bytes.toString('utf8', o, end);
  }
  readIovecs(addr: bigint, count: number): Array<{ base: bigint; length: number }> {
    if (count < 0 || count > 1024) fail(Errno.EINVAL);
    const raw = this.read(addr, count * 16);
    return Array.from({ length: count }, (_, i) => ({
      base: raw.readBigUInt64LE(i * 16),
      length: Number(raw.readBigUInt64LE(i * 16 + 8)),
    }));
  }
  readU32(addr: bigint): number {
    return this.read(addr, 4).readUInt32LE(0);
  }
  readU64(addr: bigint): bigint {
    return this.read(addr, 8).readBigUInt64LE(0);
  }
  writeU32(addr: bigint, value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    this.write(addr, b);
  }
  writeU64(addr: bigint, value: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(value);
    this.write(addr, b);
  }
}

/** Waits on readiness callbacks; `interrupt()` ends every pending wait with ERESTARTSYS like a signal would. */
export class TestBlocker implements Blocker {
  private readonly interrupts = new Set<() => void>();
  wait(ready: () => boolean, subscribe: (wake: () => void) => () => void, timeoutMs?: number): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error) => {
        unsubscribe();
        if (timer) clearTimeout(timer);
        this.interrupts.delete(onSignal);
        if (err) reject(err);
        else resolve();
      };
      const onSignal = () => done(new SyscallError(Errno.ERESTARTSYS));
      const unsubscribe = subscribe(() => {
        if (ready()) done();
      });
      this.interrupts.add(onSignal);
      if (timeoutMs !== undefined) timer = setTimeout(() => done(), timeoutMs);
    });
  }
  interrupt(): void {
    for (const i of [...this.interrupts]) i();
  }
}

export interface TestTask extends FsSyscallContext {
  readonly memory: BufferMemory;
  readonly blocker: TestBlocker;
  readonly signals: number[];
  /** Bump allocator over the memory: copies `data` in and returns its address. */
  put(data: Buffer | string): bigint;
  alloc(size: number): bigint;
  /** Runs a handler like the dispatcher: the result, or -errno. */
  call(handler: SyscallHandler<FsSyscallContext> | undefined, ...args: Array<bigint | number>): Promise<number>;
}

export function makeTestTask(mounts: MountNamespace, creds?: Partial<Credentials>): TestTask {
  const memory = new BufferMemory(0x10000n, 4 << 20);
  let brk = memory.base;
  const signals: number[] = [];
  const fsContext = new FsContext(mounts, mounts.rootLocation, mounts.rootLocation);
  const task: TestTask = {
    tid: 1,
    pid: 1,
    memory,
    creds: { uid: 0, gid: 0, euid: 0, egid: 0, groups: [], ...creds },
    blocker: new TestBlocker(),
    fdTable: new FdTable(),
    fsContext,
    signals,
    sendSignalToSelf: (signo) => signals.push(signo),
    alloc(size) {
      const addr = brk;
      brk += BigInt((size + 15) & ~15);
      return addr;
    },
    put(data) {
      const b = typeof data === 'string' ? Buffer.from(data + '\0') : data;
      const addr = task.alloc(b.length);
      memory.write(addr, b);
      return addr;
    },
    async call(handler, ...args) {
      if (!handler) throw new Error('no such handler');
      const a = [...args.map((v) => BigInt.asUintN(64, BigInt(v)))];
      while (a.length < 6) a.push(0n);
      try {
        return Number(await handler(task, a as unknown as SyscallArgs));
      } catch (e) {
        if (e instanceof SyscallError) return -e.errno;
        throw e;
      }
    },
  };
  return task;
}

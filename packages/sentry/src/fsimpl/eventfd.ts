// eventfd(2): a 64-bit counter as a file. write adds to it; read returns it and resets it to 0 (or, with
// EFD_SEMAPHORE, returns 1 and decrements). Reads at 0 and writes that would pass 0xfffffffffffffffe say EAGAIN;
// the syscall layer blocks on readiness as for pipes.
import { Errno, fail } from '../kernel/syscall_error.js';
import { anonInodeStat } from '../vfs/anon.js';
import { POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../vfs/constants.js';
import type { FileDescriptionImpl, IoctlRequest, Stat } from '../vfs/filesystem.js';
import { allocateDev } from '../vfs/mount.js';
import { nowNs } from './tmpfs.js';

const MAX = 0xfffffffffffffffen;
const anonDev = allocateDev();
let nextIno = 1n;

export class EventFd implements FileDescriptionImpl {
  readonly seekable = false;
  private counter: bigint;
  private readonly waiters = new Set<() => void>();
  private readonly ino = nextIno++;
  private readonly created = nowNs();

  constructor(
    initial: number,
    private readonly semaphore: boolean,
  ) {
    this.counter = BigInt(initial >>> 0);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  async read(length: number): Promise<Buffer> {
    if (length < 8) fail(Errno.EINVAL, 'eventfd reads need 8 bytes');
    if (this.counter === 0n) fail(Errno.EAGAIN);
    const value = this.semaphore ? 1n : this.counter;
    this.counter -= value;
    this.notify();
    const out = Buffer.alloc(8);
    out.writeBigUInt64LE(value);
    return out;
  }

  async write(data: Buffer): Promise<number> {
    if (data.length < 8) fail(Errno.EINVAL, 'eventfd writes need 8 bytes');
    const v = data.readBigUInt64LE(0);
    if (v === 0xffffffffffffffffn) fail(Errno.EINVAL);
    if (this.counter + v > MAX) fail(Errno.EAGAIN);
    this.counter += v;
    if (v > 0n) this.notify();
    return 8;
  }

  readiness(): number {
    let r = 0;
    if (this.counter > 0n) r |= POLLIN | POLLRDNORM;
    if (this.counter < MAX) r |= POLLOUT | POLLWRNORM;
    if (this.counter === 0xffffffffffffffffn) r |= POLLERR;
    return r;
  }

  subscribe(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  async ioctl(_req: IoctlRequest): Promise<number> {
    fail(Errno.ENOTTY);
  }

  async stat(): Promise<Stat> {
    return anonInodeStat(anonDev, this.ino, this.created);
  }
}

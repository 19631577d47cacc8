// Pipes and FIFOs (pipe(7)): a 64 KiB buffer between a read end and a write end. Reads and writes never block
// here; they throw EAGAIN and report readiness so the syscall layer waits through the task's Blocker (or returns
// EAGAIN for O_NONBLOCK). A write with no reader left throws EPIPE; the syscall layer also sends SIGPIPE.
// Writes of at most PIPE_BUF bytes are atomic: they wait until all of them fit.
import type { Blocker } from '../kernel/context.js';
import { Errno, fail } from '../kernel/syscall_error.js';
import {
  O_ACCMODE,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
  S_IFIFO,
} from '../vfs/constants.js';
import type { FileDescriptionImpl, FsNode, IoctlRequest, Stat } from '../vfs/filesystem.js';
import { allocateDev } from '../vfs/mount.js';
import { nowNs } from './tmpfs.js';

export const PIPE_BUF = 4096;
export const DEFAULT_PIPE_CAPACITY = 64 * 1024;
const FIONREAD = 0x541b;

const pipefsDev = allocateDev();
let nextPipeIno = 1n;

export class Pipe {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  readers = 0;
  writers = 0;
  /** Opens of each end ever made (a FIFO open waits for the other end's count to move, fifo(7)). */
  readOpens = 0;
  writeOpens = 0;
  private readonly waiters = new Set<() => void>();
  readonly ino = nextPipeIno++;
  private readonly createdNs = nowNs();

  constructor(
    readonly capacity = DEFAULT_PIPE_CAPACITY,
    /** Owner of the pipe's inode (the creating task's ids, as fstat shows them). */
    readonly owner: { uid: number; gid: number } = { uid: 0, gid: 0 },
  ) {}

  get size(): number {
    return this.buffered;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  subscribe(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  /** Up to `length` bytes; empty at end of file (no writers left); EAGAIN while writers may still write. */
  read(length: number): Buffer {
    if (length === 0) return Buffer.alloc(0);
    if (this.buffered === 0) {
      if (this.writers === 0) return Buffer.alloc(0);
      fail(Errno.EAGAIN);
    }
    const out: Buffer[] = [];
    let want = Math.min(length, this.buffered);
    while (want > 0) {
      const head = this.chunks[0]!;
      if (head.length <= want) {
        out.push(head);
        this.chunks.shift();
        want -= head.length;
        this.buffered -= head.length;
      } else {
        out.push(head.subarray(0, want));
        this.chunks[0] = head.subarray(want);
        this.buffered -= want;
        want = 0;
      }
    }
    this.notify();
    return out.length === 1 ? Buffer.from(out[0]!) : Buffer.concat(out);
  }

  /** Writes what fits (all of it, or nothing, for writes of at most PIPE_BUF); EAGAIN if nothing can go in. */
  write(data: Buffer): number {
    if (this.readers === 0) fail(Errno.EPIPE);
    if (data.length === 0) return 0;
    const space = this.capacity - this.buffered;
    if (space === 0 || (data.length <= PIPE_BUF && space < data.length)) fail(Errno.EAGAIN);
    const n = Math.min(space, data.length);
    this.chunks.push(Buffer.from(data.subarray(0, n)));
    this.buffered += n;
    this.notify();
    return n;
  }

  readReadiness(): number {
    let r = 0;
    if (this.buffered > 0) r |= POLLIN | POLLRDNORM;
    if (this.writers === 0) r |= POLLHUP;
    return r;
  }

  writeReadiness(): number {
    if (this.readers === 0) return POLLERR | POLLOUT;
    return this.capacity - this.buffered >= PIPE_BUF ? POLLOUT | POLLWRNORM : 0;
  }

  stat(): Stat {
    return {
      dev: pipefsDev,
      ino: this.ino,
      mode: S_IFIFO | 0o600,
      nlink: 1,
      uid: this.owner.uid,
      gid: this.owner.gid,
      rdev: 0,
      size: 0n,
      blksize: 4096,
      blocks: 0n,
      atimeNs: this.createdNs,
      mtimeNs: this.createdNs,
      ctimeNs: this.createdNs,
    };
  }

  private ioctl = async (req: IoctlRequest): Promise<number> => {
    if (req.request === FIONREAD) {
      req.memory.writeU32(req.arg, this.buffered);
      return 0;
    }
    fail(Errno.ENOTTY);
  };

  /** An open end: `read` and/or `write` side (a FIFO opened O_RDWR holds both). */
  open(read: boolean, write: boolean, stat?: () => Promise<Stat>): FileDescriptionImpl {
    if (read) {
      this.readers++;
      this.readOpens++;
    }
    if (write) {
      this.writers++;
      this.writeOpens++;
    }
    this.notify();
    let released = false;
    return {
      seekable: false,
      read: read ? async (length) => this.read(length) : undefined,
      write: write ? async (data) => this.write(data) : undefined,
      stat: stat ?? (async () => this.stat()),
      ioctl: this.ioctl,
      readiness: () => (read ? this.readReadiness() : 0) | (write ? this.writeReadiness() : 0),
      subscribe: (wake) => this.subscribe(wake),
      reopen: (flags) => {
        const acc = flags & O_ACCMODE;
        return this.open(acc === O_RDONLY || acc === O_RDWR, acc === O_WRONLY || acc === O_RDWR, stat);
      },
      release: () => {
        if (released) return;
        released = true;
        if (read) this.readers--;
        if (write) this.writers--;
        this.notify();
      },
    };
  }
}

const fifos = new WeakMap<FsNode, Pipe>();

/**
 * Opens a FIFO node (fifo(7)): a blocking open for reading waits until a writer opens, one for writing until a
 * reader opens (through `blocker`, so a signal interrupts it); O_RDONLY|O_NONBLOCK succeeds at once;
 * O_WRONLY|O_NONBLOCK without a reader fails with ENXIO; O_RDWR never waits.
 */
export async function openFifo(
  node: FsNode,
  flags: number,
  stat: () => Promise<Stat>,
  blocker?: Blocker,
): Promise<FileDescriptionImpl> {
  let pipe = fifos.get(node);
  if (!pipe) {
    pipe = new Pipe();
    fifos.set(node, pipe);
  }
  const p = pipe;
  const acc = flags & O_ACCMODE;
  const nonblock = (flags & O_NONBLOCK) !== 0;
  if (acc === O_WRONLY && nonblock && p.readers === 0) fail(Errno.ENXIO);
  const impl = p.open(acc === O_RDONLY || acc === O_RDWR, acc === O_WRONLY || acc === O_RDWR, stat);
  if (acc === O_RDWR || nonblock || !blocker) return impl;
  const peerOpens = () => (acc === O_RDONLY ? p.writeOpens : p.readOpens);
  const peers = () => (acc === O_RDONLY ? p.writers : p.readers);
  const before = peerOpens();
  try {
    await blocker.wait(
      () => peers() > 0 || peerOpens() !== before,
      (wake) => p.subscribe(wake),
    );
  } catch (e) {
    impl.release?.();
    throw e;
  }
  return impl;
}
// An open file description (open(2): "the open file description ... records the file offset and the file status
// flags"): shared by every fd dup'ed or inherited from one open, released when the last fd referring to it closes.
// Offsets are kept here, so file systems see only explicit offsets; reads and writes that use the shared offset
// are serialized per description (Linux's f_pos_lock) so concurrent tasks never interleave an offset update.
import { Errno, fail } from '../kernel/syscall_error.js';
import {
  isDir,
  O_ACCMODE,
  O_APPEND,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  POLLIN,
  POLLOUT,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
} from './constants.js';
import type { DirEntry, FileDescriptionImpl, Stat } from './filesystem.js';
import type { VirtualDentry } from './mount.js';

/** Largest file offset (loff_t is signed 64-bit). */
const MAX_OFFSET = (1n << 63n) - 1n;

export class FileDescription {
  /** The shared file offset (lseek(2)). */
  offset = 0n;
  /** Open flags: the access mode and status flags (O_APPEND, O_NONBLOCK, ...), not O_CLOEXEC or creation flags. */
  flags: number;
  private refs = 0;
  private released = false;
  private offsetLock: Promise<unknown> = Promise.resolve();
  /** getdents snapshot: taken at offset 0, indexed by the directory offset. */
  private dirEntries: DirEntry[] | null = null;

  constructor(
    readonly impl: FileDescriptionImpl,
    flags: number,
    /** Where the file was opened; null for files that have no name (pipes, sockets). */
    readonly location: VirtualDentry | null,
    /** For getdents on a directory: lists the entries, "." and ".." included. */
    private readonly listDirectory?: () => Promise<DirEntry[]>,
  ) {
    this.flags = flags;
    if (location) location.dentry.pins++;
  }

  get isPath(): boolean {
    return (this.flags & O_PATH) !== 0;
  }
  get readable(): boolean {
    const acc = this.flags & O_ACCMODE;
    return !this.isPath && (acc === O_RDONLY || acc === O_RDWR);
  }
  get writable(): boolean {
    const acc = this.flags & O_ACCMODE;
    return !this.isPath && (acc === O_WRONLY || acc === O_RDWR);
  }
  get isDirectory(): boolean {
    return this.listDirectory !== undefined;
  }

  incRef(): void {
    this.refs++;
  }

  /** Drops one reference; the last one releases the file (a pipe's writer count, a gofer fid). */
  decRef(): void {
    if (--this.refs > 0 || this.released) return;
    this.released = true;
    if (this.location) this.location.dentry.pins--;
    for (const hook of this.releaseHooks.splice(0)) hook();
    this.impl.release?.();
  }

  private readonly releaseHooks: Array<() => void> = [];

  /** Runs `hook` when the description is released (flock(2) locks die with the open file description). */
  onRelease(hook: () => void): void {
    this.releaseHooks.push(hook);
  }

  get refCount(): number {
    return this.refs;
  }

  async stat(): Promise<Stat> {
    if (this.location) return this.location.dentry.node.stat();
    if (this.impl.stat) return this.impl.stat();
    fail(Errno.EBADF, 'file has no attributes');
  }

  /** Runs `fn` with the offset lock held. */
  private withOffset<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.offsetLock.then(fn, fn);
    this.offsetLock = run.catch(() => undefined);
    return run;
  }

  private checkReadable(): void {
    if (!this.readable) fail(Errno.EBADF, 'not open for reading');
    if (this.isDirectory) fail(Errno.EISDIR);
    if (!this.impl.read) fail(Errno.EINVAL, 'file cannot be read');
  }

  private checkWritable(): void {
    if (!this.writable) fail(Errno.EBADF, 'not open for writing');
    if (!this.impl.write) fail(Errno.EINVAL, 'file cannot be written');
  }

  /** read(2) at the shared offset; EAGAIN when nothing is available yet (the caller decides whether to wait). */
  async read(length: number): Promise<Buffer> {
    this.checkReadable();
    if (!this.impl.seekable) return this.impl.read!(length, 0n);
    return this.withOffset(async () => {
      const data = await this.impl.read!(length, this.offset);
      this.offset += BigInt(data.length);
      return data;
    });
  }

  /** pread(2): ESPIPE on unseekable files, EINVAL on a negative offset. */
  async pread(length: number, offset: bigint): Promise<Buffer> {
    this.checkReadable();
    if (!this.impl.seekable) fail(Errno.ESPIPE);
    if (offset < 0n) fail(Errno.EINVAL, 'negative offset');
    return this.impl.read!(length, offset);
  }

  async write(data: Buffer): Promise<number> {
    this.checkWritable();
    const append = (this.flags & O_APPEND) !== 0;
    if (!this.impl.seekable) return this.impl.write!(data, 0n, append);
    return this.withOffset(async () => {
      if (append) this.offset = this.impl.size ? await this.impl.size() : this.offset;
      if (this.offset + BigInt(data.length) > MAX_OFFSET) fail(Errno.EFBIG);
      const n = await this.impl.write!(data, this.offset, append);
      this.offset += BigInt(n);
      return n;
    });
  }

  /** pwrite(2); as on Linux, O_APPEND makes it append regardless of the offset (pwrite(2) BUGS). */
  async pwrite(data: Buffer, offset: bigint): Promise<number> {
    this.checkWritable();
    if (!this.impl.seekable) fail(Errno.ESPIPE);
    if (offset < 0n) fail(Errno.EINVAL, 'negative offset');
    if (offset + BigInt(data.length) > MAX_OFFSET) fail(Errno.EFBIG);
    return this.impl.write!(data, offset, (this.flags & O_APPEND) !== 0);
  }

  /** lseek(2). Directories accept only rewinding or positions previously reached. */
  async lseek(offset: bigint, whence: number): Promise<bigint> {
    if (this.isPath) fail(Errno.EBADF);
    if (!this.impl.seekable) fail(Errno.ESPIPE);
    return this.withOffset(async () => {
      let base: bigint;
      switch (whence) {
        case SEEK_SET:
          base = 0n;
          break;
        case SEEK_CUR:
          base = this.offset;
          break;
        case SEEK_END:
        case SEEK_DATA:
        case SEEK_HOLE: {
          const size = this.impl.size ? await this.impl.size() : (await this.stat()).size;
          if (whence === SEEK_END) {
            base = size;
            break;
          }
          // Without sparse-file tracking the whole file is data and the only hole is at the end (lseek(2)).
          if (offset < 0n || offset >= size) fail(Errno.ENXIO);
          const pos = whence === SEEK_DATA ? offset : size;
          this.offset = pos;
          return pos;
        }
        default:
          fail(Errno.EINVAL, `whence ${whence}`);
      }
      const pos = base + offset;
      if (pos < 0n || pos > MAX_OFFSET) fail(Errno.EINVAL, 'resulting offset out of range');
      if (this.isDirectory && pos === 0n) this.dirEntries = null;
      this.offset = pos;
      return pos;
    });
  }

  /**
   * The next directory entries from the current offset, as many as `fits` accepts (getdents64 packs them into the
   * caller's buffer). The listing is taken once at offset 0, so entries added or removed mid-listing do not make
   * a reader see a name twice.
   */
  async readdir(fits: (e: DirEntry, nextOffset: bigint) => boolean): Promise<number> {
    if (!this.listDirectory) fail(Errno.ENOTDIR);
    if (this.isPath) fail(Errno.EBADF);
    return this.withOffset(async () => {
      if (!this.dirEntries || this.offset === 0n) this.dirEntries = await this.listDirectory!();
      let n = 0;
      while (this.offset < BigInt(this.dirEntries.length)) {
        const e = this.dirEntries[Number(this.offset)]!;
        if (!fits(e, this.offset + 1n)) break;
        this.offset++;
        n++;
      }
      return n;
    });
  }

  /** poll(2) readiness; files without readiness tracking are always readable and writable. */
  readiness(): number {
    if (this.impl.readiness) return this.impl.readiness();
    return POLLIN | POLLOUT;
  }

  subscribe(wake: () => void): () => void {
    return this.impl.subscribe ? this.impl.subscribe(wake) : () => {};
  }

  async isDirLocation(): Promise<boolean> {
    return this.location !== null && isDir((await this.location.dentry.node.stat()).mode);
  }
}

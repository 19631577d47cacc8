// Files backed by one of the sentry's own host fds: the container's stdin/stdout/stderr (fds 0-2 that runsc hands
// the sentry). I/O goes through libuv's thread pool (fs.read/fs.write), so a slow terminal or a full pipe never
// stalls the event loop that serves other tasks. Reads run one chunk ahead: a background read fills a buffer and
// readiness reports POLLIN when it holds data or the host side reached end of file.
// Partial: TCGETS/TCSETS on a host terminal answer ENOTTY (no termios access without a native ioctl), so
// applications treat the terminal as a plain stream; TIOCGWINSZ works when a size source is given.
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { Errno, fail } from '../kernel/syscall_error.js';
import { POLLHUP, POLLIN, POLLOUT, S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK } from '../vfs/constants.js';
import type { FileDescriptionImpl, IoctlRequest, Stat } from '../vfs/filesystem.js';
import { allocateDev } from '../vfs/mount.js';

const TIOCGWINSZ = 0x5413;
const READ_CHUNK = 64 * 1024;
const hostDev = allocateDev();

export interface HostFileOptions {
  /**
   * Terminal size for TIOCGWINSZ. Default: when the host fd is one of the sentry's fds 0-2 and a terminal, Node's
   * stream for it; otherwise TIOCGWINSZ is ENOTTY.
   */
  windowSize?: () => [columns: number, rows: number];
}

function errnoFromNode(e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  return code && code in Errno ? Errno[code as keyof typeof Errno] : Errno.EIO;
}

export class HostFile implements FileDescriptionImpl {
  readonly seekable = false;
  private readonly chunks: Buffer[] = [];
  private eof = false;
  private readError: number | null = null;
  private reading = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly hostFd: number,
    private readonly opts: HostFileOptions = {},
  ) {}

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Starts one background read if none is running and nothing is buffered. */
  private pump(): void {
    if (this.reading || this.eof || this.readError !== null || this.chunks.length > 0) return;
    this.reading = true;
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    fs.read(this.hostFd, buf, 0, READ_CHUNK, null, (err, n) => {
      this.reading = false;
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') setTimeout(() => this.pump(), 10);
        else this.readError = errnoFromNode(err);
      } else if (n === 0) this.eof = true;
      else this.chunks.push(buf.subarray(0, n));
      this.notify();
    });
  }

  async read(length: number): Promise<Buffer> {
    if (this.chunks.length === 0) {
      if (this.readError !== null) fail(this.readError);
      if (this.eof) return Buffer.alloc(0);
      this.pump();
      fail(Errno.EAGAIN);
    }
    const head = this.chunks[0]!;
    if (head.length <= length) {
      this.chunks.shift();
      return head;
    }
    this.chunks[0] = head.subarray(length);
    return head.subarray(0, length);
  }

  async write(data: Buffer): Promise<number> {
    const n = await new Promise<number | NodeJS.ErrnoException>((resolve) => {
      fs.write(this.hostFd, data, 0, data.length, null, (err, written) => resolve(err ?? written));
    });
    if (typeof n !== 'number') fail(errnoFromNode(n), n.message);
    return n;
  }

  /** Reopening the container's stdio (/dev/stdin) shares this host fd and its read-ahead buffer. */
  reopen(): FileDescriptionImpl {
    return this;
  }

  readiness(): number {
    this.pump();
    let r = POLLOUT;
    if (this.chunks.length > 0 || this.readError !== null) r |= POLLIN;
    if (this.eof) r |= POLLIN | POLLHUP;
    return r;
  }

  subscribe(wake: () => void): () => void {
    this.waiters.add(wake);
    this.pump();
    return () => this.waiters.delete(wake);
  }

  async stat(): Promise<Stat> {
    const st = fs.fstatSync(this.hostFd, { bigint: true });
    const type = Number(st.mode) & S_IFMT;
    const shownType = [S_IFCHR, S_IFIFO, S_IFREG, S_IFSOCK].includes(type) ? type : S_IFIFO;
    return {
      dev: hostDev,
      ino: BigInt(this.hostFd + 1),
      mode: shownType | 0o620,
      nlink: 1,
      uid: 0,
      gid: 0,
      rdev: shownType === S_IFCHR ? Number(st.rdev) : 0,
      size: shownType === S_IFREG ? st.size : 0n,
      blksize: 1024,
      blocks: 0n,
      atimeNs: st.atimeNs,
      mtimeNs: st.mtimeNs,
      ctimeNs: st.ctimeNs,
    };
  }

  /** The terminal size source: the given one, or Node's own stdio stream when this is the sentry's tty fd 0-2. */
  private windowSize(): (() => [number, number]) | undefined {
    if (this.opts.windowSize) return this.opts.windowSize;
    if (this.hostFd > 2 || !tty.isatty(this.hostFd)) return undefined;
    const stream = [process.stdout, process.stdout, process.stderr][this.hostFd] as { getWindowSize?: () => [number, number] };
    return stream.getWindowSize ? () => stream.getWindowSize!() : undefined;
  }

  async ioctl(req: IoctlRequest): Promise<number> {
    const size = req.request === TIOCGWINSZ ? this.windowSize() : undefined;
    if (size) {
      const [cols, rows] = size();
      const b = Buffer.alloc(8);
      b.writeUInt16LE(rows, 0);
      b.writeUInt16LE(cols, 2);
      req.memory.write(req.arg, b);
      return 0;
    }
    fail(Errno.ENOTTY);
  }
}

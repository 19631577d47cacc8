// 9P2000.L wire constants and the little-endian byte reader/writer the codec is built on.
// Numbers and layouts follow the diod protocol description (chaos/diod protocol.md) and Linux
// include/net/9p/9p.h: every integer is little-endian, a string is len[2] + UTF-8 bytes (no NUL),
// a qid is type[1] version[4] path[8].
import os from 'node:os';

/** The only protocol version this package speaks. */
export const VERSION_9P2000L = '9P2000.L';
/** Tag used by Tversion (version(5): "the tag should be NOTAG"). */
export const NOTAG = 0xffff;
/** "No fid" (afid in Tattach when there is no authentication). */
export const NOFID = 0xffffffff;
/** Header size: size[4] type[1] tag[2]. */
export const HEADER_SIZE = 7;
/** Bytes of a Rread ahead of its data: header + count[4]. A read's count is capped at msize - this. */
export const RREAD_OVERHEAD = HEADER_SIZE + 4;
/** Bytes of a Twrite ahead of its data: header + fid[4] offset[8] count[4]. */
export const TWRITE_OVERHEAD = HEADER_SIZE + 4 + 8 + 4;
/** Bytes of a Rreaddir ahead of its entries: header + count[4]. */
export const RREADDIR_OVERHEAD = HEADER_SIZE + 4;
/** Plan 9 IOHDRSZ: the client keeps every read/write/readdir count within msize - 24 (open(5): "iounit 0 means
 * msize - IOHDRSZ"); diod rejects readdir counts above that, so this is the interoperable limit. */
export const IOHDRSZ = 24;
/** Linux and Plan 9 cap a single Twalk at 16 names (MAXWELEM). */
export const MAXWELEM = 16;
/** Smallest msize we accept: enough for a Rgetattr (the largest fixed-size reply) and some data. */
export const MIN_MSIZE = 4096;
/** Default msize the client proposes and the server caps at (Linux v9fs uses 512 KiB for virtio/fd). */
export const DEFAULT_MSIZE = 512 * 1024;

/** Qid type bits (the high byte of the Plan 9 mode word). */
export const QidType = {
  DIR: 0x80,
  APPEND: 0x40,
  EXCL: 0x20,
  MOUNT: 0x10,
  AUTH: 0x08,
  TMP: 0x04,
  SYMLINK: 0x02,
  LINK: 0x01,
  FILE: 0x00,
} as const;

/** Tgetattr request_mask / Rgetattr valid bits (P9_GETATTR_* in include/net/9p/9p.h). */
export const GetattrMask = {
  MODE: 0x1,
  NLINK: 0x2,
  UID: 0x4,
  GID: 0x8,
  RDEV: 0x10,
  ATIME: 0x20,
  MTIME: 0x40,
  CTIME: 0x80,
  INO: 0x100,
  SIZE: 0x200,
  BLOCKS: 0x400,
  BTIME: 0x800,
  GEN: 0x1000,
  DATA_VERSION: 0x2000,
  /** Everything struct stat has. */
  BASIC: 0x7ff,
  ALL: 0x3fff,
} as const;

/** Tsetattr valid bits (P9_ATTR_* in include/net/9p/9p.h, mirroring the kernel's ATTR_* for notify_change). */
export const SetattrMask = {
  MODE: 0x1,
  UID: 0x2,
  GID: 0x4,
  SIZE: 0x8,
  ATIME: 0x10,
  MTIME: 0x20,
  CTIME: 0x40,
  /** atime is the given time (else "now"). */
  ATIME_SET: 0x80,
  /** mtime is the given time (else "now"). */
  MTIME_SET: 0x100,
} as const;

/** Tlopen/Tlcreate flags: the Linux open(2) values on x86_64 (P9_DOTL_* equal them on this architecture). */
export const OpenFlags = {
  RDONLY: 0o0,
  WRONLY: 0o1,
  RDWR: 0o2,
  ACCMODE: 0o3,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DSYNC: 0o10000,
  DIRECT: 0o40000,
  LARGEFILE: 0o100000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  NOATIME: 0o1000000,
  CLOEXEC: 0o2000000,
  SYNC: 0o4010000,
} as const;

/** Tunlinkat flags: AT_REMOVEDIR as in unlinkat(2). */
export const AT_REMOVEDIR = 0x200;

/** The Linux errno numbers this package itself produces (the rest pass through as numbers). */
export const P9Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EPROTO: 71,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  ENOTCONN: 107,
} as const;

const errnoNames: Map<number, string> = new Map(
  Object.entries(os.constants.errno).map(([name, num]) => [num, name] as [number, string]),
);

/** Name of a Linux errno number ("ENOENT"), or "E<number>" if unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/**
 * A 9P error: an Rlerror from the peer, or a local failure expressed as a Linux errno
 * (EIO when the connection is lost). `errno` is the positive Linux errno number.
 */
export class P9Error extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(errno: number, message?: string) {
    const code = errnoName(errno);
    super(message ? `${code}: ${message}` : code);
    this.name = 'P9Error';
    this.errno = errno;
    this.code = code;
  }
}

/** A frame that does not decode (short, inconsistent size, unknown type, field past the end, ...). */
export class P9DecodeError extends Error {
  /** The frame's tag when the header was readable, so a server can answer Rlerror(EINVAL) on it. */
  readonly tag: number | undefined;
  constructor(message: string, tag?: number) {
    super(message);
    this.name = 'P9DecodeError';
    this.tag = tag;
  }
}

/** A file identity: type[1] version[4] path[8]. */
export interface Qid {
  type: number;
  version: number;
  path: bigint;
}

/** Reads little-endian fields from one frame, failing with P9DecodeError instead of reading past its end. */
export class WireReader {
  private pos: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly tag: number | undefined,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.buf.length - this.pos < n) {
      throw new P9DecodeError(`${what} runs past the end of the frame`, this.tag);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A u64 that the API carries as a number (sizes, offsets, times): values above 2^53-1 are rejected, not rounded. */
  u64n(what = 'u64'): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new P9DecodeError(`${what} ${v} is larger than this implementation supports (2^53-1)`, this.tag);
    }
    return Number(v);
  }

  str(what = 'string'): string {
    const len = this.u16(`${what} length`);
    this.need(len, what);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  bytes(len: number, what = 'data'): Buffer {
    this.need(len, what);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  qid(what = 'qid'): Qid {
    this.need(13, what);
    const type = this.u8();
    const version = this.u32();
    const path = this.u64();
    return { type, version, path };
  }

  /** Every field must be consumed: trailing bytes mean the sender and we disagree on the layout. */
  end(type: string): void {
    if (this.pos !== this.buf.length) {
      throw new P9DecodeError(`${type}: ${this.buf.length - this.pos} unexpected trailing bytes`, this.tag);
    }
  }
}

/** Appends little-endian fields to a growing buffer; validates ranges so a bad value fails at encode time. */
export class WireWriter {
  private buf: Buffer;
  private pos = 0;
  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private checkInt(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`9P encode: ${what} ${v} out of range`);
  }

  u8(v: number, what = 'u8'): this {
    this.checkInt(v, 0xff, what);
    this.reserve(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number, what = 'u16'): this {
    this.checkInt(v, 0xffff, what);
    this.reserve(2);
    this.buf.writeUInt16LE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number, what = 'u32'): this {
    this.checkInt(v, 0xffffffff, what);
    this.reserve(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: bigint | number, what = 'u64'): this {
    const b = typeof v === 'bigint' ? v : Number.isInteger(v) && v >= 0 ? BigInt(v) : -1n;
    if (b < 0n || b > 0xffffffffffffffffn) throw new RangeError(`9P encode: ${what} ${v} out of range`);
    this.reserve(8);
    this.buf.writeBigUInt64LE(b, this.pos);
    this.pos += 8;
    return this;
  }

  str(s: string, what = 'string'): this {
    const len = Buffer.byteLength(s, 'utf8');
    if (len > 0xffff) throw new RangeError(`9P encode: ${what} is ${len} bytes, more than 65535`);
    this.u16(len);
    this.reserve(len);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += len;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  qid(q: Qid): this {
    return this.u8(q.type, 'qid.type').u32(q.version, 'qid.version').u64(q.path, 'qid.path');
  }

  get length(): number {
    return this.pos;
  }

  /** Overwrite a u32 already written (the frame's size field). */
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

// tmpfs: a file system that lives only in the sentry's memory (tmpfs(5)). Regular files keep their bytes in
// fixed-size chunks, so sparse files and truncation cost only what is written. Also the upper layer of the
// root overlay and the backing store of devfs.
import os from 'node:os';
import { Errno, fail } from '../kernel/syscall_error.js';
import {
  modeToDirentType,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from '../vfs/constants.js';
import type {
  DirEntry,
  FileDescriptionImpl,
  FilesystemImpl,
  FsNode,
  NewNodeAttr,
  SetAttr,
  Stat,
  StatFs,
} from '../vfs/filesystem.js';

const CHUNK = 64 * 1024;
const TMPFS_MAGIC = 0x01021994n;
/** Largest tmpfs file (Linux's MAX_LFS_FILESIZE is far larger; we bound what one sandbox can pin in memory). */
const MAX_FILE_SIZE = 1n << 40n;

/** setxattr(2) flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/**
 * File data held by every tmpfs in this sentry (the root overlay's upper layer, tmpfs mounts, memfds, devfs): all
 * of it is sentry heap, so one shared budget bounds what the application can pin, however many mounts it writes
 * to. Half of physical memory, the default size of a Linux tmpfs (tmpfs(5), "size").
 */
export const sentryTmpfsMemory = { used: 0, limit: Math.floor(os.totalmem() / 2) };

/** Bytes an extended attribute is charged: its name and value. */
function xattrCost(name: string, value: Buffer): number {
  return Buffer.byteLength(name) + value.length;
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export interface TmpfsOptions {
  /** Mode of the root directory (default 01777 like a fresh tmpfs mount). */
  mode?: number;
  uid?: number;
  gid?: number;
  readonly?: boolean;
  /** Total bytes of file data allowed (ENOSPC past it); default: the sentry-wide budget only (sentryTmpfsMemory). */
  sizeLimit?: number;
}

export class Tmpfs implements FilesystemImpl {
  readonly type: string = 'tmpfs';
  dev = 0;
  readonly readonly: boolean;
  private nextIno = 1n;
  /** Bytes held by all files' chunks. */
  usedBytes = 0;
  readonly sizeLimit: number;
  private readonly rootDir: TmpfsDir;

  constructor(opts: TmpfsOptions = {}) {
    this.readonly = opts.readonly ?? false;
    this.sizeLimit = opts.sizeLimit ?? Number.MAX_SAFE_INTEGER;
    this.rootDir = new TmpfsDir(this, { mode: opts.mode ?? 0o1777, uid: opts.uid ?? 0, gid: opts.gid ?? 0 }, null);
  }

  allocIno(): bigint {
    return this.nextIno++;
  }

  root(): TmpfsDir {
    return this.rootDir;
  }

  async statfs(): Promise<StatFs> {
    const bsize = 4096n;
    const total = BigInt(Math.min(this.sizeLimit, 1 << 30)) / bsize;
    const used = BigInt(Math.ceil(this.usedBytes / 4096));
    const free = total > used ? total - used : 0n;
    return {
      type: TMPFS_MAGIC,
      bsize,
      blocks: total,
      bfree: free,
      bavail: free,
      files: 1n << 20n,
      ffree: (1n << 20n) - this.nextIno,
      namelen: 255n,
      frsize: bsize,
      flags: 0n,
    };
  }
}

export abstract class TmpfsNode implements FsNode {
  readonly ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink = 1;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  rdev = 0;

  constructor(
    readonly fs: Tmpfs,
    type: number,
    attr: NewNodeAttr,
  ) {
    this.ino = fs.allocIno();
    this.mode = type | (attr.mode & 0o7777);
    this.uid = attr.uid;
    this.gid = attr.gid;
    this.atimeNs = this.mtimeNs = this.ctimeNs = nowNs();
  }

  protected sizeBytes(): bigint {
    return 0n;
  }

  /** Bytes of memory holding the node's data, for st_blocks (stat(2): "number of 512B blocks allocated"). */
  protected allocatedBytes(): bigint {
    return (this.sizeBytes() + 4095n) & ~4095n;
  }

  async stat(): Promise<Stat> {
    const size = this.sizeBytes();
    return {
      dev: this.fs.dev,
      ino: this.ino,
      mode: this.mode,
      nlink: this.nlink,
      uid: this.uid,
      gid: this.gid,
      rdev: this.rdev,
      size,
      blksize: 4096,
      blocks: this.allocatedBytes() / 512n,
      atimeNs: this.atimeNs,
      mtimeNs: this.mtimeNs,
      ctimeNs: this.ctimeNs,
    };
  }

  async setattr(attr: SetAttr): Promise<void> {
    if (this.fs.readonly) fail(Errno.EROFS);
    if (attr.size !== undefined) this.truncate(attr.size);
    if (attr.mode !== undefined) this.mode = (this.mode & S_IFMT) | (attr.mode & 0o7777);
    if (attr.uid !== undefined) this.uid = attr.uid;
    if (attr.gid !== undefined) this.gid = attr.gid;
    if (attr.atimeNs !== undefined) this.atimeNs = attr.atimeNs;
    if (attr.mtimeNs !== undefined) this.mtimeNs = attr.mtimeNs;
    this.ctimeNs = nowNs();
  }

  protected truncate(_size: bigint): void {
    fail(Errno.EINVAL, 'not a regular file');
  }

  /** Extended attributes (xattr(7)); namespace and permission rules are checked by the VFS. */
  private xattrs: Map<string, Buffer> | null = null;

  async getxattr(name: string): Promise<Buffer> {
    const v = this.xattrs?.get(name);
    if (!v) fail(Errno.ENODATA, name);
    return v;
  }

  async setxattr(name: string, value: Buffer, flags: number): Promise<void> {
    if (this.fs.readonly) fail(Errno.EROFS);
    const exists = this.xattrs?.has(name) ?? false;
    if (flags & XATTR_CREATE && exists) fail(Errno.EEXIST, name);
    if (flags & XATTR_REPLACE && !exists) fail(Errno.ENODATA, name);
    // Each value is at most XATTR_SIZE_MAX, but their number is not: the bytes are charged to the sentry-wide
    // tmpfs budget, ENOSPC past it as Linux tmpfs answers when its xattr space is used up.
    const old = this.xattrs?.get(name);
    const delta = xattrCost(name, value) - (old ? xattrCost(name, old) : 0);
    if (delta > 0 && sentryTmpfsMemory.used + delta > sentryTmpfsMemory.limit) fail(Errno.ENOSPC, 'xattr space');
    (this.xattrs ??= new Map()).set(name, Buffer.from(value));
    sentryTmpfsMemory.used += delta;
    this.touchChange();
  }

  async listxattr(): Promise<string[]> {
    return [...(this.xattrs?.keys() ?? [])];
  }

  async removexattr(name: string): Promise<void> {
    if (this.fs.readonly) fail(Errno.EROFS);
    const v = this.xattrs?.get(name);
    if (!v) fail(Errno.ENODATA, name);
    this.xattrs!.delete(name);
    sentryTmpfsMemory.used -= xattrCost(name, v);
    this.touchChange();
  }

  /** Returns the xattrs' bytes to the budget once the node is gone (last link removed, nothing open). */
  dropXattrs(): void {
    for (const [name, v] of this.xattrs ?? []) sentryTmpfsMemory.used -= xattrCost(name, v);
    this.xattrs = null;
  }

  touchChange(): void {
    this.ctimeNs = nowNs();
  }
}

export class TmpfsDir extends TmpfsNode {
  readonly children = new Map<string, TmpfsNode>();

  constructor(
    fs: Tmpfs,
    attr: NewNodeAttr,
    public parentDir: TmpfsDir | null,
  ) {
    super(fs, S_IFDIR, attr);
    this.nlink = 2;
  }

  protected override truncate(): void {
    fail(Errno.EISDIR);
  }

  async lookup(name: string): Promise<FsNode | null> {
    return this.children.get(name) ?? null;
  }

  async readdir(): Promise<DirEntry[]> {
    return [...this.children].map(([name, n]) => ({ name, ino: n.ino, type: modeToDirentType(n.mode) }));
  }

  private writable(): void {
    if (this.fs.readonly) fail(Errno.EROFS);
  }

  private modified(): void {
    this.mtimeNs = this.ctimeNs = nowNs();
  }

  /** Adds `node` under `name` (EEXIST if taken); used by every creating operation and by devfs/proc setup. */
  insert(name: string, node: TmpfsNode): TmpfsNode {
    if (this.children.has(name)) fail(Errno.EEXIST, name);
    this.children.set(name, node);
    if (node instanceof TmpfsDir) {
      node.parentDir = this;
      this.nlink++;
    }
    this.modified();
    return node;
  }

  async create(name: string, attr: NewNodeAttr): Promise<FsNode> {
    this.writable();
    return this.insert(name, new TmpfsFile(this.fs, attr));
  }

  async mkdir(name: string, attr: NewNodeAttr): Promise<FsNode> {
    this.writable();
    return this.insert(name, new TmpfsDir(this.fs, attr, this));
  }

  async mknod(name: string, type: number, rdev: number, attr: NewNodeAttr): Promise<FsNode> {
    this.writable();
    if (type === S_IFREG) return this.create(name, attr);
    if (type === S_IFDIR) fail(Errno.EINVAL, 'mknod cannot make directories');
    const n = new TmpfsSpecial(this.fs, type, attr);
    n.rdev = rdev;
    return this.insert(name, n);
  }

  async symlink(name: string, target: string, attr: NewNodeAttr): Promise<FsNode> {
    this.writable();
    return this.insert(name, new TmpfsSymlink(this.fs, target, attr));
  }

  async link(name: string, target: FsNode): Promise<void> {
    this.writable();
    if (!(target instanceof TmpfsNode) || target.fs !== this.fs) fail(Errno.EXDEV);
    if (target instanceof TmpfsDir) fail(Errno.EPERM, 'hard links to directories');
    this.insert(name, target);
    target.nlink++;
    target.touchChange();
  }

  async unlink(name: string): Promise<void> {
    this.writable();
    const n = this.children.get(name);
    if (!n) fail(Errno.ENOENT, name);
    if (n instanceof TmpfsDir) fail(Errno.EISDIR, name);
    this.children.delete(name);
    n.nlink--;
    n.touchChange();
    if (n.nlink === 0 && n instanceof TmpfsFile) n.dropDataWhenUnused();
    else if (n.nlink === 0) n.dropXattrs();
    this.modified();
  }

  async rmdir(name: string): Promise<void> {
    this.writable();
    const n = this.children.get(name);
    if (!n) fail(Errno.ENOENT, name);
    if (!(n instanceof TmpfsDir)) fail(Errno.ENOTDIR, name);
    if (n.children.size > 0) fail(Errno.ENOTEMPTY, name);
    this.children.delete(name);
    n.nlink = 0;
    n.parentDir = null;
    n.dropXattrs();
    this.nlink--;
    this.modified();
  }

  async rename(oldName: string, newParent: FsNode, newName: string): Promise<void> {
    this.writable();
    if (!(newParent instanceof TmpfsDir) || newParent.fs !== this.fs) fail(Errno.EXDEV);
    const n = this.children.get(oldName);
    if (!n) fail(Errno.ENOENT, oldName);
    if (newParent === this && oldName === newName) return;
    const replaced = newParent.children.get(newName);
    if (replaced) {
      if (replaced === n) return; // both names are links to one file: rename(2) does nothing.
      if (replaced instanceof TmpfsDir) await newParent.rmdir(newName);
      else await newParent.unlink(newName);
    }
    this.children.delete(oldName);
    if (n instanceof TmpfsDir) this.nlink--;
    this.modified();
    newParent.insert(newName, n);
    n.touchChange();
  }

}

export class TmpfsFile extends TmpfsNode {
  private readonly chunks = new Map<number, Buffer>();
  private size = 0n;
  /** Open descriptions of this file; data of an unlinked file is freed only after the last one closes. */
  openCount = 0;

  constructor(fs: Tmpfs, attr: NewNodeAttr) {
    super(fs, S_IFREG, attr);
  }

  protected override sizeBytes(): bigint {
    return this.size;
  }

  /**
   * Pages of written data, as Linux tmpfs counts them: a file extended by ftruncate or a seek past its end holds
   * no memory for the hole (du(1) of a sparse file is 0). Holes are tracked per 64 KiB chunk here, so the count is
   * the page-rounded size bounded by the chunks actually held.
   */
  protected override allocatedBytes(): bigint {
    const pages = (this.size + 4095n) & ~4095n;
    const held = BigInt(this.chunks.size * CHUNK);
    return pages < held ? pages : held;
  }

  dropDataWhenUnused(): void {
    if (this.nlink !== 0 || this.openCount !== 0) return;
    this.truncate(0n);
    this.dropXattrs();
  }

  protected override truncate(size: bigint): void {
    if (size < 0n) fail(Errno.EINVAL);
    if (size > MAX_FILE_SIZE) fail(Errno.EFBIG);
    if (size < this.size) {
      const keep = Number(size);
      for (const [idx, chunk] of [...this.chunks]) {
        const start = idx * CHUNK;
        if (start >= keep) {
          this.chunks.delete(idx);
          this.fs.usedBytes -= chunk.length;
          sentryTmpfsMemory.used -= chunk.length;
        } else if (start + CHUNK > keep) {
          chunk.fill(0, keep - start);
        }
      }
    }
    this.size = size;
    this.mtimeNs = this.ctimeNs = nowNs();
  }

  readAt(length: number, offset: bigint): Buffer {
    if (offset >= this.size) return Buffer.alloc(0);
    const end = Number(offset + BigInt(length) < this.size ? offset + BigInt(length) : this.size);
    const start = Number(offset);
    const out = Buffer.alloc(end - start);
    for (let pos = start; pos < end; ) {
      const idx = Math.floor(pos / CHUNK);
      const inChunk = pos - idx * CHUNK;
      const n = Math.min(CHUNK - inChunk, end - pos);
      const chunk = this.chunks.get(idx);
      if (chunk) chunk.copy(out, pos - start, inChunk, inChunk + n);
      pos += n;
    }
    this.atimeNs = nowNs();
    return out;
  }

  writeAt(data: Buffer, offset: bigint): number {
    if (this.fs.readonly) fail(Errno.EROFS);
    const endBig = offset + BigInt(data.length);
    if (endBig > MAX_FILE_SIZE) fail(Errno.EFBIG);
    const start = Number(offset);
    const end = Number(endBig);
    for (let pos = start; pos < end; ) {
      const idx = Math.floor(pos / CHUNK);
      const inChunk = pos - idx * CHUNK;
      const n = Math.min(CHUNK - inChunk, end - pos);
      let chunk = this.chunks.get(idx);
      if (!chunk) {
        if (this.fs.usedBytes + CHUNK > this.fs.sizeLimit || sentryTmpfsMemory.used + CHUNK > sentryTmpfsMemory.limit) {
          if (pos === start) fail(Errno.ENOSPC);
          return pos - start; // a short write, as when a disk fills mid-write
        }
        chunk = Buffer.alloc(CHUNK);
        this.chunks.set(idx, chunk);
        this.fs.usedBytes += CHUNK;
        sentryTmpfsMemory.used += CHUNK;
      }
      data.copy(chunk, inChunk, pos - start, pos - start + n);
      pos += n;
      if (BigInt(pos) > this.size) this.size = BigInt(pos);
    }
    this.mtimeNs = this.ctimeNs = nowNs();
    return end - start;
  }

  async open(): Promise<FileDescriptionImpl> {
    this.openCount++;
    let released = false;
    return {
      seekable: true,
      read: async (length, offset) => this.readAt(length, offset),
      write: async (data, offset, append) => this.writeAt(data, append ? this.size : offset),
      size: async () => this.size,
      fsync: async () => {},
      release: () => {
        if (released) return;
        released = true;
        this.openCount--;
        this.dropDataWhenUnused();
      },
    };
  }
}

export class TmpfsSymlink extends TmpfsNode {
  constructor(
    fs: Tmpfs,
    readonly target: string,
    attr: NewNodeAttr,
  ) {
    super(fs, S_IFLNK, { ...attr, mode: 0o777 });
  }

  protected override sizeBytes(): bigint {
    return BigInt(Buffer.byteLength(this.target));
  }

  async readlink(): Promise<string> {
    this.atimeNs = nowNs();
    return this.target;
  }
}

/** Device, fifo and socket nodes: only attributes here; opening goes through the device registry or pipes. */
export class TmpfsSpecial extends TmpfsNode {}



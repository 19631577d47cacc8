// The gofer's file system: a P9FileHandler serving directory trees (one per attach name) from the host.
//
// Confinement has two layers. The kernel one is in confine.ts: the gofer process pivots into a root that contains
// nothing but the trees it serves, so no path it can form, `..` or symlink included, leads to other host files.
// This file adds the protocol one: a fid is an attach root plus a list of components; `..` pops a component and
// never goes above the attach root; walks lstat each component and never follow a symlink, because resolving
// symlinks is the client's job (the sentry reads them with readlink and walks the target inside its own root, as
// Linux v9fs does). Node's fs is path-based, so intermediate components could be swapped for symlinks between a
// walk and a later use; that race cannot escape either, because after pivot_root the kernel resolves every path
// inside the gofer's root, and the served trees are mounted nosymfollow (confine.ts), so the kernel follows no
// symlink at all there. Final components are opened with O_NOFOLLOW. A fid whose name is removed through the gofer
// loses its path (GoferFile.gone), so a symlink later put in its place is never resolved for it.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  AT_REMOVEDIR,
  GetattrMask,
  OpenFlags,
  P9Errno,
  P9Error,
  QidType,
  SetattrMask,
  direntSize,
  type Attr,
  type Dirent,
  type P9FileHandler,
  type P9Logger,
  type Qid,
  type SetattrFields,
  type StatfsFields,
} from '@tsvisor/p9';
import { mknod as mknodNative } from '@tsvisor/native';

/** One tree the gofer serves: the client attaches to it by `aname`. */
export interface GoferRoot {
  /** Attach name: '' (also '/') for the container's root, else the mount destination, e.g. '/data'. */
  aname: string;
  /** Directory (or, for a file bind mount, file) holding the tree, as seen by the gofer process. */
  path: string;
  readonly: boolean;
}

export interface GoferOptions {
  roots: GoferRoot[];
  log?: P9Logger;
  /**
   * Directory entries all fids' listing snapshots may hold together (default 1,000,000, some 200 MB). Each open
   * directory fid keeps a snapshot until it is clunked, so without a cap a client could open the same large
   * directory on many fids and grow the gofer without bound; past it, readdir from offset 0 fails with ENOMEM.
   */
  maxListedEntries?: number;
}

/** What a fid points at. */
export interface GoferFile {
  root: GoferRoot;
  /** Path components below the root (never '.', '..' or containing '/'). */
  components: string[];
  /** Current host path (kept up to date across renames made through this gofer). */
  hostPath: string;
  /** Owner for files this fid creates (from Tattach n_uname). */
  uid: number;
  handle?: fsp.FileHandle;
  openFlags?: number;
  /** Directory listing snapshot, taken when reading from offset 0 (rewinddir semantics). */
  listing?: Dirent[];
  isDir: boolean;
  /** Device of the file, to notice mount boundaries while walking. */
  dev: bigint;
  /** The root of a kernel pseudo file system mounted inside the tree: shown as an empty directory (see walk). */
  opaque: boolean;
  /**
   * The name was removed through this gofer (the file itself or a directory above it). The path must never be
   * used again: another object, say a symlink, may now hold one of its names, and resolving the old path through
   * it would lead outside the tree. Only the open handle, if any, still refers to the file.
   */
  gone?: boolean;
}

// d_type values (getdents64(2)).
const DT = { FIFO: 1, CHR: 2, DIR: 4, BLK: 6, REG: 8, LNK: 10, SOCK: 12, UNKNOWN: 0 } as const;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const NO_UID = 0xffffffff;

function qidType(mode: number): number {
  const fmt = mode & S_IFMT;
  if (fmt === S_IFDIR) return QidType.DIR;
  if (fmt === S_IFLNK) return QidType.SYMLINK;
  return QidType.FILE;
}

function dtype(mode: number): number {
  switch (mode & S_IFMT) {
    case 0o010000: return DT.FIFO;
    case 0o020000: return DT.CHR;
    case S_IFDIR: return DT.DIR;
    case 0o060000: return DT.BLK;
    case S_IFREG: return DT.REG;
    case S_IFLNK: return DT.LNK;
    case 0o140000: return DT.SOCK;
    default: return DT.UNKNOWN;
  }
}

function splitNs(ns: bigint): [number, number] {
  if (ns < 0n) return [0, 0]; // pre-1970 times do not fit the protocol's unsigned fields
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

/**
 * Qid paths must be unique across everything served, but inode numbers repeat across file systems (bind mounts of
 * other devices). The first device keeps raw inode numbers; later ones get their index in the top byte.
 */
class QidPaths {
  private readonly devs = new Map<bigint, bigint>();
  qid(st: fs.BigIntStats): Qid {
    let idx = this.devs.get(st.dev);
    if (idx === undefined) {
      idx = BigInt(this.devs.size);
      this.devs.set(st.dev, idx);
    }
    const path = idx === 0n ? st.ino : (idx << 56n) | (st.ino & 0x00ff_ffff_ffff_ffffn);
    return { type: qidType(Number(st.mode)), version: 0, path };
  }
}

/**
 * statfs(2) f_type of kernel pseudo file systems (linux/magic.h). A served tree may contain mounts of these (serving
 * the host's "/" does: /proc, /sys, ...); the host's would leak host state (/proc/kcore, /sys/firmware, other
 * processes), and the sentry provides its own proc, sys and dev anyway. Their mountpoints are shown empty.
 */
const PSEUDO_FS_MAGIC = new Set([
  0x9fa0, // proc
  0x62656572, // sysfs
  0x64626720, // debugfs
  0x74726163, // tracefs
  0x73636673, // securityfs
  0x27e0eb, // cgroup
  0x63677270, // cgroup2
  0xcafe4a11, // bpf
  0x1cd1, // devpts
  0x62656570, // configfs
  0x6165676c, // pstore
  0xde5e81e4, // efivarfs
  0x42494e4d, // binfmt_misc
  0x65735543, // fusectl
  0x6e736673, // nsfs
]);

function isKernelPseudoFs(p: string): boolean {
  try {
    return PSEUDO_FS_MAGIC.has(fs.statfsSync(p).type >>> 0);
  } catch {
    return true; // cannot tell: do not serve it
  }
}

function erofs(): P9Error {
  return new P9Error(P9Errno.EROFS, 'this mount is read-only');
}

/** Open flags the gofer honours on Tlopen/Tlcreate (others, like O_CREAT on lopen or O_DIRECT, are dropped). */
const PASSED_OPEN_FLAGS =
  OpenFlags.ACCMODE | OpenFlags.TRUNC | OpenFlags.APPEND | OpenFlags.NONBLOCK | OpenFlags.DSYNC | OpenFlags.SYNC |
  OpenFlags.DIRECTORY;

export class Gofer implements P9FileHandler<GoferFile> {
  private readonly roots: Map<string, GoferRoot>;
  private readonly qids = new QidPaths();
  /** Every live file object, so renames can update the paths of fids below the renamed name. */
  private readonly live = new Set<GoferFile>();
  private readonly log: P9Logger | undefined;
  private readonly maxListedEntries: number;
  /** Entries held by every fid's listing snapshot together. */
  private listedEntries = 0;

  constructor(options: GoferOptions) {
    this.roots = new Map();
    for (const r of options.roots) this.roots.set(r.aname === '/' ? '' : r.aname, r);
    if (!this.roots.has('')) throw new Error('a gofer needs a root tree (aname "")');
    this.log = options.log;
    this.maxListedEntries = options.maxListedEntries ?? 1_000_000;
  }

  /** Number of fids the client holds (for tests and diagnostics). */
  get liveFiles(): number {
    return this.live.size;
  }

  private make(
    root: GoferRoot,
    components: string[],
    uid: number,
    isDir: boolean,
    dev: bigint,
    opaque = false,
  ): GoferFile {
    const f: GoferFile = {
      root,
      components,
      hostPath: components.length ? path.join(root.path, ...components) : root.path,
      uid,
      isDir,
      dev,
      opaque,
    };
    this.live.add(f);
    return f;
  }

  /** The host path of a fid that still has one (see GoferFile.gone). */
  private pathOf(f: GoferFile): string {
    if (f.gone) throw new P9Error(P9Errno.ENOENT, 'the file was removed');
    return f.hostPath;
  }

  private child(dir: GoferFile, name: string): string {
    this.pathOf(dir);
    if (!dir.isDir) throw new P9Error(P9Errno.ENOTDIR);
    // Creating or removing names in a host pseudo file system would act on the host (mkdir in a cgroup mount
    // creates a cgroup); the directory is presented as empty and stays so.
    if (dir.opaque) throw new P9Error(P9Errno.EACCES, 'a kernel pseudo file system is not served');
    return path.join(dir.hostPath, name);
  }

  private writable(f: GoferFile): void {
    if (f.root.readonly) throw erofs();
  }

  /**
   * Metadata calls are synchronous on purpose: a warm lstat takes a few microseconds, while a hop through libuv's
   * thread pool costs tens, and walks and getattrs dominate a container's file traffic (measured: getattr round trip
   * 184 -> 110 us, walk+clunk 302 -> 81 us). Data I/O (open, read, write, readdir) stays asynchronous.
   */
  private async lstat(p: string): Promise<fs.BigIntStats> {
    return fs.lstatSync(p, { bigint: true });
  }

  private async statOf(f: GoferFile): Promise<fs.BigIntStats> {
    // An open file may have been unlinked or renamed by someone else: its handle still knows it.
    return f.handle ? fs.fstatSync(f.handle.fd, { bigint: true }) : this.lstat(this.pathOf(f));
  }

  async attach(_uname: string, aname: string, nUname: number): Promise<{ qid: Qid; file: GoferFile }> {
    const root = this.roots.get(aname === '/' ? '' : aname);
    if (!root) throw new P9Error(P9Errno.ENOENT, `no tree is served under ${JSON.stringify(aname)}`);
    const st = await this.lstat(root.path);
    // A bind mount of a pseudo file system (say --mount /sys=/sys) is as opaque as one met while walking.
    const opaque = st.isDirectory() && isKernelPseudoFs(root.path);
    const file = this.make(root, [], nUname === NO_UID ? 0 : nUname, st.isDirectory(), st.dev, opaque);
    return { qid: this.qids.qid(st), file };
  }

  async walk(from: GoferFile, names: string[]): Promise<{ qids: Qid[]; file?: GoferFile }> {
    if (from.gone) {
      // A clone of a removed file is as removed as the original; nothing can be walked from it.
      if (names.length) this.pathOf(from);
      const clone = this.make(from.root, [...from.components], from.uid, from.isDir, from.dev, from.opaque);
      clone.gone = true;
      return { qids: [], file: clone };
    }
    const components = [...from.components];
    let isDir = from.isDir;
    let dev = from.dev;
    let opaque = from.opaque;
    const qids: Qid[] = [];
    for (const name of names) {
      if (!isDir || (opaque && name !== '..' && name !== '.')) {
        // Walking through a file or a symlink: the server never follows links (see the header comment). Below a
        // pseudo file system's root there is nothing to find.
        if (qids.length === 0) throw new P9Error(opaque ? P9Errno.ENOENT : P9Errno.ENOTDIR);
        break;
      }
      if (name === '..') {
        if (components.length > 0) components.pop(); // at the attach root, '..' is the root itself
      } else if (name !== '.') {
        components.push(name);
      }
      const p = components.length ? path.join(from.root.path, ...components) : from.root.path;
      let st: fs.BigIntStats;
      try {
        st = await this.lstat(p);
      } catch (err) {
        if (qids.length === 0) throw err;
        break;
      }
      // Only a step down can cross into a mount; '..' leads back out of one (never into one: we never go below an
      // opaque directory), and '.' stays where it is.
      if (name === '..') opaque = false;
      else if (name !== '.') opaque = st.dev !== dev && st.isDirectory() && isKernelPseudoFs(p);
      dev = st.dev;
      isDir = st.isDirectory();
      qids.push(this.qids.qid(st));
    }
    if (qids.length < names.length) return { qids };
    return { qids, file: this.make(from.root, components, from.uid, isDir, dev, opaque) };
  }

  async getattr(file: GoferFile, _mask: number): Promise<Attr> {
    const st = await this.statOf(file);
    const [atimeSec, atimeNsec] = splitNs(st.atimeNs);
    const [mtimeSec, mtimeNsec] = splitNs(st.mtimeNs);
    const [ctimeSec, ctimeNsec] = splitNs(st.ctimeNs);
    const [btimeSec, btimeNsec] = splitNs(st.birthtimeNs);
    return {
      valid: GetattrMask.BASIC | (st.birthtimeNs > 0n ? GetattrMask.BTIME : 0),
      qid: this.qids.qid(st),
      mode: Number(st.mode),
      uid: Number(st.uid),
      gid: Number(st.gid),
      nlink: Number(st.nlink),
      rdev: Number(st.rdev),
      size: Number(st.size),
      blksize: Number(st.blksize),
      blocks: Number(st.blocks),
      atimeSec, atimeNsec, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec, btimeSec, btimeNsec,
      gen: 0n,
      dataVersion: 0n,
    };
  }

  async lopen(file: GoferFile, flags: number): Promise<{ qid: Qid; iounit: number }> {
    if (file.handle || file.openFlags !== undefined) throw new P9Error(P9Errno.EBADF, 'fid is already open');
    const acc = flags & OpenFlags.ACCMODE;
    if (file.root.readonly && (acc !== OpenFlags.RDONLY || flags & OpenFlags.TRUNC)) throw erofs();
    const st = await this.lstat(this.pathOf(file));
    if (st.isSymbolicLink()) throw new P9Error(P9Errno.ELOOP, 'symlinks are read with readlink, not opened');
    if (!st.isFile() && !st.isDirectory()) {
      // Device nodes in an image must never open host devices, and a FIFO open would block a thread-pool thread
      // until a writer appears; the sentry provides devices and named pipes itself (it sees the type in getattr).
      throw new P9Error(P9Errno.EPERM, 'the gofer opens only regular files and directories');
    }
    if (st.isDirectory()) {
      if (acc !== OpenFlags.RDONLY) throw new P9Error(P9Errno.EISDIR);
      file.openFlags = flags;
      return { qid: this.qids.qid(st), iounit: 0 };
    }
    // The name may have been swapped since the lstat (the client can pipeline an unlink and a mknod behind this
    // request). O_NOFOLLOW: a symlink fails rather than being followed. O_NONBLOCK: a FIFO put there opens at once
    // instead of blocking a thread-pool thread until a writer appears (fifo(7)); the type is checked again below.
    // On a regular file O_NONBLOCK changes nothing (open(2): it applies to FIFOs, sockets and devices).
    const handle = await fsp.open(
      file.hostPath,
      (flags & PASSED_OPEN_FLAGS) | OpenFlags.NOFOLLOW | OpenFlags.NOCTTY | OpenFlags.NONBLOCK,
    );
    let opened: fs.BigIntStats;
    try {
      opened = await handle.stat({ bigint: true });
      if (!opened.isFile()) throw new P9Error(P9Errno.EPERM, 'the gofer opens only regular files and directories');
    } catch (err) {
      await handle.close();
      throw err;
    }
    file.handle = handle;
    file.openFlags = flags;
    return { qid: this.qids.qid(opened), iounit: 0 };
  }

  async read(file: GoferFile, offset: number, count: number): Promise<Uint8Array> {
    if (!file.handle) throw new P9Error(file.isDir ? P9Errno.EISDIR : P9Errno.EBADF, 'fid is not open for reading');
    const buf = Buffer.allocUnsafe(count);
    const { bytesRead } = await file.handle.read(buf, 0, count, offset);
    return buf.subarray(0, bytesRead);
  }

  async write(file: GoferFile, offset: number, data: Uint8Array): Promise<number> {
    this.writable(file);
    if (!file.handle) throw new P9Error(P9Errno.EBADF, 'fid is not open for writing');
    const { bytesWritten } = await file.handle.write(data, 0, data.length, offset);
    return bytesWritten;
  }

  async readdir(file: GoferFile, offset: bigint, count: number): Promise<Dirent[]> {
    if (file.openFlags === undefined || !file.isDir) throw new P9Error(P9Errno.EBADF, 'fid is not an open directory');
    if (offset === 0n || !file.listing) {
      this.dropListing(file);
      const listing = await this.list(file);
      if (this.listedEntries + listing.length > this.maxListedEntries) {
        throw new P9Error(P9Errno.ENOMEM, `open directory listings hold ${this.listedEntries} entries already`);
      }
      this.dropListing(file); // a concurrent readdir on this fid may have stored one meanwhile
      file.listing = listing;
      this.listedEntries += listing.length;
    }
    // Cookies are 1-based positions in the snapshot: entry i carries i+1, "resume after me".
    const out: Dirent[] = [];
    let used = 0;
    for (let i = Number(offset); i < file.listing.length; i++) {
      const e = file.listing[i]!;
      used += direntSize(e.name);
      if (used > count) break;
      out.push(e);
    }
    return out;
  }

  private async list(dir: GoferFile): Promise<Dirent[]> {
    const names = dir.opaque ? [] : await fsp.readdir(this.pathOf(dir));
    const self = await this.lstat(this.pathOf(dir));
    const parentPath = dir.components.length ? path.dirname(dir.hostPath) : dir.hostPath;
    const parent = await this.lstat(parentPath);
    const entries: Omit<Dirent, 'offset'>[] = [
      { qid: this.qids.qid(self), dtype: DT.DIR, name: '.' },
      { qid: this.qids.qid(parent), dtype: DT.DIR, name: '..' },
    ];
    const stats = await Promise.all(
      names.map((n) => this.lstat(path.join(dir.hostPath, n)).catch(() => undefined)),
    );
    names.forEach((name, i) => {
      const st = stats[i];
      if (st) entries.push({ qid: this.qids.qid(st), dtype: dtype(Number(st.mode)), name }); // gone meanwhile: skip
    });
    return entries.map((e, i) => ({ ...e, offset: BigInt(i + 1) }));
  }

  async readlink(file: GoferFile): Promise<string> {
    return fsp.readlink(this.pathOf(file));
  }

  async statfs(file: GoferFile): Promise<StatfsFields> {
    const s = await fsp.statfs(this.pathOf(file));
    return {
      fsType: s.type >>> 0,
      bsize: s.bsize,
      blocks: s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      fsid: 0n,
      namelen: 255,
    };
  }

  private dropListing(file: GoferFile): void {
    if (file.listing) this.listedEntries -= file.listing.length;
    file.listing = undefined;
  }

  async clunk(file: GoferFile): Promise<void> {
    this.live.delete(file);
    this.dropListing(file);
    const h = file.handle;
    file.handle = undefined;
    if (h) await h.close();
  }

  async lcreate(
    dir: GoferFile,
    name: string,
    flags: number,
    mode: number,
    gid: number,
  ): Promise<{ qid: Qid; iounit: number; file: GoferFile }> {
    this.writable(dir);
    const p = this.child(dir, name);
    const handle = await fsp.open(
      p,
      (flags & PASSED_OPEN_FLAGS & ~OpenFlags.DIRECTORY) | OpenFlags.CREAT | OpenFlags.EXCL | OpenFlags.NOFOLLOW,
      mode & 0o7777,
    );
    try {
      await handle.chown(dir.uid, gid);
      const st = await handle.stat({ bigint: true });
      const file = this.make(dir.root, [...dir.components, name], dir.uid, false, st.dev);
      file.handle = handle;
      file.openFlags = flags;
      return { qid: this.qids.qid(st), iounit: 0, file };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async mkdir(dir: GoferFile, name: string, mode: number, gid: number): Promise<Qid> {
    this.writable(dir);
    const p = this.child(dir, name);
    await fsp.mkdir(p, { mode: mode & 0o7777 });
    await fsp.lchown(p, dir.uid, gid);
    return this.qids.qid(await this.lstat(p));
  }

  async symlink(dir: GoferFile, name: string, target: string, gid: number): Promise<Qid> {
    this.writable(dir);
    const p = this.child(dir, name);
    await fsp.symlink(target, p);
    await fsp.lchown(p, dir.uid, gid);
    return this.qids.qid(await this.lstat(p));
  }

  async mknod(dir: GoferFile, name: string, mode: number, _major: number, _minor: number, gid: number): Promise<Qid> {
    this.writable(dir);
    const p = this.child(dir, name);
    const type = mode & S_IFMT;
    if (type === S_IFREG || type === 0) {
      const h = await fsp.open(p, OpenFlags.WRONLY | OpenFlags.CREAT | OpenFlags.EXCL | OpenFlags.NOFOLLOW, mode & 0o7777);
      await h.close();
    } else if (type === S_IFIFO || type === S_IFSOCK) {
      // The node only: the gofer never opens it (lopen refuses), the sentry implements the pipe or socket.
      mknodNative(p, type | (mode & 0o7777));
    } else {
      // Device nodes would give the container a handle on host devices if anything ever opened them.
      throw new P9Error(P9Errno.EPERM, 'the gofer does not create device nodes');
    }
    await fsp.lchown(p, dir.uid, gid);
    return this.qids.qid(await this.lstat(p));
  }

  async link(dir: GoferFile, target: GoferFile, name: string): Promise<void> {
    this.writable(dir);
    if (target.isDir) throw new P9Error(P9Errno.EPERM, 'hard links to directories are not allowed');
    // Across attach roots (separate mounts in the confined gofer) link(2) fails with EXDEV; say so here too, so a
    // read-only tree's file can never gain a name in a writable one.
    if (target.root !== dir.root) throw new P9Error(P9Errno.EXDEV);
    await fsp.link(this.pathOf(target), this.child(dir, name));
  }

  async unlinkat(dir: GoferFile, name: string, flags: number): Promise<void> {
    this.writable(dir);
    const p = this.child(dir, name);
    if (flags & AT_REMOVEDIR) await fsp.rmdir(p);
    else await fsp.unlink(p);
    this.removed(dir.root, [...dir.components, name]);
  }

  async renameat(oldDir: GoferFile, oldName: string, newDir: GoferFile, newName: string): Promise<void> {
    this.writable(oldDir);
    this.writable(newDir);
    if (oldDir.root !== newDir.root) throw new P9Error(P9Errno.EXDEV);
    const from = this.child(oldDir, oldName);
    const to = this.child(newDir, newName);
    await fsp.rename(from, to);
    this.moved(oldDir.root, [...oldDir.components, oldName], [...newDir.components, newName]);
  }

  async rename(file: GoferFile, newDir: GoferFile, newName: string): Promise<void> {
    if (file.components.length === 0) throw new P9Error(P9Errno.EBUSY, 'cannot rename an attach root');
    this.pathOf(file);
    const parent = file.components.slice(0, -1);
    const oldDir = { ...file, components: parent, hostPath: path.join(file.root.path, ...parent), isDir: true };
    await this.renameat(oldDir, file.components[file.components.length - 1]!, newDir, newName);
  }

  async remove(file: GoferFile): Promise<void> {
    this.writable(file);
    if (file.components.length === 0) throw new P9Error(P9Errno.EBUSY, 'cannot remove an attach root');
    const p = this.pathOf(file);
    const st = await this.lstat(p);
    if (st.isDirectory()) await fsp.rmdir(p);
    else await fsp.unlink(p);
    this.removed(file.root, file.components);
  }

  /** Fids at or below a removed name lose their path (see GoferFile.gone). */
  private removed(root: GoferRoot, components: string[]): void {
    for (const f of this.live) {
      if (f.root !== root || f.components.length < components.length) continue;
      if (components.every((c, i) => f.components[i] === c)) f.gone = true;
    }
  }

  /** Fids at or below `from` now live at `to` (renames made through this gofer keep fids valid, as fds would). */
  private moved(root: GoferRoot, from: string[], to: string[]): void {
    for (const f of this.live) {
      if (f.gone || f.root !== root || f.components.length < from.length) continue;
      if (!from.every((c, i) => f.components[i] === c)) continue;
      f.components = [...to, ...f.components.slice(from.length)];
      f.hostPath = path.join(root.path, ...f.components);
    }
  }

  async setattr(file: GoferFile, a: SetattrFields): Promise<void> {
    this.writable(file);
    if (file.opaque) throw new P9Error(P9Errno.EACCES, 'a kernel pseudo file system is not served');
    const st = await this.statOf(file);
    const isLink = (Number(st.mode) & S_IFMT) === S_IFLNK;
    if (a.valid & SetattrMask.MODE) {
      if (isLink) throw new P9Error(P9Errno.EOPNOTSUPP, 'symlink permissions cannot be changed (lchmod)');
      if (file.handle) await file.handle.chmod(a.mode & 0o7777);
      else await fsp.chmod(this.pathOf(file), a.mode & 0o7777);
    }
    if (a.valid & (SetattrMask.UID | SetattrMask.GID)) {
      const uid = a.valid & SetattrMask.UID ? a.uid : -1;
      const gid = a.valid & SetattrMask.GID ? a.gid : -1;
      if (file.handle) await file.handle.chown(uid, gid);
      else await fsp.lchown(this.pathOf(file), uid, gid);
    }
    if (a.valid & SetattrMask.SIZE) {
      if (isLink || st.isDirectory()) throw new P9Error(P9Errno.EINVAL, 'only regular files can be truncated');
      if (file.handle) await file.handle.truncate(a.size);
      else await fsp.truncate(this.pathOf(file), a.size);
    }
    if (a.valid & (SetattrMask.ATIME | SetattrMask.MTIME)) {
      // Node's utimes take seconds as a double: sub-microsecond precision is lost (documented limitation).
      const now = Date.now() / 1000;
      const keepA = Number(st.atimeNs) / 1e9;
      const keepM = Number(st.mtimeNs) / 1e9;
      const at = a.valid & SetattrMask.ATIME ? (a.valid & SetattrMask.ATIME_SET ? a.atimeSec + a.atimeNsec / 1e9 : now) : keepA;
      const mt = a.valid & SetattrMask.MTIME ? (a.valid & SetattrMask.MTIME_SET ? a.mtimeSec + a.mtimeNsec / 1e9 : now) : keepM;
      if (file.handle) await file.handle.utimes(at, mt);
      else await fsp.lutimes(this.pathOf(file), at, mt);
    }
  }

  async fsync(file: GoferFile, datasync: boolean): Promise<void> {
    if (!file.handle) return; // directories and unopened fids: nothing buffered in the gofer
    if (datasync) await file.handle.datasync();
    else await file.handle.sync();
  }
}

// The gofer file system: the container's files as the gofer serves them over 9P2000.L (design.md "File
// systems"). Each node holds one walked fid for its whole life (fids follow renames on the server, so a node stays
// right after rename). Attributes are cached and dropped whenever we change the node; on a read-only mount they
// never change, and file contents are cached in 64 KiB pages (an LRU bounded per file system), so re-reading
// binaries and libraries costs no round trips.
import type { P9Client, SetattrRequest } from '@tsvisor/p9';
import { P9Error } from '@tsvisor/p9';
import { Errno, fail, SyscallError } from '../kernel/syscall_error.js';
import {
  AT_REMOVEDIR,
  O_ACCMODE,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  S_IFMT,
} from '../vfs/constants.js';
import type {
  DirEntry,
  FileDescriptionImpl,
  FilesystemImpl,
  FsNode,
  NewNodeAttr,
  OpenOptions,
  SetAttr,
  Stat,
  StatFs,
} from '../vfs/filesystem.js';

const PAGE = 64 * 1024;
/** One read returns at most this much, however large the count (a short read bounds the sentry's memory). */
const MAX_READ = 4 << 20;
const V9FS_MAGIC = 0x01021997n;

/** Runs a 9P call, turning P9Error into the SyscallError the application sees (EIO when the gofer is gone). */
async function p9<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof P9Error) throw new SyscallError(e.errno, e.message);
    if (e instanceof SyscallError) throw e;
    throw new SyscallError(Errno.EIO, (e as Error).message);
  }
}

export interface GoferFsOptions {
  readonly: boolean;
  /** Bytes of file pages to keep for read-only mounts (default 64 MiB). */
  pageCacheBytes?: number;
  /** How long attributes stay valid on a read-write mount, in ms (host-side changes to bind mounts). Default 1000. */
  attrTtlMs?: number;
}

export class GoferFs implements FilesystemImpl {
  readonly type = '9p';
  dev = 0;
  readonly readonly: boolean;
  private readonly rootNode: GoferNode;
  private readonly pages = new Map<string, Buffer>();
  private pageBytes = 0;
  readonly pageLimit: number;
  readonly attrTtlMs: number;

  private constructor(
    readonly client: P9Client,
    rootFid: number,
    opts: GoferFsOptions,
  ) {
    this.readonly = opts.readonly;
    this.pageLimit = opts.pageCacheBytes ?? 64 << 20;
    this.attrTtlMs = opts.attrTtlMs ?? 1000;
    this.rootNode = new GoferNode(this, rootFid);
  }

  /** Attaches to the gofer's tree `aname` and returns the file system rooted there. */
  static async attach(client: P9Client, aname: string, opts: GoferFsOptions): Promise<GoferFs> {
    const { fid } = await p9(() => client.attach('root', aname, 0));
    return new GoferFs(client, fid, opts);
  }

  root(): GoferNode {
    return this.rootNode;
  }

  async statfs(): Promise<StatFs> {
    const s = await p9(() => this.client.statfs(this.rootNode.fid));
    return {
      type: V9FS_MAGIC,
      bsize: BigInt(s.bsize),
      blocks: BigInt(s.blocks),
      bfree: BigInt(s.bfree),
      bavail: BigInt(s.bavail),
      files: BigInt(s.files),
      ffree: BigInt(s.ffree),
      namelen: BigInt(s.namelen),
      frsize: BigInt(s.bsize),
      flags: this.readonly ? 1n : 0n,
    };
  }

  cachedPage(ino: bigint, idx: number): Buffer | undefined {
    const key = `${ino}:${idx}`;
    const p = this.pages.get(key);
    if (p) {
      this.pages.delete(key); // re-insert: Map order is the LRU order
      this.pages.set(key, p);
    }
    return p;
  }

  storePage(ino: bigint, idx: number, data: Buffer): void {
    const key = `${ino}:${idx}`;
    if (this.pages.has(key)) return;
    this.pages.set(key, data);
    this.pageBytes += data.length;
    for (const [k, v] of this.pages) {
      if (this.pageBytes <= this.pageLimit) break;
      this.pages.delete(k);
      this.pageBytes -= v.length;
    }
  }
}

/** A node's walked fid is clunked once nothing references the node any more (the dentry cache let it go). */
const fidReleaser = new FinalizationRegistry<{ client: P9Client; fid: number }>(({ client, fid }) => {
  if (!client.closed) void client.clunk(fid).catch(() => undefined);
});

export class GoferNode implements FsNode {
  private attr: Stat | null = null;
  private attrAt = 0;

  constructor(
    readonly fs: GoferFs,
    readonly fid: number,
  ) {
    fidReleaser.register(this, { client: fs.client, fid });
  }

  private get client(): P9Client {
    return this.fs.client;
  }

  invalidate(): void {
    this.attr = null;
  }

  async stat(): Promise<Stat> {
    const fresh = this.fs.readonly || Date.now() - this.attrAt < this.fs.attrTtlMs;
    if (this.attr && fresh) return this.attr;
    const a = await p9(() => this.client.getattr(this.fid));
    const ns = (s: number, n: number) => BigInt(s) * 1_000_000_000n + BigInt(n);
    this.attr = {
      dev: this.fs.dev,
      ino: a.qid.path,
      mode: a.mode,
      nlink: a.nlink,
      uid: a.uid,
      gid: a.gid,
      rdev: a.rdev,
      size: BigInt(a.size),
      blksize: a.blksize || 4096,
      blocks: BigInt(a.blocks),
      atimeNs: ns(a.atimeSec, a.atimeNsec),
      mtimeNs: ns(a.mtimeSec, a.mtimeNsec),
      ctimeNs: ns(a.ctimeSec, a.ctimeNsec),
    };
    this.attrAt = Date.now();
    return this.attr;
  }

  private writable(): void {
    if (this.fs.readonly) fail(Errno.EROFS);
  }

  async setattr(attr: SetAttr): Promise<void> {
    this.writable();
    const req: SetattrRequest = { ctime: true };
    if (attr.mode !== undefined) req.mode = attr.mode & 0o7777;
    if (attr.uid !== undefined) req.uid = attr.uid;
    if (attr.gid !== undefined) req.gid = attr.gid;
    if (attr.size !== undefined) req.size = Number(attr.size);
    const t = (v: bigint) => ({ sec: Number(v / 1_000_000_000n), nsec: Number(v % 1_000_000_000n) });
    if (attr.atimeNs !== undefined) req.atime = t(attr.atimeNs);
    if (attr.mtimeNs !== undefined) req.mtime = t(attr.mtimeNs);
    this.invalidate();
    await p9(() => this.client.setattr(this.fid, req));
  }

  async lookup(name: string): Promise<FsNode | null> {
    try {
      const { fid } = await p9(() => this.client.walk(this.fid, [name]));
      return new GoferNode(this.fs, fid);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === Errno.ENOENT) return null;
      throw e;
    }
  }

  /** A fresh fid for this node, opened with `flags` (a node's own fid stays unopened for walks). */
  private async openFid(flags: number): Promise<{ fid: number }> {
    const { fid } = await p9(() => this.client.walk(this.fid, []));
    try {
      await p9(() => this.client.lopen(fid, flags));
    } catch (e) {
      await this.client.clunk(fid).catch(() => undefined);
      throw e;
    }
    return { fid };
  }

  async readdir(): Promise<DirEntry[]> {
    const { fid } = await this.openFid(O_RDONLY | O_DIRECTORY);
    try {
      const out: DirEntry[] = [];
      let cookie = 0n;
      for (;;) {
        const batch = await p9(() => this.client.readdir(fid, cookie));
        if (batch.length === 0) break;
        for (const d of batch) {
          if (d.name !== '.' && d.name !== '..') out.push({ name: d.name, ino: d.qid.path, type: d.dtype });
          cookie = d.offset;
        }
      }
      return out;
    } finally {
      await this.client.clunk(fid).catch(() => undefined);
    }
  }

  async readlink(): Promise<string> {
    return p9(() => this.client.readlink(this.fid));
  }

  /** After a create: the child's node, owned by the creating task's ids (the gofer creates as itself). */
  private async created(name: string, attr: NewNodeAttr, chown = true): Promise<FsNode> {
    this.invalidate();
    const child = await this.lookup(name);
    if (!child) fail(Errno.EIO, `gofer lost ${name} right after creating it`);
    if (chown) {
      const st = await child.stat();
      if (st.uid !== attr.uid || st.gid !== attr.gid) {
        await p9(() => this.client.setattr((child as GoferNode).fid, { uid: attr.uid, gid: attr.gid }));
        (child as GoferNode).invalidate();
      }
    }
    return child;
  }

  async create(name: string, attr: NewNodeAttr): Promise<FsNode> {
    this.writable();
    const { fid } = await p9(() => this.client.walk(this.fid, []));
    try {
      await p9(() => this.client.lcreate(fid, name, O_RDWR | O_CREAT | O_EXCL, attr.mode, attr.gid));
    } finally {
      await this.client.clunk(fid).catch(() => undefined);
    }
    return this.created(name, attr);
  }

  async mkdir(name: string, attr: NewNodeAttr): Promise<FsNode> {
    this.writable();
    await p9(() => this.client.mkdir(this.fid, name, attr.mode, attr.gid));
    return this.created(name, attr);
  }

  async mknod(name: string, type: number, rdev: number, attr: NewNodeAttr): Promise<FsNode> {
    this.writable();
    const major = (rdev >>> 8) & 0xfff;
    const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
    await p9(() => this.client.mknod(this.fid, name, (type & S_IFMT) | attr.mode, major, minor, attr.gid));
    return this.created(name, attr);
  }

  async symlink(name: string, target: string, attr: NewNodeAttr): Promise<FsNode> {
    this.writable();
    await p9(() => this.client.symlink(this.fid, name, target, attr.gid));
    return this.created(name, attr, false);
  }

  async link(name: string, target: FsNode): Promise<void> {
    this.writable();
    if (!(target instanceof GoferNode) || target.fs !== this.fs) fail(Errno.EXDEV);
    await p9(() => this.client.link(this.fid, target.fid, name));
    target.invalidate();
    this.invalidate();
  }

  async unlink(name: string): Promise<void> {
    await this.remove(name, 0);
  }

  async rmdir(name: string): Promise<void> {
    await this.remove(name, AT_REMOVEDIR);
  }

  private async remove(name: string, flags: number): Promise<void> {
    this.writable();
    try {
      await p9(() => this.client.unlinkat(this.fid, name, flags));
    } catch (e) {
      // Servers without Tunlinkat (diod) have Tremove: walk to the file and remove that fid.
      if (!(e instanceof SyscallError) || (e.errno !== Errno.EOPNOTSUPP && e.errno !== Errno.ENOSYS)) throw e;
      const { fid } = await p9(() => this.client.walk(this.fid, [name]));
      await p9(() => this.client.remove(fid));
    }
    this.invalidate();
  }

  async rename(oldName: string, newParent: FsNode, newName: string): Promise<void> {
    this.writable();
    if (!(newParent instanceof GoferNode) || newParent.fs !== this.fs) fail(Errno.EXDEV);
    try {
      await p9(() => this.client.renameat(this.fid, oldName, newParent.fid, newName));
    } catch (e) {
      // Servers without Trenameat (diod) still have Trename: walk to the file and rename that fid.
      if (!(e instanceof SyscallError) || (e.errno !== Errno.EOPNOTSUPP && e.errno !== Errno.ENOSYS)) throw e;
      const { fid } = await p9(() => this.client.walk(this.fid, [oldName]));
      try {
        await p9(() => this.client.rpc({ type: 'Trename', fid, dfid: newParent.fid, name: newName }, 'Rrename'));
      } finally {
        await this.client.clunk(fid).catch(() => undefined);
      }
    }
    this.invalidate();
    newParent.invalidate();
  }

  async open(opts: OpenOptions): Promise<FileDescriptionImpl> {
    const acc = opts.flags & O_ACCMODE;
    const wantWrite = acc === O_WRONLY || acc === O_RDWR;
    if (wantWrite) this.writable();
    const { fid } = await this.openFid(acc);
    const client = this.client;
    const fs = this.fs;
    const ino = (await this.stat()).ino;
    const cachePages = fs.readonly;
    let released = false;

    const readDirect = async (length: number, offset: number): Promise<Buffer> => {
      const parts: Buffer[] = [];
      let got = 0;
      while (got < length) {
        const chunk = await p9(() => client.read(fid, offset + got, length - got));
        if (chunk.length === 0) break;
        parts.push(chunk);
        got += chunk.length;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    };

    const readCached = async (length: number, offset: number): Promise<Buffer> => {
      const size = Number((await this.stat()).size);
      if (offset >= size) return Buffer.alloc(0);
      const end = Math.min(size, offset + length);
      const parts: Buffer[] = [];
      for (let pos = offset; pos < end; ) {
        const idx = Math.floor(pos / PAGE);
        let page = fs.cachedPage(ino, idx);
        if (!page) {
          page = await readDirect(PAGE, idx * PAGE);
          fs.storePage(ino, idx, page);
        }
        const from = pos - idx * PAGE;
        if (from >= page.length) break;
        const n = Math.min(page.length - from, end - pos);
        parts.push(page.subarray(from, from + n));
        pos += n;
      }
      return Buffer.concat(parts);
    };

    return {
      seekable: true,
      read: async (wanted, offset) => {
        const length = Math.min(wanted, MAX_READ);
        if (cachePages) return readCached(length, Number(offset));
        return readDirect(length, Number(offset));
      },
      write: async (data, offset, append) => {
        const at = append ? Number((await this.statFresh()).size) : Number(offset);
        let done = 0;
        while (done < data.length) {
          const n = await p9(() => client.write(fid, at + done, data.subarray(done)));
          if (n === 0) break;
          done += n;
        }
        this.invalidate();
        return done;
      },
      size: async () => (await this.statFresh()).size,
      fsync: async () => p9(() => client.fsync(fid)),
      release: () => {
        if (released) return;
        released = true;
        void client.clunk(fid).catch(() => undefined);
      },
    };
  }

  private async statFresh(): Promise<Stat> {
    if (!this.fs.readonly) this.invalidate();
    return this.stat();
  }
}

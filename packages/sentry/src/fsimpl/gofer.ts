// The gofer file system: the container's files as the gofer serves them over 9P2000.L (design.md "File
// systems"). Each node holds one walked fid for its whole life (fids follow renames on the server, so a node stays
// right after rename). Attributes are cached and dropped whenever we change the node.
//
// Where the sandbox is the only writer of the tree (`exclusive`: by default the read-only mounts, among them the
// lower layer of the root overlay) nothing can change it behind our back, so attributes, names looked up (found or
// not) and directory listings are kept until the sandbox's own changes drop them (bounded LRUs, gofer_cache.ts).
// After a directory is listed, the first lookup of one of its names walks and stats all the others too, many
// requests in flight at once: `ls -l` then pays round trips per directory, not per file; once the application
// lists one subdirectory, the others are listed ahead too (ls -R, du, find). A path of several uncached components
// is walked with all its prefixes in flight together (prefetchPath). Elsewhere (read-write
// bind mounts the host may change) attributes expire after `attrTtlMs` and every lookup asks the gofer.
//
// On read-only mounts file contents are cached in 64 KiB pages (an LRU bounded per file system), so re-reading
// binaries and libraries costs no round trips; sequential reads fetch several pages per Tread and read ahead a
// window that doubles while the reader stays sequential (as Linux's readahead does), so the next read finds its
// pages already there or on the way.
import type { P9Client, SetattrRequest } from '@tsvisor/p9';
import { P9Error } from '@tsvisor/p9';
import { Errno, fail, SyscallError } from '../kernel/syscall_error.js';
import {
  AT_REMOVEDIR,
  DT_DIR,
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
import { InodeTable, WeightedLru, type CachedInode, type LruEntry } from './gofer_cache.js';

const PAGE = 64 * 1024;
/** Read-ahead window limits in pages: it starts at 2 and doubles while reads are sequential. */
const READAHEAD_MIN_PAGES = 2;
const READAHEAD_MAX_PAGES = 32;
/** A listing with more names than this is not kept (it would push everything else out of the name cache). */
const LISTING_MAX = 8192;
/** Names of a listed directory walked and stated ahead of the application, and how many at once. */
const PREFETCH_MAX = 4096;
const PREFETCH_CONCURRENCY = 16;
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
  /**
   * Nothing but this sandbox changes the tree (default: `readonly`): attributes and lookups are kept until the
   * sandbox changes them, instead of expiring after `attrTtlMs`.
   */
  exclusive?: boolean;
  /**
   * Budget of an exclusive mount's name cache: names looked up plus names of kept listings. Default 16384 (each
   * cached node holds a gofer fid, and the dentry cache holds up to 50000 more of the gofer's 65536).
   */
  nameCacheEntries?: number;
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
  /** Pages being fetched (by a read or by read-ahead): a second reader waits for the same Tread. */
  private readonly pageLoads = new Map<string, Promise<Buffer>>();
  readonly pageLimit: number;
  readonly attrTtlMs: number;
  readonly exclusive: boolean;
  /** Names looked up and listings of an exclusive mount. */
  readonly names: WeightedLru<NameEntry | ListingEntry>;
  /** Attributes of an exclusive mount, by inode; its generation counts the sandbox's changes. */
  readonly attrs = new InodeTable();

  private constructor(
    readonly client: P9Client,
    rootFid: number,
    rootIno: bigint,
    opts: GoferFsOptions,
  ) {
    this.readonly = opts.readonly;
    this.exclusive = opts.exclusive ?? opts.readonly;
    this.pageLimit = opts.pageCacheBytes ?? 64 << 20;
    this.attrTtlMs = opts.attrTtlMs ?? 1000;
    const nameBudget = opts.nameCacheEntries ?? 16384;
    this.names = new WeightedLru(nameBudget);
    this.rootNode = new GoferNode(this, rootFid, rootIno);
  }

  /** Attaches to the gofer's tree `aname` and returns the file system rooted there. */
  static async attach(client: P9Client, aname: string, opts: GoferFsOptions): Promise<GoferFs> {
    const { fid, qid } = await p9(() => client.attach('root', aname, 0));
    return new GoferFs(client, fid, qid.path, opts);
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

  /**
   * Page `idx` of a file, from the cache or fetched with the `count - 1` pages after it in one Tread (those are
   * stored too). `readRange` reads at most `count` pages from the page's start.
   */
  loadPages(
    ino: bigint,
    idx: number,
    count: number,
    readRange: (offset: number, length: number) => Promise<Buffer>,
  ): Promise<Buffer> {
    const cached = this.cachedPage(ino, idx);
    if (cached) return Promise.resolve(cached);
    const loading = this.pageLoads.get(`${ino}:${idx}`);
    if (loading) return loading;
    // Only pages neither cached nor on the way join this Tread.
    let n = 1;
    while (n < count && !this.pages.has(`${ino}:${idx + n}`) && !this.pageLoads.has(`${ino}:${idx + n}`)) n++;
    const all = readRange(idx * PAGE, n * PAGE).then((data) => {
      for (let i = 0; i < n; i++) {
        const part = data.subarray(i * PAGE, (i + 1) * PAGE);
        // Pages are views of the reply's frame (a buffer of its own, made by the frame splitter), not copies: the
        // frame is freed once all its pages are evicted. An empty page (past the end of the file) is not kept.
        if (part.length > 0) this.storePage(ino, idx + i, part);
      }
      return data;
    });
    const loads: Promise<Buffer>[] = [];
    for (let i = 0; i < n; i++) {
      const key = `${ino}:${idx + i}`;
      const p = all.then((data) => data.subarray(i * PAGE, (i + 1) * PAGE));
      loads.push(p);
      this.pageLoads.set(key, p);
      void p.then(
        () => this.pageLoads.get(key) === p && this.pageLoads.delete(key),
        () => this.pageLoads.get(key) === p && this.pageLoads.delete(key),
      );
    }
    return loads[0]!;
  }

  /** True if page `idx` is cached or being fetched. */
  hasPage(ino: bigint, idx: number): boolean {
    const key = `${ino}:${idx}`;
    return this.pages.has(key) || this.pageLoads.has(key);
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

/** A name looked up in a directory of an exclusive mount: the node found, or null when there is no such name. */
class NameEntry implements LruEntry {
  readonly weight = 1;
  constructor(
    readonly dir: GoferNode,
    readonly name: string,
    readonly node: GoferNode | null,
  ) {}

  evicted(): void {
    this.dir.forgetName(this);
  }
}

/** A whole directory listing of an exclusive mount: it also answers "no such name" for every name not in it. */
class ListingEntry implements LruEntry {
  readonly weight: number;
  readonly names: Set<string>;
  /** Names the listing says are directories (d_type; DT_UNKNOWN entries are not counted). */
  readonly subdirs: Set<string>;
  constructor(
    readonly dir: GoferNode,
    readonly entries: readonly DirEntry[],
  ) {
    this.weight = Math.max(1, entries.length);
    this.names = new Set(entries.map((e) => e.name));
    this.subdirs = new Set(entries.filter((e) => e.type === DT_DIR).map((e) => e.name));
  }

  evicted(): void {
    this.dir.forgetListing(this);
  }
}

const nsOf = (s: number, n: number) => BigInt(s) * 1_000_000_000n + BigInt(n);

export class GoferNode implements FsNode {
  /** Attributes of a non-exclusive mount (an exclusive one keeps them in fs.attrs, shared per inode). */
  private attr: Stat | null = null;
  private attrAt = 0;
  private inodeRecord: CachedInode | undefined;
  /** Exclusive mounts: cached names (found or not), the kept listing, lookups on the way. */
  private names: Map<string, NameEntry> | undefined;
  private listing: ListingEntry | undefined;
  private inFlight: Map<string, Promise<GoferNode | null>> | undefined;
  /** Names of the listing still to be walked ahead of the application (see prefetch). */
  private prefetchQueue: Set<string> | undefined;
  private prefetchedFor: ListingEntry | undefined;
  /**
   * The directory this node was looked up in (exclusive mounts; a hint only: after a rename it may be stale, which
   * costs at most a useless read-ahead).
   */
  private parentHint: GoferNode | undefined;
  private subdirsListedFor: ListingEntry | undefined;
  /** A listing being fetched on an exclusive mount, and the change generation it started in. */
  private listingLoad: { generation: number; load: Promise<DirEntry[]> } | undefined;

  /** What the finalizer clunks: the node's current fid. */
  private readonly held: { client: P9Client; fid: number };

  constructor(
    readonly fs: GoferFs,
    fid: number,
    /** The inode number (qid path) as the walk or attach reported it. */
    private ino: bigint | undefined = undefined,
  ) {
    this.held = { client: fs.client, fid };
    fidReleaser.register(this, this.held);
  }

  /** The walked (never opened) fid naming this node on the gofer. */
  get fid(): number {
    return this.held.fid;
  }

  /** Takes `fid` (naming the same file) as this node's fid and clunks the old one; true once taken. */
  adoptFid(fid: number): boolean {
    const old = this.held.fid;
    if (old === fid) return true;
    this.held.fid = fid;
    void this.client.clunk(old).catch(() => undefined);
    return true;
  }

  private get client(): P9Client {
    return this.fs.client;
  }

  /** Drops this node's cached attributes: the sandbox changed it. */
  invalidate(): void {
    this.attr = null;
    if (this.fs.exclusive) {
      this.fs.attrs.changed();
      if (this.inode) this.inode.attr = null;
    }
  }

  /** The shared attribute record of an exclusive mount's node, once its inode number is known. */
  private get inode(): CachedInode | undefined {
    if (!this.inodeRecord && this.ino !== undefined) this.inodeRecord = this.fs.attrs.inode(this.ino);
    return this.inodeRecord;
  }

  async stat(): Promise<Stat> {
    if (this.fs.exclusive) {
      const cached = this.inode?.attr;
      if (cached) return cached;
      const generation = this.fs.attrs.generation;
      const st = await this.fetchAttr();
      if (this.ino !== st.ino) {
        this.ino = st.ino;
        this.inodeRecord = undefined;
      }
      if (generation === this.fs.attrs.generation) this.inode!.attr = st;
      return st;
    }
    const fresh = this.fs.readonly || Date.now() - this.attrAt < this.fs.attrTtlMs;
    if (this.attr && fresh) return this.attr;
    this.attr = await this.fetchAttr();
    this.attrAt = Date.now();
    return this.attr;
  }

  private async fetchAttr(): Promise<Stat> {
    const a = await p9(() => this.client.getattr(this.fid));
    return {
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
      atimeNs: nsOf(a.atimeSec, a.atimeNsec),
      mtimeNs: nsOf(a.mtimeSec, a.mtimeNsec),
      ctimeNs: nsOf(a.ctimeSec, a.ctimeNsec),
    };
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
    try {
      await p9(() => this.client.setattr(this.fid, req));
    } finally {
      this.invalidate();
    }
  }

  // ---- the name cache of exclusive mounts ----

  /** Called by the LRU when it drops `e`. */
  forgetName(e: NameEntry): void {
    if (this.names?.get(e.name) === e) this.names.delete(e.name);
  }

  forgetListing(e: ListingEntry): void {
    if (this.listing === e) this.listing = undefined;
  }

  /** Records what `name` is now (a node, or null for "absent"): the sandbox just made it so. */
  private setName(name: string, node: GoferNode | null): void {
    if (!this.fs.exclusive) return;
    const old = this.names?.get(name);
    if (old) this.fs.names.remove(old);
    const e = new NameEntry(this, name, node);
    (this.names ??= new Map()).set(name, e);
    this.fs.names.add(e);
  }

  /** The sandbox changed this directory: its listing is stale (names are kept or set one by one). */
  private dropListing(): void {
    if (this.listing) this.fs.names.remove(this.listing);
    this.listing = undefined;
    this.prefetchQueue = undefined;
  }

  /** One Twalk to the child `name`; null if it does not exist. */
  private async walkChild(name: string): Promise<GoferNode | null> {
    try {
      const { fid, qids } = await p9(() => this.client.walk(this.fid, [name]));
      const child = new GoferNode(this.fs, fid, qids[qids.length - 1]?.path);
      if (this.fs.exclusive) child.parentHint = this;
      return child;
    } catch (e) {
      if (e instanceof SyscallError && e.errno === Errno.ENOENT) return null;
      throw e;
    }
  }

  async lookup(name: string): Promise<FsNode | null> {
    return this.lookupNode(name);
  }

  private async lookupNode(name: string): Promise<GoferNode | null> {
    if (!this.fs.exclusive) return this.walkChild(name);
    const hit = this.names?.get(name);
    if (hit) {
      this.fs.names.touch(hit);
      return hit.node;
    }
    const listing = this.listing;
    if (listing) {
      this.fs.names.touch(listing);
      if (!listing.names.has(name)) return null;
    }
    const pending = this.inFlight?.get(name);
    if (pending) return pending;
    if (this.prefetchQueue?.delete(name)) return this.lookupOnce(name, true);
    if (listing && this.prefetchedFor !== listing) {
      // The application is looking at the entries of a directory it listed (ls -l, du, find with -size): walk and
      // stat them all now, many at once, rather than one round trip after another as it asks.
      this.prefetchedFor = listing;
      this.prefetch(listing, name);
      return this.lookupOnce(name, true);
    }
    return this.lookupOnce(name, false);
  }

  /** Walks to `name` (and stats it, if `withAttr`), caching the answer unless the sandbox changed something meanwhile. */
  private lookupOnce(name: string, withAttr: boolean): Promise<GoferNode | null> {
    const generation = this.fs.attrs.generation;
    const p = (async () => {
      const node = await this.walkChild(name);
      if (node && withAttr) await node.stat();
      if (generation === this.fs.attrs.generation) this.setName(name, node);
      return node;
    })();
    const inFlight = (this.inFlight ??= new Map());
    inFlight.set(name, p);
    const done = () => {
      if (inFlight.get(name) === p) inFlight.delete(name);
    };
    p.then(done, done);
    return p;
  }

  /** Walks and stats the listed names not known yet, PREFETCH_CONCURRENCY at a time, in listing order. */
  private prefetch(listing: ListingEntry, except: string): void {
    const queue = new Set<string>();
    for (const n of listing.names) {
      if (queue.size >= PREFETCH_MAX) break;
      if (n !== except && !this.names?.has(n) && !this.inFlight?.has(n)) queue.add(n);
    }
    this.prefetchQueue = queue;
    const worker = async (): Promise<void> => {
      while (this.prefetchQueue === queue && !this.client.closed) {
        const next = queue.values().next();
        if (next.done) return;
        queue.delete(next.value);
        // A failure here is the application's to see when it looks the name up itself.
        await this.lookupOnce(next.value, true).catch(() => null);
      }
    };
    for (let i = 0; i < PREFETCH_CONCURRENCY; i++) void worker();
  }

  /**
   * The application listed one of this directory's subdirectories: it is walking the tree (ls -R, du, find), so
   * the other subdirectories are listed now, PREFETCH_CONCURRENCY at a time, and entering each costs nothing more.
   * Not done before that sign: `ls -l` of a directory must not list every directory in it.
   */
  private listSubdirsAhead(): void {
    const listing = this.listing;
    if (!listing || this.subdirsListedFor === listing) return;
    this.subdirsListedFor = listing;
    const queue = [...listing.subdirs];
    const worker = async (): Promise<void> => {
      while (this.listing === listing && !this.client.closed) {
        const name = queue.shift();
        if (name === undefined) return;
        // Not lookupNode: that would walk and stat every entry, which a tree walk like find does not need.
        const node = await this.knownOrWalk(name).catch(() => null);
        if (node && !node.listing) await node.listEntries().catch(() => undefined);
      }
    };
    for (let i = 0; i < PREFETCH_CONCURRENCY; i++) void worker();
  }

  /**
   * Exclusive mounts: walks every prefix of `names` from this directory at once (one Twalk each, all in flight
   * together, then a Tgetattr of each), and records each node found under its parent, so resolving
   * a/b/c/d costs two round trips of latency rather than two per component. A prefix that does not exist (or
   * passes through a symlink, which the gofer never follows) only ends the fill; nothing negative is recorded.
   */
  async prefetchPath(names: readonly string[]): Promise<void> {
    if (!this.fs.exclusive || this.client.closed) return;
    // The cached part of the chain is walked in memory; fetch from where it ends.
    let dir: GoferNode = this;
    let i = 0;
    for (; i < names.length; i++) {
      const e = dir.names?.get(names[i]!);
      if (!e) break;
      if (!e.node) return;
      dir = e.node;
    }
    const rest = names.slice(i);
    if (rest.length < 2) return;
    if (dir.listing && !dir.listing.names.has(rest[0]!)) return;
    const generation = this.fs.attrs.generation;
    const walks = rest.map((_, k) =>
      p9(() => this.client.walk(dir.fid, rest.slice(0, k + 1)))
        .then(async ({ fid, qids }) => {
          const node = new GoferNode(this.fs, fid, qids[qids.length - 1]?.path);
          await node.stat();
          return node;
        })
        .catch(() => null),
    );
    const nodes = await Promise.all(walks);
    if (generation !== this.fs.attrs.generation) return;
    let parent = dir;
    for (let k = 0; k < nodes.length; k++) {
      const node = nodes[k];
      if (!node) return;
      // Another lookup may have recorded this name meanwhile: keep that node (a dentry may hold it).
      const known = parent.names?.get(rest[k]!);
      if (known?.node) parent = known.node;
      else {
        node.parentHint = parent;
        parent.setName(rest[k]!, node);
        parent = node;
      }
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
    if (this.fs.exclusive) this.parentHint?.listSubdirsAhead();
    return this.listEntries();
  }

  /** The entries, from the kept listing or the gofer (readdir without the application's read-ahead signal). */
  private async listEntries(): Promise<DirEntry[]> {
    if (this.listing) {
      this.fs.names.touch(this.listing);
      return this.listing.entries.map((e) => ({ ...e }));
    }
    if (!this.fs.exclusive) return this.fetchListing();
    // The application may open a directory the prefetch is listing right now: one listing serves both.
    const generation = this.fs.attrs.generation;
    if (!this.listingLoad || this.listingLoad.generation !== generation) {
      const load = this.fetchListing();
      this.listingLoad = { generation, load };
      const done = () => {
        if (this.listingLoad?.load === load) this.listingLoad = undefined;
      };
      load.then(done, done);
    }
    return (await this.listingLoad.load).map((e) => ({ ...e }));
  }

  private async fetchListing(): Promise<DirEntry[]> {
    const generation = this.fs.attrs.generation;
    const { fid } = await this.openFid(O_RDONLY | O_DIRECTORY);
    const out: DirEntry[] = [];
    try {
      let cookie = 0n;
      for (;;) {
        const batch = await p9(() => this.client.readdir(fid, cookie));
        if (batch.length === 0) break;
        for (const d of batch) {
          if (d.name !== '.' && d.name !== '..') out.push({ name: d.name, ino: d.qid.path, type: d.dtype });
          cookie = d.offset;
        }
      }
    } finally {
      // Nobody waits for the clunk: its answer changes nothing here.
      void this.client.clunk(fid).catch(() => undefined);
    }
    if (this.fs.exclusive && generation === this.fs.attrs.generation && out.length <= LISTING_MAX) {
      this.dropListing();
      this.listing = new ListingEntry(this, out.map((e) => ({ ...e })));
      this.fs.names.add(this.listing);
    }
    return out;
  }

  async readlink(): Promise<string> {
    return p9(() => this.client.readlink(this.fid));
  }

  /** The sandbox added or removed names here: the directory's own attributes (mtime, nlink) and listing changed. */
  private changedEntries(): void {
    this.invalidate();
    this.dropListing();
  }

  /** After a create: the child's node, owned by the creating task's ids (the gofer creates as itself). */
  private async created(name: string, attr: NewNodeAttr, chown = true): Promise<FsNode> {
    this.changedEntries();
    // Straight to the gofer: a cached "absent" or a lookup sent before the create would be wrong now.
    const child = await this.walkChild(name);
    if (!child) fail(Errno.EIO, `gofer lost ${name} right after creating it`);
    this.setName(name, child);
    if (chown) {
      const st = await child.stat();
      if (st.uid !== attr.uid || st.gid !== attr.gid) {
        child.invalidate();
        await p9(() => this.client.setattr(child.fid, { uid: attr.uid, gid: attr.gid }));
        child.invalidate();
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
    try {
      await p9(() => this.client.link(this.fid, target.fid, name));
    } finally {
      // The target's nlink and ctime changed; the new name is looked up when asked for.
      target.invalidate();
      this.changedEntries();
      this.forgetNameNow(name);
    }
  }

  /** Drops whatever is cached about `name` (the next lookup asks the gofer). */
  private forgetNameNow(name: string): void {
    const e = this.names?.get(name);
    if (e) {
      this.names!.delete(name);
      this.fs.names.remove(e);
    }
  }

  async unlink(name: string): Promise<void> {
    await this.remove(name, 0);
  }

  async rmdir(name: string): Promise<void> {
    await this.remove(name, AT_REMOVEDIR);
  }

  /** On an exclusive mount, the node a name leads to before we change it, so its attributes can be dropped. */
  private async victim(dir: GoferNode, name: string): Promise<GoferNode | null> {
    if (!this.fs.exclusive) return null;
    return dir.knownOrWalk(name).catch(() => null);
  }

  /** The cached answer for `name`, or one Twalk: never the read-ahead of the whole listing that lookup starts. */
  private knownOrWalk(name: string): Promise<GoferNode | null> {
    const known = this.names?.get(name);
    if (known) return Promise.resolve(known.node);
    return this.inFlight?.get(name) ?? this.lookupOnce(name, false);
  }

  private async remove(name: string, flags: number): Promise<void> {
    this.writable();
    const victim = await this.victim(this, name);
    try {
      try {
        await p9(() => this.client.unlinkat(this.fid, name, flags));
      } catch (e) {
        // Servers without Tunlinkat (diod) have Tremove: walk to the file and remove that fid.
        if (!(e instanceof SyscallError) || (e.errno !== Errno.EOPNOTSUPP && e.errno !== Errno.ENOSYS)) throw e;
        const { fid } = await p9(() => this.client.walk(this.fid, [name]));
        await p9(() => this.client.remove(fid));
      }
    } catch (e) {
      this.changedEntries();
      this.forgetNameNow(name);
      throw e;
    }
    // The file's nlink and ctime changed (it may live on through other links or open files).
    victim?.invalidate();
    this.changedEntries();
    this.setName(name, null);
  }

  async rename(oldName: string, newParent: FsNode, newName: string): Promise<void> {
    this.writable();
    if (!(newParent instanceof GoferNode) || newParent.fs !== this.fs) fail(Errno.EXDEV);
    const moved = await this.victim(this, oldName);
    const replaced = await this.victim(newParent, newName);
    try {
      try {
        await p9(() => this.client.renameat(this.fid, oldName, newParent.fid, newName));
      } catch (e) {
        // Servers without Trenameat (diod) still have Trename: walk to the file and rename that fid.
        if (!(e instanceof SyscallError) || (e.errno !== Errno.EOPNOTSUPP && e.errno !== Errno.ENOSYS)) throw e;
        // Such servers name files by path: only the fid renamed follows the file, so the moved node takes it.
        const { fid } = await p9(() => this.client.walk(this.fid, [oldName]));
        let kept = false;
        try {
          await p9(() => this.client.rpc({ type: 'Trename', fid, dfid: newParent.fid, name: newName }, 'Rrename'));
          if (moved) kept = moved.adoptFid(fid);
        } finally {
          if (!kept) await this.client.clunk(fid).catch(() => undefined);
        }
      }
    } catch (e) {
      this.changedEntries();
      newParent.changedEntries();
      this.forgetNameNow(oldName);
      newParent.forgetNameNow(newName);
      throw e;
    }
    // rename(2) changes the moved file's ctime and the replaced file's nlink; fids follow the rename, so the
    // moved node is right under its new name.
    moved?.invalidate();
    replaced?.invalidate();
    this.changedEntries();
    newParent.changedEntries();
    this.setName(oldName, null);
    if (moved) newParent.setName(newName, moved);
    else newParent.forgetNameNow(newName);
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
    /** Where the last read ended, and the read-ahead window (pages) that grows while reads stay sequential. */
    let lastEnd = -1;
    let window = READAHEAD_MIN_PAGES;
    const pagesPerRead = Math.max(1, Math.floor(client.maxReadCount / PAGE));

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

    const readRange = (offset: number, length: number): Promise<Buffer> => readDirect(length, offset);

    /** Starts fetching the pages in [from, to) that are neither cached nor on the way, pagesPerRead per Tread. */
    const readAhead = (from: number, to: number): void => {
      for (let idx = from; idx < to; ) {
        if (fs.hasPage(ino, idx)) {
          idx++;
          continue;
        }
        const n = Math.min(pagesPerRead, to - idx);
        fs.loadPages(ino, idx, n, readRange).catch(() => undefined);
        idx += n;
      }
    };

    const readCached = async (length: number, offset: number): Promise<Buffer> => {
      const size = Number((await this.stat()).size);
      if (offset >= size) return Buffer.alloc(0);
      const end = Math.min(size, offset + length);
      const lastPage = Math.ceil(size / PAGE);
      const sequential = offset === lastEnd || offset === 0;
      lastEnd = end;
      const endIdx = Math.ceil(end / PAGE);
      if (!sequential) window = READAHEAD_MIN_PAGES;
      else {
        // A sequential reader gets the pages after this read fetched while it works on these. As Linux's
        // readahead, the next window is asked for when the reader is half-way into the pages already ahead of it,
        // so each Tread carries a whole chunk of the window rather than one page at a time.
        let ahead = 0;
        while (endIdx + ahead < lastPage && ahead < window && fs.hasPage(ino, endIdx + ahead)) ahead++;
        if (ahead <= window / 2 && endIdx + ahead < lastPage) {
          window = Math.min(window * 2, READAHEAD_MAX_PAGES);
          readAhead(endIdx + ahead, Math.min(lastPage, endIdx + ahead + window));
        }
      }
      const parts: Buffer[] = [];
      for (let pos = offset; pos < end; ) {
        const idx = Math.floor(pos / PAGE);
        const want = Math.min(pagesPerRead, endIdx - idx, lastPage - idx);
        const page = await fs.loadPages(ino, idx, Math.max(1, want), readRange);
        const from = pos - idx * PAGE;
        if (from >= page.length) break;
        const n = Math.min(page.length - from, end - pos);
        parts.push(page.subarray(from, from + n));
        pos += n;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
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
        try {
          while (done < data.length) {
            const n = await p9(() => client.write(fid, at + done, data.subarray(done)));
            if (n === 0) break;
            done += n;
          }
        } finally {
          this.invalidate();
        }
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

  /** Attributes as the gofer has them now: cached ones are right only where the sandbox is the only writer. */
  private async statFresh(): Promise<Stat> {
    if (!this.fs.exclusive) this.attr = null;
    return this.stat();
  }
}

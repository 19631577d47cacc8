// The bounded caches of the gofer file system when the sandbox is the only writer of its tree (GoferFs
// `exclusive`): names looked up (found or not), whole directory listings and attributes stay valid until the
// sandbox itself changes them, so they are kept as long as memory allows instead of expiring. Both caches are
// least-recently-used with a fixed budget; what falls out is simply asked of the gofer again.
import type { Stat } from '../vfs/filesystem.js';

/** Something held in a WeightedLru: it costs `weight` units of the budget and is told when it is dropped. */
export interface LruEntry {
  readonly weight: number;
  /** Called when the LRU evicts the entry (not when the owner removes it itself). */
  evicted(): void;
}

/** An LRU over entries of different sizes (one cached name counts 1, a listing counts its names). */
export class WeightedLru<E extends LruEntry> {
  private readonly order = new Map<E, true>();
  private total = 0;

  constructor(public limit: number) {}

  /** Total weight held (always at most `limit` once add returns). */
  get weight(): number {
    return this.total;
  }

  get size(): number {
    return this.order.size;
  }

  add(e: E): void {
    if (this.order.has(e)) return this.touch(e);
    this.order.set(e, true);
    this.total += e.weight;
    if (this.total > this.limit) this.evict();
  }

  touch(e: E): void {
    if (!this.order.delete(e)) return;
    this.order.set(e, true);
  }

  remove(e: E): void {
    if (this.order.delete(e)) this.total -= e.weight;
  }

  private evict(): void {
    for (const e of this.order.keys()) {
      if (this.total <= this.limit) return;
      this.order.delete(e);
      this.total -= e.weight;
      e.evicted();
    }
  }
}

/** One file's cached attributes, shared by every node naming it (see InodeTable). */
export interface CachedInode {
  attr: Stat | null;
}

/**
 * The cached attributes of an exclusive mount, one record per inode number (qid path), shared by every node of
 * the same file (two names of a hard link, a name looked up again after its node was dropped), so one
 * invalidation reaches them all. A record lives as long as a node holds it (nodes are bounded by the name cache and
 * the VFS's dentry cache); the table itself holds it weakly.
 */
export class InodeTable {
  private readonly inodes = new Map<bigint, WeakRef<CachedInode>>();
  private sweepAt = 1024;
  /**
   * Bumped by every change the sandbox makes: an answer that was in flight across a change may describe the state
   * before it, so it is used but not kept.
   */
  generation = 0;

  /** Records alive (for tests of the memory bound). */
  get size(): number {
    let n = 0;
    for (const ref of this.inodes.values()) if (ref.deref()) n++;
    return n;
  }

  /** The shared record of inode `ino`. */
  inode(ino: bigint): CachedInode {
    const found = this.inodes.get(ino)?.deref();
    if (found) return found;
    const made: CachedInode = { attr: null };
    this.inodes.set(ino, new WeakRef(made));
    if (this.inodes.size >= this.sweepAt) {
      for (const [k, ref] of this.inodes) if (!ref.deref()) this.inodes.delete(k);
      this.sweepAt = Math.max(1024, this.inodes.size * 2);
    }
    return made;
  }

  /** The sandbox changed something: answers in flight are not to be kept. */
  changed(): void {
    this.generation++;
  }
}

// Dentries (the VFS's cached view of names), mounts and the mount namespace.
//
// A Dentry pins one FsNode under one name in its parent; lookups go through the parent's child cache first, so
// a path walked twice asks the file system once. A name removed or renamed through the VFS is dropped from the
// cache at once. A Mount attaches a file system's root dentry at a (parent mount, dentry) pair; path resolution
// crosses into the topmost mount at each step (mount_namespaces(7), path_resolution(7)).
import type { FilesystemImpl, FsNode } from './filesystem.js';

/**
 * The dentry cache is bounded: past `limit` cached dentries the least recently used leaves that nothing pins (no
 * open file, cwd or root, no mount, no cached children) are dropped from their parent's cache, so a walk over a
 * huge tree does not keep every node (and its gofer fid) forever. A dropped name is looked up again when needed.
 */
class DentryLru {
  private readonly order = new Map<Dentry, true>();
  limit = 50_000;

  touch(d: Dentry): void {
    this.order.delete(d);
    this.order.set(d, true);
    if (this.order.size > this.limit) this.evict();
  }

  forget(d: Dentry): void {
    this.order.delete(d);
  }

  get size(): number {
    return this.order.size;
  }

  private evict(): void {
    const target = Math.floor(this.limit * 0.9);
    for (const d of [...this.order.keys()]) {
      if (this.order.size <= target) return;
      if (d.evict()) this.order.delete(d);
    }
  }
}

export const dentryCache = new DentryLru();

export class Dentry {
  private readonly childCache = new Map<string, Dentry>();
  /** How many mounts sit on this dentry (in any mount); mountpoints cannot be removed (EBUSY). */
  mountCount = 0;
  /** Open files, cwds and roots holding this dentry: it stays cached while pinned. */
  pins = 0;
  /** Set once the name is unlinked: the node stays reachable only through open files and cwd. */
  dead = false;

  constructor(
    public name: string,
    public parent: Dentry | null,
    readonly node: FsNode,
  ) {}

  cachedChild(name: string): Dentry | undefined {
    return this.childCache.get(name);
  }

  /** Drops this dentry from its parent's cache if nothing needs it there; true if it went. */
  evict(): boolean {
    const p = this.parent;
    if (!p || this.pins > 0 || this.mountCount > 0 || this.childCache.size > 0) return false;
    if (p.childCache.get(this.name) === this) p.childCache.delete(this.name);
    return true;
  }

  /** Looks `name` up, through the cache; null if the file system has no such child. */
  async child(name: string): Promise<Dentry | null> {
    const hit = this.childCache.get(name);
    if (hit) {
      dentryCache.touch(hit);
      return hit;
    }
    const node = this.node.lookup ? await this.node.lookup(name) : null;
    if (!node) return null;
    if (this.node.fs.dynamic) return new Dentry(name, this, node);
    // Another lookup of the same name may have finished while this one waited on the file system.
    const raced = this.childCache.get(name);
    if (raced) return raced;
    const d = new Dentry(name, this, node);
    this.childCache.set(name, d);
    dentryCache.touch(d);
    return d;
  }

  /** Records a node the VFS just created under `name`. */
  addChild(name: string, node: FsNode): Dentry {
    const d = new Dentry(name, this, node);
    this.childCache.set(name, d);
    dentryCache.touch(d);
    return d;
  }

  /** Forgets `name` (after unlink, rmdir, rename); the dentry object lives on for holders of it. */
  dropChild(name: string): Dentry | undefined {
    const d = this.childCache.get(name);
    this.childCache.delete(name);
    if (d) dentryCache.forget(d);
    return d;
  }

  /** Moves a cached child to a new parent and name (rename). */
  moveChild(oldName: string, newParent: Dentry, newName: string): void {
    const d = this.childCache.get(oldName);
    this.childCache.delete(oldName);
    const replaced = newParent.childCache.get(newName);
    if (replaced) {
      replaced.dead = true;
      dentryCache.forget(replaced);
    }
    newParent.childCache.delete(newName);
    if (d) {
      d.name = newName;
      d.parent = newParent;
      newParent.childCache.set(newName, d);
    }
  }

  /** Drops the whole cache below this dentry (used when a file system's contents change behind the VFS). */
  invalidateChildren(): void {
    this.childCache.clear();
  }

  isAncestorOf(other: Dentry): boolean {
    for (let d: Dentry | null = other.parent; d; d = d.parent) if (d === this) return true;
    return false;
  }
}

export interface MountFlags {
  readonly: boolean;
  nosuid: boolean;
  nodev: boolean;
  noexec: boolean;
}

export class Mount {
  /** Mounts attached on dentries of this mount: the most recent mount on a dentry hides the earlier ones. */
  readonly children = new Map<Dentry, Mount[]>();

  constructor(
    readonly fs: FilesystemImpl,
    readonly root: Dentry,
    /** Where it is attached; null for the namespace's root mount. */
    readonly parent: Mount | null,
    readonly mountpoint: Dentry | null,
    public flags: MountFlags,
    /** The source as /proc/mounts shows it ("none", "tmpfs", a host path). */
    readonly source: string,
  ) {}

  /** The topmost mount on `d` within this mount, if any. */
  mountedOn(d: Dentry): Mount | undefined {
    const stack = this.children.get(d);
    return stack?.[stack.length - 1];
  }

  get isReadonly(): boolean {
    return this.flags.readonly || this.fs.readonly;
  }
}

/** A location in the VFS: a dentry as seen through a mount (gVisor's VirtualDentry, Linux's struct path). */
export interface VirtualDentry {
  readonly mount: Mount;
  readonly dentry: Dentry;
}

export function sameLocation(a: VirtualDentry, b: VirtualDentry): boolean {
  return a.mount === b.mount && a.dentry === b.dentry;
}

export const DEFAULT_MOUNT_FLAGS: MountFlags = { readonly: false, nosuid: false, nodev: false, noexec: false };

let nextDev = 1;
/** Device numbers for st_dev: one per file system instance, in the anonymous major 0 range like Linux. */
export function allocateDev(): number {
  return nextDev++;
}

export class MountNamespace {
  readonly root: Mount;
  private readonly all: Mount[] = [];

  constructor(rootFs: FilesystemImpl, source = 'none', flags: MountFlags = DEFAULT_MOUNT_FLAGS) {
    if (!rootFs.dev) rootFs.dev = allocateDev();
    this.root = new Mount(rootFs, new Dentry('/', null, rootFs.root()), null, null, { ...flags }, source);
    this.all.push(this.root);
  }

  get rootLocation(): VirtualDentry {
    return { mount: this.root, dentry: this.root.root };
  }

  /** Attaches `fs` at `at` (mount(2) semantics: it hides what was there until unmounted). */
  mount(at: VirtualDentry, fs: FilesystemImpl, source: string, flags: MountFlags = DEFAULT_MOUNT_FLAGS): Mount {
    if (!fs.dev) fs.dev = allocateDev();
    const m = new Mount(fs, new Dentry('/', null, fs.root()), at.mount, at.dentry, { ...flags }, source);
    const stack = at.mount.children.get(at.dentry) ?? [];
    stack.push(m);
    at.mount.children.set(at.dentry, stack);
    at.dentry.mountCount++;
    this.all.push(m);
    return m;
  }

  /** Detaches `m`; EBUSY semantics (open files) are the caller's business. */
  unmount(m: Mount): void {
    if (!m.parent || !m.mountpoint) throw new Error('cannot unmount the root mount');
    const stack = m.parent.children.get(m.mountpoint);
    if (stack) {
      const i = stack.indexOf(m);
      if (i >= 0) stack.splice(i, 1);
      if (stack.length === 0) m.parent.children.delete(m.mountpoint);
    }
    m.mountpoint.mountCount--;
    const j = this.all.indexOf(m);
    if (j >= 0) this.all.splice(j, 1);
    if (!this.all.some((o) => o.fs === m.fs)) m.fs.release?.();
  }

  /** Every mount, in mount order (for /proc/PID/mounts). */
  mounts(): readonly Mount[] {
    return this.all;
  }
}

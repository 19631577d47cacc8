// overlay: a writable file system made of a read-only lower layer (the image, over the gofer) and a writable upper
// layer (tmpfs in the sentry's memory), as Linux's overlayfs (Documentation/filesystems/overlayfs.rst): a name in
// the upper layer hides the same name below; directories present in both are merged; the first change to a lower
// file copies it up; removing a lower name leaves a whiteout (a 0:0 character device) in the upper layer; a
// directory re-created over a whiteout is opaque (its lower namesake's contents stay hidden). Renaming a directory
// that has lower contents copies its whole tree up first and makes the moved copy opaque (Linux's overlayfs
// without redirect_dir answers EXDEV instead; programs that rename directories without a copy fallback work here).
import { Errno, fail } from '../kernel/syscall_error.js';
import { DT_CHR, isDir, O_ACCMODE, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../vfs/constants.js';
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
import type { Tmpfs } from './tmpfs.js';

const OVERLAYFS_SUPER_MAGIC = 0x794c7630n;
/** Inode numbers of upper-only nodes are tagged so they never collide with lower inode numbers. */
const UPPER_INO_TAG = 1n << 62n;
const COPY_CHUNK = 1 << 20;
const ROOT_CREDS = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] };

function isWhiteout(st: Stat): boolean {
  return (st.mode & S_IFMT) === S_IFCHR && st.rdev === 0;
}

export class OverlayFs implements FilesystemImpl {
  readonly type = 'overlay';
  dev = 0;
  readonly readonly = false;
  /** Upper directories that hide their lower namesake's contents. */
  readonly opaque = new WeakSet<FsNode>();
  private readonly rootNode: OverlayNode;

  constructor(
    readonly lower: FilesystemImpl,
    readonly upper: Tmpfs,
  ) {
    this.rootNode = new OverlayNode(this, null, '', lower.root(), upper.root());
  }

  /**
   * Gives the upper root the lower root's owner, mode and times, as overlayfs shows a merged directory with its
   * upper attributes (and the upper root here is made fresh, not copied up).
   */
  async adoptLowerRootAttributes(): Promise<void> {
    const st = await this.lower.root().stat();
    await this.upper.root().setattr({
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      atimeNs: st.atimeNs,
      mtimeNs: st.mtimeNs,
    });
  }

  root(): OverlayNode {
    return this.rootNode;
  }

  async statfs(): Promise<StatFs> {
    return { ...(await this.upper.statfs()), type: OVERLAYFS_SUPER_MAGIC };
  }
}

export class OverlayNode implements FsNode {
  /**
   * Children already looked up and still held somewhere (a dentry, an open file): one node object per name, so a
   * copy-up is seen by every holder. Weak, so nodes the dentry cache let go can be collected.
   */
  private readonly children = new Map<string, WeakRef<OverlayNode>>();
  private copying: Promise<void> | null = null;

  constructor(
    readonly fs: OverlayFs,
    private parent: OverlayNode | null,
    private name: string,
    public lower: FsNode | null,
    public upper: FsNode | null,
  ) {}

  private get top(): FsNode {
    return (this.upper ?? this.lower)!;
  }

  async stat(): Promise<Stat> {
    const st = await this.top.stat();
    let ino = st.ino | UPPER_INO_TAG;
    if (this.lower) ino = this.upper ? (await this.lower.stat()).ino : st.ino;
    return { ...st, dev: this.fs.dev, ino };
  }

  private hidesLower(): boolean {
    return this.upper !== null && this.fs.opaque.has(this.upper);
  }

  private cachedChild(name: string): OverlayNode | undefined {
    const c = this.children.get(name)?.deref();
    if (!c) this.children.delete(name);
    return c;
  }

  private remember(name: string, node: OverlayNode): void {
    this.children.set(name, new WeakRef(node));
    if (this.children.size > 4096) {
      for (const [k, ref] of this.children) if (!ref.deref()) this.children.delete(k);
    }
  }

  async lookup(name: string): Promise<FsNode | null> {
    const cached = this.cachedChild(name);
    if (cached) return cached;
    let upperChild: FsNode | null = null;
    if (this.upper?.lookup) {
      upperChild = await this.upper.lookup(name);
      if (upperChild && isWhiteout(await upperChild.stat())) return null;
    }
    let lowerChild: FsNode | null = null;
    const upperIsDir = upperChild ? isDir((await upperChild.stat()).mode) : true;
    if (this.lower?.lookup && !this.hidesLower() && upperIsDir) {
      lowerChild = await this.lower.lookup(name);
      // A lower non-directory under an upper directory is hidden by it.
      if (upperChild && lowerChild && !isDir((await lowerChild.stat()).mode)) lowerChild = null;
    }
    if (!upperChild && !lowerChild) return null;
    const node = new OverlayNode(this.fs, this, name, lowerChild, upperChild);
    this.remember(name, node);
    return node;
  }

  /** Lets the lower layer fetch a path ahead (a cache fill there: every lookup still goes through `lookup`). */
  async prefetchPath(names: readonly string[]): Promise<void> {
    if (this.cachedChild(names[0]!)) return;
    if (this.lower?.prefetchPath && !this.hidesLower()) await this.lower.prefetchPath(names);
  }

  async readdir(): Promise<DirEntry[]> {
    const entries = new Map<string, DirEntry>();
    const hidden = new Set<string>();
    if (this.upper?.readdir) {
      for (const e of await this.upper.readdir()) {
        if (e.type === DT_CHR) {
          const n = await this.upper.lookup!(e.name);
          if (n && isWhiteout(await n.stat())) {
            hidden.add(e.name);
            continue;
          }
        }
        entries.set(e.name, { ...e, ino: e.ino | UPPER_INO_TAG });
      }
    }
    if (this.lower?.readdir && !this.hidesLower()) {
      for (const e of await this.lower.readdir()) {
        if (hidden.has(e.name)) continue;
        const up = entries.get(e.name);
        if (up) {
          if (up.type === e.type) up.ino = e.ino;
          continue;
        }
        entries.set(e.name, e);
      }
    }
    return [...entries.values()];
  }

  async readlink(): Promise<string> {
    if (!this.top.readlink) fail(Errno.EINVAL);
    return this.top.readlink();
  }

  /** Makes sure this node exists in the upper layer (copying the lower file, directory or link up). */
  async copyUp(): Promise<void> {
    if (this.upper) return;
    if (!this.copying) {
      this.copying = this.doCopyUp().finally(() => {
        this.copying = null;
      });
    }
    return this.copying;
  }

  private async doCopyUp(): Promise<void> {
    const parent = this.parent!;
    await parent.copyUp();
    const dir = parent.upper!;
    const lower = this.lower!;
    // Another node object for the same name may have copied it up already (after its dentry was evicted and the
    // name looked up again): adopt that copy.
    const existing = await dir.lookup!(this.name);
    if (existing && !isWhiteout(await existing.stat())) {
      this.upper = existing;
      return;
    }
    const st = await lower.stat();
    const attr: NewNodeAttr = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    let up: FsNode;
    switch (st.mode & S_IFMT) {
      case S_IFDIR:
        up = await dir.mkdir!(this.name, attr);
        break;
      case S_IFREG: {
        up = await dir.create!(this.name, attr);
        const src = await lower.open!({ flags: O_RDONLY, creds: ROOT_CREDS });
        const dst = await up.open!({ flags: O_WRONLY, creds: ROOT_CREDS });
        try {
          for (let off = 0n; ; ) {
            const chunk = await src.read!(COPY_CHUNK, off);
            if (chunk.length === 0) break;
            // A full upper layer writes short, then fails: loop so a short write ends in that ENOSPC.
            for (let done = 0; done < chunk.length; ) {
              done += await dst.write!(chunk.subarray(done), off + BigInt(done), false);
            }
            off += BigInt(chunk.length);
          }
        } catch (e) {
          // A partial copy must not stay in the upper layer: a later lookup would adopt it and hide the whole
          // lower file behind its first bytes.
          await dir.unlink!(this.name).catch(() => undefined);
          throw e;
        } finally {
          src.release?.();
          dst.release?.();
        }
        break;
      }
      case S_IFLNK:
        up = await dir.symlink!(this.name, await lower.readlink!(), attr);
        break;
      default:
        up = await dir.mknod!(this.name, st.mode & S_IFMT, st.rdev, attr);
    }
    await up.setattr?.({ atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
    this.upper = up;
  }

  /** Copies this node and, for a directory, everything visible below it into the upper layer. */
  async copyUpTree(): Promise<void> {
    await this.copyUp();
    if (!isDir((await this.stat()).mode)) return;
    for (const e of await this.readdir()) {
      const child = (await this.lookup(e.name)) as OverlayNode | null;
      if (child) await child.copyUpTree();
    }
  }

  /** Removes a whiteout at `name` in the upper directory; true if there was one. */
  private async clearWhiteout(name: string): Promise<boolean> {
    const n = await this.upper!.lookup!(name);
    if (!n || !isWhiteout(await n.stat())) return false;
    await this.upper!.unlink!(name);
    return true;
  }

  private async whiteout(name: string): Promise<void> {
    await this.upper!.mknod!(name, S_IFCHR, 0, { mode: 0, uid: 0, gid: 0 });
  }

  private async made(name: string, up: FsNode): Promise<FsNode> {
    const node = new OverlayNode(this.fs, this, name, null, up);
    this.remember(name, node);
    return node;
  }

  async create(name: string, attr: NewNodeAttr): Promise<FsNode> {
    await this.copyUp();
    await this.clearWhiteout(name);
    return this.made(name, await this.upper!.create!(name, attr));
  }

  async mkdir(name: string, attr: NewNodeAttr): Promise<FsNode> {
    await this.copyUp();
    const wasWhiteout = await this.clearWhiteout(name);
    const up = await this.upper!.mkdir!(name, attr);
    if (wasWhiteout) this.fs.opaque.add(up);
    return this.made(name, up);
  }

  async mknod(name: string, type: number, rdev: number, attr: NewNodeAttr): Promise<FsNode> {
    await this.copyUp();
    await this.clearWhiteout(name);
    return this.made(name, await this.upper!.mknod!(name, type, rdev, attr));
  }

  async symlink(name: string, target: string, attr: NewNodeAttr): Promise<FsNode> {
    await this.copyUp();
    await this.clearWhiteout(name);
    return this.made(name, await this.upper!.symlink!(name, target, attr));
  }

  async link(name: string, target: FsNode): Promise<void> {
    if (!(target instanceof OverlayNode) || target.fs !== this.fs) fail(Errno.EXDEV);
    await target.copyUp();
    await this.copyUp();
    await this.clearWhiteout(name);
    await this.upper!.link!(name, target.upper!);
    this.remember(name, target);
  }

  private async child(name: string): Promise<OverlayNode> {
    const c = await this.lookup(name);
    if (!c) fail(Errno.ENOENT, name);
    return c as OverlayNode;
  }

  async unlink(name: string): Promise<void> {
    const c = await this.child(name);
    await this.copyUp();
    if (c.upper) await this.upper!.unlink!(name);
    if (c.lower) await this.whiteout(name);
    this.children.delete(name);
  }

  /** Deletes the whiteouts left in an upper directory that is about to go away (it looks empty when merged). */
  private static async clearUpperDir(dir: FsNode): Promise<void> {
    for (const e of (await dir.readdir?.()) ?? []) await dir.unlink!(e.name);
  }

  async rmdir(name: string): Promise<void> {
    const c = await this.child(name);
    if ((await c.readdir()).length > 0) fail(Errno.ENOTEMPTY, name);
    await this.copyUp();
    if (c.upper) {
      await OverlayNode.clearUpperDir(c.upper);
      await this.upper!.rmdir!(name);
    }
    if (c.lower) await this.whiteout(name);
    this.children.delete(name);
  }

  async rename(oldName: string, newParent: FsNode, newName: string): Promise<void> {
    if (!(newParent instanceof OverlayNode) || newParent.fs !== this.fs) fail(Errno.EXDEV);
    const c = await this.child(oldName);
    const dir = isDir((await c.stat()).mode);
    const movedLowerDir = dir && c.lower !== null;
    if (movedLowerDir) await c.copyUpTree();
    else await c.copyUp();
    await newParent.copyUp();
    const target = (await newParent.lookup(newName)) as OverlayNode | null;
    let hidesLowerDir = await newParent.clearWhiteout(newName);
    if (target) {
      if (target.upper && isDir((await target.upper.stat()).mode)) await OverlayNode.clearUpperDir(target.upper);
      if (target.lower) {
        hidesLowerDir = isDir((await target.lower.stat()).mode);
        // The lower namesake must stay hidden once the upper entry is replaced: leave a whiteout if nothing upper.
        if (!target.upper) await newParent.whiteout(newName);
      }
    }
    await this.upper!.rename!(oldName, newParent.upper!, newName);
    // A moved directory carries all its contents in the upper layer now: nothing below may show through it.
    if (dir && (hidesLowerDir || movedLowerDir)) this.fs.opaque.add(c.upper!);
    if (c.lower) await this.whiteout(oldName);
    this.children.delete(oldName);
    newParent.remember(newName, c);
    c.parent = newParent;
    c.name = newName;
    c.lower = null;
  }

  async getxattr(name: string): Promise<Buffer> {
    if (!this.top.getxattr) fail(Errno.EOPNOTSUPP);
    return this.top.getxattr(name);
  }

  async listxattr(): Promise<string[]> {
    return this.top.listxattr ? this.top.listxattr() : [];
  }

  async setxattr(name: string, value: Buffer, flags: number): Promise<void> {
    await this.copyUp();
    if (!this.upper!.setxattr) fail(Errno.EOPNOTSUPP);
    await this.upper!.setxattr(name, value, flags);
  }

  async removexattr(name: string): Promise<void> {
    await this.copyUp();
    if (!this.upper!.removexattr) fail(Errno.EOPNOTSUPP);
    await this.upper!.removexattr(name);
  }

  async setattr(attr: SetAttr): Promise<void> {
    await this.copyUp();
    if (!this.upper!.setattr) fail(Errno.EPERM);
    await this.upper!.setattr(attr);
  }

  async open(opts: OpenOptions): Promise<FileDescriptionImpl> {
    const acc = opts.flags & O_ACCMODE;
    if (acc === O_WRONLY || acc === O_RDWR || opts.flags & O_TRUNC) await this.copyUp();
    const top = this.top;
    if (!top.open) fail(Errno.EINVAL);
    return top.open(opts);
  }
}

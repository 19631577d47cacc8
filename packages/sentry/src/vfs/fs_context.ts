// A task's file-system context: root, working directory and umask (Linux's fs_struct). Shared by tasks created
// with CLONE_FS, copied otherwise (clone(2)).
import type { MountNamespace, VirtualDentry } from './mount.js';

export class FsContext {
  private rootVd!: VirtualDentry;
  private cwdVd!: VirtualDentry;

  constructor(
    readonly mounts: MountNamespace,
    root: VirtualDentry,
    cwd: VirtualDentry,
    public umask = 0o022,
  ) {
    this.root = root;
    this.cwd = cwd;
  }

  /** The task's root (chroot(2)); pinned in the dentry cache while it is. */
  get root(): VirtualDentry {
    return this.rootVd;
  }
  set root(vd: VirtualDentry) {
    vd.dentry.pins++;
    if (this.rootVd) this.rootVd.dentry.pins--;
    this.rootVd = vd;
  }

  /** The working directory; pinned in the dentry cache while it is (so getcwd sees it removed). */
  get cwd(): VirtualDentry {
    return this.cwdVd;
  }
  set cwd(vd: VirtualDentry) {
    vd.dentry.pins++;
    if (this.cwdVd) this.cwdVd.dentry.pins--;
    this.cwdVd = vd;
  }

  fork(): FsContext {
    return new FsContext(this.mounts, this.root, this.cwd, this.umask);
  }

  /** The last task using this context exited: unpin its root and cwd. */
  release(): void {
    this.rootVd.dentry.pins--;
    this.cwdVd.dentry.pins--;
  }
}

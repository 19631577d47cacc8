// A task's file-system context: root, working directory and umask (Linux's fs_struct). Shared by tasks created
// with CLONE_FS, copied otherwise (clone(2)).
import type { MountNamespace, VirtualDentry } from './mount.js';

export class FsContext {
  constructor(
    readonly mounts: MountNamespace,
    public root: VirtualDentry,
    public cwd: VirtualDentry,
    public umask = 0o022,
  ) {}

  fork(): FsContext {
    return new FsContext(this.mounts, this.root, this.cwd, this.umask);
  }
}

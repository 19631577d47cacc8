// Locations for open files that have no name (pipes, the container's host stdio): /proc/PID/fd/N must still lead
// somewhere that can be opened again, as Linux reopens a pipe or a tty through its pipefs/devpts inode. Each such
// file gets a node in one private "anon" file system whose open() asks the file for a new description of the same
// object (FileDescriptionImpl.reopen).
import { Errno, fail } from '../kernel/syscall_error.js';
import { S_IFREG } from './constants.js';
import type { FileDescription } from './file_description.js';
import type { FileDescriptionImpl, FilesystemImpl, FsNode, OpenOptions, Stat, StatFs } from './filesystem.js';
import { Dentry, MountNamespace, type VirtualDentry } from './mount.js';

class AnonFs implements FilesystemImpl {
  readonly type = 'anon_inodefs';
  dev = 0;
  readonly readonly = true;
  readonly dynamic = true;
  readonly servesDevices = true;
  private readonly rootNode: FsNode = {
    fs: this,
    stat: async () => fail(Errno.ENOENT),
  };
  root(): FsNode {
    return this.rootNode;
  }
  async statfs(): Promise<StatFs> {
    return { type: 0x09041934n, bsize: 4096n, blocks: 0n, bfree: 0n, bavail: 0n, files: 0n, ffree: 0n, namelen: 255n, frsize: 4096n, flags: 0n };
  }
}

let anon: MountNamespace | null = null;

/**
 * fstat(2) of an anonymous-inode file (eventfd, timerfd, epoll): Linux shows a 0600 regular file of size 0 owned by
 * root on the anon_inodefs device, with the times of its creation.
 */
export function anonInodeStat(dev: number, ino: bigint, createdNs: bigint): Stat {
  return {
    dev,
    ino,
    mode: S_IFREG | 0o600,
    nlink: 1,
    uid: 0,
    gid: 0,
    rdev: 0,
    size: 0n,
    blksize: 4096,
    blocks: 0n,
    atimeNs: createdNs,
    mtimeNs: createdNs,
    ctimeNs: createdNs,
  };
}

class AnonNode implements FsNode {
  constructor(
    readonly fs: FilesystemImpl,
    private readonly file: FileDescription,
  ) {}
  stat(): Promise<Stat> {
    return this.file.stat();
  }
  async open(opts: OpenOptions): Promise<FileDescriptionImpl> {
    return this.file.impl.reopen!(opts.flags);
  }
}

/** A location that reopens `file`, or null if the file cannot be reopened. */
export function anonLocation(file: FileDescription): VirtualDentry | null {
  if (!file.impl.reopen) return null;
  anon ??= new MountNamespace(new AnonFs(), 'anon');
  const node = new AnonNode(anon.root.fs, file);
  return { mount: anon.root, dentry: new Dentry('anon', anon.root.root, node) };
}

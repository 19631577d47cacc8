// The seams between the VFS and the file systems (design.md "File systems", style.md "Interfaces at the seams").
// Every file system (tmpfs, gofer, overlay, proc, dev) implements FilesystemImpl and FsNode; every open file
// implements FileDescriptionImpl. The VFS (path resolution, mounts, permissions, fd tables) and the syscalls see only
// these interfaces, never which file system they hold.
//
// All node operations are asynchronous because the gofer answers over a socket. Operations a file system does not
// support are simply absent: the VFS answers them with the errno Linux gives (EPERM, ENOTDIR, EINVAL, ...).
import type { Credentials } from '../kernel/context.js';

/** What stat(2) reports about a node. Times are nanoseconds since the epoch. */
export interface Stat {
  dev: number;
  ino: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: bigint;
  blksize: number;
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The attributes chmod/chown/truncate/utimensat change; absent fields stay as they are. */
export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: bigint;
  atimeNs?: bigint;
  mtimeNs?: bigint;
}

/** One directory entry as a file system lists it ("." and ".." are added by the VFS). */
export interface DirEntry {
  name: string;
  ino: bigint;
  /** DT_* value. */
  type: number;
}

/** Owner and permission bits of a new node (the VFS has already applied the umask). */
export interface NewNodeAttr {
  /** Permission bits only (07777). */
  mode: number;
  uid: number;
  gid: number;
}

export interface StatFs {
  type: bigint;
  bsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
  namelen: bigint;
  frsize: bigint;
  flags: bigint;
}

/** One mounted file system instance. */
export interface FilesystemImpl {
  /** The file system type as /proc/mounts names it ("tmpfs", "9p", "overlay", "proc", ...). */
  readonly type: string;
  /** The device number the VFS assigned (st_dev of every node). */
  dev: number;
  /** True if nothing on it can be changed (EROFS for writes). */
  readonly readonly: boolean;
  root(): FsNode;
  statfs(): Promise<StatFs>;
  /**
   * Names change without the VFS seeing it (procfs: processes come and go, fds open and close): the VFS must not
   * cache lookups on it.
   */
  readonly dynamic?: boolean;
  /** Its device and FIFO nodes open through FsNode.open, not the device registry (anonymous-file reopen). */
  readonly servesDevices?: boolean;
  /** Called when the last mount of it goes away. */
  release?(): void;
}

/** Options of FsNode.open, as open(2) gave them (O_CREAT/O_EXCL/O_TRUNC already handled by the VFS). */
export interface OpenOptions {
  flags: number;
  creds: Credentials;
}

/**
 * One node (inode) of a file system. Directory operations exist only on directories, readlink only on symlinks.
 * Names given to directory operations are single components, never "." or "..", at most NAME_MAX bytes.
 * The VFS checks permissions before calling; nodes check only what they alone know (EEXIST, ENOTEMPTY, ...).
 */
export interface FsNode {
  readonly fs: FilesystemImpl;
  stat(): Promise<Stat>;
  setattr?(attr: SetAttr): Promise<void>;

  /** The child named `name`, or null if there is none. */
  lookup?(name: string): Promise<FsNode | null>;
  /**
   * A hint before resolving several components below this directory (`names`, none "." or ".."): a file system
   * whose lookups cost round trips may fetch them all at once into its own caches. It changes nothing the
   * lookups then answer, and may do nothing.
   */
  prefetchPath?(names: readonly string[]): Promise<void>;
  readdir?(): Promise<DirEntry[]>;
  /** Creates a regular file; EEXIST if the name is taken. */
  create?(name: string, attr: NewNodeAttr): Promise<FsNode>;
  mkdir?(name: string, attr: NewNodeAttr): Promise<FsNode>;
  /** Creates a device, fifo or socket node (`type` is the S_IF* bits). */
  mknod?(name: string, type: number, rdev: number, attr: NewNodeAttr): Promise<FsNode>;
  symlink?(name: string, target: string, attr: NewNodeAttr): Promise<FsNode>;
  /** Adds a hard link named `name` to `target` (a node of the same file system). */
  link?(name: string, target: FsNode): Promise<void>;
  /** Removes the non-directory child `name`. */
  unlink?(name: string): Promise<void>;
  /** Removes the empty directory child `name` (ENOTEMPTY otherwise). */
  rmdir?(name: string): Promise<void>;
  /**
   * Moves child `oldName` to `newParent` (same file system) as `newName`, replacing what is there; the VFS has
   * already checked the replacement is compatible (dir over empty dir, non-dir over non-dir).
   */
  rename?(oldName: string, newParent: FsNode, newName: string): Promise<void>;

  readlink?(): Promise<string>;

  /** Opens a regular file or a special file the file system serves itself (proc files, devices in devfs). */
  open?(opts: OpenOptions): Promise<FileDescriptionImpl>;

  getxattr?(name: string): Promise<Buffer>;
  setxattr?(name: string, value: Buffer, flags: number): Promise<void>;
  listxattr?(): Promise<string[]>;
  removexattr?(name: string): Promise<void>;

  /**
   * For symlink-like proc files (/proc/self/cwd, /proc/PID/fd/N): where the link leads, as a location in the
   * VFS, instead of a path to re-resolve. Returns null when the path text from readlink should be followed.
   */
  followLink?(): Promise<import('./mount.js').VirtualDentry | null>;
}

/** Arguments of FileDescriptionImpl.ioctl: the raw request and argument, and the caller's memory. */
export interface IoctlRequest {
  request: number;
  arg: bigint;
  memory: import('../kernel/context.js').TaskMemory;
}

/**
 * An open file's operations. Reads and writes never block: a file that has nothing to give yet throws
 * SyscallError(EAGAIN) and reports readiness through `readiness`/`subscribe`; the syscall layer waits through the
 * task's Blocker unless the description is O_NONBLOCK (the netstack Endpoint + waiter.Queue split).
 */
export interface FileDescriptionImpl {
  /** False for pipes, sockets, ttys: lseek and pread/pwrite fail with ESPIPE. */
  readonly seekable: boolean;
  /** Reads up to `length` bytes at `offset` (ignored by non-seekable files); an empty buffer means end of file. */
  read?(length: number, offset: bigint): Promise<Buffer>;
  /** Writes `data` at `offset` (or at the end when `append`); returns the count written. */
  write?(data: Buffer, offset: bigint, append: boolean): Promise<number>;
  /** The file's size for SEEK_END and O_APPEND, when the file has one. */
  size?(): Promise<bigint>;
  /** stat of the open file (for files without a node, e.g. pipes). */
  stat?(): Promise<Stat>;
  ioctl?(req: IoctlRequest): Promise<number>;
  /** Current poll(2) events (POLLIN, POLLOUT, POLLHUP, POLLERR); files without it are always ready. */
  readiness?(): number;
  /** Calls `wake` whenever readiness may have changed; returns the unsubscribe function. */
  subscribe?(wake: () => void): () => void;
  fsync?(): Promise<void>;
  /** A new open of the same object (a pipe end, a host tty) for /proc/PID/fd/N; absent if it cannot be reopened. */
  reopen?(flags: number): FileDescriptionImpl;
  /** Called once, when the last descriptor referring to the open file is closed. */
  release?(): void;
}

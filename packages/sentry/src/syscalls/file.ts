// Path and file syscalls: open(2)/openat/creat, close(2), mkdir(2), mknod(2), unlink(2), rmdir(2), rename(2),
// link(2), symlink(2), readlink(2), chmod(2), chown(2), truncate(2), utimensat(2), access(2), umask(2), fsync(2),
// mount(2)/umount2(2). The VFS (vfs/operations.ts) does the work; these decode arguments and pick dirfds.
import { Errno, fail } from '../kernel/syscall_error.js';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  O_CLOEXEC,
  O_CREAT,
  O_LARGEFILE,
  O_TRUNC,
  O_WRONLY,
} from '../vfs/constants.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import {
  accessAt,
  chmodLocation,
  chownLocation,
  linkAt,
  lookupAt,
  mkdirAt,
  mknodAt,
  openAt,
  readlinkAt,
  renameAt,
  symlinkAt,
  truncateLocation,
  unlinkAt,
  utimesLocation,
} from '../vfs/operations.js';
import { intArg, offArg, u32Arg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

const path = (task: FsSyscallContext, addr: bigint): string => task.memory.readCString(addr);

async function doOpen(task: FsSyscallContext, dirfd: number, p: string, flags: number, mode: number): Promise<number> {
  // On 64-bit Linux every open is O_LARGEFILE (force_o_largefile), visible in F_GETFL.
  const file = await openAt(task, dirfd, p, flags | O_LARGEFILE, mode);
  try {
    return task.fdTable.install(file, { cloexec: (flags & O_CLOEXEC) !== 0 });
  } catch (e) {
    file.incRef();
    file.decRef();
    throw e;
  }
}

const open: H = (task, [p, flags, mode]) => doOpen(task, AT_FDCWD, path(task, p), intArg(flags), u32Arg(mode));
const openat: H = (task, [dirfd, p, flags, mode]) =>
  doOpen(task, intArg(dirfd), path(task, p), intArg(flags), u32Arg(mode));
const creat: H = (task, [p, mode]) =>
  doOpen(task, AT_FDCWD, path(task, p), O_CREAT | O_WRONLY | O_TRUNC, u32Arg(mode));

const close: H = (task, [fd]) => {
  task.fdTable.close(intArg(fd));
  return 0;
};

const mkdir: H = async (task, [p, mode]) => (await mkdirAt(task, AT_FDCWD, path(task, p), u32Arg(mode)), 0);
const mkdirat: H = async (task, [dirfd, p, mode]) =>
  (await mkdirAt(task, intArg(dirfd), path(task, p), u32Arg(mode)), 0);
const mknod: H = async (task, [p, mode, dev]) =>
  (await mknodAt(task, AT_FDCWD, path(task, p), u32Arg(mode), u32Arg(dev)), 0);
const mknodat: H = async (task, [dirfd, p, mode, dev]) =>
  (await mknodAt(task, intArg(dirfd), path(task, p), u32Arg(mode), u32Arg(dev)), 0);

const unlink: H = async (task, [p]) => (await unlinkAt(task, AT_FDCWD, path(task, p), 0), 0);
const rmdir: H = async (task, [p]) => (await unlinkAt(task, AT_FDCWD, path(task, p), AT_REMOVEDIR), 0);
const unlinkat: H = async (task, [dirfd, p, flags]) =>
  (await unlinkAt(task, intArg(dirfd), path(task, p), intArg(flags)), 0);

const rename: H = async (task, [o, n]) => (await renameAt(task, AT_FDCWD, path(task, o), AT_FDCWD, path(task, n), 0), 0);
const renameat: H = async (task, [od, o, nd, n]) =>
  (await renameAt(task, intArg(od), path(task, o), intArg(nd), path(task, n), 0), 0);
const renameat2: H = async (task, [od, o, nd, n, flags]) =>
  (await renameAt(task, intArg(od), path(task, o), intArg(nd), path(task, n), u32Arg(flags)), 0);

const link: H = async (task, [o, n]) => (await linkAt(task, AT_FDCWD, path(task, o), AT_FDCWD, path(task, n), 0), 0);
const linkat: H = async (task, [od, o, nd, n, flags]) =>
  (await linkAt(task, intArg(od), path(task, o), intArg(nd), path(task, n), intArg(flags)), 0);

const symlink: H = async (task, [target, p]) => (await symlinkAt(task, path(task, target), AT_FDCWD, path(task, p)), 0);
const symlinkat: H = async (task, [target, dirfd, p]) =>
  (await symlinkAt(task, path(task, target), intArg(dirfd), path(task, p)), 0);

async function doReadlink(task: FsSyscallContext, dirfd: number, p: string, buf: bigint, size: number): Promise<number> {
  if (size <= 0) fail(Errno.EINVAL, 'readlink buffer size must be positive');
  const target = Buffer.from(await readlinkAt(task, dirfd, p));
  // readlink(2) truncates silently and does not add a NUL.
  const out = target.subarray(0, Math.min(size, target.length));
  task.memory.write(buf, out);
  return out.length;
}
const readlink: H = (task, [p, buf, size]) => doReadlink(task, AT_FDCWD, path(task, p), buf, intArg(size));
const readlinkat: H = (task, [dirfd, p, buf, size]) => doReadlink(task, intArg(dirfd), path(task, p), buf, intArg(size));

const chmod: H = async (task, [p, mode]) =>
  (await chmodLocation(task, await lookupAt(task, AT_FDCWD, path(task, p), { follow: true }), u32Arg(mode)), 0);
const fchmod: H = async (task, [fd, mode]) => {
  const f = task.fdTable.get(intArg(fd));
  if (!f.location || f.isPath) fail(Errno.EBADF);
  await chmodLocation(task, f.location, u32Arg(mode));
  return 0;
};
const fchmodat: H = async (task, [dirfd, p, mode]) => {
  // The fchmodat system call takes three arguments (fchmodat(2) NOTES: the flags argument is a glibc wrapper
  // feature); the fourth register holds whatever the caller left there, so it is not read. Reading it as flags
  // failed coreutils chmod with EOPNOTSUPP whenever r10 happened to have bit 0x100 set.
  await chmodLocation(task, await lookupAt(task, intArg(dirfd), path(task, p), { follow: true }), u32Arg(mode));
  return 0;
};

const chownPath = (follow: boolean): H => async (task, [p, uid, gid]) =>
  (await chownLocation(task, await lookupAt(task, AT_FDCWD, path(task, p), { follow }), intArg(uid), intArg(gid)), 0);
const fchown: H = async (task, [fd, uid, gid]) => {
  const f = task.fdTable.get(intArg(fd));
  if (!f.location || f.isPath) fail(Errno.EBADF);
  await chownLocation(task, f.location, intArg(uid), intArg(gid));
  return 0;
};
const fchownat: H = async (task, [dirfd, p, uid, gid, flags]) => {
  const fl = intArg(flags);
  if (fl & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) fail(Errno.EINVAL);
  const vd = await lookupAt(task, intArg(dirfd), path(task, p), {
    follow: (fl & AT_SYMLINK_NOFOLLOW) === 0,
    emptyPath: (fl & AT_EMPTY_PATH) !== 0,
  });
  await chownLocation(task, vd, intArg(uid), intArg(gid));
  return 0;
};

const truncate: H = async (task, [p, len]) =>
  (await truncateLocation(task, await lookupAt(task, AT_FDCWD, path(task, p), { follow: true }), offArg(len)), 0);
const ftruncate: H = async (task, [fd, len]) => {
  const f = task.fdTable.get(intArg(fd));
  // ftruncate(2): EINVAL (Linux) when the fd is not open for writing or is not a regular file.
  if (!f.writable || !f.location) fail(Errno.EINVAL, 'fd not open for writing');
  const size = offArg(len);
  if (size < 0n) fail(Errno.EINVAL);
  const node = f.location.dentry.node;
  if (!node.setattr) fail(Errno.EINVAL);
  await node.setattr({ size });
  return 0;
};

const UTIME_NOW = (1n << 30n) - 1n;
const UTIME_OMIT = (1n << 30n) - 2n;

/** utimensat(2): times == NULL means both "now"; UTIME_NOW / UTIME_OMIT per field. */
const utimensat: H = async (task, [dirfd, p, times, flags]) => {
  const fl = intArg(flags);
  if (fl & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) fail(Errno.EINVAL);
  const now = BigInt(Date.now()) * 1_000_000n;
  let atime: bigint | null = now;
  let mtime: bigint | null = now;
  let explicit = false;
  if (times !== 0n) {
    const decode = (addr: bigint): bigint | null => {
      const sec = BigInt.asIntN(64, task.memory.readU64(addr));
      const nsec = BigInt.asIntN(64, task.memory.readU64(addr + 8n));
      if (nsec === UTIME_OMIT) return null;
      if (nsec === UTIME_NOW) return now;
      if (nsec < 0n || nsec > 999_999_999n) fail(Errno.EINVAL, 'bad tv_nsec');
      explicit = true;
      return sec * 1_000_000_000n + nsec;
    };
    atime = decode(times);
    mtime = decode(times + 16n);
    if (atime === null && mtime === null) return 0;
  }
  // A NULL path with a dirfd updates the file dirfd refers to (the futimens(3) form).
  const vd =
    p === 0n
      ? await lookupAt(task, intArg(dirfd), '', { follow: true, emptyPath: true })
      : await lookupAt(task, intArg(dirfd), path(task, p), {
          follow: (fl & AT_SYMLINK_NOFOLLOW) === 0,
          emptyPath: (fl & AT_EMPTY_PATH) !== 0,
        });
  await utimesLocation(task, vd, atime, mtime, explicit);
  return 0;
};

const access: H = async (task, [p, mode]) => (await accessAt(task, AT_FDCWD, path(task, p), intArg(mode), 0), 0);
const faccessat: H = async (task, [dirfd, p, mode]) =>
  (await accessAt(task, intArg(dirfd), path(task, p), intArg(mode), 0), 0);
const faccessat2: H = async (task, [dirfd, p, mode, flags]) =>
  (await accessAt(task, intArg(dirfd), path(task, p), intArg(mode), intArg(flags)), 0);

const umask: H = (task, [mask]) => {
  const old = task.fsContext.umask;
  task.fsContext.umask = u32Arg(mask) & 0o777;
  return old;
};

/** fsync(2): EINVAL for files that cannot be synchronized (pipes, sockets). */
const fsync: H = async (task, [fd]) => {
  const f = task.fdTable.get(intArg(fd));
  if (f.isPath) fail(Errno.EBADF);
  if (!f.location && !f.impl.fsync) fail(Errno.EINVAL);
  await f.impl.fsync?.();
  return 0;
};

/** sync(2)/syncfs(2): every file system here writes through (tmpfs, gofer writes are synchronous 9P calls). */
const sync: H = () => 0;
const syncfs: H = (task, [fd]) => (task.fdTable.get(intArg(fd)), 0);

/** mount(2)/umount2(2): not supported inside the sandbox; mounts come from the OCI spec at boot. */
const mount: H = () => fail(Errno.EPERM, 'mount is not supported in the sandbox');
const umount2: H = () => fail(Errno.EPERM, 'umount is not supported in the sandbox');

export const fileSyscallsPaths: Partial<Record<SyscallName, H>> = {
  open,
  openat,
  creat,
  close,
  mkdir,
  mkdirat,
  mknod,
  mknodat,
  unlink,
  unlinkat,
  rmdir,
  rename,
  renameat,
  renameat2,
  link,
  linkat,
  symlink,
  symlinkat,
  readlink,
  readlinkat,
  chmod,
  fchmod,
  fchmodat,
  chown: chownPath(true),
  lchown: chownPath(false),
  fchown,
  fchownat,
  truncate,
  ftruncate,
  utimensat,
  access,
  faccessat,
  faccessat2,
  umask,
  fsync,
  fdatasync: fsync,
  sync,
  syncfs,
  mount,
  umount2,
};

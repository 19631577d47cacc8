// The VFS operations behind the path-taking syscalls (open(2), mkdir(2), unlink(2), rename(2), link(2),
// symlink(2), readlink(2), stat(2), chmod(2), chown(2), truncate(2), access(2), chdir(2), getcwd(3)): resolve the
// path for the calling task, check permissions and mount flags the way Linux orders them, call the file system,
// and keep the dentry cache in step.
import type { Blocker, Credentials } from '../kernel/context.js';
import { Errno, fail } from '../kernel/syscall_error.js';
import {
  AT_EACCESS,
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_FOLLOW,
  AT_SYMLINK_NOFOLLOW,
  DT_DIR,
  isDir,
  isLnk,
  isReg,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOCTTY,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_TMPFILE,
  O_TRUNC,
  O_WRONLY,
  R_OK,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  RENAME_WHITEOUT,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  S_ISGID,
  S_ISUID,
  W_OK,
  X_OK,
} from './constants.js';
import { devices } from './devices.js';
import type { FdTable } from './fd_table.js';
import { FileDescription } from './file_description.js';
import type { DirEntry, FileDescriptionImpl, NewNodeAttr, SetAttr, Stat } from './filesystem.js';
import type { FsContext } from './fs_context.js';
import type { VirtualDentry } from './mount.js';
import { parentLocation, pathFrom, resolve, walk, type ResolveContext } from './path_resolution.js';
import { checkAccess, checkSticky, inGroup, isOwnerOrRoot, mayAccess } from './permissions.js';
import { openFifo } from '../fsimpl/pipe.js';

/** The parts of a task the path operations use (a subset of FsSyscallContext). */
export interface TaskFs {
  readonly fdTable: FdTable;
  readonly fsContext: FsContext;
  readonly creds: Credentials;
  /** For opens that wait (a FIFO without its other end); without it they do not wait. */
  readonly blocker?: Blocker;
}

function rctx(t: TaskFs): ResolveContext {
  return { root: t.fsContext.root, creds: t.creds };
}

/** Where a relative path starts: the cwd for AT_FDCWD, else the directory `dirfd` refers to (openat(2)). */
export async function startAt(t: TaskFs, dirfd: number, path: string): Promise<VirtualDentry> {
  // An empty path is ENOENT before the dirfd is looked at (path_resolution(7); getname fails first).
  if (path.length === 0) fail(Errno.ENOENT, 'empty path');
  if (path.startsWith('/')) return t.fsContext.root;
  if (dirfd === AT_FDCWD) return t.fsContext.cwd;
  const file = t.fdTable.get(dirfd);
  if (!file.location || !isDir((await file.location.dentry.node.stat()).mode)) fail(Errno.ENOTDIR, `fd ${dirfd}`);
  return file.location;
}

/** Resolves `path` relative to `dirfd`; an empty path with AT_EMPTY_PATH names `dirfd` itself. */
export async function lookupAt(
  t: TaskFs,
  dirfd: number,
  path: string,
  opts: { follow: boolean; emptyPath?: boolean },
): Promise<VirtualDentry> {
  if (path === '' && opts.emptyPath) {
    if (dirfd === AT_FDCWD) return t.fsContext.cwd;
    const f = t.fdTable.get(dirfd);
    if (!f.location) fail(Errno.EBADF, 'fd has no path');
    return f.location;
  }
  return resolve(rctx(t), await startAt(t, dirfd, path), path, { followFinal: opts.follow });
}

function writableMount(vd: VirtualDentry): void {
  if (vd.mount.isReadonly) fail(Errno.EROFS);
}

function isMountRoot(vd: VirtualDentry): boolean {
  return vd.dentry === vd.mount.root || vd.dentry.mountCount > 0;
}

/** Owner, group and mode of a new node: the umask applied, the group inherited from a set-group-ID directory. */
async function newNodeAttr(t: TaskFs, parent: VirtualDentry, mode: number, applyUmask = true): Promise<NewNodeAttr> {
  const pst = await parent.dentry.node.stat();
  const inherit = (pst.mode & S_ISGID) !== 0;
  let bits = mode & 0o7777;
  if (applyUmask) bits &= ~t.fsContext.umask;
  return { mode: bits, uid: t.creds.euid, gid: inherit ? pst.gid : t.creds.egid };
}

/** Checks that a new entry may be made in (or removed from) directory `parent`: write and search permission. */
async function checkDirWrite(t: TaskFs, parent: VirtualDentry): Promise<Stat> {
  const st = await parent.dentry.node.stat();
  checkAccess(t.creds, st, W_OK | X_OK, 'no write permission on the directory');
  writableMount(parent);
  return st;
}

/** "." and ".." and the file system's own entries, as getdents64 lists a directory. */
async function listDirectory(vd: VirtualDentry, root: () => VirtualDentry): Promise<DirEntry[]> {
  const node = vd.dentry.node;
  const self = await node.stat();
  const parent = await parentLocation(vd, root()).dentry.node.stat();
  const entries = node.readdir ? await node.readdir() : [];
  return [{ name: '.', ino: self.ino, type: DT_DIR }, { name: '..', ino: parent.ino, type: DT_DIR }, ...entries];
}

const DIRECTORY_IMPL: FileDescriptionImpl = { seekable: true };
const PATH_IMPL: FileDescriptionImpl = { seekable: false };

/** Opens an existing location (the second half of open(2)). `created`: the caller just made it (no access check). */
export async function openLocation(
  t: TaskFs,
  vd: VirtualDentry,
  flags: number,
  created = false,
): Promise<FileDescription> {
  const node = vd.dentry.node;
  const st = await node.stat();
  const type = st.mode & S_IFMT;
  const fileFlags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
  if (flags & O_PATH) {
    if (flags & O_DIRECTORY && type !== S_IFDIR) fail(Errno.ENOTDIR);
    return new FileDescription(PATH_IMPL, fileFlags & (O_PATH | O_DIRECTORY | O_NOFOLLOW), vd);
  }
  if (isLnk(st.mode)) fail(Errno.ELOOP, 'symlink opened with O_NOFOLLOW');
  if (flags & O_DIRECTORY && type !== S_IFDIR) fail(Errno.ENOTDIR);
  const acc = flags & O_ACCMODE;
  const wantRead = acc === O_RDONLY || acc === O_RDWR;
  const wantWrite = acc === O_WRONLY || acc === O_RDWR;
  const truncate = (flags & O_TRUNC) !== 0;
  if (type === S_IFDIR && (wantWrite || acc === O_ACCMODE)) fail(Errno.EISDIR);
  if (!created) {
    const want = (wantRead ? R_OK : 0) | (wantWrite || truncate ? W_OK : 0);
    checkAccess(t.creds, st, want, 'permission denied');
  }
  if ((wantWrite || truncate) && (type === S_IFREG || type === S_IFDIR)) writableMount(vd);

  if (type !== S_IFDIR && type !== S_IFREG && node.open && vd.mount.fs.servesDevices) {
    return new FileDescription(await node.open({ flags, creds: t.creds }), fileFlags, vd);
  }
  switch (type) {
    case S_IFDIR: {
      const root = () => t.fsContext.root;
      return new FileDescription(DIRECTORY_IMPL, fileFlags, vd, () => listDirectory(vd, root));
    }
    case S_IFCHR: {
      // Character devices open by number, whatever file system holds the node (an image's /dev/null over the
      // gofer is the sandbox's null device, never the host's).
      if (vd.mount.flags.nodev) fail(Errno.EACCES, 'nodev mount');
      const open = devices.char(st.rdev);
      if (!open) fail(Errno.ENXIO, `no device ${st.rdev}`);
      return new FileDescription(await open({ flags, creds: t.creds }), fileFlags, vd);
    }
    case S_IFBLK:
      fail(Errno.ENXIO, 'block devices are not supported');
    case S_IFSOCK:
      fail(Errno.ENXIO);
    case S_IFIFO:
      return new FileDescription(await openFifo(node, flags, () => node.stat(), t.blocker), fileFlags, vd);
    default: {
      if (!node.open) fail(Errno.EINVAL, 'file cannot be opened');
      const impl = await node.open({ flags, creds: t.creds });
      if (truncate && wantWrite && type === S_IFREG && st.size > 0n) {
        if (!node.setattr) fail(Errno.EPERM);
        await node.setattr({ size: 0n });
      }
      return new FileDescription(impl, fileFlags, vd);
    }
  }
}

/** openat(2). The caller installs the result in the fd table (with O_CLOEXEC). */
export async function openAt(t: TaskFs, dirfd: number, path: string, flags: number, mode: number): Promise<FileDescription> {
  if ((flags & O_TMPFILE) === O_TMPFILE) return openTmpfile(t, dirfd, path, flags, mode);
  // open(2): "EINVAL ... O_CREAT and O_DIRECTORY were both specified" (Linux 6.4 and later).
  if (flags & O_CREAT && flags & O_DIRECTORY) fail(Errno.EINVAL, 'O_CREAT with O_DIRECTORY');
  const follow = (flags & O_NOFOLLOW) === 0;
  const start = await startAt(t, dirfd, path);
  if ((flags & O_CREAT) === 0 || (flags & O_PATH) !== 0) {
    const vd = await resolve(rctx(t), start, path, { followFinal: follow });
    return openLocation(t, vd, flags);
  }
  // O_CREAT: with O_EXCL a final symlink is never followed (open(2): "If pathname is a symbolic link ... EEXIST").
  const excl = (flags & O_EXCL) !== 0;
  const r = await walk(rctx(t), start, path, { followFinal: follow && !excl });
  if (r.child) {
    if (excl) fail(Errno.EEXIST);
    const st = await r.child.dentry.node.stat();
    if (isDir(st.mode)) fail(Errno.EISDIR);
    if (r.trailingSlash) fail(Errno.ENOTDIR);
    return openLocation(t, r.child, flags);
  }
  if (r.trailingSlash) fail(Errno.EISDIR, 'O_CREAT with a trailing slash');
  await checkDirWrite(t, r.parent);
  const dir = r.parent.dentry.node;
  if (!dir.create) fail(Errno.EPERM, 'file system cannot create files');
  const node = await dir.create(r.name, await newNodeAttr(t, r.parent, mode));
  const dentry = r.parent.dentry.addChild(r.name, node);
  return openLocation(t, { mount: r.parent.mount, dentry }, flags, true);
}

let tmpfileSeq = 0;

/**
 * open(2) with O_TMPFILE: an unnamed regular file in the directory `path` names, writable (O_WRONLY or O_RDWR
 * required), which linkat(fd, "", ..., AT_EMPTY_PATH) can give a name later. Made as a hidden name that is
 * removed at once, so every writable file system supports it.
 */
async function openTmpfile(t: TaskFs, dirfd: number, path: string, flags: number, mode: number): Promise<FileDescription> {
  const acc = flags & O_ACCMODE;
  if (acc !== O_WRONLY && acc !== O_RDWR) fail(Errno.EINVAL, 'O_TMPFILE needs O_WRONLY or O_RDWR');
  const dir = await resolve(rctx(t), await startAt(t, dirfd, path), path, { followFinal: true });
  if (!isDir((await dir.dentry.node.stat()).mode)) fail(Errno.ENOTDIR);
  await checkDirWrite(t, dir);
  const node = dir.dentry.node;
  if (!node.create || !node.unlink) fail(Errno.EOPNOTSUPP, 'file system cannot make unnamed files');
  const hidden = `.tsvisor-tmpfile-${process.pid}-${tmpfileSeq++}`;
  const made = await node.create(hidden, await newNodeAttr(t, dir, mode));
  const dentry = dir.dentry.addChild(hidden, made);
  const file = await openLocation(t, { mount: dir.mount, dentry }, (flags & ~O_TMPFILE) , true);
  await node.unlink(hidden);
  dir.dentry.dropChild(hidden);
  dentry.name = '#tmpfile';
  dentry.dead = true;
  return file;
}

/** The final component of a path that is to be created: ENOENT/EEXIST per mkdir(2), symlink(2), mknod(2). */
async function walkForCreate(t: TaskFs, dirfd: number, path: string) {
  const r = await walk(rctx(t), await startAt(t, dirfd, path), path, { followFinal: false, slashFollows: false });
  if (r.child || r.name === '' || r.name === '.' || r.name === '..') fail(Errno.EEXIST);
  return r;
}

export async function mkdirAt(t: TaskFs, dirfd: number, path: string, mode: number): Promise<void> {
  const r = await walkForCreate(t, dirfd, path);
  await checkDirWrite(t, r.parent);
  const dir = r.parent.dentry.node;
  if (!dir.mkdir) fail(Errno.EPERM, 'file system cannot create directories');
  const attr = await newNodeAttr(t, r.parent, mode & 0o1777);
  if ((await dir.stat()).mode & S_ISGID) attr.mode |= S_ISGID;
  r.parent.dentry.addChild(r.name, await dir.mkdir(r.name, attr));
}

export async function mknodAt(t: TaskFs, dirfd: number, path: string, mode: number, rdev: number): Promise<void> {
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  if (type === S_IFDIR) fail(Errno.EPERM, 'mknod cannot make directories');
  if (![S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK].includes(type)) fail(Errno.EINVAL, 'bad file type');
  if ((type === S_IFCHR || type === S_IFBLK) && t.creds.euid !== 0) fail(Errno.EPERM, 'device nodes need root');
  const r = await walkForCreate(t, dirfd, path);
  if (r.trailingSlash) fail(Errno.ENOENT);
  await checkDirWrite(t, r.parent);
  const dir = r.parent.dentry.node;
  const attr = await newNodeAttr(t, r.parent, mode);
  let node;
  if (type === S_IFREG && dir.create) node = await dir.create(r.name, attr);
  else if (dir.mknod) node = await dir.mknod(r.name, type, rdev, attr);
  else fail(Errno.EPERM, 'file system cannot create special files');
  r.parent.dentry.addChild(r.name, node);
}

export async function symlinkAt(t: TaskFs, target: string, dirfd: number, path: string): Promise<void> {
  if (target.length === 0) fail(Errno.ENOENT, 'empty symlink target');
  const r = await walkForCreate(t, dirfd, path);
  if (r.trailingSlash) fail(Errno.ENOENT);
  await checkDirWrite(t, r.parent);
  const dir = r.parent.dentry.node;
  if (!dir.symlink) fail(Errno.EPERM, 'file system cannot create symlinks');
  r.parent.dentry.addChild(r.name, await dir.symlink(r.name, target, await newNodeAttr(t, r.parent, 0o777, false)));
}

export async function linkAt(
  t: TaskFs,
  olddirfd: number,
  oldpath: string,
  newdirfd: number,
  newpath: string,
  flags: number,
): Promise<void> {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) fail(Errno.EINVAL, 'bad linkat flags');
  const old = await lookupAt(t, olddirfd, oldpath, {
    follow: (flags & AT_SYMLINK_FOLLOW) !== 0,
    emptyPath: (flags & AT_EMPTY_PATH) !== 0,
  });
  const ost = await old.dentry.node.stat();
  if (isDir(ost.mode)) fail(Errno.EPERM, 'hard links to directories');
  const r = await walkForCreate(t, newdirfd, newpath);
  if (r.trailingSlash) fail(Errno.ENOENT);
  if (r.parent.mount !== old.mount) fail(Errno.EXDEV);
  await checkDirWrite(t, r.parent);
  const dir = r.parent.dentry.node;
  if (!dir.link) fail(Errno.EPERM, 'file system cannot make hard links');
  await dir.link(r.name, old.dentry.node);
  r.parent.dentry.addChild(r.name, old.dentry.node);
}

/** unlinkat(2), including AT_REMOVEDIR (rmdir(2)). */
export async function unlinkAt(t: TaskFs, dirfd: number, path: string, flags: number): Promise<void> {
  if (flags & ~AT_REMOVEDIR) fail(Errno.EINVAL, 'bad unlinkat flags');
  const removeDir = (flags & AT_REMOVEDIR) !== 0;
  const r = await walk(rctx(t), await startAt(t, dirfd, path), path, { followFinal: false, slashFollows: false });
  if (removeDir) {
    if (r.name === '.') fail(Errno.EINVAL, 'rmdir of "."');
    if (r.name === '..') fail(Errno.ENOTEMPTY, 'rmdir of ".."');
    if (r.name === '') fail(Errno.EBUSY, 'rmdir of a root');
  } else if (r.name === '' || r.name === '.' || r.name === '..') {
    fail(Errno.EISDIR);
  }
  if (!r.child) fail(Errno.ENOENT);
  const st = await r.child.dentry.node.stat();
  if (removeDir) {
    if (!isDir(st.mode)) fail(Errno.ENOTDIR);
  } else {
    if (isDir(st.mode)) fail(Errno.EISDIR);
    if (r.trailingSlash) fail(Errno.ENOTDIR);
  }
  const pst = await checkDirWrite(t, r.parent);
  checkSticky(t.creds, pst, st);
  if (isMountRoot(r.child) || r.child.mount !== r.parent.mount) fail(Errno.EBUSY, 'mount point');
  const dir = r.parent.dentry.node;
  if (removeDir) {
    if (!dir.rmdir) fail(Errno.EPERM);
    await dir.rmdir(r.name);
  } else {
    if (!dir.unlink) fail(Errno.EPERM);
    await dir.unlink(r.name);
  }
  const gone = r.parent.dentry.dropChild(r.name);
  if (gone) gone.dead = true;
}

/** renameat2(2) with RENAME_NOREPLACE; RENAME_EXCHANGE and RENAME_WHITEOUT are not supported (EINVAL). */
export async function renameAt(
  t: TaskFs,
  olddirfd: number,
  oldpath: string,
  newdirfd: number,
  newpath: string,
  flags: number,
): Promise<void> {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) fail(Errno.EINVAL, 'bad rename flags');
  if (flags & (RENAME_EXCHANGE | RENAME_WHITEOUT)) fail(Errno.EINVAL, 'RENAME_EXCHANGE/RENAME_WHITEOUT unsupported');
  const o = await walk(rctx(t), await startAt(t, olddirfd, oldpath), oldpath, { followFinal: false, slashFollows: false });
  const n = await walk(rctx(t), await startAt(t, newdirfd, newpath), newpath, { followFinal: false, slashFollows: false });
  if (o.name === '' || o.name === '.' || o.name === '..') fail(Errno.EBUSY);
  if (!o.child) fail(Errno.ENOENT);
  if (n.name === '' || n.name === '.' || n.name === '..') fail(Errno.EBUSY);
  const ost = await o.child.dentry.node.stat();
  if ((o.trailingSlash || n.trailingSlash) && !isDir(ost.mode)) fail(Errno.ENOTDIR);
  if (o.parent.mount !== n.parent.mount) fail(Errno.EXDEV);
  if (n.child) {
    if (flags & RENAME_NOREPLACE) fail(Errno.EEXIST);
    if (n.child.dentry.node === o.child.dentry.node) return;
    const nst = await n.child.dentry.node.stat();
    if (isDir(ost.mode) && !isDir(nst.mode)) fail(Errno.ENOTDIR);
    if (!isDir(ost.mode) && isDir(nst.mode)) fail(Errno.EISDIR);
    if (isMountRoot(n.child) || n.child.mount !== n.parent.mount) fail(Errno.EBUSY);
  }
  // A directory cannot move below itself (rename(2) EINVAL).
  if (isDir(ost.mode)) {
    const od = o.child.dentry;
    if (od === n.parent.dentry || od.isAncestorOf(n.parent.dentry)) fail(Errno.EINVAL, 'rename into itself');
  }
  if (n.child && isDir((await n.child.dentry.node.stat()).mode)) {
    const nd = n.child.dentry;
    if (nd === o.parent.dentry || nd.isAncestorOf(o.parent.dentry)) fail(Errno.ENOTEMPTY);
  }
  const opst = await checkDirWrite(t, o.parent);
  checkSticky(t.creds, opst, ost);
  const npst = await checkDirWrite(t, n.parent);
  if (n.child) checkSticky(t.creds, npst, await n.child.dentry.node.stat());
  // Moving a directory to a new parent rewrites its "..": that needs write permission on it.
  if (isDir(ost.mode) && o.parent.dentry !== n.parent.dentry) checkAccess(t.creds, ost, W_OK);
  if (isMountRoot(o.child) || o.child.mount !== o.parent.mount) fail(Errno.EBUSY, 'mount point');
  const dir = o.parent.dentry.node;
  if (!dir.rename) fail(Errno.EPERM);
  await dir.rename(o.name, n.parent.dentry.node, n.name);
  o.parent.dentry.moveChild(o.name, n.parent.dentry, n.name);
}

export async function readlinkAt(t: TaskFs, dirfd: number, path: string): Promise<string> {
  const vd = await lookupAt(t, dirfd, path, { follow: false, emptyPath: true });
  const node = vd.dentry.node;
  if (!isLnk((await node.stat()).mode) || !node.readlink) fail(Errno.EINVAL, 'not a symlink');
  return node.readlink();
}

/** stat/lstat/fstatat: AT_EMPTY_PATH with an empty path stats `dirfd` itself (even a pipe). */
export async function statAt(t: TaskFs, dirfd: number, path: string, flags: number): Promise<Stat> {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x6800)) fail(Errno.EINVAL, 'bad stat flags');
  if (path === '' && flags & AT_EMPTY_PATH) {
    if (dirfd === AT_FDCWD) return t.fsContext.cwd.dentry.node.stat();
    return t.fdTable.get(dirfd).stat();
  }
  const vd = await lookupAt(t, dirfd, path, { follow: (flags & AT_SYMLINK_NOFOLLOW) === 0 });
  return vd.dentry.node.stat();
}

async function setattr(t: TaskFs, vd: VirtualDentry, attr: SetAttr): Promise<void> {
  writableMount(vd);
  const node = vd.dentry.node;
  if (!node.setattr) fail(Errno.EPERM, 'file system cannot change attributes');
  await node.setattr(attr);
}

/** chmod(2): owner or root; a non-member's chmod drops S_ISGID (chmod(2) EPERM notes, inode(7)). */
export async function chmodLocation(t: TaskFs, vd: VirtualDentry, mode: number): Promise<void> {
  const st = await vd.dentry.node.stat();
  if (isLnk(st.mode)) fail(Errno.EOPNOTSUPP, 'symlink modes cannot change');
  if (!isOwnerOrRoot(t.creds, st)) fail(Errno.EPERM, 'not the owner');
  let bits = mode & 0o7777;
  if (t.creds.euid !== 0 && !isDir(st.mode) && !inGroup(t.creds, st.gid)) bits &= ~S_ISGID;
  await setattr(t, vd, { mode: bits });
}

/** chown(2): only root changes the owner; the owner may change the group to one of its groups. -1 keeps a field. */
export async function chownLocation(t: TaskFs, vd: VirtualDentry, uid: number, gid: number): Promise<void> {
  const st = await vd.dentry.node.stat();
  const attr: SetAttr = {};
  if (uid !== -1 && uid !== st.uid) {
    if (t.creds.euid !== 0) fail(Errno.EPERM, 'only root changes owners');
    attr.uid = uid;
  }
  if (gid !== -1 && gid !== st.gid) {
    if (t.creds.euid !== 0 && (t.creds.euid !== st.uid || !inGroup(t.creds, gid))) fail(Errno.EPERM);
    attr.gid = gid;
  }
  if (uid === -1 && gid === -1) return;
  if (t.creds.euid !== 0 && t.creds.euid !== st.uid) fail(Errno.EPERM);
  // chown(2): "the S_ISUID and S_ISGID mode bits are cleared" on executables (group-executable for S_ISGID).
  if (!isDir(st.mode) && !isLnk(st.mode) && (st.mode & (S_ISUID | S_ISGID))) {
    let m = st.mode & 0o7777 & ~S_ISUID;
    if (st.mode & 0o010) m &= ~S_ISGID;
    attr.mode = m;
  }
  await setattr(t, vd, attr);
}

/** truncate(2) by location: write permission, regular files only. */
export async function truncateLocation(t: TaskFs, vd: VirtualDentry, size: bigint): Promise<void> {
  if (size < 0n) fail(Errno.EINVAL, 'negative length');
  const st = await vd.dentry.node.stat();
  if (isDir(st.mode)) fail(Errno.EISDIR);
  if (!isReg(st.mode)) fail(Errno.EINVAL, 'not a regular file');
  checkAccess(t.creds, st, W_OK);
  await setattr(t, vd, { size });
}

export async function utimesLocation(t: TaskFs, vd: VirtualDentry, atimeNs: bigint | null, mtimeNs: bigint | null, explicit: boolean): Promise<void> {
  const st = await vd.dentry.node.stat();
  // utimensat(2): setting explicit times needs ownership; setting "now" needs ownership or write permission.
  if (!isOwnerOrRoot(t.creds, st) && (explicit || !mayAccess(t.creds, st, W_OK))) {
    fail(explicit ? Errno.EPERM : Errno.EACCES);
  }
  const attr: SetAttr = {};
  if (atimeNs !== null) attr.atimeNs = atimeNs;
  if (mtimeNs !== null) attr.mtimeNs = mtimeNs;
  await setattr(t, vd, attr);
}

/** faccessat2(2): the real ids unless AT_EACCESS; W_OK on a read-only mount is EROFS. */
export async function accessAt(t: TaskFs, dirfd: number, path: string, mode: number, flags: number): Promise<void> {
  if (mode & ~7) fail(Errno.EINVAL, 'bad access mode');
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) fail(Errno.EINVAL, 'bad access flags');
  const vd = await lookupAt(t, dirfd, path, {
    follow: (flags & AT_SYMLINK_NOFOLLOW) === 0,
    emptyPath: (flags & AT_EMPTY_PATH) !== 0,
  });
  const st = await vd.dentry.node.stat();
  const uid = flags & AT_EACCESS ? t.creds.euid : t.creds.uid;
  if (!mayAccess(t.creds, st, mode, uid)) fail(Errno.EACCES);
  if (mode & W_OK && vd.mount.isReadonly && (isReg(st.mode) || isDir(st.mode) || isLnk(st.mode))) fail(Errno.EROFS);
}

/** chdir(2) by path. */
export async function chdirPath(t: TaskFs, path: string): Promise<void> {
  const vd = await lookupAt(t, AT_FDCWD, path, { follow: true });
  await chdirLocation(t, vd);
}

export async function chdirLocation(t: TaskFs, vd: VirtualDentry): Promise<void> {
  const st = await vd.dentry.node.stat();
  if (!isDir(st.mode)) fail(Errno.ENOTDIR);
  checkAccess(t.creds, st, X_OK);
  t.fsContext.cwd = vd;
}

/** getcwd(3) text: ENOENT if the directory was removed; "(unreachable)" if it is outside the root. */
export function getcwd(t: TaskFs): string {
  const p = pathFrom(t.fsContext.root, t.fsContext.cwd);
  if (p.deleted || t.fsContext.cwd.dentry.dead) fail(Errno.ENOENT, 'cwd was removed');
  return p.reachable ? p.path : `(unreachable)${p.path}`;
}

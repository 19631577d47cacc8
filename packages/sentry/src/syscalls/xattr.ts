// Extended attributes (xattr(7), getxattr(2), setxattr(2), listxattr(2), removexattr(2)). Namespaces: user.* on
// regular files and directories (read/write permission as for the data), trusted.* for root only (invisible to
// others), security.* stored like any other; system.* (POSIX ACLs) is not supported (EOPNOTSUPP). File systems
// without xattr support (gofer, proc) answer EOPNOTSUPP.
import type { Credentials } from '../kernel/context.js';
import { Errno, fail } from '../kernel/syscall_error.js';
import { AT_FDCWD, isDir, isReg, R_OK, W_OK } from '../vfs/constants.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import type { VirtualDentry } from '../vfs/mount.js';
import { lookupAt } from '../vfs/operations.js';
import { checkAccess, isOwnerOrRoot } from '../vfs/permissions.js';
import { countArg, intArg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const XATTR_LIST_MAX = 65536;

type Target = (task: FsSyscallContext, a: bigint) => Promise<VirtualDentry>;
const byPath = (follow: boolean): Target => (task, a) => lookupAt(task, AT_FDCWD, task.memory.readCString(a), { follow });
const byFd: Target = async (task, a) => {
  const f = task.fdTable.get(intArg(a));
  if (!f.location || f.isPath) fail(Errno.EBADF);
  return f.location;
};

function readName(task: FsSyscallContext, addr: bigint): string {
  const name = task.memory.readCString(addr, XATTR_NAME_MAX + 1);
  if (name.length === 0 || Buffer.byteLength(name) > XATTR_NAME_MAX) fail(Errno.ERANGE, 'bad xattr name length');
  return name;
}

/** The namespace rules of xattr(7); returns false when the attribute is invisible to the caller. */
async function checkNamespace(creds: Credentials, vd: VirtualDentry, name: string, write: boolean): Promise<boolean> {
  const st = await vd.dentry.node.stat();
  if (name.startsWith('user.')) {
    if (!isReg(st.mode) && !isDir(st.mode)) fail(write ? Errno.EPERM : Errno.ENODATA);
    checkAccess(creds, st, write ? W_OK : R_OK);
    return true;
  }
  if (name.startsWith('trusted.')) {
    if (creds.euid !== 0) {
      if (write) fail(Errno.EPERM);
      return false;
    }
    return true;
  }
  if (name.startsWith('security.')) {
    if (write && !isOwnerOrRoot(creds, st)) fail(Errno.EPERM);
    return true;
  }
  fail(Errno.EOPNOTSUPP, `xattr namespace of ${name}`);
}

function getx(target: Target): H {
  return async (task, [p, nameAddr, value, size]) => {
    const vd = await target(task, p);
    const name = readName(task, nameAddr);
    if (!(await checkNamespace(task.creds, vd, name, false))) fail(Errno.ENODATA);
    const node = vd.dentry.node;
    if (!node.getxattr) fail(Errno.EOPNOTSUPP);
    const v = await node.getxattr(name);
    const n = countArg(size);
    if (n === 0) return v.length;
    if (n < v.length) fail(Errno.ERANGE);
    task.memory.write(value, v);
    return v.length;
  };
}

function setx(target: Target): H {
  return async (task, [p, nameAddr, value, size, flags]) => {
    const fl = intArg(flags);
    if (fl & ~3) fail(Errno.EINVAL, 'bad setxattr flags');
    const n = countArg(size);
    if (n > XATTR_SIZE_MAX) fail(Errno.E2BIG);
    const vd = await target(task, p);
    const name = readName(task, nameAddr);
    await checkNamespace(task.creds, vd, name, true);
    if (vd.mount.isReadonly) fail(Errno.EROFS);
    const node = vd.dentry.node;
    if (!node.setxattr) fail(Errno.EOPNOTSUPP);
    await node.setxattr(name, n > 0 ? task.memory.read(value, n) : Buffer.alloc(0), fl);
    return 0;
  };
}

function listx(target: Target): H {
  return async (task, [p, list, size]) => {
    const vd = await target(task, p);
    const node = vd.dentry.node;
    const names = node.listxattr ? await node.listxattr() : [];
    const visible = names.filter((n) => !n.startsWith('trusted.') || task.creds.euid === 0);
    const out = Buffer.from(visible.map((n) => n + '\0').join(''));
    const n = countArg(size);
    if (n === 0) return out.length;
    if (out.length > XATTR_LIST_MAX) fail(Errno.E2BIG);
    if (n < out.length) fail(Errno.ERANGE);
    if (out.length > 0) task.memory.write(list, out);
    return out.length;
  };
}

function removex(target: Target): H {
  return async (task, [p, nameAddr]) => {
    const vd = await target(task, p);
    const name = readName(task, nameAddr);
    await checkNamespace(task.creds, vd, name, true);
    if (vd.mount.isReadonly) fail(Errno.EROFS);
    const node = vd.dentry.node;
    if (!node.removexattr) fail(Errno.EOPNOTSUPP);
    await node.removexattr(name);
    return 0;
  };
}

export const xattrSyscalls: Partial<Record<SyscallName, H>> = {
  getxattr: getx(byPath(true)),
  lgetxattr: getx(byPath(false)),
  fgetxattr: getx(byFd),
  setxattr: setx(byPath(true)),
  lsetxattr: setx(byPath(false)),
  fsetxattr: setx(byFd),
  listxattr: listx(byPath(true)),
  llistxattr: listx(byPath(false)),
  flistxattr: listx(byFd),
  removexattr: removex(byPath(true)),
  lremovexattr: removex(byPath(false)),
  fremovexattr: removex(byFd),
};

// Discretionary access checks (path_resolution(7) "Permission checking", inode(7)). The sandbox's own credentials
// are checked against the sandbox's view of owners and modes; root (euid 0, CAP_DAC_OVERRIDE) may read and write
// anything and may execute any file that has at least one execute bit, and search any directory.
import type { Credentials } from '../kernel/context.js';
import { Errno, fail } from '../kernel/syscall_error.js';
import { isDir, S_ISVTX, X_OK } from './constants.js';
import type { Stat } from './filesystem.js';

export function inGroup(creds: Credentials, gid: number): boolean {
  return creds.egid === gid || creds.groups.includes(gid);
}

/** True if `creds` may access a node with `stat` for `want` (an R_OK|W_OK|X_OK mask), as the kernel's generic_permission. */
export function mayAccess(creds: Credentials, stat: Stat, want: number, uid = creds.euid): boolean {
  if (want === 0) return true;
  if (uid === 0) {
    if ((want & X_OK) === 0 || isDir(stat.mode)) return true;
    return (stat.mode & 0o111) !== 0;
  }
  let bits: number;
  if (stat.uid === uid) bits = (stat.mode >> 6) & 7;
  else if (inGroup(creds, stat.gid)) bits = (stat.mode >> 3) & 7;
  else bits = stat.mode & 7;
  return (bits & want) === want;
}

export function checkAccess(creds: Credentials, stat: Stat, want: number, what?: string): void {
  if (!mayAccess(creds, stat, want)) fail(Errno.EACCES, what);
}

/** The owner or root may change mode, times and (root only) ownership. */
export function isOwnerOrRoot(creds: Credentials, stat: Stat): boolean {
  return creds.euid === 0 || creds.euid === stat.uid;
}

/**
 * Removing or renaming `child` out of a sticky directory needs ownership of the file or the directory
 * (inode(7), "The sticky bit").
 */
export function checkSticky(creds: Credentials, dir: Stat, child: Stat): void {
  if ((dir.mode & S_ISVTX) === 0 || creds.euid === 0) return;
  if (creds.euid === dir.uid || creds.euid === child.uid) return;
  fail(Errno.EPERM, 'sticky directory');
}

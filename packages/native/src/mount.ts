// Namespace and mount system calls (mount.c): unshare(2), mount(2), umount2(2), pivot_root(2), chroot(2),
// setns(2), sethostname(2), and an O_PATH open. Each throws an Error with `errno` and `code` on failure.
import { addon } from './index.js';

interface MountAddon {
  unshare(flags: number): void;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data?: string | null): void;
  umount2(target: string, flags?: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chroot(path: string): void;
  setns(fd: number, nstype: number): void;
  sethostname(name: string): void;
  openPath(path: string, flags?: number): number;
  mknod(path: string, mode: number, dev?: number): void;
  mountSetattr(path: string, attrSet: number, attrClr: number, recursive: boolean): void;
}

// Read the binding at call time (index.ts re-exports this module, so the import cycle resolves late).
const mountAddon = new Proxy({} as MountAddon, {
  get: (_t, key) => (addon as unknown as Record<string | symbol, unknown>)[key],
});

/** clone(2)/unshare(2)/setns(2) namespace flags. */
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_FS = 0x00000200;

/** mount(2) flags (<sys/mount.h>). */
export const MountFlags = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
} as const;

/** umount2(2) flags. */
export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;
export const MNT_EXPIRE = 0x4;
export const UMOUNT_NOFOLLOW = 0x8;

/** open(2) flags usable with openPath. */
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;

/**
 * unshare(2). Namespaces are per thread: in a Node process only the calling (main) thread moves, while libuv's
 * thread-pool threads (which run async fs calls) stay behind; see the gofer's confinement for how that is handled.
 */
export function unshare(flags: number): void {
  mountAddon.unshare(flags);
}

/** mount(2); pass null for an unused source, fstype or data. */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  mountAddon.mount(source, target, fstype, flags, data);
}

export function umount2(target: string, flags = 0): void {
  mountAddon.umount2(target, flags);
}

/** pivot_root(2): make `newRoot` the root mount and attach the old root at `putOld` (which must be under it). */
export function pivotRoot(newRoot: string, putOld: string): void {
  mountAddon.pivotRoot(newRoot, putOld);
}

export function chroot(path: string): void {
  mountAddon.chroot(path);
}

/** setns(2): join the namespace open on `fd` (nstype 0 or one CLONE_NEW* flag to check its type). */
export function setns(fd: number, nstype = 0): void {
  mountAddon.setns(fd, nstype);
}

export function sethostname(name: string): void {
  mountAddon.sethostname(name);
}

/** open(path, O_PATH | O_CLOEXEC | flags): a handle usable as /proc/self/fd/N (e.g. as a bind-mount source). */
export function openPath(path: string, flags = 0): number {
  return mountAddon.openPath(path, flags);
}

/** mknod(2): create a FIFO, socket node, regular file or device node (`dev` from makedev for devices). */
export function mknod(path: string, mode: number, dev = 0): void {
  mountAddon.mknod(path, mode, dev);
}

/** mount_setattr(2) MOUNT_ATTR_* bits (linux/mount.h). */
export const MountAttr = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  NOSYMFOLLOW: 0x200000,
} as const;

/**
 * mount_setattr(2) on the mount at `path` (a final symlink is not followed): set `attrSet` and clear `attrClr`
 * (MountAttr bits); `recursive` (AT_RECURSIVE) applies them to every submount too, which a bind remount cannot.
 */
export function mountSetattr(path: string, attrSet: number, attrClr = 0, recursive = true): void {
  mountAddon.mountSetattr(path, attrSet, attrClr, recursive);
}

// Kernel confinement of the gofer process: after confineToRoots() the process's root directory is a small,
// read-only tmpfs holding only the trees it serves, bind-mounted at /root (the container's rootfs) and
// /mounts/<i> (extra bind mounts); the host's file system is unmounted from its view. From then on every path the
// gofer's fs calls resolve, `..` at the top, absolute symlinks and symlinks pointing outside included, stays inside.
//
// Namespaces are per thread, and Node starts libuv's thread pool (which runs every async fs call) while loading
// modules, before any of our code runs. unshare(CLONE_NEWNS) from JavaScript would move only the main thread and
// leave the pool threads in the host's mount namespace and root. So the process must be started inside its own
// mount namespace (main.ts re-executes itself under `unshare --mount`); here we check that every thread shares
// the main thread's namespace and that it is not our parent's, then pivot_root, which moves the root of all
// threads at once (they share one fs_struct).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MNT_DETACH,
  MountAttr,
  MountFlags,
  O_DIRECTORY,
  chroot,
  closeFd,
  mount,
  mountSetattr,
  openPath,
  pivotRoot,
  umount2,
} from '@tsvisor/native';
import type { GoferRoot } from './gofer.js';

export interface ConfineMount {
  /** Destination in the container (the attach name the sentry uses), e.g. '/data'. */
  dest: string;
  /** Host source path (directory or file). */
  src: string;
  readonly: boolean;
}

export interface ConfineOptions {
  /** Host path of the container's root file system. */
  root: string;
  readonly: boolean;
  mounts: ConfineMount[];
  /** Force a method; by default pivot_root, falling back to MS_MOVE + chroot where pivot_root says EINVAL. */
  method?: 'pivot_root' | 'chroot';
}

export interface Confinement {
  /** pivot_root normally; chroot (after MS_MOVE, as switch_root does) where the old root is the initramfs, which
   * pivot_root refuses (EINVAL). */
  method: 'pivot_root' | 'chroot';
  /** The trees to serve, as paths inside the new root. */
  roots: GoferRoot[];
}

/** A confinement step failed: the gofer must not serve anything. */
export class ConfinementError extends Error {
  readonly code = 'ECONFINE';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'ConfinementError';
  }
}

function nsOf(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

/** Throws unless every thread of this process is in one mount namespace that our parent is not in. */
export function assertOwnMountNamespace(): void {
  const mine = nsOf('/proc/thread-self/ns/mnt');
  if (!mine) throw new ConfinementError('cannot read /proc/thread-self/ns/mnt: is /proc mounted?');
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const theirs = nsOf(`/proc/self/task/${tid}/ns/mnt`);
    if (theirs !== undefined && theirs !== mine) {
      throw new ConfinementError(
        `thread ${tid} is in mount namespace ${theirs}, the main thread in ${mine}: start the gofer inside its own ` +
          'mount namespace (main.js re-executes itself under `unshare --mount`), never unshare from JavaScript',
      );
    }
  }
  const parent = nsOf(`/proc/${process.ppid}/ns/mnt`);
  if (parent !== undefined && parent === mine) {
    throw new ConfinementError(
      'the gofer shares its parent\'s mount namespace: mounts made here would be the host\'s. ' +
        'Start it under `unshare --mount --propagation private`',
    );
  }
}

/**
 * Where the new root (a tmpfs) is assembled before pivot_root: one fixed, empty, root-owned directory shared by
 * every gofer. Each gofer mounts over it only in its own private namespace, so they never see each other's mounts
 * and the host sees an empty directory. It must not be the rootfs path itself: a bind-mount source given as
 * /proc/self/fd/N resolves to the directory and then crosses any mount on top of it, i.e. the scaffold.
 */
export function scaffoldDir(): string {
  const dir = path.join(os.tmpdir(), '.tsvisor-gofer-scaffold');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  // Refuse a directory someone else prepared (or a symlink planted to redirect our mounts).
  if (!st.isDirectory() || st.uid !== process.getuid?.()) {
    throw new ConfinementError(`${dir} is not a directory owned by us; remove it`);
  }
  return dir;
}

/**
 * Build the new root and move into it. `root` and mount sources are opened O_PATH first and bind-mounted from
 * /proc/self/fd/N, so what is served is exactly what the names meant when the gofer started.
 */
export function confineToRoots(opts: ConfineOptions): Confinement {
  assertOwnMountNamespace();
  const step = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new ConfinementError(`${what}: ${(err as Error).message}`, err);
    }
  };
  // Nothing we mount may propagate back to the host's namespace (mount_namespaces(7) "shared subtrees").
  step('making mounts private', () => mount(null, '/', null, MountFlags.REC | MountFlags.PRIVATE));

  const rootFd = step(`opening the rootfs ${opts.root}`, () => openPath(opts.root, O_DIRECTORY));
  const srcFds: { fd: number; isDir: boolean; m: ConfineMount }[] = [];
  try {
    for (const m of opts.mounts) {
      const fd = step(`opening mount source ${m.src}`, () => openPath(m.src));
      srcFds.push({ fd, isDir: fs.fstatSync(fd).isDirectory(), m });
    }
    const scaffold = step('preparing the scaffold directory', scaffoldDir);
    step('mounting the scaffold tmpfs', () =>
      mount('tsvisor-gofer', scaffold, 'tmpfs', MountFlags.NOSUID | MountFlags.NODEV | MountFlags.NOEXEC, 'size=64k,mode=0755'),
    );
    const bind = (fd: number, target: string, readonly: boolean): void => {
      step(`bind-mounting onto ${target}`, () => mount(`/proc/self/fd/${fd}`, target, null, MountFlags.BIND | MountFlags.REC));
      // On the whole bound subtree, submounts included (mount_setattr(2) AT_RECURSIVE; a bind remount would change
      // the top mount only):
      // - nosymfollow: the kernel follows no symlink while resolving the gofer's paths. The gofer never needs to
      //   (walks lstat, symlinks are served as text), and Node's calls are path-based: without it, a component
      //   swapped for a symlink between a walk and a later call would redirect that call (to another served tree, or
      //   to a host pseudo file system mounted inside the rootfs, e.g. proc's /proc/1/root).
      // - nodev: device nodes in an image can never be opened, even if one replaces a regular file mid-request.
      // - nosuid: nothing here is ever executed by the gofer, but the binds are the host's files.
      // - rdonly for read-only trees (mount(2) "Creating a bind mount": the bind itself starts writable).
      const attrs = MountAttr.NOSYMFOLLOW | MountAttr.NODEV | MountAttr.NOSUID | (readonly ? MountAttr.RDONLY : 0);
      step(`restricting ${target} (mount_setattr)`, () => mountSetattr(target, attrs, 0, true));
    };
    fs.mkdirSync(path.join(scaffold, 'root'));
    bind(rootFd, path.join(scaffold, 'root'), opts.readonly);
    const roots: GoferRoot[] = [{ aname: '', path: '/root', readonly: opts.readonly }];
    if (srcFds.length) fs.mkdirSync(path.join(scaffold, 'mounts'));
    srcFds.forEach(({ fd, isDir, m }, i) => {
      const target = path.join(scaffold, 'mounts', String(i));
      if (isDir) fs.mkdirSync(target);
      else fs.writeFileSync(target, '');
      bind(fd, target, m.readonly);
      roots.push({ aname: m.dest, path: `/mounts/${i}`, readonly: m.readonly });
    });

    const putOld = path.join(scaffold, '.old');
    let method: Confinement['method'] = 'chroot';
    if (opts.method !== 'chroot') {
      fs.mkdirSync(putOld);
      try {
        pivotRoot(scaffold, putOld);
        method = 'pivot_root';
      } catch (err) {
        // EINVAL: the current root is the initramfs (rootfs), which cannot be pivoted away (pivot_root(2)).
        if ((err as { code?: string }).code !== 'EINVAL' || opts.method === 'pivot_root') {
          throw new ConfinementError(`pivot_root: ${(err as Error).message}`, err);
        }
        fs.rmdirSync(putOld);
      }
    }
    if (method === 'pivot_root') {
      process.chdir('/');
      step('detaching the old root', () => umount2('/.old', MNT_DETACH));
      fs.rmdirSync('/.old');
    } else {
      // Move the scaffold over / and chroot into it, as switch_root(8) does. The old root stays mounted underneath
      // but unreachable: only chroot(2) could reach it again, and the seccomp filter refuses chroot.
      process.chdir(scaffold);
      step('moving the scaffold over /', () => mount(scaffold, '/', null, MountFlags.MOVE));
      step('chroot', () => chroot('.'));
      process.chdir('/');
    }
    // The scaffold itself is never written again.
    step('making the scaffold read-only', () =>
      mount(null, '/', null, MountFlags.REMOUNT | MountFlags.RDONLY | MountFlags.NOSUID | MountFlags.NODEV | MountFlags.NOEXEC),
    );
    return { method, roots };
  } finally {
    closeFd(rootFd);
    for (const { fd } of srcFds) closeFd(fd);
  }
}

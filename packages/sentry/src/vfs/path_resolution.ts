// Path resolution as path_resolution(7) describes it: components are looked up one at a time from the root (for
// absolute paths) or from a start directory; each directory passed through needs search (x) permission; symlinks
// are followed everywhere but in the final component unless asked, at most MAX_SYMLINKS (40) in one resolution
// (ELOOP); ".." never leaves the task's root and crosses back over mount points; a trailing slash means the final
// component must be a directory (and makes a final symlink followed).
import type { Credentials } from '../kernel/context.js';
import { Errno, fail } from '../kernel/syscall_error.js';
import { isDir, isLnk, MAX_SYMLINKS, NAME_MAX, PATH_MAX, X_OK } from './constants.js';
import { mayAccess } from './permissions.js';
import { sameLocation, type VirtualDentry } from './mount.js';

/** Components handed to FsNode.prefetchPath at once (9P's Twalk carries at most 16 names). */
const PREFETCH_COMPONENTS = 16;

export interface ResolveContext {
  /** The task's root (chroot); ".." stops here and absolute paths start here. */
  readonly root: VirtualDentry;
  readonly creds: Credentials;
}

/** Where a walk ended: the directory holding the final component, its name and what it names (null if absent). */
export interface WalkResult {
  parent: VirtualDentry;
  /** The final component; '' when the path named a root itself ("/"), or '.' / '..'. */
  name: string;
  child: VirtualDentry | null;
  /** The path (or a final symlink's target) ended in '/': the final object must be a directory. */
  trailingSlash: boolean;
}

export interface WalkOptions {
  /** Follow a symlink in the final component (stat vs lstat, open without O_NOFOLLOW). */
  followFinal: boolean;
  /**
   * Whether a trailing slash makes a final symlink followed (true, the default, for lookups such as stat and
   * open). Operations on the parent's entry (unlink, rmdir, rename, mkdir, link, symlink) look the final name up
   * without following, as Linux's filename_parentat does, and pass false.
   */
  slashFollows?: boolean;
}

/** The topmost mount on `vd`, repeatedly (a mount can itself be mounted over). */
export function crossMounts(vd: VirtualDentry): VirtualDentry {
  let cur = vd;
  for (;;) {
    const m = cur.mount.mountedOn(cur.dentry);
    if (!m) return cur;
    cur = { mount: m, dentry: m.root };
  }
}

/** The location ".." names from `vd`, bounded by `root`. */
export function parentLocation(vd: VirtualDentry, root: VirtualDentry): VirtualDentry {
  let cur = vd;
  for (;;) {
    if (sameLocation(cur, root)) return cur;
    if (cur.dentry === cur.mount.root) {
      // At the root of a mount: step out to the mount point and take its parent there.
      if (!cur.mount.parent || !cur.mount.mountpoint) return cur;
      cur = { mount: cur.mount.parent, dentry: cur.mount.mountpoint };
      continue;
    }
    const parent = cur.dentry.parent;
    if (!parent) return cur;
    return crossMounts({ mount: cur.mount, dentry: parent });
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0);
}

/**
 * Walks `path` from `start` (ignored for absolute paths) up to its final component. Errors: ENOENT (empty path or a
 * missing intermediate component), ENOTDIR (an intermediate component is not a directory), EACCES (no search
 * permission), ENAMETOOLONG, ELOOP. The final component itself may be absent (child null): callers that create
 * need that, the others use `resolve`.
 */
export async function walk(
  ctx: ResolveContext,
  start: VirtualDentry,
  path: string,
  opts: WalkOptions,
): Promise<WalkResult> {
  if (path.length === 0) fail(Errno.ENOENT, 'empty path');
  if (Buffer.byteLength(path) >= PATH_MAX) fail(Errno.ENAMETOOLONG);
  let cur = path.startsWith('/') ? ctx.root : start;
  const comps = splitPath(path);
  let trailingSlash = path.endsWith('/');
  let symlinks = 0;
  if (comps.length === 0) return { parent: cur, name: '', child: cur, trailingSlash };

  for (;;) {
    const name = comps.shift()!;
    const last = comps.length === 0;
    const dirStat = await cur.dentry.node.stat();
    if (!isDir(dirStat.mode)) fail(Errno.ENOTDIR);
    if (!mayAccess(ctx.creds, dirStat, X_OK)) fail(Errno.EACCES, `search permission denied at ${name}`);
    if (Buffer.byteLength(name) > NAME_MAX) fail(Errno.ENAMETOOLONG);

    if (name === '.' || name === '..') {
      const next = name === '.' ? cur : parentLocation(cur, ctx.root);
      if (last) return { parent: cur, name, child: next, trailingSlash };
      cur = next;
      continue;
    }

    if (comps.length > 0 && cur.dentry.node.prefetchPath && !cur.dentry.cachedChild(name)) {
      // Several components still to go and the first one is not cached: let the file system fetch them together.
      const ahead = [name];
      for (const c of comps) {
        if (c === '.' || c === '..' || ahead.length >= PREFETCH_COMPONENTS) break;
        ahead.push(c);
      }
      if (ahead.length > 1) await cur.dentry.node.prefetchPath(ahead);
    }
    const childDentry = await cur.dentry.child(name);
    if (!childDentry) {
      if (last) return { parent: cur, name, child: null, trailingSlash };
      fail(Errno.ENOENT, `no ${name}`);
    }
    const child = crossMounts({ mount: cur.mount, dentry: childDentry });
    const node = child.dentry.node;
    const mustFollow = !last || opts.followFinal || (trailingSlash && opts.slashFollows !== false);
    if (mustFollow && isLnk((await node.stat()).mode)) {
      if (++symlinks > MAX_SYMLINKS) fail(Errno.ELOOP);
      // proc's magic links (/proc/self/cwd, /proc/PID/fd/N) lead to a location, not to a path.
      const direct = node.followLink ? await node.followLink() : null;
      if (direct) {
        if (last) return { parent: cur, name, child: direct, trailingSlash };
        cur = direct;
        continue;
      }
      if (!node.readlink) fail(Errno.EINVAL);
      const target = await node.readlink();
      if (target.length === 0) fail(Errno.ENOENT, 'empty symlink');
      if (target.startsWith('/')) cur = ctx.root;
      if (last && target.endsWith('/')) trailingSlash = true;
      comps.unshift(...splitPath(target));
      if (comps.length === 0) return { parent: cur, name: '', child: cur, trailingSlash };
      continue;
    }
    if (last) return { parent: cur, name, child, trailingSlash };
    cur = child;
  }
}

/** Resolves `path` to an existing location (ENOENT if absent; ENOTDIR if a trailing slash names a non-directory). */
export async function resolve(
  ctx: ResolveContext,
  start: VirtualDentry,
  path: string,
  opts: WalkOptions,
): Promise<VirtualDentry> {
  const r = await walk(ctx, start, path, opts);
  if (!r.child) fail(Errno.ENOENT, `no ${r.name}`);
  if (r.trailingSlash && !isDir((await r.child.dentry.node.stat()).mode)) fail(Errno.ENOTDIR);
  return r.child;
}

/**
 * The absolute path of `vd` as seen from `root` (getcwd(3), /proc/PID/cwd). A location outside the root gets
 * Linux's "(unreachable)" prefix; an unlinked one the " (deleted)" suffix.
 */
export function pathFrom(root: VirtualDentry, vd: VirtualDentry): { path: string; reachable: boolean; deleted: boolean } {
  const parts: string[] = [];
  let cur = vd;
  let deleted = false;
  for (;;) {
    if (sameLocation(cur, root)) break;
    if (cur.dentry === cur.mount.root) {
      if (!cur.mount.parent || !cur.mount.mountpoint) {
        return { path: '/' + parts.reverse().join('/'), reachable: false, deleted };
      }
      cur = { mount: cur.mount.parent, dentry: cur.mount.mountpoint };
      continue;
    }
    if (cur.dentry.dead) deleted = true;
    parts.push(cur.dentry.name);
    const p = cur.dentry.parent;
    if (!p) return { path: '/' + parts.reverse().join('/'), reachable: false, deleted };
    cur = { mount: cur.mount, dentry: p };
  }
  return { path: '/' + parts.reverse().join('/'), reachable: true, deleted };
}

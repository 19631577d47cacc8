// flock(2) locks: advisory whole-file locks held by open file descriptions. A shared lock may be held by many
// descriptions, an exclusive one by one; converting between them is not atomic (flock(2) NOTES). The lock goes away
// on LOCK_UN or when the description is released (the last fd referring to it closes). Waiting is the caller's
// business: tryLock says EWOULDBLOCK (EAGAIN) and `subscribe` reports when another holder lets go.
import { Errno, fail } from '../kernel/syscall_error.js';
import type { FileDescription } from './file_description.js';
import type { FsNode } from './filesystem.js';

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

class NodeLock {
  readonly shared = new Set<FileDescription>();
  exclusive: FileDescription | null = null;
  readonly waiters = new Set<() => void>();
  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

const locks = new WeakMap<FsNode, NodeLock>();
const hooked = new WeakSet<FileDescription>();

function lockOf(node: FsNode): NodeLock {
  let l = locks.get(node);
  if (!l) {
    l = new NodeLock();
    locks.set(node, l);
  }
  return l;
}

export function unlock(file: FileDescription, node: FsNode): void {
  const l = locks.get(node);
  if (!l) return;
  const had = l.shared.delete(file) || l.exclusive === file;
  if (l.exclusive === file) l.exclusive = null;
  if (had) l.notify();
}

/** Takes (or converts to) `type` (LOCK_SH or LOCK_EX) for `file` on `node`; EAGAIN if another holder conflicts. */
export function tryLock(file: FileDescription, node: FsNode, type: number): void {
  const l = lockOf(node);
  if (type === LOCK_EX) {
    if (l.exclusive === file) return;
    const others = [...l.shared].some((f) => f !== file);
    if (l.exclusive || others) fail(Errno.EAGAIN, 'file is locked');
    l.shared.delete(file);
    l.exclusive = file;
  } else {
    if (l.shared.has(file)) return;
    if (l.exclusive && l.exclusive !== file) fail(Errno.EAGAIN, 'file is locked');
    if (l.exclusive === file) {
      l.exclusive = null;
      l.notify();
    }
    l.shared.add(file);
  }
  if (!hooked.has(file)) {
    hooked.add(file);
    file.onRelease(() => unlock(file, node));
  }
}

export function subscribeUnlock(node: FsNode, wake: () => void): () => void {
  const l = lockOf(node);
  l.waiters.add(wake);
  return () => l.waiters.delete(wake);
}

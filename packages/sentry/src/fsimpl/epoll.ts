// epoll(7) instances: an interest list of (fd, open file) pairs with their event masks. Level-triggered entries
// are ready while their file is; edge-triggered (EPOLLET) ones only after their file signalled a change since the
// last report; EPOLLONESHOT entries are disabled after one report until EPOLL_CTL_MOD. An entry lives until
// EPOLL_CTL_DEL or until its open file description is released (closing one of several dup'ed fds keeps it, as on
// Linux). The instance is itself pollable (POLLIN when an entry is ready), so epoll sets nest.
import { Errno, fail } from '../kernel/syscall_error.js';
import { anonInodeStat } from '../vfs/anon.js';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../vfs/constants.js';
import type { FileDescription } from '../vfs/file_description.js';
import type { FileDescriptionImpl, Stat } from '../vfs/filesystem.js';
import { allocateDev } from '../vfs/mount.js';
import { nowNs } from './tmpfs.js';

export const EPOLLET = 1 << 31;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLEXCLUSIVE = 1 << 28;

const epollDev = allocateDev();
let nextIno = 1n;

interface Interest {
  fd: number;
  file: FileDescription;
  events: number;
  data: bigint;
  /** Edge-triggered: the file changed since the last report. */
  edge: boolean;
  disabled: boolean;
  unsubscribe: () => void;
}

export interface EpollEvent {
  events: number;
  data: bigint;
}

export class EpollInstance implements FileDescriptionImpl {
  readonly seekable = false;
  private readonly interests = new Map<string, Interest>();
  private readonly waiters = new Set<() => void>();
  private readonly ino = nextIno++;
  private readonly created = nowNs();
  private released = false;

  private static key(fd: number, file: FileDescription): string {
    return `${fd}:${fileId(file)}`;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private currentEvents(i: Interest): number {
    let r = i.file.readiness();
    if (r & POLLIN) r |= POLLRDNORM;
    if (r & POLLOUT) r |= POLLWRNORM;
    // EPOLLERR and EPOLLHUP are always reported (epoll_ctl(2)).
    return r & (i.events | POLLERR | POLLHUP) & 0xffff;
  }

  add(fd: number, file: FileDescription, events: number, data: bigint): void {
    if (file.impl === this) fail(Errno.EINVAL, 'an epoll instance cannot watch itself');
    if (file.impl instanceof EpollInstance && file.impl.watches(this)) fail(Errno.ELOOP);
    // Regular files and directories do not support epoll (epoll_ctl(2) EPERM).
    if (file.location && file.impl.seekable && !file.impl.readiness) fail(Errno.EPERM, 'file does not support epoll');
    const key = EpollInstance.key(fd, file);
    if (this.interests.has(key)) fail(Errno.EEXIST);
    const entry: Interest = { fd, file, events, data, edge: true, disabled: false, unsubscribe: () => {} };
    entry.unsubscribe = file.subscribe(() => {
      entry.edge = true;
      this.notify();
    });
    this.interests.set(key, entry);
    file.onRelease(() => this.forget(key));
    this.notify();
  }

  modify(fd: number, file: FileDescription, events: number, data: bigint): void {
    const e = this.interests.get(EpollInstance.key(fd, file));
    if (!e) fail(Errno.ENOENT);
    e.events = events;
    e.data = data;
    e.disabled = false;
    e.edge = true;
    this.notify();
  }

  remove(fd: number, file: FileDescription): void {
    const key = EpollInstance.key(fd, file);
    if (!this.interests.has(key)) fail(Errno.ENOENT);
    this.forget(key);
  }

  private forget(key: string): void {
    const e = this.interests.get(key);
    if (!e) return;
    e.unsubscribe();
    this.interests.delete(key);
  }

  /** True if this instance (directly or through nested instances) watches `other`. */
  watches(other: EpollInstance): boolean {
    for (const e of this.interests.values()) {
      if (e.file.impl === other) return true;
      if (e.file.impl instanceof EpollInstance && e.file.impl.watches(other)) return true;
    }
    return false;
  }

  private readyEntries(): Interest[] {
    const out: Interest[] = [];
    for (const e of this.interests.values()) {
      if (e.disabled) continue;
      if (e.events & EPOLLET && !e.edge) continue;
      if (this.currentEvents(e) !== 0) out.push(e);
    }
    return out;
  }

  /** Takes up to `max` ready events (the non-blocking half of epoll_wait). */
  collect(max: number): EpollEvent[] {
    const out: EpollEvent[] = [];
    for (const e of this.readyEntries()) {
      if (out.length >= max) break;
      out.push({ events: this.currentEvents(e), data: e.data });
      if (e.events & EPOLLET) e.edge = false;
      if (e.events & EPOLLONESHOT) e.disabled = true;
    }
    return out;
  }

  readiness(): number {
    return this.readyEntries().length > 0 ? POLLIN | POLLRDNORM : 0;
  }

  subscribe(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  async stat(): Promise<Stat> {
    return anonInodeStat(epollDev, this.ino, this.created);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const key of [...this.interests.keys()]) this.forget(key);
  }
}

const ids = new WeakMap<FileDescription, number>();
let nextId = 1;
function fileId(f: FileDescription): number {
  let id = ids.get(f);
  if (id === undefined) {
    id = nextId++;
    ids.set(f, id);
  }
  return id;
}

// A task's file descriptor table (open(2) "file descriptor", dup(2), fcntl(2) F_GETFD/F_SETFD): each fd refers to
// an open file description and carries its own close-on-exec flag. New fds take the lowest free number; the soft
// RLIMIT_NOFILE bounds them (EMFILE). Tasks created with CLONE_FILES share one table; fork copies it.
import { Errno, fail } from '../kernel/syscall_error.js';
import type { FileDescription } from './file_description.js';

export interface FdEntry {
  readonly file: FileDescription;
  cloexec: boolean;
}

/** Linux's default soft RLIMIT_NOFILE. */
export const DEFAULT_NOFILE_LIMIT = 1024;

export class FdTable {
  private readonly entries = new Map<number, FdEntry>();
  /** The soft RLIMIT_NOFILE; the kernel updates it on setrlimit/prlimit. */
  limit = DEFAULT_NOFILE_LIMIT;

  /** Installs `file` at the lowest free fd >= `minFd` (F_DUPFD semantics); EMFILE at the limit. */
  install(file: FileDescription, opts: { cloexec?: boolean; minFd?: number } = {}): number {
    const minFd = opts.minFd ?? 0;
    if (minFd >= this.limit) fail(Errno.EINVAL, 'fd beyond RLIMIT_NOFILE');
    let fd = minFd;
    while (this.entries.has(fd)) fd++;
    if (fd >= this.limit) fail(Errno.EMFILE);
    file.incRef();
    this.entries.set(fd, { file, cloexec: opts.cloexec ?? false });
    return fd;
  }

  /** Puts `file` at exactly `fd`, closing what was there (dup2/dup3). EBADF if fd is beyond the limit. */
  installAt(fd: number, file: FileDescription, cloexec: boolean): void {
    if (fd < 0 || fd >= this.limit) fail(Errno.EBADF, `fd ${fd} beyond RLIMIT_NOFILE`);
    file.incRef();
    const old = this.entries.get(fd);
    this.entries.set(fd, { file, cloexec });
    old?.file.decRef();
  }

  get(fd: number): FileDescription {
    const e = this.entries.get(fd);
    if (!e) fail(Errno.EBADF, `fd ${fd} is not open`);
    return e.file;
  }

  entry(fd: number): FdEntry {
    const e = this.entries.get(fd);
    if (!e) fail(Errno.EBADF, `fd ${fd} is not open`);
    return e;
  }

  has(fd: number): boolean {
    return this.entries.has(fd);
  }

  close(fd: number): void {
    const e = this.entries.get(fd);
    if (!e) fail(Errno.EBADF, `fd ${fd} is not open`);
    this.entries.delete(fd);
    e.file.decRef();
  }

  /** The open fds, ascending (for /proc/PID/fd and poll tests). */
  fds(): number[] {
    return [...this.entries.keys()].sort((a, b) => a - b);
  }

  get size(): number {
    return this.entries.size;
  }

  /** A copy for fork(2) without CLONE_FILES: same open file descriptions, same close-on-exec flags. */
  fork(): FdTable {
    const t = new FdTable();
    t.limit = this.limit;
    for (const [fd, e] of this.entries) {
      e.file.incRef();
      t.entries.set(fd, { file: e.file, cloexec: e.cloexec });
    }
    return t;
  }

  /** execve(2): closes every close-on-exec fd. */
  onExec(): void {
    for (const [fd, e] of [...this.entries]) {
      if (!e.cloexec) continue;
      this.entries.delete(fd);
      e.file.decRef();
    }
  }

  /** Closes everything (the last task using the table exited). */
  closeAll(): void {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) e.file.decRef();
  }
}

// Descriptor syscalls: dup(2), dup2, dup3, fcntl(2) (F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL,
// F_GETPIPE_SZ). Record locks (F_GETLK/F_SETLK/F_SETLKW, F_OFD_*) are not implemented and fail with ENOLCK rather
// than pretending a lock is held.
import { Errno, fail } from '../kernel/syscall_error.js';
import { O_CLOEXEC, SETFL_MASK } from '../vfs/constants.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { DEFAULT_PIPE_CAPACITY } from '../fsimpl/pipe.js';
import { intArg, u32Arg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_GETLK = 5;
export const F_SETLK = 6;
export const F_SETLKW = 7;
export const F_SETOWN = 8;
export const F_GETOWN = 9;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const F_DUPFD_CLOEXEC = 1030;
export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;
export const F_OFD_SETLKW = 38;
export const FD_CLOEXEC = 1;

const dup: H = (task, [fd]) => task.fdTable.install(task.fdTable.get(intArg(fd)));

/** dup2(2): same fd is a no-op that still checks the fd is open. */
const dup2: H = (task, [oldfd, newfd]) => {
  const o = intArg(oldfd);
  const n = intArg(newfd);
  const file = task.fdTable.get(o);
  if (o === n) return n;
  task.fdTable.installAt(n, file, false);
  return n;
};

/** dup3(2): EINVAL for equal fds or flags other than O_CLOEXEC. */
const dup3: H = (task, [oldfd, newfd, flags]) => {
  const o = intArg(oldfd);
  const n = intArg(newfd);
  const fl = intArg(flags);
  if (fl & ~O_CLOEXEC) fail(Errno.EINVAL, 'dup3 flags');
  if (o === n) fail(Errno.EINVAL, 'dup3 with equal fds');
  task.fdTable.installAt(n, task.fdTable.get(o), (fl & O_CLOEXEC) !== 0);
  return n;
};

const fcntl: H = (task, [fdArg, cmdArg, arg]) => {
  const fd = intArg(fdArg);
  const cmd = intArg(cmdArg);
  const entry = task.fdTable.entry(fd);
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const min = intArg(arg);
      if (min < 0) fail(Errno.EINVAL);
      return task.fdTable.install(entry.file, { minFd: min, cloexec: cmd === F_DUPFD_CLOEXEC });
    }
    case F_GETFD:
      return entry.cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
      entry.cloexec = (intArg(arg) & FD_CLOEXEC) !== 0;
      return 0;
    case F_GETFL:
      return entry.file.flags;
    case F_SETFL: {
      if (entry.file.isPath) fail(Errno.EBADF);
      const fl = intArg(arg);
      entry.file.flags = (entry.file.flags & ~SETFL_MASK) | (fl & SETFL_MASK);
      return 0;
    }
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
      // Pipe buffers have a fixed 64 KiB capacity here; F_SETPIPE_SZ to other sizes is refused.
      if (entry.file.location !== null && entry.file.impl.seekable) fail(Errno.EBADF);
      // fcntl(2): the size is an unsigned int; one past 2^31 cannot be rounded to a page count (EINVAL).
      if (cmd === F_SETPIPE_SZ && u32Arg(arg) > 0x80000000) fail(Errno.EINVAL, 'pipe size too large');
      if (cmd === F_SETPIPE_SZ && intArg(arg) > DEFAULT_PIPE_CAPACITY) fail(Errno.EPERM, 'pipe size is fixed');
      return DEFAULT_PIPE_CAPACITY;
    case F_GETOWN:
      return 0;
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      fail(Errno.ENOLCK, 'record locks are not implemented');
    default:
      fail(Errno.EINVAL, `fcntl command ${cmd} is not supported`);
  }
};

export const fdSyscalls: Partial<Record<SyscallName, H>> = { dup, dup2, dup3, fcntl };

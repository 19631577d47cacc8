// Every file-system syscall handler by name, for the syscall table (table.ts) to reference.
import { runAsCaller } from '../vfs/caller.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { dirSyscalls } from './dir.js';
import { fdSyscalls } from './fd.js';
import { epollSyscalls } from './epoll.js';
import { eventFdSyscalls } from './event_fds.js';
import { fileSyscallsPaths } from './file.js';
import { miscFileSyscalls } from './file_misc.js';
import { xattrSyscalls } from './xattr.js';
import { ioctlSyscalls } from './ioctl.js';
import type { SyscallName } from './numbers.js';
import { pipeSyscalls } from './pipe.js';
import { pollSyscalls } from './poll.js';
import { readWriteSyscalls } from './read_write.js';
import { statSyscalls } from './stat.js';
import type { SyscallHandler } from './types.js';

const families: Partial<Record<SyscallName, SyscallHandler<FsSyscallContext>>> = {
  ...fileSyscallsPaths,
  ...readWriteSyscalls,
  ...statSyscalls,
  ...dirSyscalls,
  ...fdSyscalls,
  ...pipeSyscalls,
  ...pollSyscalls,
  ...ioctlSyscalls,
  ...xattrSyscalls,
  ...miscFileSyscalls,
  ...epollSyscalls,
  ...eventFdSyscalls,
};

/** Each handler runs with the calling task recorded (vfs/caller.ts) so /proc/self names the caller. */
export const fileSyscalls: Partial<Record<SyscallName, SyscallHandler<FsSyscallContext>>> = Object.fromEntries(
  Object.entries(families).map(([name, handler]) => [
    name,
    ((task, args) => runAsCaller({ pid: task.pid, tid: task.tid }, () => handler!(task, args))) as SyscallHandler<FsSyscallContext>,
  ]),
);

/** File syscalls whose support is partial, with what they leave out (for the syscall table's PARTIAL notes). */
export const fileSyscallNotes: Partial<Record<SyscallName, string>> = {
  fcntl: 'record locks (F_GETLK/F_SETLK/F_SETLKW, OFD locks) fail with ENOLCK; pipe size fixed at 64 KiB',
  ppoll: 'the temporary sigmask is applied only if the task implements swapSignalMask; remaining time not written back',
  pselect6: 'the temporary sigmask is applied only if the task implements swapSignalMask; remaining time not written back',
  select: 'remaining time is not written back to the timeval',
  ioctl: 'FIONREAD, FIONBIO, FIOCLEX/FIONCLEX, TIOCGWINSZ on the host tty; TCGETS/TCSETS answer ENOTTY',
  renameat2: 'RENAME_EXCHANGE and RENAME_WHITEOUT unsupported (EINVAL)',
  fallocate: 'plain allocation and FALLOC_FL_KEEP_SIZE only',
  memfd_create: 'no MFD_HUGETLB, no seals',
  close_range: 'CLOSE_RANGE_UNSHARE unsupported (EINVAL)',
  mount: 'EPERM: mounts come from the OCI spec',
  umount2: 'EPERM: mounts come from the OCI spec',
  getxattr: 'tmpfs and overlay upper layer only; gofer files answer EOPNOTSUPP',
  setxattr: 'tmpfs and overlay upper layer only; gofer files answer EOPNOTSUPP',
  copy_file_range: 'copies through the sentry in 64 KiB chunks',
  timerfd_settime: 'millisecond wake-ups; TFD_TIMER_CANCEL_ON_SET unsupported',
};

// Every file-system syscall handler by name, for the syscall table (table.ts) to reference.
import { runAsCaller } from '../vfs/caller.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { dirSyscalls } from './dir.js';
import { fdSyscalls } from './fd.js';
import { fileSyscallsPaths } from './file.js';
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
};

/** Each handler runs with the calling task recorded (vfs/caller.ts) so /proc/self names the caller. */
export const fileSyscalls: Partial<Record<SyscallName, SyscallHandler<FsSyscallContext>>> = Object.fromEntries(
  Object.entries(families).map(([name, handler]) => [
    name,
    ((task, args) => runAsCaller({ pid: task.pid, tid: task.tid }, () => handler!(task, args))) as SyscallHandler<FsSyscallContext>,
  ]),
);

// ioctl(2): the generic requests every file answers (FIOCLEX, FIONCLEX, FIONBIO, FIONREAD on regular files),
// then the file's own (pipes: FIONREAD; host tty: TIOCGWINSZ, TCGETS). A file with no tty answers ENOTTY, which is
// how isatty(3) learns it is not a terminal.
import { Errno, fail } from '../kernel/syscall_error.js';
import { isReg, O_NONBLOCK } from '../vfs/constants.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { intArg, u32Arg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

export const TCGETS = 0x5401;
export const TIOCGWINSZ = 0x5413;
export const FIONREAD = 0x541b;
export const FIONBIO = 0x5421;
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;

const ioctl: SyscallHandler<FsSyscallContext> = async (task, [fdArg, reqArg, arg]) => {
  const fd = intArg(fdArg);
  const entry = task.fdTable.entry(fd);
  const file = entry.file;
  if (file.isPath) fail(Errno.EBADF);
  const request = u32Arg(reqArg);
  switch (request) {
    case FIOCLEX:
      entry.cloexec = true;
      return 0;
    case FIONCLEX:
      entry.cloexec = false;
      return 0;
    case FIONBIO:
      if (task.memory.readU32(arg) !== 0) file.flags |= O_NONBLOCK;
      else file.flags &= ~O_NONBLOCK;
      return 0;
    case FIONREAD:
      if (file.location && file.impl.seekable) {
        const st = await file.stat();
        if (!isReg(st.mode)) fail(Errno.ENOTTY);
        const left = st.size > file.offset ? st.size - file.offset : 0n;
        task.memory.writeU32(arg, Number(left > 0x7fffffffn ? 0x7fffffffn : left));
        return 0;
      }
      break;
  }
  if (!file.impl.ioctl) fail(Errno.ENOTTY);
  return file.impl.ioctl({ request, arg, memory: task.memory });
};

export const ioctlSyscalls: Partial<Record<SyscallName, SyscallHandler<FsSyscallContext>>> = { ioctl };

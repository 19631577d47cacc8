// Directory syscalls: getdents64(2) / getdents(2), getcwd(2), chdir(2), fchdir(2).
import { Errno, fail } from '../kernel/syscall_error.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { chdirLocation, chdirPath, getcwd as cwdPath } from '../vfs/operations.js';
import { intArg, u32Arg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

/**
 * Packs directory entries into the caller's buffer. getdents64: struct linux_dirent64 { u64 d_ino; s64 d_off;
 * u16 d_reclen; u8 d_type; char d_name[] } padded to 8 bytes. getdents: struct linux_dirent { unsigned long d_ino;
 * unsigned long d_off; unsigned short d_reclen; char d_name[]; char pad; char d_type } (d_type in the last byte).
 */
function getdentsHandler(wide: boolean): H {
  return async (task, [fd, dirp, count]) => {
    const file = task.fdTable.get(intArg(fd));
    // count is an unsigned int; Linux refuses one past INT_MAX with EINVAL (a negative int passed by mistake).
    const size = u32Arg(count);
    if (size > 0x7fffffff) fail(Errno.EINVAL, 'getdents count past INT_MAX');
    const out = Buffer.alloc(Math.min(size, 1 << 20));
    let used = 0;
    let firstDidNotFit = false;
    const startOffset = file.offset;
    await file.readdir((e, nextOffset) => {
      const name = Buffer.from(e.name);
      const reclen = wide ? (19 + name.length + 1 + 7) & ~7 : (18 + name.length + 2 + 7) & ~7;
      if (used + reclen > out.length) {
        firstDidNotFit = used === 0;
        return false;
      }
      out.writeBigUInt64LE(e.ino, used);
      out.writeBigInt64LE(nextOffset, used + 8);
      out.writeUInt16LE(reclen, used + 16);
      if (wide) {
        out.writeUInt8(e.type, used + 18);
        name.copy(out, used + 19);
      } else {
        name.copy(out, used + 18);
        out.writeUInt8(e.type, used + reclen - 1);
      }
      used += reclen;
      return true;
    });
    // getdents(2): EINVAL when the buffer cannot hold even the next entry.
    if (firstDidNotFit) fail(Errno.EINVAL, 'result buffer is too small');
    try {
      if (used > 0) task.memory.write(dirp, out.subarray(0, used));
    } catch (e) {
      // EFAULT: the entries never reached the caller, so the directory offset goes back and they are listed
      // again by the next call (Linux advances only past entries it copied out).
      file.offset = startOffset;
      throw e;
    }
    return used;
  };
}

const getcwd: H = (task, [buf, size]) => {
  const p = Buffer.from(cwdPath(task) + '\0');
  if (Number(size) < p.length) fail(Errno.ERANGE);
  task.memory.write(buf, p);
  return p.length;
};

const chdir: H = async (task, [p]) => (await chdirPath(task, task.memory.readCString(p)), 0);
const fchdir: H = async (task, [fd]) => {
  const f = task.fdTable.get(intArg(fd));
  if (!f.location) fail(Errno.ENOTDIR);
  await chdirLocation(task, f.location);
  return 0;
};

export const dirSyscalls: Partial<Record<SyscallName, H>> = {
  getdents64: getdentsHandler(true),
  getdents: getdentsHandler(false),
  getcwd,
  chdir,
  fchdir,
};

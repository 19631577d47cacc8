// How the loader reads executables for a task: through the VFS, with the task's root, cwd and credentials, and
// the checks execve(2) makes on the file itself (a regular file, with execute permission: EACCES otherwise).
import type { ExecutableFile, ExecutableSource } from '../loader/types.js';
import { AT_FDCWD, isReg, O_RDONLY } from '../vfs/constants.js';
import { openAt, type TaskFs } from '../vfs/operations.js';
import { Errno, fail } from './syscall_error.js';

export function vfsExecutableSource(task: TaskFs): ExecutableSource {
  return {
    async open(path: string): Promise<ExecutableFile> {
      const file = await openAt(task, AT_FDCWD, path, O_RDONLY, 0);
      const st = await file.stat();
      if (!isReg(st.mode)) fail(Errno.EACCES, `${path} is not a regular file`);
      // Even root needs one execute bit (execve(2) EACCES; capabilities(7) CAP_DAC_OVERRIDE).
      const c = task.creds;
      const x =
        c.euid === 0
          ? (st.mode & 0o111) !== 0
          : c.euid === st.uid
            ? (st.mode & 0o100) !== 0
            : c.egid === st.gid || c.groups.includes(st.gid)
              ? (st.mode & 0o010) !== 0
              : (st.mode & 0o001) !== 0;
      if (!x) fail(Errno.EACCES, `${path} is not executable`);
      return {
        path,
        size: Number(st.size),
        read: (offset: number, length: number) => file.pread(length, BigInt(offset)),
      };
    },
  };
}

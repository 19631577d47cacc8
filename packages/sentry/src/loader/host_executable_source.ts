// An ExecutableSource over the host file system, for bring-up before the VFS serves execve and for tests: opens
// paths with the host's permission checks and turns Node's errors into the errno execve(2) reports.
import fs from 'node:fs';
import { SyscallError, Errno } from '../kernel/syscall_error.js';
import { MAX_IMAGE_FILE_BYTES } from './loader.js';
import type { ExecutableFile, ExecutableSource } from './types.js';

const ERRNO_BY_CODE: Record<string, number> = {
  ENOENT: Errno.ENOENT,
  EACCES: Errno.EACCES,
  EPERM: Errno.EPERM,
  ELOOP: Errno.ELOOP,
  ENAMETOOLONG: Errno.ENAMETOOLONG,
  ENOTDIR: Errno.ENOTDIR,
  EISDIR: Errno.EACCES,
  ETXTBSY: Errno.ETXTBSY,
};

/** Largest file HostExecutableSource opens (it holds the whole file in memory); the loader's own bound, plus headers. */
export const MAX_HOST_EXECUTABLE_BYTES = MAX_IMAGE_FILE_BYTES + 1024 * 1024;

export class HostExecutableSource implements ExecutableSource {
  async open(path: string): Promise<ExecutableFile> {
    if (path === '') throw new SyscallError(Errno.ENOENT, 'empty path');
    let handle: fs.promises.FileHandle;
    try {
      await fs.promises.access(path, fs.constants.X_OK);
      handle = await fs.promises.open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      throw new SyscallError(ERRNO_BY_CODE[code] ?? Errno.EIO, `${path}: ${(err as Error).message}`);
    }
    try {
      const st = await handle.stat();
      // execve(2): EACCES when the file is not a regular file.
      if (!st.isFile()) throw new SyscallError(Errno.EACCES, `${path}: not a regular file`);
      // The whole file is read into memory: bound it by what the loader would read anyway, so a huge file fails
      // with an errno rather than with Node's RangeError (ERR_FS_FILE_TOO_LARGE) or an exhausted sentry.
      if (st.size > MAX_HOST_EXECUTABLE_BYTES) {
        throw new SyscallError(Errno.ENOMEM, `${path}: ${st.size} bytes, over ${MAX_HOST_EXECUTABLE_BYTES} this source reads`);
      }
      const data = await handle.readFile();
      return {
        path,
        size: data.length,
        read: async (offset: number, length: number) => data.subarray(offset, offset + length),
      };
    } finally {
      await handle.close();
    }
  }
}

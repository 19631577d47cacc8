// The loader's view of the VFS (loader/types.ts ExecutableSource): opens the executable, a shebang interpreter or
// a PT_INTERP interpreter for one task, with execve(2)'s checks: search permission on every directory, execute
// permission on the file, a regular file (EACCES otherwise), not on a noexec mount (EACCES).
import type { ExecutableFile, ExecutableSource } from '../loader/types.js';
import { Errno, fail } from '../kernel/syscall_error.js';
import { AT_FDCWD, isDir, isReg, O_RDONLY, X_OK } from './constants.js';
import { runAsCaller } from './caller.js';
import { checkAccess } from './permissions.js';
import { lookupAt, openLocation, type TaskFs } from './operations.js';
import { pathFrom } from './path_resolution.js';
import type { FileDescription } from './file_description.js';

/** Executable files are released when the loader drops them (ExecutableFile has no close in the contract). */
const openFiles = new FinalizationRegistry<FileDescription>((f) => f.decRef());

/** What `open` returns: an ExecutableFile plus `release()` to give the open file back before GC would. */
export interface VfsExecutableFile extends ExecutableFile {
  release(): void;
}

export class VfsExecutableSource implements ExecutableSource {
  constructor(
    private readonly task: TaskFs & { pid?: number; tid?: number },
  ) {}

  open(path: string): Promise<VfsExecutableFile> {
    const caller = { pid: this.task.pid ?? 0, tid: this.task.tid ?? 0 };
    return runAsCaller(caller, () => this.doOpen(path));
  }

  private async doOpen(path: string): Promise<VfsExecutableFile> {
    const t = this.task;
    const vd = await lookupAt(t, AT_FDCWD, path, { follow: true });
    const st = await vd.dentry.node.stat();
    if (isDir(st.mode)) fail(Errno.EACCES, `${path} is a directory`);
    if (!isReg(st.mode)) fail(Errno.EACCES, `${path} is not a regular file`);
    if (vd.mount.flags.noexec) fail(Errno.EACCES, `${path} is on a noexec mount`);
    checkAccess(t.creds, st, X_OK, `${path} is not executable`);
    // The loader reads the file even if the caller could only execute it (execve needs no read permission), so
    // the open is done with root's credentials once the execute check passed.
    const file = await openLocation({ ...t, creds: { ...t.creds, euid: 0, uid: 0 } }, vd, O_RDONLY);
    file.incRef();
    const size = Number(st.size);
    let released = false;
    const exe: VfsExecutableFile = {
      release: () => {
        if (released) return;
        released = true;
        openFiles.unregister(exe);
        file.decRef();
      },
      path: pathFrom(t.fsContext.root, vd).path,
      size,
      read: async (offset: number, length: number) => {
        const parts: Buffer[] = [];
        let got = 0;
        while (got < length) {
          const chunk = await file.pread(length - got, BigInt(offset + got));
          if (chunk.length === 0) break;
          parts.push(chunk);
          got += chunk.length;
        }
        return Buffer.concat(parts);
      },
    };
    openFiles.register(exe, file, exe);
    return exe;
  }
}

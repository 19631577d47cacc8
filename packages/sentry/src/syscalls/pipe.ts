// pipe(2) / pipe2(2): a Pipe with a read end and a write end installed as two fds.
import { Errno, fail } from '../kernel/syscall_error.js';
import { O_CLOEXEC, O_DIRECT, O_NONBLOCK, O_RDONLY, O_WRONLY } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { Pipe } from '../fsimpl/pipe.js';
import { intArg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

/** Makes a pipe's two open file descriptions (read end first). O_DIRECT (packet mode) is not supported. */
export function makePipe(flags: number, owner?: { uid: number; gid: number }): [FileDescription, FileDescription] {
  const pipe = new Pipe(undefined, owner);
  const status = flags & O_NONBLOCK;
  return [
    new FileDescription(pipe.open(true, false), O_RDONLY | status, null),
    new FileDescription(pipe.open(false, true), O_WRONLY | status, null),
  ];
}

const pipe2: H = (task, [fds, flags]) => {
  const fl = intArg(flags);
  if (fl & ~(O_CLOEXEC | O_NONBLOCK)) fail(Errno.EINVAL, fl & O_DIRECT ? 'O_DIRECT pipes are not supported' : 'pipe2 flags');
  const [r, w] = makePipe(fl, { uid: task.creds.euid, gid: task.creds.egid });
  const cloexec = (fl & O_CLOEXEC) !== 0;
  const rfd = task.fdTable.install(r, { cloexec });
  let wfd: number;
  try {
    wfd = task.fdTable.install(w, { cloexec });
  } catch (e) {
    task.fdTable.close(rfd);
    w.incRef();
    w.decRef();
    throw e;
  }
  const out = Buffer.alloc(8);
  out.writeInt32LE(rfd, 0);
  out.writeInt32LE(wfd, 4);
  try {
    task.memory.write(fds, out);
  } catch (e) {
    task.fdTable.close(rfd);
    task.fdTable.close(wfd);
    throw e;
  }
  return 0;
};

const pipe: H = (task, [fds]) => pipe2(task, [fds, 0n, 0n, 0n, 0n, 0n]);

export const pipeSyscalls: Partial<Record<SyscallName, H>> = { pipe, pipe2 };

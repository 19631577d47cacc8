// The one way a syscall fails: a typed errno value. Handlers and everything they call (VFS, pipes, sockets) throw
// SyscallError; the dispatcher turns it into the negative return value. Any other exception is a sentry bug: it is
// logged with the syscall and answered with EIO, never with a crash of the sentry.
import { Errno, errnoName } from './errno.js';

export class SyscallError extends Error {
  constructor(readonly errno: number, detail?: string) {
    super(detail ? `${errnoName(errno)}: ${detail}` : errnoName(errno));
    this.name = 'SyscallError';
  }
}

/** Throws SyscallError(errno); typed `never` so it can end an expression. */
export function fail(errno: number, detail?: string): never {
  throw new SyscallError(errno, detail);
}

export { Errno };

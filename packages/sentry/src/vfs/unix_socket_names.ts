// Path names of AF_UNIX sockets (unix(7)): bind(2) creates a socket node in the file system and connect(2) finds
// the listening endpoint through it. The VFS stores which endpoint a socket node belongs to; the socket layer
// decides what an endpoint is. Errors follow unix(7): EADDRINUSE if the name exists, ECONNREFUSED if the node has
// no live endpoint or is not a socket (Linux answers ECONNREFUSED for both), EACCES without write permission.
import { Errno, fail, SyscallError } from '../kernel/syscall_error.js';
import { AT_FDCWD, S_IFMT, S_IFSOCK, W_OK } from './constants.js';
import type { FsNode } from './filesystem.js';
import { lookupAt, mknodAt, type TaskFs } from './operations.js';
import { checkAccess } from './permissions.js';

const endpoints = new WeakMap<FsNode, unknown>();

/**
 * bind(2) of a path name: makes a socket node (mode 0777 & ~umask, as Linux) at `path` and records `endpoint` for
 * it. EADDRINUSE if the name already exists.
 */
export async function bindUnixSocket(t: TaskFs, path: string, endpoint: unknown): Promise<void> {
  try {
    await mknodAt(t, AT_FDCWD, path, S_IFSOCK | 0o777, 0);
  } catch (e) {
    if (e instanceof SyscallError && e.errno === Errno.EEXIST) fail(Errno.EADDRINUSE, path);
    throw e;
  }
  const vd = await lookupAt(t, AT_FDCWD, path, { follow: false });
  endpoints.set(vd.dentry.node, endpoint);
}

/** Forgets the endpoint of a bound name (the socket closed); the node stays, as on Linux, until unlinked. */
export async function unbindUnixSocket(t: TaskFs, path: string): Promise<void> {
  try {
    const vd = await lookupAt(t, AT_FDCWD, path, { follow: false });
    endpoints.delete(vd.dentry.node);
  } catch {
    // Already gone: nothing to forget.
  }
}

/** connect(2)/sendto(2) to a path name: the endpoint bound there. */
export async function findUnixSocket(t: TaskFs, path: string): Promise<unknown> {
  const vd = await lookupAt(t, AT_FDCWD, path, { follow: true });
  const st = await vd.dentry.node.stat();
  checkAccess(t.creds, st, W_OK, 'no write permission on the socket');
  if ((st.mode & S_IFMT) !== S_IFSOCK) fail(Errno.ECONNREFUSED, `${path} is not a socket`);
  const ep = endpoints.get(vd.dentry.node);
  if (ep === undefined) fail(Errno.ECONNREFUSED, `nothing listens on ${path}`);
  return ep;
}

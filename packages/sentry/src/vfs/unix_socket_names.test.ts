import { describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_RDWR } from './constants.js';
import { FdTable } from './fd_table.js';
import { FsContext } from './fs_context.js';
import { MountNamespace } from './mount.js';
import { openAt, statAt, symlinkAt, unlinkAt, type TaskFs } from './operations.js';
import { bindUnixSocket, findUnixSocket, unbindUnixSocket } from './unix_socket_names.js';

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as { errno: number }).errno;
  }
}

describe('AF_UNIX path names', () => {
  it('bind makes a socket node, connect finds its endpoint, errors follow unix(7)', async () => {
    const ns = new MountNamespace(new Tmpfs({ mode: 0o1777 }));
    const t: TaskFs = { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds: { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] } };
    const endpoint = { name: 'listener' };
    await bindUnixSocket(t, '/sock', endpoint);
    expect((await statAt(t, AT_FDCWD, '/sock', AT_SYMLINK_NOFOLLOW)).mode).toBe(0o140755);
    expect(await errnoOf(bindUnixSocket(t, '/sock', {}))).toBe(Errno.EADDRINUSE);
    await symlinkAt(t, 'sock', AT_FDCWD, '/via-link');
    expect(await findUnixSocket(t, '/via-link')).toBe(endpoint);
    expect(await errnoOf(openAt(t, AT_FDCWD, '/sock', O_RDWR, 0))).toBe(Errno.ENXIO);
    const user: TaskFs = { ...t, creds: { uid: 5, gid: 5, euid: 5, egid: 5, groups: [] } };
    expect(await errnoOf(findUnixSocket(user, '/sock'))).toBe(Errno.EACCES);
    await unbindUnixSocket(t, '/sock');
    expect(await errnoOf(findUnixSocket(t, '/sock'))).toBe(Errno.ECONNREFUSED);
    await unlinkAt(t, AT_FDCWD, '/sock', 0);
    expect(await errnoOf(findUnixSocket(t, '/sock'))).toBe(Errno.ENOENT);
    expect(await errnoOf(findUnixSocket(t, '/'))).toBe(Errno.ECONNREFUSED);
  });
});

import { describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { AT_FDCWD, O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_END, SEEK_SET } from './constants.js';
import { FdTable } from './fd_table.js';
import { FileDescription } from './file_description.js';
import { FsContext } from './fs_context.js';
import { MountNamespace } from './mount.js';
import { mkdirAt, openAt, statAt, unlinkAt, type TaskFs } from './operations.js';

function task(creds = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] as number[] }): TaskFs {
  const ns = new MountNamespace(new Tmpfs({ mode: 0o777 }));
  return { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds };
}

function countingFile(): { file: FileDescription; released: () => number } {
  let released = 0;
  const file = new FileDescription({ seekable: false, release: () => released++ }, O_RDONLY, null);
  return { file, released: () => released };
}

async function errnoOf(p: Promise<unknown> | (() => unknown)): Promise<number> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as { errno: number }).errno;
  }
  return 0;
}

describe('FdTable', () => {
  it('takes the lowest free fd, honours minFd and the limit', async () => {
    const t = new FdTable();
    const { file } = countingFile();
    expect(t.install(file)).toBe(0);
    expect(t.install(file)).toBe(1);
    expect(t.install(file)).toBe(2);
    t.close(1);
    expect(t.install(file)).toBe(1);
    expect(t.install(file, { minFd: 10 })).toBe(10);
    t.limit = 11;
    expect(await errnoOf(() => t.install(file, { minFd: 5 }))).toBe(0);
    expect(t.fds()).toEqual([0, 1, 2, 5, 10]);
    expect(await errnoOf(() => t.install(file, { minFd: 6 }))).toBe(0);
    expect(await errnoOf(() => t.install(file, { minFd: 10 }))).toBe(Errno.EMFILE);
    expect(await errnoOf(() => t.close(42))).toBe(Errno.EBADF);
    expect(await errnoOf(() => t.installAt(11, file, false))).toBe(Errno.EBADF);
  });

  it('releases an open file only when its last fd closes, across fork and exec', () => {
    const { file, released } = countingFile();
    const t = new FdTable();
    const a = t.install(file, { cloexec: true });
    const b = t.install(file);
    const child = t.fork();
    t.closeAll();
    expect(released()).toBe(0);
    child.onExec();
    expect(child.has(a)).toBe(false);
    expect(child.has(b)).toBe(true);
    expect(released()).toBe(0);
    child.installAt(b, countingFile().file, false); // dup2 over the last reference closes it
    expect(released()).toBe(1);
  });
});

describe('file descriptions on tmpfs', () => {
  it('shares the offset between dups, appends with O_APPEND, truncates with O_TRUNC', async () => {
    const t = task();
    const f = await openAt(t, AT_FDCWD, '/f', O_CREAT | O_RDWR, 0o644);
    expect(await f.write(Buffer.from('hello world'))).toBe(11);
    expect(await f.lseek(0n, SEEK_SET)).toBe(0n);
    expect((await f.read(5)).toString()).toBe('hello');
    expect((await f.read(100)).toString()).toBe(' world');
    expect((await f.read(100)).length).toBe(0);
    expect((await f.pread(3, 6n)).toString()).toBe('wor');
    const ap = await openAt(t, AT_FDCWD, '/f', O_WRONLY | O_APPEND, 0);
    await ap.write(Buffer.from('!'));
    expect((await f.pread(100, 0n)).toString()).toBe('hello world!');
    // A sparse write leaves zeros in the hole.
    await f.pwrite(Buffer.from('z'), 100000n);
    expect((await statAt(t, AT_FDCWD, '/f', 0)).size).toBe(100001n);
    expect((await f.pread(2, 99999n)).toString('hex')).toBe('007a');
    expect(await f.lseek(0n, SEEK_END)).toBe(100001n);
    await openAt(t, AT_FDCWD, '/f', O_WRONLY | O_TRUNC, 0);
    expect((await statAt(t, AT_FDCWD, '/f', 0)).size).toBe(0n);
    expect(await errnoOf(ap.read(1))).toBe(Errno.EBADF);
    expect(await errnoOf(f.lseek(-1n, SEEK_SET))).toBe(Errno.EINVAL);
  });

  it('keeps an unlinked file readable through its open description', async () => {
    const t = task();
    const f = await openAt(t, AT_FDCWD, '/gone', O_CREAT | O_RDWR, 0o644);
    f.incRef();
    await f.write(Buffer.from('still here'));
    await unlinkAt(t, AT_FDCWD, '/gone', 0);
    expect((await f.pread(100, 0n)).toString()).toBe('still here');
    expect((await f.stat()).nlink).toBe(0);
  });

  it('lists a directory with "." and ".." through getdents offsets', async () => {
    const t = task();
    await mkdirAt(t, AT_FDCWD, '/d', 0o755);
    for (const n of ['x', 'y', 'z']) await openAt(t, AT_FDCWD, `/d/${n}`, O_CREAT | O_WRONLY, 0o644);
    const d = await openAt(t, AT_FDCWD, '/d', O_RDONLY, 0);
    const names: string[] = [];
    await d.readdir((e) => names.length < 2 && names.push(e.name) > 0);
    expect(names).toEqual(['.', '..']);
    await d.readdir((e) => names.push(e.name) > 0);
    expect(names.sort()).toEqual(['.', '..', 'x', 'y', 'z']);
    expect(await errnoOf(d.read(1))).toBe(Errno.EISDIR);
  });
});

describe('permissions', () => {
  it('checks owner, group and other bits for a non-root task and lets root through', async () => {
    const rootTask = task();
    await mkdirAt(rootTask, AT_FDCWD, '/private', 0o700);
    await openAt(rootTask, AT_FDCWD, '/ro', O_CREAT | O_WRONLY, 0o444);
    await openAt(rootTask, AT_FDCWD, '/private/f', O_CREAT | O_WRONLY, 0o666);
    const user: TaskFs = { ...rootTask, creds: { uid: 1000, gid: 1000, euid: 1000, egid: 1000, groups: [] } };
    expect(await errnoOf(openAt(user, AT_FDCWD, '/private/f', O_RDONLY, 0))).toBe(Errno.EACCES);
    expect(await errnoOf(openAt(user, AT_FDCWD, '/ro', O_WRONLY, 0))).toBe(Errno.EACCES);
    expect(await errnoOf(openAt(user, AT_FDCWD, '/ro', O_RDONLY, 0))).toBe(0);
    expect(await errnoOf(openAt(rootTask, AT_FDCWD, '/ro', O_WRONLY, 0))).toBe(0);
    // The new file belongs to the creating user, with the umask applied.
    await openAt(user, AT_FDCWD, '/mine', O_CREAT | O_WRONLY, 0o666);
    const st = await statAt(user, AT_FDCWD, '/mine', 0);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1000, 1000, 0o644]);
  });
});

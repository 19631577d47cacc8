// Path resolution on tmpfs compared with Linux itself: the same tree is built in a host temp dir and in a tmpfs
// through the VFS, and every operation below must give the same result (or the same errno) on both.
import { mkdtempSync, rmSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errnoName } from '../kernel/errno.js';
import { SyscallError } from '../kernel/syscall_error.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { GoferFs } from '../fsimpl/gofer.js';
import { startProjectGofer } from '../fsimpl/gofer_test_server.js';
import { AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY, S_IFMT } from './constants.js';
import { FdTable } from './fd_table.js';
import { FsContext } from './fs_context.js';
import { MountNamespace } from './mount.js';
import { getcwd, mkdirAt, openAt, renameAt, statAt, symlinkAt, unlinkAt, chdirPath, type TaskFs } from './operations.js';

const root = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] };

function newTask(): TaskFs {
  const ns = new MountNamespace(new Tmpfs({ mode: 0o755 }));
  return { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds: root };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    const v = await p;
    return typeof v === 'object' && v && 'mode' in v ? `ok ${((v as { mode: number }).mode & S_IFMT).toString(8)}` : 'ok';
  } catch (e) {
    if (e instanceof SyscallError) return errnoName(e.errno);
    throw e;
  }
}

function hostOutcome(fn: () => unknown): string {
  try {
    const v = fn();
    return typeof v === 'object' && v && 'mode' in v ? `ok ${((v as fs.Stats).mode & S_IFMT).toString(8)}` : 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

describe('path resolution matches Linux', () => {
  let host: string;
  let t: TaskFs;
  const links: Array<[string, string]> = [
    ['l_dir', 'a'],
    ['l_file', 'a/f'],
    ['l_dangling', 'nothere'],
    ['l_loop1', 'l_loop2'],
    ['l_loop2', 'l_loop1'],
    ['l_self', 'l_self'],
    ['l_filedir', 'a/f/'],
    ['a/b/l_up', '../..'],
    ['l_dot', '.'],
  ];

  beforeAll(async () => {
    host = mkdtempSync(join(tmpdir(), 'tsv-vfs-'));
    t = newTask();
    for (const d of ['a', 'a/b', 'c']) {
      fs.mkdirSync(join(host, d));
      await mkdirAt(t, AT_FDCWD, '/' + d, 0o755);
    }
    fs.writeFileSync(join(host, 'a/f'), 'x');
    const f = await openAt(t, AT_FDCWD, '/a/f', O_CREAT | O_WRONLY, 0o644);
    f.incRef();
    f.decRef();
    for (const [l, target] of links) {
      fs.symlinkSync(target, join(host, l));
      await symlinkAt(t, target, AT_FDCWD, '/' + l);
    }
    // A chain of 41 symlinks (one more than MAX_SYMLINKS) and one of 40.
    for (let i = 0; i < 41; i++) {
      const target = i === 40 ? 'a/f' : `chain${i + 1}`;
      fs.symlinkSync(target, join(host, `chain${i}`));
      await symlinkAt(t, target, AT_FDCWD, `/chain${i}`);
    }
  });
  afterAll(() => rmSync(host, { recursive: true, force: true }));

  const paths = [
    'a', 'a/', 'a/f', 'a/f/', 'a/f/.', 'a/.', 'a/..', 'a/b/../f', 'a/nothere', 'a/nothere/x', 'a/f/x',
    'l_dir', 'l_dir/', 'l_dir/f', 'l_file', 'l_file/', 'l_dangling', 'l_dangling/', 'l_loop1', 'l_loop1/x',
    'l_self', 'l_filedir', 'a/b/l_up', 'a/b/l_up/a/f', 'l_dot', 'l_dot/l_dot/a', 'chain0', 'chain1', 'c//', '.',
    'a/' + 'n'.repeat(256), 'a/./b/.././b',
  ];

  async function compareLookups(on: TaskFs): Promise<void> {
    for (const p of paths) {
      const hp = `${host}/${p}`; // not path.join: it would normalize away 'a/f/.'
      expect(await outcome(statAt(on, AT_FDCWD, p, 0)), `stat ${p}`).toBe(hostOutcome(() => fs.statSync(hp)));
      expect(await outcome(statAt(on, AT_FDCWD, p, AT_SYMLINK_NOFOLLOW)), `lstat ${p}`).toBe(hostOutcome(() => fs.lstatSync(hp)));
      for (const flags of [O_RDONLY, O_RDONLY | O_NOFOLLOW, O_RDONLY | O_DIRECTORY, O_WRONLY]) {
        const mine = await outcome(openAt(on, AT_FDCWD, p, flags, 0));
        const theirs = hostOutcome(() => fs.closeSync(fs.openSync(hp, flags)));
        expect(mine, `open ${p} flags ${flags.toString(8)}`).toBe(theirs);
      }
    }
  }

  it('stat, lstat and open of odd paths on tmpfs', () => compareLookups(t));

  // The same tree, this time the host directory itself served by the project's gofer over 9P: symlinks are
  // followed by the sentry, never by the gofer.
  it('stat, lstat and open of odd paths over the gofer', async () => {
    const peer = await startProjectGofer(host);
    try {
      const ns = new MountNamespace(await GoferFs.attach(peer.client, peer.aname, { readonly: false }));
      await compareLookups({ fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds: root });
    } finally {
      await peer.stop();
    }
  });

  it('creating and removing through odd paths gives the same errors as Linux', async () => {
    const cases: Array<[string, (t: TaskFs) => Promise<unknown>, () => unknown]> = [];
    const add = (name: string, mine: (t: TaskFs) => Promise<unknown>, theirs: () => unknown) => cases.push([name, mine, theirs]);
    for (const p of ['a', 'a/', 'a/.', 'a/..', 'l_dangling', 'a/f/new', 'a/f/new/', 'l_file/', 'nothere/new']) {
      add(`mkdir ${p}`, (t) => mkdirAt(t, AT_FDCWD, p, 0o755), () => fs.mkdirSync(`${host}/${p}`));
    }
    for (const p of ['a', 'a/f/', 'l_dir/', 'l_dangling/', 'a/.', 'nothere']) {
      add(`unlink ${p}`, (t) => unlinkAt(t, AT_FDCWD, p, 0), () => fs.unlinkSync(`${host}/${p}`));
    }
    for (const p of ['a', 'a/f', 'a/.', 'a/..', 'l_dir', 'l_dir/', 'nothere']) {
      add(`rmdir ${p}`, (t) => unlinkAt(t, AT_FDCWD, p, AT_REMOVEDIR), () => fs.rmdirSync(`${host}/${p}`));
    }
    for (const [o, n] of [['a', 'a/b/x'], ['a/f', 'c'], ['c', 'a/f'], ['a/f', 'a/f/'], ['nothere', 'x'], ['a', 'a/b'], ['a/b', 'a'], ['l_dir', 'c']]) {
      add(`rename ${o} ${n}`, (t) => renameAt(t, AT_FDCWD, o, AT_FDCWD, n, 0), () => fs.renameSync(`${host}/${o}`, `${host}/${n}`));
    }
    for (const [p, flags] of [['a/f', O_CREAT | O_EXCL], ['l_dangling', O_CREAT | O_EXCL], ['a/new/', O_CREAT], ['a', O_CREAT], ['l_file', O_CREAT | O_NOFOLLOW]] as const) {
      add(`open ${p} ${flags.toString(8)}`, (t) => openAt(t, AT_FDCWD, p, flags | O_WRONLY, 0o644), () => fs.closeSync(fs.openSync(`${host}/${p}`, flags | O_WRONLY, 0o644)));
    }
    for (const [name, mine, theirs] of cases) {
      // Only failing cases are listed, so neither tree changes and every case sees the same state.
      const theirsResult = hostOutcome(theirs);
      expect(theirsResult, `${name} must fail on Linux too`).not.toBe('ok');
      expect(await outcome(mine(t)), name).toBe(theirsResult);
    }
  });
});

describe('root and cwd', () => {
  it('".." never leaves the root and getcwd reports the path', async () => {
    const t = newTask();
    await mkdirAt(t, AT_FDCWD, '/x', 0o755);
    await mkdirAt(t, AT_FDCWD, '/x/y', 0o755);
    await chdirPath(t, '/x/y');
    expect(getcwd(t)).toBe('/x/y');
    const top = await statAt(t, AT_FDCWD, '/', 0);
    expect((await statAt(t, AT_FDCWD, '../../../..', 0)).ino).toBe(top.ino);
    expect((await statAt(t, AT_FDCWD, '/..', 0)).ino).toBe(top.ino);
    await chdirPath(t, '..');
    expect(getcwd(t)).toBe('/x');
    // A removed cwd: getcwd(3) fails with ENOENT.
    await chdirPath(t, 'y');
    await unlinkAt(t, AT_FDCWD, '/x/y', AT_REMOVEDIR);
    expect(await outcome(Promise.resolve().then(() => getcwd(t)))).toBe('ENOENT');
  });

  it('an absolute symlink resolves from the task root', async () => {
    const t = newTask();
    await mkdirAt(t, AT_FDCWD, '/d', 0o755);
    await symlinkAt(t, '/d', AT_FDCWD, '/d/abs');
    expect((await statAt(t, AT_FDCWD, '/d/abs/abs/abs', 0)).ino).toBe((await statAt(t, AT_FDCWD, '/d', 0)).ino);
    expect(await outcome(statAt(t, AT_FDCWD, '', 0))).toBe('ENOENT');
  });
});

// The gofer file system over a real 9P server (diod on a socketpair) serving a host temp dir: what the VFS sees
// must match the host directory, and writes on a read-write mount must land in it.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY } from '../vfs/constants.js';
import { FdTable } from '../vfs/fd_table.js';
import { FsContext } from '../vfs/fs_context.js';
import { MountNamespace } from '../vfs/mount.js';
import { mkdirAt, openAt, readlinkAt, renameAt, statAt, symlinkAt, unlinkAt, type TaskFs } from '../vfs/operations.js';
import { GoferFs } from './gofer.js';
import { NINEP_PEERS, type DiodPeer } from './gofer_test_server.js';

const creds = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] };

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as { errno: number }).errno;
  }
}

describe.each(NINEP_PEERS.filter((p) => p.available))('gofer fs over $name', ({ start }) => {
  let dir: string;
  let peer: DiodPeer;
  let t: TaskFs;
  let ro: TaskFs;

  beforeAll(async () => {
    dir = fs.mkdtempSync(join(tmpdir(), 'tsv-gofer-'));
    fs.mkdirSync(join(dir, 'etc'));
    fs.writeFileSync(join(dir, 'etc/hostname'), 'sandbox\n');
    fs.writeFileSync(join(dir, 'big'), Buffer.alloc(300_000, 7));
    fs.symlinkSync('etc/hostname', join(dir, 'link'));
    peer = await start(dir);
    const rw = new MountNamespace(await GoferFs.attach(peer.client, peer.aname, { readonly: false }));
    t = { fdTable: new FdTable(), fsContext: new FsContext(rw, rw.rootLocation, rw.rootLocation), creds };
    const rons = new MountNamespace(await GoferFs.attach(peer.client, peer.aname, { readonly: true }));
    ro = { fdTable: new FdTable(), fsContext: new FsContext(rons, rons.rootLocation, rons.rootLocation), creds };
  });
  afterAll(async () => {
    await peer?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stats, reads, lists and follows symlinks like the host', async () => {
    const st = await statAt(t, AT_FDCWD, '/etc/hostname', 0);
    const host = fs.statSync(join(dir, 'etc/hostname'), { bigint: true });
    expect(st.ino).toBe(host.ino);
    expect(st.size).toBe(8n);
    expect(st.mode).toBe(Number(host.mode));
    const f = await openAt(t, AT_FDCWD, '/link', O_RDONLY, 0);
    expect((await f.read(100)).toString()).toBe('sandbox\n');
    expect(await readlinkAt(t, AT_FDCWD, '/link')).toBe('etc/hostname');
    expect((await statAt(t, AT_FDCWD, '/link', AT_SYMLINK_NOFOLLOW)).mode & 0o170000).toBe(0o120000);
    const d = await openAt(t, AT_FDCWD, '/', O_RDONLY, 0);
    const names: string[] = [];
    await d.readdir((e) => names.push(e.name) > 0);
    expect(names.sort()).toEqual(['.', '..', 'big', 'etc', 'link']);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/nothere', 0))).toBe(Errno.ENOENT);
  });

  it('reads a large file through the page cache on a read-only mount', async () => {
    const f = await openAt(ro, AT_FDCWD, '/big', O_RDONLY, 0);
    let total = 0;
    for (;;) {
      const chunk = await f.read(100_000);
      if (chunk.length === 0) break;
      expect(chunk.every((b) => b === 7)).toBe(true);
      total += chunk.length;
    }
    expect(total).toBe(300_000);
    expect(await errnoOf(openAt(ro, AT_FDCWD, '/big', O_WRONLY, 0))).toBe(Errno.EROFS);
    expect(await errnoOf(mkdirAt(ro, AT_FDCWD, '/newdir', 0o755))).toBe(Errno.EROFS);
  });

  it('creates, writes, renames and removes files in the host directory', async () => {
    const f = await openAt(t, AT_FDCWD, '/etc/new', O_CREAT | O_RDWR, 0o640);
    expect(await f.write(Buffer.from('written through 9p'))).toBe(18);
    expect(fs.readFileSync(join(dir, 'etc/new'), 'utf8')).toBe('written through 9p');
    expect(fs.statSync(join(dir, 'etc/new')).mode & 0o777).toBe(0o640 & ~0o022);
    await mkdirAt(t, AT_FDCWD, '/d', 0o755);
    await renameAt(t, AT_FDCWD, '/etc/new', AT_FDCWD, '/d/moved', 0);
    expect(fs.existsSync(join(dir, 'd/moved'))).toBe(true);
    expect((await f.pread(7, 0n)).toString()).toBe('written');
    await symlinkAt(t, 'moved', AT_FDCWD, '/d/ln');
    expect(fs.readlinkSync(join(dir, 'd/ln'))).toBe('moved');
    expect(await errnoOf(unlinkAt(t, AT_FDCWD, '/d', AT_REMOVEDIR))).toBe(Errno.ENOTEMPTY);
    await unlinkAt(t, AT_FDCWD, '/d/ln', 0);
    await unlinkAt(t, AT_FDCWD, '/d/moved', 0);
    await unlinkAt(t, AT_FDCWD, '/d', AT_REMOVEDIR);
    expect(fs.existsSync(join(dir, 'd'))).toBe(false);
  });
});

describe.each(NINEP_PEERS.filter((p) => p.available))('a lost gofer ($name)', ({ start }) => {
  it('answers EIO, never hangs', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'tsv-gofer-lost-'));
    try {
      fs.writeFileSync(join(dir, 'f'), 'x');
      const peer = await start(dir);
      const ns = new MountNamespace(await GoferFs.attach(peer.client, peer.aname, { readonly: false }));
      const t: TaskFs = { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds };
      const f = await openAt(t, AT_FDCWD, '/f', O_RDONLY, 0);
      await peer.stop();
      expect(await errnoOf(statAt(t, AT_FDCWD, '/other', 0))).toBe(Errno.EIO);
      expect(await errnoOf(f.pread(1, 0n))).toBe(Errno.EIO);
      expect(await errnoOf(mkdirAt(t, AT_FDCWD, '/d', 0o755))).toBe(Errno.EIO);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Overlay semantics (copy-up, whiteouts, opaque directories, merged listings) over a tmpfs lower layer, and over
// a real gofer lower layer (diod serving a host dir), where the host directory must never change.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { AT_FDCWD, AT_REMOVEDIR, O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY } from '../vfs/constants.js';
import { FdTable } from '../vfs/fd_table.js';
import { FsContext } from '../vfs/fs_context.js';
import type { FilesystemImpl } from '../vfs/filesystem.js';
import { MountNamespace } from '../vfs/mount.js';
import { chmodLocation, lookupAt, mkdirAt, openAt, renameAt, statAt, symlinkAt, unlinkAt, type TaskFs } from '../vfs/operations.js';
import { GoferFs } from './gofer.js';
import { NINEP_PEERS, type DiodPeer } from './gofer_test_server.js';
import { OverlayFs } from './overlay.js';
import { Tmpfs } from './tmpfs.js';

const creds = { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] };
const taskOn = (fsImpl: FilesystemImpl): TaskFs => {
  const ns = new MountNamespace(fsImpl);
  return { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds };
};

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as { errno: number }).errno;
  }
}

async function list(t: TaskFs, path: string): Promise<string[]> {
  const d = await openAt(t, AT_FDCWD, path, O_RDONLY, 0);
  const names: string[] = [];
  await d.readdir((e) => names.push(e.name) > 0);
  return names.filter((n) => n !== '.' && n !== '..').sort();
}

async function readAll(t: TaskFs, path: string): Promise<string> {
  const f = await openAt(t, AT_FDCWD, path, O_RDONLY, 0);
  return (await f.pread(1 << 20, 0n)).toString();
}

async function populateLower(): Promise<Tmpfs> {
  const lower = new Tmpfs({ mode: 0o755 });
  const t = taskOn(lower);
  await mkdirAt(t, AT_FDCWD, '/etc', 0o755);
  await mkdirAt(t, AT_FDCWD, '/etc/conf.d', 0o755);
  await (await openAt(t, AT_FDCWD, '/etc/conf.d/a', O_CREAT | O_WRONLY, 0o644)).write(Buffer.from('A'));
  await (await openAt(t, AT_FDCWD, '/etc/passwd', O_CREAT | O_WRONLY, 0o644)).write(Buffer.from('root:x:0:0\n'));
  await symlinkAt(t, 'passwd', AT_FDCWD, '/etc/pw');
  return lower;
}

describe('overlay over tmpfs', () => {
  it('copies a lower file up on write and leaves the lower layer untouched', async () => {
    const lower = await populateLower();
    const t = taskOn(new OverlayFs(lower, new Tmpfs({ mode: 0o755 })));
    const before = await statAt(t, AT_FDCWD, '/etc/passwd', 0);
    const f = await openAt(t, AT_FDCWD, '/etc/passwd', O_WRONLY | O_APPEND, 0);
    await f.write(Buffer.from('user:x:1000:1000\n'));
    expect(await readAll(t, '/etc/pw')).toBe('root:x:0:0\nuser:x:1000:1000\n');
    expect(await readAll(taskOn(lower), '/etc/passwd')).toBe('root:x:0:0\n');
    // The inode number survives copy-up (overlayfs keeps the lower st_ino).
    expect((await statAt(t, AT_FDCWD, '/etc/passwd', 0)).ino).toBe(before.ino);
    await chmodLocation(t, await lookupAt(t, AT_FDCWD, '/etc/conf.d/a', { follow: true }), 0o600);
    expect((await statAt(t, AT_FDCWD, '/etc/conf.d/a', 0)).mode & 0o777).toBe(0o600);
    expect((await statAt(taskOn(lower), AT_FDCWD, '/etc/conf.d/a', 0)).mode & 0o777).toBe(0o644);
  });

  it('a copy-up that runs out of upper space fails whole: no truncated copy hides the lower file', async () => {
    const lower = await populateLower();
    const big = Buffer.alloc(300 * 1024, 7);
    await (await openAt(taskOn(lower), AT_FDCWD, '/etc/big', O_CREAT | O_WRONLY, 0o644)).write(big);
    const t = taskOn(new OverlayFs(lower, new Tmpfs({ mode: 0o755, sizeLimit: 128 * 1024 })));
    expect(await errnoOf(openAt(t, AT_FDCWD, '/etc/big', O_WRONLY, 0))).toBe(Errno.ENOSPC);
    expect((await statAt(t, AT_FDCWD, '/etc/big', 0)).size).toBe(BigInt(big.length));
    const f = await openAt(t, AT_FDCWD, '/etc/big', O_RDONLY, 0);
    expect((await f.pread(1 << 20, 0n)).equals(big)).toBe(true);
    // The second attempt meets the same limit instead of adopting a partial copy.
    expect(await errnoOf(openAt(t, AT_FDCWD, '/etc/big', O_RDWR, 0))).toBe(Errno.ENOSPC);
  });

  it('whiteouts hide removed lower names; a re-created directory is opaque', async () => {
    const lower = await populateLower();
    const t = taskOn(new OverlayFs(lower, new Tmpfs({ mode: 0o755 })));
    await unlinkAt(t, AT_FDCWD, '/etc/passwd', 0);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/etc/passwd', 0))).toBe(Errno.ENOENT);
    expect(await list(t, '/etc')).toEqual(['conf.d', 'pw']);
    expect(await errnoOf(unlinkAt(t, AT_FDCWD, '/etc/conf.d', AT_REMOVEDIR))).toBe(Errno.ENOTEMPTY);
    await unlinkAt(t, AT_FDCWD, '/etc/conf.d/a', 0);
    await unlinkAt(t, AT_FDCWD, '/etc/conf.d', AT_REMOVEDIR);
    await mkdirAt(t, AT_FDCWD, '/etc/conf.d', 0o700);
    expect(await list(t, '/etc/conf.d')).toEqual([]);
    // Creating over a whiteout brings the name back with the new contents.
    await (await openAt(t, AT_FDCWD, '/etc/passwd', O_CREAT | O_WRONLY, 0o600)).write(Buffer.from('new'));
    expect(await readAll(t, '/etc/passwd')).toBe('new');
    expect(await list(t, '/etc')).toEqual(['conf.d', 'passwd', 'pw']);
    expect(await list(taskOn(lower), '/etc')).toEqual(['conf.d', 'passwd', 'pw']);
    expect(await list(taskOn(lower), '/etc/conf.d')).toEqual(['a']);
  });

  it('merges directory listings and renames lower files with a whiteout left behind', async () => {
    const lower = await populateLower();
    const t = taskOn(new OverlayFs(lower, new Tmpfs({ mode: 0o755 })));
    await openAt(t, AT_FDCWD, '/etc/new', O_CREAT | O_WRONLY, 0o644);
    expect(await list(t, '/etc')).toEqual(['conf.d', 'new', 'passwd', 'pw']);
    await renameAt(t, AT_FDCWD, '/etc/passwd', AT_FDCWD, '/etc/passwd.bak', 0);
    expect(await list(t, '/etc')).toEqual(['conf.d', 'new', 'passwd.bak', 'pw']);
    expect(await readAll(t, '/etc/passwd.bak')).toBe('root:x:0:0\n');
    expect(await errnoOf(statAt(t, AT_FDCWD, '/etc/pw', 0))).toBe(Errno.ENOENT);
    // A directory with lower contents moves whole: copied up, opaque at its new name, whited out at the old one.
    await renameAt(t, AT_FDCWD, '/etc/conf.d', AT_FDCWD, '/conf', 0);
    expect(await list(t, '/conf')).toEqual(['a']);
    expect(await readAll(t, '/conf/a')).toBe('A');
    expect(await errnoOf(statAt(t, AT_FDCWD, '/etc/conf.d', 0))).toBe(Errno.ENOENT);
    expect(await list(taskOn(lower), '/etc/conf.d')).toEqual(['a']);
    await renameAt(t, AT_FDCWD, '/conf', AT_FDCWD, '/etc/conf.d', 0);
    expect(await list(t, '/etc/conf.d')).toEqual(['a']);
    await mkdirAt(t, AT_FDCWD, '/mine', 0o755);
    await renameAt(t, AT_FDCWD, '/mine', AT_FDCWD, '/yours', 0);
    expect(await list(t, '/')).toEqual(['etc', 'yours']);
    expect(await list(t, '/etc')).toEqual(['conf.d', 'new', 'passwd.bak', 'pw']);
  });
});

describe.each(NINEP_PEERS.filter((p) => p.available))('overlay over the gofer ($name)', ({ start }) => {
  let dir: string;
  let peer: DiodPeer;
  beforeAll(async () => {
    dir = fs.mkdtempSync(join(tmpdir(), 'tsv-ovl-'));
    fs.mkdirSync(join(dir, 'bin'));
    fs.writeFileSync(join(dir, 'bin/tool'), 'lower bytes');
    peer = await start(dir);
  });
  afterAll(async () => {
    await peer?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes, deletes and creates in memory only', async () => {
    const lower = await GoferFs.attach(peer.client, peer.aname, { readonly: true });
    const t = taskOn(new OverlayFs(lower, new Tmpfs({ mode: 0o755 })));
    const f = await openAt(t, AT_FDCWD, '/bin/tool', O_RDWR, 0);
    await f.pwrite(Buffer.from('UPPER'), 0n);
    expect(await readAll(t, '/bin/tool')).toBe('UPPER bytes');
    await openAt(t, AT_FDCWD, '/bin/other', O_CREAT | O_WRONLY, 0o755);
    await unlinkAt(t, AT_FDCWD, '/bin/tool', 0);
    expect(await list(t, '/bin')).toEqual(['other']);
    expect(fs.readdirSync(join(dir, 'bin'))).toEqual(['tool']);
    expect(fs.readFileSync(join(dir, 'bin/tool'), 'utf8')).toBe('lower bytes');
  });
});

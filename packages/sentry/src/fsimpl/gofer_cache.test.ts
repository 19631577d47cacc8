// The caches of an exclusive gofer mount (the sandbox the only writer): what the VFS sees through them must equal
// what the gofer (and the host) shows, the sandbox's own changes must be seen at once, they must save round trips
// (counted on the client), and they must stay within their budget.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { P9Client } from '@tsvisor/p9';
import { Errno } from '../kernel/errno.js';
import { AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY } from '../vfs/constants.js';
import { FdTable } from '../vfs/fd_table.js';
import { FsContext } from '../vfs/fs_context.js';
import { MountNamespace } from '../vfs/mount.js';
import type { Stat } from '../vfs/filesystem.js';
import {
  chmodLocation,
  linkAt,
  lookupAt,
  mkdirAt,
  openAt,
  renameAt,
  statAt,
  truncateLocation,
  unlinkAt,
  utimesLocation,
  type TaskFs,
} from '../vfs/operations.js';
import { GoferFs, type GoferFsOptions } from './gofer.js';
import { OverlayFs } from './overlay.js';
import { Tmpfs } from './tmpfs.js';
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

/** Counts the requests the client sends (every operation goes through rpc). */
function countRequests(client: P9Client): { count: () => number; types: string[]; walkNames: number[] } {
  const types: string[] = [];
  const walkNames: number[] = [];
  const original = client.rpc.bind(client);
  client.rpc = ((body, expect, options) => {
    types.push(body.type);
    if (body.type === 'Twalk') walkNames.push(body.names.length);
    return original(body, expect, options);
  }) as P9Client['rpc'];
  return { count: () => types.length, types, walkNames };
}

/** The fields stat(2) shows; dev differs between two mounts by design. */
function shown(st: Stat): Omit<Stat, 'dev'> {
  const { dev: _dev, ...rest } = st;
  return rest;
}

function hostStat(path: string): Omit<Stat, 'dev' | 'blksize'> {
  const h = fs.lstatSync(path, { bigint: true });
  return {
    ino: h.ino,
    mode: Number(h.mode),
    nlink: Number(h.nlink),
    uid: Number(h.uid),
    gid: Number(h.gid),
    rdev: Number(h.rdev),
    size: h.size,
    blocks: h.blocks,
    atimeNs: h.atimeNs,
    mtimeNs: h.mtimeNs,
    ctimeNs: h.ctimeNs,
  };
}

/** Lets the prefetch workers finish (they run on the client's replies). */
async function settle(client: P9Client): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const pending = (client as unknown as { pending: Map<number, unknown> }).pending;
    if (pending.size === 0) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.each(NINEP_PEERS.filter((p) => p.available))('exclusive gofer caches over $name', ({ start }) => {
  let dir: string;
  let peer: DiodPeer;
  let requests: ReturnType<typeof countRequests>;

  const task = async (opts: GoferFsOptions): Promise<TaskFs> => {
    const ns = new MountNamespace(await GoferFs.attach(peer.client, peer.aname, opts));
    return { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(join(tmpdir(), 'tsv-gofer-cache-'));
    fs.mkdirSync(join(dir, 'listed'));
    for (let i = 0; i < 60; i++) fs.writeFileSync(join(dir, 'listed', `f${i}`), 'x'.repeat(i));
    fs.symlinkSync('f1', join(dir, 'listed', 'ln'));
    fs.mkdirSync(join(dir, 'deep/a/b/c/d'), { recursive: true });
    fs.writeFileSync(join(dir, 'deep/a/b/c/d/file'), 'deep');
    fs.symlinkSync('a/b', join(dir, 'deep/ln'));
    for (let i = 0; i < 5; i++) {
      fs.mkdirSync(join(dir, `tree/s${i}`), { recursive: true });
      for (let j = 0; j < 3; j++) fs.writeFileSync(join(dir, `tree/s${i}/g${j}`), `${i}${j}`);
    }
    fs.mkdirSync(join(dir, 'many'));
    for (let i = 0; i < 200; i++) fs.writeFileSync(join(dir, 'many', `n${i}`), '');
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
    fs.writeFileSync(join(dir, 'big'), big);
    peer = await start(dir);
    requests = countRequests(peer.client);
  });
  afterAll(async () => {
    await peer?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a missing name, and sees it once the sandbox creates it', async () => {
    const t = await task({ readonly: false, exclusive: true });
    expect(await errnoOf(statAt(t, AT_FDCWD, '/later', 0))).toBe(Errno.ENOENT);
    const before = requests.count();
    expect(await errnoOf(statAt(t, AT_FDCWD, '/later', 0))).toBe(Errno.ENOENT);
    expect(requests.count()).toBe(before); // the negative entry answered
    const f = await openAt(t, AT_FDCWD, '/later', O_CREAT | O_RDWR, 0o644);
    await f.write(Buffer.from('now'));
    expect((await statAt(t, AT_FDCWD, '/later', 0)).size).toBe(3n);
    expect(hostStat(join(dir, 'later')).size).toBe(3n);
    // The same through a directory made by the sandbox over a cached absence.
    expect(await errnoOf(statAt(t, AT_FDCWD, '/sub/x', 0))).toBe(Errno.ENOENT);
    await mkdirAt(t, AT_FDCWD, '/sub', 0o755);
    await openAt(t, AT_FDCWD, '/sub/x', O_CREAT | O_WRONLY, 0o600);
    expect((await statAt(t, AT_FDCWD, '/sub/x', 0)).mode & 0o777).toBe(0o600 & ~0o022 & 0o600);
  });

  it('sees renames, unlinks and links made inside the sandbox at once', async () => {
    const t = await task({ readonly: false, exclusive: true });
    await openAt(t, AT_FDCWD, '/a', O_CREAT | O_WRONLY, 0o644);
    const a = await statAt(t, AT_FDCWD, '/a', 0);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/b', 0))).toBe(Errno.ENOENT);
    await renameAt(t, AT_FDCWD, '/a', AT_FDCWD, '/b', 0);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/a', 0))).toBe(Errno.ENOENT);
    const b = await statAt(t, AT_FDCWD, '/b', 0);
    expect(b.ino).toBe(a.ino);
    expect(shown(b)).toEqual({ ...hostStat(join(dir, 'b')), blksize: b.blksize });
    await linkAt(t, AT_FDCWD, '/b', AT_FDCWD, '/c', 0);
    expect((await statAt(t, AT_FDCWD, '/b', 0)).nlink).toBe(2);
    expect((await statAt(t, AT_FDCWD, '/c', 0)).ino).toBe(a.ino);
    await unlinkAt(t, AT_FDCWD, '/c', 0);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/c', 0))).toBe(Errno.ENOENT);
    expect((await statAt(t, AT_FDCWD, '/b', 0)).nlink).toBe(1);
    // Rename over an existing file: the old one is gone from view, the moved one is there.
    await openAt(t, AT_FDCWD, '/d', O_CREAT | O_WRONLY, 0o644);
    await statAt(t, AT_FDCWD, '/d', 0);
    await renameAt(t, AT_FDCWD, '/b', AT_FDCWD, '/d', 0);
    expect((await statAt(t, AT_FDCWD, '/d', 0)).ino).toBe(a.ino);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/b', 0))).toBe(Errno.ENOENT);
    // A directory listing taken before a change is not served after it.
    const d = await openAt(t, AT_FDCWD, '/', O_RDONLY, 0);
    const names = async () => {
      const out: string[] = [];
      await d.lseek(0n, 0);
      await d.readdir((e) => out.push(e.name) > 0);
      return out;
    };
    expect(await names()).toContain('d');
    await unlinkAt(t, AT_FDCWD, '/d', 0);
    expect(await names()).not.toContain('d');
    expect(fs.existsSync(join(dir, 'd'))).toBe(false);
  });

  it('stat through the cache equals stat without it, after the sandbox changes the file', async () => {
    const cached = await task({ readonly: false, exclusive: true });
    const uncached = await task({ readonly: false, exclusive: false, attrTtlMs: 0 });
    const f = await openAt(cached, AT_FDCWD, '/s', O_CREAT | O_RDWR, 0o640);
    const check = async () => {
      for (const p of ['/s', '/', '/listed', '/listed/ln']) {
        const c = await statAt(cached, AT_FDCWD, p, AT_SYMLINK_NOFOLLOW);
        expect(shown(c)).toEqual(shown(await statAt(uncached, AT_FDCWD, p, AT_SYMLINK_NOFOLLOW)));
        expect(shown(c)).toEqual({ ...hostStat(join(dir, p)), blksize: c.blksize });
      }
    };
    await check();
    await f.write(Buffer.from('some bytes'));
    await check();
    const vd = await lookupAt(cached, AT_FDCWD, '/s', { follow: true });
    await chmodLocation(cached, vd, 0o600);
    await check();
    await truncateLocation(cached, vd, 3n);
    await check();
    await utimesLocation(cached, vd, 1_000_000_000n, 2_000_000_000n, true);
    await check();
    expect((await statAt(cached, AT_FDCWD, '/s', 0)).mtimeNs).toBe(2_000_000_000n);
  });

  it('lists a directory, then stats its entries with requests in flight together, and equal to the host', async () => {
    const t = await task({ readonly: true });
    const d = await openAt(t, AT_FDCWD, '/listed', O_RDONLY, 0);
    const names: string[] = [];
    await d.readdir((e) => names.push(e.name) > 0);
    const entries = names.filter((n) => n !== '.' && n !== '..');
    expect(entries.length).toBe(61);
    await statAt(t, AT_FDCWD, `/listed/${entries[0]}`, AT_SYMLINK_NOFOLLOW);
    await settle(peer.client);
    const before = requests.count();
    for (const n of entries) {
      const st = await statAt(t, AT_FDCWD, `/listed/${n}`, AT_SYMLINK_NOFOLLOW);
      expect(shown(st)).toEqual({ ...hostStat(join(dir, 'listed', n)), blksize: st.blksize });
    }
    expect(requests.count()).toBe(before); // all walked and stated ahead
    // A name the listing does not have is absent without asking.
    expect(await errnoOf(statAt(t, AT_FDCWD, '/listed/none', 0))).toBe(Errno.ENOENT);
    expect(requests.count()).toBe(before);
  });

  it('lists the other subdirectories ahead only once the application enters one (a tree walk, not ls -l)', async () => {
    const t = await task({ readonly: true });
    const list = async (path: string) => {
      const d = await openAt(t, AT_FDCWD, path, O_RDONLY, 0);
      const out: string[] = [];
      await d.readdir((e) => out.push(e.name) > 0);
      return out.filter((n) => n !== '.' && n !== '..').sort();
    };
    const readdirs = () => requests.types.filter((x) => x === 'Treaddir').length;
    const before = readdirs();
    const subdirs = await list('/tree');
    for (const n of subdirs) await statAt(t, AT_FDCWD, `/tree/${n}`, AT_SYMLINK_NOFOLLOW);
    await settle(peer.client);
    const afterLs = readdirs();
    expect(afterLs - before).toBeLessThanOrEqual(2); // /tree only: one listing is one or two Treaddirs
    expect(await list('/tree/s0')).toEqual(['g0', 'g1', 'g2']);
    await settle(peer.client);
    const afterFirst = readdirs();
    expect(afterFirst).toBeGreaterThan(afterLs);
    for (const n of subdirs.slice(1)) expect(await list(`/tree/${n}`)).toEqual(['g0', 'g1', 'g2']);
    expect(readdirs()).toBe(afterFirst); // listed ahead
  });

  it('resolves an uncached multi-component path with walks of several names at once, and right', async () => {
    const t = await task({ readonly: false, exclusive: true });
    const walksBefore = requests.walkNames.length;
    const st = await statAt(t, AT_FDCWD, '/deep/a/b/c/d/file', 0);
    expect(shown(st)).toEqual({ ...hostStat(join(dir, 'deep/a/b/c/d/file')), blksize: st.blksize });
    expect(Math.max(...requests.walkNames.slice(walksBefore))).toBe(6);
    // Every component is now known: resolving again costs nothing.
    let before = requests.count();
    expect((await statAt(t, AT_FDCWD, '/deep/a/b/c/d', 0)).ino).toBe(hostStat(join(dir, 'deep/a/b/c/d')).ino);
    expect(requests.count()).toBe(before);
    // Through a symlink in the middle (the gofer never follows it; the VFS does).
    expect((await statAt(t, AT_FDCWD, '/deep/ln/c/d/file', 0)).ino).toBe(st.ino);
    // A missing middle component is ENOENT, and seen once the sandbox creates it.
    expect(await errnoOf(statAt(t, AT_FDCWD, '/deep/a/new/x/y', 0))).toBe(Errno.ENOENT);
    await mkdirAt(t, AT_FDCWD, '/deep/a/new', 0o755);
    await mkdirAt(t, AT_FDCWD, '/deep/a/new/x', 0o755);
    await openAt(t, AT_FDCWD, '/deep/a/new/x/y', O_CREAT | O_WRONLY, 0o644);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/deep/a/new/x/y', 0))).toBe(0);
    // Renaming a directory inside the sandbox: the old path is gone, the new one resolves to the same file.
    await renameAt(t, AT_FDCWD, '/deep/a/new', AT_FDCWD, '/deep/moved', 0);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/deep/a/new/x/y', 0))).toBe(Errno.ENOENT);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/deep/moved/x/y', 0))).toBe(0);
    expect(fs.existsSync(join(dir, 'deep/moved/x/y'))).toBe(true);
  });

  it('through the root overlay (cached read-only lower, memory upper): the sandbox\'s changes are seen at once', async () => {
    const lower = await GoferFs.attach(peer.client, peer.aname, { readonly: true });
    const overlay = new OverlayFs(lower, new Tmpfs({ mode: 0o755 }));
    await overlay.adoptLowerRootAttributes();
    const ns = new MountNamespace(overlay);
    const t: TaskFs = { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds };
    expect(await errnoOf(statAt(t, AT_FDCWD, '/listed/made', 0))).toBe(Errno.ENOENT);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/listed/made', 0))).toBe(Errno.ENOENT);
    await (await openAt(t, AT_FDCWD, '/listed/made', O_CREAT | O_WRONLY, 0o644)).write(Buffer.from('up'));
    expect((await statAt(t, AT_FDCWD, '/listed/made', 0)).size).toBe(2n);
    const f5 = await statAt(t, AT_FDCWD, '/listed/f5', 0);
    expect(shown(f5)).toEqual({ ...hostStat(join(dir, 'listed/f5')), blksize: f5.blksize });
    await renameAt(t, AT_FDCWD, '/listed/f5', AT_FDCWD, '/listed/f5b', 0);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/listed/f5', 0))).toBe(Errno.ENOENT);
    expect((await statAt(t, AT_FDCWD, '/listed/f5b', 0)).size).toBe(5n);
    await unlinkAt(t, AT_FDCWD, '/listed/f6', 0);
    expect(await errnoOf(statAt(t, AT_FDCWD, '/listed/f6', 0))).toBe(Errno.ENOENT);
    // Nothing reached the host.
    expect(fs.existsSync(join(dir, 'listed/f6'))).toBe(true);
    expect(fs.existsSync(join(dir, 'listed/made'))).toBe(false);
  });

  it('stays within its budget, evicting the least recently used names, and still answers right', async () => {
    const gofer = await GoferFs.attach(peer.client, peer.aname, { readonly: true, nameCacheEntries: 20 });
    const ns = new MountNamespace(gofer);
    const t: TaskFs = { fdTable: new FdTable(), fsContext: new FsContext(ns, ns.rootLocation, ns.rootLocation), creds };
    for (let i = 0; i < 200; i++) {
      expect((await statAt(t, AT_FDCWD, `/many/n${i}`, 0)).size).toBe(0n);
      expect(await errnoOf(statAt(t, AT_FDCWD, `/many/absent${i}`, 0))).toBe(Errno.ENOENT);
      expect(gofer.names.weight).toBeLessThanOrEqual(20);
    }
    // An evicted absence is asked again; a recent one is not.
    let before = requests.count();
    expect(await errnoOf(statAt(t, AT_FDCWD, '/many/absent0', 0))).toBe(Errno.ENOENT);
    expect(requests.count()).toBeGreaterThan(before);
    before = requests.count();
    expect(await errnoOf(statAt(t, AT_FDCWD, '/many/absent199', 0))).toBe(Errno.ENOENT);
    expect(requests.count()).toBe(before);
    // A listing larger than the budget is not kept, and listing still works.
    const d = await openAt(t, AT_FDCWD, '/many', O_RDONLY, 0);
    const names: string[] = [];
    await d.readdir((e) => names.push(e.name) > 0);
    expect(names.length).toBe(202);
    expect(gofer.names.weight).toBeLessThanOrEqual(20);
  });

  it('reads ahead on sequential reads (several pages per Tread) and returns the right bytes at any offset', async () => {
    const t = await task({ readonly: true });
    const expected = fs.readFileSync(join(dir, 'big'));
    const f = await openAt(t, AT_FDCWD, '/big', O_RDONLY, 0);
    const reads = () => requests.types.filter((x) => x === 'Tread').length;
    const before = reads();
    const parts: Buffer[] = [];
    for (;;) {
      const chunk = await f.read(32 * 1024);
      if (chunk.length === 0) break;
      parts.push(chunk);
    }
    expect(Buffer.concat(parts).equals(expected)).toBe(true);
    // 3 MiB is 48 pages of 64 KiB: read-ahead fetches as many per Tread as the msize allows (a small msize
    // needs several Treads per page).
    const perRead = peer.client.maxReadCount;
    const minimum = Math.ceil((3 << 20) / perRead);
    expect(reads() - before).toBeLessThanOrEqual(perRead >= 4 * 65536 ? minimum + 8 : minimum * 2);
    // Random access on a fresh mount (nothing cached): every byte right, across page edges and the end.
    const t2 = await task({ readonly: true, pageCacheBytes: 256 * 1024 });
    const g = await openAt(t2, AT_FDCWD, '/big', O_RDONLY, 0);
    for (const [off, len] of [[65_530, 20], [3 * (1 << 20) - 10, 100], [1_000_000, 300_000], [0, 5], [2_500_000, 65_536]]) {
      const got = await g.pread(len!, BigInt(off!));
      expect(got.equals(expected.subarray(off!, off! + len!))).toBe(true);
    }
  });
});

// The Gofer file server in-process (no pivot; confinement is tested in confine.test.ts), driven by P9Client over a
// real socketpair through the p9 server framework.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { socketpair } from '@tsvisor/native';
import { AT_REMOVEDIR, OpenFlags, P9Client, P9Errno, QidType, serveP9 } from '@tsvisor/p9';
import { Gofer } from './gofer.js';

let base: string;
beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-'));
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A tree with a file, a subdir, an absolute symlink out, a `../../..` symlink and a relative one inside. */
function makeTree(name: string): string {
  const root = path.join(base, name);
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'file'), 'contents\n');
  fs.writeFileSync(path.join(root, 'sub', 'inner'), 'inner\n');
  fs.symlinkSync('/etc/passwd', path.join(root, 'passwd'));
  fs.symlinkSync('../../..', path.join(root, 'sub', 'up'));
  fs.symlinkSync('file', path.join(root, 'rel'));
  return root;
}

/** Names and sizes below `dir`, not following symlinks. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(`${p}:${fs.lstatSync(p).size}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

async function serve(root: string, readonly = false, extra: { aname: string; path: string; readonly: boolean }[] = []) {
  const gofer = new Gofer({ roots: [{ aname: '', path: root, readonly }, ...extra] });
  const [a, b] = socketpair();
  const serverSock = new net.Socket({ fd: b });
  const session = serveP9(serverSock, gofer);
  const client = await P9Client.connect(new net.Socket({ fd: a }));
  cleanups.push(() => {
    client.close();
    serverSock.destroy();
  });
  const { fid: rootFid, qid: rootQid } = await client.attach('root', '', 0);
  return { gofer, client, rootFid, rootQid, session };
}

describe('Gofer (read paths)', () => {
  it('walks, stats and reads a file', async () => {
    const root = makeTree('read');
    const { client, rootFid } = await serve(root);
    const { fid, qids } = await client.walk(rootFid, ['sub', 'inner']);
    expect(qids.map((q) => q.type)).toEqual([QidType.DIR, QidType.FILE]);
    expect(qids[1]!.path).toBe(BigInt(fs.statSync(path.join(root, 'sub', 'inner')).ino));
    const attr = await client.getattr(fid);
    expect(attr.size).toBe(6);
    expect(attr.mode & 0o170000).toBe(0o100000);
    expect(attr.mtimeSec).toBe(Math.floor(fs.statSync(path.join(root, 'sub', 'inner')).mtimeMs / 1000));
    await client.lopen(fid, OpenFlags.RDONLY);
    expect((await client.read(fid, 0, 1000)).toString()).toBe('inner\n');
    expect((await client.read(fid, 2, 2)).toString()).toBe('ne');
    await client.clunk(fid);
    const st = await client.statfs(rootFid);
    expect(st.bsize).toBeGreaterThan(0);
    expect(st.namelen).toBe(255);
  });

  it('stays at the attach root when walking ..', async () => {
    const { client, rootFid, rootQid } = await serve(makeTree('dotdot'));
    const { qids } = await client.walk(rootFid, ['..', '..', '..']);
    expect(qids.every((q) => q.path === rootQid.path)).toBe(true);
    const { qids: q2 } = await client.walk(rootFid, ['sub', '..', '..', 'file']);
    expect(q2[3]!.type).toBe(QidType.FILE);
    const { fid } = await client.walk(rootFid, ['..']);
    expect((await client.getattr(fid)).qid.path).toBe(rootQid.path);
  });

  it('gives symlink text to the client and never follows a symlink itself', async () => {
    const { client, rootFid } = await serve(makeTree('links'));
    const abs = await client.walk(rootFid, ['passwd']);
    expect(abs.qids[0]!.type).toBe(QidType.SYMLINK);
    expect(await client.readlink(abs.fid)).toBe('/etc/passwd');
    // Opening a symlink would follow it on the host: refused.
    await expect(client.lopen(abs.fid, OpenFlags.RDONLY)).rejects.toMatchObject({ errno: P9Errno.ELOOP });
    const up = await client.walk(rootFid, ['sub', 'up']);
    expect(await client.readlink(up.fid)).toBe('../../..');
    // Walking through either link is refused: the client must resolve the text inside its own root.
    await expect(client.walk(rootFid, ['sub', 'up', 'etc'])).rejects.toMatchObject({ errno: P9Errno.ENOENT });
    await expect(client.walk(up.fid, ['etc'])).rejects.toMatchObject({ errno: P9Errno.ENOTDIR });
    await expect(client.walk(abs.fid, ['x'])).rejects.toMatchObject({ errno: P9Errno.ENOTDIR });
    const rel = await client.walk(rootFid, ['rel']);
    expect(await client.readlink(rel.fid)).toBe('file');
  });

  it('refuses to open device nodes and FIFOs (the sentry provides those)', async () => {
    const root = makeTree('special');
    execFileSync('mknod', [path.join(root, 'null'), 'c', '1', '3']);
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    const { client, rootFid } = await serve(root);
    for (const name of ['null', 'fifo']) {
      const { fid } = await client.walk(rootFid, [name]);
      const attr = await client.getattr(fid);
      expect(attr.mode & 0o170000).toBe(name === 'null' ? 0o020000 : 0o010000);
      if (name === 'null') expect(attr.rdev).toBe(fs.statSync(path.join(root, 'null')).rdev);
      await expect(client.lopen(fid, OpenFlags.RDONLY)).rejects.toMatchObject({ errno: P9Errno.EPERM });
    }
  });

  it('lists a directory with . and .. and resumable cookies', async () => {
    const root = makeTree('list');
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(root, `f${i}`), '');
    const { client, rootFid } = await serve(root);
    const { fid } = await client.walk(rootFid, []);
    await client.lopen(fid, OpenFlags.RDONLY | OpenFlags.DIRECTORY);
    const names: string[] = [];
    let off = 0n;
    for (;;) {
      const entries = await client.readdir(fid, off, 200);
      if (!entries.length) break;
      names.push(...entries.map((e) => e.name));
      off = entries[entries.length - 1]!.offset;
      const link = entries.find((e) => e.name === 'passwd');
      if (link) expect(link.dtype).toBe(10);
    }
    expect(names.sort()).toEqual(['.', '..', ...fs.readdirSync(root)].sort());
    await expect(client.read(fid, 0, 10)).rejects.toMatchObject({ errno: P9Errno.EISDIR });
  });

  it('serves extra mounts under their attach names', async () => {
    const root = makeTree('withmount');
    const data = path.join(base, 'data');
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, 'x'), 'data!');
    const { client } = await serve(root, false, [{ aname: '/data', path: data, readonly: true }]);
    const { fid } = await client.attach('root', '/data', 0);
    const x = await client.walk(fid, ['..', 'x']);
    await client.lopen(x.fid, 0);
    expect((await client.read(x.fid, 0, 100)).toString()).toBe('data!');
    await expect(client.mkdir(fid, 'nope', 0o755, 0)).rejects.toMatchObject({ errno: P9Errno.EROFS });
    await expect(client.attach('root', '/other', 0)).rejects.toMatchObject({ errno: P9Errno.ENOENT });
  });

  it('serves an attach root on a kernel pseudo file system as an empty directory', async () => {
    const root = makeTree('pseudoroot');
    const { client } = await serve(root, true, [{ aname: '/sys', path: '/sys', readonly: false }]);
    const { fid } = await client.attach('root', '/sys', 0);
    const dup = await client.walk(fid, []);
    await client.lopen(dup.fid, OpenFlags.RDONLY);
    expect((await client.readdir(dup.fid, 0n)).map((e) => e.name)).toEqual(['.', '..']);
    await expect(client.walk(fid, ['kernel'])).rejects.toMatchObject({ errno: P9Errno.ENOENT });
    expect(fs.readdirSync('/sys')).toContain('kernel');
    // even on a writable mount, nothing is created or changed there
    await expect(client.mkdir(fid, 'x', 0o755, 0)).rejects.toMatchObject({ errno: P9Errno.EACCES });
    await expect(client.setattr(fid, { mode: 0o700 })).rejects.toMatchObject({ errno: P9Errno.EACCES });
    await expect(client.unlinkat(fid, 'kernel', AT_REMOVEDIR)).rejects.toMatchObject({ errno: P9Errno.EACCES });
  });
});

describe('Gofer (read-write mount)', () => {
  it('creates, writes, truncates, renames, links and removes', async () => {
    const root = makeTree('rw');
    const { client, rootFid, gofer } = await serve(root);
    const { fid: dir } = await client.walk(rootFid, ['sub']);
    const { fid: f } = await client.walk(dir, []);
    const created = await client.lcreate(f, 'new', OpenFlags.RDWR, 0o640, 0);
    expect(created.qid.type).toBe(QidType.FILE);
    expect(await client.write(f, 0, Buffer.from('hello world'))).toBe(11);
    await client.fsync(f);
    expect(fs.readFileSync(path.join(root, 'sub', 'new'), 'utf8')).toBe('hello world');
    expect(fs.statSync(path.join(root, 'sub', 'new')).mode & 0o777).toBe(0o640);
    await client.setattr(f, { size: 5, mode: 0o600, mtime: { sec: 1_000_000_000, nsec: 0 } });
    const st = fs.statSync(path.join(root, 'sub', 'new'));
    expect([st.size, st.mode & 0o777, st.mtimeMs]).toEqual([5, 0o600, 1_000_000_000_000]);
    await expect(client.lcreate(dir, 'new', OpenFlags.RDWR, 0o644, 0)).rejects.toMatchObject({ errno: P9Errno.EEXIST });

    await client.mkdir(rootFid, 'made', 0o750, 0);
    expect(fs.statSync(path.join(root, 'made')).isDirectory()).toBe(true);
    await client.symlink(rootFid, 'ln', '../x', 0);
    expect(fs.readlinkSync(path.join(root, 'ln'))).toBe('../x');
    await client.link(rootFid, f, 'hard');
    await client.mknod(rootFid, 'pipe', 0o010640, 0, 0, 0);
    expect(fs.statSync(path.join(root, 'pipe')).isFIFO()).toBe(true);
    expect(fs.statSync(path.join(root, 'pipe')).mode & 0o777).toBe(0o640);
    await client.mknod(rootFid, 'plain', 0o100600, 0, 0, 0);
    expect(fs.statSync(path.join(root, 'plain')).isFile()).toBe(true);
    await expect(client.mknod(rootFid, 'dev', 0o020600, 1, 3, 0)).rejects.toMatchObject({ errno: P9Errno.EPERM });
    expect(fs.existsSync(path.join(root, 'dev'))).toBe(false);
    await client.unlinkat(rootFid, 'pipe');
    await client.unlinkat(rootFid, 'plain');
    expect(fs.statSync(path.join(root, 'hard')).ino).toBe(st.ino);

    // rename the directory holding open fids: the fids follow it (as fds would)
    const { fid: inner } = await client.walk(rootFid, ['sub', 'inner']);
    await client.renameat(rootFid, 'sub', rootFid, 'moved');
    expect((await client.getattr(inner)).size).toBe(6);
    await client.lopen(inner, OpenFlags.RDONLY);
    expect((await client.read(inner, 0, 100)).toString()).toBe('inner\n');

    await client.unlinkat(rootFid, 'hard');
    await expect(client.unlinkat(rootFid, 'made')).rejects.toMatchObject({ errno: P9Errno.EISDIR });
    await client.unlinkat(rootFid, 'made', AT_REMOVEDIR);
    await expect(client.unlinkat(rootFid, 'moved', AT_REMOVEDIR)).rejects.toMatchObject({ errno: P9Errno.ENOTEMPTY });
    expect(fs.existsSync(path.join(root, 'made'))).toBe(false);
    for (const fid of [dir, f, inner]) await client.clunk(fid);
    expect(gofer.liveFiles).toBe(1);
  });

  it('refuses names that are not one component', async () => {
    const { client, rootFid } = await serve(makeTree('names'));
    await expect(client.mkdir(rootFid, '../escape', 0o755, 0)).rejects.toMatchObject({ errno: P9Errno.EINVAL });
    await expect(client.walk(rootFid, ['sub/inner'])).rejects.toMatchObject({ errno: P9Errno.EINVAL });
    await expect(client.renameat(rootFid, 'file', rootFid, '..')).rejects.toMatchObject({ errno: P9Errno.EINVAL });
    expect(fs.existsSync(path.join(base, 'escape'))).toBe(false);
  });
});

describe('Gofer (read-only mount)', () => {
  it('answers every write with EROFS and changes nothing', async () => {
    const root = makeTree('ro');
    const before = snapshot(root);
    const { client, rootFid } = await serve(root, true);
    const { fid: file } = await client.walk(rootFid, ['file']);
    const { fid: f2 } = await client.walk(rootFid, []);
    const erofs = { errno: P9Errno.EROFS };
    await expect(client.lopen(file, OpenFlags.WRONLY)).rejects.toMatchObject(erofs);
    await expect(client.lopen(file, OpenFlags.RDONLY | OpenFlags.TRUNC)).rejects.toMatchObject(erofs);
    await expect(client.lcreate(f2, 'n', OpenFlags.RDWR, 0o644, 0)).rejects.toMatchObject(erofs);
    await expect(client.mkdir(rootFid, 'd', 0o755, 0)).rejects.toMatchObject(erofs);
    await expect(client.symlink(rootFid, 's', 'x', 0)).rejects.toMatchObject(erofs);
    await expect(client.link(rootFid, file, 'h')).rejects.toMatchObject(erofs);
    await expect(client.unlinkat(rootFid, 'file')).rejects.toMatchObject(erofs);
    await expect(client.renameat(rootFid, 'file', rootFid, 'g')).rejects.toMatchObject(erofs);
    await expect(client.setattr(file, { size: 0 })).rejects.toMatchObject(erofs);
    await expect(client.mknod(rootFid, 'n', 0o100644, 0, 0, 0)).rejects.toMatchObject(erofs);
    await client.lopen(file, OpenFlags.RDONLY);
    await expect(client.write(file, 0, Buffer.from('x'))).rejects.toMatchObject(erofs);
    expect((await client.read(file, 0, 100)).toString()).toBe('contents\n');
    expect(snapshot(root)).toBe(before);
    expect(fs.readFileSync(path.join(root, 'file'), 'utf8')).toBe('contents\n');
  });
});

describe('Gofer (stale fids cannot be redirected through a symlink)', () => {
  // A fid is a path. If a directory on that path is removed and a symlink is put in its place, a path-based server
  // would resolve the old fid through the symlink: to a host file outside the tree (in-process), or, in the confined
  // gofer, to anything reachable from its root (another tree, a host proc mounted inside the rootfs: /proc/1/root).
  it('a fid below a removed directory stays dead after a symlink takes the name', async () => {
    const root = makeTree('stale');
    const outside = path.join(base, 'stale-outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'victim'), 'host secret\n');
    const { client, rootFid } = await serve(root);
    const dirFid = (await client.walk(rootFid, [])).fid;
    await client.mkdir(rootFid, 'd', 0o755, 0);
    const d = await client.walk(rootFid, ['d']);
    await client.lcreate(d.fid, 'victim', OpenFlags.WRONLY, 0o644, 0);
    await client.clunk(d.fid);
    const stale = await client.walk(rootFid, ['d', 'victim']);
    const staleDir = await client.walk(rootFid, ['d']);
    const dd = await client.walk(rootFid, ['d']);
    await client.unlinkat(dd.fid, 'victim');
    await client.unlinkat(dirFid, 'd', AT_REMOVEDIR);
    await client.symlink(rootFid, 'd', outside, 0);

    await expect(client.getattr(stale.fid)).rejects.toMatchObject({ errno: P9Errno.ENOENT });
    await expect(client.lopen(stale.fid, OpenFlags.RDWR)).rejects.toMatchObject({ errno: P9Errno.ENOENT });
    await expect(client.setattr(stale.fid, { size: 0 })).rejects.toMatchObject({ errno: P9Errno.ENOENT });
    await expect(client.walk(staleDir.fid, ['victim'])).rejects.toMatchObject({ errno: P9Errno.ENOENT });
    await expect(client.lcreate(staleDir.fid, 'new', OpenFlags.WRONLY, 0o644, 0)).rejects.toMatchObject({
      errno: P9Errno.ENOENT,
    });
    expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('host secret\n');
    expect(fs.readdirSync(outside)).toEqual(['victim']);
  });

  it('a fid removed with Tremove, and fids below it, are dead; an open file keeps working through its handle', async () => {
    const root = makeTree('stale-remove');
    const outside = path.join(base, 'stale-remove-outside');
    fs.mkdirSync(path.join(outside, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'sub', 'inner'), 'host secret\n');
    const { client, rootFid } = await serve(root);
    const inner = await client.walk(rootFid, ['sub', 'inner']);
    const open = await client.walk(rootFid, ['sub', 'inner']);
    await client.lopen(open.fid, OpenFlags.RDWR);
    const victim = await client.walk(rootFid, ['sub', 'inner']);
    await client.remove(victim.fid);
    const sub = await client.walk(rootFid, ['sub']);
    await client.unlinkat(sub.fid, 'up');
    await client.remove(sub.fid);
    await client.symlink(rootFid, 'sub', path.join(outside, 'sub'), 0);
    await expect(client.lopen(inner.fid, OpenFlags.RDONLY)).rejects.toMatchObject({ errno: P9Errno.ENOENT });
    expect((await client.read(open.fid, 0, 100)).toString()).toBe('inner\n');
    await client.setattr(open.fid, { size: 2, mtime: 'now' });
    expect((await client.getattr(open.fid)).size).toBe(2);
    expect(fs.readFileSync(path.join(outside, 'sub', 'inner'), 'utf8')).toBe('host secret\n');
  });
});

describe('Gofer (a name swapped between the check and the open)', () => {
  it('a FIFO put in place of a regular file after lopen checked it is refused, not waited on', async () => {
    const root = makeTree('swap-fifo');
    const gofer = new Gofer({ roots: [{ aname: '', path: root, readonly: false }] });
    const { file: rootFile } = await gofer.attach('root', '', 0);
    const { file } = await gofer.walk(rootFile, ['file']);
    const target = path.join(root, 'file');
    // lopen's lstat runs synchronously in the call; its open(2) is queued after it: swap in between, as a client
    // pipelining Tunlinkat + Tmknod behind the Tlopen could.
    const opening = gofer.lopen(file!, OpenFlags.RDONLY);
    fs.unlinkSync(target);
    execFileSync('mkfifo', [target]);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      opening.then(() => 'opened', (err: { errno?: number }) => err.errno),
      new Promise((r) => (timer = setTimeout(() => r('blocked'), 2000))),
    ]);
    clearTimeout(timer);
    if (outcome === 'blocked') {
      // Release the thread-pool thread stuck in open(2) before failing.
      fs.closeSync(fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    }
    expect(outcome).toBe(P9Errno.EPERM);
  });
});

describe('Gofer (memory held by directory listings)', () => {
  it('caps the entries all listing snapshots hold together (ENOMEM past it); clunk gives them back', async () => {
    const root = makeTree('listing-cap'); // root: . .. file sub passwd rel = 6 entries
    const gofer = new Gofer({ roots: [{ aname: '', path: root, readonly: false }], maxListedEntries: 10 });
    const { file: rootFile } = await gofer.attach('root', '', 0);
    const open = async () => {
      const { file } = await gofer.walk(rootFile, []);
      await gofer.lopen(file!, OpenFlags.RDONLY);
      return file!;
    };
    const a = await open();
    expect((await gofer.readdir(a, 0n, 4096)).map((e) => e.name).sort()).toEqual(['.', '..', 'file', 'passwd', 'rel', 'sub']);
    expect(await gofer.readdir(a, 0n, 4096)).toHaveLength(6); // rewinding replaces its own snapshot
    const b = await open();
    await expect(gofer.readdir(b, 0n, 4096)).rejects.toMatchObject({ errno: P9Errno.ENOMEM });
    await gofer.clunk(a);
    expect(await gofer.readdir(b, 0n, 4096)).toHaveLength(6);
  });
});

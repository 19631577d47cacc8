// Differential test: the same tree served by our Gofer and by diod (an independent 9P2000.L server, Debian
// package diod) must look the same through P9Client: qids, attributes, directory entries, link texts, errors.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketpair } from '@tsvisor/native';
import { GetattrMask, OpenFlags, P9Client, P9Error, serveP9, type Attr, type Dirent } from '@tsvisor/p9';
import { Gofer } from './gofer.js';

const diodPath = ['/usr/sbin/diod', '/usr/bin/diod'].find((p) => fs.existsSync(p));
const canRun = diodPath !== undefined && process.getuid?.() === 0 && spawnSync(diodPath, ['--help']).error === undefined;
if (!canRun) console.warn('SKIP gofer-vs-diod differential test: diod is not installed or we are not root');

interface Peer {
  client: P9Client;
  root: number;
}

describe.skipIf(!canRun)('Gofer and diod agree', () => {
  let dir: string;
  let diod: ChildProcess;
  let ours: Peer;
  let theirs: Peer;
  const names = ['file', 'empty', 'sub', 'sub/inner', 'sub/deeper', 'abs', 'rel', 'dots', 'fifo', 'hard'];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-diod-'));
    fs.writeFileSync(path.join(dir, 'file'), 'some contents\n'.repeat(1000));
    fs.writeFileSync(path.join(dir, 'empty'), '');
    fs.mkdirSync(path.join(dir, 'sub', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sub', 'inner'), 'x');
    fs.chmodSync(path.join(dir, 'sub', 'inner'), 0o4751);
    fs.chownSync(path.join(dir, 'sub', 'inner'), 1234, 5678);
    fs.symlinkSync('/etc/passwd', path.join(dir, 'abs'));
    fs.symlinkSync('sub/inner', path.join(dir, 'rel'));
    fs.symlinkSync('../../..', path.join(dir, 'dots'));
    spawnSync('mkfifo', [path.join(dir, 'fifo')]);
    fs.linkSync(path.join(dir, 'file'), path.join(dir, 'hard'));
    fs.utimesSync(path.join(dir, 'empty'), 1_000_000_000.5, 1_100_000_000.25);

    diod = spawn(diodPath!, ['-f', '-n', '-N', '-r', '3', '-w', '3', '-e', dir, '-c', '/dev/null', '-L', 'stderr'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    const dc = await P9Client.connect(diod.stdio[3] as Duplex, { msize: 65536 });
    theirs = { client: dc, root: (await dc.attach('root', dir, 0)).fid };

    const [a, b] = socketpair();
    serveP9(new net.Socket({ fd: b }), new Gofer({ roots: [{ aname: '', path: dir, readonly: false }] }));
    const oc = await P9Client.connect(new net.Socket({ fd: a }), { msize: 65536 });
    ours = { client: oc, root: (await oc.attach('root', '', 0)).fid };
  });

  afterAll(() => {
    ours?.client.close();
    theirs?.client.close();
    diod?.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function both<T>(fn: (p: Peer) => Promise<T>): Promise<[T | string, T | string]> {
    const run = (p: Peer): Promise<T | string> => fn(p).catch((e: unknown) => (e instanceof P9Error ? e.code : String(e)));
    return [await run(ours), await run(theirs)];
  }

  /** The attributes both servers report from lstat (diod fills btime/gen/data_version with zeros, as we do). */
  function comparable(a: Attr | string) {
    if (typeof a === 'string') return a;
    const { valid: _v, btimeSec: _b, btimeNsec: _n, ...rest } = a;
    return rest;
  }

  for (const name of names) {
    it(`walk and getattr agree for ${name}`, async () => {
      const [o, t] = await both(async (p) => {
        const { fid, qids } = await p.client.walk(p.root, name.split('/'));
        const attr = await p.client.getattr(fid, GetattrMask.BASIC);
        await p.client.clunk(fid);
        return { qids, attr: comparable(attr) };
      });
      expect(o).toEqual(t);
    });
  }

  it('readdir lists the same entries with the same qids and types', async () => {
    const list = async (p: Peer, where: string[]): Promise<Dirent[]> => {
      const { fid } = await p.client.walk(p.root, where);
      await p.client.lopen(fid, OpenFlags.RDONLY | OpenFlags.DIRECTORY);
      const out: Dirent[] = [];
      let off = 0n;
      for (;;) {
        const batch = await p.client.readdir(fid, off, 256);
        if (!batch.length) break;
        out.push(...batch);
        off = batch[batch.length - 1]!.offset;
      }
      await p.client.clunk(fid);
      // Cookies are each server's own business; '..' of the export root is outside the tree for diod.
      return out
        .filter((e) => !(where.length === 0 && e.name === '..'))
        .map((e) => ({ ...e, offset: 0n }))
        .sort((x, y) => x.name.localeCompare(y.name));
    };
    for (const where of [[], ['sub']]) {
      const [o, t] = await both((p) => list(p, where));
      expect(o).toEqual(t);
    }
  });

  it('symlink texts, file contents and statfs sizes agree', async () => {
    for (const link of ['abs', 'rel', 'dots']) {
      const [o, t] = await both(async (p) => p.client.readlink((await p.client.walk(p.root, [link])).fid));
      expect(o).toEqual(t);
    }
    const [o, t] = await both(async (p) => {
      const { fid } = await p.client.walk(p.root, ['file']);
      await p.client.lopen(fid, OpenFlags.RDONLY);
      const parts = [await p.client.read(fid, 0, 5000), await p.client.read(fid, 13_990, 100)];
      await p.client.clunk(fid);
      return Buffer.concat(parts).toString('hex');
    });
    expect(o).toEqual(t);
    const [so, st] = await both(async (p) => {
      const s = await p.client.statfs(p.root);
      return { bsize: s.bsize, blocks: s.blocks, files: s.files, namelen: s.namelen };
    });
    expect(so).toEqual(st);
  });

  it('errors agree', async () => {
    const cases: [string, (p: Peer) => Promise<unknown>][] = [
      ['walk a missing name', (p) => p.client.walk(p.root, ['missing'])],
      ['walk below a file', (p) => p.client.walk(p.root, ['file', 'x'])],
      ['readlink a file', async (p) => p.client.readlink((await p.client.walk(p.root, ['file'])).fid)],
      ['open a directory for writing', async (p) => p.client.lopen((await p.client.walk(p.root, ['sub'])).fid, OpenFlags.WRONLY)],
      ['mkdir over a file', (p) => p.client.mkdir(p.root, 'file', 0o755, 0)],
      ['create over a file', async (p) => p.client.lcreate((await p.client.walk(p.root, [])).fid, 'file', OpenFlags.RDWR | OpenFlags.EXCL, 0o644, 0)],
      ['read an unopened fid', async (p) => p.client.read((await p.client.walk(p.root, ['file'])).fid, 0, 10)],
    ];
    for (const [what, fn] of cases) {
      const [o, t] = await both(fn);
      expect({ what, errno: o }).toEqual({ what, errno: t });
    }
    // The one known difference: an unknown fid is EBADF here (the fid is a descriptor), EIO from diod.
    const [o, t] = await both((p) => p.client.getattr(987654));
    expect([o, t]).toEqual(['EBADF', 'EIO']);
  });

  it('the same modifications leave the same host trees', async () => {
    // Separate copies per server: each applies the same sequence, then the host directories are compared.
    const mine = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-diff-a-'));
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-diff-b-'));
    const d2 = spawn(diodPath!, ['-f', '-n', '-N', '-r', '3', '-w', '3', '-e', other, '-c', '/dev/null', '-L', 'stderr'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    try {
      const dc = await P9Client.connect(d2.stdio[3] as Duplex, { msize: 65536 });
      const [a, b] = socketpair();
      serveP9(new net.Socket({ fd: b }), new Gofer({ roots: [{ aname: '', path: mine, readonly: false }] }));
      const oc = await P9Client.connect(new net.Socket({ fd: a }), { msize: 65536 });
      const peers: Peer[] = [
        { client: oc, root: (await oc.attach('root', '', 0)).fid },
        { client: dc, root: (await dc.attach('root', other, 0)).fid },
      ];
      for (const p of peers) {
        const c = p.client;
        const { fid: f } = await c.walk(p.root, []);
        await c.lcreate(f, 'made.txt', OpenFlags.RDWR, 0o640, 0);
        await c.write(f, 0, Buffer.from('0123456789'));
        await c.write(f, 20, Buffer.from('tail'));
        await c.setattr(f, { size: 22, mode: 0o604, uid: 321, gid: 654 });
        await c.setattr(f, { atime: { sec: 1_500_000_000, nsec: 250_000_000 }, mtime: { sec: 1_600_000_000, nsec: 0 } });
        await c.clunk(f);
        await c.mkdir(p.root, 'dir', 0o711, 77);
        const { fid: d } = await c.walk(p.root, ['dir']);
        await c.symlink(d, 'link', '../made.txt', 0);
        const { fid: m } = await c.walk(p.root, ['made.txt']);
        await c.link(d, m, 'hard');
        await c.rename(m, d, 'moved.txt');
        await c.mknod(p.root, 'fifo', 0o010620, 0, 0, 0);
        const { fid: gone } = await c.walk(p.root, ['fifo']);
        await c.remove(gone);
      }
      const snap = (root: string): unknown[] => {
        const out: unknown[] = [];
        const walk = (rel: string): void => {
          for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
            const r = path.join(rel, name);
            const st = fs.lstatSync(path.join(root, r));
            out.push({
              r, mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, nlink: st.nlink,
              mtime: st.isFile() ? st.mtimeMs : 0, // directory times depend on when each run happened
              atime: st.isFile() ? st.atimeMs : 0,
              content: st.isFile() ? fs.readFileSync(path.join(root, r)).toString('hex') : st.isSymbolicLink() ? fs.readlinkSync(path.join(root, r)) : '',
            });
            if (st.isDirectory()) walk(r);
          }
        };
        walk('');
        return out;
      };
      expect(snap(mine)).toEqual(snap(other));
      oc.close();
      dc.close();
    } finally {
      d2.kill('SIGKILL');
      fs.rmSync(mine, { recursive: true, force: true });
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

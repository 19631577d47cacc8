// P9Client against diod, an independent 9P2000.L server (Debian package diod). diod serves one connected client on
// an inherited descriptor (-r/-w); Node's 'pipe' stdio entry is a socketpair, so no port is needed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P9Client } from './client.js';
import { AT_REMOVEDIR, OpenFlags, P9Error, QidType } from './wire.js';

const diodPath = ['/usr/sbin/diod', '/usr/bin/diod'].find((p) => fs.existsSync(p));
const canRun = diodPath !== undefined && process.getuid?.() === 0 && spawnSync(diodPath, ['--help']).error === undefined;
if (!canRun) console.warn('SKIP diod interop test: diod is not installed or we are not root (apt-get install diod)');

function startDiod(dir: string): { child: ChildProcess; stream: Duplex } {
  const child = spawn(
    diodPath!,
    ['-f', '-n', '-N', '-r', '3', '-w', '3', '-e', dir, '-c', '/dev/null', '-L', 'stderr'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.resume();
  return { child, stream: child.stdio[3] as Duplex };
}

describe.skipIf(!canRun)('P9Client against diod', () => {
  let dir: string;
  let child: ChildProcess;
  let client: P9Client;
  let root: number;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-p9-diod-'));
    fs.writeFileSync(path.join(dir, 'file'), 'hello from diod\n');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'inner'), 'x'.repeat(100_000));
    fs.symlinkSync('../file', path.join(dir, 'sub', 'up'));
    const d = startDiod(dir);
    child = d.child;
    client = await P9Client.connect(d.stream, { msize: 65536 });
    root = (await client.attach('root', dir, 0)).fid;
  });

  afterAll(() => {
    client?.close();
    child?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('negotiates msize and attaches to a directory', async () => {
    expect(client.msize).toBeLessThanOrEqual(65536);
    const a = await client.getattr(root);
    expect(a.qid.type & QidType.DIR).toBe(QidType.DIR);
    expect(a.mode & 0o170000).toBe(0o040000);
  });

  it('walks and reads a file', async () => {
    const { fid, qids } = await client.walk(root, ['file']);
    expect(qids).toHaveLength(1);
    expect(qids[0]!.type).toBe(QidType.FILE);
    const attr = await client.getattr(fid);
    expect(attr.size).toBe(16);
    expect(attr.qid.path).toBe(BigInt(fs.statSync(path.join(dir, 'file')).ino));
    await client.lopen(fid, OpenFlags.RDONLY);
    expect((await client.read(fid, 0, 100)).toString()).toBe('hello from diod\n');
    expect((await client.read(fid, 6, 4)).toString()).toBe('from');
    expect((await client.read(fid, 16, 10)).length).toBe(0);
    await client.clunk(fid);
  });

  it('reads a file larger than msize in many parallel requests', async () => {
    const { fid } = await client.walk(root, ['sub', 'inner']);
    await client.lopen(fid, OpenFlags.RDONLY);
    const step = 4000;
    const parts = await Promise.all(
      Array.from({ length: Math.ceil(100_000 / step) }, (_, i) => client.read(fid, i * step, step)),
    );
    expect(Buffer.concat(parts).toString()).toBe('x'.repeat(100_000));
    await client.clunk(fid);
  });

  it('reads a directory to the end with readdir cookies', async () => {
    const { fid } = await client.walk(root, []);
    await client.lopen(fid, OpenFlags.RDONLY | OpenFlags.DIRECTORY);
    const names: string[] = [];
    let offset = 0n;
    for (;;) {
      const entries = await client.readdir(fid, offset, 100); // small count: forces several round trips
      if (entries.length === 0) break;
      names.push(...entries.map((e) => e.name));
      offset = entries[entries.length - 1]!.offset;
    }
    expect(names.sort()).toEqual(['.', '..', 'file', 'sub']);
    await client.clunk(fid);
  });

  it('reads a symlink without following it', async () => {
    const { fid, qids } = await client.walk(root, ['sub', 'up']);
    expect(qids[1]!.type).toBe(QidType.SYMLINK);
    expect(await client.readlink(fid)).toBe('../file');
    await client.clunk(fid);
  });

  it('reports a missing name as ENOENT and leaves no fid behind', async () => {
    await expect(client.walk(root, ['nope'])).rejects.toMatchObject({ errno: 2, code: 'ENOENT' });
    await expect(client.walk(root, ['sub', 'nope'])).rejects.toMatchObject({ errno: 2 });
  });

  it('creates, writes, renames and removes', async () => {
    const { fid: d } = await client.walk(root, []);
    const { fid: f } = await client.walk(root, []);
    await client.lcreate(f, 'new.txt', OpenFlags.RDWR | OpenFlags.CREAT, 0o644, 0);
    expect(await client.write(f, 0, Buffer.from('written'))).toBe(7);
    await client.fsync(f);
    await client.clunk(f);
    expect(fs.readFileSync(path.join(dir, 'new.txt'), 'utf8')).toBe('written');
    await client.mkdir(d, 'made', 0o755, 0);
    // diod answers EOPNOTSUPP to Trenameat/Tunlinkat (as Linux v9fs expects of older servers), so fall back to the
    // fid-based Trename/Tremove there; either way the host directory must show the change.
    const isNotSupported = (e: unknown): boolean => e instanceof P9Error && e.code === 'EOPNOTSUPP';
    await client.renameat(d, 'new.txt', d, 'renamed.txt').catch(async (e: unknown) => {
      if (!isNotSupported(e)) throw e;
      const { fid } = await client.walk(d, ['new.txt']);
      await client.rename(fid, d, 'renamed.txt');
      await client.clunk(fid);
    });
    expect(fs.existsSync(path.join(dir, 'renamed.txt'))).toBe(true);
    for (const [name, flags] of [['renamed.txt', 0], ['made', AT_REMOVEDIR]] as const) {
      await client.unlinkat(d, name, flags).catch(async (e: unknown) => {
        if (!isNotSupported(e)) throw e;
        await client.remove((await client.walk(d, [name])).fid);
      });
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['file', 'sub']);
    const st = await client.statfs(d);
    expect(st.bsize).toBeGreaterThan(0);
    await client.clunk(d);
  });

  it('fails pending and later requests with EIO when the server dies', async () => {
    const d = startDiod(dir);
    const c2 = await P9Client.connect(d.stream, { msize: 16384 });
    const r = (await c2.attach('root', dir, 0)).fid;
    const lost = new Promise<P9Error>((resolve) => c2.onClose(resolve));
    d.child.kill('SIGKILL');
    const inflight = Array.from({ length: 10 }, () => c2.getattr(r));
    for (const p of inflight) {
      await p.then(
        () => undefined, // a reply that beat the kill is fine
        (e: unknown) => expect(e).toMatchObject({ errno: 5, code: 'EIO' }),
      );
    }
    expect((await lost).errno).toBe(5);
    await expect(c2.walk(r, ['file'])).rejects.toMatchObject({ errno: 5 });
    expect(c2.closed).toBe(true);
  });
});

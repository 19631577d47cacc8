// The gofer as a real process (dist/main.js, built by this test with tsc -b): it re-executes itself under
// `unshare --mount`, pivots into a scaffold holding only the served trees, and serves 9P on an inherited socketpair.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFd, socketpair } from '@tsvisor/native';
import { OpenFlags, P9Client, P9Errno, P9Error, QidType } from '@tsvisor/p9';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const goferMain = path.join(repo, 'packages/gofer/dist/main.js');
const isRoot = process.getuid?.() === 0;
const hasUnshare = ['/usr/bin/unshare', '/bin/unshare'].some((p) => fs.existsSync(p));
if (!isRoot || !hasUnshare) console.warn('SKIP gofer confinement tests: need root and unshare(1) (util-linux)');

let base: string;
const children: ChildProcess[] = [];

interface Running {
  child: ChildProcess;
  client: P9Client;
  stderr: () => string;
}

async function startGofer(args: string[]): Promise<Running> {
  const [mine, theirs] = socketpair();
  const child = spawn(process.execPath, [goferMain, ...args, '--fd', '3', '--log-level', 'debug'], {
    stdio: ['ignore', 'ignore', 'pipe', theirs],
  });
  children.push(child);
  closeFd(theirs);
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const client = await P9Client.connect(new net.Socket({ fd: mine }));
  return { child, client, stderr: () => err };
}

/** The gofer proper is the wrapper's child (unshare execs node in place). */
function innerPid(wrapperPid: number): number {
  const kids = fs.readFileSync(`/proc/${wrapperPid}/task/${wrapperPid}/children`, 'utf8').trim().split(/\s+/);
  expect(kids).toHaveLength(1);
  return Number(kids[0]);
}

describe.skipIf(!isRoot || !hasUnshare)('gofer process confinement', () => {
  let root: string;
  let data: string;

  beforeAll(() => {
    execFileSync(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-b', 'packages/gofer'], {
      cwd: repo,
      stdio: 'inherit',
    });
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-confine-'));
    root = path.join(base, 'rootfs');
    data = path.join(base, 'data');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(root, 'file'), 'in the rootfs\n');
    fs.writeFileSync(path.join(data, 'd'), 'in the data mount\n');
    fs.writeFileSync(path.join(base, 'secret'), 'outside\n');
    fs.symlinkSync('/etc/passwd', path.join(root, 'passwd'));
    fs.symlinkSync('../../..', path.join(root, 'sub', 'up'));
    fs.symlinkSync('../file', path.join(root, 'sub', 'rel'));
  });

  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  it('pivots into a root holding only the served trees', async () => {
    const g = await startGofer(['--root', root, '--mount-ro', `/data=${data}`]);
    const { fid: rootFid, qid } = await g.client.attach('root', '', 0);
    expect(qid.path).toBe(BigInt(fs.statSync(root).ino));
    // The kernel's view of the gofer's root directory: the scaffold with the two binds, nothing of the host.
    const pid = innerPid(g.child.pid!);
    expect(fs.readdirSync(`/proc/${pid}/root`).sort()).toEqual(['mounts', 'root']);
    expect(fs.readdirSync(`/proc/${pid}/root/root`).sort()).toEqual(['file', 'passwd', 'sub']);
    expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
    // Every thread (the libuv pool included) shares the confined mount namespace, which is not ours.
    const ns = new Set(fs.readdirSync(`/proc/${pid}/task`).map((t) => fs.readlinkSync(`/proc/${pid}/task/${t}/ns/mnt`)));
    expect(ns.size).toBe(1);
    expect([...ns][0]).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
    expect(g.stderr()).toContain('"method":"pivot_root"');

    // '..' from the root is the root; the outside symlinks come back as text; walking through them is refused.
    const up = await g.client.walk(rootFid, ['..', '..', 'file']);
    await g.client.lopen(up.fid, OpenFlags.RDONLY);
    expect((await g.client.read(up.fid, 0, 100)).toString()).toBe('in the rootfs\n');
    const pw = await g.client.walk(rootFid, ['passwd']);
    expect(pw.qids[0]!.type).toBe(QidType.SYMLINK);
    expect(await g.client.readlink(pw.fid)).toBe('/etc/passwd');
    await expect(g.client.lopen(pw.fid, OpenFlags.RDONLY)).rejects.toMatchObject({ errno: P9Errno.ELOOP });
    const dots = await g.client.walk(rootFid, ['sub', 'up']);
    expect(await g.client.readlink(dots.fid)).toBe('../../..');
    await expect(g.client.walk(rootFid, ['sub', 'up', 'secret'])).rejects.toBeInstanceOf(P9Error);
    const rel = await g.client.walk(rootFid, ['sub', 'rel']);
    expect(await g.client.readlink(rel.fid)).toBe('../file');

    // The extra mount, read-only by the kernel as well as by the gofer.
    const { fid: dataFid } = await g.client.attach('root', '/data', 0);
    const d = await g.client.walk(dataFid, ['..', 'd']);
    await g.client.lopen(d.fid, OpenFlags.RDONLY);
    expect((await g.client.read(d.fid, 0, 100)).toString()).toBe('in the data mount\n');
    await expect(g.client.mkdir(dataFid, 'x', 0o755, 0)).rejects.toMatchObject({ errno: P9Errno.EROFS });
    expect(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).toMatch(/ \/mounts\/0 ro,/);

    // The host sees none of the gofer's mounts.
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('tsvisor-gofer');
    g.client.close();
    expect(await new Promise((r) => g.child.on('exit', r))).toBe(0);
  });

  it('writes through a read-write gofer land in the host directory', async () => {
    const g = await startGofer(['--root', root]);
    const { fid: rootFid } = await g.client.attach('root', '', 0);
    const { fid } = await g.client.walk(rootFid, []);
    await g.client.lcreate(fid, 'created', OpenFlags.WRONLY, 0o644, 0);
    await g.client.write(fid, 0, Buffer.from('via 9P'));
    await g.client.clunk(fid);
    expect(fs.readFileSync(path.join(root, 'created'), 'utf8')).toBe('via 9P');
    await g.client.unlinkat(rootFid, 'created');
    expect(fs.existsSync(path.join(root, 'created'))).toBe(false);
    g.client.close();
  });

  it('refuses writes with EROFS when started --readonly', async () => {
    const g = await startGofer(['--root', root, '--readonly']);
    const { fid: rootFid } = await g.client.attach('root', '', 0);
    const { fid } = await g.client.walk(rootFid, []);
    await expect(g.client.lcreate(fid, 'x', OpenFlags.WRONLY, 0o644, 0)).rejects.toMatchObject({ errno: P9Errno.EROFS });
    await expect(g.client.unlinkat(rootFid, 'file')).rejects.toMatchObject({ errno: P9Errno.EROFS });
    expect(fs.existsSync(path.join(root, 'file'))).toBe(true);
    g.client.close();
  });

  it('a gofer killed mid-request gives the client EIO, not a hang', async () => {
    const g = await startGofer(['--root', root]);
    const { fid: rootFid } = await g.client.attach('root', '', 0);
    const { fid } = await g.client.walk(rootFid, ['file']);
    await g.client.lopen(fid, OpenFlags.RDONLY);
    const inflight = Array.from({ length: 2000 }, (_, i) => g.client.read(fid, i % 14, 1));
    process.kill(innerPid(g.child.pid!), 'SIGKILL');
    const settled = await Promise.allSettled(inflight);
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0); // the kill landed while requests were in flight
    for (const f of failed) expect((f as PromiseRejectedResult).reason).toMatchObject({ errno: P9Errno.EIO });
    await expect(g.client.getattr(rootFid)).rejects.toMatchObject({ errno: P9Errno.EIO });
    // The wrapper reports the inner gofer's death.
    expect(await new Promise((r) => g.child.on('exit', (code) => r(code)))).not.toBe(0);
  });

  it('the inner gofer exits when its wrapper is killed', async () => {
    const g = await startGofer(['--root', root]);
    await g.client.attach('root', '', 0);
    const inner = innerPid(g.child.pid!);
    g.child.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (fs.existsSync(`/proc/${inner}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const state = fs.existsSync(`/proc/${inner}/stat`) ? fs.readFileSync(`/proc/${inner}/stat`, 'utf8').split(' ')[2] : 'gone';
    expect(['gone', 'Z']).toContain(state);
    await expect(g.client.getattr(0)).rejects.toMatchObject({ errno: P9Errno.EIO });
    // The shared scaffold directory stays empty on the host side.
    expect(fs.readdirSync(path.join(os.tmpdir(), '.tsvisor-gofer-scaffold'))).toEqual([]);
  });

  it('exits with a message on bad arguments', () => {
    let out = '';
    try {
      execFileSync(process.execPath, [goferMain, '--root', root], { stdio: 'pipe' });
    } catch (err) {
      out = String((err as { stderr: Buffer }).stderr);
      expect((err as { status: number }).status).toBe(2);
    }
    expect(out).toContain('--fd must be a descriptor number');
  });
});

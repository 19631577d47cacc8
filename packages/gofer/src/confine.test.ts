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
import { AT_REMOVEDIR, NOFID, NOTAG, OpenFlags, P9Client, P9Errno, P9Error, QidType, encode } from '@tsvisor/p9';
import { RawPeer, mutateFrame, sampleMessages, seededRandom } from '@tsvisor/p9/testing';
import { GOFER_CAPABILITY_MASK } from './capabilities.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const goferMain = path.join(repo, 'packages/gofer/dist/main.js');
const isRoot = process.getuid?.() === 0;
const FUZZ_PER_TYPE = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 300);
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
    // No network: its own, empty network namespace.
    expect(fs.readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
    expect(fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8')).not.toMatch(/eth|veth|ens/);
    expect(g.stderr()).toContain('"method":"pivot_root"');
    // The seccomp self filter is on every thread (TSYNC): mode 2 = SECCOMP_MODE_FILTER.
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      expect(fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8')).toMatch(/^Seccomp:\s+2$/m);
    }

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

  it('the kernel follows no symlink and opens no device node in the served trees (nosymfollow, nodev, recursive)', async () => {
    // Node's fs calls are path-based, so between a walk and a later call a directory on a fid's path could be
    // swapped for a symlink; these mount attributes make the kernel refuse to follow it, whatever the gofer does.
    const tree = path.join(base, 'attrs');
    fs.mkdirSync(path.join(tree, 'dir', 'nested'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'dir', 'f'), 'f\n');
    fs.symlinkSync('dir', path.join(tree, 'link'));
    execFileSync('mknod', [path.join(tree, 'null'), 'c', '1', '3']);
    execFileSync('mount', ['-t', 'tmpfs', 'sub', path.join(tree, 'dir', 'nested')]);
    fs.writeFileSync(path.join(tree, 'dir', 'nested', 'g'), 'g\n');
    fs.symlinkSync('g', path.join(tree, 'dir', 'nested', 'glink'));
    try {
      const g = await startGofer(['--root', tree, '--mount-ro', `/data=${data}`]);
      const { fid: rootFid } = await g.client.attach('root', '', 0);
      const pid = innerPid(g.child.pid!);
      const inner = `/proc/${pid}/root`;
      // Paths under /proc/PID/root resolve through the gofer's mounts, so they see what its own calls would.
      expect(fs.readFileSync(`${inner}/root/dir/f`, 'utf8')).toBe('f\n');
      expect(fs.readlinkSync(`${inner}/root/link`)).toBe('dir'); // the text is still served
      expect(() => fs.readFileSync(`${inner}/root/link/f`)).toThrow(expect.objectContaining({ code: 'ELOOP' }));
      expect(() => fs.readFileSync(`${inner}/root/dir/nested/glink`)).toThrow(expect.objectContaining({ code: 'ELOOP' }));
      expect(() => fs.openSync(`${inner}/root/null`, 'r')).toThrow(expect.objectContaining({ code: 'EACCES' }));
      const mounts = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n');
      for (const mp of ['/root', '/root/dir/nested', '/mounts/0']) {
        const line = mounts.find((l) => l.split(' ')[4] === mp);
        expect(line, mp).toBeDefined();
        expect(line!.split(' ')[5]!.split(','), mp).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'nosymfollow']));
      }
      expect(mounts.find((l) => l.split(' ')[4] === '/mounts/0')!.split(' ')[5]).toMatch(/^ro,/);
      expect(mounts.find((l) => l.split(' ')[4] === '/root')!.split(' ')[5]).toMatch(/^rw,/);
      // Over 9P nothing changes: the device node is refused by the gofer itself, the link is served as text.
      const nul = await g.client.walk(rootFid, ['null']);
      await expect(g.client.lopen(nul.fid, OpenFlags.RDONLY)).rejects.toMatchObject({ errno: P9Errno.EPERM });
      expect(await g.client.readlink((await g.client.walk(rootFid, ['link'])).fid)).toBe('dir');
      g.client.close();
      await new Promise((r) => g.child.on('exit', r));
    } finally {
      execFileSync('umount', ['-l', path.join(tree, 'dir', 'nested')]);
    }
  });

  it('confines with MS_MOVE + chroot where pivot_root is not possible (forced here)', async () => {
    const g = await startGofer(['--root', root, '--confine', 'chroot']);
    const { fid: rootFid } = await g.client.attach('root', '', 0);
    const pid = innerPid(g.child.pid!);
    expect(fs.readdirSync(`/proc/${pid}/root`).sort()).toEqual(['root']);
    expect(fs.readdirSync(`/proc/${pid}/root/root`).sort()).toEqual(['file', 'passwd', 'sub']);
    expect(g.stderr()).toContain('"method":"chroot"');
    const up = await g.client.walk(rootFid, ['..', 'file']);
    await g.client.lopen(up.fid, OpenFlags.RDONLY);
    expect((await g.client.read(up.fid, 0, 100)).toString()).toBe('in the rootfs\n');
    g.client.close();
    expect(await new Promise((r) => g.child.on('exit', r))).toBe(0);
  });

  it('shows a kernel pseudo file system mounted inside the tree as an empty directory', async () => {
    const tree = path.join(base, 'withproc');
    fs.mkdirSync(path.join(tree, 'proc'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'file'), 'x');
    execFileSync('mount', ['-t', 'proc', 'proc', path.join(tree, 'proc')]);
    try {
      const g = await startGofer(['--root', tree]);
      const { fid: rootFid } = await g.client.attach('root', '', 0);
      // The gofer's namespace does hold the host's proc there (so the emptiness below is the gofer's doing).
      expect(fs.existsSync(`/proc/${innerPid(g.child.pid!)}/root/root/proc/1/status`)).toBe(true);
      const { fid, qids } = await g.client.walk(rootFid, ['proc']);
      expect(qids[0]!.type).toBe(QidType.DIR);
      await g.client.lopen(fid, OpenFlags.RDONLY | OpenFlags.DIRECTORY);
      expect((await g.client.readdir(fid, 0n)).map((e) => e.name).sort()).toEqual(['.', '..']);
      for (const below of [['self'], ['1'], ['kcore'], ['sys', 'kernel']]) {
        await expect(g.client.walk(rootFid, ['proc', ...below])).rejects.toMatchObject({ errno: P9Errno.ENOENT });
      }
      const back = await g.client.walk(rootFid, ['proc', '.', '..', 'file']);
      expect(back.qids.map((q) => q.type)).toEqual([QidType.DIR, QidType.DIR, QidType.DIR, QidType.FILE]);
      g.client.close();
      await new Promise((r) => g.child.on('exit', r));
    } finally {
      execFileSync('umount', ['-l', path.join(tree, 'proc')]);
    }
  });

  it('writes through a read-write gofer land in the host directory', async () => {
    const g = await startGofer(['--root', root]);
    const { fid: rootFid } = await g.client.attach('root', '', 0);
    const { fid } = await g.client.walk(rootFid, []);
    await g.client.lcreate(fid, 'created', OpenFlags.WRONLY, 0o644, 0);
    await g.client.write(fid, 0, Buffer.from('via 9P'));
    await g.client.clunk(fid);
    expect(fs.readFileSync(path.join(root, 'created'), 'utf8')).toBe('via 9P');
    // Every write path, so a syscall missing from the seccomp allow-list shows up here as EPERM.
    const { fid: c2 } = await g.client.walk(rootFid, ['created']);
    await g.client.setattr(c2, { mode: 0o600, uid: 1, gid: 2, size: 2, atime: { sec: 7, nsec: 0 }, mtime: 'now' });
    const st = fs.statSync(path.join(root, 'created'));
    expect([st.mode & 0o777, st.uid, st.gid, st.size, st.atimeMs]).toEqual([0o600, 1, 2, 2, 7000]);
    await g.client.mkdir(rootFid, 'dir', 0o700, 0);
    await g.client.symlink(rootFid, 'sym', 'created', 0);
    await g.client.link(rootFid, c2, 'hard');
    await g.client.renameat(rootFid, 'hard', rootFid, 'hard2');
    await g.client.mknod(rootFid, 'node', 0o100600, 0, 0, 0);
    await g.client.mknod(rootFid, 'fifo', 0o010600, 0, 0, 0);
    expect(fs.statSync(path.join(root, 'fifo')).isFIFO()).toBe(true);
    const { fid: c3 } = await g.client.walk(rootFid, ['hard2']);
    await g.client.lopen(c3, OpenFlags.RDWR | OpenFlags.APPEND);
    await g.client.write(c3, 0, Buffer.from('++'));
    await g.client.fsync(c3, true);
    expect(fs.readFileSync(path.join(root, 'created'), 'utf8')).toBe('vi++');
    expect(fs.readlinkSync(path.join(root, 'sym'))).toBe('created');
    for (const n of ['created', 'sym', 'hard2', 'node', 'fifo']) await g.client.unlinkat(rootFid, n);
    await g.client.unlinkat(rootFid, 'dir', AT_REMOVEDIR);
    expect(fs.readdirSync(root).sort()).toEqual(['file', 'passwd', 'sub']);
    expect(g.stderr()).toContain('gofer seccomp filter installed');
    g.client.close();
  });

  it('keeps only the capabilities serving files needs, on every thread, and serves with them', async () => {
    // Files the gofer can use only through its kept capabilities: mode 000 and owned by someone else (read, walk:
    // CAP_DAC_OVERRIDE without CAP_DAC_READ_SEARCH), a group the gofer is not in (S_ISGID kept: CAP_FSETID).
    const locked = path.join(root, 'locked');
    fs.mkdirSync(locked);
    fs.writeFileSync(path.join(locked, 'inner'), 'behind mode 000\n');
    fs.chownSync(path.join(locked, 'inner'), 1000, 1000);
    fs.chmodSync(path.join(locked, 'inner'), 0);
    fs.chownSync(locked, 1000, 1000);
    fs.chmodSync(locked, 0);
    try {
      const g = await startGofer(['--root', root]);
      const { fid: rootFid } = await g.client.attach('root', '', 0);
      const pid = innerPid(g.child.pid!);
      const tasks = fs.readdirSync(`/proc/${pid}/task`);
      expect(tasks.length).toBeGreaterThan(4);
      const expected = GOFER_CAPABILITY_MASK.toString(16).padStart(16, '0');
      expect(expected).toBe('000000000000001b'); // CHOWN, DAC_OVERRIDE, FOWNER, FSETID
      for (const t of tasks) {
        const status = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
        const line = (name: string) => status.match(new RegExp(`^${name}:\\s+(\\w+)$`, 'm'))![1];
        expect([line('CapEff'), line('CapPrm'), line('CapBnd'), line('CapInh'), line('CapAmb')], `thread ${t}`).toEqual([
          expected, expected, expected, '0000000000000000', '0000000000000000',
        ]);
      }
      expect(g.stderr()).toContain('gofer capabilities dropped on every thread');
      const inner = await g.client.walk(rootFid, ['locked', 'inner']);
      await g.client.lopen(inner.fid, OpenFlags.RDWR);
      expect((await g.client.read(inner.fid, 0, 100)).toString()).toBe('behind mode 000\n');
      const { fid: dir } = await g.client.walk(rootFid, ['locked']);
      await g.client.lcreate(dir, 'made', OpenFlags.WRONLY, 0o644, 2345);
      const made = await g.client.walk(rootFid, ['locked', 'made']);
      await g.client.setattr(made.fid, { mode: 0o2755 });
      const st = fs.statSync(path.join(locked, 'made'));
      expect([st.mode & 0o7777, st.gid]).toEqual([0o2755, 2345]);
      g.client.close();
    } finally {
      fs.chmodSync(locked, 0o755);
      fs.rmSync(locked, { recursive: true, force: true });
    }
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
    const state = (): string => {
      try {
        return fs.readFileSync(`/proc/${inner}/stat`, 'utf8').split(' ')[2]!;
      } catch {
        return 'gone';
      }
    };
    while (!['gone', 'Z'].includes(state()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(['gone', 'Z']).toContain(state());
    await expect(g.client.getattr(0)).rejects.toMatchObject({ errno: P9Errno.EIO });
    // The shared scaffold directory stays empty on the host side.
    expect(fs.readdirSync(path.join(os.tmpdir(), '.tsvisor-gofer-scaffold'))).toEqual([]);
  });

  it(`keeps serving, confined, through ${FUZZ_PER_TYPE} mutated requests per type`, async () => {
    // A scratch copy of the tree: fuzzed Tlcreate/Tunlinkat/Trenameat really run, with the real fids 0-9 attached.
    const scratch = path.join(base, 'fuzzroot');
    fs.cpSync(root, scratch, { recursive: true, verbatimSymlinks: true });
    const outsideBefore = fs.readdirSync(base).sort();
    const [mine, theirs] = socketpair();
    const child = spawn(process.execPath, [goferMain, '--root', scratch, '--fd', '3', '--log-level', 'fatal'], {
      stdio: ['ignore', 'ignore', 'inherit', theirs],
    });
    children.push(child);
    closeFd(theirs);
    const peer = new RawPeer(new net.Socket({ fd: mine }));
    const resync = async (tag: number): Promise<void> => {
      peer.send({ type: 'Tversion', tag: NOTAG, msize: 65536, version: '9P2000.L' });
      for (let fid = 0; fid < 10; fid++) {
        peer.send({ type: 'Tattach', tag, fid, afid: NOFID, uname: '', aname: '', nUname: 0 });
        expect(await peer.waitFor((r) => r.tag === tag && r.type !== 'Rversion')).toMatchObject({ type: 'Rattach' });
      }
    };
    await resync(0xfff0);
    const rand = seededRandom(0x5eed);
    for (const msg of Object.values(sampleMessages).filter((m) => m.type.startsWith('T'))) {
      const frame = encode(msg);
      for (let i = 0; i < FUZZ_PER_TYPE; i++) {
        const m = mutateFrame(frame, rand);
        if (m.length < 7) continue;
        m.writeUInt32LE(m.length, 0); // keep the stream delimited (undelimitable frames end the session by design)
        peer.send(m);
      }
      await resync(0xfff1);
      peer.send({ type: 'Tgetattr', tag: 0xfff2, fid: 0, requestMask: 0x7ff });
      const r = await peer.waitFor((x) => x.tag === 0xfff2);
      expect(r, `after fuzzing ${msg.type}`).toMatchObject({ type: 'Rgetattr' });
      peer.replies.length = 0;
    }
    expect(peer.closed).toBe(false);
    // Nothing outside the served tree changed.
    expect(fs.readdirSync(base).sort()).toEqual(outsideBefore);
    expect(fs.readFileSync(path.join(base, 'secret'), 'utf8')).toBe('outside\n');
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

// The boot-time tree over a real 9P server (diod serving a temp rootfs and a bind-mount source), /proc through a
// process source, and the loader's ExecutableSource with execve(2)'s errors.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../kernel/context.js';
import { Errno } from '../kernel/errno.js';
import { NINEP_PEERS, type DiodPeer } from '../fsimpl/gofer_test_server.js';
import type { ProcFsSource } from '../fsimpl/proc.js';
import { fileSyscalls as sys } from '../syscalls/fs_syscalls.js';
import { makeTestTask, type TestTask } from '../syscalls/fs_test_task.js';
import { AT_FDCWD, O_CREAT, O_RDONLY, O_WRONLY } from './constants.js';
import { buildContainerRoot, type ContainerRoot } from './container_root.js';
import { VfsExecutableSource } from './executable_source.js';
import { lookupAt, mkdirAt, openAt, readlinkAt, statAt } from './operations.js';
import { runAsCaller } from './caller.js';

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as { errno: number }).errno;
  }
}

async function readFile(t: TestTask, path: string): Promise<string> {
  const f = await openAt(t, AT_FDCWD, path, O_RDONLY, 0);
  let out = '';
  for (;;) {
    const c = await f.read(4096);
    if (c.length === 0) return out;
    out += c.toString();
  }
}

describe.each(NINEP_PEERS.filter((p) => p.available))('container root over $name', ({ start }) => {
  let rootfs: string;
  let bindSrc: string;
  let peer: DiodPeer;
  let root: ContainerRoot;
  let t: TestTask;

  beforeAll(async () => {
    rootfs = fs.mkdtempSync(join(tmpdir(), 'tsv-rootfs-'));
    bindSrc = fs.mkdtempSync(join(tmpdir(), 'tsv-bind-'));
    fs.mkdirSync(join(rootfs, 'bin'));
    fs.writeFileSync(join(rootfs, 'bin/prog'), Buffer.from('\x7fELF-not-really'), { mode: 0o755 });
    fs.writeFileSync(join(rootfs, 'bin/data'), 'not executable', { mode: 0o644 });
    fs.symlinkSync('prog', join(rootfs, 'bin/link'));
    fs.writeFileSync(join(bindSrc, 'shared.txt'), 'from the host');
    peer = await start(rootfs, [bindSrc]);
    root = await buildContainerRoot({
      gofer: peer.client,
      rootAname: peer.aname,
      overlay: 'memory',
      readonly: false,
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
        { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid'] },
        { destination: '/mnt/data', type: 'bind', source: bindSrc, options: ['rbind', 'ro'] },
      ],
      bindAname: (m) => m.source!,
    });
    t = makeTestTask(root.mounts);
    const self = t;
    // A process source standing in for the kernel's (a test double of the ProcessTable contract): one process,
    // the test task, with its real fd table and fs context.
    const info: ProcessInfo = {
      pid: 1, ppid: 0, pgid: 1, sid: 1, comm: 'prog', argv: ['/bin/prog', '-v'], state: 'R',
      creds: self.creds, threads: [1], startTimeMs: 5, exe: '/bin/prog',
      maps: [{ start: 0x400000n, end: 0x401000n, perms: 'r-xp', offset: 0n, name: '/bin/prog' }],
    };
    const source: ProcFsSource = {
      pids: () => [1],
      process: (pid) => (pid === 1 ? info : undefined),
      uptimeMs: () => 1234,
      fsState: (pid) => (pid === 1 ? { fdTable: self.fdTable, fsContext: self.fsContext } : undefined),
    };
    root.procfs!.source = source;
  });
  afterAll(async () => {
    await peer?.stop();
    fs.rmSync(rootfs, { recursive: true, force: true });
    fs.rmSync(bindSrc, { recursive: true, force: true });
  });

  it('mounts the spec entries and keeps writes out of the image', async () => {
    expect((await statAt(t, AT_FDCWD, '/dev/null', 0)).mode & 0o170000).toBe(0o020000);
    await (await openAt(t, AT_FDCWD, '/bin/new', O_CREAT | O_WRONLY, 0o644)).write(Buffer.from('x'));
    expect(fs.existsSync(join(rootfs, 'bin/new'))).toBe(false);
    expect(fs.existsSync(join(rootfs, 'mnt'))).toBe(false);
    expect(await readFile(t, '/mnt/data/shared.txt')).toBe('from the host');
    expect(await errnoOf(openAt(t, AT_FDCWD, '/mnt/data/new', O_CREAT | O_WRONLY, 0o644))).toBe(Errno.EROFS);
    const big = await openAt(t, AT_FDCWD, '/tmp/big', O_CREAT | O_WRONLY, 0o644);
    expect(await errnoOf(big.write(Buffer.alloc(2 << 20)))).toBe(0);
    expect((await statAt(t, AT_FDCWD, '/tmp/big', 0)).size).toBeLessThanOrEqual(1n << 20n);
    expect(await readFile(t, '/sys/devices/system/cpu/online')).toMatch(/^0(-\d+)?\n$/);
    expect(await errnoOf(openAt(t, AT_FDCWD, '/sys/devices/system/cpu/online', O_WRONLY, 0))).toBe(Errno.EROFS);
    const mounts = await runAsCaller({ pid: 1, tid: 1 }, () => readFile(t, '/proc/mounts'));
    expect(mounts).toContain('tmpfs /tmp tmpfs rw 0 0');
    expect(mounts).toContain(`${bindSrc} /mnt/data 9p ro 0 0`);
  });

  it('serves /proc from the process source, /proc/self as the caller', async () => {
    expect(await runAsCaller({ pid: 1, tid: 1 }, () => readlinkAt(t, AT_FDCWD, '/proc/self'))).toBe('1');
    expect(await readFile(t, '/proc/1/cmdline')).toBe('/bin/prog\0-v\0');
    expect(await readFile(t, '/proc/1/status')).toContain('PPid:\t0');
    expect((await readFile(t, '/proc/1/stat')).startsWith('1 (prog) R 0 1 1')).toBe(true);
    expect(await readFile(t, '/proc/1/maps')).toMatch(/^00400000-00401000 r-xp 00000000 00:00 0 +\/bin\/prog\n$/);
    expect(await readFile(t, '/proc/uptime')).toMatch(/^1\.23 /);
    expect(await readFile(t, '/proc/meminfo')).toMatch(/^MemTotal: +\d+ kB/);
    expect(await readFile(t, '/proc/stat')).toMatch(/^cpu  \d+ /);
    expect(await readFile(t, '/proc/sys/kernel/ostype')).toBe('Linux\n');
    expect(await readFile(t, '/proc/1/task/1/comm')).toBe('prog\n');
    expect(await runAsCaller({ pid: 1, tid: 1 }, () => readFile(t, '/proc/self/mountinfo'))).toMatch(/^(\d+) \1 0:\d+ \/ \/ rw - overlay overlay rw\n/);
    await mkdirAt(t, AT_FDCWD, '/work', 0o755);
    t.fsContext.cwd = await lookupAt(t, AT_FDCWD, '/work', { follow: true });
    expect(await readlinkAt(t, AT_FDCWD, '/proc/1/cwd')).toBe('/work');
    // Through the syscall layer, /proc/self/fd lists the caller's own fds and links to their paths.
    const fd = await t.call(sys.open, t.put('/bin/prog'), O_RDONLY);
    const buf = t.alloc(256);
    const n = await t.call(sys.readlink, t.put(`/proc/self/fd/${fd}`), buf, 256);
    expect(t.memory.read(buf, n).toString()).toBe('/bin/prog');
    expect(await t.call(sys.stat, t.put(`/proc/self/cwd/..`), t.alloc(144))).toBe(0);
    expect(await t.call(sys.close, fd)).toBe(0);
    expect(await t.call(sys.readlink, t.put(`/proc/self/fd/${fd}`), buf, 256)).toBe(-Errno.ENOENT);
    // A pipe has no name, yet /proc/self/fd/N (and so /dev/stdin) reopens it, like bash's <(...) relies on.
    const fds = t.alloc(8);
    await t.call(sys.pipe2, fds, 0);
    const [r, w] = [t.memory.read(fds, 8).readInt32LE(0), t.memory.read(fds, 8).readInt32LE(4)];
    const n2 = await t.call(sys.readlink, t.put(`/proc/self/fd/${r}`), buf, 256);
    expect(t.memory.read(buf, n2).toString()).toMatch(/^pipe:\[\d+\]$/);
    const again = await t.call(sys.open, t.put(`/proc/self/fd/${r}`), O_RDONLY);
    await t.call(sys.write, w, t.put(Buffer.from('via proc')), 8);
    expect(await t.call(sys.read, again, buf, 256)).toBe(8);
    expect(t.memory.read(buf, 8).toString()).toBe('via proc');
    const w2 = await t.call(sys.open, t.put('/dev/fd/' + w), O_WRONLY);
    expect(await t.call(sys.write, w2, t.put(Buffer.from('z')), 1)).toBe(1);
  });

  it('opens executables for the loader with execve(2) errors', async () => {
    const src = new VfsExecutableSource(t);
    const exe = await src.open('/bin/link');
    expect(exe.path).toBe('/bin/prog');
    expect(exe.size).toBe(15);
    expect((await exe.read(1, 3)).toString()).toBe('ELF');
    expect((await exe.read(10, 100)).length).toBe(5);
    exe.release();
    expect(await errnoOf(src.open('/bin/data'))).toBe(Errno.EACCES);
    expect(await errnoOf(src.open('/bin'))).toBe(Errno.EACCES);
    expect(await errnoOf(src.open('/bin/missing'))).toBe(Errno.ENOENT);
    expect(await errnoOf(src.open('/bin/prog/x'))).toBe(Errno.ENOTDIR);
    expect(await errnoOf(src.open('/dev/null'))).toBe(Errno.EACCES);
    const user = makeTestTask(root.mounts, { uid: 1000, euid: 1000, gid: 1000, egid: 1000 });
    await mkdirAt(t, AT_FDCWD, '/locked', 0o700);
    await (await openAt(t, AT_FDCWD, '/locked/p', O_CREAT | O_WRONLY, 0o755)).write(Buffer.from('x'));
    expect(await errnoOf(new VfsExecutableSource(user).open('/locked/p'))).toBe(Errno.EACCES);
  });
});

describe.each(NINEP_PEERS.filter((p) => p.available))('nested mount points over $name', ({ start }) => {
  it('creates /dev/pts inside the /dev tmpfs on a read-only image without an overlay (runc spec defaults)', async () => {
    const rootfs = fs.mkdtempSync(join(tmpdir(), 'tsv-rootfs-'));
    fs.mkdirSync(join(rootfs, 'dev'));
    const peer = await start(rootfs, []);
    try {
      const root = await buildContainerRoot({
        gofer: peer.client,
        rootAname: peer.aname,
        overlay: 'none',
        readonly: true,
        mounts: [
          { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
          { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec'] },
          { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'mode=1777'] },
        ],
      });
      const t = makeTestTask(root.mounts);
      expect((await statAt(t, AT_FDCWD, '/dev/pts', 0)).mode & 0o170000).toBe(0o040000);
      expect((await statAt(t, AT_FDCWD, '/dev/shm', 0)).mode & 0o7777).toBe(0o1777);
      // Nothing was created in the image, and the image itself stays read-only.
      expect(fs.readdirSync(join(rootfs, 'dev'))).toEqual([]);
      expect(await errnoOf(mkdirAt(t, AT_FDCWD, '/made-inside', 0o755))).toBe(Errno.EROFS);
    } finally {
      await peer.stop();
      fs.rmSync(rootfs, { recursive: true, force: true });
    }
  });
});

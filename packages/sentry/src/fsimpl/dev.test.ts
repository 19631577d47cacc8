import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Errno } from '../kernel/errno.js';
import { AT_FDCWD, O_RDONLY, O_RDWR, O_WRONLY } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import { MountNamespace } from '../vfs/mount.js';
import { mkdirAt, mknodAt, openAt, readlinkAt, statAt } from '../vfs/operations.js';
import { resolve } from '../vfs/path_resolution.js';
import { blockingRead } from '../syscalls/read_write.js';
import { makeTestTask } from '../syscalls/fs_test_task.js';
import { makeDev } from '../vfs/devices.js';
import { createDevfs } from './dev.js';
import { HostFile } from './host_file.js';
import { Tmpfs } from './tmpfs.js';

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as { errno: number }).errno;
  }
}

async function withDev() {
  const ns = new MountNamespace(new Tmpfs({ mode: 0o755 }));
  const t = makeTestTask(ns);
  await mkdirAt(t, AT_FDCWD, '/dev', 0o755);
  ns.mount(await resolve({ root: ns.rootLocation, creds: t.creds }, ns.rootLocation, '/dev', { followFinal: true }), createDevfs(), 'devtmpfs');
  return t;
}

describe('devfs', () => {
  it('null, zero, full and urandom behave as their man pages say', async () => {
    const t = await withDev();
    const nul = await openAt(t, AT_FDCWD, '/dev/null', O_RDWR, 0);
    expect((await nul.read(10)).length).toBe(0);
    expect(await nul.write(Buffer.alloc(5))).toBe(5);
    const zero = await openAt(t, AT_FDCWD, '/dev/zero', O_RDONLY, 0);
    expect(await zero.read(4)).toEqual(Buffer.alloc(4));
    const full = await openAt(t, AT_FDCWD, '/dev/full', O_WRONLY, 0);
    expect(await errnoOf(full.write(Buffer.from('x')))).toBe(Errno.ENOSPC);
    const rnd = await openAt(t, AT_FDCWD, '/dev/urandom', O_RDONLY, 0);
    const a = await rnd.read(32);
    expect(a.length).toBe(32);
    expect(a.equals(await rnd.read(32))).toBe(false);
    expect((await statAt(t, AT_FDCWD, '/dev/null', 0)).rdev).toBe(makeDev(1, 3));
    expect(await readlinkAt(t, AT_FDCWD, '/dev/stdout')).toBe('/proc/self/fd/1');
    // No controlling terminal registered: /dev/tty is ENXIO, as for a daemon.
    expect(await errnoOf(openAt(t, AT_FDCWD, '/dev/tty', O_RDWR, 0))).toBe(Errno.ENXIO);
  });

  it('a device node made with mknod anywhere opens the same device; nodev mounts refuse it', async () => {
    const t = await withDev();
    await mknodAt(t, AT_FDCWD, '/mynull', 0o020666, makeDev(1, 3));
    const f = await openAt(t, AT_FDCWD, '/mynull', O_RDWR, 0);
    expect(await f.write(Buffer.from('gone'))).toBe(4);
    t.fsContext.root.mount.flags.nodev = true;
    expect(await errnoOf(openAt(t, AT_FDCWD, '/mynull', O_RDWR, 0))).toBe(Errno.EACCES);
    await mknodAt(t, AT_FDCWD, '/nodevice', 0o020666, makeDev(200, 1));
    t.fsContext.root.mount.flags.nodev = false;
    expect(await errnoOf(openAt(t, AT_FDCWD, '/nodevice', O_RDWR, 0))).toBe(Errno.ENXIO);
  });
});

describe('host-fd files', () => {
  it('writes through to the host fd and reads ahead without blocking the event loop', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'tsv-host-'));
    try {
      const outFd = fs.openSync(join(dir, 'out'), 'w');
      const out = new FileDescription(new HostFile(outFd), O_WRONLY, null);
      expect(await out.write(Buffer.from('to the host\n'))).toBe(12);
      fs.closeSync(outFd);
      expect(fs.readFileSync(join(dir, 'out'), 'utf8')).toBe('to the host\n');

      fs.writeFileSync(join(dir, 'in'), 'from the host');
      const inFd = fs.openSync(join(dir, 'in'), 'r');
      const t = makeTestTask(new MountNamespace(new Tmpfs()));
      const input = new FileDescription(new HostFile(inFd), O_RDONLY, null);
      expect(await errnoOf(input.read(100))).toBe(Errno.EAGAIN);
      const got = await blockingRead(t, input, () => input.read(100));
      expect(got.toString()).toBe('from the host');
      expect((await blockingRead(t, input, () => input.read(100))).length).toBe(0);
      expect(await errnoOf(input.impl.ioctl!({ request: 0x5401, arg: 0n, memory: t.memory }))).toBe(Errno.ENOTTY);
      fs.closeSync(inFd);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

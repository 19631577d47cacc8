// devfs: a tmpfs holding the standard device nodes (null, zero, full, random, urandom, tty) plus the usual
// symlinks (fd, stdin, stdout, stderr) and directories (pts, shm). The nodes open through the device registry by
// major:minor, like Linux's character devices, so an image's own /dev/null (over the gofer) works the same way.
// Not done this session: ptmx and /dev/pts (pseudo-terminals); /dev/tty opens only if the kernel registers a
// controlling-terminal opener (setTtyOpener), otherwise ENXIO as for a process without a controlling terminal.
import { randomFillSync } from 'node:crypto';
import { Errno, fail } from '../kernel/syscall_error.js';
import { POLLIN, POLLOUT, S_IFCHR } from '../vfs/constants.js';
import { devices, makeDev, type DeviceOpener } from '../vfs/devices.js';
import type { FileDescriptionImpl } from '../vfs/filesystem.js';
import { Tmpfs, TmpfsDir, TmpfsSpecial, TmpfsSymlink } from './tmpfs.js';

const MEM_MAJOR = 1;
const TTYAUX_MAJOR = 5;

const ready = () => POLLIN | POLLOUT;
/** One read of a device returns at most this much (a short read, as Linux's /dev/zero does past a page batch). */
const MAX_DEVICE_READ = 1 << 20;

/** /dev/null: reads are end of file, writes vanish (null(4)). */
const nullDevice: FileDescriptionImpl = {
  seekable: true,
  read: async () => Buffer.alloc(0),
  write: async (data) => data.length,
  readiness: ready,
};

/** /dev/zero: reads are zeros, writes vanish (zero(4)). */
const zeroDevice: FileDescriptionImpl = {
  seekable: true,
  read: async (length) => Buffer.alloc(Math.min(length, MAX_DEVICE_READ)),
  write: async (data) => data.length,
  readiness: ready,
};

/** /dev/full: reads are zeros, writes fail with ENOSPC (full(4)). */
const fullDevice: FileDescriptionImpl = {
  seekable: true,
  read: async (length) => Buffer.alloc(Math.min(length, MAX_DEVICE_READ)),
  write: async () => fail(Errno.ENOSPC),
  readiness: ready,
};

/** /dev/random and /dev/urandom: the host CSPRNG (random(4): both never block once initialized). */
const randomDevice: FileDescriptionImpl = {
  seekable: false,
  read: async (length) => randomFillSync(Buffer.alloc(Math.min(length, MAX_DEVICE_READ))),
  // Writing mixes data into the pool on Linux; the host pool needs nothing from us.
  write: async (data) => data.length,
  readiness: ready,
};

let ttyOpener: DeviceOpener | null = null;

/** Lets the kernel decide what /dev/tty opens (the session's controlling terminal). */
export function setTtyOpener(open: DeviceOpener | null): void {
  ttyOpener = open;
}

devices.registerChar(MEM_MAJOR, 3, () => nullDevice);
devices.registerChar(MEM_MAJOR, 5, () => zeroDevice);
devices.registerChar(MEM_MAJOR, 7, () => fullDevice);
devices.registerChar(MEM_MAJOR, 8, () => randomDevice);
devices.registerChar(MEM_MAJOR, 9, () => randomDevice);
devices.registerChar(TTYAUX_MAJOR, 0, (opts) => {
  if (!ttyOpener) fail(Errno.ENXIO, 'no controlling terminal');
  return ttyOpener(opts);
});

const NODES: Array<[string, number, number, number]> = [
  ['null', MEM_MAJOR, 3, 0o666],
  ['zero', MEM_MAJOR, 5, 0o666],
  ['full', MEM_MAJOR, 7, 0o666],
  ['random', MEM_MAJOR, 8, 0o666],
  ['urandom', MEM_MAJOR, 9, 0o666],
  ['tty', TTYAUX_MAJOR, 0, 0o666],
];

/** A fresh devfs instance, as mounted at /dev (the OCI default "tmpfs" /dev plus the default devices). */
export function createDevfs(): Tmpfs {
  const fs = new Tmpfs({ mode: 0o755 });
  Object.defineProperty(fs, 'type', { value: 'devtmpfs' });
  const root = fs.root();
  const owner = { uid: 0, gid: 0 };
  for (const [name, major, minor, mode] of NODES) {
    const n = new TmpfsSpecial(fs, S_IFCHR, { mode, ...owner });
    n.rdev = makeDev(major, minor);
    root.insert(name, n);
  }
  for (const [name, target] of [
    ['fd', '/proc/self/fd'],
    ['stdin', '/proc/self/fd/0'],
    ['stdout', '/proc/self/fd/1'],
    ['stderr', '/proc/self/fd/2'],
  ] as const) {
    root.insert(name, new TmpfsSymlink(fs, target, { mode: 0o777, ...owner }));
  }
  root.insert('pts', new TmpfsDir(fs, { mode: 0o755, ...owner }, root));
  root.insert('shm', new TmpfsDir(fs, { mode: 0o1777, ...owner }, root));
  return fs;
}

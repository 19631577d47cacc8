// The mount/namespace wrappers, exercised for real: this file's worker process (vitest forks one per file) moves
// its main thread into new mount and UTS namespaces, so nothing here is visible to the host.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLONE_NEWNS,
  CLONE_NEWUTS,
  MNT_DETACH,
  MountAttr,
  MountFlags,
  chroot,
  mknod,
  mount,
  mountSetattr,
  openPath,
  pivotRoot,
  setns,
  sethostname,
  umount2,
  unshare,
} from './index.js';
import { closeFd } from './fd.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('mount and namespace wrappers', () => {
  it('throw errno errors naming the call', () => {
    expect(() => mount('tmpfs', '/nonexistent/tsvisor-target', 'tmpfs', 0)).toThrow(
      expect.objectContaining({ code: 'ENOENT', errno: 2, syscall: 'mount' }),
    );
    expect(() => umount2('/nonexistent/tsvisor-target')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => pivotRoot('/nonexistent/a', '/nonexistent/b')).toThrow(expect.objectContaining({ syscall: 'pivot_root' }));
    expect(() => chroot('/nonexistent/tsvisor')).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'chroot' }));
    expect(() => setns(-1, 0)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => openPath('/nonexistent/tsvisor')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => unshare(-1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    // @ts-expect-error wrong argument type is a TypeError, not a crash
    expect(() => mount(1, 2, 3, 'x')).toThrow(TypeError);
  });

  it('unshare(CLONE_NEWNS) gives this thread mounts the host does not see', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-mount-'));
    try {
      unshare(CLONE_NEWNS);
      mount(null, '/', null, MountFlags.REC | MountFlags.PRIVATE);
      mount('tmpfs', dir, 'tmpfs', MountFlags.NOSUID, 'size=1m,mode=0700');
      fs.writeFileSync(path.join(dir, 'inside'), 'x');
      expect(fs.readFileSync('/proc/thread-self/mountinfo', 'utf8')).toContain(` ${dir} `);
      // Namespaces are per thread: the process's other threads (created before unshare) still see the host's mounts.
      const otherThread = fs.readdirSync('/proc/self/task').find((t) => Number(t) !== process.pid)!;
      expect(fs.readFileSync(`/proc/self/task/${otherThread}/mountinfo`, 'utf8')).not.toContain(` ${dir} `);
      // a read-only bind remount is enforced by the kernel
      const ro = path.join(dir, 'ro');
      fs.mkdirSync(ro);
      mount(ro, ro, null, MountFlags.BIND);
      mount(null, ro, null, MountFlags.REMOUNT | MountFlags.BIND | MountFlags.RDONLY);
      expect(() => fs.writeFileSync(path.join(ro, 'f'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
      umount2(ro, MNT_DETACH);
      umount2(dir);
      expect(fs.existsSync(path.join(dir, 'inside'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mountSetattr changes a mount and, with recursive, its submounts (nosymfollow, rdonly)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-setattr-'));
    try {
      unshare(CLONE_NEWNS);
      mount(null, '/', null, MountFlags.REC | MountFlags.PRIVATE);
      mount('tmpfs', dir, 'tmpfs', 0, 'size=1m');
      fs.mkdirSync(path.join(dir, 'sub'));
      mount('tmpfs', path.join(dir, 'sub'), 'tmpfs', 0, 'size=1m');
      fs.writeFileSync(path.join(dir, 'sub', 'f'), 'x');
      fs.symlinkSync('f', path.join(dir, 'sub', 'link'));
      expect(fs.readFileSync(path.join(dir, 'sub', 'link'), 'utf8')).toBe('x');
      mountSetattr(dir, MountAttr.NOSYMFOLLOW | MountAttr.RDONLY, 0, true);
      expect(() => fs.readFileSync(path.join(dir, 'sub', 'link'))).toThrow(expect.objectContaining({ code: 'ELOOP' }));
      expect(fs.readlinkSync(path.join(dir, 'sub', 'link'))).toBe('f');
      expect(() => fs.writeFileSync(path.join(dir, 'sub', 'g'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
      mountSetattr(dir, 0, MountAttr.RDONLY, false); // only the top mount becomes writable again
      fs.writeFileSync(path.join(dir, 'top'), 'x');
      expect(() => fs.writeFileSync(path.join(dir, 'sub', 'g'), 'x')).toThrow(expect.objectContaining({ code: 'EROFS' }));
      expect(() => mountSetattr('/nonexistent/tsvisor', MountAttr.RDONLY)).toThrow(
        expect.objectContaining({ code: 'ENOENT', syscall: 'mount_setattr' }),
      );
      umount2(dir, MNT_DETACH);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sethostname in a new UTS namespace, and setns back to the host one', () => {
    const host = os.hostname();
    const hostUts = fs.openSync('/proc/thread-self/ns/uts', 'r');
    try {
      unshare(CLONE_NEWUTS);
      sethostname('tsvisor-uts-test');
      expect(os.hostname()).toBe('tsvisor-uts-test');
      setns(hostUts, CLONE_NEWUTS);
      expect(os.hostname()).toBe(host);
    } finally {
      fs.closeSync(hostUts);
    }
  });

  it('mknod creates a FIFO and reports errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-mknod-'));
    try {
      mknod(path.join(dir, 'fifo'), 0o010600);
      expect(fs.statSync(path.join(dir, 'fifo')).isFIFO()).toBe(true);
      expect(() => mknod(path.join(dir, 'fifo'), 0o010600)).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'mknod' }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('openPath returns an O_PATH handle on the same inode', () => {
    const fd = openPath('/etc');
    try {
      expect(fs.fstatSync(fd).ino).toBe(fs.statSync('/etc').ino);
      expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).toBe('/etc');
    } finally {
      closeFd(fd);
    }
  });
});

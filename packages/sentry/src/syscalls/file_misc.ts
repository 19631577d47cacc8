// The remaining file syscalls: flock(2), fallocate(2), fadvise64, readahead(2), sync_file_range(2), chroot(2),
// utime(2)/utimes(2)/futimesat(2), memfd_create(2), close_range(2).
import { Errno, fail, SyscallError } from '../kernel/syscall_error.js';
import { AT_FDCWD, isDir, isReg, O_LARGEFILE, O_RDWR, X_OK } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import { LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, subscribeUnlock, tryLock, unlock } from '../vfs/flock.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { MountNamespace } from '../vfs/mount.js';
import { lookupAt, utimesLocation } from '../vfs/operations.js';
import { checkAccess } from '../vfs/permissions.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { intArg, offArg, u32Arg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

const flock: H = async (task, [fdArg, opArg]) => {
  const file = task.fdTable.get(intArg(fdArg));
  const op = intArg(opArg);
  if (!file.location) fail(Errno.EINVAL, 'flock needs a file');
  const node = file.location.dentry.node;
  const type = op & ~LOCK_NB;
  if (type === LOCK_UN) {
    unlock(file, node);
    return 0;
  }
  if (type !== LOCK_SH && type !== LOCK_EX) fail(Errno.EINVAL, 'bad flock operation');
  for (;;) {
    try {
      tryLock(file, node, type);
      return 0;
    } catch (e) {
      if (!(e instanceof SyscallError) || e.errno !== Errno.EAGAIN || op & LOCK_NB) throw e;
    }
    let free = false;
    await task.blocker.wait(
      () => free,
      (wake) => subscribeUnlock(node, () => ((free = true), wake())),
    );
  }
};

const FALLOC_FL_KEEP_SIZE = 1;

const fallocate: H = async (task, [fdArg, modeArg, offArg_, lenArg]) => {
  const file = task.fdTable.get(intArg(fdArg));
  const mode = intArg(modeArg);
  const offset = offArg(offArg_);
  const len = offArg(lenArg);
  if (offset < 0n || len <= 0n) fail(Errno.EINVAL);
  if (!file.writable) fail(Errno.EBADF);
  if (!file.location) fail(Errno.ESPIPE);
  const node = file.location.dentry.node;
  const st = await node.stat();
  if (isDir(st.mode)) fail(Errno.EISDIR);
  if (!isReg(st.mode)) fail(Errno.ENODEV);
  // Only plain allocation (mode 0) and FALLOC_FL_KEEP_SIZE; punching or zeroing ranges is not supported.
  if (mode & ~FALLOC_FL_KEEP_SIZE) fail(Errno.EOPNOTSUPP, 'fallocate mode');
  if (mode & FALLOC_FL_KEEP_SIZE || offset + len <= st.size) return 0;
  if (!node.setattr) fail(Errno.EOPNOTSUPP);
  await node.setattr({ size: offset + len });
  return 0;
};

/** posix_fadvise: advice only, nothing to do beyond validating it (ESPIPE for pipes, EINVAL for bad advice). */
const fadvise64: H = (task, [fdArg, , , adviceArg]) => {
  const file = task.fdTable.get(intArg(fdArg));
  if (!file.impl.seekable) fail(Errno.ESPIPE);
  const advice = intArg(adviceArg);
  if (advice < 0 || advice > 5) fail(Errno.EINVAL);
  return 0;
};

const readahead: H = (task, [fdArg]) => {
  const file = task.fdTable.get(intArg(fdArg));
  if (!file.readable) fail(Errno.EBADF);
  if (!file.location || !file.impl.seekable) fail(Errno.EINVAL);
  return 0;
};

const sync_file_range: H = (task, [fdArg, , , flags]) => {
  const file = task.fdTable.get(intArg(fdArg));
  if (u32Arg(flags) & ~7) fail(Errno.EINVAL);
  if (!file.location) fail(Errno.ESPIPE);
  return 0;
};

/** chroot(2): root only (CAP_SYS_CHROOT); the new root must be a searchable directory. */
const chroot: H = async (task, [p]) => {
  if (task.creds.euid !== 0) fail(Errno.EPERM);
  const vd = await lookupAt(task, AT_FDCWD, task.memory.readCString(p), { follow: true });
  const st = await vd.dentry.node.stat();
  if (!isDir(st.mode)) fail(Errno.ENOTDIR);
  checkAccess(task.creds, st, X_OK);
  task.fsContext.root = vd;
  return 0;
};

/** Reads `count` (sec, usec) pairs; null pointer means "now" for both. Returns null for "now". */
function readTimevals(task: FsSyscallContext, addr: bigint): [bigint, bigint] | null {
  if (addr === 0n) return null;
  const out: bigint[] = [];
  for (let i = 0; i < 2; i++) {
    const sec = BigInt.asIntN(64, task.memory.readU64(addr + BigInt(i * 16)));
    const usec = BigInt.asIntN(64, task.memory.readU64(addr + BigInt(i * 16 + 8)));
    if (usec < 0n || usec >= 1_000_000n) fail(Errno.EINVAL, 'bad tv_usec');
    out.push(sec * 1_000_000_000n + usec * 1000n);
  }
  return [out[0]!, out[1]!];
}

async function setTimes(task: FsSyscallContext, dirfd: number, path: string, times: [bigint, bigint] | null) {
  const vd = await lookupAt(task, dirfd, path, { follow: true });
  const now = BigInt(Date.now()) * 1_000_000n;
  await utimesLocation(task, vd, times ? times[0] : now, times ? times[1] : now, times !== null);
  return 0;
}

const utime: H = async (task, [p, buf]) => {
  let times: [bigint, bigint] | null = null;
  if (buf !== 0n) {
    const a = BigInt.asIntN(64, task.memory.readU64(buf));
    const m = BigInt.asIntN(64, task.memory.readU64(buf + 8n));
    times = [a * 1_000_000_000n, m * 1_000_000_000n];
  }
  return setTimes(task, AT_FDCWD, task.memory.readCString(p), times);
};
const utimes: H = (task, [p, tv]) => setTimes(task, AT_FDCWD, task.memory.readCString(p), readTimevals(task, tv));
const futimesat: H = (task, [dirfd, p, tv]) =>
  setTimes(task, intArg(dirfd), task.memory.readCString(p), readTimevals(task, tv));

/** Anonymous memory files live in one private tmpfs, unlinked at birth (memfd_create(2)). */
let memfdNs: MountNamespace | null = null;
let memfdSeq = 0;
const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;

const memfd_create: H = async (task, [nameAddr, flagsArg]) => {
  const flags = u32Arg(flagsArg);
  // MFD_HUGETLB and the sealing operations (F_ADD_SEALS) are not supported.
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING)) fail(Errno.EINVAL, 'memfd_create flags');
  const name = task.memory.readCString(nameAddr, 250);
  memfdNs ??= new MountNamespace(new Tmpfs({ mode: 0o1777 }), 'memfd');
  const dir = memfdNs.root.root;
  const hidden = `${memfdSeq++}`;
  const node = await dir.node.create!(hidden, { mode: 0o777, uid: task.creds.euid, gid: task.creds.egid });
  const dentry = dir.addChild(hidden, node);
  await dir.node.unlink!(hidden);
  dir.dropChild(hidden);
  dentry.name = `memfd:${name}`;
  dentry.dead = true;
  const impl = await node.open!({ flags: O_RDWR, creds: task.creds });
  const file = new FileDescription(impl, O_RDWR | O_LARGEFILE, { mount: memfdNs.root, dentry });
  return task.fdTable.install(file, { cloexec: (flags & MFD_CLOEXEC) !== 0 });
};

const CLOSE_RANGE_UNSHARE = 2;
const CLOSE_RANGE_CLOEXEC = 4;

/** close_range(2). CLOSE_RANGE_UNSHARE is not supported (EINVAL): unsharing the table is the kernel's. */
const close_range: H = (task, [firstArg, lastArg, flagsArg]) => {
  const first = u32Arg(firstArg);
  const last = u32Arg(lastArg);
  const flags = u32Arg(flagsArg);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) || first > last) fail(Errno.EINVAL);
  if (flags & CLOSE_RANGE_UNSHARE) fail(Errno.EINVAL, 'CLOSE_RANGE_UNSHARE is not supported');
  for (const fd of task.fdTable.fds()) {
    if (fd < first || fd > last) continue;
    if (flags & CLOSE_RANGE_CLOEXEC) task.fdTable.entry(fd).cloexec = true;
    else task.fdTable.close(fd);
  }
  return 0;
};

export const miscFileSyscalls: Partial<Record<SyscallName, H>> = {
  flock,
  fallocate,
  fadvise64,
  readahead,
  sync_file_range,
  chroot,
  utime,
  utimes,
  futimesat,
  memfd_create,
  close_range,
};


// stat(2) family, statx(2), statfs(2)/fstatfs(2): the VFS's Stat encoded in the x86_64 struct layouts.
import { Errno, fail } from '../kernel/syscall_error.js';
import { AT_FDCWD, AT_SYMLINK_NOFOLLOW } from '../vfs/constants.js';
import { devMajor, devMinor } from '../vfs/devices.js';
import type { Stat, StatFs } from '../vfs/filesystem.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { lookupAt, statAt } from '../vfs/operations.js';
import { intArg, u32Arg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

const NS = 1_000_000_000n;

/** struct stat for x86_64 (144 bytes, <asm/stat.h>). */
export function encodeStat(st: Stat): Buffer {
  const b = Buffer.alloc(144);
  b.writeBigUInt64LE(BigInt(st.dev), 0);
  b.writeBigUInt64LE(st.ino, 8);
  b.writeBigUInt64LE(BigInt(st.nlink), 16);
  b.writeUInt32LE(st.mode >>> 0, 24);
  b.writeUInt32LE(st.uid >>> 0, 28);
  b.writeUInt32LE(st.gid >>> 0, 32);
  b.writeBigUInt64LE(BigInt(st.rdev), 40);
  b.writeBigInt64LE(st.size, 48);
  b.writeBigInt64LE(BigInt(st.blksize), 56);
  b.writeBigInt64LE(st.blocks, 64);
  const times = [st.atimeNs, st.mtimeNs, st.ctimeNs];
  times.forEach((t, i) => {
    b.writeBigInt64LE(t / NS, 72 + i * 16);
    b.writeBigInt64LE(t % NS, 80 + i * 16);
  });
  return b;
}

const STATX_BASIC_STATS = 0x7ff;

/** struct statx (256 bytes, <linux/stat.h>); btime is not reported (STATX_BTIME stays clear in stx_mask). */
export function encodeStatx(st: Stat): Buffer {
  const b = Buffer.alloc(256);
  b.writeUInt32LE(STATX_BASIC_STATS, 0);
  b.writeUInt32LE(st.blksize, 4);
  b.writeUInt32LE(st.nlink, 16);
  b.writeUInt32LE(st.uid >>> 0, 20);
  b.writeUInt32LE(st.gid >>> 0, 24);
  b.writeUInt16LE(st.mode & 0xffff, 28);
  b.writeBigUInt64LE(st.ino, 32);
  b.writeBigUInt64LE(st.size, 40);
  b.writeBigUInt64LE(st.blocks, 48);
  const ts = (t: bigint, off: number) => {
    b.writeBigInt64LE(t / NS, off);
    b.writeUInt32LE(Number(t % NS), off + 8);
  };
  ts(st.atimeNs, 64);
  ts(st.ctimeNs, 96);
  ts(st.mtimeNs, 112);
  b.writeUInt32LE(devMajor(st.rdev), 128);
  b.writeUInt32LE(devMinor(st.rdev), 132);
  b.writeUInt32LE(devMajor(st.dev), 136);
  b.writeUInt32LE(devMinor(st.dev), 140);
  return b;
}

/** struct statfs for x86_64 (120 bytes). */
export function encodeStatfs(s: StatFs, dev: number): Buffer {
  const b = Buffer.alloc(120);
  const fields = [s.type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree];
  fields.forEach((v, i) => b.writeBigInt64LE(v, i * 8));
  b.writeInt32LE(dev, 56);
  b.writeBigInt64LE(s.namelen, 64);
  b.writeBigInt64LE(s.frsize, 72);
  b.writeBigInt64LE(s.flags, 80);
  return b;
}

const path = (task: FsSyscallContext, addr: bigint): string => task.memory.readCString(addr);

const stat: H = async (task, [p, buf]) => (task.memory.write(buf, encodeStat(await statAt(task, AT_FDCWD, path(task, p), 0))), 0);
const lstat: H = async (task, [p, buf]) =>
  (task.memory.write(buf, encodeStat(await statAt(task, AT_FDCWD, path(task, p), AT_SYMLINK_NOFOLLOW))), 0);
const fstat: H = async (task, [fd, buf]) =>
  (task.memory.write(buf, encodeStat(await task.fdTable.get(intArg(fd)).stat())), 0);
const newfstatat: H = async (task, [dirfd, p, buf, flags]) =>
  (task.memory.write(buf, encodeStat(await statAt(task, intArg(dirfd), path(task, p), intArg(flags)))), 0);

const statx: H = async (task, [dirfd, p, flags, mask, buf]) => {
  const fl = intArg(flags);
  if (u32Arg(mask) & 0x80000000) fail(Errno.EINVAL, 'STATX__RESERVED');
  // AT_STATX_SYNC_TYPE bits only say how fresh the answer must be; every answer here is current.
  const st = await statAt(task, intArg(dirfd), path(task, p), fl & ~0x6000);
  task.memory.write(buf, encodeStatx(st));
  return 0;
};

const PIPEFS_MAGIC = 0x50495045n;

async function statfsOf(task: FsSyscallContext, loc: { fs: { statfs(): Promise<StatFs>; dev: number } } | null, buf: bigint) {
  const s = loc
    ? await loc.fs.statfs()
    : { type: PIPEFS_MAGIC, bsize: 4096n, blocks: 0n, bfree: 0n, bavail: 0n, files: 0n, ffree: 0n, namelen: 255n, frsize: 4096n, flags: 0n };
  task.memory.write(buf, encodeStatfs(s, loc?.fs.dev ?? 0));
  return 0;
}

const statfs: H = async (task, [p, buf]) => {
  const vd = await lookupAt(task, AT_FDCWD, path(task, p), { follow: true });
  return statfsOf(task, vd.mount, buf);
};
const fstatfs: H = async (task, [fd, buf]) => {
  const f = task.fdTable.get(intArg(fd));
  return statfsOf(task, f.location?.mount ?? null, buf);
};

export const statSyscalls: Partial<Record<SyscallName, H>> = {
  stat,
  lstat,
  fstat,
  newfstatat,
  statx,
  statfs,
  fstatfs,
};

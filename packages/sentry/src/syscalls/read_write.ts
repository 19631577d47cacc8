// read(2), write(2), lseek(2), pread64, pwrite64, readv(2), writev(2), preadv, pwritev, sendfile(2), copy_file_range(2).
// File operations never block; these handlers wait through the task's Blocker when a file says EAGAIN and the
// description is not O_NONBLOCK, so a signal interrupts the wait (ERESTARTSYS -> EINTR or restart, signal(7)).
import { Errno, fail, SyscallError } from '../kernel/syscall_error.js';
import { isReg, O_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLOUT, SIGPIPE } from '../vfs/constants.js';
import type { FileDescription } from '../vfs/file_description.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import type { SyscallArgs, SyscallHandler } from './types.js';
import { countArg, intArg, offArg } from './file_args.js';
import type { SyscallName } from './numbers.js';

/**
 * Largest read or write taken in one call: the bytes pass through a sentry buffer, so a 2 GiB read(2) of a sparse
 * file would pin 2 GiB of zeroes in the sentry (a loop of them grew it past 20 GiB). Past this a transfer is short,
 * which read(2)/write(2) allow and stdio loops over.
 */
const MAX_TRANSFER_CHUNK = 64 << 20;

/** Largest file offset (loff_t is signed 64-bit). */
const MAX_OFFSET = (1n << 63n) - 1n;

/**
 * Linux's rw_verify_area: a negative position, or one where position + count overflows loff_t, is EINVAL before
 * anything is transferred (pread(2), pwrite(2)).
 */
function checkRange(offset: bigint, count: number): void {
  if (offset < 0n) fail(Errno.EINVAL, 'negative offset');
  if (BigInt(count) > MAX_OFFSET - offset) fail(Errno.EINVAL, 'offset + count overflows loff_t');
}

/** preadv2(2)/pwritev2(2) flags Linux knows: RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, RWF_APPEND. */
const RWF_SUPPORTED = 0x1f;

function isEagain(e: unknown): boolean {
  return e instanceof SyscallError && e.errno === Errno.EAGAIN;
}

/** Waits until `file` reports one of `events` (or an error/hangup). */
export function waitReady(task: FsSyscallContext, file: FileDescription, events: number): Promise<void> {
  const mask = events | POLLERR | POLLHUP;
  return task.blocker.wait(
    () => (file.readiness() & mask) !== 0,
    (wake) => file.subscribe(wake),
  );
}

/** Runs a read until it returns data or end of file, waiting while it says EAGAIN (unless O_NONBLOCK). */
export async function blockingRead(
  task: FsSyscallContext,
  file: FileDescription,
  read: () => Promise<Buffer>,
): Promise<Buffer> {
  for (;;) {
    try {
      return await read();
    } catch (e) {
      if (!isEagain(e) || file.flags & O_NONBLOCK) throw e;
    }
    await waitReady(task, file, POLLIN);
  }
}

/**
 * Writes all of `data` to a stream (pipe semantics: a blocking write returns only when everything is written,
 * pipe(7)); EPIPE raises SIGPIPE. If a signal or EPIPE ends the write after some bytes went out, the count
 * written is returned, as Linux does.
 */
export async function blockingWrite(
  task: FsSyscallContext,
  file: FileDescription,
  data: Buffer,
  write: (chunk: Buffer) => Promise<number>,
): Promise<number> {
  let done = 0;
  for (;;) {
    try {
      const n = await write(data.subarray(done));
      done += n;
      if (done >= data.length || file.impl.seekable) return done;
      continue;
    } catch (e) {
      if (e instanceof SyscallError && e.errno === Errno.EPIPE) {
        task.sendSignalToSelf(SIGPIPE);
        if (done > 0) return done;
        throw e;
      }
      if (!isEagain(e)) throw e;
      if (file.flags & O_NONBLOCK) {
        if (done > 0) return done;
        throw e;
      }
    }
    try {
      await waitReady(task, file, POLLOUT);
    } catch (e) {
      if (done > 0) return done;
      throw e;
    }
  }
}

/**
 * Runs `copyOut`; if it faults (EFAULT), a seekable file's offset is moved back over the `length` bytes just read,
 * so the failed read(2) leaves the offset where it was, as on Linux, where nothing is read past a faulting buffer.
 */
function copyOutOrUnread(file: FileDescription, length: number, copyOut: () => void): void {
  try {
    copyOut();
  } catch (e) {
    if (file.impl.seekable) file.offset -= BigInt(length);
    throw e;
  }
}

/** Copies `data` into the task's iovecs in order; returns nothing (the caller returns data.length). */
function scatter(task: FsSyscallContext, iovs: Array<{ base: bigint; length: number }>, data: Buffer): void {
  let off = 0;
  for (const iov of iovs) {
    if (off >= data.length) break;
    const n = Math.min(iov.length, data.length - off);
    if (n > 0) task.memory.write(iov.base, data.subarray(off, off + n));
    off += n;
  }
}

/** Copies at most `limit` bytes out of the task's iovecs, in order (never more than the call will write). */
function gather(task: FsSyscallContext, iovs: Array<{ base: bigint; length: number }>, limit: number): Buffer {
  const parts: Buffer[] = [];
  let left = limit;
  for (const v of iovs) {
    if (left <= 0) break;
    const n = Math.min(v.length, left);
    if (n > 0) parts.push(task.memory.read(v.base, n));
    left -= n;
  }
  return Buffer.concat(parts);
}

function iovTotal(iovs: Array<{ length: number }>): number {
  let total = 0;
  for (const v of iovs) {
    // readv(2): EINVAL when an iov_len (or the sum) does not fit in ssize_t.
    if (v.length < 0 || v.length > Number.MAX_SAFE_INTEGER) fail(Errno.EINVAL, 'iov_len too large');
    total += v.length;
    if (total > Number.MAX_SAFE_INTEGER) fail(Errno.EINVAL, 'iovec total too large');
  }
  // readv(2): EINVAL if the sum overflows ssize_t; we also clamp it to MAX_RW_COUNT like Linux.
  return Math.min(total, 0x7ffff000);
}

const read: SyscallHandler<FsSyscallContext> = async (task, [fd, buf, count]) => {
  const file = task.fdTable.get(intArg(fd));
  const n = Math.min(countArg(count), MAX_TRANSFER_CHUNK);
  const data = await blockingRead(task, file, () => file.read(n));
  if (data.length > 0) copyOutOrUnread(file, data.length, () => task.memory.write(buf, data));
  return data.length;
};


const write: SyscallHandler<FsSyscallContext> = async (task, [fd, buf, count]) => {
  const file = task.fdTable.get(intArg(fd));
  if (!file.writable) fail(Errno.EBADF, 'not open for writing');
  const n = Math.min(countArg(count), MAX_TRANSFER_CHUNK);
  if (n === 0) return 0;
  const data = task.memory.read(buf, n);
  return blockingWrite(task, file, data, (chunk) => file.write(chunk));
};

const pread64: SyscallHandler<FsSyscallContext> = async (task, [fd, buf, count, off]) => {
  const file = task.fdTable.get(intArg(fd));
  const offset = offArg(off);
  const n = Math.min(countArg(count), MAX_TRANSFER_CHUNK);
  if (file.impl.seekable) checkRange(offset, n);
  const data = await blockingRead(task, file, () => file.pread(n, offset));
  if (data.length > 0) task.memory.write(buf, data);
  return data.length;
};

const pwrite64: SyscallHandler<FsSyscallContext> = async (task, [fd, buf, count, off]) => {
  const file = task.fdTable.get(intArg(fd));
  if (!file.writable) fail(Errno.EBADF, 'not open for writing');
  const offset = offArg(off);
  const n = Math.min(countArg(count), MAX_TRANSFER_CHUNK);
  if (file.impl.seekable) checkRange(offset, n);
  const data = n > 0 ? task.memory.read(buf, n) : Buffer.alloc(0);
  return file.pwrite(data, offset);
};

/** `positioned`: 'v' for preadv/pwritev (offset required), 'v2' for preadv2/pwritev2 (-1 = the file offset). */
function vectored(kind: 'read' | 'write', positioned: false | 'v' | 'v2'): SyscallHandler<FsSyscallContext> {
  return async (task, args: SyscallArgs) => {
    const [fd, iovAddr, iovCnt, off, , rwfFlags] = args;
    const file = task.fdTable.get(intArg(fd));
    // preadv2(2): EOPNOTSUPP for an unknown bit in flags.
    if (positioned === 'v2' && (intArg(rwfFlags) & ~RWF_SUPPORTED) !== 0) fail(Errno.EOPNOTSUPP, 'unknown RWF_ flag');
    const cnt = intArg(iovCnt);
    if (cnt < 0) fail(Errno.EINVAL, 'negative iovec count');
    const iovs = task.memory.readIovecs(iovAddr, cnt);
    const total = Math.min(iovTotal(iovs), MAX_TRANSFER_CHUNK);
    const offset = offArg(off);
    // preadv2/pwritev2 use -1 to mean "the current file offset"; for preadv/pwritev it is an invalid offset.
    const usePos = positioned !== false && !(positioned === 'v2' && offset === -1n);
    if (usePos && file.impl.seekable) checkRange(offset, total);
    if (kind === 'read') {
      const data = await blockingRead(task, file, () => (usePos ? file.pread(total, offset) : file.read(total)));
      if (usePos) scatter(task, iovs, data);
      else copyOutOrUnread(file, data.length, () => scatter(task, iovs, data));
      return data.length;
    }
    if (!file.writable) fail(Errno.EBADF, 'not open for writing');
    const data = gather(task, iovs, total);
    if (data.length === 0) return 0;
    if (usePos) return file.pwrite(data, offset);
    return blockingWrite(task, file, data, (chunk) => file.write(chunk));
  };
}

/** Moves up to `count` bytes from `src` to `dst`, 64 KiB at a time (sendfile(2), copy_file_range(2)). */
async function splice(
  task: FsSyscallContext,
  src: FileDescription,
  srcOffset: bigint | null,
  dst: FileDescription,
  dstOffset: bigint | null,
  count: number,
): Promise<{ copied: number; srcOffset: bigint | null }> {
  let copied = 0;
  let inPos = srcOffset;
  let outPos = dstOffset;
  while (copied < count) {
    const want = Math.min(64 * 1024, count - copied);
    const readOnce = () => (inPos === null ? src.read(want) : src.pread(want, inPos));
    let chunk: Buffer;
    try {
      chunk = copied === 0 ? await blockingRead(task, src, readOnce) : await readOnce();
    } catch (e) {
      if (copied > 0 && isEagain(e)) break;
      throw e;
    }
    if (chunk.length === 0) break;
    const n =
      outPos === null
        ? await blockingWrite(task, dst, chunk, (c) => dst.write(c))
        : await dst.pwrite(chunk, outPos);
    copied += n;
    if (inPos !== null) inPos += BigInt(n);
    if (outPos !== null) outPos += BigInt(n);
    if (n < chunk.length) break;
  }
  return { copied, srcOffset: inPos };
}

const lseek: SyscallHandler<FsSyscallContext> = async (task, [fd, off, whence]) =>
  task.fdTable.get(intArg(fd)).lseek(offArg(off), intArg(whence));

const sendfile: SyscallHandler<FsSyscallContext> = async (task, [outFd, inFd, offPtr, count]) => {
  const out = task.fdTable.get(intArg(outFd));
  const src = task.fdTable.get(intArg(inFd));
  if (!src.readable || !out.writable) fail(Errno.EBADF);
  if (out.flags & 0o2000) fail(Errno.EINVAL, 'sendfile to an O_APPEND file');
  let offset: bigint | null = null;
  if (offPtr !== 0n) {
    offset = BigInt.asIntN(64, task.memory.readU64(offPtr));
    if (offset < 0n) fail(Errno.EINVAL);
  }
  const r = await splice(task, src, offset, out, null, countArg(count));
  if (offPtr !== 0n && r.srcOffset !== null) task.memory.writeU64(offPtr, BigInt.asUintN(64, r.srcOffset));
  return r.copied;
};

const copy_file_range: SyscallHandler<FsSyscallContext> = async (task, [inFd, inOffPtr, outFd, outOffPtr, len, flags]) => {
  if (flags !== 0n) fail(Errno.EINVAL, 'copy_file_range flags must be 0');
  const src = task.fdTable.get(intArg(inFd));
  const out = task.fdTable.get(intArg(outFd));
  if (!src.readable || !out.writable) fail(Errno.EBADF);
  if (out.flags & 0o2000) fail(Errno.EBADF, 'copy_file_range to an O_APPEND file');
  const [ist, ost] = await Promise.all([src.stat(), out.stat()]);
  if (!isReg(ist.mode) || !isReg(ost.mode)) fail(Errno.EINVAL, 'copy_file_range needs regular files');
  const inOff = inOffPtr !== 0n ? BigInt.asIntN(64, task.memory.readU64(inOffPtr)) : null;
  const outOff = outOffPtr !== 0n ? BigInt.asIntN(64, task.memory.readU64(outOffPtr)) : null;
  // Without an offset pointer the file's own offset is used and advanced by its read/write, as read(2) and
  // write(2) would: that also serves the sentry's stdio when it is a host regular file, which is not seekable here.
  const r = await splice(task, src, inOff, out, outOff, countArg(len));
  if (inOffPtr !== 0n) task.memory.writeU64(inOffPtr, BigInt.asUintN(64, inOff! + BigInt(r.copied)));
  if (outOffPtr !== 0n) task.memory.writeU64(outOffPtr, BigInt.asUintN(64, outOff! + BigInt(r.copied)));
  return r.copied;
};

export const readWriteSyscalls: Partial<Record<SyscallName, SyscallHandler<FsSyscallContext>>> = {
  read,
  write,
  lseek,
  pread64,
  pwrite64,
  readv: vectored('read', false),
  writev: vectored('write', false),
  preadv: vectored('read', 'v'),
  pwritev: vectored('write', 'v'),
  preadv2: vectored('read', 'v2'),
  pwritev2: vectored('write', 'v2'),
  sendfile,
  copy_file_range,
};

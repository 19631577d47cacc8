// poll(2), ppoll(2), select(2), pselect6(2): readiness of several files at once, waiting through the task's
// Blocker until one is ready, the timeout passes, or a signal interrupts (ERESTARTSYS; poll is never restarted
// after a handler on Linux, the dispatcher decides).
// Partial: ppoll/pselect6's temporary signal mask is applied only if the kernel provides
// FsSyscallContext.swapSignalMask; the remaining time is not written back to the timeout argument.
import { Errno, fail, SyscallError } from '../kernel/syscall_error.js';
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI, POLLRDNORM, POLLWRNORM } from '../vfs/constants.js';
import type { FileDescription } from '../vfs/file_description.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { intArg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

/** A file's readiness with the *NORM aliases poll(2) reports alongside POLLIN/POLLOUT. */
function events(file: FileDescription): number {
  let r = file.readiness();
  if (r & POLLIN) r |= POLLRDNORM;
  if (r & POLLOUT) r |= POLLWRNORM;
  return r;
}

/**
 * Evaluates `check` until it reports something, waiting for any of `files` to change. `timeoutMs` < 0 waits
 * forever; 0 checks once.
 */
async function waitAny(
  task: FsSyscallContext,
  files: FileDescription[],
  timeoutMs: number,
  check: () => number,
): Promise<number> {
  let n = check();
  if (n > 0 || timeoutMs === 0) return n;
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  for (;;) {
    const left = deadline === Infinity ? undefined : Math.max(0, deadline - Date.now());
    try {
      await task.blocker.wait(
        () => check() > 0 || (left !== undefined && Date.now() >= deadline),
        (wake) => {
          const subs = files.map((f) => f.subscribe(wake));
          return () => subs.forEach((u) => u());
        },
        left,
      );
    } catch (e) {
      if (!(e instanceof SyscallError && e.errno === Errno.ETIMEDOUT)) throw e;
    }
    n = check();
    if (n > 0 || Date.now() >= deadline) return n;
  }
}

async function doPoll(task: FsSyscallContext, fdsAddr: bigint, nfds: number, timeoutMs: number): Promise<number> {
  if (nfds < 0 || nfds > task.fdTable.limit) fail(Errno.EINVAL, 'nfds exceeds RLIMIT_NOFILE');
  const raw = nfds > 0 ? task.memory.read(fdsAddr, nfds * 8) : Buffer.alloc(0);
  const entries = Array.from({ length: nfds }, (_, i) => ({
    fd: raw.readInt32LE(i * 8),
    events: raw.readUInt16LE(i * 8 + 4),
    revents: 0,
  }));
  const files: FileDescription[] = [];
  for (const e of entries) if (e.fd >= 0 && task.fdTable.has(e.fd)) files.push(task.fdTable.get(e.fd));
  const check = () => {
    let ready = 0;
    for (const e of entries) {
      if (e.fd < 0) e.revents = 0;
      else if (!task.fdTable.has(e.fd)) e.revents = POLLNVAL;
      else e.revents = events(task.fdTable.get(e.fd)) & (e.events | POLLERR | POLLHUP);
      if (e.revents) ready++;
    }
    return ready;
  };
  const n = await waitAny(task, files, timeoutMs, check);
  entries.forEach((e, i) => raw.writeUInt16LE(e.revents, i * 8 + 6));
  if (nfds > 0) task.memory.write(fdsAddr, raw);
  return n;
}

function readTimespecMs(task: FsSyscallContext, addr: bigint): number {
  if (addr === 0n) return -1;
  const sec = BigInt.asIntN(64, task.memory.readU64(addr));
  const nsec = BigInt.asIntN(64, task.memory.readU64(addr + 8n));
  if (sec < 0n || nsec < 0n || nsec > 999_999_999n) fail(Errno.EINVAL, 'bad timespec');
  return Number(sec) * 1000 + Math.ceil(Number(nsec) / 1e6);
}

async function withSigmask<T>(task: FsSyscallContext, maskAddr: bigint, size: number, fn: () => Promise<T>): Promise<T> {
  if (maskAddr === 0n) return fn();
  if (size !== 8) fail(Errno.EINVAL, 'sigsetsize must be 8');
  const mask = task.memory.readU64(maskAddr);
  const restore = task.swapSignalMask?.(mask);
  try {
    return await fn();
  } finally {
    restore?.();
  }
}

const poll: H = (task, [fds, nfds, timeout]) => doPoll(task, fds, intArg(nfds), intArg(timeout));
const ppoll: H = (task, [fds, nfds, tsp, sigmask, sigsetsize]) => {
  const ms = readTimespecMs(task, tsp);
  return withSigmask(task, sigmask, Number(sigsetsize), () => doPoll(task, fds, intArg(nfds), ms));
};

async function doSelect(
  task: FsSyscallContext,
  nfds: number,
  sets: [bigint, bigint, bigint],
  timeoutMs: number,
): Promise<number> {
  if (nfds < 0) fail(Errno.EINVAL, 'negative nfds');
  // select(2) on Linux clamps nfds to the size of the fd table (at least 64 fds, grown in powers of two) rather
  // than refusing it: glibc's FD_SETSIZE callers and programs passing a large constant rely on that.
  let tableSize = 64;
  for (const fd of task.fdTable.fds()) while (tableSize <= fd) tableSize *= 2;
  nfds = Math.min(nfds, tableSize);
  const bytes = Math.ceil(nfds / 64) * 8;
  const inSets = sets.map((addr) => (addr !== 0n && bytes > 0 ? task.memory.read(addr, bytes) : null));
  const isSet = (b: Buffer | null, fd: number) => b !== null && (b[fd >> 3]! & (1 << (fd & 7))) !== 0;
  const wanted: Array<{ fd: number; file: FileDescription; r: boolean; w: boolean; x: boolean }> = [];
  for (let fd = 0; fd < nfds; fd++) {
    const r = isSet(inSets[0]!, fd);
    const w = isSet(inSets[1]!, fd);
    const x = isSet(inSets[2]!, fd);
    if (!r && !w && !x) continue;
    if (!task.fdTable.has(fd)) fail(Errno.EBADF, `fd ${fd} in an fd_set is not open`);
    wanted.push({ fd, file: task.fdTable.get(fd), r, w, x });
  }
  const outSets = inSets.map((b) => (b ? Buffer.alloc(b.length) : null));
  const check = () => {
    let n = 0;
    outSets.forEach((b) => b?.fill(0));
    for (const e of wanted) {
      const ev = events(e.file);
      const mark = (i: number) => {
        outSets[i]![e.fd >> 3]! |= 1 << (e.fd & 7);
        n++;
      };
      if (e.r && ev & (POLLIN | POLLHUP | POLLERR)) mark(0);
      if (e.w && ev & (POLLOUT | POLLERR)) mark(1);
      if (e.x && ev & POLLPRI) mark(2);
    }
    return n;
  };
  const n = await waitAny(task, wanted.map((e) => e.file), timeoutMs, check);
  sets.forEach((addr, i) => {
    if (outSets[i]) task.memory.write(addr, outSets[i]!);
  });
  return n;
}

const select: H = (task, [nfds, r, w, x, tv]) => {
  let ms = -1;
  if (tv !== 0n) {
    const sec = BigInt.asIntN(64, task.memory.readU64(tv));
    const usec = BigInt.asIntN(64, task.memory.readU64(tv + 8n));
    if (sec < 0n || usec < 0n) fail(Errno.EINVAL, 'bad timeval');
    ms = Number(sec) * 1000 + Math.ceil(Number(usec) / 1000);
  }
  return doSelect(task, intArg(nfds), [r, w, x], ms);
};

/** pselect6: the sixth argument points at { const sigset_t *ss; size_t ss_len }. */
const pselect6: H = (task, [nfds, r, w, x, tsp, sig]) => {
  const ms = readTimespecMs(task, tsp);
  let maskAddr = 0n;
  let size = 8;
  if (sig !== 0n) {
    maskAddr = task.memory.readU64(sig);
    size = Number(task.memory.readU64(sig + 8n));
  }
  return withSigmask(task, maskAddr, size, () => doSelect(task, intArg(nfds), [r, w, x], ms));
};

export const pollSyscalls: Partial<Record<SyscallName, H>> = { poll, ppoll, select, pselect6 };

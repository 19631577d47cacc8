// Syscalls of the ptrace class (SECCOMP_RET_TRACE): the sentry acts on the task itself at its seccomp stop.
//   execve/execveat  the sentry loads the new image from its VFS and replaces the old one by injection;
//   clone/fork/vfork the call runs on the host (so the new thread is traced from its first instruction), after
//                    the sentry has checked the flags: CLONE_UNTRACED is removed (it would escape tracing), and a
//                    vfork-style call (CLONE_VM without CLONE_THREAD) becomes a fork, because the child's execve
//                    replaces its image in place and must not unmap its parent's memory;
//   mmap of a file   becomes an anonymous mapping filled with the file's bytes read through the VFS.
import { injectSyscall, ptraceCont, Registers, runToSyscallStop, tgkill } from '@tsvisor/native';
import type { FileDescription } from '../vfs/file_description.js';
import { STUB_SYSCALL_INSN } from '../platform/stub.js';
import { Errno, SyscallError } from './syscall_error.js';
import type { Kernel } from './kernel.js';
import type { Task } from './task.js';
import { pathFrom } from '../vfs/path_resolution.js';
import { SIGKILL } from './signals.js';
import { makeDev } from '../vfs/devices.js';

const NR_MMAP = 9;
const NR_MUNMAP = 11;
const NR_BRK = 12;
const NR_RT_SIGACTION = 13;
const NR_CLONE = 56;
const NR_FORK = 57;
const NR_VFORK = 58;
const NR_EXECVE = 59;
const NR_EXECVEAT = 322;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const AT_SYMLINK_NOFOLLOW = 0x100;

const CLONE_VM = 0x100n;
const CLONE_PIDFD = 0x1000n;
const CLONE_VFORK = 0x4000n;
const CLONE_THREAD = 0x10000n;
const CLONE_UNTRACED = 0x800000n;
const SIGCHLD_FLAG = 17n;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
/** /dev/zero's device number, 1:5 (devices.txt), as stat reports it. */
const DEV_ZERO = makeDev(1, 5);

const MAP_SHARED = 0x01n;
const MAP_PRIVATE = 0x02n;
const MAP_SHARED_VALIDATE = 0x03n;
const MAP_TYPE = 0x0fn;
const MAP_ANONYMOUS = 0x20n;
const PROT_WRITE = 2n;

/** Skips the syscall the task is stopped in and makes it return `value` (a negative errno for failure). */
function skipWith(task: Task, value: bigint): void {
  const regs = Registers.of(task.hostTid);
  regs.set('orig_rax', -1n);
  regs.store(task.hostTid);
  runToSyscallStop(task.hostTid);
  const after = Registers.of(task.hostTid);
  after.set('rax', value);
  after.store(task.hostTid);
  ptraceCont(task.hostTid, 0);
}

function errnoOf(e: unknown): number {
  return e instanceof SyscallError ? e.errno : Errno.EIO;
}

export async function handlePtraceSyscall(kernel: Kernel, task: Task): Promise<void> {
  try {
    const regs = Registers.of(task.hostTid);
    const nr = Number(BigInt.asIntN(64, regs.get('orig_rax')));
    switch (nr) {
      case NR_EXECVE:
      case NR_EXECVEAT:
        return await execve(kernel, task, regs, nr);
      case NR_CLONE:
      case NR_FORK:
      case NR_VFORK:
        return clone(task, regs, nr);
      case NR_MMAP:
        return await fileMmap(task, regs);
      case NR_BRK:
        return brk(task, regs);
      case NR_RT_SIGACTION:
        return sigaction(task, regs);
      default:
        skipWith(task, BigInt(-Errno.ENOSYS));
    }
  } catch (e) {
    if (kernel.reportLostStatus(task, e)) return; // died meanwhile; its status was consumed by the wait
    if ((e as { code?: string }).code === 'ESRCH') return; // killed meanwhile; its exit status follows
    kernel.log.error({ err: e, tid: task.tid }, 'ptrace-class syscall failed');
    try {
      skipWith(task, BigInt(-Errno.EIO));
    } catch (e2) {
      kernel.reportLostStatus(task, e2);
    }
  }
}

async function execve(kernel: Kernel, task: Task, regs: Registers, nr: number): Promise<void> {
  let file: string;
  let argv: string[];
  let envp: string[];
  try {
    if (nr === NR_EXECVE) {
      file = task.memory.readCString(regs.get('rdi'));
      argv = task.memory.readStringArray(regs.get('rsi'));
      envp = task.memory.readStringArray(regs.get('rdx'));
    } else {
      const dirfd = Number(BigInt.asIntN(32, regs.get('rdi')));
      file = task.memory.readCString(regs.get('rsi'));
      argv = task.memory.readStringArray(regs.get('rdx'));
      envp = task.memory.readStringArray(regs.get('r10'));
      const flags = Number(regs.get('r8') & 0xffffffffn);
      if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return skipWith(task, BigInt(-Errno.EINVAL));
      // execveat(2): a relative path is taken from dirfd; with AT_EMPTY_PATH and "" the fd itself (fexecve).
      // The loader opens by path, so the fd's location is turned back into a path in the task's root.
      if (dirfd !== AT_FDCWD && !file.startsWith('/')) {
        const location = task.fdTable.get(dirfd).location;
        if (!location) return skipWith(task, BigInt(-Errno.ENOENT));
        const base = pathFrom(task.fsContext.root, location);
        if (!base.reachable || base.deleted) return skipWith(task, BigInt(-Errno.ENOENT));
        if (file === '') {
          if (!(flags & AT_EMPTY_PATH)) return skipWith(task, BigInt(-Errno.ENOENT));
          file = base.path;
        } else {
          file = `${base.path === '/' ? '' : base.path}/${file}`;
        }
      }
    }
    if (file === '') return skipWith(task, BigInt(-Errno.ENOENT));
  } catch (e) {
    return skipWith(task, BigInt(-errnoOf(e)));
  }
  let image;
  try {
    image = await kernel.loadImage(task, file, argv, envp);
  } catch (e) {
    return skipWith(task, BigInt(-errnoOf(e)));
  }
  // Point of no return (execve(2)): from here a failure kills the process. Other threads go first.
  // Partial: the calling thread keeps its own tid (Linux gives it the thread-group id).
  await kernel.endOtherThreads(task);
  const r = Registers.of(task.hostTid);
  r.set('orig_rax', -1n);
  r.store(task.hostTid);
  runToSyscallStop(task.hostTid);
  try {
    kernel.commitImage(task, image);
  } catch (e) {
    if (kernel.reportLostStatus(task, e)) return;
    kernel.log.error({ err: e, tid: task.tid, file }, 'execve failed after the old image was gone: killing');
    task.killedBySignal = 11;
    tgkill(task.tg.hostTgid, task.hostTid, SIGKILL);
  }
  ptraceCont(task.hostTid, 0);
}

function brk(task: Task, regs: Registers): void {
  const addr = regs.get('rdi');
  regs.set('orig_rax', -1n);
  regs.store(task.hostTid);
  runToSyscallStop(task.hostTid);
  const held: number[] = [];
  const pb = task.tg.brk;
  const value = pb ? pb.move(task.hostTid, addr, held) : 0n;
  const after = Registers.of(task.hostTid);
  after.set('rax', value);
  after.store(task.hostTid);
  for (const s of held) task.sendSignalToSelf(s);
  ptraceCont(task.hostTid, 0);
}

const SIGCHLD = 17n;
const SA_NOCLDWAIT = 2n;
const SIG_IGN = 1n;

/**
 * rt_sigaction runs natively, except that SIGCHLD's disposition always carries SA_NOCLDWAIT on the host. Tasks'
 * host parents are tasks, and wait4 is the sentry's, so no task ever reaps on the host: with SA_NOCLDWAIT the host
 * reaps a child as soon as the sentry (its tracer) has collected its status, while SIGCHLD is still delivered to a
 * handler (sigaction(2)). The application's own choice of SA_NOCLDWAIT is kept by the sentry and shown in oldact.
 */
function sigaction(task: Task, regs: Registers): void {
  const sig = regs.get('rdi') & 0xffffffffn; // an int in Linux (kernel/signal.c): the host ignores higher bits
  const act = regs.get('rsi');
  const oldact = regs.get('rdx');
  if (sig !== SIGCHLD) {
    ptraceCont(task.hostTid, 0);
    return;
  }
  const tg = task.tg;
  let appFlags: bigint | null = null;
  if (act !== 0n) {
    try {
      const handler = task.memory.readU64(act);
      appFlags = task.memory.readU64(act + 8n);
      if (handler !== SIG_IGN) task.memory.writeForce(act + 8n, u64(appFlags | SA_NOCLDWAIT));
    } catch {
      appFlags = null; // EFAULT: the host call reports it
    }
  }
  const res = runToSyscallStop(task.hostTid);
  const ok = res.value === 0n;
  if (act !== 0n && appFlags !== null) {
    try {
      task.memory.writeForce(act + 8n, u64(appFlags));
    } catch {
      // unmapped meanwhile by another thread
    }
  }
  if (ok && oldact !== 0n) {
    try {
      const f = task.memory.readU64(oldact + 8n);
      task.memory.write(oldact + 8n, u64(tg.appNoCldWait ? f | SA_NOCLDWAIT : f & ~SA_NOCLDWAIT));
    } catch {
      // EFAULT was already the host's answer
    }
  }
  if (ok && appFlags !== null) tg.appNoCldWait = (appFlags & SA_NOCLDWAIT) !== 0n;
  for (const s of res.signals) task.sendSignalToSelf(s);
  ptraceCont(task.hostTid, 0);
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
}

function clone(task: Task, regs: Registers, nr: number): void {
  let flags = nr === NR_CLONE ? regs.get('rdi') : nr === NR_FORK ? SIGCHLD_FLAG : CLONE_VM | CLONE_VFORK | SIGCHLD_FLAG;
  // Partial: CLONE_PIDFD is refused. The call runs on the host, which would put a host pidfd into the task's host
  // fd table (a task holds no host fds; design.md "The platform"); the sentry has no pidfd file to give instead.
  // EINVAL is what clone(2) answers for flag combinations it does not take.
  if ((flags & CLONE_PIDFD) !== 0n) return skipWith(task, BigInt(-Errno.EINVAL));
  flags &= ~CLONE_UNTRACED;
  // vfork(2)'s other half, the parent sleeping until the child execs or exits, is kept by the kernel (vforkParent).
  task.pendingVfork = (flags & CLONE_VFORK) !== 0n && (flags & CLONE_THREAD) === 0n;
  if ((flags & CLONE_VM) !== 0n && (flags & CLONE_THREAD) === 0n) flags &= ~(CLONE_VM | CLONE_VFORK);
  if (nr === NR_VFORK) {
    regs.set('orig_rax', BigInt(NR_FORK));
  } else if (nr === NR_CLONE) {
    regs.set('rdi', flags);
  }
  regs.store(task.hostTid);
  task.pendingCloneFlags = flags;
  ptraceCont(task.hostTid, 0);
}

/**
 * The sentry copies a file into its mapping this many bytes at a time, so it never holds more than one chunk
 * whatever the mapping's size (a huge, sparse or bind-mounted host file would otherwise be read whole into it).
 */
export const MMAP_FILL_CHUNK = 1 << 20;
/** RLIMIT_AS (getrlimit(2)): mmap fails with ENOMEM past it. */
const RLIMIT_AS = 9;

async function fileMmap(task: Task, regs: Registers): Promise<void> {
  const length = regs.get('rsi');
  const prot = regs.get('rdx');
  const flags = regs.get('r10');
  const fd = Number(BigInt.asIntN(32, regs.get('r8')));
  const offset = regs.get('r9');
  let file: FileDescription;
  /** Bytes of the file that go into the mapping (0 for /dev/zero), and the first chunk of them. */
  let fileBytes = 0n;
  let first: Buffer = Buffer.alloc(0);
  try {
    file = task.fdTable.get(fd);
    const type = flags & MAP_TYPE;
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) {
      throw new SyscallError(Errno.EINVAL, 'mmap type');
    }
    if (!file.readable) throw new SyscallError(Errno.EACCES, 'mmap of a file not open for reading');
    if (type !== MAP_PRIVATE && (prot & PROT_WRITE) !== 0n && !file.writable) {
      throw new SyscallError(Errno.EACCES, 'shared writable mmap of a read-only file');
    }
    if ((offset & 0xfffn) !== 0n) throw new SyscallError(Errno.EINVAL, 'unaligned offset');
    if (length === 0n || length > 1n << 46n) throw new SyscallError(Errno.EINVAL, 'length');
    // A mapping larger than the address-space limit could never be had (mmap(2) ENOMEM: "RLIMIT_AS would have
    // been exceeded"); refused before anything is read.
    const asLimit = task.tg.rlimits.get(RLIMIT_AS)?.[0];
    if (asLimit !== undefined && length > asLimit) throw new SyscallError(Errno.ENOMEM, 'mapping larger than RLIMIT_AS');
    // Only a regular file's bytes are read in, and never past its end (a page past EOF is zeros here, SIGBUS on
    // Linux): the length is the application's, and a device read without end (/dev/zero, /dev/urandom) would
    // have the sentry buffer terabytes. /dev/zero maps as anonymous memory, which is what zero(4) gives; other
    // files that are not regular are not mappable (ENODEV, as mmap(2) answers for them).
    const st = await file.stat();
    if ((st.mode & S_IFMT) === S_IFREG) {
      const inFile = st.size > offset ? st.size - offset : 0n;
      fileBytes = inFile < length ? inFile : length;
      // The first chunk is read before the mapping exists, so a file that cannot be read fails the call cleanly.
      if (fileBytes > 0n) first = await preadMappable(file, offset, Number(fileBytes < MMAP_FILL_CHUNK ? fileBytes : BigInt(MMAP_FILL_CHUNK)));
    } else if ((st.mode & S_IFMT) === S_IFCHR && st.rdev === DEV_ZERO) {
      fileBytes = 0n;
    } else {
      throw new SyscallError(Errno.ENODEV, 'not a mappable file');
    }
  } catch (e) {
    return skipWith(task, BigInt(-errnoOf(e)));
  }
  // Not done: MAP_SHARED file mappings are private copies here; writes are not written back (design.md wants a
  // memfd shared with the sentry).
  regs.set('r10', (flags & ~MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS);
  regs.set('r8', (1n << 64n) - 1n);
  regs.set('r9', 0n);
  regs.store(task.hostTid);
  const res = runToSyscallStop(task.hostTid);
  const held = [...res.signals];
  const addr = res.value;
  if (addr >= 0n || addr <= -4096n) {
    // The task stays in its syscall-exit stop while the rest is read chunk by chunk.
    const failed = await fillMapping(task, file, offset, fileBytes, addr, first);
    if (failed !== 0) {
      // A read failed after the mapping was made: undo it and fail the call with the read's error.
      const r = injectSyscall(task.hostTid, STUB_SYSCALL_INSN, NR_MUNMAP, [addr, length]);
      held.push(...r.signals);
      const after = Registers.of(task.hostTid);
      after.set('rax', BigInt(-failed));
      after.store(task.hostTid);
    }
  }
  for (const s of held) task.sendSignalToSelf(s);
  ptraceCont(task.hostTid, 0);
}

/**
 * Copies `bytes` bytes of `file` from `offset` into the task's new anonymous mapping at `addr`, starting with the
 * chunk `first` already read. All-zero chunks are not written (the mapping is zeros already), so a sparse file
 * does not make the task's memory resident either. Returns 0, or the errno of a failed read.
 */
async function fillMapping(task: Task, file: FileDescription, offset: bigint, bytes: bigint, addr: bigint, first: Buffer): Promise<number> {
  let done = 0n;
  let chunk = first;
  for (;;) {
    if (chunk.length > 0 && !isZero(chunk)) {
      try {
        task.memory.writeForce(addr + done, chunk);
      } catch (e) {
        // The task died or another thread unmapped the range meanwhile: nothing more to fill.
        task.kernel.log.debug({ err: e }, 'filling a file mapping failed');
        return 0;
      }
    }
    done += BigInt(chunk.length);
    if (chunk.length === 0 || done >= bytes) return 0;
    const want = bytes - done < BigInt(MMAP_FILL_CHUNK) ? Number(bytes - done) : MMAP_FILL_CHUNK;
    try {
      chunk = await preadMappable(file, offset + done, want);
    } catch (e) {
      return errnoOf(e);
    }
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i += ZERO_PAGE.length) {
    const end = Math.min(b.length, i + ZERO_PAGE.length);
    if (b.compare(ZERO_PAGE, 0, end - i, i, end) !== 0) return false;
  }
  return true;
}
const ZERO_PAGE = Buffer.alloc(4096);

/** Reads up to `length` bytes at `offset` (fewer only at end of file); a file without offsets is not mappable. */
async function preadMappable(file: FileDescription, offset: bigint, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < length) {
    let part: Buffer;
    try {
      part = await file.pread(length - got, offset + BigInt(got));
    } catch (e) {
      if (e instanceof SyscallError && e.errno === Errno.ESPIPE) throw new SyscallError(Errno.ENODEV, 'not mappable');
      throw e;
    }
    if (part.length === 0) break;
    parts.push(part);
    got += part.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

// epoll_create(2), epoll_create1, epoll_ctl(2), epoll_wait(2), epoll_pwait, epoll_pwait2. struct epoll_event is
// packed on x86_64: u32 events, u64 data (12 bytes).
import { Errno, fail } from '../kernel/syscall_error.js';
import { O_CLOEXEC, O_RDWR } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { EPOLLEXCLUSIVE, EPOLLONESHOT, EpollInstance, type EpollEvent } from '../fsimpl/epoll.js';
import { intArg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EP_MAX_EVENTS = 0x7fffffff / 12;

function create(task: FsSyscallContext, flags: number): number {
  if (flags & ~O_CLOEXEC) fail(Errno.EINVAL, 'epoll_create1 flags');
  const file = new FileDescription(new EpollInstance(), O_RDWR, null);
  return task.fdTable.install(file, { cloexec: (flags & O_CLOEXEC) !== 0 });
}

const epoll_create: H = (task, [size]) => {
  if (intArg(size) <= 0) fail(Errno.EINVAL);
  return create(task, 0);
};
const epoll_create1: H = (task, [flags]) => create(task, intArg(flags));

function instance(task: FsSyscallContext, epfd: number): EpollInstance {
  const f = task.fdTable.get(epfd);
  if (!(f.impl instanceof EpollInstance)) fail(Errno.EINVAL, 'not an epoll fd');
  return f.impl;
}

const epoll_ctl: H = (task, [epfdArg, opArg, fdArg, eventAddr]) => {
  const epfd = intArg(epfdArg);
  const fd = intArg(fdArg);
  const op = intArg(opArg);
  const ep = instance(task, epfd);
  const file = task.fdTable.get(fd);
  if (fd === epfd) fail(Errno.EINVAL, 'epoll fd cannot watch itself');
  let events = 0;
  let data = 0n;
  if (op !== EPOLL_CTL_DEL) {
    const raw = task.memory.read(eventAddr, 12);
    events = raw.readUInt32LE(0);
    data = raw.readBigUInt64LE(4);
    if (events & EPOLLEXCLUSIVE && (op === EPOLL_CTL_MOD || events & EPOLLONESHOT)) fail(Errno.EINVAL);
  }
  switch (op) {
    case EPOLL_CTL_ADD:
      ep.add(fd, file, events | 0, data);
      return 0;
    case EPOLL_CTL_MOD:
      ep.modify(fd, file, events | 0, data);
      return 0;
    case EPOLL_CTL_DEL:
      ep.remove(fd, file);
      return 0;
    default:
      fail(Errno.EINVAL, `epoll_ctl op ${op}`);
  }
};

async function wait(task: FsSyscallContext, epfd: number, eventsAddr: bigint, max: number, timeoutMs: number): Promise<number> {
  if (max <= 0 || max > EP_MAX_EVENTS) fail(Errno.EINVAL, 'maxevents');
  const file = task.fdTable.get(epfd);
  const ep = instance(task, epfd);
  let got: EpollEvent[] = ep.collect(max);
  if (got.length === 0 && timeoutMs !== 0) {
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    while (got.length === 0) {
      const left = deadline === Infinity ? undefined : Math.max(0, deadline - Date.now());
      await task.blocker.wait(
        () => ep.readiness() !== 0 || (left !== undefined && Date.now() >= deadline),
        (wake) => file.subscribe(wake),
        left,
      );
      got = ep.collect(max);
      if (Date.now() >= deadline) break;
    }
  }
  if (got.length > 0) {
    const out = Buffer.alloc(got.length * 12);
    got.forEach((e, i) => {
      out.writeUInt32LE(e.events >>> 0, i * 12);
      out.writeBigUInt64LE(e.data, i * 12 + 4);
    });
    task.memory.write(eventsAddr, out);
  }
  return got.length;
}

async function withSigmask<T>(task: FsSyscallContext, maskAddr: bigint, size: number, fn: () => Promise<T>): Promise<T> {
  if (maskAddr === 0n) return fn();
  if (size !== 8) fail(Errno.EINVAL, 'sigsetsize must be 8');
  const restore = task.swapSignalMask?.(task.memory.readU64(maskAddr));
  try {
    return await fn();
  } finally {
    restore?.();
  }
}

const epoll_wait: H = (task, [epfd, events, max, timeout]) =>
  wait(task, intArg(epfd), events, intArg(max), intArg(timeout));
const epoll_pwait: H = (task, [epfd, events, max, timeout, sigmask, sigsetsize]) =>
  withSigmask(task, sigmask, Number(sigsetsize), () => wait(task, intArg(epfd), events, intArg(max), intArg(timeout)));
const epoll_pwait2: H = (task, [epfd, events, max, tsp, sigmask, sigsetsize]) => {
  let ms = -1;
  if (tsp !== 0n) {
    const sec = BigInt.asIntN(64, task.memory.readU64(tsp));
    const nsec = BigInt.asIntN(64, task.memory.readU64(tsp + 8n));
    if (sec < 0n || nsec < 0n || nsec > 999_999_999n) fail(Errno.EINVAL);
    ms = Number(sec) * 1000 + Math.ceil(Number(nsec) / 1e6);
  }
  return withSigmask(task, sigmask, Number(sigsetsize), () => wait(task, intArg(epfd), events, intArg(max), ms));
};

export const epollSyscalls: Partial<Record<SyscallName, H>> = {
  epoll_create,
  epoll_create1,
  epoll_ctl,
  epoll_wait,
  epoll_pwait,
  epoll_pwait2,
};

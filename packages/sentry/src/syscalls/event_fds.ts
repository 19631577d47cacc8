// eventfd(2)/eventfd2 and timerfd_create(2)/timerfd_settime/timerfd_gettime. signalfd is not implemented here
// (it needs the kernel's signal queues).
import { Errno, fail } from '../kernel/syscall_error.js';
import { O_CLOEXEC, O_NONBLOCK, O_RDWR } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { EventFd } from '../fsimpl/eventfd.js';
import { TimerFd, type TimerSpec } from '../fsimpl/timerfd.js';
import { intArg, u32Arg } from './file_args.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';

type H = SyscallHandler<FsSyscallContext>;

const EFD_SEMAPHORE = 1;
const TFD_TIMER_ABSTIME = 1;
const TFD_TIMER_CANCEL_ON_SET = 2;

function eventfdCreate(task: FsSyscallContext, initval: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE)) fail(Errno.EINVAL, 'eventfd flags');
  const file = new FileDescription(new EventFd(initval, (flags & EFD_SEMAPHORE) !== 0), O_RDWR | (flags & O_NONBLOCK), null);
  return task.fdTable.install(file, { cloexec: (flags & O_CLOEXEC) !== 0 });
}

const eventfd: H = (task, [initval]) => eventfdCreate(task, u32Arg(initval), 0);
const eventfd2: H = (task, [initval, flags]) => eventfdCreate(task, u32Arg(initval), intArg(flags));

const timerfd_create: H = (task, [clockid, flagsArg]) => {
  const flags = intArg(flagsArg);
  if (flags & ~(O_CLOEXEC | O_NONBLOCK)) fail(Errno.EINVAL, 'timerfd flags');
  const file = new FileDescription(new TimerFd(intArg(clockid)), O_RDWR | (flags & O_NONBLOCK), null);
  return task.fdTable.install(file, { cloexec: (flags & O_CLOEXEC) !== 0 });
};

function timer(task: FsSyscallContext, fd: bigint): TimerFd {
  const f = task.fdTable.get(intArg(fd));
  if (!(f.impl instanceof TimerFd)) fail(Errno.EINVAL, 'not a timerfd');
  return f.impl;
}

const NS = 1_000_000_000n;

/** struct itimerspec { timespec it_interval; timespec it_value; } */
function readItimerspec(task: FsSyscallContext, addr: bigint): TimerSpec {
  const raw = task.memory.read(addr, 32);
  const ts = (off: number) => {
    const sec = raw.readBigInt64LE(off);
    const nsec = raw.readBigInt64LE(off + 8);
    if (sec < 0n || nsec < 0n || nsec >= NS) fail(Errno.EINVAL, 'bad timespec');
    return sec * NS + nsec;
  };
  return { intervalNs: ts(0), valueNs: ts(16) };
}

function writeItimerspec(task: FsSyscallContext, addr: bigint, spec: TimerSpec): void {
  const raw = Buffer.alloc(32);
  raw.writeBigInt64LE(spec.intervalNs / NS, 0);
  raw.writeBigInt64LE(spec.intervalNs % NS, 8);
  raw.writeBigInt64LE(spec.valueNs / NS, 16);
  raw.writeBigInt64LE(spec.valueNs % NS, 24);
  task.memory.write(addr, raw);
}

const timerfd_settime: H = (task, [fd, flagsArg, newAddr, oldAddr]) => {
  const flags = intArg(flagsArg);
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) fail(Errno.EINVAL);
  if (flags & TFD_TIMER_CANCEL_ON_SET) fail(Errno.EINVAL, 'TFD_TIMER_CANCEL_ON_SET is not supported');
  const t = timer(task, fd);
  const spec = readItimerspec(task, newAddr);
  const old = t.set(spec, (flags & TFD_TIMER_ABSTIME) !== 0);
  if (oldAddr !== 0n) writeItimerspec(task, oldAddr, old);
  return 0;
};

const timerfd_gettime: H = (task, [fd, addr]) => {
  writeItimerspec(task, addr, timer(task, fd).get());
  return 0;
};

export const eventFdSyscalls: Partial<Record<SyscallName, H>> = {
  eventfd,
  eventfd2,
  timerfd_create,
  timerfd_settime,
  timerfd_gettime,
};

// timerfd_create(2): a timer as a file. Reading gives the number of expirations since the last read (8 bytes) or
// EAGAIN before the first; poll reports POLLIN once it expired. Expirations are computed from the clock when
// asked, and a Node timer only wakes waiters, so a late event loop never loses expirations. Millisecond wake-up
// granularity; CLOCK_REALTIME timers do not react to clock changes (TFD_TIMER_CANCEL_ON_SET unsupported).
import { Errno, fail } from '../kernel/syscall_error.js';
import { anonInodeStat } from '../vfs/anon.js';
import { POLLIN, POLLRDNORM } from '../vfs/constants.js';
import type { FileDescriptionImpl, Stat } from '../vfs/filesystem.js';
import { allocateDev } from '../vfs/mount.js';
import { nowNs } from './tmpfs.js';

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_BOOTTIME = 7;
export const CLOCK_REALTIME_ALARM = 8;
export const CLOCK_BOOTTIME_ALARM = 9;

const anonDev = allocateDev();
let nextIno = 1n;

export interface TimerSpec {
  intervalNs: bigint;
  valueNs: bigint;
}

export class TimerFd implements FileDescriptionImpl {
  readonly seekable = false;
  /** Absolute time (on this timer's clock) of the next expiration not yet counted, or null when disarmed. */
  private nextNs: bigint | null = null;
  private intervalNs = 0n;
  private pending = 0n;
  private timer: NodeJS.Timeout | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly ino = nextIno++;
  private readonly created = nowNs();

  constructor(readonly clock: number) {
    if (![CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM].includes(clock)) {
      fail(Errno.EINVAL, `clock ${clock}`);
    }
  }

  now(): bigint {
    return this.clock === CLOCK_REALTIME || this.clock === CLOCK_REALTIME_ALARM ? nowNs() : process.hrtime.bigint();
  }

  /** Counts expirations up to now into `pending`. */
  private advance(): void {
    if (this.nextNs === null) return;
    const now = this.now();
    if (now < this.nextNs) return;
    if (this.intervalNs === 0n) {
      this.pending += 1n;
      this.nextNs = null;
      return;
    }
    const n = (now - this.nextNs) / this.intervalNs + 1n;
    this.pending += n;
    this.nextNs += n * this.intervalNs;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.nextNs === null) return;
    const delayMs = Number((this.nextNs - this.now()) / 1_000_000n);
    this.timer = setTimeout(() => {
      this.advance();
      for (const w of [...this.waiters]) w();
      this.schedule();
    }, Math.max(0, Math.min(delayMs + 1, 0x7fffffff)));
    this.timer.unref?.();
  }

  /** Current setting as timerfd_gettime reports it (time left, interval). */
  get(): TimerSpec {
    this.advance();
    if (this.nextNs === null) return { intervalNs: this.intervalNs, valueNs: 0n };
    const left = this.nextNs - this.now();
    return { intervalNs: this.intervalNs, valueNs: left > 0n ? left : 1n };
  }

  /** timerfd_settime: arms (value > 0) or disarms (value 0); returns the old setting. */
  set(spec: TimerSpec, absolute: boolean): TimerSpec {
    const old = this.get();
    this.pending = 0n;
    this.intervalNs = spec.intervalNs;
    this.nextNs = spec.valueNs === 0n ? null : absolute ? spec.valueNs : this.now() + spec.valueNs;
    this.schedule();
    for (const w of [...this.waiters]) w();
    return old;
  }

  async read(length: number): Promise<Buffer> {
    if (length < 8) fail(Errno.EINVAL, 'timerfd reads need 8 bytes');
    this.advance();
    if (this.pending === 0n) fail(Errno.EAGAIN);
    const out = Buffer.alloc(8);
    out.writeBigUInt64LE(this.pending);
    this.pending = 0n;
    return out;
  }

  readiness(): number {
    this.advance();
    return this.pending > 0n ? POLLIN | POLLRDNORM : 0;
  }

  subscribe(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  async stat(): Promise<Stat> {
    return anonInodeStat(anonDev, this.ino, this.created);
  }
}

// Time source and timers for the stack. Everything that waits (neighbour resolution, reassembly timeouts, TCP
// retransmission) goes through a Clock so tests can substitute a ManualClock and step time deterministically.

import { logInternalError } from './internal_error.js';

export interface Timer {
  /** Stops the timer; returns false if it already fired or was stopped. */
  stop(): boolean;
  /** Re-arms the timer to fire `ms` from now (whether or not it fired). */
  reset(ms: number): void;
}

export interface Clock {
  /** Monotonic milliseconds (fractional allowed). */
  nowMs(): number;
  /** Wall-clock nanoseconds since the epoch (SO_TIMESTAMP). */
  wallNs(): bigint;
  afterFunc(ms: number, fn: () => void): Timer;
}

class SystemTimer implements Timer {
  private handle: NodeJS.Timeout | undefined;
  constructor(
    ms: number,
    private readonly fn: () => void,
  ) {
    this.arm(ms);
  }
  private arm(ms: number): void {
    this.handle = setTimeout(() => {
      this.handle = undefined;
      // The last-resort net: an exception here has no caller but the process (an uncaught exception ends the
      // sandbox's whole network, and a peer's packets may be what set it up). Callbacks that leave state behind
      // contain their own exceptions where they know what to put right (neighbor_cache.ts, the reassembler's
      // timeout, TCP's flush); this only keeps one that does not from taking the process down. ManualClock does
      // not catch, so tests still see the exception.
      try {
        this.fn();
      } catch (e) {
        logInternalError('timer', 'SystemClock.afterFunc', e);
      }
    }, ms);
    // Stack timers never keep the process alive on their own: the owner of the stack decides the process lifetime.
    this.handle.unref();
  }
  stop(): boolean {
    if (this.handle === undefined) return false;
    clearTimeout(this.handle);
    this.handle = undefined;
    return true;
  }
  reset(ms: number): void {
    this.stop();
    this.arm(ms);
  }
}

export class SystemClock implements Clock {
  nowMs(): number {
    return performance.now();
  }
  wallNs(): bigint {
    return BigInt(Date.now()) * 1_000_000n;
  }
  afterFunc(ms: number, fn: () => void): Timer {
    return new SystemTimer(ms, fn);
  }
}

interface ManualEntry {
  at: number;
  seq: number;
  fn: () => void;
  active: boolean;
}

/** A clock that only moves when advance() is called; timers fire in deadline order during advance(). */
export class ManualClock implements Clock {
  private now = 0;
  private seq = 0;
  private readonly pending = new Set<ManualEntry>();

  nowMs(): number {
    return this.now;
  }
  wallNs(): bigint {
    return BigInt(Math.floor(this.now * 1e6)) + 1_700_000_000_000_000_000n;
  }
  afterFunc(ms: number, fn: () => void): Timer {
    let entry: ManualEntry = { at: this.now + ms, seq: this.seq++, fn, active: true };
    this.pending.add(entry);
    return {
      stop: () => {
        const was = entry.active;
        entry.active = false;
        this.pending.delete(entry);
        return was;
      },
      reset: (d: number) => {
        entry.active = false;
        this.pending.delete(entry);
        entry = { at: this.now + d, seq: this.seq++, fn, active: true };
        this.pending.add(entry);
      },
    };
  }

  /** Moves time forward by `ms`, firing due timers (including ones they schedule) in order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: ManualEntry | undefined;
      for (const e of this.pending) {
        if (e.at <= target && (!next || e.at < next.at || (e.at === next.at && e.seq < next.seq))) next = e;
      }
      if (!next) break;
      this.pending.delete(next);
      next.active = false;
      this.now = Math.max(this.now, next.at);
      next.fn();
    }
    this.now = target;
  }

  get pendingTimers(): number {
    return this.pending.size;
  }
}

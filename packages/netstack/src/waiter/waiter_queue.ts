// Readiness events and the queue a socket notifies when they change. The bit values are Linux's poll/epoll bits
// (poll(2), epoll_ctl(2)) so the sentry passes them through unchanged.

export const EventMask = {
  IN: 0x1,
  PRI: 0x2,
  OUT: 0x4,
  ERR: 0x8,
  HUP: 0x10,
  RDNORM: 0x40,
  WRNORM: 0x100,
  RDHUP: 0x2000,
} as const;

/** Events that are always reported whether or not they were asked for (poll(2): POLLERR, POLLHUP). */
export const ALWAYS_REPORTED_EVENTS = EventMask.ERR | EventMask.HUP;
export const ALL_EVENTS = 0x213f;

/** One subscriber: `callback(ready)` runs synchronously when any of `mask` may have become ready. */
export interface WaiterEntry {
  mask: number;
  callback(ready: number): void;
}

/**
 * The set of subscribers of one endpoint. notify() is called by the endpoint whenever readiness may have changed;
 * subscribers then re-check readiness themselves (edge hints, like Linux wake-ups, not level state).
 */
export class WaiterQueue {
  private readonly entries = new Set<WaiterEntry>();

  register(entry: WaiterEntry): void {
    this.entries.add(entry);
  }

  unregister(entry: WaiterEntry): void {
    this.entries.delete(entry);
  }

  /** Convenience: subscribe a function, get back the function that unsubscribes it. */
  subscribe(mask: number, callback: (ready: number) => void): () => void {
    const entry: WaiterEntry = { mask, callback };
    this.register(entry);
    return () => this.unregister(entry);
  }

  notify(mask: number): void {
    if (this.entries.size === 0) return;
    for (const e of this.entries) {
      const hit = mask & (e.mask | ALWAYS_REPORTED_EVENTS);
      if (hit !== 0) e.callback(hit);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** The union of the masks all subscribers wait for. */
  events(): number {
    let m = 0;
    for (const e of this.entries) m |= e.mask;
    return m;
  }
}

// Learned path MTUs per destination (RFC 1191, RFC 8201), for the stack and for a TCP worker thread's host, which
// keeps its own because it cannot ask the stack's thread synchronously.

import type { Address } from './address.js';
import type { Clock } from './clock.js';

/** RFC 1191 section 6.3 / RFC 8201 section 4: a learned PMTU is forgotten after 10 minutes. */
export const PMTU_EXPIRY_MS = 10 * 60 * 1000;
/** Destinations with a learned PMTU kept at most. */
export const PMTU_MAX_ENTRIES = 4096;

export class PathMtuCache {
  private readonly entries = new Map<string, { mtu: number; expiresMs: number }>();

  constructor(private readonly clock: Clock) {}

  /** The learned PMTU toward `remote`, or undefined (none, or expired). */
  get(remote: Address): number | undefined {
    const key = remote.toString();
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (this.clock.nowMs() >= e.expiresMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e.mtu;
  }

  /**
   * Lowers the PMTU toward `remote` (never raises it: a larger value would be an attack, RFC 1191 section 6.3).
   * The table is bounded (forged ICMP errors can name any destination): the oldest entry makes room.
   */
  lower(remote: Address, mtu: number): void {
    const cur = this.get(remote);
    if (cur !== undefined && cur <= mtu) return;
    const key = remote.toString();
    this.entries.delete(key);
    if (this.entries.size >= PMTU_MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { mtu, expiresMs: this.clock.nowMs() + PMTU_EXPIRY_MS });
  }
}

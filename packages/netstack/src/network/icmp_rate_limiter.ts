// Token bucket limiting the ICMP errors a stack generates (RFC 1812 section 4.3.2.8, RFC 4443 section 2.4 (f)),
// like Linux's net.ipv4.icmp_msgs_per_sec=1000 with icmp_msgs_burst=50. Echo replies are not limited.

import type { Clock } from '../stack/clock.js';

export class IcmpRateLimiter {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond = 1000,
    private readonly burst = 50,
  ) {
    this.tokens = burst;
    this.lastMs = clock.nowMs();
  }

  /** Takes one token; false if the bucket is empty (the error must not be sent). */
  allow(): boolean {
    const now = this.clock.nowMs();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastMs) * this.perSecond) / 1000);
    this.lastMs = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

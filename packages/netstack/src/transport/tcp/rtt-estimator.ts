// Retransmission timeout computation, RFC 6298.

export interface RtoLimits {
  /** RFC 6298 2.4 says 1 s; Linux uses 200 ms (TCP_RTO_MIN) and so do we by default, matching peers' behaviour. */
  minRtoMs: number;
  /** RFC 6298 2.5 allows a maximum of at least 60 s; Linux uses 120 s. */
  maxRtoMs: number;
  /** RFC 6298 2.1: 1 s before the first RTT sample. */
  initialRtoMs: number;
  /** Clock granularity G of RFC 6298 2.2. */
  granularityMs: number;
}

export const DEFAULT_RTO_LIMITS: RtoLimits = { minRtoMs: 200, maxRtoMs: 120_000, initialRtoMs: 1000, granularityMs: 1 };

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  minRtt = Infinity;
  latestRtt = 0;
  hasSample = false;
  /** Current timeout without backoff. */
  private baseRto: number;
  /** Number of consecutive backoffs (RFC 6298 5.5 doubles the timer each time). */
  backoffCount = 0;

  constructor(private readonly limits: RtoLimits = DEFAULT_RTO_LIMITS) {
    this.baseRto = limits.initialRtoMs;
  }

  /** Feed one RTT measurement R (RFC 6298 2.2 and 2.3; alpha 1/8, beta 1/4). */
  sample(r: number): void {
    if (!(r >= 0)) return;
    this.latestRtt = r;
    if (r < this.minRtt) this.minRtt = r;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.baseRto = this.srtt + Math.max(this.limits.granularityMs, 4 * this.rttvar);
    // RFC 6298 5.7 / Karn: a new sample after backoff means the path works again.
    this.backoffCount = 0;
  }

  /** The timeout to arm now, including exponential backoff, clamped to [min, max]. */
  rto(): number {
    const base = Math.max(this.limits.minRtoMs, this.baseRto);
    return Math.min(this.limits.maxRtoMs, base * 2 ** this.backoffCount);
  }

  /**
   * RFC 6298 5.7: if the SYN or SYN-ACK was retransmitted and no RTT sample was taken, the RTO for data starts at
   * 3 seconds.
   */
  restartAfterHandshakeLoss(): void {
    if (this.hasSample) return;
    this.baseRto = Math.max(this.baseRto, 3000);
    this.backoffCount = 0;
  }

  backoff(): void {
    if (this.rto() < this.limits.maxRtoMs) this.backoffCount++;
  }
}

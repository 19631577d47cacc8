// Pluggable congestion control. The endpoint reports events; the algorithm owns cwnd and ssthresh (in bytes).
// Reno follows RFC 5681 with byte counting (RFC 3465); CUBIC follows RFC 9438 and is the default, as on Linux.

export interface CongestionControl {
  readonly name: string;
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow-start threshold in bytes. */
  ssthresh: number;
  /** New data was cumulatively acknowledged (not called for ACKs inside recovery). */
  onAck(bytesAcked: number, nowMs: number, srttMs: number): void;
  /** Loss detected by SACK/dupacks/RACK: entering fast recovery (RFC 5681 3.2 step 2, RFC 9438 4.6). */
  onCongestionEvent(nowMs: number, flightSize: number): void;
  /** The retransmission timer expired (RFC 5681 3.1 equation 4; RFC 9438 4.8). */
  onRetransmissionTimeout(nowMs: number, flightSize: number): void;
  /** Fast recovery completed. */
  onRecoveryExit(nowMs: number): void;
  /** The connection was idle longer than an RTO (RFC 5681 4.1 restart window). */
  onIdleRestart(nowMs: number): void;
}

/** Built-in algorithms; registerCongestionControl adds more. */
export type CongestionControlName = 'reno' | 'cubic' | (string & {});

/** RFC 6928 initial window of 10 segments. */
export function initialWindow(mss: number): number {
  return 10 * mss;
}

export class RenoCongestionControl implements CongestionControl {
  readonly name: string = 'reno';
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** Bytes acknowledged in congestion avoidance since cwnd last grew. */
  protected bytesAckedInCa = 0;

  constructor(protected readonly mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(bytesAcked: number, _nowMs: number, _srttMs: number): void {
    if (this.cwnd < this.ssthresh) {
      // Slow start, byte counting: grow by what was acknowledged (RFC 3465 2.2 with an unbounded L, because the
      // receiver coalesces ACKs and limiting growth per ACK would punish that).
      this.cwnd += bytesAcked;
      return;
    }
    // Congestion avoidance: one MSS per window's worth of acknowledged bytes (RFC 5681 3.1, RFC 3465 2.1).
    this.bytesAckedInCa += bytesAcked;
    while (this.bytesAckedInCa >= this.cwnd) {
      this.bytesAckedInCa -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  onCongestionEvent(_nowMs: number, flightSize: number): void {
    // RFC 5681 equation 4: ssthresh = max(FlightSize / 2, 2*SMSS); RFC 6675 sets cwnd = ssthresh on entering recovery.
    this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.bytesAckedInCa = 0;
  }

  onRetransmissionTimeout(_nowMs: number, flightSize: number): void {
    this.ssthresh = Math.max(Math.floor(flightSize / 2), 2 * this.mss);
    this.cwnd = this.mss; // loss window, RFC 5681 3.1
    this.bytesAckedInCa = 0;
  }

  onRecoveryExit(_nowMs: number): void {
    this.cwnd = Math.max(this.ssthresh, 2 * this.mss);
  }

  onIdleRestart(_nowMs: number): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.mss));
  }
}

/** RFC 9438 constants. */
const CUBIC_C = 0.4;
const CUBIC_BETA = 0.7;

export class CubicCongestionControl implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** In segments, as RFC 9438 computes. */
  private wMax = 0;
  private wLastMax = 0;
  private k = 0;
  /** Start of the current congestion avoidance epoch (RFC 9438 4.2 t), ms; -1 when not in an epoch. */
  private epochStart = -1;
  /** Reno-friendly estimate W_est in segments (RFC 9438 4.3). */
  private wEst = 0;
  private cwndAtEpoch = 0;
  private bytesAckedInSlowStartCredit = 0;

  constructor(private readonly mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(bytesAcked: number, nowMs: number, srttMs: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += bytesAcked; // slow start as in Reno (RFC 9438 4.10)
      return;
    }
    const cwndSeg = this.cwnd / this.mss;
    if (this.epochStart < 0) {
      this.epochStart = nowMs;
      this.cwndAtEpoch = cwndSeg;
      if (cwndSeg < this.wMax) {
        this.k = Math.cbrt((this.wMax - cwndSeg) / CUBIC_C); // RFC 9438 equation 2, with cwnd_epoch
      } else {
        this.k = 0;
        this.wMax = cwndSeg;
      }
      this.wEst = cwndSeg;
    }
    const rttSec = Math.max(srttMs, 1) / 1000;
    const t = (nowMs - this.epochStart) / 1000;
    const ackedSeg = bytesAcked / this.mss;
    // Reno-friendly region, RFC 9438 4.3 equation 4: alpha_cubic = 3(1-beta)/(1+beta).
    const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
    this.wEst += (alpha * ackedSeg) / Math.max(cwndSeg, 1);
    // RFC 9438 4.4: target is W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd].
    const d = t + rttSec - this.k;
    const wCubic = CUBIC_C * d * d * d + this.wMax;
    let target = Math.min(Math.max(wCubic, cwndSeg), 1.5 * cwndSeg);
    if (wCubic < this.wEst) target = Math.max(target, this.wEst); // RFC 9438 4.3: use W_est when it is larger
    // cwnd += (target - cwnd) / cwnd per acknowledged segment.
    const grow = ((target - cwndSeg) / cwndSeg) * ackedSeg;
    if (grow > 0) {
      this.bytesAckedInSlowStartCredit += grow * this.mss;
      const whole = Math.floor(this.bytesAckedInSlowStartCredit);
      this.cwnd += whole;
      this.bytesAckedInSlowStartCredit -= whole;
    }
  }

  private reduce(flightSize: number): void {
    const cwndSeg = this.cwnd / this.mss;
    // Fast convergence, RFC 9438 4.7.
    if (cwndSeg < this.wLastMax) {
      this.wLastMax = cwndSeg;
      this.wMax = (cwndSeg * (1 + CUBIC_BETA)) / 2;
    } else {
      this.wLastMax = cwndSeg;
      this.wMax = cwndSeg;
    }
    // RFC 9438 4.6: ssthresh = flight_size * beta (cwnd may be used; flight size is what RFC 5681 uses).
    const base = Math.max(flightSize, this.mss);
    this.ssthresh = Math.max(Math.floor(base * CUBIC_BETA), 2 * this.mss);
    this.epochStart = -1;
  }

  onCongestionEvent(_nowMs: number, flightSize: number): void {
    this.reduce(flightSize);
    this.cwnd = this.ssthresh;
  }

  onRetransmissionTimeout(_nowMs: number, flightSize: number): void {
    this.reduce(flightSize);
    this.cwnd = this.mss; // RFC 9438 4.8
  }

  onRecoveryExit(_nowMs: number): void {
    this.cwnd = Math.max(this.ssthresh, 2 * this.mss);
    this.epochStart = -1;
  }

  onIdleRestart(_nowMs: number): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.mss));
    this.epochStart = -1;
  }

  /** For tests: the cubic K in seconds. */
  get kSeconds(): number {
    return this.k;
  }
  get cwndAtEpochStart(): number {
    return this.cwndAtEpoch;
  }
}

/** Algorithms by name (TCP_CONGESTION); embedders may add their own with registerCongestionControl. */
const algorithms = new Map<string, (mss: number) => CongestionControl>([
  ['reno', (mss) => new RenoCongestionControl(mss)],
  ['cubic', (mss) => new CubicCongestionControl(mss)],
]);

export function registerCongestionControl(name: string, factory: (mss: number) => CongestionControl): void {
  algorithms.set(name, factory);
}

export function hasCongestionControl(name: string): boolean {
  return algorithms.has(name);
}

/** A new instance of the named algorithm; unknown names get CUBIC (callers validate with hasCongestionControl). */
export function createCongestionControl(name: string, mss: number): CongestionControl {
  return (algorithms.get(name) ?? algorithms.get('cubic')!)(mss);
}

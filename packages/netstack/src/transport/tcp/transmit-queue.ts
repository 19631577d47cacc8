// Record of every segment sent and not yet cumulatively acknowledged: its sequence range, last transmit time and
// SACK/loss marks. Kept as parallel typed arrays in a ring so the hot path allocates nothing per segment.
//
// Loss detection combines RACK (RFC 8985 6.2: a segment is lost when a segment sent later was delivered and a
// reordering window has passed) with the RFC 6675 4 IsLost rule (DupThresh SACKed segments above it).

import { seqDiff, seqGE, seqGT, seqLE, seqLT } from './seqnum.js';

export const SEG_SACKED = 1;
/** Deemed lost and not yet retransmitted. */
export const SEG_LOST = 2;
/** Retransmitted at least once (its RTT samples are ambiguous, RFC 6298 3 / Karn). */
export const SEG_RETRANSMITTED = 4;

/** RFC 6675 2: DupThresh. */
const DUP_THRESH = 3;

export class TransmitQueue {
  private cap = 64;
  private startSeq = new Uint32Array(this.cap);
  private endSeq = new Uint32Array(this.cap);
  private xmitTime = new Float64Array(this.cap);
  private flags = new Uint8Array(this.cap);
  private head = 0;
  count = 0;

  /** Bytes in SACKed records. */
  sackedBytes = 0;
  /** Bytes in records marked lost and not retransmitted since. */
  lostBytes = 0;
  /** Highest right edge SACKed so far (valid when sackedBytes > 0 or sackSeen). */
  highestSacked = 0;
  sackSeen = false;

  // RACK state, RFC 8985 6.1.
  /** The last ackTo() covered a retransmitted segment (Linux's FLAG_RETRANS_DATA_ACKED: no sequence RTT sample). */
  ackedRetransmitted = false;
  rackXmitTime = -1;
  rackEndSeq = 0;
  rackRtt = 0;
  reorderingSeen = false;

  private idx(i: number): number {
    return (this.head + i) & (this.cap - 1);
  }

  private grow(): void {
    const cap = this.cap * 2;
    const s = new Uint32Array(cap), e = new Uint32Array(cap), t = new Float64Array(cap), f = new Uint8Array(cap);
    for (let i = 0; i < this.count; i++) {
      const k = this.idx(i);
      s[i] = this.startSeq[k]!; e[i] = this.endSeq[k]!; t[i] = this.xmitTime[k]!; f[i] = this.flags[k]!;
    }
    this.startSeq = s; this.endSeq = e; this.xmitTime = t; this.flags = f;
    this.cap = cap;
    this.head = 0;
  }

  push(start: number, end: number, now: number): void {
    if (this.count === this.cap) this.grow();
    const k = this.idx(this.count++);
    this.startSeq[k] = start; this.endSeq[k] = end; this.xmitTime[k] = now; this.flags[k] = 0;
  }

  start(i: number): number { return this.startSeq[this.idx(i)]!; }
  end(i: number): number { return this.endSeq[this.idx(i)]!; }
  flagsAt(i: number): number { return this.flags[this.idx(i)]!; }
  sentAt(i: number): number { return this.xmitTime[this.idx(i)]!; }

  /** The segment was (re)transmitted now: clears its lost mark. */
  markRetransmitted(i: number, now: number): void {
    const k = this.idx(i);
    const f = this.flags[k]!;
    if (f & SEG_LOST) this.lostBytes -= seqDiff(this.endSeq[k]!, this.startSeq[k]!);
    this.flags[k] = (f & ~SEG_LOST) | SEG_RETRANSMITTED;
    this.xmitTime[k] = now;
  }

  private rackUpdate(k: number, now: number, minRtt: number): void {
    // RFC 8985 6.2 step 2: ignore ambiguous samples from retransmitted segments that came back too fast.
    const sent = this.xmitTime[k]!;
    if ((this.flags[k]! & SEG_RETRANSMITTED) && now - sent < minRtt) return;
    const end = this.endSeq[k]!;
    if (sent > this.rackXmitTime || (sent === this.rackXmitTime && seqGT(end, this.rackEndSeq))) {
      this.rackXmitTime = sent;
      this.rackEndSeq = end;
      this.rackRtt = now - sent;
    }
  }

  /**
   * Drop records fully below `una` (trimming a partly acknowledged one). Returns the earliest transmit time among
   * never-retransmitted records newly acknowledged (an RTT sample source, Karn's rule), or -1.
   */
  ackTo(una: number, now: number, minRtt: number): number {
    let rttFrom = -1;
    this.ackedRetransmitted = false;
    while (this.count > 0) {
      const k = this.head;
      const s = this.startSeq[k]!, e = this.endSeq[k]!, f = this.flags[k]!;
      if (seqLE(e, una)) {
        const len = seqDiff(e, s);
        if (f & SEG_RETRANSMITTED) this.ackedRetransmitted = true;
        if (f & SEG_SACKED) this.sackedBytes -= len;
        else {
          if (f & SEG_LOST) this.lostBytes -= len;
          // RFC 8985 6.2 step 3: an unsacked segment below a SACKed one was delivered out of order.
          if (this.sackSeen && seqLT(e, this.highestSacked)) this.reorderingSeen = true;
          this.rackUpdate(k, now, minRtt);
          if (!(f & SEG_RETRANSMITTED) && rttFrom < 0) rttFrom = this.xmitTime[k]!;
        }
        this.head = (this.head + 1) & (this.cap - 1);
        this.count--;
        continue;
      }
      if (seqLT(s, una)) {
        const cut = seqDiff(una, s);
        if (f & SEG_SACKED) this.sackedBytes -= cut;
        else if (f & SEG_LOST) this.lostBytes -= cut;
        this.startSeq[k] = una;
      }
      break;
    }
    if (this.count === 0) {
      this.sackedBytes = 0;
      this.lostBytes = 0;
    }
    return rttFrom;
  }

  /** Index of the first record ending after `seq` (records are sorted and contiguous), or count. */
  private firstEndingAfter(seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLE(this.endSeq[this.idx(mid)]!, seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Apply one SACK block [left, right): marks records fully inside it. Returns newly SACKed bytes. */
  markSacked(left: number, right: number, now: number, minRtt: number): number {
    let newly = 0;
    // Start at the block by binary search: a hostile peer SACKing near SND.NXT must not cost a walk over every
    // record on every ACK.
    for (let i = this.firstEndingAfter(left); i < this.count; i++) {
      const k = this.idx(i);
      const s = this.startSeq[k]!, e = this.endSeq[k]!;
      if (seqGE(s, right)) break;
      if (seqLT(s, left) || seqGT(e, right)) continue;
      const f = this.flags[k]!;
      if (f & SEG_SACKED) continue;
      const len = seqDiff(e, s);
      if (f & SEG_LOST) this.lostBytes -= len;
      this.flags[k] = (f & ~SEG_LOST) | SEG_SACKED;
      this.sackedBytes += len;
      newly += len;
      if (this.sackSeen && seqLT(e, this.highestSacked)) this.reorderingSeen = true;
      this.rackUpdate(k, now, minRtt);
    }
    if (newly > 0) {
      if (!this.sackSeen || seqGT(right, this.highestSacked)) this.highestSacked = right;
      this.sackSeen = true;
    }
    return newly;
  }

  /**
   * Mark lost segments. RACK (RFC 8985 6.2 step 5): a segment sent before the most recently delivered one is lost
   * once rack.rtt + reoWnd has passed since it was sent; otherwise the returned value is how long until it would be
   * (for the reorder timer), or -1. RFC 6675 IsLost: DupThresh SACKed segments (or that many MSS of SACKed bytes)
   * above it. Returns the reorder-timer delay or -1.
   */
  detectLosses(now: number, reoWnd: number, mss: number): number {
    if (this.sackedBytes === 0 || this.count === 0) return -1;
    let timeout = -1;
    // Pass 1 (RFC 6675): walk from the top, counting SACKed segments above.
    let sackedAbove = 0;
    let sackedBytesAbove = 0;
    for (let i = this.count - 1; i >= 0; i--) {
      const k = this.idx(i);
      const f = this.flags[k]!;
      const len = seqDiff(this.endSeq[k]!, this.startSeq[k]!);
      if (f & SEG_SACKED) {
        sackedAbove++;
        sackedBytesAbove += len;
        continue;
      }
      if (f & SEG_LOST) continue;
      const byDupThresh =
        !(f & SEG_RETRANSMITTED) &&
        (sackedAbove >= DUP_THRESH || sackedBytesAbove > (DUP_THRESH - 1) * mss) &&
        !this.reorderingSeen;
      let byRack = false;
      const sent = this.xmitTime[k]!;
      if (this.rackXmitTime >= 0 && (sent < this.rackXmitTime || (sent === this.rackXmitTime && seqLT(this.endSeq[k]!, this.rackEndSeq)))) {
        const remaining = sent + this.rackRtt + reoWnd - now;
        if (remaining <= 0) byRack = true;
        else if (timeout < 0 || remaining < timeout) timeout = remaining;
      }
      if (byDupThresh || byRack) {
        this.flags[k] = f | SEG_LOST;
        this.lostBytes += len;
      }
    }
    return timeout;
  }

  /**
   * RTO (RFC 6298 5.4, RFC 6675 5.1): everything not SACKed is considered lost. If the record at SND.UNA is marked
   * SACKed, the receiver has reneged (RFC 2018 8 lets it discard SACKed data; Linux does under memory pressure):
   * a receiver still holding it would have ACKed it cumulatively. Then all SACK marks are dropped and everything is
   * lost, as RFC 2018 8 and Linux's tcp_timeout_mark_lost do; keeping them would never resend the reneged data and
   * every later RTO would find nothing to send until the connection timed out.
   */
  markAllLost(): void {
    const reneged = this.count > 0 && (this.flags[this.head]! & SEG_SACKED) !== 0;
    if (reneged) {
      this.sackedBytes = 0;
      this.sackSeen = false;
    }
    this.lostBytes = 0;
    for (let i = 0; i < this.count; i++) {
      const k = this.idx(i);
      let f = this.flags[k]!;
      if (reneged) f &= ~SEG_SACKED;
      else if (f & SEG_SACKED) continue;
      this.flags[k] = f | SEG_LOST;
      this.lostBytes += seqDiff(this.endSeq[k]!, this.startSeq[k]!);
    }
  }

  /** Mark one record lost (3 duplicate ACKs without SACK, RFC 5681 3.2; NewReno partial ACK, RFC 6582). */
  markOneLost(i: number): void {
    const k = this.idx(i);
    const f = this.flags[k]!;
    if (f & (SEG_LOST | SEG_SACKED)) return;
    this.flags[k] = f | SEG_LOST;
    this.lostBytes += seqDiff(this.endSeq[k]!, this.startSeq[k]!);
  }

  /**
   * Index of the first record marked lost at or after `from`, or -1. A caller retransmitting several records passes
   * the index after the previous one, so a window of n lost records costs O(n), not O(n^2): with a peer's 64-byte
   * MSS a 1 MiB send buffer is 16384 records.
   */
  firstLost(from = 0): number {
    if (this.lostBytes === 0) return -1;
    for (let i = Math.max(0, from); i < this.count; i++) if (this.flags[this.idx(i)]! & SEG_LOST) return i;
    return -1;
  }

  /** Split record i at `at` (start < at < end) so a retransmission can be smaller than the original. */
  split(i: number, at: number): void {
    if (this.count === this.cap) this.grow();
    const k = this.idx(i);
    const s = this.startSeq[k]!, e = this.endSeq[k]!;
    if (!(seqGT(at, s) && seqLT(at, e))) return;
    // Shift later records up by one.
    for (let j = this.count; j > i + 1; j--) {
      const to = this.idx(j), from = this.idx(j - 1);
      this.startSeq[to] = this.startSeq[from]!; this.endSeq[to] = this.endSeq[from]!;
      this.xmitTime[to] = this.xmitTime[from]!; this.flags[to] = this.flags[from]!;
    }
    const n = this.idx(i + 1);
    this.startSeq[n] = at; this.endSeq[n] = e; this.xmitTime[n] = this.xmitTime[k]!; this.flags[n] = this.flags[k]!;
    this.endSeq[k] = at;
    this.count++;
  }

  /** Most recent transmit time among records (for TLP). */
  lastIndex(): number {
    return this.count - 1;
  }

  clear(): void {
    this.count = 0;
    this.head = 0;
    this.sackedBytes = 0;
    this.lostBytes = 0;
    this.sackSeen = false;
  }
}

// Unit tests of TCP's building blocks: sequence arithmetic, RTO estimation, congestion control, the receive
// reassembly buffer and the transmit queue's SACK/loss bookkeeping.

import { describe, expect, it } from 'vitest';
import { CubicCongestionControl, RenoCongestionControl } from './congestion-control.js';
import { MAX_OUT_OF_ORDER_PIECES, ReceiveBuffer } from './receive-buffer.js';
import { RttEstimator } from './rtt-estimator.js';
import { seqAdd, seqDiff, seqGT, seqInRange, seqLT } from './seqnum.js';
import { SEG_LOST, SEG_SACKED, TransmitQueue } from './transmit-queue.js';

describe('sequence arithmetic', () => {
  it('compares across the 2^32 wrap', () => {
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqLT(0xfffffff0, 0x10)).toBe(true);
    expect(seqGT(0x10, 0xfffffff0)).toBe(true);
    expect(seqDiff(0x10, 0xfffffff0)).toBe(0x20);
    expect(seqInRange(0x5, 0xfffffff0, 0x10)).toBe(true);
    expect(seqInRange(0x10, 0xfffffff0, 0x10)).toBe(false);
  });
});

describe('RttEstimator (RFC 6298)', () => {
  it('follows the RFC 6298 2.2/2.3 formulas, clamps and backs off', () => {
    const r = new RttEstimator({ minRtoMs: 200, maxRtoMs: 60_000, initialRtoMs: 1000, granularityMs: 1 });
    expect(r.rto()).toBe(1000);
    r.sample(100);
    expect(r.srtt).toBe(100);
    expect(r.rttvar).toBe(50);
    expect(r.rto()).toBe(300);
    r.sample(200);
    expect(r.rttvar).toBeCloseTo(62.5);
    expect(r.srtt).toBeCloseTo(112.5);
    expect(r.rto()).toBeCloseTo(362.5);
    r.backoff();
    r.backoff();
    expect(r.rto()).toBeCloseTo(1450);
    for (let i = 0; i < 20; i++) r.backoff();
    expect(r.rto()).toBe(60_000);
    r.sample(1);
    expect(r.rto()).toBeGreaterThanOrEqual(200); // floor, and the backoff is cleared by a new sample
    expect(r.rto()).toBeLessThan(1000);
  });
});

describe('congestion control', () => {
  it('Reno: slow start doubles per RTT, avoidance adds one MSS per RTT, loss halves', () => {
    const cc = new RenoCongestionControl(1000);
    expect(cc.cwnd).toBe(10_000);
    cc.onAck(10_000, 0, 100);
    expect(cc.cwnd).toBe(20_000);
    cc.onCongestionEvent(0, 20_000);
    expect(cc.ssthresh).toBe(10_000);
    expect(cc.cwnd).toBe(10_000);
    cc.onAck(10_000, 100, 100); // one full window acknowledged
    expect(cc.cwnd).toBe(11_000);
    cc.onRetransmissionTimeout(200, 11_000);
    expect(cc.cwnd).toBe(1000);
    expect(cc.ssthresh).toBe(5500);
  });

  it('CUBIC: reduces to beta*W and regains W_max after K seconds (RFC 9438 4.2, 4.6)', () => {
    const mss = 1000;
    const cc = new CubicCongestionControl(mss);
    cc.ssthresh = 0; // start in congestion avoidance
    cc.cwnd = 100 * mss;
    cc.onCongestionEvent(0, 100 * mss);
    expect(cc.cwnd).toBe(70 * mss);
    const k = Math.cbrt((100 * (1 - 0.7)) / 0.4); // about 4.2 s
    // A long RTT keeps the Reno-friendly estimate (RFC 9438 4.3, +0.53 segment per RTT) below the cubic curve.
    const rtt = 200;
    let now = 0;
    const samples: number[] = [];
    while (now < 8000) {
      now += rtt;
      // One window of ACKs per RTT, one MSS each.
      const segs = Math.floor(cc.cwnd / mss);
      for (let i = 0; i < segs; i++) cc.onAck(mss, now, rtt);
      samples.push(cc.cwnd / mss);
    }
    expect(cc.kSeconds).toBeCloseTo(k, 1);
    const atK = samples[Math.round((k * 1000) / rtt) - 1]!;
    expect(atK).toBeGreaterThan(95);
    expect(atK).toBeLessThan(106);
    // Concave before K (growth slows approaching W_max), convex after (growth speeds up).
    const growth = (i: number) => samples[i + 3]! - samples[i]!;
    expect(growth(1)).toBeGreaterThan(growth(15));
    expect(growth(36)).toBeGreaterThan(growth(24));
    // Faster than Reno's one segment per RTT once past W_max.
    expect(samples.at(-1)!).toBeGreaterThan(115); // Reno would be at 70 + 40 = 110 after 40 RTTs
  });
});

describe('ReceiveBuffer', () => {
  it('queues out-of-order data, reports SACK blocks (latest first) and joins holes', () => {
    const rb = new ReceiveBuffer(1000);
    const d = (n: number, v: number) => new Uint8Array(n).fill(v);
    let nxt = 100;
    nxt = rb.insert(300, d(50, 3), nxt); // [300, 350)
    nxt = rb.insert(200, d(50, 2), nxt); // [200, 250)
    expect(nxt).toBe(100);
    const blocks = new Uint32Array(8);
    expect(rb.sackBlocks(blocks, 4)).toBe(2);
    expect(Array.from(blocks.subarray(0, 4))).toEqual([200, 250, 300, 350]);
    nxt = rb.insert(250, d(50, 9), nxt); // joins the two: [200, 350)
    expect(rb.sackBlocks(blocks, 4)).toBe(1);
    expect(Array.from(blocks.subarray(0, 2))).toEqual([200, 350]);
    nxt = rb.insert(90, d(110, 1), nxt); // [90, 200): 10 old bytes trimmed, fills the hole
    expect(nxt).toBe(350);
    expect(rb.readable).toBe(250);
    expect(rb.outOfOrderSegments).toBe(0);
    const out = new Uint8Array(250);
    rb.read(out);
    expect(out[0]).toBe(1);
    expect(out[99]).toBe(1);
    expect(out[100]).toBe(2);
    expect(out[150]).toBe(9);
    expect(out[249]).toBe(3);
  });

  it('keeps the first copy of overlapping out-of-order data and never exceeds capacity', () => {
    const rb = new ReceiveBuffer(100);
    let nxt = 0;
    nxt = rb.insert(10, new Uint8Array(20).fill(1), nxt);
    nxt = rb.insert(5, new Uint8Array(40).fill(2), nxt); // overlaps [10, 30)
    nxt = rb.insert(0, new Uint8Array(200).fill(3), nxt);
    expect(rb.readable).toBe(100);
    const out = new Uint8Array(100);
    rb.read(out);
    expect(out[4]).toBe(3);
    expect(out[7]).toBe(3); // the in-order copy arrived covering [0, 100) and was written first
    expect(nxt).toBeGreaterThanOrEqual(45);
  });
});

describe('ReceiveBuffer limits', () => {
  it('caps the number of out-of-order pieces a peer can make us keep', () => {
    const rb = new ReceiveBuffer(1 << 20);
    for (let i = 0; i < MAX_OUT_OF_ORDER_PIECES + 100; i++) rb.insert(1000 + i * 2, new Uint8Array(1), 0);
    expect(rb.outOfOrderSegments).toBe(MAX_OUT_OF_ORDER_PIECES);
    expect(rb.droppedOutOfOrder).toBe(100);
    // In-order data still flows and pulls what is queued.
    // Pieces sit at 1000, 1002, 1004, ...: data up to 1002 joins the piece at 1002 and stops at the hole at 1003.
    const nxt = rb.insert(0, new Uint8Array(1002), 0);
    expect(nxt).toBe(1003);
    expect(rb.outOfOrderSegments).toBe(MAX_OUT_OF_ORDER_PIECES - 2);
  });
});

describe('TransmitQueue', () => {
  it('marks SACKed records, detects a loss below three SACKed segments and trims on cumulative ACK', () => {
    const q = new TransmitQueue();
    for (let i = 0; i < 6; i++) q.push(1000 + i * 100, 1100 + i * 100, i);
    // Segment 1 [1100,1200) lost; 2..4 SACKed.
    q.ackTo(1100, 10, 0);
    expect(q.count).toBe(5);
    expect(q.markSacked(1200, 1500, 10, 0)).toBe(300);
    expect(q.sackedBytes).toBe(300);
    expect(q.reorderingSeen).toBe(false);
    q.detectLosses(10, 1000, 100);
    expect(q.flagsAt(0) & SEG_LOST).toBe(SEG_LOST);
    expect(q.lostBytes).toBe(100);
    expect(q.flagsAt(4) & (SEG_LOST | SEG_SACKED)).toBe(0); // above the highest SACK: not lost
    expect(q.firstLost()).toBe(0);
    q.markRetransmitted(0, 11);
    expect(q.lostBytes).toBe(0);
    q.ackTo(1550, 20, 0);
    expect(q.count).toBe(1);
    expect(q.start(0)).toBe(1550);
    expect(q.sackedBytes).toBe(0);
  });

  it('forgets SACK marks on an RTO when the receiver reneged (the record at SND.UNA is SACKed)', () => {
    const q = new TransmitQueue();
    for (let i = 0; i < 4; i++) q.push(i * 100, (i + 1) * 100, i);
    q.markSacked(200, 400, 5, 0); // records 2 and 3 SACKed; 0 and 1 outstanding
    q.markAllLost(); // no reneging yet: SACKed records stay SACKed
    expect(q.lostBytes).toBe(200);
    expect(q.sackedBytes).toBe(200);
    q.ackTo(200, 6, 0); // the hole is repaired; the SACKed data at SND.UNA was discarded by the receiver
    expect(q.flagsAt(0) & SEG_SACKED).toBe(SEG_SACKED);
    q.markAllLost();
    expect(q.sackedBytes).toBe(0);
    expect(q.lostBytes).toBe(200);
    expect(q.firstLost()).toBe(0);
    expect(q.flagsAt(1) & (SEG_LOST | SEG_SACKED)).toBe(SEG_LOST);
  });

  it('finds SACKed and lost records without walking the whole queue (a 64-byte-MSS peer makes 16384 records)', () => {
    const q = new TransmitQueue();
    const n = 16384;
    for (let i = 0; i < n; i++) q.push(i * 64, (i + 1) * 64, i);
    // A hostile peer SACKs one record at a time from the top down, one ACK each: with a walk from SND.UNA on every
    // block this was n^2/2 steps (seconds); a binary search to the block makes it milliseconds.
    const t0 = performance.now();
    let newly = 0;
    for (let k = 0; k < n - 1; k++) newly += q.markSacked((n - 1 - k) * 64, (n - k) * 64, 1, 0);
    const elapsed = performance.now() - t0;
    expect(newly).toBe((n - 1) * 64);
    expect(elapsed).toBeLessThan(1000); // about 10 ms; the walk from SND.UNA took 3-8 s here
    expect(q.sackedBytes).toBe((n - 1) * 64);
    // SACK blocks that straddle or miss records mark nothing.
    expect(q.markSacked(32, 96, 1, 0)).toBe(0);
    q.markAllLost();
    expect(q.firstLost()).toBe(0);
    expect(q.firstLost(1)).toBe(-1); // every later record is SACKed
    q.markRetransmitted(0, 2);
    expect(q.firstLost()).toBe(-1);
  });

  it('RACK marks a segment sent before a delivered one lost after the reordering window', () => {
    const q = new TransmitQueue();
    q.push(0, 100, 0);
    q.push(100, 200, 5);
    q.markSacked(100, 200, 30, 0); // delivered; rack.rtt = 25, rack.xmit = 5
    const wait = q.detectLosses(30, 10, 1000); // segment 0 sent at 0: lost at 0 + 25 + 10 = 35
    expect(wait).toBeCloseTo(5);
    expect(q.lostBytes).toBe(0);
    q.detectLosses(35, 10, 1000);
    expect(q.lostBytes).toBe(100);
  });
});

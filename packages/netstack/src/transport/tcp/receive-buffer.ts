// Receive side: in-order bytes wait in a ring for the application; out-of-order segments wait in a short sorted
// list until the hole before them fills (RFC 9293 3.10.7.4 "seventh, process the segment text"). The out-of-order
// ranges are what we report in SACK blocks (RFC 2018 section 4).

import { seqAdd, seqDiff, seqGE, seqGT, seqLE, seqLT } from './seqnum.js';

interface OutOfOrderSegment {
  seq: number;
  end: number;
  data: Uint8Array;
}

const INITIAL_STORAGE = 16 * 1024;
/**
 * Most out-of-order pieces kept. Each piece costs an object and a copy, so a peer spraying tiny disjoint segments
 * could otherwise make us keep one per byte of window; beyond this, new out-of-order data is dropped and will be
 * retransmitted (Linux similarly prunes its out-of-order queue under memory pressure, tcp_prune_ofo_queue).
 */
export const MAX_OUT_OF_ORDER_PIECES = 2048;

export class ReceiveBuffer {
  /** Ring storage; starts small and doubles up to `capacity` (SO_RCVBUF) as data waits to be read. */
  private buf: Uint8Array;
  private head = 0;
  /** In-order bytes ready for the application. */
  readable = 0;
  private readonly ooo: OutOfOrderSegment[] = [];
  /** Bytes held out of order (counted against the window we advertise). */
  oooBytes = 0;
  /** Out-of-order segments dropped because MAX_OUT_OF_ORDER_PIECES were queued. */
  droppedOutOfOrder = 0;
  /** Sequence number of the most recently received out-of-order segment's start, for SACK block ordering. */
  private lastOooSeq = 0;

  constructor(public capacity: number) {
    this.buf = new Uint8Array(Math.min(capacity, INITIAL_STORAGE));
  }

  private reserve(need: number): void {
    if (need <= this.buf.length) return;
    let size = this.buf.length;
    while (size < need) size *= 2;
    size = Math.min(Math.max(size, need), Math.max(this.capacity, need));
    const next = new Uint8Array(size);
    this.peek(next.subarray(0, this.readable));
    this.buf = next;
    this.head = 0;
  }

  /** Space left for new data, in-order and out-of-order together. */
  get free(): number {
    return this.capacity - this.readable - this.oooBytes;
  }

  private push(src: Uint8Array): void {
    this.reserve(this.readable + src.length);
    const cap = this.buf.length;
    const tail = (this.head + this.readable) % cap;
    const n = src.length;
    const first = Math.min(n, cap - tail);
    this.buf.set(src.subarray(0, first), tail);
    if (first < n) this.buf.set(src.subarray(first), 0);
    this.readable += n;
  }

  /**
   * Accept payload starting at `seq` given RCV.NXT = `rcvNxt`; data beyond rcvNxt + window must already be trimmed
   * by the caller. Returns the new RCV.NXT (advanced by in-order data, including queued segments it joined).
   */
  insert(seq: number, data: Uint8Array, rcvNxt: number): number {
    // Trim the part already received.
    if (seqLT(seq, rcvNxt)) {
      const skip = seqDiff(rcvNxt, seq);
      if (skip >= data.length) return rcvNxt;
      data = data.subarray(skip);
      seq = rcvNxt;
    }
    if (data.length === 0) return rcvNxt;
    if (seq !== rcvNxt) {
      this.queueOutOfOrder(seq, data);
      return rcvNxt;
    }
    // Queued segments this data covers entirely are superseded: their space counts as room.
    const end = seqAdd(seq, data.length);
    while (this.ooo.length > 0 && seqLE(this.ooo[0]!.end, end)) {
      this.oooBytes -= this.ooo.shift()!.data.length;
    }
    const room = this.capacity - this.readable - this.oooBytes;
    if (data.length > room) data = data.subarray(0, Math.max(0, room));
    this.push(data);
    rcvNxt = seqAdd(rcvNxt, data.length);
    // Pull queued segments that are now contiguous.
    const q = this.ooo;
    let k = 0;
    while (k < q.length && seqLE(q[k]!.seq, rcvNxt)) {
      const s = q[k++]!;
      this.oooBytes -= s.data.length;
      if (seqGT(s.end, rcvNxt)) {
        const tail = s.data.subarray(seqDiff(rcvNxt, s.seq));
        this.push(tail);
        rcvNxt = seqAdd(rcvNxt, tail.length);
      }
    }
    if (k > 0) q.splice(0, k);
    return rcvNxt;
  }

  /**
   * Keep the bytes of [seq, seq+len) not already queued. Pieces stay sorted and non-overlapping but are not
   * concatenated (that would copy a growing block on every arrival); sackBlocks() coalesces adjacent pieces.
   */
  private queueOutOfOrder(seq: number, data: Uint8Array): void {
    if (data.length > this.free) data = data.subarray(0, Math.max(0, this.free));
    if (data.length === 0) return;
    const end = seqAdd(seq, data.length);
    this.lastOooSeq = seq;
    const q = this.ooo;
    if (q.length >= MAX_OUT_OF_ORDER_PIECES) {
      this.droppedOutOfOrder++;
      return;
    }
    // Common case: beyond everything queued (the hole is further back).
    if (q.length === 0 || seqGE(seq, q[q.length - 1]!.end)) {
      q.push({ seq, end, data: data.slice() });
      this.oooBytes += data.length;
      return;
    }
    // Binary search: first piece ending after seq.
    let lo = 0;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLE(q[mid]!.end, seq)) lo = mid + 1;
      else hi = mid;
    }
    const added: OutOfOrderSegment[] = [];
    let cur = seq;
    let j = lo;
    while (j < q.length && seqLT(q[j]!.seq, end)) {
      const s = q[j]!;
      if (seqLT(cur, s.seq)) added.push({ seq: cur, end: s.seq, data: data.slice(seqDiff(cur, seq), seqDiff(s.seq, seq)) });
      if (seqGT(s.end, cur)) cur = s.end;
      j++;
    }
    if (seqLT(cur, end)) added.push({ seq: cur, end, data: data.slice(seqDiff(cur, seq)) });
    if (added.length === 0) return;
    for (const a of added) this.oooBytes += a.data.length;
    // Interleave the new pieces with the existing ones in [lo, j).
    const merged = q.slice(lo, j).concat(added).sort((a, b) => seqDiff(a.seq, b.seq));
    q.splice(lo, j - lo, ...merged);
  }

  /** Copy up to dst.length in-order bytes out; returns the count. */
  read(dst: Uint8Array): number {
    const n = Math.min(dst.length, this.readable);
    if (n === 0) return 0;
    const cap = this.buf.length;
    const first = Math.min(n, cap - this.head);
    dst.set(this.buf.subarray(this.head, this.head + first), 0);
    if (first < n) dst.set(this.buf.subarray(0, n - first), first);
    this.head = (this.head + n) % cap;
    this.readable -= n;
    if (this.readable === 0) this.head = 0;
    return n;
  }

  /** Copy without consuming (MSG_PEEK). */
  peek(dst: Uint8Array): number {
    const n = Math.min(dst.length, this.readable);
    const cap = this.buf.length;
    const first = Math.min(n, cap - this.head);
    dst.set(this.buf.subarray(this.head, this.head + first), 0);
    if (first < n) dst.set(this.buf.subarray(0, n - first), first);
    return n;
  }

  /**
   * Fill `out` with SACK blocks [left, right) pairs: the block holding the most recent arrival first (RFC 2018 4),
   * then the others in ascending order. Returns the block count (at most max).
   */
  sackBlocks(out: Uint32Array, max: number): number {
    const q = this.ooo;
    if (q.length === 0) return 0;
    // Coalesce adjacent pieces into blocks; remember which block holds the latest arrival.
    let n = 0;
    let first = -1;
    const blocks = this.blockScratch;
    blocks.length = 0;
    for (let i = 0; i < q.length; i++) {
      const s = q[i]!;
      const lastEnd = blocks.length ? blocks[blocks.length - 1]! : -1;
      if (blocks.length && lastEnd === s.seq) blocks[blocks.length - 1] = s.end;
      else blocks.push(s.seq, s.end);
      if (first < 0 && seqGE(this.lastOooSeq, s.seq) && seqLT(this.lastOooSeq, s.end)) first = blocks.length - 2;
    }
    if (first >= 0) {
      out[0] = blocks[first]!;
      out[1] = blocks[first + 1]!;
      n = 1;
    }
    for (let i = 0; i < blocks.length && n < max; i += 2) {
      if (i === first) continue;
      out[n * 2] = blocks[i]!;
      out[n * 2 + 1] = blocks[i + 1]!;
      n++;
    }
    return n;
  }
  private readonly blockScratch: number[] = [];

  get outOfOrderSegments(): number {
    return this.ooo.length;
  }

  /** Highest sequence number held out of order, or undefined. */
  outOfOrderEnd(): number | undefined {
    return this.ooo.length ? this.ooo[this.ooo.length - 1]!.end : undefined;
  }

  resize(capacity: number): void {
    const cap = Math.max(capacity, this.readable + this.oooBytes);
    if (cap === this.capacity) return;
    const next = new Uint8Array(Math.min(cap, Math.max(this.readable, INITIAL_STORAGE)));
    this.peek(next.subarray(0, this.readable));
    this.buf = next;
    this.head = 0;
    this.capacity = cap;
  }
}

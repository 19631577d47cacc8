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

export class ReceiveBuffer {
  /** Ring storage; starts small and doubles up to `capacity` (SO_RCVBUF) as data waits to be read. */
  private buf: Uint8Array;
  private head = 0;
  /** In-order bytes ready for the application. */
  readable = 0;
  private readonly ooo: OutOfOrderSegment[] = [];
  /** Bytes held out of order (counted against the window we advertise). */
  oooBytes = 0;
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
    while (this.ooo.length > 0 && seqLE(this.ooo[0]!.seq, rcvNxt)) {
      const s = this.ooo.shift()!;
      this.oooBytes -= s.data.length;
      if (seqGT(s.end, rcvNxt)) {
        const tail = s.data.subarray(seqDiff(rcvNxt, s.seq));
        this.push(tail);
        rcvNxt = seqAdd(rcvNxt, tail.length);
      }
    }
    return rcvNxt;
  }

  private queueOutOfOrder(seq: number, data: Uint8Array): void {
    if (data.length > this.free) data = data.subarray(0, Math.max(0, this.free));
    if (data.length === 0) return;
    const end = seqAdd(seq, data.length);
    this.lastOooSeq = seq;
    // Find insertion point and merge/trim overlaps with neighbours: keep existing bytes, add only new ones.
    let i = 0;
    while (i < this.ooo.length && seqLT(this.ooo[i]!.end, seq)) i++;
    // Overlaps with ooo[i..] (those starting at or before end).
    const pieces: OutOfOrderSegment[] = [];
    let cur = seq;
    let j = i;
    while (j < this.ooo.length && seqLE(this.ooo[j]!.seq, end)) {
      const s = this.ooo[j]!;
      if (seqLT(cur, s.seq)) {
        pieces.push({ seq: cur, end: s.seq, data: data.slice(seqDiff(cur, seq), seqDiff(s.seq, seq)) });
      }
      if (seqGT(s.end, cur)) cur = s.end;
      j++;
    }
    if (seqLT(cur, end)) pieces.push({ seq: cur, end, data: data.slice(seqDiff(cur, seq)) });
    if (pieces.length === 0) return;
    // Merge pieces and the overlapped existing segments into one contiguous block when they touch.
    const all = [...this.ooo.slice(i, j), ...pieces].sort((a, b) => seqDiff(a.seq, b.seq));
    const merged: OutOfOrderSegment[] = [];
    for (const s of all) {
      const last = merged[merged.length - 1];
      if (last && last.end === s.seq) {
        const joined = new Uint8Array(last.data.length + s.data.length);
        joined.set(last.data);
        joined.set(s.data, last.data.length);
        last.data = joined;
        last.end = s.end;
      } else merged.push({ seq: s.seq, end: s.end, data: s.data });
    }
    for (const p of pieces) this.oooBytes += p.data.length;
    this.ooo.splice(i, j - i, ...merged);
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
    if (this.ooo.length === 0) return 0;
    let n = 0;
    let firstIdx = -1;
    for (let i = 0; i < this.ooo.length; i++) {
      const s = this.ooo[i]!;
      if (seqGE(this.lastOooSeq, s.seq) && seqLT(this.lastOooSeq, s.end)) { firstIdx = i; break; }
    }
    if (firstIdx >= 0) {
      out[0] = this.ooo[firstIdx]!.seq;
      out[1] = this.ooo[firstIdx]!.end;
      n = 1;
    }
    for (let i = 0; i < this.ooo.length && n < max; i++) {
      if (i === firstIdx) continue;
      out[n * 2] = this.ooo[i]!.seq;
      out[n * 2 + 1] = this.ooo[i]!.end;
      n++;
    }
    return n;
  }

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

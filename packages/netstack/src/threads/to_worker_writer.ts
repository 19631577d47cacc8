// The stack thread's producer side of one TCP worker's TO_WORKER ring (wire.ts), the counterpart of
// to_stack_writer.ts: the records whose order matters (WRITE, CONSUMED, CONTROL, ROUTES) are written at once or,
// when the ring is full, wait in a local FIFO and go out in order before anything written after them. WRITE bytes
// of one turn of the event loop are first gathered per endpoint into records of up to WRITE_RECORD_MAX bytes: an
// application writing a few KiB at a time then costs one record and one wake-up of the worker per 64 KiB instead of
// per write; every other record sends them first, so each endpoint's order holds. Received segments do not come
// here: a full ring drops them (TCP retransmits).
//
// Nothing here blocks except writeBlocking/flushBlocking (the synchronous control call), bounded by a timeout; the
// worker never waits for the stack thread, so the wait cannot deadlock.

import type { SharedFrameRing } from '../buffer/shared_ring.js';
import { ENDPOINT_HEADER, ToWorker, writeU32 } from './wire.js';

/** Largest WRITE record payload (the worker stages whatever its endpoint does not take at once). */
export const WRITE_RECORD_MAX = 64 * 1024;
/** Smallest gathering buffer (grown up to WRITE_RECORD_MAX as a turn's writes add up). */
const GATHER_MIN = 4096;

/** WRITE bytes of one endpoint gathered during a turn: buf[ENDPOINT_HEADER, ENDPOINT_HEADER + length). */
interface GatheredWrite {
  buf: Uint8Array;
  length: number;
  flags: number;
}

export class ToWorkerWriter {
  /** Records waiting for room, oldest at `head` (a head index: a long queue drains in linear time). */
  private readonly queue: { meta: number; bytes: Uint8Array }[] = [];
  private head = 0;
  private readonly writes = new Map<number, GatheredWrite>();
  private readonly header = new Uint8Array(ENDPOINT_HEADER);

  /** `onQueued` runs whenever a record has to wait (the pool counts it and schedules a retry). */
  constructor(readonly ring: SharedFrameRing, private readonly onQueued: () => void) {}

  /** Records waiting for room. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Memory the waiting records hold. */
  get queuedMemory(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) n += this.queue[i]!.bytes.buffer.byteLength;
    return n;
  }

  /** Writes `bytes` as one record after the gathered writes and every waiting record; it keeps `bytes` if it waits. */
  write(meta: number, bytes: Uint8Array): void {
    this.sendGathered();
    this.writeInOrder(meta, bytes, false);
  }

  /** A record of ENDPOINT_HEADER only (CONSUMED): endpoint `id`, `arg`. */
  writeEndpointRecord(meta: number, id: number, arg: number): void {
    this.sendGathered();
    const h = this.header;
    writeU32(h, 0, id >>> 0);
    writeU32(h, 4, arg >>> 0);
    this.writeInOrder(meta, h, true);
  }

  /** Gathers WRITE bytes src[start, end) of endpoint `id` (WriteFlags: the last write's flags win). */
  gather(id: number, flags: number, src: Uint8Array, start: number, end: number): void {
    let at = start;
    do {
      let w = this.writes.get(id);
      if (w && w.length === WRITE_RECORD_MAX) {
        this.sendGatheredWrite(id, w);
        w = undefined;
      }
      if (!w) {
        w = { buf: new Uint8Array(ENDPOINT_HEADER + Math.min(WRITE_RECORD_MAX, Math.max(end - at, GATHER_MIN))), length: 0, flags: 0 };
        this.writes.set(id, w);
      }
      const take = Math.min(end - at, WRITE_RECORD_MAX - w.length);
      if (w.buf.length < ENDPOINT_HEADER + w.length + take) {
        const grown = new Uint8Array(ENDPOINT_HEADER + Math.min(WRITE_RECORD_MAX, Math.max(2 * w.length, w.length + take)));
        grown.set(w.buf.subarray(0, ENDPOINT_HEADER + w.length));
        w.buf = grown;
      }
      // One copy, into the record's buffer (8-aligned like the ring's records, so the ring's copy is the fast one).
      w.buf.set(src.subarray(at, at + take), ENDPOINT_HEADER + w.length);
      w.length += take;
      at += take;
      // MORE and END describe the end of what is gathered so far.
      w.flags = at === end ? flags : 0;
    } while (at < end);
  }

  /** Sends the gathered WRITE records (before any other record, so each endpoint's order holds). */
  sendGathered(): void {
    if (this.writes.size === 0) return;
    for (const [id, w] of this.writes) this.sendGatheredWrite(id, w);
    this.writes.clear();
  }

  private sendGatheredWrite(id: number, w: GatheredWrite): void {
    this.writes.delete(id);
    writeU32(w.buf, 0, id >>> 0);
    writeU32(w.buf, 4, w.flags >>> 0);
    const n = ENDPOINT_HEADER + w.length;
    // A waiting record keeps only its bytes: the gathering buffer is at least 4 KiB, and an application writing a
    // byte per turn while the ring is full would otherwise hold 4 KiB per byte of send credit.
    if (this.head === this.queue.length && this.ring.tryWrite(w.buf, 0, n, ToWorker.WRITE)) return;
    this.enqueue(ToWorker.WRITE, w.buf.length > n ? w.buf.slice(0, n) : w.buf);
  }

  private writeInOrder(meta: number, bytes: Uint8Array, copy: boolean): void {
    if (this.head === this.queue.length && this.ring.tryWrite(bytes, 0, bytes.length, meta)) return;
    this.enqueue(meta, copy ? bytes.slice() : bytes);
  }

  private enqueue(meta: number, bytes: Uint8Array): void {
    this.queue.push({ meta, bytes });
    this.onQueued();
  }

  /** Moves waiting records into the ring while it has room; true when none is left. */
  flush(): boolean {
    const q = this.queue;
    while (this.head < q.length) {
      const r = q[this.head]!;
      if (!this.ring.tryWrite(r.bytes, 0, r.bytes.length, r.meta)) return false;
      q[this.head++] = undefined as never; // let the bytes go now
    }
    q.length = 0;
    this.head = 0;
    return true;
  }

  /** Sends the gathered writes and every waiting record, waiting for room up to `deadline` (Date.now() ms). */
  flushBlocking(deadline: number): boolean {
    this.sendGathered();
    while (!this.flush()) {
      const r = this.queue[this.head]!;
      if (!this.waitForRoom(r.bytes, r.meta, deadline)) return false;
      this.queue[this.head++] = undefined as never;
    }
    return true;
  }

  /** Writes one record after flushBlocking, waiting for room up to `deadline`; false on timeout or a closed ring. */
  writeBlocking(meta: number, rec: Uint8Array, deadline: number): boolean {
    return this.flushBlocking(deadline) && this.waitForRoom(rec, meta, deadline);
  }

  private waitForRoom(rec: Uint8Array, meta: number, deadline: number): boolean {
    while (!this.ring.tryWrite(rec, 0, rec.length, meta)) {
      const left = deadline - Date.now();
      if (this.ring.closed || left <= 0) return false;
      this.ring.waitWritable(left);
    }
    return true;
  }

  /** Forgets everything waiting (the worker is gone). */
  clear(): void {
    this.queue.length = 0;
    this.head = 0;
    this.writes.clear();
  }
}

// A TCP worker's producer side of its TO_STACK ring (wire.ts) for the records whose order matters: STATE,
// SEND_CREDIT and ACCEPTED are written at once, or, when the ring is full, wait in a local FIFO and go out in order
// before anything written after them. DATA is written only while that FIFO is empty and the ring surely has room
// for it, so it never overtakes a queued record (an endpoint's DATA never arrives before its ACCEPTED) and never
// has to be queued itself (the bytes stay in the TcpEndpoint until there is room). FRAMEs do not come here: the
// worker's routes write them directly and drop them when the ring is full (TCP retransmits).

import type { SharedFrameRing } from '../buffer/shared_ring.js';

/** Ring record header (shared_ring.ts: length and meta words). */
const RING_RECORD_OVERHEAD = 8;
/** DATA records smaller than this wait for ring room unless they carry everything the endpoint may send. */
const MIN_DATA_CHUNK = 4096;

export class ToStackWriter {
  private readonly queue: { meta: number; bytes: Uint8Array }[] = [];
  private head = 0;

  constructor(readonly ring: SharedFrameRing) {}

  /** Records waiting for room. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Writes a record now, or queues a copy behind earlier ones; false when it was queued. */
  write(meta: number, bytes: Uint8Array, len: number): boolean {
    if (this.head === this.queue.length && this.ring.tryWrite(bytes, 0, len, meta)) return true;
    this.queue.push({ meta, bytes: bytes.slice(0, len) });
    return false;
  }

  /** Moves queued records into the ring while it has room; true when none is left. */
  flush(): boolean {
    const q = this.queue;
    while (this.head < q.length) {
      const r = q[this.head]!;
      if (!this.ring.tryWrite(r.bytes, 0, r.bytes.length, r.meta)) return false;
      this.head++;
    }
    q.length = 0;
    this.head = 0;
    return true;
  }

  /**
   * Payload bytes a record with a `header`-byte header may carry now and surely fit, or 0 while records are
   * queued. We are the ring's only producer: a record plus a possible wrap gap (smaller than the record) fits when
   * the record takes at most half the free space.
   */
  room(header: number): number {
    if (this.head < this.queue.length) return 0;
    const ring = this.ring;
    const free = ring.capacity - ring.used;
    const record = Math.floor(free / 2) & ~7;
    return Math.max(0, Math.min(record - RING_RECORD_OVERHEAD - header, ring.maxFrameSize - header));
  }

  /** The smallest record worth writing while more bytes wait (an eighth of the ring at most, for tiny rings). */
  get minChunk(): number {
    return Math.min(MIN_DATA_CHUNK, this.ring.capacity / 8);
  }

  /** Writes a record that room() said fits; a refusal is a bug in that promise. */
  writeSized(meta: number, bytes: Uint8Array, len: number): void {
    if (!this.ring.tryWrite(bytes, 0, len, meta)) throw new Error('TO_STACK refused a record it had room for');
  }
}

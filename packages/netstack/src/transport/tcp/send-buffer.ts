// Send buffer: a byte ring holding everything from SND.UNA up to the last byte the application wrote. Segments
// (first transmissions and retransmissions) are cut from it on demand, so no per-segment copies are kept.
// Storage starts small and doubles up to `capacity` (SO_SNDBUF) as data is queued, so idle and half-open
// connections cost little memory.

const INITIAL_STORAGE = 16 * 1024;

export class SendBuffer {
  private buf: Uint8Array;
  /** Ring index of the byte at SND.UNA. */
  private head = 0;
  /** Bytes held (unacknowledged + not yet sent). */
  length = 0;

  constructor(public capacity: number) {
    this.buf = new Uint8Array(Math.min(capacity, INITIAL_STORAGE));
  }

  /** Grow storage (never beyond capacity) so that `need` bytes fit, linearising the ring. */
  private reserve(need: number): void {
    if (need <= this.buf.length) return;
    let size = this.buf.length;
    while (size < need) size *= 2;
    size = Math.min(Math.max(size, need), this.capacity);
    const next = new Uint8Array(size);
    this.copyOut(0, this.length, next, 0);
    this.buf = next;
    this.head = 0;
  }

  get free(): number {
    return this.capacity - this.length;
  }

  /** Append up to `free` bytes of src; returns how many were taken. */
  write(src: Uint8Array): number {
    const n = Math.min(src.length, this.free);
    if (n === 0) return 0;
    this.reserve(this.length + n);
    const cap = this.buf.length;
    const tail = (this.head + this.length) % cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(src.subarray(0, first), tail);
    if (first < n) this.buf.set(src.subarray(first, n), 0);
    this.length += n;
    return n;
  }

  /** Copy `len` bytes starting `offset` bytes after SND.UNA into dst[at]. */
  copyOut(offset: number, len: number, dst: Uint8Array, at: number): void {
    const cap = this.buf.length;
    const start = (this.head + offset) % cap;
    const first = Math.min(len, cap - start);
    dst.set(this.buf.subarray(start, start + first), at);
    if (first < len) dst.set(this.buf.subarray(0, len - first), at + first);
  }

  /** Drop n acknowledged bytes from the front. */
  consume(n: number): void {
    const k = Math.min(n, this.length);
    this.head = (this.head + k) % this.buf.length;
    this.length -= k;
    if (this.length === 0) this.head = 0;
  }

  /** Grow (SO_SNDBUF); shrinking below what is held is refused by keeping the larger size. */
  resize(capacity: number): void {
    const cap = Math.max(capacity, this.length);
    if (cap === this.capacity) return;
    const next = new Uint8Array(Math.min(cap, Math.max(this.length, INITIAL_STORAGE)));
    this.copyOut(0, this.length, next, 0);
    this.buf = next;
    this.head = 0;
    this.capacity = cap;
  }
}

// A single-producer single-consumer ring of variable-length frames in a SharedArrayBuffer, for handing packets
// between worker_threads without postMessage copies (design.md "Netstack": threading). The producer copies a frame
// in (one copy); the consumer reads it in place through a view of the shared memory and then releases it.
//
// Layout: a 64-byte control block of Int32 slots, then `capacity` bytes of records. Positions are free-running
// 32-bit counters (they wrap; only their difference matters), so "full" and "empty" are never ambiguous.
// Each record is [length:int32, meta:int32, bytes, padding to 8]; a record that would straddle the end of the
// buffer is preceded by a wrap marker (length -1) and placed at the start instead.
//
// Ordering: the producer writes the record with plain stores and publishes it with Atomics.store of the write
// position; the consumer Atomics.loads that position before reading, which (JavaScript memory model,
// ECMA-262 "Shared Memory Guidelines") makes the record's bytes visible. The consumer releases space the same way
// through the read position. Either side may block with Atomics.wait on the other's position (wait()
// must not be used on a browser main thread; Node allows it anywhere).
//
// This file imports nothing, so a worker can load it on its own.

const CTL_BYTES = 64;
const WRITE = 0;
const READ = 1;
const CLOSED = 2;
const RECORD_HEADER = 8;
const WRAP_MARKER = -1;

/** Atomics.waitAsync (Node 16+, ES2024): typed here because the project's lib is ES2023. */
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const atomicsWaitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number, timeout: number): WaitAsyncResult;
}).waitAsync;

/** Where a frame sits in the ring's data region (valid until release()). */
export interface RingFrame {
  /** The data region; the frame is bytes[offset, offset + length). Shared memory: copy to keep. */
  bytes: Uint8Array;
  offset: number;
  length: number;
  meta: number;
}

export class SharedFrameRing {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  /** The data region (after the control block). */
  readonly data: Uint8Array;
  private readonly ctl: Int32Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  /** The consumer's pending frame (reused: reading allocates nothing). */
  private readonly frame: RingFrame;
  private pendingEnd = -1;

  private constructor(sab: SharedArrayBuffer) {
    const capacity = sab.byteLength - CTL_BYTES;
    if (capacity < 64 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`EINVAL: a frame ring needs a power-of-two data size of at least 64 bytes, got ${capacity}`);
    }
    this.sab = sab;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.ctl = new Int32Array(sab, 0, CTL_BYTES / 4);
    this.data = new Uint8Array(sab, CTL_BYTES, capacity);
    this.words = new Int32Array(sab, CTL_BYTES, capacity / 4);
    this.frame = { bytes: this.data, offset: 0, length: 0, meta: 0 };
  }

  /** A new ring with `capacity` data bytes (rounded up to a power of two, at most 1 GiB). */
  static create(capacity: number): SharedFrameRing {
    if (!(capacity > 0) || capacity > 1 << 30) throw new RangeError(`EINVAL: ring capacity ${capacity} out of range`);
    let c = 64;
    while (c < capacity) c *= 2;
    return new SharedFrameRing(new SharedArrayBuffer(CTL_BYTES + c));
  }

  /** The same ring seen from another thread (pass `sab` in workerData or a message). */
  static attach(sab: SharedArrayBuffer): SharedFrameRing {
    return new SharedFrameRing(sab);
  }

  /** Largest frame that can ever fit. */
  get maxFrameSize(): number { return this.capacity / 2 - RECORD_HEADER; }

  /** Bytes in use (records, padding and wrap gaps). */
  get used(): number { return (Atomics.load(this.ctl, WRITE) - Atomics.load(this.ctl, READ)) >>> 0; }

  get closed(): boolean { return Atomics.load(this.ctl, CLOSED) !== 0; }

  // ---- producer side

  /**
   * Copies src[start, end) in as one frame with a 32-bit `meta` word (e.g. the EtherType). Returns false if the
   * ring is full or closed (the caller drops or waits with waitWritable); throws if the frame can never fit.
   */
  tryWrite(src: Uint8Array, start = 0, end = src.length, meta = 0): boolean {
    const len = end - start;
    if (len < 0 || len > this.maxFrameSize) throw new RangeError(`EINVAL: frame of ${len} bytes does not fit a ${this.capacity}-byte ring`);
    if (Atomics.load(this.ctl, CLOSED) !== 0) return false;
    const w = Atomics.load(this.ctl, WRITE);
    const r = Atomics.load(this.ctl, READ);
    const free = this.capacity - ((w - r) >>> 0);
    const size = RECORD_HEADER + ((len + 7) & ~7);
    let at = w & this.mask;
    const toEnd = this.capacity - at;
    const gap = toEnd < size ? toEnd : 0;
    if (gap + size > free) return false;
    if (gap > 0) {
      this.words[at >> 2] = WRAP_MARKER;
      at = 0;
    }
    this.words[at >> 2] = len;
    this.words[(at >> 2) + 1] = meta | 0;
    this.data.set(src.subarray(start, end), at + RECORD_HEADER);
    Atomics.store(this.ctl, WRITE, (w + gap + size) | 0);
    Atomics.notify(this.ctl, WRITE);
    return true;
  }

  /** Blocks until the ring is less than half full or `timeoutMs` passes; false on timeout or close. */
  waitWritable(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = Atomics.load(this.ctl, READ);
      const w = Atomics.load(this.ctl, WRITE);
      if (((w - r) >>> 0) < this.capacity / 2) return true;
      if (this.closed) return false;
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.ctl, READ, r, left) === 'timed-out') return false;
      // Woken: the consumer released something, the ring closed, or a late notify for an earlier release (a
      // spurious wakeup); the loop tells them apart.
    }
  }

  // ---- consumer side

  /**
   * The oldest unreleased frame, viewed in place, or null if the ring is empty. Call release() when done with it;
   * calling peek() again before release() returns the same frame.
   */
  peek(): RingFrame | null {
    const w = Atomics.load(this.ctl, WRITE);
    let r = Atomics.load(this.ctl, READ);
    if (w === r) return null;
    let at = r & this.mask;
    let len = this.words[at >> 2];
    if (len === WRAP_MARKER) {
      r = (r + (this.capacity - at)) | 0;
      Atomics.store(this.ctl, READ, r);
      if (w === r) return null;
      at = 0;
      len = this.words[0];
    }
    const f = this.frame;
    f.offset = at + RECORD_HEADER;
    f.length = len;
    f.meta = this.words[(at >> 2) + 1];
    this.pendingEnd = (r + RECORD_HEADER + ((len + 7) & ~7)) | 0;
    return f;
  }

  /**
   * Up to `max` of the oldest unreleased frames, in place, without releasing them: frame i is data[out[3i],
   * out[3i] + out[3i+1]) with meta out[3i+2]. Returns the count; release() frees them all. For a consumer that
   * hands a whole batch to one system call (sendmmsg straight from the shared memory).
   */
  peekBatch(max: number, out: Int32Array): number {
    const w = Atomics.load(this.ctl, WRITE);
    let r = Atomics.load(this.ctl, READ);
    let n = 0;
    const limit = Math.min(max, Math.floor(out.length / 3));
    while (n < limit && r !== w) {
      let at = r & this.mask;
      let len = this.words[at >> 2];
      if (len === WRAP_MARKER) {
        r = (r + (this.capacity - at)) | 0;
        if (r === w) break;
        at = 0;
        len = this.words[0];
      }
      out[3 * n] = at + RECORD_HEADER;
      out[3 * n + 1] = len;
      out[3 * n + 2] = this.words[(at >> 2) + 1];
      r = (r + RECORD_HEADER + ((len + 7) & ~7)) | 0;
      n++;
    }
    // A trailing wrap marker with nothing after it is left for the next call.
    this.pendingEnd = n > 0 ? r : -1;
    return n;
  }

  /** Frees the frame returned by peek() (or all frames returned by peekBatch()). */
  release(): void {
    if (this.pendingEnd === -1) return;
    Atomics.store(this.ctl, READ, this.pendingEnd);
    this.pendingEnd = -1;
    Atomics.notify(this.ctl, READ);
  }

  /**
   * Blocks until a frame is available or `timeoutMs` passes; false on timeout, or when closed and drained.
   * A wakeup can come with nothing new to read: the producer notifies after publishing, so a consumer that already
   * took the frame and started waiting may receive that late notify. Such wakeups wait again for the time left.
   */
  waitReadable(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const w = Atomics.load(this.ctl, WRITE);
      if (w !== Atomics.load(this.ctl, READ)) return true;
      if (this.closed) return false;
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.ctl, WRITE, w, left) === 'timed-out') return false;
    }
  }

  /** Like waitReadable without blocking the thread (Atomics.waitAsync): resolves true when a frame arrives. */
  async waitReadableAsync(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const w = Atomics.load(this.ctl, WRITE);
      if (w !== Atomics.load(this.ctl, READ)) return true;
      if (this.closed) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const res = atomicsWaitAsync(this.ctl, WRITE, w, left);
      const outcome = res.async ? await res.value : res.value;
      if (outcome === 'timed-out') return false;
    }
  }

  /** Marks the ring closed and wakes both sides; frames already written can still be read. */
  close(): void {
    Atomics.store(this.ctl, CLOSED, 1);
    Atomics.notify(this.ctl, WRITE);
    Atomics.notify(this.ctl, READ);
  }
}

// The shared frame ring: ordering, wrap-around and full/empty edges on one thread, and a producer worker thread
// feeding the main thread (the worker loads shared_ring.ts itself, transpiled here, since it imports nothing).
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { SharedFrameRing } from './shared_ring.js';

function frameOf(n: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (n * 31 + i) & 0xff;
  return b;
}

describe('SharedFrameRing', () => {
  it('passes frames in order with their meta words, across many wrap-arounds', () => {
    const ring = SharedFrameRing.create(256);
    expect(ring.capacity).toBe(256);
    let written = 0, read = 0;
    const sizes = [0, 1, 7, 8, 9, 50, 100, 120];
    while (read < 500) {
      while (written < 500 && ring.tryWrite(frameOf(written, sizes[written % sizes.length]), 0, undefined, written * 3)) written++;
      const f = ring.peek();
      expect(f).not.toBeNull();
      expect(f!.meta).toBe(read * 3);
      const want = frameOf(read, sizes[read % sizes.length]);
      expect(f!.length).toBe(want.length);
      expect(Array.from(f!.bytes.subarray(f!.offset, f!.offset + f!.length))).toEqual(Array.from(want));
      expect(ring.peek()!.offset).toBe(f!.offset); // same frame until released
      ring.release();
      read++;
    }
    expect(ring.peek()).toBeNull();
    expect(ring.used).toBe(0);
  });

  it('hands out batches in place and releases them together', () => {
    const ring = SharedFrameRing.create(128);
    const info = new Int32Array(3 * 8);
    let next = 0, expectNext = 0;
    for (let round = 0; round < 50; round++) {
      while (ring.tryWrite(frameOf(next, 10 + (next % 20)), 0, undefined, next)) next++;
      const n = ring.peekBatch(8, info);
      expect(n).toBeGreaterThan(0);
      for (let i = 0; i < n; i++) {
        const want = frameOf(expectNext, 10 + (expectNext % 20));
        expect(info[3 * i + 2]).toBe(expectNext);
        expect(Array.from(ring.data.subarray(info[3 * i], info[3 * i] + info[3 * i + 1]))).toEqual(Array.from(want));
        expectNext++;
      }
      ring.release();
    }
    expect(expectNext).toBeGreaterThan(100);
  });

  it('reports full and refuses frames that can never fit', () => {
    const ring = SharedFrameRing.create(64);
    expect(ring.maxFrameSize).toBe(24);
    expect(() => ring.tryWrite(new Uint8Array(25))).toThrow(/EINVAL/);
    expect(ring.tryWrite(new Uint8Array(24))).toBe(true);
    expect(ring.tryWrite(new Uint8Array(24))).toBe(true);
    expect(ring.tryWrite(new Uint8Array(1))).toBe(false);
    expect(ring.waitWritable(1)).toBe(false);
    ring.peek(); ring.release();
    expect(ring.tryWrite(new Uint8Array(1))).toBe(true);
    ring.close();
    expect(ring.tryWrite(new Uint8Array(1))).toBe(false);
    expect(ring.peek()!.length).toBe(24); // already written frames stay readable after close
  });

  it('carries frames from a producer worker to this thread with blocking waits on both sides', async () => {
    const source = readFileSync(new URL('./shared_ring.ts', import.meta.url), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const producer = `
      const exports = {}; const module = { exports };
      ${js}
      const { workerData } = require('node:worker_threads');
      const ring = exports.SharedFrameRing.attach(workerData.sab);
      for (let n = 0; n < workerData.count; n++) {
        const len = (n * 7) % 1500;
        const b = new Uint8Array(len);
        for (let i = 0; i < len; i++) b[i] = (n * 31 + i) & 0xff;
        while (!ring.tryWrite(b, 0, len, n)) ring.waitWritable(1000);
      }
      ring.close();
    `;
    const ring = SharedFrameRing.create(16384);
    const count = 20000;
    const worker = new Worker(producer, { eval: true, workerData: { sab: ring.sab, count } });
    let n = 0;
    let bad = 0;
    for (;;) {
      const f = ring.peek();
      if (!f) {
        if (!(await ring.waitReadableAsync(5000))) break;
        continue;
      }
      if (f.meta !== n || f.length !== (n * 7) % 1500) bad++;
      else if (f.length > 0 && (f.bytes[f.offset + f.length - 1] !== ((n * 31 + f.length - 1) & 0xff))) bad++;
      ring.release();
      n++;
    }
    await worker.terminate();
    expect(bad).toBe(0);
    expect(n).toBe(count);
  });

  it('keeps waiting through a wakeup that brings no frame (a late notify), until a frame or the timeout', async () => {
    const ring = SharedFrameRing.create(1024);
    const waiting = ring.waitReadableAsync(5000);
    // The producer notifies after publishing, so a consumer that already took the frame can be woken for nothing.
    Atomics.notify(new Int32Array(ring.sab, 0, 16), 0);
    await new Promise((r) => setTimeout(r, 20));
    expect(ring.tryWrite(Uint8Array.of(1, 2, 3), 0, 3, 9)).toBe(true);
    expect(await waiting).toBe(true);
    expect(ring.peek()).toMatchObject({ length: 3, meta: 9 });
    ring.release();
    // With nothing ever written, the same spurious wakeup ends in a timeout, not in an early false.
    const t0 = Date.now();
    const idle = ring.waitReadableAsync(100);
    Atomics.notify(new Int32Array(ring.sab, 0, 16), 0);
    expect(await idle).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
  });
});

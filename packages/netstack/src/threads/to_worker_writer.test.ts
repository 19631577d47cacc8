// ToWorkerWriter on its own: a small ring and this test as the worker consuming it.
import { describe, expect, it } from 'vitest';
import { SharedFrameRing } from '../buffer/shared_ring.js';
import { ToWorkerWriter, WRITE_RECORD_MAX } from './to_worker_writer.js';
import { ENDPOINT_HEADER, ToWorker, WriteFlags, readU32 } from './wire.js';

/** Every record in the ring, in order, as [meta, endpoint id or first byte, arg, payload length]. */
function consume(ring: SharedFrameRing): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  for (let f = ring.peek(); f; f = ring.peek()) {
    const len = f.length;
    out.push(f.meta === ToWorker.CONTROL
      ? [f.meta, f.bytes[f.offset]!, 0, len]
      : [f.meta, readU32(f.bytes, f.offset), readU32(f.bytes, f.offset + 4), len - ENDPOINT_HEADER]);
    ring.release();
  }
  return out;
}

/** Fills the ring to the last byte (as a worker that stopped draining leaves it). */
function fill(ring: SharedFrameRing): void {
  while (ring.tryWrite(new Uint8Array(1000), 0, 1000, ToWorker.CONSUMED));
  while (ring.tryWrite(new Uint8Array(8), 0, 8, ToWorker.CONSUMED));
}

describe('ToWorkerWriter', () => {
  it('keeps the order of every record through a full ring; gathered writes go before any later record', () => {
    const ring = SharedFrameRing.create(4096);
    let queued = 0;
    const w = new ToWorkerWriter(ring, () => queued++);
    const seen: [number, number, number, number][] = [];
    // Fill the ring with one endpoint's writes (gathered into one record per call of sendGathered).
    for (let i = 0; i < 10; i++) {
      w.gather(1, 0, new Uint8Array(500), 0, 500);
      w.sendGathered();
    }
    expect(queued).toBeGreaterThan(0);
    // Writes gathered for two endpoints, then a CONSUMED and a control record: the writes go first.
    w.gather(2, WriteFlags.MORE, new Uint8Array(10), 0, 10);
    w.gather(3, 0, new Uint8Array(20), 0, 20);
    w.gather(2, WriteFlags.END, new Uint8Array(5), 0, 5);
    w.writeEndpointRecord(ToWorker.CONSUMED, 4, 77);
    w.write(ToWorker.CONTROL, Uint8Array.of(9, 9, 9));
    expect(w.queued).toBeGreaterThan(0);
    // The worker drains a little at a time; the writer retries.
    for (let i = 0; i < 20 && (w.queued > 0 || i === 0); i++) {
      seen.push(...consume(ring));
      w.flush();
    }
    seen.push(...consume(ring));
    expect(w.queued).toBe(0);
    expect(seen).toEqual([
      ...Array.from({ length: 10 }, () => [ToWorker.WRITE, 1, 0, 500]),
      [ToWorker.WRITE, 2, WriteFlags.END, 15],
      [ToWorker.WRITE, 3, 0, 20],
      [ToWorker.CONSUMED, 4, 77, 0],
      [ToWorker.CONTROL, 9, 0, 3],
    ]);
  });

  it('splits a large write into records of at most WRITE_RECORD_MAX bytes, flags on the last', () => {
    const ring = SharedFrameRing.create(1 << 20);
    const w = new ToWorkerWriter(ring, () => {});
    const src = new Uint8Array(WRITE_RECORD_MAX * 2 + 100);
    w.gather(7, WriteFlags.END, src, 0, src.length);
    w.sendGathered();
    expect(consume(ring)).toEqual([
      [ToWorker.WRITE, 7, 0, WRITE_RECORD_MAX],
      [ToWorker.WRITE, 7, 0, WRITE_RECORD_MAX],
      [ToWorker.WRITE, 7, WriteFlags.END, 100],
    ]);
  });

  it('a blocking write gives up at its deadline when nobody drains the ring', () => {
    const ring = SharedFrameRing.create(4096);
    const w = new ToWorkerWriter(ring, () => {});
    fill(ring);
    for (let i = 0; i < 10; i++) w.writeEndpointRecord(ToWorker.CONSUMED, i, 1);
    expect(w.queued).toBe(10);
    const t0 = Date.now();
    expect(w.writeBlocking(ToWorker.CONTROL, new Uint8Array(100), Date.now() + 100)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('drains a long queue in linear time and lets go of what it sent', () => {
    const ring = SharedFrameRing.create(1 << 20);
    const w = new ToWorkerWriter(ring, () => {});
    fill(ring);
    for (let i = 0; i < 50_000; i++) w.writeEndpointRecord(ToWorker.CONSUMED, i, 1);
    expect(w.queued).toBe(50_000);
    expect(w.queuedMemory).toBe(50_000 * ENDPOINT_HEADER);
    let rounds = 0;
    while (w.queued > 0 && rounds++ < 1000) {
      consume(ring);
      w.flush();
    }
    consume(ring);
    expect(w.queued).toBe(0);
    expect(w.queuedMemory).toBe(0);
  });
});

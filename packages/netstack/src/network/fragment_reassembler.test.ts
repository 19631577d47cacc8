import { describe, expect, it } from 'vitest';
import { ManualClock } from '../stack/clock.js';
import { FRAGMENT_OVERHEAD, FragmentReassembler } from './fragment_reassembler.js';

const bytes = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i + seed) & 0xff);

describe('FragmentReassembler', () => {
  it('reassembles out-of-order fragments and ignores exact duplicates', () => {
    const r = new FragmentReassembler({ clock: new ManualClock(), timeoutMs: 30_000 });
    const whole = bytes(40, 3);
    expect(r.add('k', 16, true, whole.subarray(16, 32)).kind).toBe('incomplete');
    expect(r.add('k', 32, false, whole.subarray(32)).kind).toBe('incomplete');
    expect(r.add('k', 16, true, whole.subarray(16, 32)).kind).toBe('incomplete'); // duplicate
    const done = r.add('k', 0, true, whole.subarray(0, 16));
    expect(done.kind).toBe('complete');
    if (done.kind === 'complete') expect(done.payload).toEqual(whole);
    expect(r.pendingCount).toBe(0);
    expect(r.memoryInUse).toBe(0);
  });

  it('drops the whole datagram on a partial overlap (RFC 5722)', () => {
    const r = new FragmentReassembler({ clock: new ManualClock(), timeoutMs: 30_000 });
    expect(r.add('k', 0, true, bytes(16, 0)).kind).toBe('incomplete');
    expect(r.add('k', 8, true, bytes(16, 0))).toEqual({ kind: 'error', reason: 'overlap' });
    expect(r.pendingCount).toBe(0);
    // Fresh start after the drop: the remaining fragments alone do not complete anything.
    expect(r.add('k', 16, false, bytes(4, 0)).kind).toBe('incomplete');
  });

  it('rejects inconsistent last fragments, bad lengths and oversize datagrams', () => {
    const r = new FragmentReassembler({ clock: new ManualClock(), timeoutMs: 30_000 });
    expect(r.add('a', 0, true, bytes(12, 0))).toMatchObject({ kind: 'error', reason: 'bad-length' });
    expect(r.add('b', 65528, true, bytes(16, 0))).toMatchObject({ kind: 'error', reason: 'too-big' });
    r.add('c', 32, false, bytes(8, 0));
    expect(r.add('c', 48, false, bytes(8, 0))).toMatchObject({ kind: 'error', reason: 'overlap' });
  });

  it('expires incomplete datagrams and reports the first fragment for ICMP time exceeded', () => {
    const clock = new ManualClock();
    const quotes: (Uint8Array | undefined)[] = [];
    const r = new FragmentReassembler({ clock, timeoutMs: 30_000, onTimeout: (q) => quotes.push(q) });
    r.add('x', 0, true, bytes(8, 0), Uint8Array.of(0x45, 1, 2));
    r.add('y', 8, false, bytes(8, 0));
    clock.advance(29_999);
    expect(r.pendingCount).toBe(2);
    clock.advance(1);
    expect(r.pendingCount).toBe(0);
    expect(r.timeouts).toBe(2);
    expect(quotes).toEqual([Uint8Array.of(0x45, 1, 2), undefined]);
    expect(r.memoryInUse).toBe(0);
  });

  it('bounds memory by evicting the oldest incomplete datagrams', () => {
    const r = new FragmentReassembler({ clock: new ManualClock(), timeoutMs: 30_000, memoryLimit: 4096 });
    for (let i = 0; i < 100; i++) r.add(`d${i}`, 0, true, bytes(1024, i));
    expect(r.memoryInUse).toBeLessThanOrEqual(4096);
    const kept = Math.floor(4096 / (1024 + FRAGMENT_OVERHEAD));
    expect(r.pendingCount).toBe(kept);
    expect(r.dropped).toBe(100 - kept);
    // The newest survive and can still complete.
    const done = r.add('d99', 1024, false, bytes(10, 0));
    expect(done.kind).toBe('complete');
  });

  it('charges empty and tiny fragments for their bookkeeping, so floods of them stay bounded', () => {
    // A last fragment with no payload (offset > 0, MF=0) holds a datagram open while carrying zero bytes: without
    // a per-fragment charge a flood of them with fresh ids would grow the pending table without limit.
    const r = new FragmentReassembler({ clock: new ManualClock(), timeoutMs: 30_000, memoryLimit: 64 * 1024 });
    for (let i = 0; i < 20_000; i++) r.add(`z${i}`, 8, false, new Uint8Array(0));
    expect(r.memoryInUse).toBeLessThanOrEqual(64 * 1024);
    expect(r.pendingCount).toBe(Math.floor((64 * 1024) / FRAGMENT_OVERHEAD));
    // 8-byte fragments of one datagram are charged the same way.
    const t = new FragmentReassembler({ clock: new ManualClock(), timeoutMs: 30_000, memoryLimit: 16 * 1024 });
    for (let d = 0; d < 50; d++) for (let i = 0; i < 20; i++) t.add(`t${d}`, i * 16, true, bytes(8, i));
    expect(t.memoryInUse).toBeLessThanOrEqual(16 * 1024);
    expect(t.pendingCount).toBe(Math.floor((16 * 1024) / (20 * (8 + FRAGMENT_OVERHEAD))));
    expect(t.memoryInUse).toBe(t.pendingCount * 20 * (8 + FRAGMENT_OVERHEAD));
  });
});

import { describe, expect, it } from 'vitest';
import { PacketBuffer } from './packet_buffer.js';

describe('PacketBuffer', () => {
  it('prepends headers into the headroom without moving the payload', () => {
    const p = PacketBuffer.fromPayload(Uint8Array.of(1, 2, 3), 32);
    const buf = p.buf;
    const t = p.prepend(8);
    p.transportHeader = t;
    const n = p.prepend(20);
    p.networkHeader = n;
    expect(p.buf).toBe(buf);
    expect([t, n, p.size]).toEqual([24, 4, 31]);
    expect(Array.from(p.data().subarray(28))).toEqual([1, 2, 3]);
  });

  it('grows once when the headroom is short, keeping header offsets right', () => {
    const p = PacketBuffer.fromPayload(Uint8Array.of(9, 9), 4);
    p.transportHeader = p.prepend(4);
    p.buf[p.transportHeader] = 0x77;
    p.networkHeader = p.prepend(20);
    expect(p.buf[p.transportHeader]).toBe(0x77);
    expect(p.transportHeader - p.networkHeader).toBe(20);
    expect(p.size).toBe(26);
  });

  it('consumes parsed headers and truncates link padding', () => {
    const p = new PacketBuffer(Uint8Array.from({ length: 60 }, (_, i) => i));
    p.linkHeader = p.consume(14);
    p.networkHeader = p.head;
    p.truncate(28);
    expect([p.linkHeader, p.networkHeader, p.size, p.data()[0]]).toEqual([0, 14, 28, 14]);
    expect(() => p.consume(29)).toThrow(/EINVAL/);
  });

  it('retain() copies a borrowed packet once and keeps owned ones', () => {
    const ring = Uint8Array.from({ length: 64 }, (_, i) => i);
    const p = new PacketBuffer(ring, 10, 50);
    p.borrowed = true;
    p.linkHeader = 10;
    p.networkHeader = p.consume(14) + 14;
    p.remoteLinkAddress = ring.subarray(16, 22);
    const kept = p.retain();
    expect(kept).not.toBe(p);
    expect(kept.borrowed).toBe(false);
    ring.fill(0);
    expect(kept.data()[0]).toBe(24);
    expect(kept.buf[kept.linkHeader]).toBe(10);
    expect(kept.networkHeader).toBe(kept.head);
    expect(Array.from(kept.remoteLinkAddress!)).toEqual([16, 17, 18, 19, 20, 21]);
    expect(kept.retain()).toBe(kept);
  });
});

describe('PacketBuffer over a borrowed receive slot', () => {
  it('moves out of the ring before prepend or append, copying only the packet', () => {
    const ring = new Uint8Array(1 << 20).fill(0xee);
    const slot = 4096;
    ring.set([1, 2, 3, 4], slot + 14);
    const p = new PacketBuffer(ring, slot + 14, slot + 18);
    p.borrowed = true;
    p.linkHeader = slot;
    p.networkHeader = slot + 14;
    p.remoteLinkAddress = ring.subarray(slot + 6, slot + 12);
    const at = p.prepend(8);
    expect(p.buf).not.toBe(ring);
    expect(p.buf.length).toBeLessThan(512);
    expect(p.borrowed).toBe(false);
    expect(at).toBe(p.head);
    expect(Array.from(p.buf.subarray(p.head + 8, p.tail))).toEqual([1, 2, 3, 4]);
    expect(p.networkHeader).toBe(p.head + 8);
    expect(p.remoteLinkAddress!.buffer).not.toBe(ring.buffer);
    expect(ring[slot + 13]).toBe(0xee); // the ring's previous bytes were not written

    const q = new PacketBuffer(ring, slot + 14, slot + 18);
    q.borrowed = true;
    q.append(Uint8Array.of(9, 9));
    expect(q.buf).not.toBe(ring);
    expect(Array.from(q.data())).toEqual([1, 2, 3, 4, 9, 9]);
    expect(ring[slot + 18]).toBe(0xee);
  });
});

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

import { describe, expect, it } from 'vitest';
import {
  TCP_FLAG_ACK,
  TCP_FLAG_SYN,
  TcpHeader,
  TcpOptions,
  onesComplementSum,
  tcpChecksum,
  tcpChecksumValid,
  tcpOptionsLength,
  validateTcpSegment,
  writeTcpHeader,
} from './tcp.js';

const SRC = new Uint8Array([10, 0, 0, 1]);
const DST = new Uint8Array([10, 0, 0, 2]);

function buildSyn(): Uint8Array {
  const opts = { mss: 1460, windowScale: 7, sackPermitted: true, timestamp: true, tsVal: 0x11223344, tsEcr: 0 };
  const b = new Uint8Array(20 + tcpOptionsLength(opts));
  const n = writeTcpHeader(b, 0, { srcPort: 40000, dstPort: 80, seq: 0xfffffff0, ack: 0, flags: TCP_FLAG_SYN, window: 65535 }, opts);
  expect(n).toBe(b.length);
  new TcpHeader(b).setChecksum(tcpChecksum(SRC, DST, b, 0, b.length));
  return b;
}

// Random (seeded) numbers so a failure can be reproduced.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s;
  };
}

describe('TcpHeader', () => {
  it('round-trips fixed fields and SYN options', () => {
    const b = buildSyn();
    expect(validateTcpSegment(b)).toBeNull();
    const h = new TcpHeader(b);
    expect(h.srcPort()).toBe(40000);
    expect(h.dstPort()).toBe(80);
    expect(h.seq()).toBe(0xfffffff0);
    expect(h.flags()).toBe(TCP_FLAG_SYN);
    expect(h.window()).toBe(65535);
    expect(h.dataOffset()).toBe(40);
    const o = new TcpOptions();
    expect(h.parseOptions(o)).toBe(true);
    expect(o.mss).toBe(1460);
    expect(o.windowScale).toBe(7);
    expect(o.sackPermitted).toBe(true);
    expect(o.hasTimestamp).toBe(true);
    expect(o.tsVal).toBe(0x11223344);
    expect(tcpChecksumValid(SRC, DST, b, 0, b.length)).toBe(true);
    b[5] ^= 1;
    expect(tcpChecksumValid(SRC, DST, b, 0, b.length)).toBe(false);
  });

  it('writes SACK blocks, trimmed to what fits beside timestamps', () => {
    const blocks = [1, 2, 3, 4, 5, 6, 7, 8];
    const opts = { timestamp: true, tsVal: 5, tsEcr: 6, sackBlocks: blocks, sackBlockCount: 4 };
    expect(tcpOptionsLength(opts)).toBe(12 + 4 + 3 * 8);
    const b = new Uint8Array(20 + tcpOptionsLength(opts) + 3);
    writeTcpHeader(b, 0, { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_FLAG_ACK, window: 5 }, opts);
    expect(validateTcpSegment(b)).toBeNull();
    const o = new TcpOptions();
    expect(new TcpHeader(b).parseOptions(o)).toBe(true);
    expect(o.sackBlockCount).toBe(3);
    expect(Array.from(o.sackBlocks.subarray(0, 6))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new TcpHeader(b).payloadLength()).toBe(3);
  });

  it('clamps window scale above 14 and skips unknown options', () => {
    const b = new Uint8Array(32);
    b[12] = 8 << 4;
    b.set([3, 3, 20, 99, 4, 0xaa, 0xbb, 0, 0, 0, 0, 0], 20);
    expect(validateTcpSegment(b)).toBeNull();
    const o = new TcpOptions();
    expect(new TcpHeader(b).parseOptions(o)).toBe(true);
    expect(o.windowScale).toBe(14);
  });

  it('rejects truncated headers, bad offsets and bad option lengths', () => {
    expect(validateTcpSegment(new Uint8Array(19))).toBe('ETRUNCATED');
    const b = new Uint8Array(24);
    b[12] = 4 << 4;
    expect(validateTcpSegment(b)).toBe('EBADOFFSET');
    b[12] = 7 << 4;
    expect(validateTcpSegment(b)).toBe('EBADOFFSET');
    b[12] = 6 << 4;
    b.set([2, 5, 0, 0], 20); // MSS option running past the header
    expect(validateTcpSegment(b)).toBe('EBADOPTION');
    b.set([2, 0, 0, 0], 20); // zero length would loop forever if accepted
    expect(validateTcpSegment(b)).toBe('EBADOPTION');
    b.set([2, 3, 0, 1], 20); // MSS with length 3: scans, but parse must reject
    expect(validateTcpSegment(b)).toBeNull();
    expect(new TcpHeader(b).parseOptions(new TcpOptions())).toBe(false);
  });

  it('computes the RFC 1071 example sum', () => {
    // RFC 1071 section 3 example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
    expect(onesComplementSum(new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0, 8)).toBe(0xddf2);
  });

  it('sums large regions at any alignment exactly as the 16-bit reference does', () => {
    const next = rng(777);
    const buf = new Uint8Array(70_000).map(() => next() & 0xff);
    const reference = (start: number, end: number, initial: number) => {
      let s = initial;
      for (let i = start; i < end; i += 2) s += (buf[i]! << 8) | (i + 1 < end ? buf[i + 1]! : 0);
      while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
      return s;
    };
    for (let k = 0; k < 200; k++) {
      const start = next() % 1000;
      const end = start + (next() % 69_000);
      const initial = next() % 0x30000;
      expect(onesComplementSum(buf, start, end, initial)).toBe(reference(start, end, initial));
    }
  });

  it('never throws on thousands of random mutations and rejects out-of-bounds layouts', () => {
    const iterations = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 5000);
    const next = rng(12345);
    const o = new TcpOptions();
    let rejected = 0;
    for (let n = 0; n < iterations; n++) {
      const base = buildSyn();
      const len = next() % (base.length + 8);
      const b = new Uint8Array(len);
      b.set(base.subarray(0, Math.min(len, base.length)));
      const flips = 1 + (next() % 6);
      for (let k = 0; k < flips && len > 0; k++) b[next() % len] = next() & 0xff;
      const err = validateTcpSegment(b);
      if (err !== null) {
        rejected++;
        continue;
      }
      const h = new TcpHeader(b);
      // Accepted: every access must stay inside the buffer.
      expect(h.dataOffset()).toBeGreaterThanOrEqual(20);
      expect(h.dataOffset()).toBeLessThanOrEqual(len);
      h.parseOptions(o);
      if (o.sackBlockCount > 4) throw new Error('too many SACK blocks');
      expect(h.payload().length).toBe(len - h.dataOffset());
    }
    expect(rejected).toBeGreaterThan(0);
  });
});

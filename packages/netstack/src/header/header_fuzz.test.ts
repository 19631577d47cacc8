// Mutation fuzzing of every header parser: random byte flips, truncations and length-field rewrites of valid
// packets (TCP is fuzzed beside header/tcp.ts). A parser must never throw, and whatever it accepts must be self-consistent (every length it reports
// stays inside the bytes it was given). TSVISOR_FUZZ_ITERATIONS raises the count (`make fuzz`).
import { describe, expect, it } from 'vitest';
import { IPv4Header, IPPROTO_TCP, forEachIPv4Option, IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS, IPPROTO_UDP } from './ipv4.js';
import { IPv6Header, IPv6ExtensionWalker, IPV6_HEADER_SIZE, forEachIPv6Option } from './ipv6.js';
import { ICMPv4Header, ICMPV4_ECHO } from './icmpv4.js';
import { ICMPv6Header, ICMPV6_ROUTER_ADVERT, forEachNdpOption, NDP_OPT_MTU, NdpPrefixInfo } from './icmpv6.js';
import { UDPHeader } from './udp.js';
import { EthernetHeader } from './ethernet.js';
import { ArpPacket } from './arp.js';

const ITERATIONS = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 3000);

/** xorshift32: deterministic so a failure reproduces from its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x;
  };
}

/** One random mutation of `base`: flip bytes, truncate, or extend with junk. */
function mutate(base: Uint8Array, next: () => number): Uint8Array {
  let b = base.slice();
  const kind = next() % 4;
  if (kind === 0 || kind === 3) {
    const flips = 1 + (next() % 4);
    for (let i = 0; i < flips && b.length > 0; i++) b[next() % b.length] = next() & 0xff;
  }
  if (kind === 1 || kind === 3) b = b.subarray(0, next() % (b.length + 1));
  if (kind === 2) {
    // Rewrite one of the first 8 16-bit words (where length fields live) with an extreme value.
    const w = (next() % 8) * 2;
    const vals = [0, 1, 0xffff, b.length, b.length + 1, next() & 0xffff];
    const v = vals[next() % vals.length];
    if (w + 1 < b.length) { b[w] = v >> 8; b[w + 1] = v & 0xff; }
  }
  // Sometimes view the bytes at an offset inside a larger array, as a frame buffer would hold them.
  if (next() % 3 === 0) {
    const pad = next() % 7;
    const big = new Uint8Array(pad + b.length + (next() % 5));
    big.set(b, pad);
    return big.subarray(pad, pad + b.length);
  }
  return b;
}

function seedIPv4(): Uint8Array {
  const b = new Uint8Array(52);
  new IPv4Header(b).encode({ totalLength: 52, protocol: IPPROTO_TCP, src: Uint8Array.of(10, 0, 0, 1), dst: Uint8Array.of(10, 0, 0, 2), ttl: 64, options: Uint8Array.of(1, 7, 7, 4, 0, 0, 0, 0x94, 4, 0, 0) });
  return b;
}

function seedIPv6(): Uint8Array {
  const b = new Uint8Array(IPV6_HEADER_SIZE + 40);
  new IPv6Header(b).encode({ payloadLength: 40, nextHeader: IPPROTO_HOPOPTS, hopLimit: 64, src: new Uint8Array(16).fill(1), dst: new Uint8Array(16).fill(2) });
  b.set([IPPROTO_ROUTING, 0, 5, 2, 0, 0, 1, 0], 40);
  b.set([IPPROTO_FRAGMENT, 0, 0, 0, 0, 0, 0, 0], 48);
  b.set([IPPROTO_DSTOPTS, 0, 0, 9, 0, 0, 0, 1], 56);
  b.set([IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0], 64);
  return b;
}

function seedRA(): Uint8Array {
  const b = new Uint8Array(16 + 32 + 8 + 8);
  const h = new ICMPv6Header(b);
  h.encode({ type: ICMPV6_ROUTER_ADVERT, code: 0 });
  new NdpPrefixInfo(b, 16).encode({ prefixLength: 64, flags: 0xc0, validLifetime: 1, preferredLifetime: 1, prefix: new Uint8Array(16) });
  b.set([NDP_OPT_MTU, 1, 0, 0, 0, 0, 5, 0xdc], 48);
  b.set([1, 1, 2, 0, 0, 0, 0, 1], 56);
  return b;
}

describe('header parsers under mutation', () => {
  it('ipv4: never throws; accepted headers fit their bytes', () => {
    const next = rng(1);
    const base = seedIPv4();
    let accepted = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const b = mutate(base, next);
      const h = new IPv4Header(b);
      if (!h.isValid()) continue;
      accepted++;
      expect(h.headerLength()).toBeGreaterThanOrEqual(20);
      expect(h.totalLength()).toBeLessThanOrEqual(b.length);
      expect(h.payload().length).toBe(h.totalLength() - h.headerLength());
      h.isChecksumValid();
      forEachIPv4Option(h, (o) => { expect(o.offset + o.length).toBeLessThanOrEqual(h.headerLength()); });
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('ipv6: never throws; the walker stays inside the payload', () => {
    const next = rng(2);
    const base = seedIPv6();
    const w = new IPv6ExtensionWalker();
    let walked = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const b = mutate(base, next);
      const h = new IPv6Header(b);
      if (!h.isValid()) continue;
      const end = IPV6_HEADER_SIZE + h.payloadLength();
      w.start(h);
      while (w.next()) {
        expect(w.headerOffset + w.headerLength).toBeLessThanOrEqual(end);
        if (w.headerType === IPPROTO_HOPOPTS || w.headerType === IPPROTO_DSTOPTS) {
          forEachIPv6Option(b, w.headerOffset + 2, w.headerLength - 2, (_t, o, l) => { expect(o + l).toBeLessThanOrEqual(end); });
        }
      }
      if (w.error === null) { walked++; expect(w.upperOffset).toBeLessThanOrEqual(end); }
      else expect(w.pointer).toBeLessThanOrEqual(end); // a truncated header "starts" at most at the end
    }
    expect(walked).toBeGreaterThan(0);
  });

  it('icmpv4/icmpv6/ndp: never throw; options stay inside the message', () => {
    const next = rng(3);
    const ra = seedRA();
    const echo = new Uint8Array(20);
    new ICMPv4Header(echo).encode({ type: ICMPV4_ECHO, code: 0 });
    for (let i = 0; i < ITERATIONS; i++) {
      const b = mutate(ra, next);
      const h = new ICMPv6Header(b);
      if (h.isValid()) {
        const opts = h.ndpOptionsOffset();
        forEachNdpOption(b, opts, b.length - opts, (t, o, l) => {
          expect(o + l).toBeLessThanOrEqual(b.length);
          if (t === 3) new NdpPrefixInfo(b, o, l).isValid();
        });
        h.isChecksumValid(0);
      }
      const e = mutate(echo, next);
      const v4 = new ICMPv4Header(e);
      if (v4.isValid()) { v4.isChecksumValid(); expect(v4.payload().length).toBe(e.length - 8); }
    }
  });

  it('udp, ethernet, arp: never throw; accepted lengths fit', () => {
    const next = rng(4);
    const udp = new Uint8Array(20);
    new UDPHeader(udp).encode({ sourcePort: 1, destinationPort: 2, length: 20 });
    const arp = new Uint8Array(42);
    new EthernetHeader(arp).encode({ destination: new Uint8Array(6).fill(255), source: new Uint8Array(6), etherType: 0x0806 });
    new ArpPacket(arp, 14).encode({ op: 1, senderMac: new Uint8Array(6), senderIp: new Uint8Array(4), targetMac: new Uint8Array(6), targetIp: new Uint8Array(4) });
    for (let i = 0; i < ITERATIONS; i++) {
      const u = mutate(udp, next);
      const uh = new UDPHeader(u);
      if (uh.isValid()) { expect(uh.udpLength()).toBeLessThanOrEqual(u.length); uh.isChecksumValid(0); }
      const a = mutate(arp, next);
      const eh = new EthernetHeader(a);
      if (eh.isValid()) new ArpPacket(eh.payload()).isValid();
    }
  });
});

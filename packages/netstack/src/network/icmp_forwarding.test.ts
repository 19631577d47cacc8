// ICMP behaviour that needs crafted packets or a router: PMTU updates from Fragmentation Needed / Packet Too Big,
// reassembly timeouts, overlapping fragments on the wire, TTL expiry on a forwarding stack, broadcast and multicast.
import { afterEach, describe, expect, it } from 'vitest';
import { createChannelPair, type ChannelPair } from '../link/channel.js';
import { Address } from '../stack/address.js';
import { ManualClock, type Clock } from '../stack/clock.js';
import type { Endpoint, ReadResult } from '../stack/endpoint.js';
import { Stack } from '../stack/stack.js';
import { TcpipError } from '../stack/tcpip_error.js';
import { WaiterQueue } from '../waiter/waiter_queue.js';
import { icmpv4Protocol, icmpv6Protocol } from '../transport/icmp/icmp.js';
import { rawEndpointFactory } from '../transport/raw/raw.js';
import { udpProtocol } from '../transport/udp/udp.js';
import { internetChecksum } from '../header/checksum.js';
import { arpProtocol } from './arp/arp.js';
import { ipv4Protocol } from './ipv4/ipv4.js';
import { ipv6Protocol } from './ipv6/ipv6.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function newStack(clock?: Clock, forwarding = false): Stack {
  const s = new Stack({
    networkProtocols: [ipv4Protocol(), ipv6Protocol(), arpProtocol()],
    transportProtocols: [udpProtocol(), icmpv4Protocol(), icmpv6Protocol()],
    rawFactory: rawEndpointFactory,
    clock,
    forwarding: { v4: forwarding, v6: forwarding },
  });
  cleanups.push(() => s.close());
  return s;
}
function link(mtu = 1500): ChannelPair {
  const l = createChannelPair({}, { mtu });
  cleanups.push(() => l.close());
  return l;
}
const turns = async (n = 1) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
function ok<T>(v: T | TcpipError): T {
  if (v instanceof TcpipError) throw new Error(`unexpected ${v}`);
  return v;
}
async function readOne(ep: Endpoint): Promise<{ data: Uint8Array; r: ReadResult }> {
  const buf = new Uint8Array(70000);
  for (let i = 0; i < 300; i++) {
    const r = ep.read(buf, { needRemoteAddress: true });
    if (!(r instanceof TcpipError)) return { data: buf.slice(0, r.count), r };
    if (r.code !== 'WouldBlock') throw new Error(`read: ${r}`);
    await turns();
  }
  throw new Error('nothing to read');
}
const udp = (s: Stack, f: 4 | 6) => ok(s.newEndpoint(17, f, new WaiterQueue()));
const A = Address.parse;

function twoHosts(clock?: Clock, mtu = 1500) {
  const l = link(mtu);
  const a = newStack(clock);
  const b = newStack(clock);
  a.createNIC(1, l.a);
  b.createNIC(1, l.b);
  a.addAddress(1, '10.1.0.1/24');
  b.addAddress(1, '10.1.0.2/24');
  a.addAddress(1, 'fd01::1/64');
  b.addAddress(1, 'fd01::2/64');
  return { a, b, l };
}

/** An IPv4 header + payload with a correct header checksum. */
function ipv4Packet(src: string, dst: string, proto: number, payload: Uint8Array, id = 1, fragOff = 0, mf = false): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p.set([0x45, 0, (p.length >> 8) & 0xff, p.length & 0xff, id >> 8, id & 0xff, ((mf ? 0x20 : 0) | ((fragOff >> 11) & 0x1f)), (fragOff >> 3) & 0xff, 64, proto, 0, 0]);
  p.set(A(src).bytes, 12);
  p.set(A(dst).bytes, 16);
  const c = internetChecksum(p, 0, 20);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  return p;
}

describe('path MTU discovery', () => {
  it('lowers the IPv4 PMTU on Fragmentation Needed and fragments later datagrams to it', async () => {
    const { a, b } = twoHosts();
    const server = udp(b, 4);
    server.bind({ address: A('0.0.0.0'), port: 53 });
    const c = udp(a, 4);
    c.write(new Uint8Array(1200), { to: { address: A('10.1.0.2'), port: 53 } });
    await readOne(server);
    // B's raw socket sends "fragmentation needed, next-hop MTU 1000" quoting A's datagram header.
    const quoted = ipv4Packet('10.1.0.1', '10.1.0.2', 17, Uint8Array.of(0x80, 0x00, 0, 53, 0x04, 0xb8, 0, 0));
    const icmp = new Uint8Array(8 + quoted.length);
    icmp.set([3, 4, 0, 0, 0, 0, 1000 >> 8, 1000 & 0xff]);
    icmp.set(quoted, 8);
    const cs = internetChecksum(icmp);
    icmp[2] = cs >> 8;
    icmp[3] = cs & 0xff;
    ok(ok(b.newRawEndpoint(1, 4, new WaiterQueue())).write(icmp, { to: { address: A('10.1.0.1'), port: 0 } }));
    for (let i = 0; i < 20 && a.pathMtu(A('10.1.0.2')) === undefined; i++) await turns();
    expect(a.pathMtu(A('10.1.0.2'))).toBe(1000);
    expect(a.stats.icmp.packetTooBigReceived).toBe(1);
    const before = a.stats.ip.fragmentsCreated;
    c.write(new Uint8Array(1200), { to: { address: A('10.1.0.2'), port: 53 } });
    expect((await readOne(server)).data.length).toBe(1200);
    expect(a.stats.ip.fragmentsCreated - before).toBe(2);
  });

  it('never lowers the IPv6 PMTU below 1280 (RFC 8201) and keeps the lowest value', async () => {
    const { a, b } = twoHosts();
    const raw = ok(b.newRawEndpoint(58, 6, new WaiterQueue()));
    const send = async (mtu: number) => {
      const quoted = new Uint8Array(48);
      quoted.set([0x60, 0, 0, 0, 0, 8, 17, 64]);
      quoted.set(A('fd01::1').bytes, 8);
      quoted.set(A('fd01::2').bytes, 24);
      const msg = new Uint8Array(8 + quoted.length);
      msg.set([2, 0, 0, 0, mtu >>> 24, (mtu >> 16) & 0xff, (mtu >> 8) & 0xff, mtu & 0xff]);
      msg.set(quoted, 8);
      raw.write(msg, { to: { address: A('fd01::1'), port: 0 } }); // the stack fills in the ICMPv6 checksum
      for (let i = 0; i < 30; i++) await turns();
    };
    await send(1400);
    expect(a.pathMtu(A('fd01::2'))).toBe(1400);
    await send(600);
    expect(a.pathMtu(A('fd01::2'))).toBe(1280);
    await send(1450);
    expect(a.pathMtu(A('fd01::2'))).toBe(1280);
  });
});

describe('reassembly on the wire', () => {
  it('sends ICMP Time Exceeded (reassembly) when fragments stop arriving, and drops overlapping ones', async () => {
    const clock = new ManualClock();
    const { a, b } = twoHosts(clock);
    const server = udp(b, 4);
    server.bind({ address: A('0.0.0.0'), port: 7000 });
    const icmpSeen = ok(a.newRawEndpoint(1, 4, new WaiterQueue()));
    const hdr = ok(a.newRawEndpoint(255, 4, new WaiterQueue()));
    const udpHead = Uint8Array.of(0x30, 0x39, 0x1b, 0x58, 0, 40, 0, 0);
    const first = new Uint8Array(16);
    first.set(udpHead);
    hdr.write(ipv4Packet('10.1.0.1', '10.1.0.2', 17, first, 77, 0, true));
    for (let i = 0; i < 20 && b.stats.ip.fragmentsReceived === 0; i++) await turns();
    expect(b.stats.ip.fragmentsReceived).toBe(1);
    clock.advance(30_000);
    const te = await readOne(icmpSeen);
    expect(te.data[20]).toBe(11); // time exceeded
    expect(te.data[21]).toBe(1); // fragment reassembly time exceeded
    expect(b.stats.ip.reassemblyTimeouts).toBe(1);

    // Overlap: bytes 8-23 over 0-15 kill datagram 78 (RFC 5722 rule).
    hdr.write(ipv4Packet('10.1.0.1', '10.1.0.2', 17, first, 78, 0, true));
    hdr.write(ipv4Packet('10.1.0.1', '10.1.0.2', 17, new Uint8Array(16), 78, 8, true));
    hdr.write(ipv4Packet('10.1.0.1', '10.1.0.2', 17, new Uint8Array(16), 78, 16, false));
    for (let i = 0; i < 30; i++) await turns();
    expect(b.stats.ip.reassemblyErrors).toBe(1);
    expect(server.read(new Uint8Array(100))).toMatchObject({ code: 'WouldBlock' });
  });
});

describe('IPv4 options', () => {
  it('accepts packets with harmless options and drops source-routed ones', async () => {
    const { a, b } = twoHosts();
    const server = udp(b, 4);
    server.bind({ address: A('0.0.0.0'), port: 99 });
    const hdr = ok(a.newRawEndpoint(255, 4, new WaiterQueue()));
    const build = (opts: number[]) => {
      const hl = 20 + opts.length;
      const p = new Uint8Array(hl + 9);
      p.set([0x40 | (hl >> 2), 0, 0, p.length, 0, 0, 0, 0, 64, 17]);
      p.set(A('10.1.0.1').bytes, 12);
      p.set(A('10.1.0.2').bytes, 16);
      p.set(opts, 20);
      p.set([0, 1, 0, 99, 0, 9, 0, 0, 0x42], hl);
      return p;
    };
    // NOP, NOP, Router Alert (148, len 4), then End.
    hdr.write(build([1, 1, 148, 4, 0, 0, 0, 0]));
    expect((await readOne(server)).data[0]).toBe(0x42);
    // Loose source route with one hop.
    hdr.write(build([131, 7, 4, 10, 1, 0, 9, 0]));
    for (let i = 0; i < 20; i++) await turns();
    expect(b.stats.ip.sourceRouted).toBe(1);
    expect(server.read(new Uint8Array(4))).toMatchObject({ code: 'WouldBlock' });
  });
});

describe('IPv6 extension headers', () => {
  /** IPv6 + Destination Options (one option of `optType`, 4 data bytes) + UDP to port 99 with a valid checksum. */
  function withDestOpt(optType: number): Uint8Array {
    const udpLen = 9;
    const p = new Uint8Array(40 + 8 + udpLen);
    p.set([0x60, 0, 0, 0, 0, 8 + udpLen, 60, 64]);
    p.set(A('fd01::1').bytes, 8);
    p.set(A('fd01::2').bytes, 24);
    p.set([17, 0, optType, 4, 0, 0, 0, 0], 40);
    p.set([0, 1, 0, 99, 0, udpLen, 0, 0, 0x55], 48);
    let sum = 17 + udpLen;
    for (let i = 8; i < 40; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    for (let i = 48; i < 48 + udpLen; i += 2) sum += (p[i]! << 8) | (i + 1 < 48 + udpLen ? p[i + 1]! : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    p[54] = c >> 8;
    p[55] = c & 0xff;
    return p;
  }

  it('skips unknown options with action 00 and answers action 10 with Parameter Problem code 2', async () => {
    const { a, b } = twoHosts();
    const server = udp(b, 6);
    server.bind({ address: A('::'), port: 99 });
    const raw = ok(a.newRawEndpoint(255, 6, new WaiterQueue()));
    const icmp = ok(a.newRawEndpoint(58, 6, new WaiterQueue()));
    raw.write(withDestOpt(0x1e)); // 00xxxxxx: skip
    expect((await readOne(server)).data[0]).toBe(0x55);
    raw.write(withDestOpt(0x9e)); // 10xxxxxx: discard and report
    let pp: Uint8Array | undefined;
    for (let i = 0; i < 10 && !pp; i++) {
      const m = (await readOne(icmp)).data;
      if (m[0] === 4) pp = m;
    }
    expect(pp?.[1]).toBe(2);
    expect(((pp![4]! << 24) | (pp![5]! << 16) | (pp![6]! << 8) | pp![7]!) >>> 0).toBe(42); // the option's type byte
    expect(server.read(new Uint8Array(4))).toMatchObject({ code: 'WouldBlock' });
  });
});

describe('forwarding', () => {
  function routed(forwarding: boolean, mtu2 = 1500) {
    const l1 = link();
    const l2 = link(mtu2);
    const a = newStack();
    const r = newStack(undefined, forwarding);
    const b = newStack();
    a.createNIC(1, l1.a);
    r.createNIC(1, l1.b);
    r.createNIC(2, l2.a);
    b.createNIC(1, l2.b);
    a.addAddress(1, '10.2.1.1/24');
    r.addAddress(1, '10.2.1.254/24');
    r.addAddress(2, '10.2.2.254/24');
    b.addAddress(1, '10.2.2.1/24');
    a.addRouteText('default', '10.2.1.254', 1);
    b.addRouteText('default', '10.2.2.254', 1);
    a.addAddress(1, 'fd21::1/64');
    r.addAddress(1, 'fd21::fe/64');
    r.addAddress(2, 'fd22::fe/64');
    b.addAddress(1, 'fd22::1/64');
    a.addRouteText('default', 'fd21::fe', 1);
    b.addRouteText('default', 'fd22::fe', 1);
    return { a, r, b };
  }

  it('forwards IPv6 and sends Packet Too Big when the next link is smaller, which the source learns', async () => {
    const { a, r, b } = routed(true, 1280);
    const server = udp(b, 6);
    server.bind({ address: A('::'), port: 9 });
    const c = udp(a, 6);
    c.connect({ address: A('fd22::1'), port: 9 });
    c.write(Uint8Array.of(6));
    expect((await readOne(server)).data[0]).toBe(6);
    // 1400 bytes fit A's link but not the router's second one: Packet Too Big back to A, which then fragments.
    c.write(new Uint8Array(1400));
    for (let i = 0; i < 50 && a.pathMtu(A('fd22::1')) === undefined; i++) await turns();
    expect(r.stats.icmp.packetTooBigSent).toBe(1);
    expect(a.pathMtu(A('fd22::1'))).toBe(1280);
    c.write(new Uint8Array(1400).fill(7));
    const big = await readOne(server);
    expect(big.data.length).toBe(1400);
    expect(a.stats.ip.fragmentsCreated).toBe(2);
  });

  it('is off by default: the router drops transit packets', async () => {
    const { a, r, b } = routed(false);
    const server = udp(b, 4);
    server.bind({ address: A('0.0.0.0'), port: 9 });
    udp(a, 4).write(Uint8Array.of(1), { to: { address: A('10.2.2.1'), port: 9 } });
    for (let i = 0; i < 30; i++) await turns();
    expect(r.stats.ip.forwardingDisabled).toBe(1);
    expect(server.read(new Uint8Array(10))).toMatchObject({ code: 'WouldBlock' });
  });

  it('forwards when enabled and answers an expiring TTL with Time Exceeded', async () => {
    const { a, r, b } = routed(true);
    const server = udp(b, 4);
    server.bind({ address: A('0.0.0.0'), port: 9 });
    udp(a, 4).write(Uint8Array.of(42), { to: { address: A('10.2.2.1'), port: 9 } });
    const got = await readOne(server);
    expect(got.data[0]).toBe(42);
    expect(got.r.remoteAddress?.address.toString()).toBe('10.2.1.1');
    const c = udp(a, 4);
    c.setSockOptInt('ttl', 1);
    c.connect({ address: A('10.2.2.1'), port: 9 });
    const icmp = ok(a.newRawEndpoint(1, 4, new WaiterQueue()));
    c.write(Uint8Array.of(1));
    const te = await readOne(icmp);
    expect(te.data[20]).toBe(11);
    expect(te.r.remoteAddress?.address.toString()).toBe('10.2.1.254');
    expect(r.stats.ip.ttlExceeded).toBe(1);
  });
});

describe('broadcast, multicast and local delivery', () => {
  it('delivers subnet broadcasts to sockets with SO_BROADCAST senders only', async () => {
    const { a, b } = twoHosts();
    const server = udp(b, 4);
    server.bind({ address: A('0.0.0.0'), port: 67 });
    const c = udp(a, 4);
    expect(c.write(Uint8Array.of(1), { to: { address: A('10.1.0.255'), port: 67 } })).toMatchObject({ code: 'BroadcastDisabled' });
    c.setSockOptInt('broadcast', 1);
    expect(c.write(Uint8Array.of(2), { to: { address: A('10.1.0.255'), port: 67 } })).toBe(1);
    expect(c.write(Uint8Array.of(3), { to: { address: A('255.255.255.255'), port: 67 } })).toBe(1);
    expect((await readOne(server)).data[0]).toBe(2);
    expect((await readOne(server)).data[0]).toBe(3);
  });

  it('delivers multicast to members only, on both families', async () => {
    const { a, b } = twoHosts();
    for (const [fam, group, port] of [[4, '239.1.2.3', 5353], [6, 'ff15::abcd', 5354]] as const) {
      const member = udp(b, fam);
      expect(member.bind({ address: A(fam === 4 ? '0.0.0.0' : '::'), port })).toBeUndefined();
      const c = udp(a, fam);
      c.setSockOpt({ kind: 'multicastInterface', nic: 1 });
      c.write(Uint8Array.of(1), { to: { address: A(group), port } });
      for (let i = 0; i < 20; i++) await turns();
      expect(member.read(new Uint8Array(10))).toMatchObject({ code: 'WouldBlock' });
      expect(member.setSockOpt({ kind: 'addMembership', group: A(group), nic: 1 })).toBeUndefined();
      c.write(Uint8Array.of(2), { to: { address: A(group), port } });
      expect((await readOne(member)).data[0]).toBe(2);
    }
  });

  it('loops multicast back to local members unless IP_MULTICAST_LOOP is off', async () => {
    const { a } = twoHosts();
    const member = udp(a, 4);
    member.bind({ address: A('0.0.0.0'), port: 6000 });
    member.setSockOpt({ kind: 'addMembership', group: A('239.9.9.9'), nic: 1 });
    const c = udp(a, 4);
    c.setSockOpt({ kind: 'multicastInterface', nic: 1 });
    c.write(Uint8Array.of(1), { to: { address: A('239.9.9.9'), port: 6000 } });
    expect((await readOne(member)).data[0]).toBe(1);
    c.setSockOptInt('multicastLoop', 0);
    c.write(Uint8Array.of(2), { to: { address: A('239.9.9.9'), port: 6000 } });
    for (let i = 0; i < 10; i++) await turns();
    expect(member.read(new Uint8Array(4))).toMatchObject({ code: 'WouldBlock' });
  });

  it('loops packets to the stack’s own address without touching the link', async () => {
    const { a, l } = twoHosts();
    const server = udp(a, 4);
    server.bind({ address: A('10.1.0.1'), port: 1 });
    const sentBefore = l.a.stats.tx;
    udp(a, 4).write(Uint8Array.of(7), { to: { address: A('10.1.0.1'), port: 1 } });
    const got = await readOne(server);
    expect(got.data[0]).toBe(7);
    expect(got.r.remoteAddress?.address.toString()).toBe('10.1.0.1');
    expect(l.a.stats.tx).toBe(sentBefore);
  });
});

// Two stacks in one process over a channel link pair: ARP/NDP, IPv4/IPv6 delivery, fragmentation, ICMP.
import { afterEach, describe, expect, it } from 'vitest';
import { createChannelPair, type ChannelPair } from '../link/channel.js';
import { LoopbackEndpoint } from '../link/loopback.js';
import { Address, type FullAddress } from '../stack/address.js';
import { ManualClock, type Clock } from '../stack/clock.js';
import type { Endpoint, ReadResult } from '../stack/endpoint.js';
import { Stack } from '../stack/stack.js';
import { TcpipError } from '../stack/tcpip_error.js';
import { WaiterQueue } from '../waiter/waiter_queue.js';
import { icmpv4Protocol, icmpv6Protocol } from '../transport/icmp/icmp.js';
import { udpProtocol } from '../transport/udp/udp.js';
import { rawEndpointFactory } from '../transport/raw/raw.js';
import { arpProtocol } from './arp/arp.js';
import { ipv4Protocol } from './ipv4/ipv4.js';
import { ipv6Protocol } from './ipv6/ipv6.js';

function newStack(clock?: Clock): Stack {
  return new Stack({
    networkProtocols: [ipv4Protocol(), ipv6Protocol(), arpProtocol()],
    transportProtocols: [udpProtocol(), icmpv4Protocol(), icmpv6Protocol()],
    rawFactory: rawEndpointFactory,
    clock,
  });
}

const turns = async (n = 1) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

async function until(pred: () => boolean, what: string, maxTurns = 200): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (pred()) return;
    await turns();
  }
  throw new Error(`timed out waiting for ${what}`);
}

function ok<T>(v: T | TcpipError): T {
  if (v instanceof TcpipError) throw new Error(`unexpected ${v}`);
  return v;
}

function udp(s: Stack, family: 4 | 6): Endpoint {
  return ok(s.newEndpoint(17, family, new WaiterQueue()));
}

async function readOne(ep: Endpoint, size = 70000): Promise<{ data: Uint8Array; r: ReadResult }> {
  const buf = new Uint8Array(size);
  let r: ReadResult | TcpipError = ep.read(buf, { needRemoteAddress: true });
  for (let i = 0; i < 200 && r instanceof TcpipError && r.code === 'WouldBlock'; i++) {
    await turns();
    r = ep.read(buf, { needRemoteAddress: true });
  }
  const rr = ok(r);
  return { data: buf.subarray(0, rr.count), r: rr };
}

const A4 = '10.9.0.1', B4 = '10.9.0.2', A6 = 'fd00:9::1', B6 = 'fd00:9::2';

interface Pair {
  a: Stack;
  b: Stack;
  link: ChannelPair;
}

function makePair(mtu = 1500, clock?: Clock): Pair {
  const link = createChannelPair({}, { mtu });
  const a = newStack(clock);
  const b = newStack(clock);
  expect(a.createNIC(1, link.a)).toBeUndefined();
  expect(b.createNIC(1, link.b)).toBeUndefined();
  a.addAddress(1, `${A4}/24`);
  b.addAddress(1, `${B4}/24`);
  a.addAddress(1, `${A6}/64`);
  b.addAddress(1, `${B6}/64`);
  return { a, b, link };
}

let pairs: Pair[] = [];
afterEach(() => {
  for (const p of pairs) {
    p.a.close();
    p.b.close();
    p.link.close();
  }
  pairs = [];
});
function pair(mtu?: number, clock?: Clock): Pair {
  const p = makePair(mtu, clock);
  pairs.push(p);
  return p;
}

describe('IPv4 over Ethernet with ARP', () => {
  it('resolves the peer with ARP and echoes a UDP datagram', async () => {
    const { a, b } = pair();
    const server = udp(b, 4);
    expect(server.bind({ address: Address.parse('0.0.0.0'), port: 7 })).toBeUndefined();
    const client = udp(a, 4);
    expect(client.write(new TextEncoder().encode('hello'), { to: { address: Address.parse(B4), port: 7 } })).toBe(5);
    const got = await readOne(server);
    expect(new TextDecoder().decode(got.data)).toBe('hello');
    expect(got.r.remoteAddress?.address.toString()).toBe(A4);
    const from = got.r.remoteAddress!;
    expect(server.write(got.data, { to: from })).toBe(5);
    const back = await readOne(client);
    expect(new TextDecoder().decode(back.data)).toBe('hello');
    expect(back.r.remoteAddress?.port).toBe(7);
    // Both learned each other: A by its request/reply, B from A's request (RFC 826 merge).
    expect(a.nic(1)!.neighbors(4)!.get(Address.parse(B4))?.state).toBe('reachable');
    expect(b.nic(1)!.neighbors(4)!.get(Address.parse(A4))?.link).toEqual(a.nic(1)!.linkAddress);
    expect(a.stats.arp.requestsSent).toBe(1);
    expect(b.stats.arp.repliesSent).toBe(1);
    expect(a.stats.udp.packetsSent).toBe(1);
    expect(b.stats.udp.packetsReceived).toBe(1);
    // Per-interface counters (/proc/net/dev): A sent an ARP request and the datagram, received the reply and echo.
    expect(a.nic(1)!.stats).toMatchObject({ txPackets: 2, rxPackets: 2, rxDropped: 0, txErrors: 0 });
    expect(a.nic(1)!.stats.txBytes).toBe(28 + 20 + 8 + 5);
  });

  it('answers ping on an ICMP echo socket and reports port unreachable to a connected UDP socket', async () => {
    const { a } = pair();
    const ping = ok(a.newEndpoint(1, 4, new WaiterQueue()));
    const req = Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef);
    expect(ping.write(req, { to: { address: Address.parse(B4), port: 0 } })).toBe(req.length);
    const rep = await readOne(ping);
    expect(rep.data[0]).toBe(0); // echo reply
    expect(Array.from(rep.data.subarray(8))).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(rep.r.remoteAddress?.address.toString()).toBe(B4);

    const c = udp(a, 4);
    expect(c.connect({ address: Address.parse(B4), port: 9999 })).toBeUndefined();
    expect(c.write(Uint8Array.of(1))).toBe(1);
    await until(() => c.readiness(0) !== 0, 'ICMP port unreachable');
    expect(c.lastError()?.code).toBe('ConnectionRefused');
  });

  it('reports ancillary data when asked: IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_RECVORIGDSTADDR, SO_TIMESTAMP', async () => {
    const { a, b } = pair();
    const s = udp(b, 4);
    for (const o of ['receivePacketInfo', 'receiveTtl', 'receiveTos', 'receiveOriginalDestination', 'timestamp'] as const) s.setSockOptInt(o, 1);
    s.bind({ address: Address.parse('0.0.0.0'), port: 5555 });
    const c = udp(a, 4);
    c.setSockOptInt('tos', 0x10);
    c.setSockOptInt('ttl', 33);
    c.write(Uint8Array.of(1), { to: { address: Address.parse(B4), port: 5555 } });
    const got = await readOne(s);
    expect(got.r.control).toMatchObject({ tos: 0x10, ttl: 33, packetInfo: { nic: 1 }, originalDestination: { port: 5555 } });
    expect(got.r.control?.packetInfo?.destinationAddress.toString()).toBe(B4);
    expect(typeof got.r.control?.timestampNs).toBe('bigint');
  });

  it('sends from the IP_PKTINFO source address and refuses a foreign one', async () => {
    const { a, b } = pair();
    a.addAddress(1, '10.9.0.3/24');
    const server = udp(b, 4);
    server.bind({ address: Address.parse('0.0.0.0'), port: 53 });
    const c = udp(a, 4);
    const to = { address: Address.parse(B4), port: 53 };
    expect(c.write(Uint8Array.of(1), { to, sourceAddress: Address.parse('10.9.0.3') })).toBe(1);
    expect((await readOne(server)).r.remoteAddress?.address.toString()).toBe('10.9.0.3');
    expect(c.write(Uint8Array.of(1), { to, sourceAddress: Address.parse('10.9.0.99') })).toMatchObject({ code: 'BadLocalAddress' });
  });

  it('queues ICMP errors for MSG_ERRQUEUE with IP_RECVERR, even on unconnected sockets', async () => {
    const { a } = pair();
    const c = udp(a, 4);
    expect(c.setSockOptInt('receiveErrors', 1)).toBeUndefined();
    c.write(Uint8Array.of(0xaa, 0xbb), { to: { address: Address.parse(B4), port: 4444 } });
    await until(() => c.readiness(0) !== 0, 'error queued');
    const buf = new Uint8Array(16);
    const r = ok(c.read(buf, { errorQueue: true }));
    expect(Array.from(buf.subarray(0, r.count))).toEqual([0xaa, 0xbb]);
    expect(r.remoteAddress).toMatchObject({ port: 4444 });
    expect(r.remoteAddress?.address.toString()).toBe(B4);
    expect(r.control?.extendedError).toMatchObject({ errno: 111, origin: 2, type: 3, code: 3 });
    expect(r.control?.extendedError?.offender.toString()).toBe(B4);
    expect(c.lastError()?.code).toBe('ConnectionRefused');
    expect(c.read(buf, { errorQueue: true })).toMatchObject({ code: 'WouldBlock' });
  });

  it('fragments a large datagram to the MTU and reassembles it', async () => {
    const { a, b } = pair(1500);
    const server = udp(b, 4);
    server.bind({ address: Address.parse(B4), port: 5000 });
    const client = udp(a, 4);
    const big = new Uint8Array(20000).map((_, i) => (i * 7) & 0xff);
    expect(client.write(big, { to: { address: Address.parse(B4), port: 5000 } })).toBe(big.length);
    const got = await readOne(server);
    expect(got.data).toEqual(big);
    expect(a.stats.ip.fragmentsCreated).toBe(14); // ceil(20008 / 1480)
    expect(b.stats.ip.reassembled).toBe(1);
  });

  it('drops packets after failed ARP resolution and reports host unreachable', async () => {
    const clock = new ManualClock();
    const { a } = pair(1500, clock);
    const c = udp(a, 4);
    c.connect({ address: Address.parse('10.9.0.77'), port: 53 });
    expect(c.write(Uint8Array.of(1, 2, 3))).toBe(3);
    const cache = a.nic(1)!.neighbors(4)!;
    expect(cache.get(Address.parse('10.9.0.77'))?.state).toBe('incomplete');
    for (let i = 0; i < 3; i++) {
      await turns(2);
      clock.advance(1000);
    }
    expect(a.stats.arp.requestsSent).toBe(3);
    expect(cache.get(Address.parse('10.9.0.77'))?.state).toBe('unreachable');
    expect(a.stats.neighbor.resolutionsFailed).toBe(1);
    await until(() => c.readiness(0) !== 0, 'host unreachable error');
    expect(c.lastError()?.code).toBe('HostUnreachable');
  });
});

describe('IPv6 with NDP', () => {
  it('resolves with neighbour solicitation and echoes UDP', async () => {
    const { a, b } = pair();
    const server = udp(b, 6);
    server.bind({ address: Address.parse('::'), port: 7 });
    const client = udp(a, 6);
    expect(client.write(Uint8Array.of(1, 2, 3), { to: { address: Address.parse(B6), port: 7 } })).toBe(3);
    const got = await readOne(server);
    expect(Array.from(got.data)).toEqual([1, 2, 3]);
    expect(got.r.remoteAddress?.address.toString()).toBe(A6);
    expect(a.stats.ndp.neighborSolicitsSent).toBe(1);
    expect(b.stats.ndp.neighborAdvertsSent).toBe(1);
    expect(a.nic(1)!.neighbors(6)!.get(Address.parse(B6))?.state).toBe('reachable');
  });

  it('reports ICMPv6 port unreachable to a connected socket as ECONNREFUSED', async () => {
    const { a, b } = pair();
    const c = udp(a, 6);
    expect(c.connect({ address: Address.parse(B6), port: 9 })).toBeUndefined();
    expect(c.write(Uint8Array.of(1))).toBe(1);
    await until(() => c.readiness(0) !== 0, 'ICMPv6 error');
    expect(c.read(new Uint8Array(4))).toMatchObject({ code: 'ConnectionRefused', errno: 111 });
    expect(b.stats.icmp.destUnreachableSent).toBe(1);
    expect(b.stats.udp.unknownPortErrors).toBe(1);
  });

  it('answers a duplicate address detection probe with an unsolicited advertisement to all nodes', async () => {
    const { a, b } = pair();
    const watch = ok(a.newRawEndpoint(58, 6, new WaiterQueue()));
    const probe = new Uint8Array(40 + 24);
    const target = Address.parse(B6).bytes;
    const group = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13]!, target[14]!, target[15]!);
    probe.set([0x60, 0, 0, 0, 0, 24, 58, 255]); // from :: (RFC 4862 5.4.2), hop limit 255
    probe.set(group, 24);
    probe.set([135, 0, 0, 0, 0, 0, 0, 0], 40);
    probe.set(target, 48);
    let sum = 58 + 24 + 135 * 256;
    for (let i = 24; i < 40; i += 2) sum += (probe[i]! << 8) | probe[i + 1]!;
    for (let i = 48; i < 64; i += 2) sum += (probe[i]! << 8) | probe[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    probe[42] = c >> 8;
    probe[43] = c & 0xff;
    expect(ok(a.newRawEndpoint(255, 6, new WaiterQueue())).write(probe)).toBe(probe.length);
    let na: Uint8Array | undefined;
    for (let i = 0; i < 10 && !na; i++) {
      const got = await readOne(watch);
      if (got.data[0] === 136) na = got.data;
    }
    expect(na).toBeDefined();
    expect(na![4]! & 0x40).toBe(0); // not solicited
    expect(na![4]! & 0x20).toBe(0x20); // override
    expect(Address.fromBytes(na!.subarray(8, 24)).toString()).toBe(B6);
    expect(b.stats.ndp.neighborAdvertsSent).toBe(1);
  });

  it('answers ping6 and fragments/reassembles large datagrams', async () => {
    const { a, b } = pair(1280);
    const ping = ok(a.newEndpoint(58, 6, new WaiterQueue()));
    expect(ping.write(Uint8Array.of(128, 0, 0, 0, 0, 0, 0, 9, 42), { to: { address: Address.parse(B6), port: 0 } })).toBe(9);
    const rep = await readOne(ping);
    expect(rep.data[0]).toBe(129);
    expect(rep.data[8]).toBe(42);

    const server = udp(b, 6);
    server.bind({ address: Address.parse(B6), port: 9 });
    const big = new Uint8Array(9000).map((_, i) => i & 0xff);
    expect(udp(a, 6).write(big, { to: { address: Address.parse(B6), port: 9 } })).toBe(9000);
    const got = await readOne(server);
    expect(got.data).toEqual(big);
    expect(a.stats.ip.fragmentsCreated).toBe(8); // ceil(9008 / 1232)
  });

  it('delivers IPv4 to a dual-stack IPv6 socket as v4-mapped addresses', async () => {
    const { a, b } = pair();
    const server = udp(b, 6);
    server.bind({ address: Address.parse('::'), port: 1234 });
    udp(a, 4).write(Uint8Array.of(5), { to: { address: Address.parse(B4), port: 1234 } });
    const got = await readOne(server);
    expect(got.r.remoteAddress?.address.toString()).toBe(`::ffff:${A4}`);
    const c6only = udp(b, 6);
    c6only.setSockOptInt('v6Only', 1);
    expect(c6only.bind({ address: Address.parse('::'), port: 1235 })).toBeUndefined();
    expect(udp(b, 4).bind({ address: Address.parse('0.0.0.0'), port: 1235 })).toBeUndefined();
    expect(udp(b, 4).bind({ address: Address.parse('0.0.0.0'), port: 1234 })?.code).toBe('PortInUse');
  });
});

describe('SO_REUSEPORT', () => {
  it('spreads flows over the group and keeps each flow on one socket', async () => {
    const { a, b } = pair();
    const members = [udp(b, 4), udp(b, 4), udp(b, 4)];
    for (const m of members) {
      m.setSockOptInt('reusePort', 1);
      expect(m.bind({ address: Address.parse('0.0.0.0'), port: 8000 })).toBeUndefined();
    }
    const counts = [0, 0, 0];
    for (let flow = 0; flow < 24; flow++) {
      const c = udp(a, 4);
      for (let k = 0; k < 2; k++) c.write(Uint8Array.of(flow), { to: { address: Address.parse(B4), port: 8000 } });
      await turns(3);
      const got = members.map((m) => {
        let n = 0;
        while (!(m.read(new Uint8Array(4)) instanceof TcpipError)) n++;
        return n;
      });
      // Both datagrams of the flow went to the same member.
      expect(got.filter((n) => n > 0)).toEqual([2]);
      counts[got.findIndex((n) => n > 0)]!++;
    }
    expect(counts.every((n) => n > 0)).toBe(true);
  });
});

describe('socket(2) triples', () => {
  it('maps (family, type, protocol) like Linux', () => {
    const { a } = pair();
    const q = () => new WaiterQueue();
    expect(ok(a.socket(4, 2, 0, q())).protocol).toBe(17);
    expect(ok(a.socket(6, 2, 58, q())).protocol).toBe(58);
    expect(a.socket(6, 2, 1, q())).toMatchObject({ code: 'UnknownProtocol', errno: 93 });
    expect(a.socket(4, 1, 17, q())).toMatchObject({ code: 'UnknownProtocol' });
    expect(ok(a.socket(4, 3, 1, q())).sockType).toBe(3);
    expect(a.socket(4, 3, 0, q())).toMatchObject({ code: 'UnknownProtocol' });
    expect(a.socket(4, 1, 0, q())).toMatchObject({ code: 'UnknownProtocol' }); // no TCP registered in this stack
  });
});

describe('ICMP error generation limits', () => {
  it('rate-limits port unreachable errors with a token bucket (1000/s, burst 50)', async () => {
    const clock = new ManualClock();
    const { a, b } = pair(1500, clock);
    const c = udp(a, 4);
    // Resolve B first: at most 32 packets wait for ARP (unres_qlen), the rest would be dropped at A.
    c.write(Uint8Array.of(0), { to: { address: Address.parse(B4), port: 9 } });
    for (let i = 0; i < 10; i++) await turns();
    for (let i = 1; i < 80; i++) c.write(Uint8Array.of(i), { to: { address: Address.parse(B4), port: 9 } });
    for (let i = 0; i < 40; i++) await turns();
    expect(b.stats.icmp.destUnreachableSent).toBe(50);
    expect(b.stats.icmp.rateLimited).toBe(30);
    clock.advance(1000);
    c.write(Uint8Array.of(1), { to: { address: Address.parse(B4), port: 9 } });
    for (let i = 0; i < 10; i++) await turns();
    expect(b.stats.icmp.destUnreachableSent).toBe(51);
  });

  it('drops IPv6 UDP with a zero checksum (RFC 8200 8.1) and never answers it', async () => {
    const { a, b } = pair();
    const s = udp(b, 6);
    s.bind({ address: Address.parse('::'), port: 77 });
    const raw = ok(a.newRawEndpoint(255, 6, new WaiterQueue()));
    const p6 = new Uint8Array(40 + 8 + 1);
    p6.set([0x60, 0, 0, 0, 0, 9, 17, 64]);
    p6.set(Address.parse(A6).bytes, 8);
    p6.set(Address.parse(B6).bytes, 24);
    p6.set([0, 1, 0, 77, 0, 9, 0, 0, 1], 40);
    raw.write(p6);
    for (let i = 0; i < 30 && b.stats.udp.checksumErrors === 0; i++) await turns();
    expect(b.stats.udp.checksumErrors).toBe(1);
    expect(s.read(new Uint8Array(4))).toMatchObject({ code: 'WouldBlock' });
  });
});

describe('raw sockets', () => {
  it('receive ICMP with the IPv4 header and send complete packets with IP_HDRINCL', async () => {
    const { a, b } = pair();
    const raw = ok(b.newRawEndpoint(1, 4, new WaiterQueue()));
    const ping = ok(a.newEndpoint(1, 4, new WaiterQueue()));
    ping.write(Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 1), { to: { address: Address.parse(B4), port: 0 } });
    const seen = await readOne(raw);
    expect(seen.data[0]! >> 4).toBe(4); // IPv4 header first (raw(7))
    expect(seen.data[20]).toBe(8); // echo request
    await readOne(ping); // the kernel still answered

    // Hand-built IPv4+UDP to B's UDP port 4000 (UDP checksum 0: none, allowed over IPv4).
    const server = udp(b, 4);
    server.bind({ address: Address.parse('0.0.0.0'), port: 4000 });
    const pkt = new Uint8Array(20 + 8 + 2);
    pkt.set([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0], 0);
    pkt.set(Address.parse(A4).bytes, 12);
    pkt.set(Address.parse(B4).bytes, 16);
    pkt.set([0x12, 0x34, 0x0f, 0xa0, 0, 10, 0, 0, 0x61, 0x62], 20);
    const hdr = ok(a.newRawEndpoint(255, 4, new WaiterQueue()));
    expect(hdr.write(pkt)).toBe(pkt.length);
    const got = await readOne(server);
    expect(new TextDecoder().decode(got.data)).toBe('ab');
    expect(got.r.remoteAddress?.port).toBe(0x1234);

    // IPv6 IPPROTO_RAW: a complete IPv6+UDP packet (the stack fixes the payload length; UDP checksum required).
    const s6 = udp(b, 6);
    s6.bind({ address: Address.parse('::'), port: 4001 });
    const p6 = new Uint8Array(40 + 8 + 1);
    p6.set([0x60, 0, 0, 0, 0, 9, 17, 64]);
    p6.set(Address.parse(A6).bytes, 8);
    p6.set(Address.parse(B6).bytes, 24);
    p6.set([0x00, 0x63, 0x0f, 0xa1, 0, 9, 0, 0, 0x7a], 40);
    let sum = 17 + 9 + 9 + 0x63 + 0x0fa1 + 0x7a00;
    for (let i = 8; i < 40; i += 2) sum += (p6[i]! << 8) | p6[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    p6[46] = c >> 8;
    p6[47] = c & 0xff;
    expect(ok(a.newRawEndpoint(255, 6, new WaiterQueue())).write(p6)).toBe(p6.length);
    const got6 = await readOne(s6);
    expect(got6.data[0]).toBe(0x7a);
    expect(got6.r.remoteAddress?.port).toBe(0x63);
  });

  it('shutdown(SHUT_RD) wakes an unconnected UDP reader with end of stream and reports ENOTCONN', () => {
    const { a } = pair();
    const s = udp(a, 4);
    s.bind({ address: Address.parse('0.0.0.0'), port: 6000 });
    expect(s.read(new Uint8Array(4))).toMatchObject({ code: 'WouldBlock' });
    expect(s.shutdown(1)?.code).toBe('NotConnected');
    expect(s.readiness(1)).toBe(1);
    expect(s.read(new Uint8Array(4))).toMatchObject({ code: 'ClosedForReceive' });
  });
});

describe('loopback NIC', () => {
  it('carries UDP over 127.0.0.1 and ::1 and to the stack’s own address', async () => {
    const s = newStack();
    try {
      s.createNIC(1, new LoopbackEndpoint(), { name: 'lo' });
      s.addAddress(1, '127.0.0.1/8');
      s.addAddress(1, '::1/128');
      s.addRouteText('::1/128', undefined, 1);
      const server = udp(s, 4);
      server.bind({ address: Address.parse('127.0.0.1'), port: 7 });
      const c = udp(s, 4);
      const to: FullAddress = { address: Address.parse('127.0.0.1'), port: 7 };
      expect(c.write(Uint8Array.of(9), { to })).toBe(1);
      expect((await readOne(server)).data[0]).toBe(9);
      const s6 = udp(s, 6);
      s6.bind({ address: Address.parse('::1'), port: 8 });
      expect(udp(s, 6).write(Uint8Array.of(8), { to: { address: Address.parse('::1'), port: 8 } })).toBe(1);
      expect((await readOne(s6)).data[0]).toBe(8);
      expect(udp(s, 4).write(Uint8Array.of(1), { to: { address: Address.parse('10.1.1.1'), port: 8 } })).toMatchObject({ code: 'NoRoute' });
      // Every 127.x.y.z is local (Linux's local route for 127.0.0.0/8): bind and talk to 127.0.0.53.
      const s53 = udp(s, 4);
      expect(s53.bind({ address: Address.parse('127.0.0.53'), port: 53 })).toBeUndefined();
      expect(udp(s, 4).write(Uint8Array.of(53), { to: { address: Address.parse('127.0.0.53'), port: 53 } })).toBe(1);
      expect((await readOne(s53)).data[0]).toBe(53);
      const ping = ok(s.newEndpoint(1, 4, new WaiterQueue()));
      ping.write(Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 1), { to: { address: Address.parse('127.0.0.1'), port: 0 } });
      expect((await readOne(ping)).data[0]).toBe(0);
    } finally {
      s.close();
    }
  });
});

// Crafted packets aimed at specific weaknesses (each case failed before its fix): oversize IPv4 reassembly ("ping of
// death"), nested IPv6 fragment headers, ARP/NDP claiming our own address, ICMP errors about link-layer broadcasts,
// loopback addresses from the link, the header of a reassembled IPv4 datagram.
import { describe, expect, it } from 'vitest';
import { PacketBuffer, PacketType } from '../buffer/packet_buffer.js';
import { ARP_OP_REQUEST, ArpPacket, ARP_SIZE } from '../header/arp.js';
import { internetChecksum, pseudoHeaderSumV6 } from '../header/checksum.js';
import { solicitedNodeAddress } from '../header/ipv6.js';
import { ChannelEndpoint } from '../link/channel.js';
import { LoopbackEndpoint } from '../link/loopback.js';
import { Address, EtherType } from '../stack/address.js';
import { ManualClock } from '../stack/clock.js';
import { Stack } from '../stack/stack.js';
import { TcpipError } from '../stack/tcpip_error.js';
import { WaiterQueue } from '../waiter/waiter_queue.js';
import { icmpv4Protocol, icmpv6Protocol } from '../transport/icmp/icmp.js';
import { rawEndpointFactory } from '../transport/raw/raw.js';
import { udpProtocol } from '../transport/udp/udp.js';
import { arpProtocol } from './arp/arp.js';
import { ipv4Protocol } from './ipv4/ipv4.js';
import { IPv6Protocol, ipv6Protocol } from './ipv6/ipv6.js';

const US4 = Address.parse('10.6.0.1');
const PEER4 = Address.parse('10.6.0.2');
const US6 = Address.parse('fd06::1');
const PEER6 = Address.parse('fd06::2');

function host() {
  const stack = new Stack({
    networkProtocols: [ipv4Protocol(), ipv6Protocol(), arpProtocol()],
    transportProtocols: [udpProtocol(), icmpv4Protocol(), icmpv6Protocol()],
    rawFactory: rawEndpointFactory,
    clock: new ManualClock(),
  });
  const link = new ChannelEndpoint({ mtu: 1500 });
  const sent: Uint8Array[] = [];
  link.onOutbound = (f) => sent.push(f.bytes);
  stack.createNIC(1, link);
  stack.addAddress(1, `${US4}/24`);
  stack.addAddress(1, `${US6}/64`);
  const nic = stack.nic(1)!;
  const inject = (proto: number, bytes: Uint8Array) => {
    const pkt = new PacketBuffer(bytes);
    pkt.networkHeader = 0;
    nic.deliverNetworkPacket(proto, pkt);
  };
  return { stack, sent, inject, nic };
}

function ipv4Fragment(id: number, offset: number, mf: boolean, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const frag = (mf ? 0x2000 : 0) | (offset >> 3);
  p.set([0x45, 0, p.length >> 8, p.length & 0xff, id >> 8, id & 0xff, frag >> 8, frag & 0xff, 64, 1]);
  p.set(PEER4.bytes, 12);
  p.set(US4.bytes, 16);
  const c = internetChecksum(p, 0, 20);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  p.set(payload, 20);
  return p;
}

function ipv6(next: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p.set([0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, next, 64]);
  p.set(PEER6.bytes, 8);
  p.set(US6.bytes, 24);
  p.set(payload, 40);
  return p;
}

/** An IPv6 fragment header (RFC 8200 4.5) naming `next`, then `data`. */
function fragmentHeader(next: number, offset: number, more: boolean, id: number, data: Uint8Array): Uint8Array {
  const f = new Uint8Array(8 + data.length);
  f.set([next, 0, offset >> 8, (offset & 0xf8) | (more ? 1 : 0), id >>> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff]);
  f.set(data, 8);
  return f;
}

describe('hostile packets', () => {
  it('drops IPv4 fragments that reassemble past 65535 bytes with the header (ping of death)', () => {
    const { stack, sent, inject } = host();
    // An ICMP echo request whose fragments carry 65535 payload bytes: with the 20-byte header, 65555 in all.
    const payload = new Uint8Array(65535);
    payload.set([8, 0, 0, 0, 0, 1, 0, 1]);
    const step = 1480;
    for (let off = 0; off < payload.length; off += step) {
      const end = Math.min(off + step, payload.length);
      inject(EtherType.IPV4, ipv4Fragment(77, off, end < payload.length, payload.subarray(off, end)));
    }
    expect(stack.stats.ip.reassemblyErrors).toBe(1);
    expect(stack.stats.ip.reassembled).toBe(0);
    expect(stack.stats.icmp.received).toBe(0);
    expect(sent.length).toBe(0);
    // The largest legal datagram (65535 with the header) still reassembles and is answered.
    const legal = payload.slice(0, 65535 - 20);
    const c = internetChecksum(legal);
    legal[2] = c >> 8;
    legal[3] = c & 0xff;
    for (let off = 0; off < legal.length; off += step) {
      const end = Math.min(off + step, legal.length);
      inject(EtherType.IPV4, ipv4Fragment(78, off, end < legal.length, legal.subarray(off, end)));
    }
    expect(stack.stats.ip.reassembled).toBe(1);
    expect(stack.stats.icmp.echoRequestsReceived).toBe(1);
    stack.close();
  });

  it('handles atomic IPv6 fragment headers in place and drops a fragment header inside a reassembled datagram', () => {
    const { stack, inject } = host();
    const sock = stack.newEndpoint(17, 6, new WaiterQueue());
    if (sock instanceof TcpipError) throw new Error(String(sock));
    sock.bind({ address: Address.parse('::'), port: 7 });
    const udpDatagram = (data: Uint8Array) => {
      const u = new Uint8Array(8 + data.length);
      u.set([0x30, 0x39, 0, 7, u.length >> 8, u.length & 0xff, 0, 0]);
      u.set(data, 8);
      const c = internetChecksum(u, 0, u.length, pseudoHeaderSumV6(PEER6.bytes, US6.bytes, 17, u.length)) || 0xffff;
      u[6] = c >> 8;
      u[7] = c & 0xff;
      return u;
    };
    const deliver = (bytes: Uint8Array) => {
      const pkt = new PacketBuffer(bytes);
      pkt.networkHeader = 0;
      stack.nic(1)!.deliverNetworkPacket(EtherType.IPV6, pkt);
    };
    // Two nested atomic fragments (RFC 6946) around UDP: accepted, as Linux does.
    deliver(ipv6(44, fragmentHeader(44, 0, false, 1, fragmentHeader(17, 0, false, 2, udpDatagram(Uint8Array.of(1, 2, 3))))));
    expect(stack.stats.udp.packetsReceived).toBe(1);

    // A datagram of ~8000 nested atomic fragment headers, itself sent in fragments: processed without recursing
    // once per header (which overflowed the call stack) or copying the datagram once per header.
    let inner = udpDatagram(Uint8Array.of(9));
    while (inner.length + 8 <= 65000) inner = fragmentHeader(inner.length > 16 ? 44 : 17, 0, false, 3, inner);
    const step = 1448;
    for (let off = 0; off < inner.length; off += step) {
      const end = Math.min(off + step, inner.length);
      deliver(ipv6(44, fragmentHeader(44, off, end < inner.length, 99, inner.subarray(off, end))));
    }
    expect(stack.stats.ip.reassembled).toBe(1);
    expect(stack.stats.udp.packetsReceived).toBe(2);

    // A reassembled datagram that holds a fragment of another datagram is dropped: fragments are made by the
    // source only (RFC 8200 4.5), so a fragment inside a fragment is an attack on the reassembler.
    const nested = fragmentHeader(17, 0, true, 5, udpDatagram(new Uint8Array(8)));
    const before = stack.stats.ip.reassembled;
    deliver(ipv6(44, fragmentHeader(44, 0, true, 6, nested.subarray(0, 16))));
    deliver(ipv6(44, fragmentHeader(44, 16, false, 6, nested.subarray(16))));
    expect(stack.stats.ip.reassembled).toBe(before + 1);
    const v6 = stack.networkProtocol(EtherType.IPV6) as IPv6Protocol;
    expect(v6.reassembler.pendingCount).toBe(0); // the inner fragment was not taken in
    expect(stack.stats.udp.packetsReceived).toBe(2);
    stack.close();
  });

  it('learns no neighbour entry for an ARP sender that claims one of our own addresses', () => {
    const { stack, sent, inject, nic } = host();
    const arp = (senderIp: Address, targetIp: Address) => {
      const b = new Uint8Array(ARP_SIZE);
      new ArpPacket(b, 0, ARP_SIZE).encode({
        op: ARP_OP_REQUEST, senderMac: Uint8Array.of(2, 0, 0, 0, 0, 0x66), senderIp: senderIp.bytes,
        targetMac: new Uint8Array(6), targetIp: targetIp.bytes,
      });
      inject(EtherType.ARP, b);
    };
    arp(US4, US4); // a gratuitous ARP from someone else for our address
    arp(US4, PEER4);
    expect(nic.neighbors(4)!.get(US4)).toBeUndefined();
    // An ordinary request still teaches the sender and is answered.
    arp(PEER4, US4);
    expect(nic.neighbors(4)!.get(PEER4)?.state).toBe('stale');
    expect(stack.stats.arp.repliesSent).toBeGreaterThanOrEqual(1);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    stack.close();
  });

  it('sends no ICMP error about a datagram that arrived as a link-layer broadcast (RFC 1122 3.2.2, RFC 4443 2.4)', () => {
    const { stack, sent, nic } = host();
    const udpToClosedPort = (family: 4 | 6, packetType: number) => {
      const udp = Uint8Array.of(0x30, 0x39, 0, 9, 0, 9, 0, 0, 0x55);
      let bytes: Uint8Array;
      if (family === 4) {
        bytes = ipv4Fragment(1, 0, false, udp);
        bytes[9] = 17;
        bytes[10] = 0;
        bytes[11] = 0;
        const c = internetChecksum(bytes, 0, 20);
        bytes[10] = c >> 8;
        bytes[11] = c & 0xff;
      } else {
        bytes = ipv6(17, udp);
      }
      const pkt = new PacketBuffer(bytes);
      pkt.networkHeader = 0;
      pkt.packetType = packetType;
      pkt.checksumValidated = true;
      nic.deliverNetworkPacket(family === 4 ? EtherType.IPV4 : EtherType.IPV6, pkt);
    };
    for (const family of [4, 6] as const) {
      udpToClosedPort(family, PacketType.BROADCAST);
      udpToClosedPort(family, PacketType.MULTICAST);
    }
    expect(stack.stats.icmp.destUnreachableSent).toBe(0);
    // Unicast frames are answered: the check is on the frame, not on ICMP as a whole.
    udpToClosedPort(4, PacketType.HOST);
    udpToClosedPort(6, PacketType.HOST);
    expect(stack.stats.icmp.destUnreachableSent).toBe(2);
    stack.close();
  });

  it('drops loopback addresses arriving from the link, either as source or destination (martians)', async () => {
    const { stack, nic } = host();
    stack.createNIC(2, new LoopbackEndpoint(), { name: 'lo' });
    stack.addAddress(2, '127.0.0.1/8');
    stack.addAddress(2, '::1/128');
    stack.addRouteText('::1/128', undefined, 2);
    const open = (family: 4 | 6, address: string) => {
      const ep = stack.newEndpoint(17, family, new WaiterQueue());
      if (ep instanceof TcpipError) throw new Error(String(ep));
      expect(ep.bind({ address: Address.parse(address), port: 53 })).toBeUndefined();
      return ep;
    };
    const lo4 = open(4, '127.0.0.1');
    const lo6 = open(6, '::1');
    const us4 = open(4, US4.toString());
    const udp = (family: 4 | 6, src: Address, dst: Address) => {
      const u = new Uint8Array(9);
      u.set([0x30, 0x39, 0, 53, 0, 9, 0, 0, 0x42]);
      const ipLen = family === 4 ? 20 : 40;
      const p = new Uint8Array(ipLen + u.length);
      if (family === 4) {
        p.set([0x45, 0, 0, p.length, 0, 1, 0, 0, 64, 17]);
        p.set(src.bytes, 12);
        p.set(dst.bytes, 16);
        const c = internetChecksum(p, 0, 20);
        p[10] = c >> 8;
        p[11] = c & 0xff;
      } else {
        p.set([0x60, 0, 0, 0, 0, u.length, 17, 64]);
        p.set(src.bytes, 8);
        p.set(dst.bytes, 24);
      }
      p.set(u, ipLen);
      const pkt = new PacketBuffer(p);
      pkt.networkHeader = 0;
      pkt.checksumValidated = true;
      nic.deliverNetworkPacket(family === 4 ? EtherType.IPV4 : EtherType.IPV6, pkt);
    };
    const LO4 = Address.parse('127.0.0.1');
    const LO6 = Address.parse('::1');
    udp(4, PEER4, LO4); // a neighbour reaching a service bound to 127.0.0.1
    udp(6, PEER6, LO6);
    udp(4, LO4, US4); // a neighbour posing as a local client
    udp(6, LO6, US6);
    const buf = new Uint8Array(16);
    for (const ep of [lo4, lo6, us4]) expect(ep.read(buf)).toMatchObject({ code: 'WouldBlock' });
    expect(stack.stats.udp.packetsReceived).toBe(0);
    // The same datagrams are fine on the loopback NIC itself, and local traffic from 127.0.0.1 to our own address
    // still arrives.
    const c = stack.newEndpoint(17, 4, new WaiterQueue());
    if (c instanceof TcpipError) throw new Error(String(c));
    c.bind({ address: LO4, port: 0 });
    expect(c.write(Uint8Array.of(7), { to: { address: US4, port: 53 } })).toBe(1);
    expect(c.write(Uint8Array.of(8), { to: { address: LO4, port: 53 } })).toBe(1);
    for (let i = 0; i < 10 && stack.stats.udp.packetsReceived < 2; i++) await new Promise((r) => setImmediate(r));
    expect(us4.read(buf)).toMatchObject({ count: 1 });
    expect(buf[0]).toBe(7);
    expect(lo4.read(buf)).toMatchObject({ count: 1 });
    expect(buf[0]).toBe(8);
    stack.close();
  });

  it('learns no neighbour entry from a neighbour solicitation whose source is one of our own addresses', () => {
    const { stack, nic } = host();
    const solicit = (src: Address) => {
      const icmp = new Uint8Array(32);
      icmp.set([135, 0, 0, 0, 0, 0, 0, 0]);
      icmp.set(US6.bytes, 8); // target: our address
      icmp.set([1, 1, 2, 0, 0, 0, 0, 0x66], 24); // source link-layer address option
      const dst = Address.fromBytes(solicitedNodeAddress(US6.bytes));
      const c = internetChecksum(icmp, 0, icmp.length, pseudoHeaderSumV6(src.bytes, dst.bytes, 58, icmp.length));
      icmp[2] = c >> 8;
      icmp[3] = c & 0xff;
      const p = new Uint8Array(40 + icmp.length);
      p.set([0x60, 0, 0, 0, 0, icmp.length, 58, 255]);
      p.set(src.bytes, 8);
      p.set(dst.bytes, 24);
      p.set(icmp, 40);
      const pkt = new PacketBuffer(p);
      pkt.networkHeader = 0;
      nic.deliverNetworkPacket(EtherType.IPV6, pkt);
    };
    solicit(US6);
    expect(nic.neighbors(6)!.get(US6)).toBeUndefined();
    solicit(PEER6);
    expect(nic.neighbors(6)!.get(PEER6)?.state).toBe('stale');
    expect(stack.stats.ndp.neighborSolicitsReceived).toBe(2);
    stack.close();
  });

  it('gives a reassembled IPv4 datagram the first fragment\'s header, options included, whatever arrived last', () => {
    const { stack, inject } = host();
    const raw = stack.newRawEndpoint(1, 4, new WaiterQueue());
    if (raw instanceof TcpipError) throw new Error(String(raw));
    const echo = new Uint8Array(16);
    echo.set([8, 0, 0, 0, 0, 1, 0, 1]);
    const c = internetChecksum(echo);
    echo[2] = c >> 8;
    echo[3] = c & 0xff;
    // First fragment: 24-byte header (four NOP options), offset 0, MF, the first 8 bytes.
    const first = new Uint8Array(24 + 8);
    first.set([0x46, 0, 0, first.length, 0, 99, 0x20, 0, 64, 1]);
    first.set(PEER4.bytes, 12);
    first.set(US4.bytes, 16);
    first.set([1, 1, 1, 1], 20);
    const fc = internetChecksum(first, 0, 24);
    first[10] = fc >> 8;
    first[11] = fc & 0xff;
    first.set(echo.subarray(0, 8), 24);
    inject(EtherType.IPV4, first);
    inject(EtherType.IPV4, ipv4Fragment(99, 8, false, echo.subarray(8)));
    expect(stack.stats.ip.reassembled).toBe(1);
    const buf = new Uint8Array(100);
    const r = raw.read(buf);
    expect(r).toMatchObject({ count: 24 + 16 });
    expect(buf[0]).toBe(0x46);
    expect(Array.from(buf.subarray(20, 24))).toEqual([1, 1, 1, 1]);
    expect(Array.from(buf.subarray(24, 40))).toEqual(Array.from(echo));
    stack.close();
  });
});

// Hostile input: mutated and truncated IPv4/IPv6/ARP frames (with ICMP, NDP, UDP, fragments and extension
// headers inside) are fed into a NIC. Nothing may throw, and the stack must keep working afterwards.
// TSVISOR_FUZZ_ITERATIONS raises the number of mutations (make fuzz).
import { describe, expect, it } from 'vitest';
import { PacketBuffer } from '../buffer/packet_buffer.js';
import { internetChecksum } from '../header/checksum.js';
import { ChannelEndpoint } from '../link/channel.js';
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
import { ipv6Protocol } from './ipv6/ipv6.js';

const ITERATIONS = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 20000);

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

const A4 = Address.parse('10.5.0.1');
const B4 = Address.parse('10.5.0.2');
const A6 = Address.parse('fd05::1');
const B6 = Address.parse('fd05::2');

function v4(proto: number, payload: Uint8Array, frag = 0): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p.set([0x45, 0, p.length >> 8, p.length & 0xff, 0, 7, frag >> 8, frag & 0xff, 64, proto]);
  p.set(B4.bytes, 12);
  p.set(A4.bytes, 16);
  const c = internetChecksum(p, 0, 20);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  p.set(payload, 20);
  return p;
}
function v6(next: number, payload: Uint8Array, hop = 64): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p.set([0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, next, hop]);
  p.set(B6.bytes, 8);
  p.set(A6.bytes, 24);
  p.set(payload, 40);
  return p;
}

/** Seeds: one valid-looking frame per code path. */
function seeds(): { proto: number; bytes: Uint8Array }[] {
  const udp = Uint8Array.of(0x30, 0x39, 0, 7, 0, 12, 0, 0, 1, 2, 3, 4);
  const echo = Uint8Array.of(8, 0, 0, 0, 0, 1, 0, 1, 9, 9);
  const err4 = new Uint8Array(8 + 28);
  err4.set([3, 4, 0, 0, 0, 0, 2, 0]);
  err4.set(v4(17, udp).subarray(0, 28), 8);
  const ns = new Uint8Array(32);
  ns.set([135, 0, 0, 0]);
  ns.set(A6.bytes, 8);
  ns.set([1, 1, 2, 0, 0, 0, 0, 9], 24);
  const ptb = new Uint8Array(8 + 48);
  ptb.set([2, 0, 0, 0, 0, 0, 4, 0]);
  ptb.set(v6(17, new Uint8Array(8)), 8);
  const frag6 = new Uint8Array(8 + 16);
  frag6.set([17, 0, 0, 1, 0, 0, 0, 5]);
  const hbh = Uint8Array.of(17, 0, 1, 4, 0, 0, 0, 0, ...udp);
  const arp = new Uint8Array(28);
  arp.set([0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 9]);
  arp.set(B4.bytes, 14);
  arp.set(A4.bytes, 24);
  return [
    { proto: EtherType.IPV4, bytes: v4(17, udp) },
    { proto: EtherType.IPV4, bytes: v4(1, echo) },
    { proto: EtherType.IPV4, bytes: v4(1, err4) },
    { proto: EtherType.IPV4, bytes: v4(17, new Uint8Array(16), 0x2000) },
    { proto: EtherType.IPV4, bytes: v4(17, new Uint8Array(16), 0x0002) },
    { proto: EtherType.IPV6, bytes: v6(17, udp) },
    { proto: EtherType.IPV6, bytes: v6(58, Uint8Array.of(128, 0, 0, 0, 0, 1, 0, 1, 5)) },
    { proto: EtherType.IPV6, bytes: v6(58, ns, 255) },
    { proto: EtherType.IPV6, bytes: v6(58, ptb) },
    { proto: EtherType.IPV6, bytes: v6(44, frag6) },
    { proto: EtherType.IPV6, bytes: v6(0, hbh) },
    { proto: EtherType.ARP, bytes: arp },
  ];
}

describe('network layer under mutated input', () => {
  it(`survives ${ITERATIONS} mutated frames and still works`, async () => {
    const clock = new ManualClock();
    const stack = new Stack({
      networkProtocols: [ipv4Protocol(), ipv6Protocol(), arpProtocol()],
      transportProtocols: [udpProtocol(), icmpv4Protocol(), icmpv6Protocol()],
      rawFactory: rawEndpointFactory,
      clock,
    });
    const link = new ChannelEndpoint({ mtu: 1500 });
    const sent: Uint8Array[] = [];
    link.onOutbound = (f) => sent.push(f.bytes);
    stack.createNIC(1, link);
    stack.addAddress(1, '10.5.0.1/24');
    stack.addAddress(1, 'fd05::1/64');
    const sock = stack.newEndpoint(17, 6, new WaiterQueue());
    if (sock instanceof TcpipError) throw new Error(String(sock));
    sock.bind({ address: Address.parse('::'), port: 7 });
    const raw = stack.newRawEndpoint(58, 6, new WaiterQueue());
    if (raw instanceof TcpipError) throw new Error(String(raw));
    const nic = stack.nic(1)!;
    const r = rng(1234);
    const base = seeds();
    for (let i = 0; i < ITERATIONS; i++) {
      const s = base[i % base.length]!;
      const b = Uint8Array.from(s.bytes);
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      const len = r() < 0.2 ? Math.floor(r() * b.length) : b.length;
      // Half the time, repair the IPv4 header checksum and vouch for transport checksums, so mutations reach the
      // code behind the checksum checks instead of being dropped at the door.
      const deep = r() < 0.5;
      if (deep && s.proto === EtherType.IPV4 && len >= 20) {
        const hl = Math.min((b[0]! & 0xf) * 4, len);
        b[10] = 0;
        b[11] = 0;
        const c = internetChecksum(b, 0, hl);
        b[10] = c >> 8;
        b[11] = c & 0xff;
      }
      const pkt = new PacketBuffer(b, 0, len);
      pkt.checksumValidated = deep;
      pkt.borrowed = true;
      pkt.networkHeader = 0;
      nic.deliverNetworkPacket(s.proto, pkt);
      if (i % 997 === 0) clock.advance(5000);
      if (sent.length > 1000) sent.length = 0;
    }
    clock.advance(120_000);
    // Reassembly state was bounded and has drained.
    expect(stack.stats.ip.packetsReceived).toBeGreaterThan(0);
    // The stack still works: a valid UDP datagram is delivered.
    const good = base[5]!;
    const pkt = new PacketBuffer(Uint8Array.from(good.bytes));
    pkt.networkHeader = 0;
    pkt.checksumValidated = true; // the seed carries no UDP checksum, which IPv6 forbids
    const before = stack.stats.udp.packetsReceived;
    nic.deliverNetworkPacket(good.proto, pkt);
    expect(stack.stats.udp.packetsReceived).toBe(before + 1);
    stack.close();
  });
});

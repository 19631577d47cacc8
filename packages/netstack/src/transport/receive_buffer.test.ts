// SO_RCVBUF accounting of UDP and raw sockets under a flood from the network: every queued datagram is charged for its
// bookkeeping as well as its payload, so even empty datagrams fill the buffer (Linux charges skb truesize).
import { describe, expect, it } from 'vitest';
import { PacketBuffer } from '../buffer/packet_buffer.js';
import { ChannelEndpoint } from '../link/channel.js';
import { ipv4Protocol } from '../network/ipv4/ipv4.js';
import { ipv6Protocol } from '../network/ipv6/ipv6.js';
import { rawEndpointFactory } from './raw/raw.js';
import { Address, EtherType } from '../stack/address.js';
import { ManualClock } from '../stack/clock.js';
import { DEFAULT_RECEIVE_BUFFER_SIZE } from '../stack/socket_options.js';
import { Stack } from '../stack/stack.js';
import { TcpipError } from '../stack/tcpip_error.js';
import { WaiterQueue } from '../waiter/waiter_queue.js';
import { DATAGRAM_OVERHEAD } from './datagram_endpoint.js';
import { udpProtocol } from './udp/udp.js';

const US = Address.parse('10.7.0.1');
const PEER = Address.parse('10.7.0.2');

function datagram(payloadLength: number): Uint8Array {
  const p = new Uint8Array(28 + payloadLength);
  p.set([0x45, 0, p.length >> 8, p.length & 0xff, 0, 1, 0, 0, 64, 17]);
  p.set(PEER.bytes, 12);
  p.set(US.bytes, 16);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i]! << 8) | p[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  p[10] = (~s >> 8) & 0xff;
  p[11] = ~s & 0xff;
  p.set([0x30, 0x39, 0, 53, (8 + payloadLength) >> 8, (8 + payloadLength) & 0xff, 0, 0], 20); // checksum 0: none
  return p;
}

describe('receive buffers', () => {
  it('bounds the queue of a socket nobody reads, even for empty datagrams', () => {
    const stack = new Stack({ networkProtocols: [ipv4Protocol()], transportProtocols: [udpProtocol()], clock: new ManualClock() });
    stack.createNIC(1, new ChannelEndpoint({ mtu: 1500 }));
    stack.addAddress(1, `${US}/24`);
    const sock = stack.newEndpoint(17, 4, new WaiterQueue());
    if (sock instanceof TcpipError) throw new Error(String(sock));
    sock.bind({ address: US, port: 53 });
    const nic = stack.nic(1)!;
    const flood = (payloadLength: number, count: number) => {
      for (let i = 0; i < count; i++) {
        const pkt = new PacketBuffer(datagram(payloadLength));
        pkt.networkHeader = 0;
        nic.deliverNetworkPacket(EtherType.IPV4, pkt);
      }
    };
    flood(0, 100_000);
    const fit = Math.floor(DEFAULT_RECEIVE_BUFFER_SIZE / DATAGRAM_OVERHEAD);
    expect(stack.stats.udp.packetsReceived).toBe(100_000);
    expect(stack.stats.udp.receiveBufferErrors).toBe(100_000 - fit);
    // Reading frees room again: one empty datagram read, one more accepted.
    const buf = new Uint8Array(16);
    const r = sock.read(buf);
    expect(r).not.toBeInstanceOf(TcpipError);
    flood(0, 2);
    expect(stack.stats.udp.receiveBufferErrors).toBe(100_000 - fit + 1);
    stack.close();
  });

  it('bounds the queue of an IPv6 raw socket flooded with empty payloads', () => {
    const stack = new Stack({ networkProtocols: [ipv6Protocol()], transportProtocols: [], rawFactory: rawEndpointFactory, clock: new ManualClock() });
    stack.createNIC(1, new ChannelEndpoint({ mtu: 1500 }));
    stack.addAddress(1, 'fd07::1/64');
    const raw = stack.newRawEndpoint(253, 6, new WaiterQueue()); // RFC 3692 experimental protocol number
    if (raw instanceof TcpipError) throw new Error(String(raw));
    const nic = stack.nic(1)!;
    const p = new Uint8Array(40);
    p.set([0x60, 0, 0, 0, 0, 0, 253, 64]);
    p.set(Address.parse('fd07::2').bytes, 8);
    p.set(Address.parse('fd07::1').bytes, 24);
    for (let i = 0; i < 50_000; i++) {
      const pkt = new PacketBuffer(Uint8Array.from(p));
      pkt.networkHeader = 0;
      nic.deliverNetworkPacket(EtherType.IPV6, pkt);
    }
    const fit = Math.floor(DEFAULT_RECEIVE_BUFFER_SIZE / DATAGRAM_OVERHEAD);
    expect(stack.stats.raw.packetsReceived).toBe(fit);
    expect(stack.stats.raw.receiveBufferErrors).toBe(50_000 - fit);
    stack.close();
  });
});

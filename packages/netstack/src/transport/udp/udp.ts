// UDP (RFC 768, udp(7)): the protocol (demux ports, port unreachable for unknown destinations) and endpoints.

import { PacketBuffer } from '../../buffer/packet_buffer.js';
import { UDP_HEADER_SIZE, UDPHeader } from '../../header/udp.js';
import { IpProtocol } from '../../stack/address.js';
import type { Endpoint, WriteOptions } from '../../stack/endpoint.js';
import type { Route } from '../../stack/route.js';
import type { Stack } from '../../stack/stack.js';
import type { TcpipError } from '../../stack/tcpip_error.js';
import type {
  NetworkReceiveInfo, TransportProtocol, TransportProtocolFactory, UnknownDestinationResult,
} from '../../stack/transport_protocol.js';
import type { WaiterQueue } from '../../waiter/waiter_queue.js';
import { DatagramEndpoint } from '../datagram_endpoint.js';

export function udpProtocol(): TransportProtocolFactory {
  return (stack) => new UdpProtocol(stack);
}

export class UdpProtocol implements TransportProtocol {
  readonly number = IpProtocol.UDP;
  readonly minimumPacketSize = UDP_HEADER_SIZE;
  constructor(readonly stack: Stack) {}

  sourcePort(bytes: Uint8Array, offset: number, length: number): number {
    return length < 4 ? -1 : (bytes[offset]! << 8) | bytes[offset + 1]!;
  }
  destinationPort(bytes: Uint8Array, offset: number, length: number): number {
    return length < 4 ? -1 : (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  }

  newEndpoint(family: 4 | 6, waiterQueue: WaiterQueue): Endpoint {
    return new UdpEndpoint(this.stack, family, waiterQueue);
  }

  handleUnknownDestinationPacket(info: NetworkReceiveInfo, pkt: PacketBuffer): UnknownDestinationResult {
    // Validate before answering: RFC 1122 4.1.3.1 says a datagram with a bad checksum is discarded silently.
    const h = new UDPHeader(pkt.buf, pkt.transportHeader, pkt.tail - pkt.transportHeader);
    if (!h.isValid()) {
      this.stack.stats.udp.malformedPackets++;
      return 'malformed';
    }
    if (!pkt.checksumValidated && !checksumOk(h, info, pkt)) {
      this.stack.stats.udp.checksumErrors++;
      return 'handled';
    }
    return 'portUnreachable';
  }
}

function checksumOk(h: UDPHeader, info: NetworkReceiveInfo, pkt: PacketBuffer): boolean {
  const len = h.udpLength();
  const pseudo = pseudoSum(pkt.buf, pkt.networkHeader, info.family, IpProtocol.UDP, len);
  return h.isChecksumValid(pseudo, info.family === 4);
}

/** Pseudo-header sum read straight from the IP header of a received packet. */
function pseudoSum(b: Uint8Array, ipOff: number, family: 4 | 6, protocol: number, length: number): number {
  let s = 0;
  const start = family === 4 ? ipOff + 12 : ipOff + 8;
  const end = family === 4 ? ipOff + 20 : ipOff + 40;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  return family === 4 ? s + protocol + length : s + Math.floor(length / 0x10000) + (length & 0xffff) + protocol;
}

export class UdpEndpoint extends DatagramEndpoint {
  private readonly rxHeader = new UDPHeader(new Uint8Array(0));

  constructor(stack: Stack, family: 4 | 6, waiterQueue: WaiterQueue) {
    super(stack, family, IpProtocol.UDP, waiterQueue);
  }

  protected demuxProtocol(): number {
    return IpProtocol.UDP;
  }

  protected maxPayload(netFamily: 4 | 6): number {
    // IPv4: 65535 - 20 (IP header) - 8; IPv6: the payload length field bounds UDP length to 65535.
    return netFamily === 4 ? 65507 : 65527;
  }

  protected sendDatagram(route: Route, payload: Uint8Array, remotePort: number, opts: WriteOptions | undefined): TcpipError | undefined {
    const len = UDP_HEADER_SIZE + payload.length;
    const pkt = PacketBuffer.allocate(len, route.maxHeaderLength);
    pkt.transportHeader = pkt.head;
    pkt.buf.set(payload, pkt.head + UDP_HEADER_SIZE);
    const h = new UDPHeader(pkt.buf, pkt.head, len);
    h.encode({ sourcePort: this.localPort, destinationPort: remotePort, length: len });
    // SO_NO_CHECK: IPv4 may send without a checksum (RFC 768); IPv6 must always checksum (RFC 8200 8.1).
    if (!(route.family === 4 && this.options.flag('noChecksum'))) h.updateChecksum(route.pseudoHeaderSum(IpProtocol.UDP, len));
    const o = this.options;
    const ttl = opts?.ttl ?? (route.isMulticast
      ? (route.family === 4 ? o.get('multicastTtl') : o.get('ipv6MulticastHops'))
      : route.family === 4 ? o.get('ttl') : Math.max(0, o.get('ipv6HopLimit')));
    const tos = opts?.tos ?? (route.family === 4 ? o.get('tos') : o.get('ipv6TrafficClass'));
    const err = route.writePacket(pkt, { protocol: IpProtocol.UDP, ttl, tos, multicastLoop: o.flag('multicastLoop') });
    if (err) {
      this.stack.stats.udp.packetSendErrors++;
      return err;
    }
    this.stack.stats.udp.packetsSent++;
    return undefined;
  }

  protected parseDatagram(info: NetworkReceiveInfo, pkt: PacketBuffer): boolean {
    const st = this.stack.stats.udp;
    const h = this.rxHeader.reset(pkt.buf, pkt.transportHeader, pkt.tail - pkt.transportHeader);
    if (!h.isValid()) {
      st.malformedPackets++;
      return false;
    }
    if (!pkt.checksumValidated && !checksumOk(h, info, pkt)) {
      st.checksumErrors++;
      return false;
    }
    st.packetsReceived++;
    const p = this.parsed;
    p.start = pkt.transportHeader + UDP_HEADER_SIZE;
    p.end = pkt.transportHeader + h.udpLength();
    p.sourcePort = h.sourcePort();
    return true;
  }

  protected override onReceiveBufferFull(): void {
    this.stack.stats.udp.receiveBufferErrors++;
  }
}

// ICMP echo ("ping") sockets: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and the IPv6 equivalent (icmp(7),
// Linux net/ipv4/ping.c). The application writes an ICMP echo request (type, code, checksum, id, sequence, data);
// the stack replaces the identifier with the socket's "port" and computes the checksum. Reads return echo replies
// whose identifier matches, ICMP header included.

import { PacketBuffer } from '../../buffer/packet_buffer.js';
import { ICMPV4_ECHO, ICMPV4_ECHO_REPLY, ICMPV4_HEADER_SIZE, ICMPv4Header } from '../../header/icmpv4.js';
import { ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPv6Header } from '../../header/icmpv6.js';
import { IpProtocol } from '../../stack/address.js';
import type { Endpoint, WriteOptions } from '../../stack/endpoint.js';
import type { Route } from '../../stack/route.js';
import type { Stack } from '../../stack/stack.js';
import { TcpipErrors, type TcpipError } from '../../stack/tcpip_error.js';
import type {
  NetworkReceiveInfo, TransportProtocol, TransportProtocolFactory, UnknownDestinationResult,
} from '../../stack/transport_protocol.js';
import type { WaiterQueue } from '../../waiter/waiter_queue.js';
import { DatagramEndpoint } from '../datagram_endpoint.js';

/** ICMPv4 (protocol 1) ping sockets for IPv4; register icmpv6Protocol() too for IPv6 ping sockets. */
export function icmpv4Protocol(): TransportProtocolFactory {
  return (stack) => new IcmpProtocol(stack, 4);
}
export function icmpv6Protocol(): TransportProtocolFactory {
  return (stack) => new IcmpProtocol(stack, 6);
}

export class IcmpProtocol implements TransportProtocol {
  readonly number: number;
  readonly minimumPacketSize = ICMPV4_HEADER_SIZE;

  constructor(
    readonly stack: Stack,
    readonly family: 4 | 6,
  ) {
    this.number = family === 4 ? IpProtocol.ICMP : IpProtocol.ICMPV6;
  }

  /** Echo replies are demultiplexed by identifier alone: it is the local "port"; there is no remote port. */
  sourcePort(_bytes: Uint8Array, _offset: number, length: number): number {
    return length < 8 ? -1 : 0;
  }
  destinationPort(bytes: Uint8Array, offset: number, length: number): number {
    return length < 8 ? -1 : (bytes[offset + 4]! << 8) | bytes[offset + 5]!;
  }
  /** In an error quoting our echo request, the identifier is ours. */
  quotedLocalPort(bytes: Uint8Array, offset: number, length: number): number {
    return length < 8 ? -1 : (bytes[offset + 4]! << 8) | bytes[offset + 5]!;
  }
  quotedRemotePort(_bytes: Uint8Array, _offset: number, length: number): number {
    return length < 8 ? -1 : 0;
  }

  newEndpoint(family: 4 | 6, waiterQueue: WaiterQueue): Endpoint | TcpipError {
    if (family !== this.family) return TcpipErrors.addressFamilyNotSupported;
    return new IcmpEndpoint(this.stack, family, waiterQueue);
  }

  handleUnknownDestinationPacket(): UnknownDestinationResult {
    return 'handled'; // an unmatched echo reply is simply dropped
  }
}

export class IcmpEndpoint extends DatagramEndpoint {
  constructor(stack: Stack, family: 4 | 6, waiterQueue: WaiterQueue) {
    super(stack, family, family === 4 ? IpProtocol.ICMP : IpProtocol.ICMPV6, waiterQueue);
  }

  protected demuxProtocol(): number {
    return this.family === 4 ? IpProtocol.ICMP : IpProtocol.ICMPV6;
  }

  protected maxPayload(netFamily: 4 | 6): number {
    return netFamily === 4 ? 65515 : 65535;
  }

  /** Ping sockets have no dual-stack mode: an IPv6 ping socket speaks ICMPv6 only. */
  protected override toNetAddress(a: import('../../stack/address.js').Address) {
    if (a.family !== this.family) return TcpipErrors.addressFamilyNotSupported;
    return { family: this.family, address: a };
  }

  protected sendDatagram(route: Route, payload: Uint8Array, _remotePort: number, opts: WriteOptions | undefined): TcpipError | undefined {
    if (payload.length < ICMPV4_HEADER_SIZE) return TcpipErrors.invalidOptionValue;
    const echo = this.family === 4 ? ICMPV4_ECHO : ICMPV6_ECHO_REQUEST;
    // ping.c ping_common_sendmsg: only echo requests with code 0 may be sent.
    if (payload[0] !== echo || payload[1] !== 0) return TcpipErrors.invalidOptionValue;
    const len = payload.length;
    const pkt = PacketBuffer.allocate(len, route.maxHeaderLength);
    pkt.transportHeader = pkt.head;
    pkt.buf.set(payload, pkt.head);
    if (this.family === 4) {
      const h = new ICMPv4Header(pkt.buf, pkt.head, len);
      h.setIdent(this.localPort);
      h.updateChecksum();
    } else {
      const h = new ICMPv6Header(pkt.buf, pkt.head, len);
      h.setIdent(this.localPort);
      h.updateChecksum(route.pseudoHeaderSum(IpProtocol.ICMPV6, len));
    }
    const o = this.options;
    const ttl = opts?.ttl ?? (this.family === 4 ? o.get('ttl') : Math.max(0, o.get('ipv6HopLimit')));
    return route.writePacket(pkt, { protocol: this.protocol, ttl, tos: opts?.tos ?? o.get('tos') });
  }

  /** ping sockets queue the quoted ICMP message itself (net/ipv4/ping.c ping_err). */
  protected override quotedHeaderLength(): number {
    return 0;
  }

  protected parseDatagram(_info: NetworkReceiveInfo, pkt: PacketBuffer): boolean {
    const type = pkt.buf[pkt.transportHeader];
    if (type !== (this.family === 4 ? ICMPV4_ECHO_REPLY : ICMPV6_ECHO_REPLY)) return false;
    const p = this.parsed;
    p.start = pkt.transportHeader;
    p.end = pkt.tail;
    p.sourcePort = 0;
    return true;
  }
}

// A Route is what a transport endpoint sends through: the chosen local address, remote address, NIC and next hop,
// and writePacket() which adds the network header (and fragments to the MTU), resolves the next hop's link address
// and hands the frame to the link. Transports get one from Stack.findRoute() and keep it while connected.
//
// Packet convention: the transport builds its segment (transport header + payload) in a PacketBuffer with at least
// `route.maxHeaderLength` bytes of headroom (PacketBuffer.allocate(n, route.maxHeaderLength)), sets
// pkt.transportHeader = pkt.head, and calls writePacket(pkt, params). The network and link layers prepend their
// headers into that headroom. The packet then belongs to the stack (it may sit in a neighbour-resolution queue or
// the qdisc): the transport must not touch it again and keeps its own copy of data it may retransmit.

import type { Address, LinkAddress } from './address.js';
import type { TcpipError } from './tcpip_error.js';
import type { PacketBuffer } from '../buffer/packet_buffer.js';

export interface NetworkWriteParams {
  /** IP protocol number of the payload (6, 17, 1, 58, ...). */
  protocol: number;
  /** TTL / hop limit; 0 means the route default (64, or 1 for multicast unless set). */
  ttl: number;
  /** IPv4 TOS / IPv6 traffic class. */
  tos: number;
  /**
   * IPv4 DF bit / IPv6 "do not fragment locally". TCP sets it (PMTU discovery, RFC 1191); with it, a packet over the
   * MTU fails with messageTooLong instead of being fragmented.
   */
  dontFragment?: boolean;
  /** IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: false keeps a copy of multicast sent by this socket from looping back. */
  multicastLoop?: boolean;
}

/** The network-layer operations a Route delegates to (implemented by the IPv4/IPv6 network endpoints). */
export interface RouteNetworkSender {
  writePacket(route: Route, pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | undefined;
  /** IP_HDRINCL: pkt.data() is a complete IP packet (the stack fills in id, length and checksum). */
  writeHeaderIncludedPacket(route: Route, pkt: PacketBuffer): TcpipError | undefined;
  /** Current MTU toward `remote` (link MTU, route MTU, learned path MTU). */
  mtuFor(route: Route): number;
  /** Bytes the network header takes (without options or extension headers). */
  readonly headerLength: number;
  confirmReachable?(route: Route): void;
}

export class Route {
  /** Default TTL/hop limit: net.ipv4.ip_default_ttl and net.ipv6.conf.*.hop_limit are 64 on Linux. */
  static readonly DEFAULT_TTL = 64;

  constructor(
    readonly family: 4 | 6,
    readonly nic: number,
    readonly localAddress: Address,
    readonly remoteAddress: Address,
    /** The gateway, or the remote address itself when on-link. */
    readonly nextHop: Address,
    /** Link header bytes the NIC's link endpoint prepends (14 for Ethernet, 0 for loopback). */
    readonly linkHeaderLength: number,
    /** Local link address of the NIC (empty for links without addresses). */
    readonly localLinkAddress: LinkAddress,
    private readonly sender: RouteNetworkSender,
    /** The destination is the subnet/limited broadcast address, or a multicast group. */
    readonly isBroadcast: boolean,
    readonly isMulticast: boolean,
    /** The destination is one of this stack's own addresses: the packet loops back without touching the link. */
    readonly isLocal: boolean,
    private readonly routeMtu: number,
  ) {}

  /** Headroom a transport must leave before its header: link + network header (without IP options). */
  get maxHeaderLength(): number {
    return this.linkHeaderLength + this.sender.headerLength + 8; // + room for an IPv6 fragment header
  }

  /** Largest network packet (IP header included) that leaves without fragmentation. */
  get mtu(): number {
    const m = this.sender.mtuFor(this);
    return this.routeMtu > 0 ? Math.min(m, this.routeMtu) : m;
  }

  /** Largest transport segment (header + payload) that fits the MTU without fragmentation. */
  get maxPayload(): number {
    return this.mtu - this.sender.headerLength;
  }

  defaultTtl(): number {
    return this.isMulticast ? 1 : Route.DEFAULT_TTL;
  }

  /**
   * Unfolded sum of the pseudo-header for `protocol` and upper-layer `length` (RFC 768 / RFC 9293 section 3.1 for
   * IPv4, RFC 8200 section 8.1 for IPv6): add the transport header and payload sums and finish with
   * finishChecksum() from header/checksum.ts.
   */
  pseudoHeaderSum(protocol: number, length: number): number {
    let s = 0;
    const a = this.localAddress.bytes;
    const b = this.remoteAddress.bytes;
    for (let i = 0; i < a.length; i += 2) s += ((a[i]! << 8) | a[i + 1]!) + ((b[i]! << 8) | b[i + 1]!);
    if (this.family === 4) return s + protocol + length;
    return s + Math.floor(length / 0x10000) + (length & 0xffff) + protocol;
  }

  /** Sends pkt (transport header at pkt.head). Errors: messageTooLong (DF and over MTU), noBufferSpace, ... */
  writePacket(pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | undefined {
    return this.sender.writePacket(this, pkt, params);
  }

  writeHeaderIncludedPacket(pkt: PacketBuffer): TcpipError | undefined {
    return this.sender.writeHeaderIncludedPacket(this, pkt);
  }

  /** Tells the neighbour cache that the peer is reachable (TCP calls this on an ACK of new data, RFC 4861 7.3.1). */
  confirmReachable(): void {
    this.sender.confirmReachable?.(this);
  }

  toString(): string {
    return `${this.localAddress} -> ${this.remoteAddress} via ${this.nextHop} nic ${this.nic}`;
  }
}

// What IPv4 (ipv4/ipv4.ts) and IPv6 (ipv6/ipv6.ts) do alike: the protocol's reassembler and ICMP error rate
// limiter, and on each NIC's endpoint the steps of receiving and sending that do not depend on the header format:
// dropping loopback addresses that arrive from a link, handing a packet to the transports and answering their
// verdict, reporting an ICMP error to the transport endpoint it concerns, echo replies, the MTU of a route, and
// the final hand-over of a packet to the NIC or to local delivery. Each version supplies its header handling and
// its ICMP messages through the abstract members.

import { PacketBuffer, PacketType } from '../buffer/packet_buffer.js';
import { Address, IpProtocol } from '../stack/address.js';
import { recordInternalError } from '../stack/internal_error.js';
import type { NetworkEndpoint, NetworkProtocol } from '../stack/network_protocol.js';
import type { NIC } from '../stack/nic.js';
import { Route } from '../stack/route.js';
import type { Stack } from '../stack/stack.js';
import type { TcpipError } from '../stack/tcpip_error.js';
import { NetworkReceiveInfo, type TransportErrorInfo, type TransportErrorKind } from '../stack/transport_protocol.js';
import { FragmentReassembler } from './fragment_reassembler.js';
import { IcmpRateLimiter } from './icmp_rate_limiter.js';

/** Options of ipv4Protocol() and ipv6Protocol(). */
export interface IpProtocolOptions {
  reassemblyTimeoutMs?: number;
  reassemblyMemoryLimit?: number;
  icmpErrorsPerSecond?: number;
  icmpErrorBurst?: number;
}

/** MTU of links without a limit of their own (loopback). */
export const LOCAL_MTU = 65535;

/** The per-stack half of IPv4 and IPv6: fragment reassembly and the ICMP error rate limit. */
export abstract class IpProtocolBase implements NetworkProtocol {
  abstract readonly etherType: number;
  abstract readonly family: 4 | 6;
  readonly reassembler: FragmentReassembler;
  readonly icmpLimiter: IcmpRateLimiter;

  constructor(
    readonly stack: Stack,
    opts: IpProtocolOptions,
    defaultReassemblyTimeoutMs: number,
  ) {
    this.reassembler = new FragmentReassembler({
      clock: stack.clock,
      timeoutMs: opts.reassemblyTimeoutMs ?? defaultReassemblyTimeoutMs,
      memoryLimit: opts.reassemblyMemoryLimit,
      onTimeout: (quote) => {
        stack.stats.ip.reassemblyTimeouts++;
        // RFC 792 / RFC 8200 4.5: Time Exceeded code 1, only if fragment zero arrived (it carries the header).
        if (!quote) return;
        // A timer callback: an exception here would have no caller but the process (stack/internal_error.ts).
        try {
          this.sendReassemblyTimeExceeded(quote);
        } catch (e) {
          recordInternalError(stack.stats, 'transmit', `IPv${this.family} reassembly timeout`, e);
        }
      },
    });
    this.icmpLimiter = new IcmpRateLimiter(stack.clock, opts.icmpErrorsPerSecond, opts.icmpErrorBurst);
  }

  abstract newEndpoint(nic: NIC): NetworkEndpoint;

  /** Sends Time Exceeded (fragment reassembly time exceeded) quoting the first fragment's `quote`. */
  protected abstract sendReassemblyTimeExceeded(quote: Uint8Array): void;

  close(): void {
    this.reassembler.clear();
  }

  /**
   * The route for an ICMP error back to `src` about a packet sent to `dst` (from `dst` itself when that is one of
   * our addresses), or undefined if the rate limit refuses it or there is no route.
   */
  protected icmpErrorRoute(src: Address, dst: Address, nicHint: number): Route | undefined {
    if (!this.icmpLimiter.allow()) {
      this.stack.stats.icmp.rateLimited++;
      return undefined;
    }
    const local = this.stack.isLocalAddress(dst) ? dst : undefined;
    const route = this.stack.findRoute(local ? 0 : nicHint, local, src, this.family);
    return route instanceof Route ? route : undefined;
  }
}

/** The per-NIC half of IPv4 and IPv6. */
export abstract class IpEndpointBase {
  abstract readonly family: 4 | 6;
  abstract readonly etherType: number;
  protected readonly stack: Stack;
  /** Reused for every delivered packet: receivers read it during delivery only. */
  private readonly info = new NetworkReceiveInfo();
  private readonly errInfo: TransportErrorInfo;

  constructor(
    readonly nic: NIC,
    stack: Stack,
    unspecifiedAddress: string,
  ) {
    this.stack = stack;
    this.errInfo = { kind: 'portUnreachable', mtu: 0, icmpType: 0, icmpCode: 0, reporter: Address.parse(unspecifiedAddress) };
  }

  close(): void {}

  // ---- receive

  /**
   * RFC 1122 3.2.1.3 (g) and RFC 4291 2.5.3: a loopback source or destination must not appear outside a host.
   * Linux drops such "martians" from any device but lo; accepting them would let a neighbour reach services bound
   * to 127.0.0.1 / ::1, or pose as one of their local clients. True (and counted) if `pkt` is to be dropped.
   */
  protected isLoopbackMartian(pkt: PacketBuffer, src: Address, dst: Address): boolean {
    if (this.nic.isLoopback || pkt.packetType === PacketType.LOOPBACK || !(src.isLoopback() || dst.isLoopback())) return false;
    if (src.isLoopback()) this.stack.stats.ip.invalidSourceAddresses++;
    else this.stack.stats.ip.invalidDestinationAddresses++;
    return true;
  }

  /**
   * Fills the receive information of a packet about to go up (its upper-layer header `networkHeaderLength` bytes
   * past its network header) and counts it delivered.
   */
  protected receiveInfo(
    pkt: PacketBuffer, src: Address, dst: Address, ttl: number, tos: number, protocol: number,
    isBroadcastOrMulticast: boolean, networkHeaderLength: number,
  ): NetworkReceiveInfo {
    const info = this.info;
    info.nic = this.nic.id;
    info.family = this.family;
    info.source = src;
    info.destination = dst;
    info.ttl = ttl;
    info.tos = tos;
    info.protocol = protocol;
    info.isBroadcastOrMulticast = isBroadcastOrMulticast;
    info.networkHeaderLength = networkHeaderLength;
    pkt.transportHeader = pkt.networkHeader + networkHeaderLength;
    pkt.transportProtocol = protocol;
    this.stack.stats.ip.packetsDelivered++;
    return info;
  }

  /**
   * Hands a packet to raw sockets and its transport, and answers the transport's verdict: port or protocol
   * unreachable errors (never for broadcast/multicast: RFC 1122 3.2.2, RFC 4443 2.4 (e)), or a malformed count.
   */
  protected deliverToTransport(pkt: PacketBuffer, info: NetworkReceiveInfo): void {
    const isBroadcastOrMulticast = info.isBroadcastOrMulticast;
    const protocol = info.protocol;
    const r = this.stack.deliverTransportPacket(info, pkt);
    if (isBroadcastOrMulticast) return;
    if (r === 'portUnreachable') {
      this.stack.stats.udp.unknownPortErrors += protocol === IpProtocol.UDP ? 1 : 0;
      this.sendPortUnreachable(pkt);
    } else if (r === 'protocolUnreachable') {
      this.stack.stats.ip.unknownProtocol++;
      this.sendProtocolUnreachable(pkt);
    } else if (r === 'malformed') {
      this.stack.stats.ip.malformedPackets++;
    }
  }

  /** ICMP Destination Unreachable (port) about `pkt`. */
  protected abstract sendPortUnreachable(pkt: PacketBuffer): void;
  /** ICMP Destination Unreachable (protocol), or IPv6's Parameter Problem (unknown next header), about `pkt`. */
  protected abstract sendProtocolUnreachable(pkt: PacketBuffer): void;

  /**
   * Tells the transport endpoint that sent the quoted packet (`qsrc` -> `qdst`, upper-layer `protocol`, its
   * header at the start of `quoted`) about an ICMP error `reporter` sent us.
   */
  protected reportTransportError(
    info: NetworkReceiveInfo, kind: TransportErrorKind, mtu: number, icmpType: number, icmpCode: number,
    protocol: number, qsrc: Address, qdst: Address, quoted: Uint8Array,
  ): void {
    const e = this.errInfo;
    e.kind = kind;
    e.mtu = mtu;
    e.icmpType = icmpType;
    e.icmpCode = icmpCode;
    e.reporter = info.source;
    this.stack.deliverTransportError(info, e, protocol, qsrc, qdst, quoted);
  }

  /** Answers an echo request with the same identifier, sequence and data, from `local` (undefined: pick one). */
  protected sendEchoReply(req: PacketBuffer, info: NetworkReceiveInfo, local: Address | undefined): void {
    const route = this.stack.findRoute(this.nic.id, local, info.source, this.family);
    if (!(route instanceof Route)) return;
    const off = req.transportHeader;
    const len = req.tail - off;
    const pkt = PacketBuffer.allocate(len, route.maxHeaderLength);
    pkt.buf.set(req.buf.subarray(off, req.tail), pkt.head);
    pkt.transportHeader = pkt.head;
    const protocol = this.makeEchoReply(pkt, len, route);
    this.stack.stats.icmp.sent++;
    this.stack.stats.icmp.echoRepliesSent++;
    route.writePacket(pkt, { protocol, ttl: 0, tos: info.tos });
  }

  /** Turns the copied echo request at pkt.head (`len` bytes) into a reply; returns the ICMP protocol number. */
  protected abstract makeEchoReply(pkt: PacketBuffer, len: number, route: Route): number;

  // ---- send

  mtuFor(route: Route): number {
    if (route.isLocal) return LOCAL_MTU;
    const nicMtu = this.nic.mtu;
    const pmtu = this.stack.pathMtu(route.remoteAddress);
    return pmtu !== undefined && pmtu < nicMtu ? pmtu : nicMtu;
  }

  confirmReachable(route: Route): void {
    this.nic.neighbors(this.family)?.confirmReachable(route.nextHop);
  }

  /** A packet for one of our own addresses goes back up through the stack's local delivery, never to a link. */
  protected sendLocal(route: Route, pkt: PacketBuffer): undefined {
    this.stack.stats.ip.packetsSent++;
    this.stack.deliverLocal(route.nic, this.etherType, pkt);
    return undefined;
  }

  /** A copy of an outgoing multicast (or broadcast) packet is also received here (IP_MULTICAST_LOOP). */
  protected loopBackCopy(route: Route, pkt: PacketBuffer): void {
    const copy = pkt.clone();
    copy.networkHeader = copy.head;
    this.stack.deliverLocal(route.nic, this.etherType, copy);
  }

  /** Hands a finished packet (one that fits the MTU, or a GSO super-packet) to the NIC. */
  protected sendToNic(route: Route, pkt: PacketBuffer): TcpipError | undefined {
    const stats = this.stack.stats.ip;
    stats.packetsSent++;
    const err = this.nic.writeNetworkPacket(pkt, this.etherType, this.family, route.nextHop, route.isBroadcast, this.onResolutionFailure);
    if (err) stats.outgoingPacketErrors++;
    return err;
  }

  /** Hands one fragment to the NIC (counted; an error is returned for the caller to count once per datagram). */
  protected sendFragment(route: Route, frag: PacketBuffer): TcpipError | undefined {
    const stats = this.stack.stats.ip;
    frag.networkHeader = frag.head;
    stats.fragmentsCreated++;
    stats.packetsSent++;
    return this.nic.writeNetworkPacket(frag, this.etherType, this.family, route.nextHop, route.isBroadcast);
  }

  private readonly onResolutionFailure = (dropped: PacketBuffer): void => {
    this.stack.stats.ip.outgoingPacketErrors++;
    this.sendHostUnreachable(dropped);
  };

  /**
   * ARP/NDP failed: the queued packet is dropped and its sender told, as Linux does: host unreachable for IPv4,
   * address unreachable (RFC 4443 3.1 code 3) for IPv6.
   */
  protected abstract sendHostUnreachable(dropped: PacketBuffer): void;
}

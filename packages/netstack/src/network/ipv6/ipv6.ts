// IPv6 (RFC 8200) with ICMPv6 (RFC 4443) and NDP address resolution (ndp.ts): receive validation, extension header
// processing (hop-by-hop/destination options with the unknown-option action bits of section 4.2, routing headers,
// fragments), reassembly, local delivery, echo replies, ICMPv6 errors, source fragmentation and PMTU (RFC 8201).

import { PacketBuffer } from '../../buffer/packet_buffer.js';
import {
  ICMPV6_ADDRESS_UNREACHABLE, ICMPV6_DEST_UNREACHABLE, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST,
  ICMPV6_ERRONEOUS_HEADER, ICMPV6_HEADER_SIZE, ICMPV6_NEIGHBOR_ADVERT, ICMPV6_NEIGHBOR_SOLICIT, ICMPV6_NO_ROUTE,
  ICMPV6_PACKET_TOO_BIG, ICMPV6_PARAM_PROBLEM, ICMPV6_PORT_UNREACHABLE, ICMPV6_ROUTER_ADVERT,
  ICMPV6_ROUTER_SOLICIT, ICMPV6_TIME_EXCEEDED, ICMPV6_UNKNOWN_NEXT_HEADER, ICMPV6_UNKNOWN_OPTION, ICMPv6Header,
  isICMPv6Error,
} from '../../header/icmpv6.js';
import { IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING } from '../../header/ipv4.js';
import {
  IPV6_FRAGMENT_HEADER_SIZE, IPV6_HEADER_SIZE,
  IPV6_MIN_MTU, IPv6ExtensionWalker, IPv6FragmentHeader, IPv6Header, forEachIPv6Option, solicitedNodeAddress,
} from '../../header/ipv6.js';
import { PacketType } from '../../buffer/packet_buffer.js';
import { Address, EtherType, IpProtocol } from '../../stack/address.js';
import type { IpNetworkEndpoint, NetworkProtocolFactory } from '../../stack/network_protocol.js';
import type { NIC } from '../../stack/nic.js';
import { Route, type NetworkWriteParams } from '../../stack/route.js';
import type { Stack } from '../../stack/stack.js';
import { TcpipErrors, type TcpipError } from '../../stack/tcpip_error.js';
import type { NetworkReceiveInfo, TransportErrorKind } from '../../stack/transport_protocol.js';
import { IpEndpointBase, IpProtocolBase, type IpProtocolOptions } from '../ip_endpoint_base.js';
import { NdpHandler } from './ndp.js';

/** RFC 8200 section 4.5: reassembly gives up 60 seconds after the first fragment. */
export const IPV6_REASSEMBLY_TIMEOUT_MS = 60_000;

export type IPv6ProtocolOptions = IpProtocolOptions;

export function ipv6Protocol(opts: IPv6ProtocolOptions = {}): NetworkProtocolFactory {
  return (stack) => new IPv6Protocol(stack, opts);
}

export class IPv6Protocol extends IpProtocolBase {
  readonly etherType = EtherType.IPV6;
  readonly family = 6 as const;
  private nextId = Math.floor(Math.random() * 0x7fffffff);

  constructor(stack: Stack, opts: IPv6ProtocolOptions) {
    super(stack, opts, IPV6_REASSEMBLY_TIMEOUT_MS);
  }

  protected sendReassemblyTimeExceeded(quote: Uint8Array): void {
    this.sendIcmpErrorFromQuote(quote, ICMPV6_TIME_EXCEEDED, 1, 0, 0);
  }

  newEndpoint(nic: NIC): IPv6Endpoint {
    const ep = new IPv6Endpoint(this, nic);
    if (nic.needsResolution) nic.setLinkAddressResolver(6, ep.ndp);
    return ep;
  }

  allocateId(): number {
    this.nextId = (this.nextId + 1) >>> 0;
    return this.nextId;
  }

  /**
   * An ICMPv6 error quoting `quote` (the offending packet from its IPv6 header). RFC 4443 2.4 (e): no errors about
   * errors, about packets to multicast (except Packet Too Big and unknown-option Parameter Problems), or from an
   * unspecified/multicast source.
   */
  sendIcmpErrorFromQuote(quote: Uint8Array, type: number, code: number, rest: number, nicHint: number, allowMulticastDst = false): void {
    if (quote.length < IPV6_HEADER_SIZE) return;
    const src = Address.intern(quote, 8, 16);
    const dst = Address.intern(quote, 24, 16);
    if (src.isUnspecified() || src.isMulticast()) return;
    if (dst.isMulticast() && !allowMulticastDst) return;
    if (quote[6] === IpProtocol.ICMPV6 && quote.length > IPV6_HEADER_SIZE && isICMPv6Error(quote[IPV6_HEADER_SIZE]!)) return;
    const route = this.icmpErrorRoute(src, dst, nicHint);
    if (!route) return;
    // RFC 4443 2.4 (c): as much of the invoking packet as fits in the minimum MTU.
    const quoteLen = Math.min(quote.length, IPV6_MIN_MTU - IPV6_HEADER_SIZE - ICMPV6_HEADER_SIZE);
    const len = ICMPV6_HEADER_SIZE + quoteLen;
    const pkt = PacketBuffer.allocate(len, route.maxHeaderLength);
    pkt.transportHeader = pkt.head;
    const icmp = new ICMPv6Header(pkt.buf, pkt.head, len);
    icmp.encode({ type, code, restOfHeader: rest });
    pkt.buf.set(quote.subarray(0, quoteLen), pkt.head + ICMPV6_HEADER_SIZE);
    icmp.updateChecksum(route.pseudoHeaderSum(IpProtocol.ICMPV6, len));
    const st = this.stack.stats.icmp;
    st.sent++;
    if (type === ICMPV6_DEST_UNREACHABLE) st.destUnreachableSent++;
    else if (type === ICMPV6_TIME_EXCEEDED) st.timeExceededSent++;
    else if (type === ICMPV6_PARAM_PROBLEM) st.paramProblemSent++;
    else if (type === ICMPV6_PACKET_TOO_BIG) st.packetTooBigSent++;
    route.writePacket(pkt, { protocol: IpProtocol.ICMPV6, ttl: 0, tos: 0 });
  }
}

export class IPv6Endpoint extends IpEndpointBase implements IpNetworkEndpoint {
  readonly family = 6 as const;
  readonly etherType = EtherType.IPV6;
  readonly headerLength = IPV6_HEADER_SIZE;
  readonly ndp: NdpHandler;
  private readonly rx = new IPv6Header(new Uint8Array(0));
  private readonly tx = new IPv6Header(new Uint8Array(0));
  private readonly icmp = new ICMPv6Header(new Uint8Array(0));
  private readonly walker = new IPv6ExtensionWalker();

  constructor(
    readonly protocol: IPv6Protocol,
    nic: NIC,
  ) {
    super(nic, protocol.stack, '::');
    this.ndp = new NdpHandler(protocol.stack, nic);
  }

  addressAdded(address: Address): void {
    // RFC 4861 7.2.1: join the solicited-node multicast group of every assigned address.
    if (address.family === 6) this.nic.joinGroup(Address.fromBytes(solicitedNodeAddress(address.bytes)));
  }
  addressRemoved(address: Address): void {
    if (address.family === 6) this.nic.leaveGroup(Address.fromBytes(solicitedNodeAddress(address.bytes)));
  }

  // ---- receive

  handlePacket(pkt: PacketBuffer): void {
    this.receive(pkt, false);
  }

  /** `reassembled`: `pkt` was put together from fragments here (and must not hold a fragment of its own). */
  private receive(pkt: PacketBuffer, reassembled: boolean): void {
    const stats = this.stack.stats.ip;
    stats.packetsReceived++;
    const off = pkt.head;
    const h = this.rx.reset(pkt.buf, off, pkt.tail - off);
    if (h.invalidReason() !== null) {
      stats.malformedPackets++;
      return;
    }
    pkt.truncate(IPV6_HEADER_SIZE + h.payloadLength());
    pkt.networkHeader = off;
    const src = Address.intern(pkt.buf, off + 8, 16);
    const dst = Address.intern(pkt.buf, off + 24, 16);
    if (src.isMulticast()) {
      stats.invalidSourceAddresses++;
      return;
    }
    // RFC 4291 2.5.3: a packet with the loopback address as source or destination received on an interface (other
    // than loopback) must be dropped.
    if (this.isLoopbackMartian(pkt, src, dst)) return;
    let mcast = false;
    if (!this.nic.hasAddress(dst) && !(this.nic.isLoopback && dst.isLoopback())) {
      if (dst.isMulticast()) {
        if (!dst.equals(ALL_NODES) && !this.nic.isInGroup(dst)) {
          stats.invalidDestinationAddresses++;
          return;
        }
        mcast = true;
      } else if (!this.stack.isLocalAddress(dst)) {
        if (pkt.packetType === PacketType.OTHERHOST) return;
        this.forward(pkt, h);
        return;
      }
    }
    const w = this.walker.start(h);
    let prevNextHeaderField = off + 6;
    for (;;) {
      const before = w.nextHeaderFieldOffset;
      if (!w.next()) break;
      prevNextHeaderField = before;
      if (w.headerType === IPPROTO_HOPOPTS || w.headerType === IPPROTO_DSTOPTS) {
        if (!this.processOptions(pkt, w.headerOffset, w.headerLength, mcast)) return;
        stats.optionsProcessed++;
      } else if (w.headerType === IPPROTO_ROUTING) {
        // RFC 8200 4.4: we implement no routing types; with segments left > 0 the packet is refused.
        const segLeft = pkt.buf[w.headerOffset + 3]!;
        if (segLeft !== 0) {
          stats.malformedPackets++;
          this.sendIcmpError(pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_ERRONEOUS_HEADER, w.headerOffset + 2 - off);
          return;
        }
      } else if (w.headerType === IPPROTO_FRAGMENT) {
        stats.fragmentsReceived++;
        // An atomic fragment (offset 0, M=0; RFC 6946) is the whole datagram: step over its header in place. Taking
        // it through reassembly would copy the packet and recurse once per header, and a crafted datagram of
        // thousands of nested atomic fragment headers would overflow the call stack.
        if (w.fragmentOffset === 0 && !w.moreFragments) continue;
        // Only the source fragments (RFC 8200 4.5): a fragment inside a reassembled datagram is never legitimate,
        // and following it would let one packet complete nested reassemblies recursively.
        if (reassembled) {
          stats.malformedPackets++;
          return;
        }
        this.reassemble(pkt, h, src, dst, w.headerOffset, prevNextHeaderField);
        return;
      }
    }
    if (w.error !== null) {
      stats.malformedPackets++;
      if (w.error !== 'truncated') this.sendIcmpError(pkt, ICMPV6_PARAM_PROBLEM, w.error === 'hop-by-hop-not-first' ? ICMPV6_UNKNOWN_NEXT_HEADER : ICMPV6_ERRONEOUS_HEADER, w.pointer);
      return;
    }
    const info = this.receiveInfo(pkt, src, dst, h.hopLimit(), h.trafficClass(), w.upperProtocol, mcast, w.upperOffset - off);
    if (info.protocol === IpProtocol.ICMPV6) {
      this.handleIcmp(pkt, info, h.hopLimit());
      return;
    }
    if (info.protocol === 59 /* No Next Header */) return;
    this.deliverToTransport(pkt, info);
  }

  protected sendPortUnreachable(pkt: PacketBuffer): void {
    this.sendIcmpError(pkt, ICMPV6_DEST_UNREACHABLE, ICMPV6_PORT_UNREACHABLE, 0);
  }

  /** RFC 8200 section 4: Parameter Problem code 1 pointing at the Next Header field that named the protocol. */
  protected sendProtocolUnreachable(pkt: PacketBuffer): void {
    // The walker still describes `pkt`: delivery to the transports happens before any other packet is received.
    this.sendIcmpError(pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_UNKNOWN_NEXT_HEADER, prevNextHeaderFieldFor(this.walker, pkt.networkHeader));
  }

  /**
   * RFC 8200 4.2: the two high bits of an unrecognised option type say: 00 skip, 01 discard, 10 discard and send
   * Parameter Problem code 2, 11 the same unless the destination was multicast. Returns false if discarded.
   */
  private processOptions(pkt: PacketBuffer, hdrOff: number, hdrLen: number, mcast: boolean): boolean {
    let ok = true;
    let pointer = -1;
    let report = false;
    forEachIPv6Option(pkt.buf, hdrOff + 2, hdrLen - 2, (type, dataOff) => {
      // Known: Pad1/PadN are skipped by the walker; Router Alert (5) is accepted and ignored.
      if (type === 5) return true;
      const action = type >> 6;
      if (action === 0) return true;
      ok = false;
      pointer = dataOff - 2 - pkt.networkHeader;
      report = action === 2 || (action === 3 && !mcast);
      return false;
    });
    if (!ok && report) this.sendIcmpError(pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_UNKNOWN_OPTION, pointer, true);
    if (!ok) this.stack.stats.ip.malformedPackets++;
    return ok;
  }

  private reassemble(pkt: PacketBuffer, h: IPv6Header, src: Address, dst: Address, fragOff: number, nhField: number): void {
    const stats = this.stack.stats.ip;
    const off = pkt.networkHeader;
    const fh = new IPv6FragmentHeader(pkt.buf, fragOff, IPV6_FRAGMENT_HEADER_SIZE);
    const end = off + IPV6_HEADER_SIZE + h.payloadLength();
    const payload = pkt.buf.subarray(fragOff + IPV6_FRAGMENT_HEADER_SIZE, end);
    const fragmentOffset = fh.fragmentOffset();
    // RFC 8200 4.5: a fragment whose length is not a multiple of 8 (and is not the last) gets Parameter Problem
    // code 0 pointing at the Payload Length field.
    if (fh.moreFragments() && payload.length % 8 !== 0) {
      stats.reassemblyErrors++;
      this.sendIcmpError(pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_ERRONEOUS_HEADER, 4);
      return;
    }
    const key = `${src}>${dst}#${fh.identification()}`;
    const unfragLen = fragOff - off;
    const quote = fragmentOffset === 0 ? pkt.buf.subarray(off, Math.min(end, fragOff + IPV6_FRAGMENT_HEADER_SIZE + 8)) : undefined;
    const nextHeader = fh.nextHeader();
    const r = this.protocol.reassembler.add(key, fragmentOffset, fh.moreFragments(), payload, quote);
    if (r.kind === 'incomplete') return;
    if (r.kind === 'error') {
      stats.reassemblyErrors++;
      return;
    }
    stats.reassembled++;
    if (unfragLen - IPV6_HEADER_SIZE + r.payload.length > 0xffff) {
      stats.reassemblyErrors++;
      return;
    }
    // The reassembled packet: this fragment's unfragmentable part, the Next Header that named the fragment header
    // patched to the fragment's Next Header, then the payload.
    const whole = PacketBuffer.allocate(unfragLen + r.payload.length, 0);
    whole.buf.set(pkt.buf.subarray(off, fragOff), 0);
    whole.buf.set(r.payload, unfragLen);
    whole.buf[nhField - off] = nextHeader;
    new IPv6Header(whole.buf, 0, whole.buf.length).setPayloadLength(unfragLen - IPV6_HEADER_SIZE + r.payload.length);
    whole.packetType = pkt.packetType;
    whole.networkProtocol = EtherType.IPV6;
    stats.packetsReceived--; // counted once already
    this.receive(whole, true);
  }

  private handleIcmp(pkt: PacketBuffer, info: NetworkReceiveInfo, hopLimit: number): void {
    const st = this.stack.stats.icmp;
    st.received++;
    const off = pkt.transportHeader;
    const len = pkt.tail - off;
    const icmp = this.icmp.reset(pkt.buf, off, len);
    const ip = this.rx.reset(pkt.buf, pkt.networkHeader, pkt.tail - pkt.networkHeader);
    if (!icmp.isValid() || (!pkt.checksumValidated && !icmp.isChecksumValid(ip.pseudoHeaderSum(IpProtocol.ICMPV6, len)))) {
      st.invalid++;
      return;
    }
    const type = icmp.type();
    switch (type) {
      case ICMPV6_ECHO_REQUEST:
        st.echoRequestsReceived++;
        this.stack.deliverRawPacket(info, pkt);
        // Linux answers echo requests to multicast groups it joined (net.ipv6.icmp.echo_ignore_multicast=0).
        // The reply's source: the address the request was sent to, or (for multicast) one of ours.
        this.sendEchoReply(pkt, info, info.isBroadcastOrMulticast ? undefined : info.destination);
        return;
      case ICMPV6_ECHO_REPLY:
        st.echoRepliesReceived++;
        this.stack.deliverTransportPacket(info, pkt);
        return;
      case ICMPV6_NEIGHBOR_SOLICIT:
      case ICMPV6_NEIGHBOR_ADVERT:
        this.stack.deliverRawPacket(info, pkt);
        this.ndp.handle(icmp, info.source, info.destination, hopLimit);
        return;
      case ICMPV6_ROUTER_SOLICIT:
        this.stack.stats.ndp.routerSolicitsReceived++;
        this.stack.deliverRawPacket(info, pkt);
        return;
      case ICMPV6_ROUTER_ADVERT:
        // Router discovery / SLAAC is not implemented: addresses and routes are configured explicitly.
        this.stack.stats.ndp.routerAdvertsReceived++;
        this.stack.deliverRawPacket(info, pkt);
        return;
      case ICMPV6_DEST_UNREACHABLE:
      case ICMPV6_PACKET_TOO_BIG:
      case ICMPV6_TIME_EXCEEDED:
      case ICMPV6_PARAM_PROBLEM:
        this.stack.deliverRawPacket(info, pkt);
        this.handleIcmpError(pkt, info, type, icmp.code(), icmp.mtu());
        return;
      default:
        this.stack.deliverRawPacket(info, pkt);
    }
  }

  private handleIcmpError(pkt: PacketBuffer, info: NetworkReceiveInfo, type: number, code: number, field: number): void {
    const st = this.stack.stats.icmp;
    const qoff = pkt.transportHeader + ICMPV6_HEADER_SIZE;
    const qlen = pkt.tail - qoff;
    if (qlen < IPV6_HEADER_SIZE || pkt.buf[qoff]! >> 4 !== 6) return;
    const qsrc = Address.intern(pkt.buf, qoff + 8, 16);
    const qdst = Address.intern(pkt.buf, qoff + 24, 16);
    if (!this.stack.isLocalAddress(qsrc)) return;
    // Find the quoted upper-layer header past extension headers (as far as the quote reaches).
    const qh = new IPv6Header(pkt.buf, qoff, qlen);
    const w = new IPv6ExtensionWalker();
    w.bytes = pkt.buf;
    w.start(qh);
    w.end = Math.min(w.end, pkt.tail);
    while (w.next());
    let kind: TransportErrorKind;
    let mtu = 0;
    switch (type) {
      case ICMPV6_DEST_UNREACHABLE:
        st.destUnreachableReceived++;
        kind = code === ICMPV6_PORT_UNREACHABLE ? 'portUnreachable'
          : code === ICMPV6_NO_ROUTE ? 'networkUnreachable'
          : code === ICMPV6_ADDRESS_UNREACHABLE ? 'hostUnreachable'
          : 'administrativelyProhibited';
        break;
      case ICMPV6_PACKET_TOO_BIG:
        st.packetTooBigReceived++;
        kind = 'packetTooBig';
        // RFC 8201 section 4: never reduce below the IPv6 minimum MTU.
        mtu = Math.max(IPV6_MIN_MTU, Math.min(field, 0xffffffff));
        this.stack.updatePathMtu(qdst, mtu);
        break;
      case ICMPV6_TIME_EXCEEDED:
        st.timeExceededReceived++;
        kind = 'timeExceeded';
        break;
      default:
        kind = 'parameterProblem';
    }
    if (w.error !== null || w.upperProtocol < 0) return;
    this.reportTransportError(info, kind, mtu, type, code, w.upperProtocol, qsrc, qdst, pkt.buf.subarray(w.upperOffset, pkt.tail));
  }

  protected makeEchoReply(pkt: PacketBuffer, len: number, route: Route): number {
    const icmp = new ICMPv6Header(pkt.buf, pkt.head, len);
    icmp.setType(ICMPV6_ECHO_REPLY);
    icmp.setCode(0);
    icmp.updateChecksum(route.pseudoHeaderSum(IpProtocol.ICMPV6, len));
    return IpProtocol.ICMPV6;
  }

  private sendIcmpError(pkt: PacketBuffer, type: number, code: number, rest: number, allowMulticastDst = false): void {
    // RFC 4443 2.4 (e.3): not about a packet sent to a link-layer multicast or broadcast address, with the same
    // exceptions (Packet Too Big, Parameter Problem code 2) as for an IPv6 multicast destination.
    if (!allowMulticastDst && (pkt.packetType === PacketType.BROADCAST || pkt.packetType === PacketType.MULTICAST)) return;
    this.protocol.sendIcmpErrorFromQuote(pkt.buf.subarray(pkt.networkHeader, pkt.tail), type, code, rest, this.nic.id, allowMulticastDst);
  }

  private forward(pkt: PacketBuffer, h: IPv6Header): void {
    const stats = this.stack.stats.ip;
    if (!this.stack.forwarding.v6) {
      stats.forwardingDisabled++;
      return;
    }
    const dst = Address.intern(pkt.buf, pkt.networkHeader + 24, 16);
    if (dst.isLinkLocalUnicast()) return; // RFC 4291 2.5.6: never forwarded
    if (h.hopLimit() <= 1) {
      stats.ttlExceeded++;
      this.sendIcmpError(pkt, ICMPV6_TIME_EXCEEDED, 0, 0);
      return;
    }
    const route = this.stack.findRoute(0, undefined, dst, 6);
    if (!(route instanceof Route) || route.isLocal) {
      this.sendIcmpError(pkt, ICMPV6_DEST_UNREACHABLE, ICMPV6_NO_ROUTE, 0);
      return;
    }
    const size = pkt.tail - pkt.networkHeader;
    if (size > route.mtu) {
      // RFC 8200 section 5: routers never fragment; Packet Too Big, even for multicast.
      this.sendIcmpError(pkt, ICMPV6_PACKET_TOO_BIG, 0, route.mtu, true);
      return;
    }
    const out = pkt.clone(route.linkHeaderLength + 16);
    out.head = out.networkHeader;
    out.buf[out.head + 7]!--;
    this.stack.nic(route.nic)!.writeNetworkPacket(out, EtherType.IPV6, 6, route.nextHop, false);
  }

  // ---- send

  writePacket(route: Route, pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | undefined {
    const payloadLen = pkt.tail - pkt.head;
    const gso = pkt.gso !== null && pkt.gso.type !== 0;
    if (payloadLen > 0xffff && !gso) return TcpipErrors.messageTooLong;
    const mtu = route.mtu;
    const totalLen = IPV6_HEADER_SIZE + payloadLen;
    if (totalLen > mtu && !gso && params.dontFragment) return TcpipErrors.messageTooLong;
    const off = pkt.prepend(IPV6_HEADER_SIZE);
    pkt.networkHeader = off;
    pkt.transportProtocol = params.protocol;
    if (pkt.transportHeader < 0) pkt.transportHeader = off + IPV6_HEADER_SIZE;
    // Field by field rather than encode({...}): no object literal per packet on the send path.
    const h = this.tx.reset(pkt.buf, off, totalLen);
    h.setVersionClassFlow(params.tos, 0);
    h.setPayloadLength(Math.min(payloadLen, 0xffff));
    h.setNextHeader(params.protocol);
    h.setHopLimit(params.ttl > 0 ? params.ttl : route.defaultTtl());
    pkt.buf.set(route.localAddress.bytes, off + 8); // Address bytes are exactly 16 long: no subarray needed
    pkt.buf.set(route.remoteAddress.bytes, off + 24);
    return this.send(route, pkt, totalLen, mtu, gso, params.multicastLoop !== false);
  }

  writeHeaderIncludedPacket(route: Route, pkt: PacketBuffer): TcpipError | undefined {
    const len = pkt.tail - pkt.head;
    // raw(7)/ipv6(7): IPv6 raw sockets have no IP_HDRINCL; IPPROTO_RAW sockets send complete packets as given.
    if (len < IPV6_HEADER_SIZE || len - IPV6_HEADER_SIZE > 0xffff) return TcpipErrors.invalidOptionValue;
    pkt.networkHeader = pkt.head;
    const h = this.tx.reset(pkt.buf, pkt.head, len);
    if (h.version() !== 6) return TcpipErrors.invalidOptionValue;
    h.setPayloadLength(len - IPV6_HEADER_SIZE);
    return this.send(route, pkt, len, route.mtu, false);
  }

  private send(route: Route, pkt: PacketBuffer, totalLen: number, mtu: number, gso: boolean, loop = true): TcpipError | undefined {
    if (route.isLocal) return this.sendLocal(route, pkt);
    // Multicast to a group this host joined (ff02::1 always) is also delivered locally (IPV6_MULTICAST_LOOP).
    if (loop && route.isMulticast && (route.remoteAddress.equals(ALL_NODES) || this.nic.isInGroup(route.remoteAddress))) {
      this.loopBackCopy(route, pkt);
    }
    if (totalLen > mtu && !gso) return this.fragmentAndSend(route, pkt, totalLen - IPV6_HEADER_SIZE);
    // route.isBroadcast is always false here: IPv6 has no broadcast.
    return this.sendToNic(route, pkt);
  }

  /** NDP failed: "address unreachable" (RFC 4443 3.1 code 3). */
  protected sendHostUnreachable(dropped: PacketBuffer): void {
    this.sendIcmpError(dropped, ICMPV6_DEST_UNREACHABLE, ICMPV6_ADDRESS_UNREACHABLE, 0);
  }

  /** RFC 8200 section 4.5: the source splits the payload after the fixed header into fragments with a header each. */
  private fragmentAndSend(route: Route, pkt: PacketBuffer, payloadLen: number): TcpipError | undefined {
    const stats = this.stack.stats.ip;
    const base = pkt.head;
    const nextHeader = pkt.buf[base + 6]!;
    const maxData = (route.mtu - IPV6_HEADER_SIZE - IPV6_FRAGMENT_HEADER_SIZE) & ~7;
    if (maxData <= 0) return TcpipErrors.messageTooLong;
    const id = this.protocol.allocateId();
    let done = 0;
    let err: TcpipError | undefined;
    while (done < payloadLen) {
      const n = Math.min(payloadLen - done, maxData);
      const more = done + n < payloadLen;
      const frag = PacketBuffer.allocate(IPV6_HEADER_SIZE + IPV6_FRAGMENT_HEADER_SIZE + n, route.linkHeaderLength + 16);
      const o = frag.head;
      frag.buf.set(pkt.buf.subarray(base, base + IPV6_HEADER_SIZE), o);
      const fh = new IPv6Header(frag.buf, o, IPV6_HEADER_SIZE);
      fh.setPayloadLength(IPV6_FRAGMENT_HEADER_SIZE + n);
      fh.setNextHeader(IPPROTO_FRAGMENT);
      new IPv6FragmentHeader(frag.buf, o + IPV6_HEADER_SIZE, IPV6_FRAGMENT_HEADER_SIZE).encode({
        nextHeader, fragmentOffset: done, moreFragments: more, identification: id,
      });
      frag.buf.set(pkt.buf.subarray(base + IPV6_HEADER_SIZE + done, base + IPV6_HEADER_SIZE + done + n), o + IPV6_HEADER_SIZE + IPV6_FRAGMENT_HEADER_SIZE);
      const e = this.sendFragment(route, frag);
      if (e) err = e;
      done += n;
    }
    if (err) stats.outgoingPacketErrors++;
    return err;
  }
}

const ALL_NODES = Address.parse('ff02::1');

/** Offset (from the IPv6 header) of the Next Header field that named the upper-layer protocol. */
function prevNextHeaderFieldFor(w: IPv6ExtensionWalker, base: number): number {
  return w.nextHeaderFieldOffset - base;
}

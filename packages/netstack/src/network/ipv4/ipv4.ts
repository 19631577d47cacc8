// IPv4 (RFC 791, RFC 1122 section 3) with ICMPv4 (RFC 792): receive validation, local delivery, reassembly,
// ICMP echo replies and errors, fragmentation on send, optional forwarding (RFC 1812), PMTU updates (RFC 1191).

import { PacketBuffer } from '../../buffer/packet_buffer.js';
import { finishChecksum, sumBytes } from '../../header/checksum.js';
import {
  ICMPV4_DEST_UNREACHABLE, ICMPV4_ECHO, ICMPV4_ECHO_REPLY, ICMPV4_FRAG_NEEDED, ICMPV4_HEADER_SIZE,
  ICMPV4_HOST_UNREACHABLE, ICMPV4_NET_UNREACHABLE, ICMPV4_PARAM_PROBLEM, ICMPV4_PORT_UNREACHABLE,
  ICMPV4_PROTO_UNREACHABLE, ICMPV4_REASSEMBLY_TIMEOUT, ICMPV4_TIME_EXCEEDED, ICMPV4_TTL_EXCEEDED, ICMPv4Header,
  isICMPv4Error,
} from '../../header/icmpv4.js';
import {
  IPV4_FLAG_DONT_FRAGMENT, IPV4_FLAG_MORE_FRAGMENTS, IPV4_MIN_HEADER_SIZE, IPV4_MIN_MTU, IPv4Header,
} from '../../header/ipv4.js';
import { PacketType } from '../../buffer/packet_buffer.js';
import { Address, EtherType, IpProtocol } from '../../stack/address.js';
import type { IpNetworkEndpoint, NetworkProtocolFactory } from '../../stack/network_protocol.js';
import type { NIC } from '../../stack/nic.js';
import { Route, type NetworkWriteParams } from '../../stack/route.js';
import type { Stack } from '../../stack/stack.js';
import { TcpipErrors, type TcpipError } from '../../stack/tcpip_error.js';
import type { NetworkReceiveInfo, TransportErrorKind } from '../../stack/transport_protocol.js';
import { IpEndpointBase, IpProtocolBase, type IpProtocolOptions } from '../ip_endpoint_base.js';

/** net.ipv4.ipfrag_time. */
export const IPV4_REASSEMBLY_TIMEOUT_MS = 30_000;
/** RFC 1812 section 4.3.2.3: quote as much of the offending datagram as fits in 576 bytes. */
const ICMPV4_ERROR_MAX_SIZE = 576;

export type IPv4ProtocolOptions = IpProtocolOptions;

export function ipv4Protocol(opts: IPv4ProtocolOptions = {}): NetworkProtocolFactory {
  return (stack) => new IPv4Protocol(stack, opts);
}

export class IPv4Protocol extends IpProtocolBase {
  readonly etherType = EtherType.IPV4;
  readonly family = 4 as const;
  private nextId = Math.floor(Math.random() * 0x10000);

  constructor(stack: Stack, opts: IPv4ProtocolOptions) {
    super(stack, opts, IPV4_REASSEMBLY_TIMEOUT_MS);
  }

  newEndpoint(nic: NIC): IPv4Endpoint {
    return new IPv4Endpoint(this, nic);
  }

  allocateId(): number {
    this.nextId = (this.nextId + 1) & 0xffff;
    return this.nextId;
  }

  protected sendReassemblyTimeExceeded(quote: Uint8Array): void {
    this.sendIcmpErrorFromQuote(quote, ICMPV4_TIME_EXCEEDED, ICMPV4_REASSEMBLY_TIMEOUT, 0);
  }

  /** Sends an ICMP error quoting `quote` (an IP header plus at least 8 payload bytes, as received). */
  sendIcmpErrorFromQuote(quote: Uint8Array, type: number, code: number, restOfHeader: number, nicHint = 0): void {
    const h = new IPv4Header(quote);
    if (quote.length < IPV4_MIN_HEADER_SIZE) return;
    const src = Address.intern(quote, 12, 4);
    const dst = Address.intern(quote, 16, 4);
    // RFC 1122 3.2.2: never about ICMP errors, non-first fragments, or packets from/to broadcast/multicast
    // or from an unspecified source.
    if (src.isUnspecified() || src.isMulticast() || src.isLimitedBroadcast() || dst.isMulticast() || dst.isLimitedBroadcast()) return;
    if (h.fragmentOffset() !== 0) return;
    const hlen = h.headerLength();
    if (h.protocol() === IpProtocol.ICMP && quote.length >= hlen + 1 && isICMPv4Error(quote[hlen]!)) return;
    for (const n of this.stack.allNICs()) if (n.isSubnetBroadcast(src)) return;
    const route = this.icmpErrorRoute(src, dst, nicHint);
    if (!route) return;
    const quoteLen = Math.min(quote.length, ICMPV4_ERROR_MAX_SIZE - IPV4_MIN_HEADER_SIZE - ICMPV4_HEADER_SIZE);
    const pkt = PacketBuffer.allocate(ICMPV4_HEADER_SIZE + quoteLen, route.maxHeaderLength);
    pkt.transportHeader = pkt.head;
    const icmp = new ICMPv4Header(pkt.buf, pkt.head, ICMPV4_HEADER_SIZE + quoteLen);
    icmp.encode({ type, code, restOfHeader });
    pkt.buf.set(quote.subarray(0, quoteLen), pkt.head + ICMPV4_HEADER_SIZE);
    icmp.updateChecksum();
    const st = this.stack.stats.icmp;
    st.sent++;
    if (type === ICMPV4_DEST_UNREACHABLE) st.destUnreachableSent++;
    else if (type === ICMPV4_TIME_EXCEEDED) st.timeExceededSent++;
    else if (type === ICMPV4_PARAM_PROBLEM) st.paramProblemSent++;
    route.writePacket(pkt, { protocol: IpProtocol.ICMP, ttl: 0, tos: 0xc0 /* Internetwork Control, RFC 1812 4.3.2.5 */ });
  }
}

export class IPv4Endpoint extends IpEndpointBase implements IpNetworkEndpoint {
  readonly family = 4 as const;
  readonly etherType = EtherType.IPV4;
  readonly headerLength = IPV4_MIN_HEADER_SIZE;
  private readonly rx = new IPv4Header(new Uint8Array(0));
  private readonly tx = new IPv4Header(new Uint8Array(0));
  private readonly icmp = new ICMPv4Header(new Uint8Array(0));

  constructor(
    readonly protocol: IPv4Protocol,
    nic: NIC,
  ) {
    super(nic, protocol.stack, '0.0.0.0');
  }

  // ---- receive

  handlePacket(pkt: PacketBuffer): void {
    const stats = this.stack.stats.ip;
    stats.packetsReceived++;
    const off = pkt.head;
    const h = this.rx.reset(pkt.buf, off, pkt.tail - off);
    if (h.invalidReason() !== null) {
      stats.malformedPackets++;
      return;
    }
    if (!pkt.checksumValidated && !h.isChecksumValid()) {
      stats.checksumErrors++;
      return;
    }
    const hlen = h.headerLength();
    const total = h.totalLength();
    pkt.truncate(total); // drop Ethernet padding
    pkt.networkHeader = off;
    const dst = Address.intern(pkt.buf, off + 16, 4);
    const src = Address.intern(pkt.buf, off + 12, 4);
    // RFC 1122 3.2.1.3: a source that is a broadcast or multicast address is invalid.
    if (src.isMulticast() || src.isLimitedBroadcast()) {
      stats.invalidSourceAddresses++;
      return;
    }
    // RFC 1122 3.2.1.3 (g): 127/8 must not appear outside a host (Linux: route_localnet=0).
    if (this.isLoopbackMartian(pkt, src, dst)) return;
    let bcast = false;
    if (!this.nic.hasAddress(dst) && !(this.nic.isLoopback && dst.isLoopback())) {
      if (dst.isLimitedBroadcast() || this.nic.isSubnetBroadcast(dst)) bcast = true;
      else if (dst.isMulticast()) {
        // 224.0.0.1 (all hosts, RFC 1112) is always joined.
        if (dst.v4 !== 0xe0000001 && !this.nic.isInGroup(dst)) {
          stats.invalidDestinationAddresses++;
          return;
        }
        bcast = true;
      } else if (this.stack.isLocalAddress(dst)) {
        // Weak host model (RFC 1122 3.3.4.2, Linux's default): any local address is accepted on any NIC.
      } else {
        if (pkt.packetType === PacketType.OTHERHOST) return;
        this.forward(pkt, h);
        return;
      }
    }
    if (hlen > IPV4_MIN_HEADER_SIZE) {
      stats.optionsProcessed++;
      // Source-routed packets are dropped, as Linux does with accept_source_route=0 (RFC 7126 section 4.3/4.4).
      if (hasSourceRoute(pkt.buf, off + IPV4_MIN_HEADER_SIZE, off + hlen)) {
        stats.sourceRouted++;
        return;
      }
    }

    if (h.isFragment()) {
      stats.fragmentsReceived++;
      const key = `${src.v4}>${dst.v4}/${h.protocol()}#${h.id()}`;
      const payload = pkt.buf.subarray(off + hlen, off + total);
      const fragOffset = h.fragmentOffset();
      const quote = fragOffset === 0 ? pkt.buf.subarray(off, Math.min(off + total, off + hlen + 8)) : undefined;
      const r = this.protocol.reassembler.add(key, fragOffset, h.moreFragments(), payload, quote);
      if (r.kind === 'incomplete') return;
      if (r.kind === 'error') {
        stats.reassemblyErrors++;
        return;
      }
      // RFC 791 3.1: a datagram is at most 65535 bytes with its header. Fragments that add up to more (the "ping of
      // death") are dropped, as the total length field could not describe the result.
      // The reassembled datagram takes the first fragment's header (RFC 791 3.2: its options are the datagram's;
      // later fragments carry only the copied ones), kept by the reassembler, whichever fragment arrived last.
      const first = r.firstFragmentHeader ?? pkt.buf.subarray(off, off + hlen);
      const fhlen = (first[0]! & 0xf) * 4;
      if (fhlen + r.payload.length > 0xffff) {
        stats.reassemblyErrors++;
        return;
      }
      stats.reassembled++;
      const whole = PacketBuffer.allocate(fhlen + r.payload.length, 0);
      whole.buf.set(first.subarray(0, fhlen), 0);
      whole.buf.set(r.payload, fhlen);
      const wh = this.rx.reset(whole.buf, 0, whole.buf.length);
      wh.setTotalLength(fhlen + r.payload.length);
      wh.setFlagsAndFragmentOffset(0, 0);
      wh.updateChecksum();
      whole.networkHeader = 0;
      whole.networkProtocol = EtherType.IPV4;
      whole.packetType = pkt.packetType;
      this.deliver(whole, wh, src, dst, bcast);
      return;
    }
    this.deliver(pkt, h, src, dst, bcast);
  }

  private deliver(pkt: PacketBuffer, h: IPv4Header, src: Address, dst: Address, bcast: boolean): void {
    const info = this.receiveInfo(pkt, src, dst, h.ttl(), h.tos(), h.protocol(), bcast, h.headerLength());
    if (info.protocol === IpProtocol.ICMP) {
      this.handleIcmp(pkt, info);
      return;
    }
    this.deliverToTransport(pkt, info);
  }

  protected sendPortUnreachable(pkt: PacketBuffer): void {
    this.sendIcmpError(pkt, ICMPV4_DEST_UNREACHABLE, ICMPV4_PORT_UNREACHABLE, 0);
  }

  protected sendProtocolUnreachable(pkt: PacketBuffer): void {
    this.sendIcmpError(pkt, ICMPV4_DEST_UNREACHABLE, ICMPV4_PROTO_UNREACHABLE, 0);
  }

  private handleIcmp(pkt: PacketBuffer, info: NetworkReceiveInfo): void {
    const st = this.stack.stats.icmp;
    st.received++;
    const off = pkt.transportHeader;
    const len = pkt.tail - off;
    const icmp = this.icmp.reset(pkt.buf, off, len);
    if (!icmp.isValid() || (!pkt.checksumValidated && !icmp.isChecksumValid())) {
      st.invalid++;
      return;
    }
    const type = icmp.type();
    switch (type) {
      case ICMPV4_ECHO:
        st.echoRequestsReceived++;
        this.stack.deliverRawPacket(info, pkt);
        // net.ipv4.icmp_echo_ignore_broadcasts=1 (Linux default, RFC 1122 3.2.2.6 allows it).
        if (!info.isBroadcastOrMulticast) this.sendEchoReply(pkt, info, info.destination);
        return;
      case ICMPV4_ECHO_REPLY:
        st.echoRepliesReceived++;
        this.stack.deliverTransportPacket(info, pkt); // ping sockets and raw sockets
        return;
      case ICMPV4_DEST_UNREACHABLE:
      case ICMPV4_TIME_EXCEEDED:
      case ICMPV4_PARAM_PROBLEM: {
        this.stack.deliverRawPacket(info, pkt);
        if (type === ICMPV4_DEST_UNREACHABLE) st.destUnreachableReceived++;
        if (type === ICMPV4_TIME_EXCEEDED) st.timeExceededReceived++;
        this.handleIcmpError(pkt, info, icmp.type(), icmp.code(), icmp.mtu());
        return;
      }
      default:
        this.stack.deliverRawPacket(info, pkt);
    }
  }

  /** An ICMP error about a packet we sent: update the PMTU and tell the sending transport endpoint. */
  private handleIcmpError(pkt: PacketBuffer, info: NetworkReceiveInfo, type: number, code: number, mtuField: number): void {
    const qoff = pkt.transportHeader + ICMPV4_HEADER_SIZE;
    const qlen = pkt.tail - qoff;
    if (qlen < IPV4_MIN_HEADER_SIZE + 8) return;
    const qh = new IPv4Header(pkt.buf, qoff, qlen);
    const qhlen = qh.headerLength();
    if ((pkt.buf[qoff]! >> 4) !== 4 || qhlen < IPV4_MIN_HEADER_SIZE || qlen < qhlen + 8) return;
    const qsrc = Address.intern(pkt.buf, qoff + 12, 4);
    const qdst = Address.intern(pkt.buf, qoff + 16, 4);
    if (!this.stack.isLocalAddress(qsrc)) return;
    let kind: TransportErrorKind;
    let mtu = 0;
    if (type === ICMPV4_DEST_UNREACHABLE) {
      switch (code) {
        case ICMPV4_PORT_UNREACHABLE: kind = 'portUnreachable'; break;
        case ICMPV4_PROTO_UNREACHABLE: kind = 'protocolUnreachable'; break;
        case ICMPV4_NET_UNREACHABLE: kind = 'networkUnreachable'; break;
        case ICMPV4_HOST_UNREACHABLE: kind = 'hostUnreachable'; break;
        case ICMPV4_FRAG_NEEDED:
          kind = 'packetTooBig';
          // RFC 1191 section 5: a zero next-hop MTU comes from an old router; guess from the quoted length. Never
          // below the IPv4 minimum (RFC 791: 68), which also defeats tiny-MTU attacks.
          mtu = mtuField !== 0 ? mtuField : Math.max(IPV4_MIN_MTU, qh.totalLength() - 1);
          mtu = Math.max(IPV4_MIN_MTU, mtu);
          this.stack.stats.icmp.packetTooBigReceived++;
          break;
        default: kind = 'administrativelyProhibited';
      }
    } else if (type === ICMPV4_TIME_EXCEEDED) {
      kind = 'timeExceeded';
    } else {
      kind = 'parameterProblem';
    }
    if (kind === 'packetTooBig') this.stack.updatePathMtu(qdst, mtu);
    this.reportTransportError(info, kind, mtu, type, code, qh.protocol(), qsrc, qdst, pkt.buf.subarray(qoff + qhlen, pkt.tail));
  }

  protected makeEchoReply(pkt: PacketBuffer, len: number): number {
    const icmp = new ICMPv4Header(pkt.buf, pkt.head, len);
    icmp.setType(ICMPV4_ECHO_REPLY);
    icmp.setCode(0);
    icmp.updateChecksum();
    return IpProtocol.ICMP;
  }

  /** Quotes the received packet (its IP header onward) in an ICMP error back to its source. */
  private sendIcmpError(pkt: PacketBuffer, type: number, code: number, rest: number): void {
    // RFC 1122 3.2.2: never about a datagram that came as a link-layer broadcast (or multicast), whatever its IP
    // destination; Linux's icmp_send() answers PACKET_HOST frames only.
    if (pkt.packetType === PacketType.BROADCAST || pkt.packetType === PacketType.MULTICAST) return;
    this.protocol.sendIcmpErrorFromQuote(pkt.buf.subarray(pkt.networkHeader, pkt.tail), type, code, rest, this.nic.id);
  }

  /** RFC 1812 section 5.2: forward when enabled, else drop silently (a host does not forward). */
  private forward(pkt: PacketBuffer, h: IPv4Header): void {
    const stats = this.stack.stats.ip;
    if (!this.stack.forwarding.v4) {
      stats.forwardingDisabled++;
      return;
    }
    const dst = Address.intern(pkt.buf, pkt.networkHeader + 16, 4);
    if (h.ttl() <= 1) {
      stats.ttlExceeded++;
      this.sendIcmpError(pkt, ICMPV4_TIME_EXCEEDED, ICMPV4_TTL_EXCEEDED, 0);
      return;
    }
    const route = this.stack.findRoute(0, undefined, dst, 4);
    if (!(route instanceof Route) || route.isLocal) {
      this.sendIcmpError(pkt, ICMPV4_DEST_UNREACHABLE, ICMPV4_NET_UNREACHABLE, 0);
      return;
    }
    if (h.totalLength() > route.mtu && h.dontFragment()) {
      this.stack.stats.ip.fragmentationNeeded++;
      this.sendIcmpError(pkt, ICMPV4_DEST_UNREACHABLE, ICMPV4_FRAG_NEEDED, route.mtu & 0xffff);
      return;
    }
    const out = pkt.clone(route.linkHeaderLength + 16);
    const oh = new IPv4Header(out.buf, out.networkHeader, out.tail - out.networkHeader);
    oh.decrementTtl();
    out.head = out.networkHeader;
    const nic = this.stack.nic(route.nic)!;
    if (oh.totalLength() > route.mtu) {
      this.fragmentAndSend(route, out, oh.headerLength(), oh.totalLength() - oh.headerLength());
      return;
    }
    nic.writeNetworkPacket(out, EtherType.IPV4, 4, route.nextHop, route.isBroadcast);
  }

  // ---- send

  writePacket(route: Route, pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | undefined {
    const payloadLen = pkt.tail - pkt.head;
    const totalLen = IPV4_MIN_HEADER_SIZE + payloadLen;
    const mtu = route.mtu;
    const gso = pkt.gso !== null && pkt.gso.type !== 0;
    if (totalLen > 0xffff && !gso) return TcpipErrors.messageTooLong;
    if (totalLen > mtu && !gso && params.dontFragment) return TcpipErrors.messageTooLong;
    const off = pkt.prepend(IPV4_MIN_HEADER_SIZE);
    pkt.networkHeader = off;
    pkt.transportProtocol = params.protocol;
    if (pkt.transportHeader < 0) pkt.transportHeader = off + IPV4_MIN_HEADER_SIZE;
    const h = this.tx.reset(pkt.buf, off, totalLen);
    // Field by field rather than encode({...}): no object literal per packet on the send path.
    h.setVersionAndHeaderLength(IPV4_MIN_HEADER_SIZE);
    h.setTos(params.tos);
    h.setTotalLength(Math.min(totalLen, 0xffff));
    h.setId(this.protocol.allocateId());
    h.setFlagsAndFragmentOffset(params.dontFragment ? IPV4_FLAG_DONT_FRAGMENT : 0, 0);
    h.setTtl(params.ttl > 0 ? params.ttl : route.defaultTtl());
    h.setProtocol(params.protocol);
    pkt.buf.set(route.localAddress.bytes, off + 12); // Address bytes are exactly 4 long: no subarray needed
    pkt.buf.set(route.remoteAddress.bytes, off + 16);
    h.setChecksum(0);
    h.updateChecksum();
    return this.send(route, pkt, totalLen, mtu, gso, params.multicastLoop !== false);
  }

  writeHeaderIncludedPacket(route: Route, pkt: PacketBuffer): TcpipError | undefined {
    const len = pkt.tail - pkt.head;
    if (len < IPV4_MIN_HEADER_SIZE || len > 0xffff) return TcpipErrors.invalidOptionValue;
    pkt.networkHeader = pkt.head;
    const h = this.tx.reset(pkt.buf, pkt.head, len);
    const hlen = h.headerLength();
    if (h.version() !== 4 || hlen < IPV4_MIN_HEADER_SIZE || hlen > len) return TcpipErrors.invalidOptionValue;
    // raw(7): with IP_HDRINCL the kernel always fills in the total length and checksum, and the id when zero.
    h.setTotalLength(len);
    if (h.id() === 0) h.setId(this.protocol.allocateId());
    h.updateChecksum();
    return this.send(route, pkt, len, route.mtu, false);
  }

  private send(route: Route, pkt: PacketBuffer, totalLen: number, mtu: number, gso: boolean, loop = true): TcpipError | undefined {
    if (route.isLocal) return this.sendLocal(route, pkt);
    // Multicast to a group this host joined (224.0.0.1 always), and broadcasts, are also delivered locally.
    if ((route.isMulticast && loop) || route.isBroadcast) {
      if (!route.isMulticast || this.nic.isInGroup(route.remoteAddress) || route.remoteAddress.v4 === 0xe0000001) this.loopBackCopy(route, pkt);
    }
    if (totalLen > mtu && !gso) {
      const hlen = this.tx.reset(pkt.buf, pkt.head, totalLen).headerLength();
      return this.fragmentAndSend(route, pkt, hlen, totalLen - hlen);
    }
    return this.sendToNic(route, pkt);
  }

  protected sendHostUnreachable(dropped: PacketBuffer): void {
    this.sendIcmpError(dropped, ICMPV4_DEST_UNREACHABLE, ICMPV4_HOST_UNREACHABLE, 0);
  }

  /**
   * RFC 791 section 3.2 fragmentation: every fragment gets a copy of the header (options with the copy bit only,
   * simplified here to: fragments after the first carry no options) and a multiple of 8 payload bytes.
   */
  private fragmentAndSend(route: Route, pkt: PacketBuffer, hlen: number, payloadLen: number): TcpipError | undefined {
    const stats = this.stack.stats.ip;
    const mtu = route.mtu;
    const src = pkt.buf;
    const base = pkt.head;
    const origFlags = new IPv4Header(src, base, hlen + payloadLen).flags();
    const maxData = (mtu - IPV4_MIN_HEADER_SIZE) & ~7;
    const firstData = (mtu - hlen) & ~7;
    if (maxData <= 0 || firstData <= 0) return TcpipErrors.messageTooLong;
    let done = 0;
    let err: TcpipError | undefined;
    while (done < payloadLen) {
      const first = done === 0;
      const fhlen = first ? hlen : IPV4_MIN_HEADER_SIZE;
      const n = Math.min(payloadLen - done, first ? firstData : maxData);
      const more = done + n < payloadLen || (origFlags & IPV4_FLAG_MORE_FRAGMENTS) !== 0;
      const frag = PacketBuffer.allocate(fhlen + n, route.linkHeaderLength + 16);
      frag.buf.set(src.subarray(base, base + fhlen), frag.head);
      frag.buf.set(src.subarray(base + hlen + done, base + hlen + done + n), frag.head + fhlen);
      const fh = new IPv4Header(frag.buf, frag.head, fhlen + n);
      if (!first) fh.setVersionAndHeaderLength(IPV4_MIN_HEADER_SIZE);
      fh.setTotalLength(fhlen + n);
      const origOffset = new IPv4Header(src, base, hlen).fragmentOffset();
      fh.setFlagsAndFragmentOffset((origFlags & ~IPV4_FLAG_MORE_FRAGMENTS) | (more ? IPV4_FLAG_MORE_FRAGMENTS : 0), origOffset + done);
      fh.updateChecksum();
      const e = this.sendFragment(route, frag);
      if (e) err = e;
      done += n;
    }
    if (err) stats.outgoingPacketErrors++;
    return err;
  }
}

/** Option types of Loose and Strict Source and Record Route (RFC 791 section 3.1). */
const IPV4_OPTION_LSRR = 131;
const IPV4_OPTION_SSRR = 137;

/** Whether the (already validated) options area bytes[start, end) holds LSRR or SSRR. Allocation-free. */
function hasSourceRoute(b: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const type = b[i]!;
    if (type === 0) return false;
    if (type === 1) {
      i++;
      continue;
    }
    if (type === IPV4_OPTION_LSRR || type === IPV4_OPTION_SSRR) return true;
    const len = b[i + 1] ?? 0;
    if (len < 2) return false;
    i += len;
  }
  return false;
}

/** Sum used by tests and raw sockets: the IPv4 header checksum of bytes[off, off+hlen). */
export function ipv4HeaderChecksum(bytes: Uint8Array, off: number, hlen: number): number {
  return finishChecksum(sumBytes(bytes, off, hlen) - ((bytes[off + 10]! << 8) | bytes[off + 11]!));
}

// Neighbor Discovery (RFC 4861) address resolution for one NIC: answers Neighbor Solicitations for our
// addresses, feeds Neighbor Advertisements and solicitations into the neighbour cache, and sends solicitations
// for the cache (it is the IPv6 LinkAddressResolver). Router discovery and DAD are not implemented: the tool and
// the sentry take addresses and routes over from the host, which already ran DAD for them.

import { PacketBuffer } from '../../buffer/packet_buffer.js';
import {
  ICMPV6_NEIGHBOR_ADVERT, ICMPV6_NEIGHBOR_SOLICIT, ICMPv6Header, NDP_NA_OVERRIDE, NDP_NA_ROUTER, NDP_NA_SIZE,
  NDP_NA_SOLICITED, NDP_NS_SIZE, NDP_OPT_SOURCE_LLA, NDP_OPT_TARGET_LLA, forEachNdpOption, ndpLinkLayerAddress,
  writeNdpLinkLayerOption,
} from '../../header/icmpv6.js';
import { IPV6_HEADER_SIZE, IPv6Header, solicitedNodeAddress } from '../../header/ipv6.js';
import { Address, EtherType, IPV6_ALL_NODES, IpProtocol, type LinkAddress } from '../../stack/address.js';
import type { LinkAddressResolver } from '../../stack/neighbor_cache.js';
import { multicastLinkAddress, type NIC } from '../../stack/nic.js';
import type { Stack } from '../../stack/stack.js';

/** RFC 4861 7.1.1/7.1.2: ND messages must arrive with hop limit 255 (proof they were not forwarded). */
export const NDP_HOP_LIMIT = 255;

export class NdpHandler implements LinkAddressResolver {
  constructor(
    private readonly stack: Stack,
    private readonly nic: NIC,
  ) {}

  /** Handles a validated ICMPv6 NS or NA (checksum already verified). */
  handle(icmp: ICMPv6Header, src: Address, dst: Address, hopLimit: number): void {
    const st = this.stack.stats.ndp;
    if (hopLimit !== NDP_HOP_LIMIT || icmp.code() !== 0) {
      st.invalid++;
      return;
    }
    const type = icmp.type();
    const target = Address.intern(icmp.bytes, icmp.offset + 8, 16);
    if (target.isMulticast()) {
      st.invalid++;
      return;
    }
    let lla: Uint8Array | undefined;
    const wantOpt = type === ICMPV6_NEIGHBOR_SOLICIT ? NDP_OPT_SOURCE_LLA : NDP_OPT_TARGET_LLA;
    const optOff = icmp.offset + (type === ICMPV6_NEIGHBOR_SOLICIT ? NDP_NS_SIZE : NDP_NA_SIZE);
    forEachNdpOption(icmp.bytes, optOff, icmp.offset + icmp.length - optOff, (t, o, l) => {
      if (t === wantOpt && l >= 8) lla = ndpLinkLayerAddress(icmp.bytes, o);
    });
    const cache = this.nic.neighbors(6);
    if (type === ICMPV6_NEIGHBOR_SOLICIT) {
      st.neighborSolicitsReceived++;
      // 7.1.1: from the unspecified address (DAD) there must be no source link-layer option, and the destination
      // must be a solicited-node address.
      if (src.isUnspecified() && (lla !== undefined || !dst.isMulticast())) {
        st.invalid++;
        return;
      }
      if (!this.nic.hasAddress(target)) return;
      // A source that is one of our own addresses is a conflict or a spoof: it teaches nothing (as for ARP).
      if (!src.isUnspecified() && lla && cache && !this.stack.isLocalAddress(src)) cache.handleProbe(src, lla);
      // 7.2.4: solicited NA back to the source (to all-nodes for a DAD probe, then unsolicited: S=0).
      const dad = src.isUnspecified();
      this.sendAdvert(target, dad ? IPV6_ALL_NODES : src, !dad, dad ? undefined : lla);
      return;
    }
    if (type === ICMPV6_NEIGHBOR_ADVERT) {
      st.neighborAdvertsReceived++;
      const flags = icmp.naFlags();
      // 7.1.2: a solicited advertisement to a multicast destination is invalid.
      if ((flags & NDP_NA_SOLICITED) !== 0 && dst.isMulticast()) {
        st.invalid++;
        return;
      }
      if (!cache || !lla) return;
      cache.handleConfirmation(target, lla, (flags & NDP_NA_SOLICITED) !== 0, (flags & NDP_NA_OVERRIDE) !== 0);
    }
  }

  /** LinkAddressResolver: NS for `target` to its solicited-node group, or unicast to `remoteLink` (NUD probe). */
  solicit(target: Address, remoteLink: LinkAddress | undefined): void {
    const src = this.nic.primaryAddress(6, target);
    if (!src) return;
    const dst = remoteLink ? target : Address.fromBytes(solicitedNodeAddress(target.bytes));
    const len = NDP_NS_SIZE + 8;
    const pkt = this.build(src, dst, len);
    const icmp = new ICMPv6Header(pkt.buf, pkt.head + IPV6_HEADER_SIZE, len);
    icmp.encode({ type: ICMPV6_NEIGHBOR_SOLICIT, code: 0 });
    icmp.setTargetAddress(target.bytes);
    writeNdpLinkLayerOption(pkt.buf, pkt.head + IPV6_HEADER_SIZE + NDP_NS_SIZE, NDP_OPT_SOURCE_LLA, this.nic.linkAddress);
    this.finish(pkt, len);
    this.stack.stats.ndp.neighborSolicitsSent++;
    this.nic.writeWithLinkAddress(pkt, EtherType.IPV6, remoteLink ?? multicastLinkAddress(dst));
  }

  /** Neighbor Advertisement for our `target` (RFC 4861 4.4) with the target link-layer option. */
  sendAdvert(target: Address, dst: Address, solicited: boolean, dstLink: LinkAddress | undefined): void {
    const len = NDP_NA_SIZE + 8;
    const pkt = this.build(target, dst, len);
    const icmp = new ICMPv6Header(pkt.buf, pkt.head + IPV6_HEADER_SIZE, len);
    icmp.encode({ type: ICMPV6_NEIGHBOR_ADVERT, code: 0 });
    icmp.setNaFlags((solicited ? NDP_NA_SOLICITED : 0) | NDP_NA_OVERRIDE | (this.stack.forwarding.v6 ? NDP_NA_ROUTER : 0));
    icmp.setTargetAddress(target.bytes);
    writeNdpLinkLayerOption(pkt.buf, pkt.head + IPV6_HEADER_SIZE + NDP_NA_SIZE, NDP_OPT_TARGET_LLA, this.nic.linkAddress);
    this.finish(pkt, len);
    this.stack.stats.ndp.neighborAdvertsSent++;
    if (dst.isMulticast()) {
      this.nic.writeWithLinkAddress(pkt, EtherType.IPV6, multicastLinkAddress(dst));
      return;
    }
    if (dstLink) {
      this.nic.writeWithLinkAddress(pkt, EtherType.IPV6, dstLink);
      return;
    }
    this.nic.writeNetworkPacket(pkt, EtherType.IPV6, 6, dst, false);
  }

  private build(src: Address, dst: Address, icmpLen: number): PacketBuffer {
    const pkt = PacketBuffer.allocate(IPV6_HEADER_SIZE + icmpLen, this.nic.link.maxHeaderLength);
    new IPv6Header(pkt.buf, pkt.head, IPV6_HEADER_SIZE).encode({
      payloadLength: icmpLen, nextHeader: IpProtocol.ICMPV6, hopLimit: NDP_HOP_LIMIT, src: src.bytes, dst: dst.bytes,
    });
    pkt.networkHeader = pkt.head;
    pkt.transportHeader = pkt.head + IPV6_HEADER_SIZE;
    return pkt;
  }

  private finish(pkt: PacketBuffer, icmpLen: number): void {
    const ip = new IPv6Header(pkt.buf, pkt.head, IPV6_HEADER_SIZE + icmpLen);
    new ICMPv6Header(pkt.buf, pkt.head + IPV6_HEADER_SIZE, icmpLen).updateChecksum(ip.pseudoHeaderSum(IpProtocol.ICMPV6, icmpLen));
  }
}

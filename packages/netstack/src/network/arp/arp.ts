// ARP (RFC 826) for IPv4 over Ethernet: answers requests for this NIC's addresses, learns senders, and resolves
// next hops for the IPv4 neighbour cache (it is the cache's LinkAddressResolver).

import { PacketBuffer } from '../../buffer/packet_buffer.js';
import { ARP_OP_REPLY, ARP_OP_REQUEST, ARP_SIZE, ArpPacket } from '../../header/arp.js';
import { Address, EtherType, type LinkAddress } from '../../stack/address.js';
import type { LinkAddressResolver } from '../../stack/neighbor_cache.js';
import type { NetworkEndpoint, NetworkProtocol, NetworkProtocolFactory } from '../../stack/network_protocol.js';
import type { NIC } from '../../stack/nic.js';
import type { Stack } from '../../stack/stack.js';

const BROADCAST: LinkAddress = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const ZERO_MAC: LinkAddress = new Uint8Array(6);

export function arpProtocol(): NetworkProtocolFactory {
  return (stack) => new ArpProtocol(stack);
}

export class ArpProtocol implements NetworkProtocol {
  readonly etherType = EtherType.ARP;
  readonly family = undefined;
  constructor(readonly stack: Stack) {}
  newEndpoint(nic: NIC): ArpEndpoint {
    const ep = new ArpEndpoint(this.stack, nic);
    if (nic.needsResolution) nic.setLinkAddressResolver(4, ep);
    return ep;
  }
}

export class ArpEndpoint implements NetworkEndpoint, LinkAddressResolver {
  private readonly view = new ArpPacket(new Uint8Array(0));

  constructor(
    private readonly stack: Stack,
    private readonly nic: NIC,
  ) {}

  close(): void {}

  handlePacket(pkt: PacketBuffer): void {
    const st = this.stack.stats.arp;
    const a = this.view.reset(pkt.buf, pkt.head, pkt.tail - pkt.head);
    if (!a.isValid()) {
      st.malformed++;
      return;
    }
    const op = a.op();
    const sender = Address.intern(pkt.buf, pkt.head + 14, 4);
    const target = Address.intern(pkt.buf, pkt.head + 24, 4);
    const senderMac = a.senderHardwareAddress();
    const cache = this.nic.neighbors(4);
    const forUs = this.nic.hasAddress(target);
    // RFC 826 "merge": update an existing entry for the sender; create one only when the packet is for us.
    // A sender of 0.0.0.0 is an address conflict probe (RFC 5227) and teaches nothing; neither does a sender that
    // claims one of our own addresses (a conflict or a spoof: we never resolve our own addresses on the link, and
    // RFC 5227 conflict handling is not implemented).
    if (cache && !sender.isUnspecified() && !isMulticastMac(senderMac) && !this.stack.isLocalAddress(sender)) {
      if (forUs || cache.get(sender)) {
        if (op === ARP_OP_REPLY && forUs) cache.handleConfirmation(sender, senderMac, true);
        else cache.handleProbe(sender, senderMac);
      }
    }
    if (op === ARP_OP_REQUEST) {
      st.requestsReceived++;
      if (!forUs) {
        st.ignored++;
        return;
      }
      this.send(ARP_OP_REPLY, target, this.nic.linkAddress, sender, senderMac, senderMac);
      st.repliesSent++;
    } else if (op === ARP_OP_REPLY) {
      st.repliesReceived++;
    } else {
      st.ignored++;
    }
  }

  /** LinkAddressResolver: an ARP request for `target`, broadcast or unicast to `remoteLink` (NUD probe). */
  solicit(target: Address, remoteLink: LinkAddress | undefined): void {
    const src = this.nic.primaryAddress(4, target);
    if (!src) return;
    this.send(ARP_OP_REQUEST, src, this.nic.linkAddress, target, ZERO_MAC, remoteLink ?? BROADCAST);
    this.stack.stats.arp.requestsSent++;
  }

  /** Announces `addr` with a gratuitous ARP request (RFC 5227 section 3), e.g. after taking over an address. */
  announce(addr: Address): void {
    this.send(ARP_OP_REQUEST, addr, this.nic.linkAddress, addr, ZERO_MAC, BROADCAST);
    this.stack.stats.arp.requestsSent++;
  }

  private send(op: number, senderIp: Address, senderMac: LinkAddress, targetIp: Address, targetMac: LinkAddress, to: LinkAddress): void {
    const pkt = PacketBuffer.allocate(ARP_SIZE, this.nic.link.maxHeaderLength);
    new ArpPacket(pkt.buf, pkt.head, ARP_SIZE).encode({
      op, senderMac, senderIp: senderIp.bytes, targetMac, targetIp: targetIp.bytes,
    });
    pkt.networkHeader = pkt.head;
    this.nic.writeWithLinkAddress(pkt, EtherType.ARP, to);
  }
}

function isMulticastMac(m: Uint8Array): boolean {
  return (m[0]! & 1) !== 0;
}

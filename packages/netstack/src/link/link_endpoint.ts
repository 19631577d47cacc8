// The seam between the network layer and a link: a LinkEndpoint moves frames, a LinkDispatcher (the NIC in the
// stack) receives them. Modelled on netstack's stack.LinkEndpoint / stack.NetworkDispatcher.
import type { PacketBuffer } from '../buffer/packet_buffer.js';

/** Link capabilities (bit flags), as netstack's LinkEndpointCapabilities. */
export const LinkCapability = {
  NONE: 0,
  /** Received packets have verified transport checksums (PacketBuffer.checksumValidated is set). */
  RX_CHECKSUM_OFFLOAD: 1 << 0,
  /** Outgoing transport checksums may be left partial (GsoInfo.needsChecksum) for the link to finish. */
  TX_CHECKSUM_OFFLOAD: 1 << 1,
  /** The link needs link-address resolution (ARP/NDP) before sending to a unicast address. */
  RESOLUTION_REQUIRED: 1 << 2,
  /** This is a loopback link: frames sent are received by the same stack. */
  LOOPBACK: 1 << 3,
  /** The link accepts GSO super-packets (PacketBuffer.gso) up to gsoMaxSize. */
  GSO: 1 << 4,
} as const;

/** Hardware types (ARPHRD_* in linux/if_arp.h) for SIOCGIFHWADDR-style reporting. */
export const ARPHRD_ETHER = 1;
export const ARPHRD_LOOPBACK = 772;
export const ARPHRD_NONE = 0xfffe;

/** What a link delivers received frames to (the NIC). */
export interface LinkDispatcher {
  /**
   * One received packet for the network protocol `protocol` (an EtherType). For links with an Ethernet header
   * the endpoint has parsed it: pkt.linkHeader is set, pkt.head is at the network header, pkt.networkProtocol
   * is `protocol`. The packet may be borrowed (see PacketBuffer.retain()).
   */
  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void;
  /**
   * Optional: called once after each receive batch, so the stack can flush work it batched (e.g. send the ACKs
   * for a burst of segments once). Never called in the middle of a batch.
   */
  deliverBatchEnd?(): void;
  /**
   * Optional: a transmit the link deferred (a qdisc flushing on a microtask) threw, so the exception has no caller
   * to go to; `dropped` packets were lost with it. The stack counts and logs it (stats.internalErrors.transmit).
   */
  transmitFailed?(err: unknown, dropped: number): void;
}

export interface LinkEndpoint {
  /** Largest network-layer packet (link header excluded) the link carries without GSO. */
  readonly mtu: number;
  /** Bytes a caller must leave in front of a network packet for link headers (and virtio_net_hdr). */
  readonly maxHeaderLength: number;
  /** The link address (6-byte MAC for Ethernet, empty for links without addresses). */
  readonly linkAddress: Uint8Array;
  /** LinkCapability bits. */
  readonly capabilities: number;
  /** Largest GSO super-packet (network header + payload) accepted when capabilities has GSO, else 0. */
  readonly gsoMaxSize: number;
  /** ARPHRD_* type of the link. */
  readonly arpHardwareType: number;
  /** Starts delivery to `dispatcher`; null detaches (received frames are then dropped). */
  attach(dispatcher: LinkDispatcher | null): void;
  isAttached(): boolean;
  /**
   * Writes a link header in front of each packet's network header (when the link has one) and sends them.
   * Each packet has pkt.head at its network header and pkt.networkProtocol set; for Ethernet links the caller
   * sets pkt.remoteLinkAddress (the next hop's MAC, resolved by ARP/NDP, or a broadcast/multicast MAC).
   * Returns how many were accepted (from the front of the batch); the rest were dropped (queue full / link down).
   * Packets are consumed: the caller must not reuse them after the call.
   */
  writePackets(batch: PacketBuffer[]): number;
  /** Releases the link (closes fds, stops threads). Idempotent. */
  close(): void;
}

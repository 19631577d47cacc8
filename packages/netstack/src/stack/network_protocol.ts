// The stack-facing side of a network protocol (IPv4, IPv6, ARP): one NetworkProtocol per stack creates one
// NetworkEndpoint per NIC, which the NIC hands every frame of the protocol's EtherType.

import type { PacketBuffer } from '../buffer/packet_buffer.js';
import type { Address } from './address.js';
import type { NIC } from './nic.js';
import type { RouteNetworkSender } from './route.js';
import type { Stack } from './stack.js';

export interface NetworkEndpoint {
  /** pkt.head is at the network header (pkt.networkHeader set); may be borrowed (see PacketBuffer.retain). */
  handlePacket(pkt: PacketBuffer): void;
  /** An address was added to / removed from the NIC (IPv6 joins the solicited-node group, ...). */
  addressAdded?(address: Address, prefixLength: number): void;
  addressRemoved?(address: Address): void;
  close(): void;
}

/** An IP endpoint additionally sends for Routes. */
export interface IpNetworkEndpoint extends NetworkEndpoint, RouteNetworkSender {}

export interface NetworkProtocol {
  /** EtherType handled (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP). */
  readonly etherType: number;
  /** 4 or 6 for IP protocols; undefined for ARP. */
  readonly family: 4 | 6 | undefined;
  newEndpoint(nic: NIC): NetworkEndpoint;
  close?(): void;
}

export type NetworkProtocolFactory = (stack: Stack) => NetworkProtocol;

// The stack-facing side of a transport protocol (what TCP, UDP, ICMP-echo and raw implement so the stack can
// deliver packets to them) and the per-packet network information the network layer hands up.

import type { Address } from './address.js';
import type { Endpoint } from './endpoint.js';
import type { TcpipError } from './tcpip_error.js';
import type { Stack } from './stack.js';
import type { WaiterQueue } from '../waiter/waiter_queue.js';
import type { PacketBuffer } from '../buffer/packet_buffer.js';

/**
 * Network-layer facts about one received packet. The network endpoint fills ONE reused instance per packet and
 * passes it up synchronously: a transport that keeps any of it beyond the call must copy the fields (Address
 * objects are immutable and may be kept).
 */
export class NetworkReceiveInfo {
  nic = 0;
  family: 4 | 6 = 4;
  source!: Address;
  destination!: Address;
  /** IPv4 TTL / IPv6 hop limit as received. */
  ttl = 0;
  /** IPv4 TOS / IPv6 traffic class. */
  tos = 0;
  /** Transport protocol number (after IPv6 extension headers). */
  protocol = 0;
  /** Destination is a multicast or broadcast address (datagrams go to every matching socket; no ICMP errors). */
  isBroadcastOrMulticast = false;
  /** IP header length (IPv6: fixed header plus extension headers before the transport header). */
  networkHeaderLength = 0;
  /** Receive timestamp (nanoseconds since the epoch), 0n unless someone asked for it. */
  timestampNs = 0n;
}

/** The 4-tuple an endpoint is registered under. Undefined addresses are wildcards. */
export interface TransportEndpointId {
  localPort: number;
  localAddress: Address | undefined;
  remotePort: number;
  remoteAddress: Address | undefined;
}

/** ICMP errors reported to transports (RFC 1122 section 4.2.3.9, RFC 4443 section 3). */
export type TransportErrorKind =
  | 'portUnreachable'
  | 'hostUnreachable'
  | 'networkUnreachable'
  | 'protocolUnreachable'
  | 'packetTooBig'
  | 'timeExceeded'
  | 'parameterProblem'
  | 'administrativelyProhibited';

export interface TransportErrorInfo {
  kind: TransportErrorKind;
  /** packetTooBig: the next-hop MTU reported (already applied to the PMTU cache). */
  mtu: number;
  /** The ICMP type and code as received, for IP_RECVERR-style reporting. */
  icmpType: number;
  icmpCode: number;
  /** The host that sent the ICMP error. */
  reporter: Address;
  /** The destination of the quoted (our) packet; set by Stack.deliverTransportError. */
  quotedDestination?: Address;
}

/** What the demuxer delivers to: one registered endpoint. */
export interface TransportEndpoint {
  /**
   * `pkt.buf[pkt.transportHeader, pkt.tail)` is the transport header and payload (pkt.networkHeader is set too).
   * The packet may be borrowed from a receive ring: call pkt.retain() to keep it past the call.
   */
  handlePacket(info: NetworkReceiveInfo, pkt: PacketBuffer): void;
  /**
   * An ICMP error quoting a packet this endpoint sent; `quoted` holds the quoted transport header bytes (at least 8
   * bytes: ports and, for TCP, the sequence number).
   */
  handleError(err: TransportErrorInfo, info: NetworkReceiveInfo, quoted: Uint8Array): void;
}

/** Result of handing a packet that matched no endpoint to its protocol. */
export type UnknownDestinationResult = 'handled' | 'portUnreachable' | 'malformed';

/** A transport protocol registered with a Stack (TCP, UDP, ICMPv4, ICMPv6). */
export interface TransportProtocol {
  /** IP protocol number. */
  readonly number: number;
  /** Smallest valid transport header; shorter packets are counted malformed and dropped. */
  readonly minimumPacketSize: number;
  /**
   * Reads the (source, destination) ports of the transport header at bytes[offset]; -1 if the `length` bytes
   * available are too short. Allocation-free. ICMP echo uses the identifier as both ports.
   */
  sourcePort(bytes: Uint8Array, offset: number, length: number): number;
  destinationPort(bytes: Uint8Array, offset: number, length: number): number;
  /**
   * For an ICMP error: the local and remote "ports" of the quoted packet this host sent (default: its source and
   * destination ports). ICMP echo returns the identifier as the local port and 0 as the remote one.
   */
  quotedLocalPort?(bytes: Uint8Array, offset: number, length: number): number;
  quotedRemotePort?(bytes: Uint8Array, offset: number, length: number): number;
  /** socket(2) for this protocol on family 4 or 6. */
  newEndpoint(family: 4 | 6, waiterQueue: WaiterQueue): Endpoint | TcpipError;
  /** A packet no endpoint wanted: TCP answers with RST ('handled'), UDP asks the stack for port unreachable. */
  handleUnknownDestinationPacket(info: NetworkReceiveInfo, pkt: PacketBuffer): UnknownDestinationResult;
  /**
   * An ICMP error quoting a packet of this protocol for which the demuxer holds no endpoint (called by
   * Stack.deliverTransportError). A protocol whose endpoints live elsewhere (TCP on worker threads,
   * threads/tcp_dispatcher.ts) forwards it; `quoted` starts at the quoted transport header. Returns whether it
   * took the error.
   */
  handleUnmatchedError?(
    err: TransportErrorInfo,
    info: NetworkReceiveInfo,
    quotedSource: Address,
    quotedDestination: Address,
    quoted: Uint8Array,
  ): boolean;
  /** Stops timers and workers. */
  close?(): void;
}

/** Creates a protocol instance bound to a stack (like gVisor's TransportProtocolFactory). */
export type TransportProtocolFactory = (stack: Stack) => TransportProtocol;

// The socket-level endpoint the sentry's socket syscalls drive (the tcpip.Endpoint idea): every operation is
// non-blocking and returns a TcpipError value instead of throwing. A caller that gets `TcpipErrors.wouldBlock`
// (or `connectStarted`) subscribes to `waiterQueue` and retries when readiness(mask) says so.

import type { Address, FullAddress } from './address.js';
import type { TcpipError } from './tcpip_error.js';
import type { WaiterQueue } from '../waiter/waiter_queue.js';

/** SOCK_STREAM / SOCK_DGRAM / SOCK_RAW numbers of socket(2). */
export const SockType = { STREAM: 1, DGRAM: 2, RAW: 3 } as const;
export type SockTypeValue = (typeof SockType)[keyof typeof SockType];

/** shutdown(2) `how` bits: SHUT_RD=0 -> READ, SHUT_WR=1 -> WRITE, SHUT_RDWR=2 -> both. */
export const ShutdownFlags = { READ: 1, WRITE: 2 } as const;

export interface ReadOptions {
  /** MSG_PEEK: return data without consuming it. */
  peek?: boolean;
  /** Fill `remoteAddress` in the result (recvfrom/recvmsg with a name buffer). */
  needRemoteAddress?: boolean;
  /** MSG_ERRQUEUE: read the oldest queued error (IP_RECVERR) instead of data; wouldBlock if none. */
  errorQueue?: boolean;
}

/** struct sock_extended_err (linux/errqueue.h) of an error read with MSG_ERRQUEUE. */
export interface ExtendedError {
  /** The errno the error maps to (ECONNREFUSED, EHOSTUNREACH, EMSGSIZE, ...). */
  errno: number;
  /** SO_EE_ORIGIN_ICMP (2) or SO_EE_ORIGIN_ICMP6 (3). */
  origin: 2 | 3;
  type: number;
  code: number;
  /** ee_info: the MTU for Packet Too Big / Fragmentation Needed, else 0. */
  info: number;
  /** The host that sent the ICMP error (SO_EE_OFFENDER). */
  offender: Address;
}

/** Ancillary data a datagram or stream read can return (cmsg(3)); fields set only when enabled by sockopts. */
export interface ControlMessages {
  /** IP_PKTINFO / IPV6_PKTINFO: destination address of the packet and the NIC it arrived on. */
  packetInfo?: { nic: number; localAddress: Address; destinationAddress: Address };
  /** IP_RECVTOS / IPV6_RECVTCLASS. */
  tos?: number;
  /** IP_RECVTTL / IPV6_RECVHOPLIMIT. */
  ttl?: number;
  /** SO_TIMESTAMP: receive time in nanoseconds since the epoch. */
  timestampNs?: bigint;
  /** IP_RECVORIGDSTADDR. */
  originalDestination?: FullAddress;
  /** MSG_ERRQUEUE reads: the IP_RECVERR / IPV6_RECVERR control message. */
  extendedError?: ExtendedError;
}

export interface ReadResult {
  /** Bytes copied into the destination buffer. */
  count: number;
  /**
   * Bytes that were available in the message (datagram sockets: the datagram length; greater than count means the
   * datagram was truncated, MSG_TRUNC). Stream sockets: equal to count.
   */
  total: number;
  remoteAddress?: FullAddress;
  control?: ControlMessages;
}

export interface WriteOptions {
  /** sendto/sendmsg destination (datagram sockets; ignored with EISCONN semantics for connected streams). */
  to?: FullAddress;
  /** MSG_MORE: more data follows; stream sockets may hold the segment (like TCP_CORK for one call). */
  more?: boolean;
  /** MSG_EOR. */
  endOfRecord?: boolean;
  /** IP_TOS / IPV6_TCLASS / IP_TTL for this one datagram (sendmsg cmsgs). */
  tos?: number;
  ttl?: number;
  /** IP_PKTINFO / IPV6_PKTINFO on sendmsg: the source address (must be local) and/or outgoing NIC. */
  sourceAddress?: Address;
  sourceNic?: number;
}

/** Integer-valued socket options (the sentry maps (level, optname) of setsockopt(2) to these). */
export type IntSockOpt =
  // SOL_SOCKET, socket(7)
  | 'reuseAddress' // SO_REUSEADDR
  | 'reusePort' // SO_REUSEPORT
  | 'keepAlive' // SO_KEEPALIVE
  | 'broadcast' // SO_BROADCAST
  | 'receiveBufferSize' // SO_RCVBUF
  | 'sendBufferSize' // SO_SNDBUF
  | 'receiveLowWatermark' // SO_RCVLOWAT
  | 'noChecksum' // SO_NO_CHECK
  | 'timestamp' // SO_TIMESTAMP
  | 'outOfBandInline' // SO_OOBINLINE
  | 'bindToDevice' // SO_BINDTODEVICE, as a NIC id (0: none)
  | 'acceptConn' // SO_ACCEPTCONN (get only)
  // IPPROTO_IP, ip(7)
  | 'ttl' // IP_TTL (0: use the route default)
  | 'tos' // IP_TOS
  | 'multicastTtl' // IP_MULTICAST_TTL
  | 'multicastLoop' // IP_MULTICAST_LOOP
  | 'receiveTos' // IP_RECVTOS
  | 'receiveTtl' // IP_RECVTTL
  | 'receivePacketInfo' // IP_PKTINFO
  | 'headerIncluded' // IP_HDRINCL (raw)
  | 'mtuDiscover' // IP_MTU_DISCOVER (IP_PMTUDISC_* values)
  | 'mtu' // IP_MTU (get only, connected sockets)
  | 'receiveOriginalDestination' // IP_RECVORIGDSTADDR
  | 'receiveErrors' // IP_RECVERR / IPV6_RECVERR: queue ICMP errors for MSG_ERRQUEUE
  // IPPROTO_IPV6, ipv6(7)
  | 'v6Only' // IPV6_V6ONLY
  | 'ipv6HopLimit' // IPV6_UNICAST_HOPS (-1: route default)
  | 'ipv6MulticastHops' // IPV6_MULTICAST_HOPS
  | 'ipv6TrafficClass' // IPV6_TCLASS
  | 'ipv6ReceiveTrafficClass' // IPV6_RECVTCLASS
  | 'ipv6ReceiveHopLimit' // IPV6_RECVHOPLIMIT
  | 'ipv6ReceivePacketInfo' // IPV6_RECVPKTINFO
  // IPPROTO_TCP, tcp(7)
  | 'noDelay' // TCP_NODELAY
  | 'cork' // TCP_CORK
  | 'quickAck' // TCP_QUICKACK
  | 'maxSegment' // TCP_MAXSEG
  | 'keepAliveIdle' // TCP_KEEPIDLE, seconds
  | 'keepAliveInterval' // TCP_KEEPINTVL, seconds
  | 'keepAliveCount' // TCP_KEEPCNT
  | 'userTimeout' // TCP_USER_TIMEOUT, milliseconds
  | 'synCount' // TCP_SYNCNT
  | 'lingerTimeout' // TCP_LINGER2, seconds
  | 'deferAccept' // TCP_DEFER_ACCEPT, seconds
  | 'windowClamp' // TCP_WINDOW_CLAMP
  // ICMPV6 filter and others are structured options
  | 'receiveQueueSize' // SIOCINQ / FIONREAD (get only)
  | 'sendQueueSize'; // SIOCOUTQ / TIOCOUTQ (get only)

/** Options with structured values. */
export type SockOpt =
  | { kind: 'linger'; enabled: boolean; seconds: number } // SO_LINGER
  | { kind: 'addMembership'; group: Address; nic: number; interfaceAddress?: Address } // IP_ADD_MEMBERSHIP/IPV6_JOIN_GROUP
  | { kind: 'dropMembership'; group: Address; nic: number; interfaceAddress?: Address }
  | { kind: 'multicastInterface'; nic: number; interfaceAddress?: Address } // IP_MULTICAST_IF / IPV6_MULTICAST_IF
  | { kind: 'congestionControl'; name: string } // TCP_CONGESTION
  | { kind: 'icmpv6Filter'; denyTypes: Uint32Array } // ICMP6_FILTER: bit set = type blocked
  | { kind: 'tcpInfo'; info?: TcpInfo }; // TCP_INFO (get only)

export type SockOptKind = SockOpt['kind'];

/** A subset of struct tcp_info (linux/tcp.h) that the stack can report. */
export interface TcpInfo {
  state: number;
  rtoUs: number;
  rttUs: number;
  rttVarUs: number;
  sndMss: number;
  rcvMss: number;
  sndCwnd: number;
  sndSsthresh: number;
  totalRetrans: number;
  reordering: number;
}

/** The socket-level endpoint interface implemented by TCP, UDP, ICMP (ping) and raw endpoints. */
export interface Endpoint {
  /** 4 or 6: the network protocol of socket(2)'s domain (AF_INET / AF_INET6). */
  readonly family: 4 | 6;
  readonly sockType: SockTypeValue;
  /** IP protocol number of the transport (6 TCP, 17 UDP, 1/58 ICMP, or the raw protocol). */
  readonly protocol: number;
  /** Notified whenever readiness may have changed. */
  readonly waiterQueue: WaiterQueue;

  /** The subset of `mask` (EventMask bits) that is ready now; ERR and HUP are reported even if not asked for. */
  readiness(mask: number): number;

  bind(addr: FullAddress): TcpipError | undefined;
  /**
   * Datagram sockets: set the default peer (address AF_UNSPEC is `disconnect()`). Stream sockets: starts the
   * handshake and returns `connectStarted`; completion is signalled as OUT (success) or ERR (see lastError()).
   */
  connect(addr: FullAddress): TcpipError | undefined;
  /** connect(2) with AF_UNSPEC: dissolve the association (datagram) or abort (stream). */
  disconnect(): TcpipError | undefined;
  listen(backlog: number): TcpipError | undefined;
  /** A connected endpoint from the accept queue, or `wouldBlock`. */
  accept(): { endpoint: Endpoint; peer: FullAddress } | TcpipError;

  /** Copies received data into `dst` (readv callers pass one concatenated buffer). */
  read(dst: Uint8Array, opts?: ReadOptions): ReadResult | TcpipError;
  /** Queues `src` for sending; returns the bytes accepted (partial writes on streams when the buffer fills). */
  write(src: Uint8Array, opts?: WriteOptions): number | TcpipError;

  /** `flags` is a combination of ShutdownFlags. */
  shutdown(flags: number): TcpipError | undefined;
  /** Releases the endpoint; stream sockets still flush (or linger/reset) as close(2) would. */
  close(): void;
  /** SO_ERROR: returns and clears the pending asynchronous error. */
  lastError(): TcpipError | undefined;

  getLocalAddress(): FullAddress | TcpipError;
  getRemoteAddress(): FullAddress | TcpipError;

  setSockOptInt(opt: IntSockOpt, value: number): TcpipError | undefined;
  getSockOptInt(opt: IntSockOpt): number | TcpipError;
  setSockOpt(opt: SockOpt): TcpipError | undefined;
  getSockOpt<K extends SockOptKind>(kind: K): Extract<SockOpt, { kind: K }> | TcpipError;
}

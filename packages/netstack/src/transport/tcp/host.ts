// What TCP needs from the stack underneath it: a clock, the demuxer and port manager, and routes. A Stack provides
// all of it (stackTcpHost adapts one); the narrow interface keeps TCP testable and lets the sentry's worker
// threads provide their own host later.

import type { PacketBuffer } from '../../buffer/packet_buffer.js';
import { LinkCapability } from '../../link/link_endpoint.js';
import type { Address } from '../../stack/address.js';
import type { Clock } from '../../stack/clock.js';
import type { PortManager } from '../../stack/port_manager.js';
import type { NetworkWriteParams } from '../../stack/route.js';
import type { Stack } from '../../stack/stack.js';
import type { TcpipError } from '../../stack/tcpip_error.js';
import type { TransportDemuxer } from '../../stack/transport_demuxer.js';

/** The parts of stack/route.ts's Route that TCP uses (a Route satisfies it). */
export interface TcpRoute {
  readonly family: 4 | 6;
  readonly nic: number;
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  /** Headroom to reserve in front of the TCP header (link + network headers). */
  readonly maxHeaderLength: number;
  /** Largest TCP segment (header + payload) that fits the path MTU. */
  readonly maxPayload: number;
  /** The destination is this stack's own address: packets loop back and arrive marked checksum-validated. */
  readonly isLocal?: boolean;
  writePacket(pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | undefined;
  /**
   * Optional: a packet with maxHeaderLength bytes of headroom for a `size`-byte segment, instead of a fresh zeroed
   * buffer per segment. Only a route whose writePacket is done with the packet when it returns (a TCP worker's
   * route copies it into a ring) may hand out the same memory each time. The first 60 bytes (the largest TCP
   * header) are zero; the caller writes every other byte.
   */
  allocatePacket?(size: number): PacketBuffer;
}

export interface TcpHost {
  readonly clock: Clock;
  readonly demuxer: TransportDemuxer;
  readonly ports: PortManager;
  findRoute(nicId: number, local: Address | undefined, remote: Address): TcpRoute | TcpipError;
  /** Largest GSO super-packet (network header + payload) the route's NIC accepts, 0 without GSO. */
  gsoMaxSize(nicId: number): number;
  /** Whether `addr` is assigned to this stack (bind(2) fails with EADDRNOTAVAIL otherwise). */
  isLocalAddress(addr: Address): boolean;
}

export function stackTcpHost(stack: Stack): TcpHost {
  return {
    clock: stack.clock,
    demuxer: stack.demuxer,
    ports: stack.ports,
    findRoute: (nicId, local, remote) => stack.findRoute(nicId, local, remote),
    isLocalAddress: (addr) => stack.isLocalAddress(addr),
    gsoMaxSize: (nicId) => {
      const link = stack.nic(nicId)?.link;
      return link && link.capabilities & LinkCapability.GSO ? link.gsoMaxSize : 0;
    },
  };
}

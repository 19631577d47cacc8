// Delivers received transport packets to endpoints. For each (network family, transport protocol, local port) the
// demuxer keeps connected endpoints in a hash on (remote address, remote port) and the others in a short list, and
// looks up in order: exact 4-tuple, then bound-to-this-address, then bound-to-any-address (the order of Linux's
// __inet_lookup: established, then listening by best score). Lookups allocate nothing.

import type { Address } from './address.js';
import type { PacketBuffer } from '../buffer/packet_buffer.js';
import type { NetworkReceiveInfo, TransportEndpoint, TransportEndpointId } from './transport_protocol.js';

interface Registration {
  id: TransportEndpointId;
  nic: number;
  endpoint: TransportEndpoint;
  reusePort: boolean;
}

interface PortBucket {
  connected: Map<number, Registration[]>;
  unconnected: Registration[];
}

function tupleHash(remote: Address, remotePort: number): number {
  return (Math.imul(remote.hash(), 31) + remotePort) | 0;
}

export class TransportDemuxer {
  /** key: family(4|6) * 2^24 + transport * 2^16 + local port. */
  private readonly ports = new Map<number, PortBucket>();

  private static key(family: 4 | 6, transport: number, port: number): number {
    return family * 16777216 + transport * 65536 + port;
  }

  register(family: 4 | 6, transport: number, id: TransportEndpointId, endpoint: TransportEndpoint, nic = 0, reusePort = false): void {
    const k = TransportDemuxer.key(family, transport, id.localPort);
    let b = this.ports.get(k);
    if (!b) this.ports.set(k, (b = { connected: new Map(), unconnected: [] }));
    const reg: Registration = { id, nic, endpoint, reusePort };
    if (id.remoteAddress !== undefined && id.localAddress !== undefined) {
      const h = tupleHash(id.remoteAddress, id.remotePort);
      let list = b.connected.get(h);
      if (!list) b.connected.set(h, (list = []));
      list.push(reg);
    } else {
      b.unconnected.push(reg);
    }
  }

  unregister(family: 4 | 6, transport: number, id: TransportEndpointId, endpoint: TransportEndpoint): void {
    const k = TransportDemuxer.key(family, transport, id.localPort);
    const b = this.ports.get(k);
    if (!b) return;
    if (id.remoteAddress !== undefined && id.localAddress !== undefined) {
      const h = tupleHash(id.remoteAddress, id.remotePort);
      const list = b.connected.get(h);
      if (list) {
        const i = list.findIndex((r) => r.endpoint === endpoint);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) b.connected.delete(h);
      }
    } else {
      const i = b.unconnected.findIndex((r) => r.endpoint === endpoint);
      if (i >= 0) b.unconnected.splice(i, 1);
    }
    if (b.connected.size === 0 && b.unconnected.length === 0) this.ports.delete(k);
  }

  /**
   * The endpoint that receives a unicast packet, or undefined. With SO_REUSEPORT groups, `flowHash` picks one
   * member so a flow always lands on the same socket.
   */
  find(
    family: 4 | 6,
    transport: number,
    nic: number,
    localAddress: Address,
    localPort: number,
    remoteAddress: Address,
    remotePort: number,
  ): TransportEndpoint | undefined {
    const b = this.ports.get(TransportDemuxer.key(family, transport, localPort));
    if (!b) return undefined;
    if (b.connected.size !== 0) {
      const list = b.connected.get(tupleHash(remoteAddress, remotePort));
      if (list) {
        for (const r of list) {
          if (
            r.id.remotePort === remotePort &&
            r.id.remoteAddress!.equals(remoteAddress) &&
            r.id.localAddress!.equals(localAddress) &&
            (r.nic === 0 || r.nic === nic)
          ) {
            return r.endpoint;
          }
        }
      }
    }
    // Unconnected: a specific local address beats the wildcard; a specific remote (connected UDP bound to any
    // address) beats no remote; a NIC-bound socket beats an unbound one. Among equals in a SO_REUSEPORT group the
    // flow hash picks one (socket(7)), so a flow keeps landing on the same socket. Two passes, no allocation.
    let best: Registration | undefined;
    let bestScore = -1;
    let group = 0;
    for (const r of b.unconnected) {
      const score = TransportDemuxer.score(r, nic, localAddress, remoteAddress, remotePort);
      if (score < 0) continue;
      if (score > bestScore) {
        best = r;
        bestScore = score;
        group = r.reusePort ? 1 : 0;
      } else if (score === bestScore && r.reusePort && best?.reusePort) {
        group++;
      }
    }
    if (!best || group <= 1) return best?.endpoint;
    let pick = ((Math.imul(remoteAddress.hash(), 0x9e3779b1) ^ Math.imul(remotePort + 1, 0x85ebca6b)) >>> 0) % group;
    for (const r of b.unconnected) {
      if (!r.reusePort || TransportDemuxer.score(r, nic, localAddress, remoteAddress, remotePort) !== bestScore) continue;
      if (pick-- === 0) return r.endpoint;
    }
    return best.endpoint;
  }

  /** How well an unconnected registration matches (-1: not at all). */
  private static score(r: Registration, nic: number, localAddress: Address, remoteAddress: Address, remotePort: number): number {
    if (r.nic !== 0 && r.nic !== nic) return -1;
    let score = 0;
    if (r.id.localAddress !== undefined) {
      if (!r.id.localAddress.equals(localAddress)) return -1;
      score += 4;
    }
    if (r.id.remoteAddress !== undefined) {
      if (r.id.remotePort !== remotePort || !r.id.remoteAddress.equals(remoteAddress)) return -1;
      score += 2;
    }
    if (r.nic !== 0) score += 1;
    return score;
  }

  /**
   * Hands a multicast or broadcast datagram to every unconnected endpoint that should receive it (udp(7): every
   * socket bound to the port and to the group/broadcast address or the wildcard). Returns how many got it.
   */
  deliverMulticast(family: 4 | 6, transport: number, info: NetworkReceiveInfo, pkt: PacketBuffer, localPort: number, remotePort: number): number {
    const b = this.ports.get(TransportDemuxer.key(family, transport, localPort));
    if (!b) return 0;
    let n = 0;
    for (const r of b.unconnected) {
      if (r.nic !== 0 && r.nic !== info.nic) continue;
      if (r.id.localAddress !== undefined && !r.id.localAddress.equals(info.destination)) continue;
      if (r.id.remoteAddress !== undefined && (r.id.remotePort !== remotePort || !r.id.remoteAddress.equals(info.source))) continue;
      r.endpoint.handlePacket(info, pkt);
      n++;
    }
    return n;
  }
}

// The Stack: NICs, addresses, the route table, registered network and transport protocols, the transport demuxer
// and port reservations, path MTU and statistics. Network endpoints call back into it to deliver transport
// packets and ICMP errors; transports call findRoute() to send.

import { PacketType, type PacketBuffer } from '../buffer/packet_buffer.js';
import type { LinkEndpoint } from '../link/link_endpoint.js';
import { Address, AddressWithPrefix, EtherType, Subnet } from './address.js';
import { SystemClock, type Clock } from './clock.js';
import { SockType, type Endpoint } from './endpoint.js';
import type { IpNetworkEndpoint, NetworkProtocol, NetworkProtocolFactory } from './network_protocol.js';
import { NIC, type NICOptions } from './nic.js';
import { PathMtuCache } from './path_mtu_cache.js';
import { PortManager } from './port_manager.js';
import { Route } from './route.js';
import { RouteTable, type RouteEntry } from './route_table.js';
import { recordInternalError } from './internal_error.js';
import { newStackStats, type StackStats } from './stats.js';
import { TcpipErrors, type TcpipError } from './tcpip_error.js';
import { TransportDemuxer } from './transport_demuxer.js';
import type {
  NetworkReceiveInfo,
  TransportEndpoint,
  TransportEndpointId,
  TransportErrorInfo,
  TransportProtocol,
  TransportProtocolFactory,
} from './transport_protocol.js';
import type { WaiterQueue } from '../waiter/waiter_queue.js';

/** A raw socket as the stack sees it: receives a copy of every packet of its (family, protocol). */
export interface RawTransportEndpoint {
  handleRawPacket(info: NetworkReceiveInfo, pkt: PacketBuffer): void;
}

/** Creates raw sockets (transport/raw registers itself here: the stack cannot import transports). */
export type RawEndpointFactory = (stack: Stack, family: 4 | 6, protocol: number, waiterQueue: WaiterQueue) => Endpoint | TcpipError;

export interface StackOptions {
  networkProtocols: NetworkProtocolFactory[];
  transportProtocols: TransportProtocolFactory[];
  rawFactory?: RawEndpointFactory;
  clock?: Clock;
  /** IP forwarding between NICs (net.ipv4.ip_forward / net.ipv6.conf.all.forwarding): off by default. */
  forwarding?: { v4?: boolean; v6?: boolean };
}

/** Result of handing a transport packet up. */
export type TransportDeliveryResult = 'delivered' | 'portUnreachable' | 'protocolUnreachable' | 'malformed';


export class Stack {
  readonly clock: Clock;
  readonly stats: StackStats = newStackStats();
  readonly demuxer = new TransportDemuxer();
  readonly ports = new PortManager();
  readonly routes = new RouteTable();
  readonly forwarding = { v4: false, v6: false };
  private readonly nics = new Map<number, NIC>();
  private readonly networkProtocols = new Map<number, NetworkProtocol>();
  private readonly transportProtocols = new Map<number, TransportProtocol>();
  private readonly raw = new Map<number, Set<RawTransportEndpoint>>(); // family << 8 | protocol
  private readonly pmtu: PathMtuCache;
  private readonly rawFactory: RawEndpointFactory | undefined;
  private readonly batchEndHooks = new Set<() => void>();
  private localQueue: { nic: NIC; etherType: number; pkt: PacketBuffer }[] = [];
  private localScheduled = false;
  private closed = false;

  constructor(opts: StackOptions) {
    this.clock = opts.clock ?? new SystemClock();
    this.pmtu = new PathMtuCache(this.clock);
    this.rawFactory = opts.rawFactory;
    if (opts.forwarding?.v4) this.forwarding.v4 = true;
    if (opts.forwarding?.v6) this.forwarding.v6 = true;
    for (const f of opts.networkProtocols) {
      const p = f(this);
      this.networkProtocols.set(p.etherType, p);
    }
    for (const f of opts.transportProtocols) {
      const p = f(this);
      this.transportProtocols.set(p.number, p);
    }
  }

  // ---- NICs

  /** Attaches `link` as NIC `id`; the stack owns the link from then on (removeNIC and close() close it). */
  createNIC(id: number, link: LinkEndpoint, opts?: NICOptions): TcpipError | undefined {
    if (!Number.isInteger(id) || id <= 0) return TcpipErrors.invalidOptionValue;
    if (this.nics.has(id)) return TcpipErrors.duplicateAddress;
    const nic = new NIC(this, id, link, opts);
    this.nics.set(id, nic);
    for (const p of this.networkProtocols.values()) nic.attachNetworkEndpoint(p.etherType, p.newEndpoint(nic));
    link.attach(nic);
    return undefined;
  }

  removeNIC(id: number): TcpipError | undefined {
    const nic = this.nics.get(id);
    if (!nic) return TcpipErrors.unknownNICID;
    nic.close();
    this.nics.delete(id);
    this.routes.remove((r) => r.nic === id);
    return undefined;
  }

  nic(id: number): NIC | undefined {
    return this.nics.get(id);
  }
  allNICs(): NIC[] {
    return [...this.nics.values()];
  }
  nicByName(name: string): NIC | undefined {
    for (const n of this.nics.values()) if (n.name === name) return n;
    return undefined;
  }
  enableNIC(id: number, enabled = true): TcpipError | undefined {
    const nic = this.nics.get(id);
    if (!nic) return TcpipErrors.unknownNICID;
    nic.enabled = enabled;
    return undefined;
  }

  // ---- addresses

  /** Assigns `addr` (e.g. "10.0.0.1/24") to a NIC. Like `ip addr add`, it also adds the on-link subnet route. */
  addAddress(nicId: number, addr: AddressWithPrefix | string, opts: { noPrefixRoute?: boolean } = {}): TcpipError | undefined {
    const nic = this.nics.get(nicId);
    if (!nic) return TcpipErrors.unknownNICID;
    const a = typeof addr === 'string' ? AddressWithPrefix.parse(addr) : addr;
    const err = nic.addAddress(a);
    if (err) return err;
    const full = a.address.length * 8;
    if (!opts.noPrefixRoute && a.prefixLength < full) {
      const subnet = a.subnet();
      if (!this.routes.all().some((r) => r.nic === nicId && !r.gateway && r.destination.toString() === subnet.toString())) {
        this.routes.add({ destination: subnet, nic: nicId });
      }
    }
    return undefined;
  }

  removeAddress(nicId: number, addr: Address): TcpipError | undefined {
    const nic = this.nics.get(nicId);
    if (!nic) return TcpipErrors.unknownNICID;
    return nic.removeAddress(addr);
  }

  /**
   * The NIC that has `addr` assigned (0: none). On a loopback NIC the whole assigned subnet counts, as Linux's
   * "local 127.0.0.0/8 dev lo" route makes every 127.x.y.z address local.
   */
  nicForAddress(addr: Address): number {
    for (const n of this.nics.values()) if (n.hasAddress(addr)) return n.id;
    for (const n of this.nics.values()) {
      if (!n.isLoopback) continue;
      for (const a of n.addresses(addr.family)) if (a.subnet().contains(addr)) return n.id;
    }
    return 0;
  }

  isLocalAddress(addr: Address, nicId = 0): boolean {
    const owner = this.nicForAddress(addr);
    return nicId === 0 ? owner !== 0 : owner === nicId;
  }

  // ---- routes

  addRoute(entry: RouteEntry): void {
    this.routes.add(entry);
  }

  /** Adds a route from text: `addRouteText("default", "10.0.0.1", 1)` or `("192.168.0.0/16", undefined, 1)`. */
  addRouteText(destination: string, gateway: string | undefined, nic: number, metric = 0): void {
    const gw = gateway === undefined ? undefined : Address.parse(gateway);
    const dst = destination === 'default' ? Subnet.parse(gw?.family === 6 ? '::/0' : '0.0.0.0/0') : Subnet.parse(destination);
    this.routes.add({ destination: dst, gateway: gw, nic, metric });
  }

  /**
   * A route from `local` (undefined: pick one) to `remote`, optionally restricted to one NIC. Errors:
   * noRoute (no matching table entry), badLocalAddress (local not assigned), networkUnreachable (NIC down).
   */
  findRoute(nicId: number, local: Address | undefined, remote: Address, family: 4 | 6 = remote.family): Route | TcpipError {
    if (remote.family !== family) return TcpipErrors.addressFamilyNotSupported;
    if (local && local.family !== family) return TcpipErrors.badLocalAddress;
    // Local delivery: the destination is one of our own addresses (Linux routes it through the local table).
    if (!remote.isMulticast() && !remote.isLimitedBroadcast()) {
      const owner = this.nicForAddress(remote);
      if (owner !== 0 && (nicId === 0 || nicId === owner || this.nics.get(nicId)?.isLoopback)) {
        const nic = this.nics.get(owner)!;
        if (!nic.enabled) return TcpipErrors.networkUnreachable;
        const src = local ?? remote;
        if (local && !this.isLocalAddress(local)) return TcpipErrors.badLocalAddress;
        return this.makeRoute(nic, src, remote, remote, false, false, true, 0);
      }
    }
    // Multicast and limited broadcast leave through the chosen NIC (IP_MULTICAST_IF / SO_BINDTODEVICE) or the
    // route for the destination; for 255.255.255.255 the first NIC with an address of the family.
    let nic: NIC | undefined;
    let gateway: Address | undefined;
    let entry: RouteEntry | undefined;
    if (nicId !== 0 && (remote.isMulticast() || remote.isLimitedBroadcast() || remote.isLinkLocalUnicast())) {
      nic = this.nics.get(nicId);
      if (!nic) return TcpipErrors.unknownNICID;
    } else {
      entry = this.routes.lookup(remote, nicId, (id) => {
        const n = this.nics.get(id);
        return n !== undefined && n.enabled;
      });
      if (entry) {
        nic = this.nics.get(entry.nic);
        gateway = entry.gateway;
      } else if (remote.isLimitedBroadcast() || remote.isMulticast()) {
        for (const n of this.nics.values()) {
          if (n.enabled && !n.isLoopback && n.primaryAddress(family)) {
            nic = n;
            break;
          }
        }
      }
    }
    if (!nic) {
      this.stats.ip.noRoute++;
      return TcpipErrors.noRoute;
    }
    if (!nic.enabled) return TcpipErrors.networkUnreachable;
    let src = local;
    if (src === undefined || src.isUnspecified()) {
      src = entry?.source ?? nic.primaryAddress(family, gateway ?? remote);
      if (!src) return TcpipErrors.noRoute;
    } else if (!this.isLocalAddress(src)) {
      return TcpipErrors.badLocalAddress;
    }
    const isBroadcast = remote.isLimitedBroadcast() || nic.isSubnetBroadcast(remote);
    return this.makeRoute(nic, src, remote, gateway ?? remote, isBroadcast, remote.isMulticast(), false, entry?.mtu ?? 0);
  }

  private makeRoute(
    nic: NIC,
    local: Address,
    remote: Address,
    nextHop: Address,
    isBroadcast: boolean,
    isMulticast: boolean,
    isLocal: boolean,
    routeMtu: number,
  ): Route | TcpipError {
    const family = remote.family;
    const ep = nic.networkEndpoint(family === 4 ? EtherType.IPV4 : EtherType.IPV6) as IpNetworkEndpoint | undefined;
    if (!ep) return TcpipErrors.addressFamilyNotSupported;
    return new Route(
      family, nic.id, local, remote, nextHop, nic.link.maxHeaderLength, nic.linkAddress, ep,
      isBroadcast, isMulticast, isLocal, routeMtu,
    );
  }

  // ---- path MTU (RFC 1191, RFC 8201)

  pathMtu(remote: Address): number | undefined {
    return this.pmtu.get(remote);
  }

  /** Lowers the PMTU toward `remote` (PathMtuCache.lower: never raised, bounded table). */
  updatePathMtu(remote: Address, mtu: number): void {
    this.pmtu.lower(remote, mtu);
  }

  // ---- protocols and endpoints

  transportProtocol(n: number): TransportProtocol | undefined {
    return this.transportProtocols.get(n);
  }
  networkProtocol(etherType: number): NetworkProtocol | undefined {
    return this.networkProtocols.get(etherType);
  }

  /** socket(AF_INET/AF_INET6, type, protocol) for a registered transport protocol. */
  newEndpoint(protocol: number, family: 4 | 6, waiterQueue: WaiterQueue): Endpoint | TcpipError {
    const p = this.transportProtocols.get(protocol);
    if (!p) return TcpipErrors.unknownProtocol;
    return p.newEndpoint(family, waiterQueue);
  }

  /**
   * socket(2) semantics for AF_INET (family 4) / AF_INET6 (6): `type` is SOCK_STREAM/SOCK_DGRAM/SOCK_RAW (flags
   * like SOCK_NONBLOCK already removed), `protocol` 0 picks the default (TCP for streams, UDP for datagrams).
   * SOCK_DGRAM with IPPROTO_ICMP (4) / IPPROTO_ICMPV6 (6) is a ping socket (icmp(7)). Errors: unknownProtocol
   * (EPROTONOSUPPORT) for combinations Linux refuses, notSupported when raw sockets are disabled.
   */
  socket(family: 4 | 6, type: number, protocol: number, waiterQueue: WaiterQueue): Endpoint | TcpipError {
    switch (type) {
      case SockType.STREAM:
        if (protocol !== 0 && protocol !== 6) return TcpipErrors.unknownProtocol;
        return this.newEndpoint(6, family, waiterQueue);
      case SockType.DGRAM:
        if (protocol === 0 || protocol === 17) return this.newEndpoint(17, family, waiterQueue);
        if ((family === 4 && protocol === 1) || (family === 6 && protocol === 58)) return this.newEndpoint(protocol, family, waiterQueue);
        return TcpipErrors.unknownProtocol;
      case SockType.RAW:
        return this.newRawEndpoint(protocol, family, waiterQueue);
      default:
        return TcpipErrors.unknownProtocol;
    }
  }

  /** socket(AF_INET/AF_INET6, SOCK_RAW, protocol). */
  newRawEndpoint(protocol: number, family: 4 | 6, waiterQueue: WaiterQueue): Endpoint | TcpipError {
    if (!this.rawFactory) return TcpipErrors.notSupported;
    return this.rawFactory(this, family, protocol, waiterQueue);
  }

  registerRawEndpoint(family: 4 | 6, protocol: number, ep: RawTransportEndpoint): void {
    const k = family * 256 + protocol;
    let s = this.raw.get(k);
    if (!s) this.raw.set(k, (s = new Set()));
    s.add(ep);
  }
  unregisterRawEndpoint(family: 4 | 6, protocol: number, ep: RawTransportEndpoint): void {
    const k = family * 256 + protocol;
    const s = this.raw.get(k);
    s?.delete(ep);
    if (s && s.size === 0) this.raw.delete(k);
  }

  registerTransportEndpoint(family: 4 | 6, protocol: number, id: TransportEndpointId, ep: TransportEndpoint, nic = 0, reusePort = false): void {
    this.demuxer.register(family, protocol, id, ep, nic, reusePort);
  }
  unregisterTransportEndpoint(family: 4 | 6, protocol: number, id: TransportEndpointId, ep: TransportEndpoint): void {
    this.demuxer.unregister(family, protocol, id, ep);
  }

  // ---- delivery from the network layer

  /**
   * Hands a received transport packet (pkt.transportHeader set) to raw sockets and then to its transport
   * endpoint(s). The network layer sends ICMP port/protocol unreachable according to the result.
   */
  deliverTransportPacket(info: NetworkReceiveInfo, pkt: PacketBuffer): TransportDeliveryResult {
    const raws = this.raw.get(info.family * 256 + info.protocol);
    if (raws) for (const r of raws) r.handleRawPacket(info, pkt);
    return this.deliverToTransport(info, pkt, raws !== undefined && raws.size > 0);
  }

  /** Hands a packet only to raw sockets (ICMP messages the kernel answers itself, like echo requests). */
  deliverRawPacket(info: NetworkReceiveInfo, pkt: PacketBuffer): number {
    const raws = this.raw.get(info.family * 256 + info.protocol);
    if (!raws) return 0;
    for (const r of raws) r.handleRawPacket(info, pkt);
    return raws.size;
  }

  private deliverToTransport(info: NetworkReceiveInfo, pkt: PacketBuffer, hadRaw: boolean): TransportDeliveryResult {
    const raws = hadRaw ? true : undefined;
    const proto = this.transportProtocols.get(info.protocol);
    if (!proto) return raws ? 'delivered' : 'protocolUnreachable';
    const off = pkt.transportHeader;
    const len = pkt.tail - off;
    if (len < proto.minimumPacketSize) return 'malformed';
    const dport = proto.destinationPort(pkt.buf, off, len);
    const sport = proto.sourcePort(pkt.buf, off, len);
    if (dport < 0 || sport < 0) return 'malformed';
    if (info.isBroadcastOrMulticast) {
      const n = this.demuxer.deliverMulticast(info.family, info.protocol, info, pkt, dport, sport);
      // No ICMP errors in answer to broadcast/multicast (RFC 1122 section 3.2.2), so always "delivered".
      if (n === 0) this.stats.udp.unknownPortErrors += info.protocol === 17 ? 1 : 0;
      return 'delivered';
    }
    const ep = this.demuxer.find(info.family, info.protocol, info.nic, info.destination, dport, info.source, sport);
    if (ep) {
      ep.handlePacket(info, pkt);
      return 'delivered';
    }
    const r = proto.handleUnknownDestinationPacket(info, pkt);
    if (r === 'handled') return 'delivered';
    return r;
  }

  /**
   * Hands an ICMP error to the endpoint that sent the quoted packet. `quoted` starts at the quoted transport
   * header; `quotedSource`/`quotedDestination` are the addresses of the quoted (our outgoing) packet.
   */
  deliverTransportError(
    info: NetworkReceiveInfo,
    err: TransportErrorInfo,
    protocol: number,
    quotedSource: Address,
    quotedDestination: Address,
    quoted: Uint8Array,
  ): boolean {
    if (err.kind === 'packetTooBig' && err.mtu > 0) this.updatePathMtu(quotedDestination, err.mtu);
    const proto = this.transportProtocols.get(protocol);
    if (!proto || quoted.length < 4) return false;
    const sport = proto.quotedLocalPort ? proto.quotedLocalPort(quoted, 0, quoted.length) : proto.sourcePort(quoted, 0, quoted.length);
    const dport = proto.quotedRemotePort ? proto.quotedRemotePort(quoted, 0, quoted.length) : proto.destinationPort(quoted, 0, quoted.length);
    if (sport < 0 || dport < 0) return false;
    const ep = this.demuxer.find(info.family, protocol, info.nic, quotedSource, sport, quotedDestination, dport);
    if (!ep) {
      // The protocol's endpoints may live outside the demuxer (TCP worker threads): let it forward the error.
      if (!proto.handleUnmatchedError) return false;
      err.quotedDestination = quotedDestination;
      return proto.handleUnmatchedError(err, info, quotedSource, quotedDestination, quoted);
    }
    err.quotedDestination = quotedDestination;
    ep.handleError(err, info, quoted);
    return true;
  }

  /**
   * Loops a locally addressed packet back into the stack through `nicId`'s receive path on a later turn of the
   * event loop (a send never re-enters the sender). The packet is owned by the stack at this point.
   */
  deliverLocal(nicId: number, etherType: number, pkt: PacketBuffer): void {
    const nic = this.nics.get(nicId);
    if (!nic || this.closed) return;
    this.localQueue.push({ nic, etherType, pkt });
    if (!this.localScheduled) {
      this.localScheduled = true;
      // setImmediate, not a microtask: a local TCP transfer ping-ponging between two sockets must not starve the
      // event loop's I/O (the loopback link does the same).
      setImmediate(this.drainLocalBound);
    }
  }

  private readonly drainLocalBound = (): void => this.drainLocal();

  private drainLocal(): void {
    this.localScheduled = false;
    const q = this.localQueue;
    this.localQueue = [];
    // Closed since these were queued: the NICs and transports are gone (their batch-end hooks with them, or not:
    // either way nothing may run for a closed stack), so what was in flight is dropped, as at a link's close.
    if (this.closed) return;
    // The NIC contains an exception from the protocol code (counted in stats.internalErrors.receive) so one bad
    // packet cannot stop the rest of the queue; flushBatch contains each hook.
    for (const { nic, etherType, pkt } of q) {
      pkt.checksumValidated = true; // never left the host (like Linux loopback's CHECKSUM_UNNECESSARY)
      pkt.gso = null; // a local super-packet is simply one large segment to the receiver
      pkt.remoteLinkAddress = null;
      pkt.packetType = PacketType.LOOPBACK; // loopback source/destination addresses are legitimate here
      nic.deliverNetworkPacket(etherType, pkt);
    }
    this.flushBatch();
  }

  /** Transports that batch work per receive burst (TCP's ACKs) register a hook run at each batch end. */
  onBatchEnd(hook: () => void): () => void {
    this.batchEndHooks.add(hook);
    return () => this.batchEndHooks.delete(hook);
  }

  /**
   * Runs every batch-end hook. Each is contained on its own (stack/internal_error.ts): a hook that throws must not
   * cost the hooks after it their batch end (TCP would hold back the ACKs of a whole burst), and the callers (a
   * link's receive callback, the local-delivery drain, the TCP worker pool's ring drain) have nobody to rethrow to.
   */
  flushBatch(): void {
    for (const h of this.batchEndHooks) {
      try {
        h();
      } catch (e) {
        recordInternalError(this.stats, 'receive', 'batch-end hook', e);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.transportProtocols.values()) p.close?.();
    for (const n of this.nics.values()) n.close();
    for (const p of this.networkProtocols.values()) p.close?.();
    this.nics.clear();
  }
}

// The TcpHost a TCP worker thread runs its TcpProtocol over (transport/tcp/host.ts): its own clock, demuxer and
// port manager, routes picked from the RouteSnapshot the stack thread sends (it cannot ask the stack thread
// synchronously), and routes whose writePacket() hands the TCP segment to the stack thread as a FRAME record in the
// TO_STACK ring (wire.ts). The stack thread adds the IP header and sends it through its own route.
//
// A full ring drops the frame and counts it (a qdisc drop, as a full device queue would): TCP retransmits.

import { GsoType, PacketBuffer } from '../buffer/packet_buffer.js';
import type { SharedFrameRing } from '../buffer/shared_ring.js';
import { Address, AddressWithPrefix, Subnet } from '../stack/address.js';
import { SystemClock, type Clock } from '../stack/clock.js';
import { PathMtuCache } from '../stack/path_mtu_cache.js';
import { PortManager } from '../stack/port_manager.js';
import type { NetworkWriteParams } from '../stack/route.js';
import { logInternalError } from '../stack/internal_error.js';
import { TcpipErrors, type TcpipError } from '../stack/tcpip_error.js';
import { TransportDemuxer } from '../stack/transport_demuxer.js';
import type { TcpHost, TcpRoute } from '../transport/tcp/host.js';
import { FRAME_HEADER, FrameFlags, ToStack, isUint, writeFrameHeader, type RouteSnapshot } from './wire.js';

/** RFC 791: every IPv4 host takes 68-byte datagrams; RFC 8200 5: IPv6 links carry at least 1280. */
const MIN_MTU_V4 = 68;
const MIN_MTU_V6 = 1280;
/** RFC 9293 3.1: data offset is 4 bits of 32-bit words. */
const MAX_TCP_HEADER = 60;

/** Counters of the worker's send path. */
export interface WorkerHostStats {
  /** FRAME records written to TO_STACK. */
  framesSent: number;
  /** Frames dropped because TO_STACK was full or closed (TCP retransmits them). */
  framesDropped: number;
  /** Frames larger than the ring can ever hold (a configuration error: GSO size above the ring's frame limit). */
  framesTooLarge: number;
  /** Segments refused with messageTooLong: DF set and larger than the path MTU. */
  framesOverMtu: number;
  /** Exceptions thrown by TCP timer callbacks (bugs), contained and logged once per distinct message. */
  timerErrors: number;
}

interface SnapshotNic {
  id: number;
  mtu: number;
  linkHeaderLength: number;
  gsoMaxSize: number;
  addresses: { address: Address; subnet: Subnet | undefined }[];
}

interface SnapshotRoute {
  destination: Subnet;
  nic: number;
  gateway: Address | undefined;
}

/** One route as TCP sees it; maxPayload follows the worker's path MTU table while the connection lives. */
class WorkerRoute implements TcpRoute {
  constructor(
    private readonly host: WorkerTcpHost,
    readonly family: 4 | 6,
    readonly nic: number,
    readonly localAddress: Address,
    readonly remoteAddress: Address,
    readonly maxHeaderLength: number,
    private readonly nicMtu: number,
    readonly isLocal: boolean,
  ) {}

  /** IP header bytes in front of TCP (without options or extension headers). */
  private get networkHeaderLength(): number {
    return this.family === 4 ? 20 : 40;
  }

  get maxPayload(): number {
    // The NIC's MTU as the latest ROUTES snapshot has it (a link MTU change reaches live connections, as Route.mtu
    // asks the network endpoint each time), lowered by the path MTU learned for the remote.
    const nicMtu = this.host.nicMtu(this.nic) ?? this.nicMtu;
    const pmtu = this.host.pathMtu(this.remoteAddress);
    const mtu = pmtu !== undefined && pmtu < nicMtu ? pmtu : nicMtu;
    return mtu - this.networkHeaderLength;
  }

  writePacket(pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | undefined {
    return this.host.writeFrame(this, pkt, params);
  }

  /** writeFrame copies the segment into the ring before it returns, so every segment can be built in one buffer. */
  allocatePacket(size: number): PacketBuffer {
    return this.host.sendPacket(size, this.maxHeaderLength);
  }
}

export class WorkerTcpHost implements TcpHost {
  readonly demuxer = new TransportDemuxer();
  readonly ports = new PortManager();
  readonly stats: WorkerHostStats = { framesSent: 0, framesDropped: 0, framesTooLarge: 0, framesOverMtu: 0, timerErrors: 0 };
  /** The clock TCP uses: `baseClock` with timer callbacks that cannot throw out into the event loop. */
  readonly clock: Clock;
  private nics = new Map<number, SnapshotNic>();
  private routes: SnapshotRoute[] = [];
  /** Every address of the snapshot by its text, for isLocalAddress and local-route detection. */
  private localAddresses = new Map<string, number>();
  /**
   * The subnets of loopback addresses ("127.0.0.1/8"): every address in them is local, as Linux's local table
   * holds all of 127.0.0.0/8 and Stack.nicForAddress counts a loopback NIC's subnets.
   */
  private loopbackSubnets: { subnet: Subnet; nic: number }[] = [];
  private readonly pmtu: PathMtuCache;
  /** A FRAME is assembled here when the packet's headroom cannot hold the header (one extra copy). */
  private scratch = new Uint8Array(0);
  /** The buffer every outgoing segment is built in (TcpRoute.allocatePacket): no allocation per segment. */
  private sendBuffer = new Uint8Array(2048);

  constructor(
    private readonly toStack: SharedFrameRing,
    snapshot: RouteSnapshot,
    baseClock: Clock = new SystemClock(),
  ) {
    this.setRoutes(snapshot);
    this.pmtu = new PathMtuCache(baseClock);
    // An exception out of a timer callback would be an uncaught exception: fatal to the worker thread and every
    // connection on it. One connection's bug costs that timer run only.
    this.clock = {
      nowMs: () => baseClock.nowMs(),
      wallNs: () => baseClock.wallNs(),
      afterFunc: (ms, fn) => baseClock.afterFunc(ms, () => {
        try {
          fn();
        } catch (e) {
          this.stats.timerErrors++;
          logInternalError('transmit', 'TCP worker timer', e);
        }
      }),
    };
  }

  /**
   * Replaces the routing snapshot. Throws a RangeError naming the bad field for a malformed snapshot and keeps the
   * previous one (the caller counts and skips the record).
   */
  setRoutes(snapshot: RouteSnapshot): void {
    if (typeof snapshot !== 'object' || snapshot === null || !Array.isArray(snapshot.nics) || !Array.isArray(snapshot.routes)) {
      throw new RangeError('EINVAL: a route snapshot needs nics[] and routes[]');
    }
    const nics = new Map<number, SnapshotNic>();
    const local = new Map<string, number>();
    const loopback: { subnet: Subnet; nic: number }[] = [];
    for (const n of snapshot.nics) {
      if (typeof n !== 'object' || n === null || !isUint(n.id) || !isUint(n.mtu) || !isUint(n.linkHeaderLength) ||
          !isUint(n.gsoMaxSize) || !Array.isArray(n.addresses)) {
        throw new RangeError(`EINVAL: malformed NIC in route snapshot: ${JSON.stringify(n)}`);
      }
      const addresses: SnapshotNic['addresses'] = [];
      for (const text of n.addresses) {
        if (typeof text !== 'string') throw new RangeError(`EINVAL: NIC ${n.id} address is not a string`);
        // "10.0.0.1/24" or "10.0.0.1": the prefix, when given, lets source selection prefer the remote's subnet.
        if (text.includes('/')) {
          const ap = AddressWithPrefix.parse(text);
          addresses.push({ address: ap.address, subnet: ap.subnet() });
          if (ap.address.isLoopback()) loopback.push({ subnet: ap.subnet(), nic: n.id });
        } else {
          addresses.push({ address: Address.parse(text), subnet: undefined });
        }
        local.set(addresses[addresses.length - 1]!.address.toString(), n.id);
      }
      nics.set(n.id, { id: n.id, mtu: n.mtu, linkHeaderLength: n.linkHeaderLength, gsoMaxSize: n.gsoMaxSize, addresses });
    }
    const routes: SnapshotRoute[] = [];
    for (const r of snapshot.routes) {
      if (typeof r !== 'object' || r === null || typeof r.destination !== 'string' || !isUint(r.nic) ||
          (r.gateway !== undefined && typeof r.gateway !== 'string')) {
        throw new RangeError(`EINVAL: malformed route in route snapshot: ${JSON.stringify(r)}`);
      }
      routes.push({
        destination: Subnet.parse(r.destination),
        nic: r.nic,
        gateway: r.gateway !== undefined ? Address.parse(r.gateway) : undefined,
      });
    }
    this.nics = nics;
    this.routes = routes;
    this.localAddresses = local;
    this.loopbackSubnets = loopback;
  }

  isLocalAddress(addr: Address): boolean {
    return this.ownerOf(addr) !== undefined;
  }

  /** The NIC holding `addr`, or the loopback NIC whose subnet contains it; undefined when it is not ours. */
  private ownerOf(addr: Address): number | undefined {
    const nic = this.localAddresses.get(addr.toString());
    if (nic !== undefined) return nic;
    for (const l of this.loopbackSubnets) if (l.subnet.contains(addr)) return l.nic;
    return undefined;
  }

  /** The MTU of a NIC in the current snapshot. */
  nicMtu(nicId: number): number | undefined {
    return this.nics.get(nicId)?.mtu;
  }

  gsoMaxSize(nicId: number): number {
    return this.nics.get(nicId)?.gsoMaxSize ?? 0;
  }

  /** As Stack.findRoute for unicast TCP: local delivery, then the longest-prefix route. */
  findRoute(nicId: number, local: Address | undefined, remote: Address): TcpRoute | TcpipError {
    const family = remote.family;
    if (local && !local.isUnspecified() && local.family !== family) return TcpipErrors.badLocalAddress;
    const hdr = family === 4 ? 20 : 40;
    if (remote.isMulticast() || remote.isLimitedBroadcast()) return TcpipErrors.networkUnreachable;
    const owner = this.ownerOf(remote);
    if (owner !== undefined && (nicId === 0 || nicId === owner)) {
      const nic = this.nics.get(owner)!;
      if (local && !local.isUnspecified() && !this.isLocalAddress(local)) return TcpipErrors.badLocalAddress;
      const src = local && !local.isUnspecified() ? local : remote;
      return new WorkerRoute(this, family, nic.id, src, remote, this.headroom(nic, hdr), nic.mtu, true);
    }
    let best: SnapshotRoute | undefined;
    for (const r of this.routes) {
      if (nicId !== 0 && r.nic !== nicId) continue;
      if (r.destination.family !== family || !r.destination.contains(remote)) continue;
      if (!best || r.destination.prefixLength > best.destination.prefixLength) best = r;
    }
    if (!best) return TcpipErrors.noRoute;
    const nic = this.nics.get(best.nic);
    if (!nic) return TcpipErrors.networkUnreachable;
    let src = local;
    if (src === undefined || src.isUnspecified()) {
      src = this.sourceFor(nic, family, best.gateway ?? remote);
      if (!src) return TcpipErrors.noRoute;
    } else if (!this.isLocalAddress(src)) {
      return TcpipErrors.badLocalAddress;
    }
    return new WorkerRoute(this, family, nic.id, src, remote, this.headroom(nic, hdr), nic.mtu, false);
  }

  /**
   * Headroom TCP leaves in front of its header: link + IP header, and at least FRAME_HEADER so writeFrame can put the
   * record header right in front of the segment and copy the record into the ring in one piece.
   */
  private headroom(nic: SnapshotNic, networkHeader: number): number {
    return Math.max(FRAME_HEADER, nic.linkHeaderLength + networkHeader);
  }

  /** The NIC's first address of `family`, preferring one whose subnet holds `toward` (RFC 6724 rule 8 in spirit). */
  private sourceFor(nic: SnapshotNic, family: 4 | 6, toward: Address): Address | undefined {
    let first: Address | undefined;
    for (const a of nic.addresses) {
      if (a.address.family !== family) continue;
      if (a.subnet?.contains(toward)) return a.address;
      first ??= a.address;
    }
    return first;
  }

  // ---- path MTU (RFC 1191, RFC 8201)

  pathMtu(remote: Address): number | undefined {
    return this.pmtu.get(remote);
  }

  /** Lowers the path MTU toward `remote` (never raises it, RFC 1191 6.3); values under the family minimum are ignored. */
  updatePathMtu(remote: Address, mtu: number): void {
    if (!(mtu >= (remote.family === 4 ? MIN_MTU_V4 : MIN_MTU_V6))) return;
    this.pmtu.lower(remote, mtu);
  }

  // ---- send path

  /** A packet over the shared send buffer; valid until the next call (writeFrame copies it out before then). */
  sendPacket(size: number, headroom: number): PacketBuffer {
    if (this.sendBuffer.length < headroom + size) this.sendBuffer = new Uint8Array(Math.max(headroom + size, this.sendBuffer.length * 2));
    const buf = this.sendBuffer;
    buf.fill(0, headroom, headroom + Math.min(size, MAX_TCP_HEADER));
    return new PacketBuffer(buf, headroom, headroom + size);
  }

  /** Encodes pkt's TCP bytes as a FRAME record into TO_STACK (wire.ts FRAME_HEADER). */
  writeFrame(route: WorkerRoute, pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | undefined {
    const start = pkt.transportHeader >= 0 ? pkt.transportHeader : pkt.head;
    const len = pkt.tail - start;
    const gso = pkt.gso;
    // DF and over the path MTU: refuse as the IP layer would (TCP then lowers its MSS, RFC 8201 / RFC 1191).
    if (params.dontFragment && (!gso || gso.type === GsoType.NONE) && len > route.maxPayload) {
      this.stats.framesOverMtu++;
      return TcpipErrors.messageTooLong;
    }
    let buf: Uint8Array;
    let at: number;
    if (start >= FRAME_HEADER && !pkt.borrowed) {
      // The packet belongs to us now (route.ts's packet convention): its headroom takes the record header.
      buf = pkt.buf;
      at = start - FRAME_HEADER;
    } else {
      if (this.scratch.length < FRAME_HEADER + len) this.scratch = new Uint8Array(Math.max(FRAME_HEADER + len, 2048));
      buf = this.scratch;
      at = 0;
      buf.set(pkt.buf.subarray(start, pkt.tail), FRAME_HEADER);
    }
    let flags = 0;
    if (params.dontFragment) flags |= FrameFlags.DONT_FRAGMENT;
    if (gso) {
      flags |= FrameFlags.HAS_GSO;
      if (gso.needsChecksum) flags |= FrameFlags.NEEDS_CHECKSUM;
    }
    writeFrameHeader(buf, at, route.family, flags, params.ttl, params.tos, route.nic, route.localAddress, route.remoteAddress, gso ? gso.type : 0, gso ? gso.size : 0);
    const end = at + FRAME_HEADER + len;
    if (end - at > this.toStack.maxFrameSize) {
      this.stats.framesTooLarge++;
      return undefined;
    }
    if (this.toStack.tryWrite(buf, at, end, ToStack.FRAME)) this.stats.framesSent++;
    else this.stats.framesDropped++;
    return undefined;
  }
}

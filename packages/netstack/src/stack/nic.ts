// A NIC: one link endpoint attached to the stack, its assigned addresses, the network endpoints that handle its
// frames (demultiplexed by EtherType), its neighbour caches, and the multicast groups it has joined.

import type { PacketBuffer } from '../buffer/packet_buffer.js';
import { LinkCapability, type LinkDispatcher, type LinkEndpoint } from '../link/link_endpoint.js';
import { Address, AddressWithPrefix, EtherType, type LinkAddress } from './address.js';
import { NeighborCache, type LinkAddressResolver, type NudConfig } from './neighbor_cache.js';
import type { NetworkEndpoint } from './network_protocol.js';
import type { Stack } from './stack.js';
import { recordInternalError } from './internal_error.js';
import { TcpipErrors, type TcpipError } from './tcpip_error.js';

export interface NICOptions {
  name?: string;
  /** Start disabled (frames dropped, no routes through it) until enable(). */
  disabled?: boolean;
  nud?: Partial<NudConfig>;
}

const ETHERNET_BROADCAST: LinkAddress = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** Per-interface counters, as /proc/net/dev reports them. */
export interface NICStats {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  txPackets: number;
  txBytes: number;
  txErrors: number;
}

export class NIC implements LinkDispatcher {
  readonly name: string;
  enabled: boolean;
  readonly stats: NICStats = { rxPackets: 0, rxBytes: 0, rxDropped: 0, txPackets: 0, txBytes: 0, txErrors: 0 };
  private readonly addrs: AddressWithPrefix[] = [];
  private readonly endpoints = new Map<number, NetworkEndpoint>();
  private readonly groups = new Map<string, { group: Address; refs: number }>();
  private neighbors4: NeighborCache | undefined;
  private neighbors6: NeighborCache | undefined;
  /** One-element batch reused for single-packet writes. */
  private readonly single: PacketBuffer[] = [];
  private readonly nudConfig: Partial<NudConfig> | undefined;

  constructor(
    readonly stack: Stack,
    readonly id: number,
    readonly link: LinkEndpoint,
    opts: NICOptions = {},
  ) {
    this.name = opts.name ?? `nic${id}`;
    this.enabled = !opts.disabled;
    this.nudConfig = opts.nud;
  }

  get isLoopback(): boolean {
    return (this.link.capabilities & LinkCapability.LOOPBACK) !== 0;
  }
  get needsResolution(): boolean {
    return (this.link.capabilities & LinkCapability.RESOLUTION_REQUIRED) !== 0;
  }
  get mtu(): number {
    return this.link.mtu;
  }
  get linkAddress(): LinkAddress {
    return this.link.linkAddress;
  }

  /** Called by the stack after construction with the protocols it knows. */
  attachNetworkEndpoint(etherType: number, ep: NetworkEndpoint): void {
    this.endpoints.set(etherType, ep);
  }
  networkEndpoint(etherType: number): NetworkEndpoint | undefined {
    return this.endpoints.get(etherType);
  }

  /** Installs the resolver (ARP or NDP) of `family`; creates the neighbour cache. */
  setLinkAddressResolver(family: 4 | 6, resolver: LinkAddressResolver): void {
    const cache = new NeighborCache(this.stack.clock, resolver, this.stack.stats, this.nudConfig);
    if (family === 4) this.neighbors4 = cache;
    else this.neighbors6 = cache;
  }
  neighbors(family: 4 | 6): NeighborCache | undefined {
    return family === 4 ? this.neighbors4 : this.neighbors6;
  }

  // ---- addresses

  addresses(family?: 4 | 6): readonly AddressWithPrefix[] {
    return family === undefined ? this.addrs : this.addrs.filter((a) => a.address.family === family);
  }

  addAddress(a: AddressWithPrefix): TcpipError | undefined {
    if (this.addrs.some((x) => x.address.equals(a.address))) return TcpipErrors.duplicateAddress;
    this.addrs.push(a);
    const ep = this.endpoints.get(a.address.family === 4 ? EtherType.IPV4 : EtherType.IPV6);
    ep?.addressAdded?.(a.address, a.prefixLength);
    return undefined;
  }

  removeAddress(addr: Address): TcpipError | undefined {
    const i = this.addrs.findIndex((x) => x.address.equals(addr));
    if (i < 0) return TcpipErrors.badLocalAddress;
    this.addrs.splice(i, 1);
    const ep = this.endpoints.get(addr.family === 4 ? EtherType.IPV4 : EtherType.IPV6);
    ep?.addressRemoved?.(addr);
    return undefined;
  }

  hasAddress(addr: Address): boolean {
    for (const a of this.addrs) if (a.address.equals(addr)) return true;
    return false;
  }

  /**
   * The source address to use toward `remote` (RFC 6724 simplified: an address whose subnet contains the remote,
   * then a link-local one for link-local remotes, then the first of the family).
   */
  primaryAddress(family: 4 | 6, remote?: Address): Address | undefined {
    let first: Address | undefined;
    for (const a of this.addrs) {
      if (a.address.family !== family) continue;
      if (remote && a.subnet().contains(remote)) return a.address;
      if (remote && family === 6 && remote.isLinkLocalUnicast() !== a.address.isLinkLocalUnicast()) {
        first ??= undefined;
        continue;
      }
      first ??= a.address;
    }
    if (first) return first;
    for (const a of this.addrs) if (a.address.family === family) return a.address;
    return undefined;
  }

  /** Whether `addr` is a directed broadcast address of one of this NIC's IPv4 subnets. */
  isSubnetBroadcast(addr: Address): boolean {
    if (addr.family !== 4) return false;
    for (const a of this.addrs) {
      if (a.address.family === 4 && a.subnet().broadcast()?.equals(addr)) return true;
    }
    return false;
  }

  // ---- multicast groups (reference counted: several sockets may join the same group)

  joinGroup(group: Address): void {
    const k = group.toString();
    const g = this.groups.get(k);
    if (g) g.refs++;
    else this.groups.set(k, { group, refs: 1 });
  }
  leaveGroup(group: Address): boolean {
    const k = group.toString();
    const g = this.groups.get(k);
    if (!g) return false;
    if (--g.refs === 0) this.groups.delete(k);
    return true;
  }
  isInGroup(group: Address): boolean {
    return this.groups.has(group.toString());
  }

  // ---- receive

  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    const st = this.stack.stats.nic;
    const size = pkt.tail - pkt.head;
    st.rxPackets++;
    st.rxBytes += size;
    this.stats.rxPackets++;
    this.stats.rxBytes += size;
    if (!this.enabled) {
      st.rxDisabled++;
      this.stats.rxDropped++;
      return;
    }
    const ep = this.endpoints.get(protocol);
    if (!ep) {
      st.rxUnknownEtherType++;
      this.stats.rxDropped++;
      return;
    }
    if (pkt.networkHeader < 0) pkt.networkHeader = pkt.head;
    pkt.networkProtocol = protocol;
    // The one receive boundary for every link (fdbased, channel, loopback, the stack's local delivery): an
    // exception from the protocol code drops this packet, is counted and logged, and the link's receive loop goes
    // on with the next frame (stack/internal_error.ts). The packet is not kept here, borrowed or not.
    try {
      ep.handlePacket(pkt);
    } catch (e) {
      this.stats.rxDropped++;
      recordInternalError(this.stack.stats, 'receive', `${this.name} receive (EtherType 0x${protocol.toString(16).padStart(4, '0')})`, e);
    }
  }

  /** Stack.flushBatch contains each hook itself, so one that throws costs no other hook its batch end. */
  deliverBatchEnd(): void {
    this.stack.flushBatch();
  }

  /** A link's deferred transmit (a qdisc flush) threw; its packets were dropped. */
  transmitFailed(err: unknown, dropped: number): void {
    // Counted in both places writeToLink counts a refused write (this NIC's and the stack-wide NIC counters).
    this.stack.stats.nic.txErrors += dropped;
    this.stats.txErrors += dropped;
    recordInternalError(this.stack.stats, 'transmit', `${this.name} deferred transmit`, err);
  }

  // ---- send

  /**
   * Sends a network packet (pkt.head at its network header) toward `nextHop`, resolving its link address first if
   * the link needs it. `onResolutionFailure` runs (once) if the packet is dropped because resolution failed.
   */
  writeNetworkPacket(
    pkt: PacketBuffer,
    etherType: number,
    family: 4 | 6,
    nextHop: Address,
    isBroadcast: boolean,
    onResolutionFailure?: (pkt: PacketBuffer) => void,
  ): TcpipError | undefined {
    pkt.networkProtocol = etherType;
    if (pkt.networkHeader < 0) pkt.networkHeader = pkt.head;
    if (!this.needsResolution || this.isLoopback) return this.writeToLink(pkt);
    if (isBroadcast) {
      setRemoteLink(pkt, ETHERNET_BROADCAST);
      return this.writeToLink(pkt);
    }
    if (nextHop.isMulticast()) {
      setRemoteLink(pkt, multicastLinkAddress(nextHop));
      return this.writeToLink(pkt);
    }
    const cache = this.neighbors(family);
    if (!cache) return TcpipErrors.hostUnreachable;
    const known = cache.lookup(nextHop);
    if (known !== undefined) {
      setRemoteLink(pkt, known);
      return this.writeToLink(pkt);
    }
    const link = cache.resolve(nextHop, (resolved) => {
      // Runs later: from the receive path when the answer arrives, or from the neighbour cache's timer when
      // resolution fails. The timer has no caller to take an exception, and the cache is flushing a list of
      // waiting packets: contain it here (stack/internal_error.ts) so the other waiters still go out.
      try {
        if (resolved === undefined) {
          onResolutionFailure?.(pkt);
          return;
        }
        setRemoteLink(pkt, resolved);
        this.writeToLink(pkt);
      } catch (e) {
        this.stats.txErrors++;
        recordInternalError(this.stack.stats, 'transmit', `${this.name} send after address resolution`, e);
      }
    });
    if (link === undefined) return undefined; // queued (or failed fast through the callback)
    setRemoteLink(pkt, link);
    return this.writeToLink(pkt);
  }

  /** Sends a frame whose link destination the caller chose (ARP, NDP to a known link address). */
  writeWithLinkAddress(pkt: PacketBuffer, etherType: number, remoteLink: LinkAddress): TcpipError | undefined {
    pkt.networkProtocol = etherType;
    if (pkt.networkHeader < 0) pkt.networkHeader = pkt.head;
    setRemoteLink(pkt, remoteLink);
    return this.writeToLink(pkt);
  }

  private writeToLink(pkt: PacketBuffer): TcpipError | undefined {
    const st = this.stack.stats.nic;
    const size = pkt.tail - pkt.head;
    this.single[0] = pkt;
    let n: number;
    try {
      n = this.link.writePackets(this.single);
    } finally {
      this.single.length = 0; // not left holding the packet (it may be borrowed) if the link throws
    }
    if (n !== 1) {
      st.txErrors++;
      this.stats.txErrors++;
      return TcpipErrors.noBufferSpace;
    }
    st.txPackets++;
    st.txBytes += size;
    this.stats.txPackets++;
    this.stats.txBytes += size;
    return undefined;
  }

  close(): void {
    for (const ep of this.endpoints.values()) ep.close();
    this.endpoints.clear();
    this.neighbors4?.clear();
    this.neighbors6?.clear();
    this.link.attach(null);
    this.link.close();
  }
}

function setRemoteLink(pkt: PacketBuffer, link: LinkAddress): void {
  pkt.remoteLinkAddress = link;
}

/** RFC 1112 section 6.4 (01:00:5e + low 23 bits) and RFC 2464 section 7 (33:33 + low 32 bits). */
export function multicastLinkAddress(group: Address): LinkAddress {
  const b = group.bytes;
  if (b.length === 4) return Uint8Array.of(0x01, 0x00, 0x5e, b[1]! & 0x7f, b[2]!, b[3]!);
  return Uint8Array.of(0x33, 0x33, b[12]!, b[13]!, b[14]!, b[15]!);
}

// The neighbour cache of one NIC for one network protocol (ARP for IPv4, NDP for IPv6): maps next-hop IP addresses
// to link addresses with the Neighbor Unreachability Detection state machine of RFC 4861 section 7.3.2 (Linux uses
// the same states for ARP, see arp(7)): INCOMPLETE -> REACHABLE -> STALE -> DELAY -> PROBE -> (REACHABLE | removed).
// Packets to a neighbour being resolved wait in a bounded per-entry queue and are dropped (with a callback, so the
// network layer can send ICMP host unreachable) when resolution fails.

import type { Address, LinkAddress } from './address.js';
import type { Clock, Timer } from './clock.js';
import { recordInternalError } from './internal_error.js';
import type { StackStats } from './stats.js';

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'static' | 'unreachable';

/** RFC 4861 section 10 protocol constants (and arp(7) defaults with the same values). */
export interface NudConfig {
  /** RETRANS_TIMER: time between solicitations. */
  retransmitMs: number;
  /** MAX_MULTICAST_SOLICIT (arp(7) mcast_solicit). */
  maxMulticastProbes: number;
  /** MAX_UNICAST_SOLICIT (arp(7) ucast_solicit). */
  maxUnicastProbes: number;
  /** REACHABLE_TIME (base_reachable_time). */
  reachableMs: number;
  /** DELAY_FIRST_PROBE_TIME. */
  delayFirstProbeMs: number;
  /** Packets queued per unresolved neighbour (arp(7) unres_qlen). */
  maxQueuedPackets: number;
  /** How long a failed resolution is remembered so new packets fail fast instead of re-probing at once. */
  unreachableHoldMs: number;
  /** Entries kept at most (gc_thresh3); the oldest stale entry is evicted. */
  maxEntries: number;
}

export const DEFAULT_NUD_CONFIG: NudConfig = {
  retransmitMs: 1000,
  maxMulticastProbes: 3,
  maxUnicastProbes: 3,
  reachableMs: 30_000,
  delayFirstProbeMs: 5000,
  maxQueuedPackets: 32,
  unreachableHoldMs: 3000,
  maxEntries: 1024,
};

/** Sends solicitations: ARP requests or NDP neighbour solicitations. */
export interface LinkAddressResolver {
  /** `remoteLink` set: unicast probe to that link address; else broadcast/multicast (solicited-node). */
  solicit(target: Address, remoteLink: LinkAddress | undefined): void;
}

/** Called once with the link address, or undefined when resolution failed. */
export type NeighborWaiter = (link: LinkAddress | undefined) => void;

export interface NeighborEntry {
  address: Address;
  link: LinkAddress | undefined;
  state: NeighborState;
  probesSent: number;
  timer: Timer | undefined;
  waiters: NeighborWaiter[];
  updatedMs: number;
}

export class NeighborCache {
  private readonly entries = new Map<string, NeighborEntry>();
  readonly config: NudConfig;

  constructor(
    private readonly clock: Clock,
    private readonly resolver: LinkAddressResolver,
    private readonly stats: StackStats,
    config?: Partial<NudConfig>,
  ) {
    this.config = { ...DEFAULT_NUD_CONFIG, ...config };
  }

  /**
   * The link address for `addr` if usable now, without queueing anything (the per-packet fast path: no closure
   * needs to exist unless this returns undefined). Using a STALE entry moves it to DELAY (7.3.3).
   */
  lookup(addr: Address): LinkAddress | undefined {
    const e = this.entries.get(addr.toString());
    return e === undefined ? undefined : this.usableLink(e);
  }

  /** The entry's link address if it may be used now; using a STALE entry moves it to DELAY (RFC 4861 7.3.3). */
  private usableLink(e: NeighborEntry): LinkAddress | undefined {
    switch (e.state) {
      case 'reachable':
      case 'delay':
      case 'probe':
      case 'static':
        return e.link;
      case 'stale':
        this.enter(e, 'delay');
        return e.link;
      default:
        return undefined;
    }
  }

  /**
   * The link address for `addr` if usable now (REACHABLE/STALE/DELAY/PROBE/static); otherwise starts or joins
   * resolution and calls `waiter` later, returning undefined. Using a STALE entry moves it to DELAY (7.3.3).
   */
  resolve(addr: Address, waiter: NeighborWaiter): LinkAddress | undefined {
    const key = addr.toString();
    let e = this.entries.get(key);
    if (e) {
      switch (e.state) {
        case 'incomplete':
          if (e.waiters.length >= this.config.maxQueuedPackets) {
            // arp(7) unres_qlen: the oldest queued packet is dropped to make room.
            const old = e.waiters.shift()!;
            this.stats.neighbor.queuedPacketsDropped++;
            old(undefined);
          }
          e.waiters.push(waiter);
          return undefined;
        case 'unreachable':
          this.stats.neighbor.unreachableEntryLookups++;
          waiter(undefined);
          return undefined;
        default:
          return this.usableLink(e);
      }
    }
    if (!this.evictIfFull()) {
      // Full of entries being resolved (gc_thresh3 in Linux, where neigh_create then fails): the packet is dropped
      // rather than the table growing. Traffic that makes us resolve many spoofed on-link sources (echo requests)
      // would otherwise create entries, queued replies and ARP/NDP broadcasts without bound.
      this.stats.neighbor.tableOverflows++;
      waiter(undefined);
      return undefined;
    }
    e = { address: addr, link: undefined, state: 'incomplete', probesSent: 0, timer: undefined, waiters: [waiter], updatedMs: this.clock.nowMs() };
    this.entries.set(key, e);
    this.stats.neighbor.resolutionsStarted++;
    this.enter(e, 'incomplete');
    return undefined;
  }

  /** The entry for `addr`, if any (for inspection and tests). */
  get(addr: Address): Readonly<NeighborEntry> | undefined {
    return this.entries.get(addr.toString());
  }

  all(): Readonly<NeighborEntry>[] {
    return [...this.entries.values()];
  }

  /** A permanent entry (ip neigh add ... nud permanent). */
  addStatic(addr: Address, link: LinkAddress): void {
    const old = this.entries.get(addr.toString());
    if (old) this.remove(addr);
    const e: NeighborEntry = { address: addr, link: Uint8Array.from(link), state: 'static', probesSent: 0, timer: undefined, waiters: [], updatedMs: this.clock.nowMs() };
    this.entries.set(addr.toString(), e);
    if (old) for (const w of old.waiters) w(e.link);
  }

  remove(addr: Address): void {
    const e = this.entries.get(addr.toString());
    if (!e) return;
    e.timer?.stop();
    this.entries.delete(addr.toString());
    const ws = e.waiters;
    e.waiters = [];
    for (const w of ws) w(undefined);
  }

  /** Forgets everything (NIC removed or stack closed); queued packets are dropped without error reports. */
  clear(): void {
    for (const e of this.entries.values()) {
      e.timer?.stop();
      e.waiters = [];
    }
    this.entries.clear();
  }

  /**
   * A solicited confirmation arrived (ARP reply; NA with S=1): the neighbour is REACHABLE (7.2.5).
   * `override` false (NA with O=0) with a different link address only marks an existing entry STALE.
   */
  handleConfirmation(addr: Address, link: LinkAddress, solicited: boolean, override = true): void {
    const e = this.entries.get(addr.toString());
    if (!e) {
      // RFC 4861 7.2.5: an unsolicited advertisement for an unknown neighbour creates no entry. For ARP a reply we
      // did not ask for is also ignored (gratuitous ARP is handled through handleProbe).
      return;
    }
    if (e.state === 'static') return;
    const changed = e.link === undefined || !sameLink(e.link, link);
    if (e.state === 'incomplete' || e.state === 'unreachable') {
      e.link = Uint8Array.from(link);
      this.enter(e, solicited ? 'reachable' : 'stale');
      this.flush(e);
      return;
    }
    if (!override && changed) {
      if (e.state === 'reachable') this.enter(e, 'stale');
      return;
    }
    if (changed) e.link = Uint8Array.from(link);
    if (solicited) this.enter(e, 'reachable');
    else if (changed) this.enter(e, 'stale');
  }

  /**
   * A solicitation or ARP request from `addr` showed its link address (7.2.3, RFC 826 "merge"): create or update
   * the entry as STALE so the reply can be sent without resolving.
   */
  handleProbe(addr: Address, link: LinkAddress): void {
    const key = addr.toString();
    const e = this.entries.get(key);
    if (!e) {
      if (!this.evictIfFull()) {
        this.stats.neighbor.tableOverflows++;
        return;
      }
      const n: NeighborEntry = { address: addr, link: Uint8Array.from(link), state: 'stale', probesSent: 0, timer: undefined, waiters: [], updatedMs: this.clock.nowMs() };
      this.entries.set(key, n);
      return;
    }
    if (e.state === 'static') return;
    if (e.state === 'incomplete' || e.state === 'unreachable') {
      e.link = Uint8Array.from(link);
      this.enter(e, 'stale');
      this.flush(e);
      return;
    }
    if (!sameLink(e.link!, link)) {
      e.link = Uint8Array.from(link);
      this.enter(e, 'stale');
    }
  }

  /** Upper-layer reachability confirmation (a TCP ACK for new data, RFC 4861 7.3.1). */
  confirmReachable(addr: Address): void {
    const e = this.entries.get(addr.toString());
    if (e && e.link && e.state !== 'static' && e.state !== 'incomplete' && e.state !== 'unreachable') {
      this.enter(e, 'reachable');
    }
  }

  private enter(e: NeighborEntry, state: NeighborState): void {
    e.timer?.stop();
    e.timer = undefined;
    e.state = state;
    e.updatedMs = this.clock.nowMs();
    switch (state) {
      case 'incomplete':
        e.probesSent = 1;
        e.timer = this.clock.afterFunc(this.config.retransmitMs, () => this.onIncompleteTimer(e));
        this.solicit(e.address, undefined);
        break;
      case 'reachable':
        e.probesSent = 0;
        e.timer = this.clock.afterFunc(this.config.reachableMs, () => {
          e.timer = undefined;
          if (e.state === 'reachable') this.enter(e, 'stale');
        });
        break;
      case 'delay':
        e.timer = this.clock.afterFunc(this.config.delayFirstProbeMs, () => {
          e.timer = undefined;
          if (e.state === 'delay') this.enter(e, 'probe');
        });
        break;
      case 'probe':
        e.probesSent = 1;
        e.timer = this.clock.afterFunc(this.config.retransmitMs, () => this.onProbeTimer(e));
        this.solicit(e.address, e.link);
        break;
      case 'unreachable':
        e.timer = this.clock.afterFunc(this.config.unreachableHoldMs, () => {
          e.timer = undefined;
          if (e.state === 'unreachable' && this.entries.get(e.address.toString()) === e) this.entries.delete(e.address.toString());
        });
        break;
      case 'stale':
      case 'static':
        break;
    }
  }

  private onIncompleteTimer(e: NeighborEntry): void {
    e.timer = undefined;
    if (e.state !== 'incomplete') return;
    if (e.probesSent >= this.config.maxMulticastProbes) {
      this.stats.neighbor.resolutionsFailed++;
      this.enter(e, 'unreachable');
      this.flush(e);
      return;
    }
    e.probesSent++;
    e.timer = this.clock.afterFunc(this.config.retransmitMs, () => this.onIncompleteTimer(e));
    this.solicit(e.address, undefined);
  }

  private onProbeTimer(e: NeighborEntry): void {
    e.timer = undefined;
    if (e.state !== 'probe') return;
    if (e.probesSent >= this.config.maxUnicastProbes) {
      // 7.3.3: the neighbour is unreachable; the entry is deleted and later traffic resolves afresh.
      this.stats.neighbor.resolutionsFailed++;
      this.entries.delete(e.address.toString());
      return;
    }
    e.probesSent++;
    e.timer = this.clock.afterFunc(this.config.retransmitMs, () => this.onProbeTimer(e));
    this.solicit(e.address, e.link);
  }

  /**
   * Sends one solicitation, after the caller armed the retry timer: a solicitation that fails for any reason only
   * costs that one probe, and the state machine still reaches REACHABLE or gives up on time. An exception (a bug in
   * ARP/NDP or below) is contained here (stack/internal_error.ts) because most solicitations are sent from a timer,
   * where it would have no caller but the process; left to escape it also left the entry INCOMPLETE forever, with
   * its queue of waiting packets never released.
   */
  private solicit(target: Address, remoteLink: LinkAddress | undefined): void {
    try {
      this.resolver.solicit(target, remoteLink);
    } catch (e) {
      recordInternalError(this.stats, 'transmit', 'neighbour solicitation', e);
    }
  }

  private flush(e: NeighborEntry): void {
    const ws = e.waiters;
    if (ws.length === 0) return;
    e.waiters = [];
    const link = e.state === 'unreachable' ? undefined : e.link;
    for (const w of ws) w(link);
  }

  /** Makes room for one more entry if the table is full; false if every entry is static or still resolving. */
  private evictIfFull(): boolean {
    if (this.entries.size < this.config.maxEntries) return true;
    let victim: NeighborEntry | undefined;
    for (const e of this.entries.values()) {
      if (e.state === 'static' || e.state === 'incomplete') continue;
      if (!victim || e.updatedMs < victim.updatedMs) victim = e;
    }
    if (!victim) return false;
    this.remove(victim.address);
    return true;
  }
}

function sameLink(a: LinkAddress, b: LinkAddress): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// The route table: entries of (destination subnet, gateway, NIC, metric), looked up by longest prefix match, then
// lowest metric, then insertion order (like Linux's FIB for one table, see ip-route(8)).

import type { Address, Subnet } from './address.js';

export interface RouteEntry {
  destination: Subnet;
  /** Next hop; undefined for an on-link (directly connected) route. */
  gateway?: Address;
  nic: number;
  /** Lower wins among equally long prefixes. */
  metric?: number;
  /** Preferred source address (ip route ... src ADDR). */
  source?: Address;
  /** Route MTU (ip route ... mtu N); 0/undefined: the NIC's MTU. */
  mtu?: number;
}

export class RouteTable {
  private entries: RouteEntry[] = [];

  add(entry: RouteEntry): void {
    this.entries.push(entry);
  }

  /** Removes entries matching the predicate; returns how many. */
  remove(match: (e: RouteEntry) => boolean): number {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => !match(e));
    return before - this.entries.length;
  }

  all(): readonly RouteEntry[] {
    return this.entries;
  }

  /**
   * The best entry for `dst`, optionally restricted to one NIC (SO_BINDTODEVICE, scoped link-local addresses) and
   * to NICs for which `usable(nic)` holds (enabled, has an address of the family).
   */
  lookup(dst: Address, nic = 0, usable?: (nic: number) => boolean): RouteEntry | undefined {
    let best: RouteEntry | undefined;
    for (const e of this.entries) {
      if (nic !== 0 && e.nic !== nic) continue;
      if (!e.destination.contains(dst)) continue;
      if (usable && !usable(e.nic)) continue;
      if (
        !best ||
        e.destination.prefixLength > best.destination.prefixLength ||
        (e.destination.prefixLength === best.destination.prefixLength && (e.metric ?? 0) < (best.metric ?? 0))
      ) {
        best = e;
      }
    }
    return best;
  }
}

// Port reservations per transport protocol: bind(2) conflicts and ephemeral port allocation.
//
// Two reservations conflict when they share the transport protocol and port, their families overlap (a dual-stack
// IPv6 socket covers IPv4 too), their addresses overlap (equal, or either unspecified), their NICs overlap (equal or
// either 0), and their flags do not allow sharing: both SO_REUSEPORT, or both SO_REUSEADDR (socket(7)). For TCP,
// Linux also refuses SO_REUSEADDR sharing when one side listens; TCP passes `listening` so that case conflicts.

import type { Address } from './address.js';
import { TcpipErrors, type TcpipError } from './tcpip_error.js';

export interface PortReservation {
  transport: number;
  /** Network families covered: [4], [6], or [4, 6] for a dual-stack IPv6 socket. */
  families: readonly (4 | 6)[];
  /** undefined: the unspecified address (INADDR_ANY / in6addr_any). */
  address: Address | undefined;
  port: number;
  nic: number;
  reuseAddress: boolean;
  reusePort: boolean;
  listening?: boolean;
  /** Identity of the reserving endpoint (for release and for reuseport grouping). */
  owner: object;
}

/** Linux's default net.ipv4.ip_local_port_range. */
export const EPHEMERAL_PORT_FIRST = 32768;
export const EPHEMERAL_PORT_LAST = 60999;

export class PortManager {
  private readonly byKey = new Map<number, PortReservation[]>(); // key: transport << 16 | port
  private hint = Math.floor(Math.random() * (EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1));

  private static key(transport: number, port: number): number {
    return transport * 65536 + port;
  }

  conflicts(r: Omit<PortReservation, 'owner'> & { owner?: object }): boolean {
    const list = this.byKey.get(PortManager.key(r.transport, r.port));
    if (!list) return false;
    for (const o of list) {
      if (o.owner === r.owner) continue;
      if (!o.families.some((f) => r.families.includes(f))) continue;
      if (o.address && r.address && !o.address.equals(r.address)) continue;
      if (o.nic !== 0 && r.nic !== 0 && o.nic !== r.nic) continue;
      if (o.reusePort && r.reusePort) continue;
      if (o.reuseAddress && r.reuseAddress && !o.listening && !r.listening) continue;
      return true;
    }
    return false;
  }

  /**
   * Reserves `r.port`, or an ephemeral port when it is 0 (tried in order from a random start, like Linux's
   * inet_csk_find_open_port). Returns the reserved port or `portInUse`.
   */
  reserve(r: PortReservation): number | TcpipError {
    if (r.port !== 0) {
      if (this.conflicts(r)) return TcpipErrors.portInUse;
      this.insert(r);
      return r.port;
    }
    const span = EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1;
    for (let i = 0; i < span; i++) {
      const port = EPHEMERAL_PORT_FIRST + ((this.hint + i) % span);
      const cand = { ...r, port };
      if (!this.conflicts(cand)) {
        this.hint = (this.hint + i + 1) % span;
        this.insert(cand);
        return port;
      }
    }
    return TcpipErrors.portInUse;
  }

  private insert(r: PortReservation): void {
    const k = PortManager.key(r.transport, r.port);
    let list = this.byKey.get(k);
    if (!list) this.byKey.set(k, (list = []));
    list.push(r);
  }

  /** Updates the listening flag of an existing reservation (TCP listen()). */
  setListening(transport: number, port: number, owner: object, listening: boolean): TcpipError | undefined {
    const list = this.byKey.get(PortManager.key(transport, port));
    const mine = list?.find((o) => o.owner === owner);
    if (!mine) return TcpipErrors.invalidEndpointState;
    const was = mine.listening;
    mine.listening = listening;
    if (listening && this.conflicts(mine)) {
      mine.listening = was;
      return TcpipErrors.portInUse;
    }
    return undefined;
  }

  release(transport: number, port: number, owner: object): void {
    const k = PortManager.key(transport, port);
    const list = this.byKey.get(k);
    if (!list) return;
    const rest = list.filter((o) => o.owner !== owner);
    if (rest.length === 0) this.byKey.delete(k);
    else this.byKey.set(k, rest);
  }

  isReserved(transport: number, port: number): boolean {
    return this.byKey.has(PortManager.key(transport, port));
  }
}

// SYN cookies: when the SYN queue is full the listener answers with a SYN-ACK whose ISN encodes what it needs to
// build the connection later, keeping no state (RFC 4987 section 3.6). Our encoding (our own design):
//   bits 31..27  a 64-second time counter (mod 32)
//   bits 26..24  an index into MSS_TABLE
//   bits 23..0   a keyed hash of (4-tuple, counter, mss index)
// The peer's ACK carries ISN+1; a cookie is accepted for two counter periods (up to ~128 s old).
// When the SYN carried timestamps, window scale and SACK-permitted travel in our SYN-ACK timestamp instead
// (protocol.ts); without timestamps a cookie connection has only the encoded MSS.

import { createHmac, randomBytes } from 'node:crypto';
import type { Address } from '../../stack/address.js';

const MSS_TABLE = [536, 1220, 1360, 1400, 1440, 1460, 4312, 8960] as const;
const PERIOD_MS = 64_000;
/** How long after it was made a cookie can still be accepted: its own period and the next (see check()). */
export const SYN_COOKIE_LIFETIME_MS = 2 * PERIOD_MS;

export class SynCookies {
  private readonly secret = randomBytes(32);

  private hash(local: Address, localPort: number, remote: Address, remotePort: number, counter: number, mssIdx: number): number {
    const h = createHmac('sha256', this.secret);
    h.update(local.bytes);
    h.update(remote.bytes);
    const b = Buffer.allocUnsafe(6);
    b.writeUInt16BE(localPort, 0);
    b.writeUInt16BE(remotePort, 2);
    b[4] = counter & 0x1f;
    b[5] = mssIdx;
    h.update(b);
    return h.digest().readUInt32BE(0) & 0xffffff;
  }

  /** The ISN for a SYN-ACK answering a SYN with `peerMss` (the largest table entry not above it is encoded). */
  make(nowMs: number, local: Address, localPort: number, remote: Address, remotePort: number, peerMss: number): number {
    let idx = 0;
    for (let i = 0; i < MSS_TABLE.length; i++) if (MSS_TABLE[i]! <= peerMss) idx = i;
    const counter = Math.floor(nowMs / PERIOD_MS) & 0x1f;
    return ((counter << 27) | (idx << 24) | this.hash(local, localPort, remote, remotePort, counter, idx)) >>> 0;
  }

  /** Checks the cookie echoed as ACK-1; returns the encoded MSS, or -1 if the cookie is invalid or too old. */
  check(nowMs: number, local: Address, localPort: number, remote: Address, remotePort: number, cookie: number): number {
    const counter = cookie >>> 27;
    const idx = (cookie >>> 24) & 0x7;
    const now = Math.floor(nowMs / PERIOD_MS) & 0x1f;
    const age = (now - counter + 32) % 32;
    if (age > 1) return -1;
    if (this.hash(local, localPort, remote, remotePort, counter, idx) !== (cookie & 0xffffff)) return -1;
    return MSS_TABLE[idx]!;
  }
}

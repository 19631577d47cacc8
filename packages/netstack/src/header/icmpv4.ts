// ICMP for IPv4 (RFC 792): echo, destination unreachable, time exceeded, parameter problem, and the checksum.
import { HeaderView } from './view.js';
import { foldChecksum, sumBytes } from './checksum.js';

/** Fixed part of every ICMP message: type, code, checksum, and 4 bytes whose meaning depends on the type. */
export const ICMPV4_HEADER_SIZE = 8;

export const ICMPV4_ECHO_REPLY = 0;
export const ICMPV4_DEST_UNREACHABLE = 3;
export const ICMPV4_SOURCE_QUENCH = 4;
export const ICMPV4_REDIRECT = 5;
export const ICMPV4_ECHO = 8;
export const ICMPV4_TIME_EXCEEDED = 11;
export const ICMPV4_PARAM_PROBLEM = 12;
export const ICMPV4_TIMESTAMP = 13;
export const ICMPV4_TIMESTAMP_REPLY = 14;

/** Destination unreachable codes (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1). */
export const ICMPV4_NET_UNREACHABLE = 0;
export const ICMPV4_HOST_UNREACHABLE = 1;
export const ICMPV4_PROTO_UNREACHABLE = 2;
export const ICMPV4_PORT_UNREACHABLE = 3;
export const ICMPV4_FRAG_NEEDED = 4;
export const ICMPV4_NET_PROHIBITED = 9;
export const ICMPV4_HOST_PROHIBITED = 10;
export const ICMPV4_ADMIN_PROHIBITED = 13;
/** Time exceeded codes. */
export const ICMPV4_TTL_EXCEEDED = 0;
export const ICMPV4_REASSEMBLY_TIMEOUT = 1;

/** True for the types that are errors (they quote the offending datagram and must never be answered: RFC 1122 3.2.2). */
export function isICMPv4Error(type: number): boolean {
  return type === ICMPV4_DEST_UNREACHABLE || type === ICMPV4_SOURCE_QUENCH || type === ICMPV4_REDIRECT
    || type === ICMPV4_TIME_EXCEEDED || type === ICMPV4_PARAM_PROBLEM;
}

export class ICMPv4Header extends HeaderView {
  /** Valid if the 8-byte fixed part is present (the message is the rest of the IP payload). */
  isValid(): boolean { return this.length >= ICMPV4_HEADER_SIZE; }

  type(): number { return this.bytes[this.offset]; }
  code(): number { return this.bytes[this.offset + 1]; }
  checksum(): number { return this.view.getUint16(this.offset + 2); }
  /** Echo identifier and sequence (RFC 792 "Echo or Echo Reply Message"). */
  ident(): number { return this.view.getUint16(this.offset + 4); }
  sequence(): number { return this.view.getUint16(this.offset + 6); }
  /** Next-hop MTU of a fragmentation-needed message (RFC 1191 section 4). */
  mtu(): number { return this.view.getUint16(this.offset + 6); }
  /** Parameter problem pointer (RFC 792). */
  pointer(): number { return this.bytes[this.offset + 4]; }
  /** The 4 type-specific bytes as one number. */
  restOfHeader(): number { return this.view.getUint32(this.offset + 4); }
  /** Everything after the fixed part (echo data, or the quoted datagram of an error). */
  payload(): Uint8Array { return this.slice(ICMPV4_HEADER_SIZE); }

  setType(v: number): void { this.bytes[this.offset] = v; }
  setCode(v: number): void { this.bytes[this.offset + 1] = v; }
  setChecksum(v: number): void { this.view.setUint16(this.offset + 2, v); }
  setIdent(v: number): void { this.view.setUint16(this.offset + 4, v); }
  setSequence(v: number): void { this.view.setUint16(this.offset + 6, v); }
  setMtu(v: number): void { this.view.setUint16(this.offset + 4, 0); this.view.setUint16(this.offset + 6, v); }
  setPointer(v: number): void { this.view.setUint32(this.offset + 4, (v & 0xff) * 0x1000000); }
  setRestOfHeader(v: number): void { this.view.setUint32(this.offset + 4, v >>> 0); }

  /** Checksum over the whole message (the view's length), computed as if the checksum field were zero. */
  computeChecksum(): number {
    return ~foldChecksum(sumBytes(this.bytes, this.offset, this.length) - this.checksum()) & 0xffff;
  }
  updateChecksum(): void { this.setChecksum(this.computeChecksum()); }
  isChecksumValid(): boolean { return foldChecksum(sumBytes(this.bytes, this.offset, this.length)) === 0xffff; }

  /** The builder: type, code, rest of header; the caller fills the payload and then calls updateChecksum(). */
  encode(f: { type: number; code: number; restOfHeader?: number }): void {
    this.setType(f.type);
    this.setCode(f.code);
    this.setChecksum(0);
    this.setRestOfHeader(f.restOfHeader ?? 0);
  }
}

// ICMPv6 (RFC 4443): echo and error messages, checksummed with the IPv6 pseudo-header (RFC 4443 2.3), and the
// Neighbor Discovery messages of RFC 4861 section 4 (RS, RA, NS, NA, Redirect) with their options (section 4.6).
import { HeaderView } from './view.js';
import { foldChecksum, sumBytes } from './checksum.js';

export const ICMPV6_HEADER_SIZE = 8;

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAM_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_MLD_QUERY = 130;
export const ICMPV6_MLD_REPORT = 131;
export const ICMPV6_MLD_DONE = 132;
export const ICMPV6_ROUTER_SOLICIT = 133;
export const ICMPV6_ROUTER_ADVERT = 134;
export const ICMPV6_NEIGHBOR_SOLICIT = 135;
export const ICMPV6_NEIGHBOR_ADVERT = 136;
export const ICMPV6_REDIRECT = 137;
export const ICMPV6_MLDV2_REPORT = 143;

/** Destination unreachable codes (RFC 4443 3.1). */
export const ICMPV6_NO_ROUTE = 0;
export const ICMPV6_ADMIN_PROHIBITED = 1;
export const ICMPV6_BEYOND_SCOPE = 2;
export const ICMPV6_ADDRESS_UNREACHABLE = 3;
export const ICMPV6_PORT_UNREACHABLE = 4;
/** Parameter problem codes (RFC 4443 3.4). */
export const ICMPV6_ERRONEOUS_HEADER = 0;
export const ICMPV6_UNKNOWN_NEXT_HEADER = 1;
export const ICMPV6_UNKNOWN_OPTION = 2;

/** Error messages have types 0-127 (RFC 4443 2.1) and are never answered with errors. */
export function isICMPv6Error(type: number): boolean { return type < 128; }

/** Where the ND message body starts (after type, code, checksum) and the fixed size of each message. */
export const NDP_RS_SIZE = 8;
export const NDP_RA_SIZE = 16;
export const NDP_NS_SIZE = 24;
export const NDP_NA_SIZE = 24;
export const NDP_REDIRECT_SIZE = 40;
/** MLDv1 messages (query, report, done) are 24 bytes (RFC 2710 section 3). */
export const MLD_V1_SIZE = 24;

/** Fixed size of an ND message of `type` (where its options begin), or -1 if not an ND message. */
export function ndpFixedSize(type: number): number {
  switch (type) {
    case ICMPV6_ROUTER_SOLICIT: return NDP_RS_SIZE;
    case ICMPV6_ROUTER_ADVERT: return NDP_RA_SIZE;
    case ICMPV6_NEIGHBOR_SOLICIT: return NDP_NS_SIZE;
    case ICMPV6_NEIGHBOR_ADVERT: return NDP_NA_SIZE;
    case ICMPV6_REDIRECT: return NDP_REDIRECT_SIZE;
    default: return -1;
  }
}

/** NA flags (RFC 4861 4.4). */
export const NDP_NA_ROUTER = 0x80;
export const NDP_NA_SOLICITED = 0x40;
export const NDP_NA_OVERRIDE = 0x20;
/** RA flags (RFC 4861 4.2). */
export const NDP_RA_MANAGED = 0x80;
export const NDP_RA_OTHER = 0x40;

/** ND option types (RFC 4861 4.6, RFC 8106 for RDNSS). */
export const NDP_OPT_SOURCE_LLA = 1;
export const NDP_OPT_TARGET_LLA = 2;
export const NDP_OPT_PREFIX_INFO = 3;
export const NDP_OPT_REDIRECTED_HEADER = 4;
export const NDP_OPT_MTU = 5;
export const NDP_OPT_RDNSS = 25;
/** Prefix information flags (RFC 4861 4.6.2). */
export const NDP_PREFIX_ON_LINK = 0x80;
export const NDP_PREFIX_AUTONOMOUS = 0x40;

export class ICMPv6Header extends HeaderView {
  /**
   * Valid if the 8-byte fixed part is present, MLD messages have their 24 bytes, and, for ND messages, the fixed body too and every option has a
   * non-zero length that fits (RFC 4861 sections 6.1.1, 6.1.2, 7.1.1, 7.1.2 say such messages are discarded).
   */
  isValid(): boolean {
    if (this.length < ICMPV6_HEADER_SIZE) return false;
    const type = this.type();
    if ((type === ICMPV6_MLD_QUERY || type === ICMPV6_MLD_REPORT || type === ICMPV6_MLD_DONE) && this.length < MLD_V1_SIZE) return false;
    const fixed = ndpFixedSize(type);
    if (fixed < 0) return true;
    if (this.length < fixed) return false;
    return validateNdpOptions(this.bytes, this.offset + fixed, this.length - fixed);
  }

  type(): number { return this.bytes[this.offset]; }
  code(): number { return this.bytes[this.offset + 1]; }
  checksum(): number { return this.view.getUint16(this.offset + 2); }
  ident(): number { return this.view.getUint16(this.offset + 4); }
  sequence(): number { return this.view.getUint16(this.offset + 6); }
  /** Packet Too Big MTU (RFC 4443 3.2) and Parameter Problem pointer (3.4): the 32-bit word at 4. */
  mtu(): number { return this.view.getUint32(this.offset + 4); }
  pointer(): number { return this.view.getUint32(this.offset + 4); }
  restOfHeader(): number { return this.view.getUint32(this.offset + 4); }
  payload(): Uint8Array { return this.slice(ICMPV6_HEADER_SIZE); }

  setType(v: number): void { this.bytes[this.offset] = v; }
  setCode(v: number): void { this.bytes[this.offset + 1] = v; }
  setChecksum(v: number): void { this.view.setUint16(this.offset + 2, v); }
  setIdent(v: number): void { this.view.setUint16(this.offset + 4, v); }
  setSequence(v: number): void { this.view.setUint16(this.offset + 6, v); }
  setRestOfHeader(v: number): void { this.view.setUint32(this.offset + 4, v >>> 0); }

  // --- Neighbor Discovery fields (valid only when type() says which message this is) ---

  /** NS/NA/Redirect target address (RFC 4861 4.3, 4.4, 4.5). */
  targetAddress(): Uint8Array { return this.slice(8, 24); }
  setTargetAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 16), this.offset + 8); }
  /** Redirect destination address (RFC 4861 4.5). */
  redirectDestination(): Uint8Array { return this.slice(24, 40); }
  /** NA flags byte (NDP_NA_*). */
  naFlags(): number { return this.bytes[this.offset + 4]; }
  setNaFlags(v: number): void { this.view.setUint32(this.offset + 4, (v & 0xe0) * 0x1000000); }
  /** RA fields (RFC 4861 4.2). */
  raCurHopLimit(): number { return this.bytes[this.offset + 4]; }
  raFlags(): number { return this.bytes[this.offset + 5]; }
  raRouterLifetime(): number { return this.view.getUint16(this.offset + 6); }
  raReachableTime(): number { return this.view.getUint32(this.offset + 8); }
  raRetransTimer(): number { return this.view.getUint32(this.offset + 12); }
  setRa(f: { curHopLimit: number; flags: number; routerLifetime: number; reachableTime: number; retransTimer: number }): void {
    const o = this.offset;
    this.bytes[o + 4] = f.curHopLimit;
    this.bytes[o + 5] = f.flags;
    this.view.setUint16(o + 6, f.routerLifetime);
    this.view.setUint32(o + 8, f.reachableTime >>> 0);
    this.view.setUint32(o + 12, f.retransTimer >>> 0);
  }
  /** MLDv1 (RFC 2710 section 3) and MLDv2 query (RFC 3810 5.1) fields: maximum response code and group. */
  mldMaxResponse(): number { return this.view.getUint16(this.offset + 4); }
  mldMulticastAddress(): Uint8Array { return this.slice(8, 24); }
  setMld(maxResponse: number, group: Uint8Array): void {
    this.view.setUint16(this.offset + 4, maxResponse);
    this.view.setUint16(this.offset + 6, 0);
    this.bytes.set(group.subarray(0, 16), this.offset + 8);
  }

  /** Absolute offset and length of the ND options area (empty for non-ND types). */
  ndpOptionsOffset(): number {
    const fixed = ndpFixedSize(this.type());
    return this.offset + (fixed < 0 ? this.length : Math.min(fixed, this.length));
  }
  ndpOptions(): Uint8Array {
    const fixed = ndpFixedSize(this.type());
    return fixed < 0 ? this.slice(this.length) : this.slice(Math.min(fixed, this.length));
  }

  /** Checksum over the message with the IPv6 pseudo-header sum `pseudo` (IPv6Header.pseudoHeaderSum(58, length)). */
  computeChecksum(pseudo: number): number {
    return ~foldChecksum(sumBytes(this.bytes, this.offset, this.length, pseudo) - this.checksum()) & 0xffff;
  }
  updateChecksum(pseudo: number): void { this.setChecksum(this.computeChecksum(pseudo)); }
  isChecksumValid(pseudo: number): boolean {
    return foldChecksum(sumBytes(this.bytes, this.offset, this.length, pseudo)) === 0xffff;
  }

  /** The builder for the common part; ND bodies via setTargetAddress/setNaFlags/setRa and writeNdpOption. */
  encode(f: { type: number; code: number; restOfHeader?: number }): void {
    this.setType(f.type);
    this.setCode(f.code);
    this.setChecksum(0);
    this.setRestOfHeader(f.restOfHeader ?? 0);
  }
}

/** Checks an ND option area: every option has length >= 1 (in 8-byte units) and fits (RFC 4861 4.6). */
export function validateNdpOptions(bytes: Uint8Array, offset: number, length: number): boolean {
  const end = offset + length;
  if (end > bytes.length) return false;
  let i = offset;
  while (i < end) {
    if (i + 2 > end) return false;
    const len = bytes[i + 1] * 8;
    if (len === 0 || i + len > end) return false;
    i += len;
  }
  return true;
}

/**
 * Calls `visit(type, offset, length)` for each option of a validated ND options area; offset is the option's type
 * byte (absolute) and length its full size in bytes. A visitor returning false stops the walk.
 */
export function forEachNdpOption(
  bytes: Uint8Array, offset: number, length: number,
  visit: (type: number, optionOffset: number, optionLength: number) => boolean | void,
): void {
  const end = Math.min(offset + length, bytes.length);
  let i = offset;
  while (i + 2 <= end) {
    const len = bytes[i + 1] * 8;
    if (len === 0 || i + len > end) return;
    if (visit(bytes[i], i, len) === false) return;
    i += len;
  }
}

/** The link-layer address in a source/target LLA option that starts at `optionOffset` (6 bytes for Ethernet). */
export function ndpLinkLayerAddress(bytes: Uint8Array, optionOffset: number): Uint8Array {
  return bytes.subarray(optionOffset + 2, optionOffset + 8);
}

/** Writes a source/target link-layer address option for a 6-byte MAC; returns its size (8). */
export function writeNdpLinkLayerOption(bytes: Uint8Array, offset: number, type: number, mac: Uint8Array): number {
  bytes[offset] = type;
  bytes[offset + 1] = 1;
  bytes.set(mac.subarray(0, 6), offset + 2);
  return 8;
}

/** Prefix Information option (RFC 4861 4.6.2), 32 bytes, read in place. */
export class NdpPrefixInfo extends HeaderView {
  isValid(): boolean { return this.length >= 32 && this.bytes[this.offset + 1] === 4; }
  prefixLength(): number { return this.bytes[this.offset + 2]; }
  flags(): number { return this.bytes[this.offset + 3]; }
  onLink(): boolean { return (this.flags() & NDP_PREFIX_ON_LINK) !== 0; }
  autonomous(): boolean { return (this.flags() & NDP_PREFIX_AUTONOMOUS) !== 0; }
  validLifetime(): number { return this.view.getUint32(this.offset + 4); }
  preferredLifetime(): number { return this.view.getUint32(this.offset + 8); }
  prefix(): Uint8Array { return this.slice(16, 32); }
  encode(f: { prefixLength: number; flags: number; validLifetime: number; preferredLifetime: number; prefix: Uint8Array }): void {
    const o = this.offset;
    this.bytes[o] = NDP_OPT_PREFIX_INFO;
    this.bytes[o + 1] = 4;
    this.bytes[o + 2] = f.prefixLength;
    this.bytes[o + 3] = f.flags;
    this.view.setUint32(o + 4, f.validLifetime >>> 0);
    this.view.setUint32(o + 8, f.preferredLifetime >>> 0);
    this.view.setUint32(o + 12, 0);
    this.bytes.set(f.prefix.subarray(0, 16), o + 16);
  }
}

/** MTU option (RFC 4861 4.6.4): the 32-bit MTU at offset 4 of an 8-byte option. */
export function ndpMtuOption(bytes: Uint8Array, optionOffset: number): number {
  return ((bytes[optionOffset + 4] << 24) | (bytes[optionOffset + 5] << 16) | (bytes[optionOffset + 6] << 8) | bytes[optionOffset + 7]) >>> 0;
}

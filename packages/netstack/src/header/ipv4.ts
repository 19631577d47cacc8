// IPv4 header (RFC 791 section 3.1), its options (RFC 791 3.1 "Options"), fragment fields and checksum.
import { HeaderView } from './view.js';
import { foldChecksum, pseudoHeaderSumV4Numbers, sumBytes, updateChecksum16 } from './checksum.js';

export const IPV4_MIN_HEADER_SIZE = 20;
export const IPV4_MAX_HEADER_SIZE = 60;
export const IPV4_VERSION = 4;
export const IPV4_ADDRESS_SIZE = 4;
export const IPV4_MAX_TOTAL_LENGTH = 0xffff;
/** Every IPv4 host must accept datagrams of this size (RFC 791 3.1 "Total Length"). */
export const IPV4_MIN_MTU = 68;

/** Flag bits in the flags/fragment-offset word (RFC 791 3.1). */
export const IPV4_FLAG_DONT_FRAGMENT = 0x4000;
export const IPV4_FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

/** IP protocol numbers (IANA "Assigned Internet Protocol Numbers"). */
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IGMP = 2;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

/** IPv4 option types (RFC 791 3.1, IANA "IP Option Numbers"). */
export const IPV4_OPTION_END = 0;
export const IPV4_OPTION_NOP = 1;
export const IPV4_OPTION_RECORD_ROUTE = 7;
export const IPV4_OPTION_TIMESTAMP = 68;
export const IPV4_OPTION_ROUTER_ALERT = 148;

/** Why a header was judged invalid (for counters and logs). */
export type IPv4Invalid = 'short' | 'version' | 'header-length' | 'total-length' | 'options';

export class IPv4Header extends HeaderView {
  /**
   * Checks every length: at least 20 bytes, version 4, 20 <= IHL*4 <= total length <= the bytes present,
   * and well-formed options. Returns null if valid, else the reason. Does not check the checksum
   * (isChecksumValid), so a caller can count the two failures apart as Linux does (InHdrErrors vs InCsumErrors).
   */
  invalidReason(): IPv4Invalid | null {
    if (this.length < IPV4_MIN_HEADER_SIZE) return 'short';
    const b0 = this.bytes[this.offset];
    if (b0 >> 4 !== IPV4_VERSION) return 'version';
    const hlen = (b0 & 0xf) * 4;
    if (hlen < IPV4_MIN_HEADER_SIZE) return 'header-length';
    const total = this.view.getUint16(this.offset + 2);
    if (total < hlen || total > this.length) return 'total-length';
    if (hlen > IPV4_MIN_HEADER_SIZE && !validateIPv4Options(this.bytes, this.offset + IPV4_MIN_HEADER_SIZE, hlen - IPV4_MIN_HEADER_SIZE)) {
      return 'options';
    }
    return null;
  }

  isValid(): boolean { return this.invalidReason() === null; }

  version(): number { return this.bytes[this.offset] >> 4; }
  headerLength(): number { return (this.bytes[this.offset] & 0xf) * 4; }
  tos(): number { return this.bytes[this.offset + 1]; }
  totalLength(): number { return this.view.getUint16(this.offset + 2); }
  id(): number { return this.view.getUint16(this.offset + 4); }
  flags(): number { return this.view.getUint16(this.offset + 6) & 0xe000; }
  dontFragment(): boolean { return (this.view.getUint16(this.offset + 6) & IPV4_FLAG_DONT_FRAGMENT) !== 0; }
  moreFragments(): boolean { return (this.view.getUint16(this.offset + 6) & IPV4_FLAG_MORE_FRAGMENTS) !== 0; }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  fragmentOffset(): number { return (this.view.getUint16(this.offset + 6) & FRAGMENT_OFFSET_MASK) * 8; }
  /** True if this datagram is a fragment (MF set or a non-zero offset). */
  isFragment(): boolean { return (this.view.getUint16(this.offset + 6) & (IPV4_FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK)) !== 0; }
  ttl(): number { return this.bytes[this.offset + 8]; }
  protocol(): number { return this.bytes[this.offset + 9]; }
  checksum(): number { return this.view.getUint16(this.offset + 10); }
  sourceAddress(): Uint8Array { return this.slice(12, 16); }
  destinationAddress(): Uint8Array { return this.slice(16, 20); }
  /** Addresses as unsigned 32-bit numbers (for hashing and route lookups without allocating). */
  sourceAddressNumber(): number { return this.view.getUint32(this.offset + 12); }
  destinationAddressNumber(): number { return this.view.getUint32(this.offset + 16); }
  options(): Uint8Array { return this.slice(IPV4_MIN_HEADER_SIZE, this.headerLength()); }
  /** The payload as the total-length field bounds it (link padding excluded). */
  payload(): Uint8Array { return this.slice(this.headerLength(), this.totalLength()); }
  payloadLength(): number { return this.totalLength() - this.headerLength(); }

  setVersionAndHeaderLength(headerLength: number): void { this.bytes[this.offset] = (IPV4_VERSION << 4) | ((headerLength >> 2) & 0xf); }
  setTos(v: number): void { this.bytes[this.offset + 1] = v; }
  setTotalLength(v: number): void { this.view.setUint16(this.offset + 2, v); }
  setId(v: number): void { this.view.setUint16(this.offset + 4, v); }
  /** Sets flags (IPV4_FLAG_*) and the fragment offset in bytes (must be a multiple of 8). */
  setFlagsAndFragmentOffset(flags: number, offsetBytes: number): void {
    this.view.setUint16(this.offset + 6, (flags & 0xe000) | ((offsetBytes >> 3) & FRAGMENT_OFFSET_MASK));
  }
  setTtl(v: number): void { this.bytes[this.offset + 8] = v; }
  setProtocol(v: number): void { this.bytes[this.offset + 9] = v; }
  setChecksum(v: number): void { this.view.setUint16(this.offset + 10, v); }
  setSourceAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 4), this.offset + 12); }
  setDestinationAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 4), this.offset + 16); }

  /** The header checksum as computed over the header (0 if the stored checksum is right... see isChecksumValid). */
  computeChecksum(): number {
    const sum = sumBytes(this.bytes, this.offset, this.headerLength()) - this.checksum();
    return ~foldChecksum(sum) & 0xffff;
  }
  /** Recomputes and stores the header checksum. */
  updateChecksum(): void { this.setChecksum(this.computeChecksum()); }
  /** A header whose words (checksum included) sum to 0xffff is intact (RFC 1071). */
  isChecksumValid(): boolean { return foldChecksum(sumBytes(this.bytes, this.offset, this.headerLength())) === 0xffff; }

  /** Decrements TTL and patches the checksum incrementally (RFC 1624 section 4), as a forwarder does. */
  decrementTtl(): void {
    const o = this.offset;
    const oldWord = this.view.getUint16(o + 8);
    this.bytes[o + 8] = (this.bytes[o + 8] - 1) & 0xff;
    this.setChecksum(updateChecksum16(this.checksum(), oldWord, this.view.getUint16(o + 8)));
  }

  /** Pseudo-header sum for a transport checksum over `length` bytes of `protocol` (RFC 768, RFC 793 3.1). */
  pseudoHeaderSum(protocol: number, length: number): number {
    return pseudoHeaderSumV4Numbers(this.sourceAddressNumber(), this.destinationAddressNumber(), protocol, length);
  }

  /**
   * The builder: writes a header with the given fields (options copied after the fixed part, padded to 4 bytes
   * with End-of-Options) and its checksum. Returns the header length.
   */
  encode(f: {
    totalLength: number; protocol: number; src: Uint8Array; dst: Uint8Array; ttl: number;
    id?: number; tos?: number; flags?: number; fragmentOffset?: number; options?: Uint8Array;
  }): number {
    const optLen = f.options ? (f.options.length + 3) & ~3 : 0;
    // The IHL field counts at most 15 words (RFC 791 3.1): 40 bytes of options.
    if (optLen > IPV4_MAX_HEADER_SIZE - IPV4_MIN_HEADER_SIZE) {
      throw new RangeError(`EINVAL: ${f.options!.length} bytes of IPv4 options exceed the 40 the header can hold`);
    }
    const hlen = IPV4_MIN_HEADER_SIZE + optLen;
    this.setVersionAndHeaderLength(hlen);
    this.setTos(f.tos ?? 0);
    this.setTotalLength(f.totalLength);
    this.setId(f.id ?? 0);
    this.setFlagsAndFragmentOffset(f.flags ?? 0, f.fragmentOffset ?? 0);
    this.setTtl(f.ttl);
    this.setProtocol(f.protocol);
    this.setChecksum(0);
    this.setSourceAddress(f.src);
    this.setDestinationAddress(f.dst);
    if (f.options) {
      const start = this.offset + IPV4_MIN_HEADER_SIZE;
      this.bytes.set(f.options, start);
      this.bytes.fill(IPV4_OPTION_END, start + f.options.length, start + optLen);
    }
    this.updateChecksum();
    return hlen;
  }
}

/** One IPv4 option as found in a header: its type and where its bytes lie in the buffer. */
export interface IPv4Option {
  type: number;
  /** Absolute offset of the option's type byte in the buffer. */
  offset: number;
  /** Total option length including type and length bytes (1 for NOP and END). */
  length: number;
}

/**
 * Checks that the options area is a well-formed sequence (RFC 791 3.1: single-octet END/NOP, or type, length
 * >= 2, data, not running past the area).
 */
export function validateIPv4Options(bytes: Uint8Array, offset: number, length: number): boolean {
  const end = offset + length;
  if (end > bytes.length) return false;
  let i = offset;
  while (i < end) {
    const type = bytes[i];
    if (type === IPV4_OPTION_END) return true;
    if (type === IPV4_OPTION_NOP) { i++; continue; }
    if (i + 1 >= end) return false;
    const len = bytes[i + 1];
    if (len < 2 || i + len > end) return false;
    i += len;
  }
  return true;
}

/**
 * Walks options (which must have passed validateIPv4Options), calling `visit` for each one up to END.
 * Returns the number of options visited.
 */
export function forEachIPv4Option(header: IPv4Header, visit: (opt: IPv4Option) => void): number {
  const start = header.offset + IPV4_MIN_HEADER_SIZE;
  const end = header.offset + Math.min(header.headerLength(), header.length);
  const b = header.bytes;
  let count = 0;
  let i = start;
  while (i < end) {
    const type = b[i];
    if (type === IPV4_OPTION_END) break;
    let len = 1;
    if (type !== IPV4_OPTION_NOP) {
      if (i + 1 >= end) break;
      len = b[i + 1];
      if (len < 2 || i + len > end) break;
    }
    visit({ type, offset: i, length: len });
    count++;
    i += len;
  }
  return count;
}

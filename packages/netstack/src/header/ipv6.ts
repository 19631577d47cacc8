// IPv6 fixed header (RFC 8200 section 3) and the extension headers of RFC 8200 section 4: a walker over the
// header chain (hop-by-hop, routing, fragment, destination options, AH) and views of the fragment and routing headers.
import { HeaderView } from './view.js';
import { sumBytes } from './checksum.js';
import { IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING } from './ipv4.js';

export const IPV6_HEADER_SIZE = 40;
export const IPV6_VERSION = 6;
export const IPV6_ADDRESS_SIZE = 16;
/** Every IPv6 link must carry packets of this size (RFC 8200 section 5). */
export const IPV6_MIN_MTU = 1280;
export const IPV6_FRAGMENT_HEADER_SIZE = 8;
/** Authentication Header (RFC 4302): its length field counts 4-byte units minus 2. */
export const IPPROTO_AH = 51;
export const IPPROTO_ESP = 50;

export const IPV6_ANY_BYTES = new Uint8Array(16);
export const IPV6_LOOPBACK_BYTES = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
export const IPV6_ALL_NODES_BYTES = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
export const IPV6_ALL_ROUTERS_BYTES = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);

export type IPv6Invalid = 'short' | 'version' | 'payload-length';

export class IPv6Header extends HeaderView {
  /**
   * Checks the fixed header: 40 bytes present, version 6, 40 + payload length <= bytes present. A zero payload
   * length with a Jumbo Payload option (RFC 2675) is not supported and reads as an empty payload.
   */
  invalidReason(): IPv6Invalid | null {
    if (this.length < IPV6_HEADER_SIZE) return 'short';
    if (this.bytes[this.offset] >> 4 !== IPV6_VERSION) return 'version';
    if (IPV6_HEADER_SIZE + this.view.getUint16(this.offset + 4) > this.length) return 'payload-length';
    return null;
  }

  isValid(): boolean { return this.invalidReason() === null; }

  version(): number { return this.bytes[this.offset] >> 4; }
  trafficClass(): number { return (this.view.getUint16(this.offset) >> 4) & 0xff; }
  flowLabel(): number { return this.view.getUint32(this.offset) & 0xfffff; }
  payloadLength(): number { return this.view.getUint16(this.offset + 4); }
  nextHeader(): number { return this.bytes[this.offset + 6]; }
  hopLimit(): number { return this.bytes[this.offset + 7]; }
  sourceAddress(): Uint8Array { return this.slice(8, 24); }
  destinationAddress(): Uint8Array { return this.slice(24, 40); }
  /** The payload as the payload-length field bounds it (extension headers included). */
  payload(): Uint8Array { return this.slice(IPV6_HEADER_SIZE, IPV6_HEADER_SIZE + this.payloadLength()); }

  /** Sets version 6, traffic class and flow label (the first 32-bit word). */
  setVersionClassFlow(trafficClass: number, flowLabel: number): void {
    this.view.setUint32(this.offset, ((IPV6_VERSION << 28) | ((trafficClass & 0xff) << 20) | (flowLabel & 0xfffff)) >>> 0);
  }
  setPayloadLength(v: number): void { this.view.setUint16(this.offset + 4, v); }
  setNextHeader(v: number): void { this.bytes[this.offset + 6] = v; }
  setHopLimit(v: number): void { this.bytes[this.offset + 7] = v; }
  setSourceAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 16), this.offset + 8); }
  setDestinationAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 16), this.offset + 24); }

  /** Pseudo-header sum for an upper-layer checksum (RFC 8200 section 8.1). */
  pseudoHeaderSum(protocol: number, length: number): number {
    const o = this.offset;
    return sumBytes(this.bytes, o + 8, 32) + Math.floor(length / 0x10000) + (length & 0xffff) + protocol;
  }

  /** The builder: writes the fixed header. */
  encode(f: {
    payloadLength: number; nextHeader: number; hopLimit: number; src: Uint8Array; dst: Uint8Array;
    trafficClass?: number; flowLabel?: number;
  }): void {
    this.setVersionClassFlow(f.trafficClass ?? 0, f.flowLabel ?? 0);
    this.setPayloadLength(f.payloadLength);
    this.setNextHeader(f.nextHeader);
    this.setHopLimit(f.hopLimit);
    this.setSourceAddress(f.src);
    this.setDestinationAddress(f.dst);
  }
}

/** Fragment extension header (RFC 8200 section 4.5). */
export class IPv6FragmentHeader extends HeaderView {
  isValid(): boolean { return this.length >= IPV6_FRAGMENT_HEADER_SIZE; }
  nextHeader(): number { return this.bytes[this.offset]; }
  /** Fragment offset in bytes. */
  fragmentOffset(): number { return this.view.getUint16(this.offset + 2) & 0xfff8; }
  moreFragments(): boolean { return (this.bytes[this.offset + 3] & 1) !== 0; }
  identification(): number { return this.view.getUint32(this.offset + 4); }
  encode(f: { nextHeader: number; fragmentOffset: number; moreFragments: boolean; identification: number }): void {
    const o = this.offset;
    this.bytes[o] = f.nextHeader;
    this.bytes[o + 1] = 0;
    this.view.setUint16(o + 2, (f.fragmentOffset & 0xfff8) | (f.moreFragments ? 1 : 0));
    this.view.setUint32(o + 4, f.identification >>> 0);
  }
}

/** Routing extension header, common part (RFC 8200 section 4.4). */
export class IPv6RoutingHeader extends HeaderView {
  isValid(): boolean { return this.length >= 8 && this.length >= (this.bytes[this.offset + 1] + 1) * 8; }
  nextHeader(): number { return this.bytes[this.offset]; }
  headerLength(): number { return (this.bytes[this.offset + 1] + 1) * 8; }
  routingType(): number { return this.bytes[this.offset + 2]; }
  segmentsLeft(): number { return this.bytes[this.offset + 3]; }
}

/** Why the extension header chain could not be walked; `pointer` in the walker says where (for ICMPv6 errors). */
export type IPv6ChainError = 'truncated' | 'hop-by-hop-not-first' | 'bad-option';

/**
 * Walks the extension header chain of one packet in place, without allocating: call start(), then next() until it
 * returns false. While next() returns true, `headerType`, `headerOffset` and `headerLength` describe the current
 * extension header. When it returns false, either `error` is set (with `pointer`, the offset from the start of the
 * IPv6 header of the offending byte, as ICMPv6 Parameter Problem wants: RFC 4443 3.4) or the chain ended at an
 * upper-layer protocol: `upperProtocol` and `upperOffset` (absolute) say which and where.
 * ESP (50) and No Next Header (59) end the chain as "upper" protocols.
 */
export class IPv6ExtensionWalker {
  bytes: Uint8Array = new Uint8Array(0);
  /** Absolute offset of the IPv6 fixed header. */
  base = 0;
  /** Absolute end of the packet (bounded by the payload length field). */
  end = 0;
  headerType = -1;
  headerOffset = 0;
  headerLength = 0;
  /** Absolute offset of the Next Header byte that named the current header (for Parameter Problem code 1). */
  nextHeaderFieldOffset = 0;
  upperProtocol = -1;
  upperOffset = 0;
  error: IPv6ChainError | null = null;
  pointer = 0;
  /** Fragment header fields, when the chain has one. */
  fragmentOffset = -1;
  moreFragments = false;
  fragmentId = 0;
  private pending = 0;
  private pendingOffset = 0;
  private count = 0;

  /** Starts a walk over a header that passed IPv6Header.isValid(). */
  start(h: IPv6Header): this {
    this.bytes = h.bytes;
    this.base = h.offset;
    this.end = h.offset + IPV6_HEADER_SIZE + h.payloadLength();
    this.pending = h.nextHeader();
    this.nextHeaderFieldOffset = h.offset + 6;
    this.pendingOffset = h.offset + IPV6_HEADER_SIZE;
    this.headerType = -1;
    this.upperProtocol = -1;
    this.error = null;
    this.fragmentOffset = -1;
    this.moreFragments = false;
    this.fragmentId = 0;
    this.count = 0;
    return this;
  }

  /** Advances to the next extension header; false at the upper-layer protocol or on error. */
  next(): boolean {
    const type = this.pending;
    const off = this.pendingOffset;
    const b = this.bytes;
    if (!isExtensionHeader(type)) {
      this.upperProtocol = type;
      this.upperOffset = off;
      return false;
    }
    // RFC 8200 4.1: a hop-by-hop header anywhere but first is an error (Parameter Problem code 1).
    if (type === IPPROTO_HOPOPTS && this.count > 0) {
      return this.fail('hop-by-hop-not-first', this.nextHeaderFieldOffset);
    }
    let len: number;
    if (type === IPPROTO_FRAGMENT) {
      len = IPV6_FRAGMENT_HEADER_SIZE;
    } else {
      if (off + 2 > this.end) return this.fail('truncated', off);
      len = type === IPPROTO_AH ? (b[off + 1] + 2) * 4 : (b[off + 1] + 1) * 8;
    }
    if (off + len > this.end) return this.fail('truncated', off);
    if (type === IPPROTO_FRAGMENT) {
      this.fragmentOffset = ((b[off + 2] << 8) | b[off + 3]) & 0xfff8;
      this.moreFragments = (b[off + 3] & 1) !== 0;
      this.fragmentId = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
    } else if ((type === IPPROTO_HOPOPTS || type === IPPROTO_DSTOPTS) && !validateIPv6Options(b, off + 2, len - 2)) {
      return this.fail('bad-option', off);
    }
    this.headerType = type;
    this.headerOffset = off;
    this.headerLength = len;
    this.nextHeaderFieldOffset = off;
    this.pending = b[off];
    this.pendingOffset = off + len;
    this.count++;
    return true;
  }

  /** Runs the walk to its end; true if it reached an upper-layer protocol. */
  walkAll(): boolean {
    while (this.next());
    return this.error === null;
  }

  private fail(e: IPv6ChainError, at: number): false {
    this.error = e;
    this.pointer = at - this.base;
    return false;
  }
}

/** True for the header types the walker steps over (RFC 8200 4.1 order list, plus AH). */
export function isExtensionHeader(type: number): boolean {
  return type === IPPROTO_HOPOPTS || type === IPPROTO_ROUTING || type === IPPROTO_FRAGMENT
    || type === IPPROTO_DSTOPTS || type === IPPROTO_AH;
}

/** Options in hop-by-hop and destination options headers (RFC 8200 4.2). */
export const IPV6_OPTION_PAD1 = 0;
export const IPV6_OPTION_PADN = 1;
export const IPV6_OPTION_ROUTER_ALERT = 5;
export const IPV6_OPTION_JUMBO = 0xc2;

/** Checks a TLV option area: every option's length fits (RFC 8200 4.2). Unknown types are the caller's matter. */
export function validateIPv6Options(bytes: Uint8Array, offset: number, length: number): boolean {
  const end = offset + length;
  if (end > bytes.length) return false;
  let i = offset;
  while (i < end) {
    if (bytes[i] === IPV6_OPTION_PAD1) { i++; continue; }
    if (i + 1 >= end) return false;
    const next = i + 2 + bytes[i + 1];
    if (next > end) return false;
    i = next;
  }
  return true;
}

/**
 * Calls `visit(type, dataOffset, dataLength)` for each option in a validated TLV area, skipping padding. A visitor
 * returning false stops the walk. The two high bits of `type` say what to do with an unknown option (RFC 8200 4.2).
 */
export function forEachIPv6Option(
  bytes: Uint8Array, offset: number, length: number,
  visit: (type: number, dataOffset: number, dataLength: number) => boolean | void,
): void {
  const end = Math.min(offset + length, bytes.length);
  let i = offset;
  while (i < end) {
    const type = bytes[i];
    if (type === IPV6_OPTION_PAD1) { i++; continue; }
    if (i + 1 >= end) return;
    const len = bytes[i + 1];
    if (i + 2 + len > end) return;
    if (type !== IPV6_OPTION_PADN && visit(type, i + 2, len) === false) return;
    i += 2 + len;
  }
}

/** The solicited-node multicast address of `addr` (RFC 4291 2.7.1): ff02::1:ffXX:XXXX. */
export function solicitedNodeAddress(addr: Uint8Array): Uint8Array {
  return Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, addr[13], addr[14], addr[15]);
}

export function isIPv6Multicast(a: Uint8Array): boolean { return a[0] === 0xff; }
export function isIPv6LinkLocal(a: Uint8Array): boolean { return a[0] === 0xfe && (a[1] & 0xc0) === 0x80; }
export function isIPv6Unspecified(a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/** The modified EUI-64 link-local address for a MAC (RFC 4291 appendix A, RFC 4862 5.3). */
export function linkLocalFromMac(mac: Uint8Array): Uint8Array {
  return Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0,
    mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]);
}

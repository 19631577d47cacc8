// UDP header (RFC 768): ports, length, checksum over the pseudo-header, header and data.
import { HeaderView } from './view.js';
import { foldChecksum, sumBytes } from './checksum.js';

export const UDP_HEADER_SIZE = 8;

export class UDPHeader extends HeaderView {
  /** Valid if the 8-byte header is present and 8 <= length field <= the bytes present (RFC 768 "Length"). */
  isValid(): boolean {
    if (this.length < UDP_HEADER_SIZE) return false;
    const len = this.view.getUint16(this.offset + 4);
    return len >= UDP_HEADER_SIZE && len <= this.length;
  }

  sourcePort(): number { return this.view.getUint16(this.offset); }
  destinationPort(): number { return this.view.getUint16(this.offset + 2); }
  /** The length field: header plus data. */
  udpLength(): number { return this.view.getUint16(this.offset + 4); }
  checksum(): number { return this.view.getUint16(this.offset + 6); }
  /** The data as the length field bounds it. */
  payload(): Uint8Array { return this.slice(UDP_HEADER_SIZE, this.udpLength()); }

  setSourcePort(v: number): void { this.view.setUint16(this.offset, v); }
  setDestinationPort(v: number): void { this.view.setUint16(this.offset + 2, v); }
  setLength(v: number): void { this.view.setUint16(this.offset + 4, v); }
  setChecksum(v: number): void { this.view.setUint16(this.offset + 6, v); }

  /**
   * The checksum of header+data (udpLength bytes) with the pseudo-header sum `pseudo`. A computed 0 is sent as
   * 0xffff, since 0 on the wire means "no checksum" (RFC 768; RFC 8200 8.1 forbids 0 for IPv6).
   */
  computeChecksum(pseudo: number): number {
    const c = ~foldChecksum(sumBytes(this.bytes, this.offset, this.udpLength(), pseudo) - this.checksum()) & 0xffff;
    return c === 0 ? 0xffff : c;
  }
  updateChecksum(pseudo: number): void { this.setChecksum(this.computeChecksum(pseudo)); }
  /** True if the checksum is correct, or absent (0) where `zeroAllowed` (IPv4 only). */
  isChecksumValid(pseudo: number, zeroAllowed = true): boolean {
    if (this.checksum() === 0) return zeroAllowed;
    return foldChecksum(sumBytes(this.bytes, this.offset, this.udpLength(), pseudo)) === 0xffff;
  }

  /** The builder: ports and length; checksum left 0 (call updateChecksum once the data is in place). */
  encode(f: { sourcePort: number; destinationPort: number; length: number }): void {
    this.setSourcePort(f.sourcePort);
    this.setDestinationPort(f.destinationPort);
    this.setLength(f.length);
    this.setChecksum(0);
  }
}

// Ethernet II frame header (IEEE 802.3 with an EtherType, RFC 894): destination, source, EtherType.
import { HeaderView } from './view.js';

export const ETHERNET_HEADER_SIZE = 14;
export const ETHERNET_ADDRESS_SIZE = 6;
/** Minimum frame size without FCS (IEEE 802.3 clause 3.2.8: 64 bytes including the 4-byte FCS). */
export const ETHERNET_MIN_FRAME_SIZE = 60;

/** EtherType values (IEEE registry) this stack knows. */
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const ETHERNET_BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export class EthernetHeader extends HeaderView {
  /** True if the view holds at least a full header. EtherType values below 0x0600 are 802.3 lengths, not types. */
  isValid(): boolean {
    return this.length >= ETHERNET_HEADER_SIZE;
  }

  destination(): Uint8Array { return this.slice(0, 6); }
  source(): Uint8Array { return this.slice(6, 12); }
  etherType(): number { return this.view.getUint16(this.offset + 12); }

  setDestination(mac: Uint8Array): void { this.bytes.set(mac.subarray(0, 6), this.offset); }
  setSource(mac: Uint8Array): void { this.bytes.set(mac.subarray(0, 6), this.offset + 6); }
  setEtherType(t: number): void { this.view.setUint16(this.offset + 12, t); }

  /** Writes all fields at once (the builder). */
  encode(fields: { destination: Uint8Array; source: Uint8Array; etherType: number }): void {
    this.setDestination(fields.destination);
    this.setSource(fields.source);
    this.setEtherType(fields.etherType);
  }

  /** The bytes after the header. */
  payload(): Uint8Array { return this.slice(ETHERNET_HEADER_SIZE); }
}

/** True for a group (multicast or broadcast) address: the I/G bit, the low bit of the first octet. */
export function isMulticastMac(mac: Uint8Array): boolean {
  return (mac[0] & 1) === 1;
}

export function isBroadcastMac(mac: Uint8Array): boolean {
  return mac[0] === 0xff && mac[1] === 0xff && mac[2] === 0xff && mac[3] === 0xff && mac[4] === 0xff && mac[5] === 0xff;
}

export function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5];
}

/** The Ethernet multicast address for an IPv4 group (RFC 1112 section 6.4): 01:00:5e + low 23 bits. */
export function ipv4MulticastMac(group: Uint8Array): Uint8Array {
  return Uint8Array.of(0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]);
}

/** The Ethernet multicast address for an IPv6 group (RFC 2464 section 7): 33:33 + low 32 bits. */
export function ipv6MulticastMac(group: Uint8Array): Uint8Array {
  return Uint8Array.of(0x33, 0x33, group[12], group[13], group[14], group[15]);
}

// ARP packet for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800, 6-byte and 4-byte addresses.
import { HeaderView } from './view.js';
import { ETHERTYPE_IPV4 } from './ethernet.js';

export const ARP_SIZE = 28;
export const ARP_HARDWARE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export class ArpPacket extends HeaderView {
  /** Valid if complete and it is the Ethernet/IPv4 form (the only one this stack speaks). */
  isValid(): boolean {
    if (this.length < ARP_SIZE) return false;
    const o = this.offset;
    return this.view.getUint16(o) === ARP_HARDWARE_ETHERNET && this.view.getUint16(o + 2) === ETHERTYPE_IPV4
      && this.bytes[o + 4] === 6 && this.bytes[o + 5] === 4;
  }

  hardwareType(): number { return this.view.getUint16(this.offset); }
  protocolType(): number { return this.view.getUint16(this.offset + 2); }
  hardwareAddressSize(): number { return this.bytes[this.offset + 4]; }
  protocolAddressSize(): number { return this.bytes[this.offset + 5]; }
  op(): number { return this.view.getUint16(this.offset + 6); }
  senderHardwareAddress(): Uint8Array { return this.slice(8, 14); }
  senderProtocolAddress(): Uint8Array { return this.slice(14, 18); }
  targetHardwareAddress(): Uint8Array { return this.slice(18, 24); }
  targetProtocolAddress(): Uint8Array { return this.slice(24, 28); }

  setOp(op: number): void { this.view.setUint16(this.offset + 6, op); }
  setSenderHardwareAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 6), this.offset + 8); }
  setSenderProtocolAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 4), this.offset + 14); }
  setTargetHardwareAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 6), this.offset + 18); }
  setTargetProtocolAddress(a: Uint8Array): void { this.bytes.set(a.subarray(0, 4), this.offset + 24); }

  /** Sets the fixed Ethernet/IPv4 preamble (hardware/protocol types and sizes). */
  setIPv4OverEthernet(): void {
    const o = this.offset;
    this.view.setUint16(o, ARP_HARDWARE_ETHERNET);
    this.view.setUint16(o + 2, ETHERTYPE_IPV4);
    this.bytes[o + 4] = 6;
    this.bytes[o + 5] = 4;
  }

  /** The builder: writes a complete Ethernet/IPv4 ARP packet. */
  encode(f: {
    op: number; senderMac: Uint8Array; senderIp: Uint8Array; targetMac: Uint8Array; targetIp: Uint8Array;
  }): void {
    this.setIPv4OverEthernet();
    this.setOp(f.op);
    this.setSenderHardwareAddress(f.senderMac);
    this.setSenderProtocolAddress(f.senderIp);
    this.setTargetHardwareAddress(f.targetMac);
    this.setTargetProtocolAddress(f.targetIp);
  }
}

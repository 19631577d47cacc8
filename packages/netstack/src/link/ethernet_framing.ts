// Ethernet II framing shared by the Ethernet links (fdbased, channel in Ethernet mode): prepend a header on send,
// parse and strip it on receive, filling the PacketBuffer's link metadata.
import { PacketBuffer, PacketType } from '../buffer/packet_buffer.js';
import { ETHERNET_BROADCAST, ETHERNET_HEADER_SIZE } from '../header/ethernet.js';

/**
 * Writes an Ethernet header in front of pkt.head: destination pkt.remoteLinkAddress (broadcast if unset: only
 * ARP requests and the like are sent without a resolved address), source `source`, type pkt.networkProtocol.
 */
export function prependEthernetHeader(pkt: PacketBuffer, source: Uint8Array): void {
  const at = pkt.prepend(ETHERNET_HEADER_SIZE);
  pkt.linkHeader = at;
  const b = pkt.buf;
  const dst = pkt.remoteLinkAddress ?? ETHERNET_BROADCAST;
  for (let i = 0; i < 6; i++) { b[at + i] = dst[i]; b[at + 6 + i] = source[i]; }
  b[at + 12] = pkt.networkProtocol >> 8;
  b[at + 13] = pkt.networkProtocol & 0xff;
}

/**
 * Parses the Ethernet header at pkt.head: records linkHeader, remoteLinkAddress (the sender), packetType
 * (relative to `local`), consumes the header and returns the EtherType, or -1 if the frame is too short or its
 * type field is an 802.3 length (< 0x0600), which this stack does not speak.
 */
export function parseEthernetHeader(pkt: PacketBuffer, local: Uint8Array): number {
  if (pkt.tail - pkt.head < ETHERNET_HEADER_SIZE) return -1;
  const b = pkt.buf;
  const at = pkt.head;
  const type = (b[at + 12] << 8) | b[at + 13];
  if (type < 0x0600) return -1;
  pkt.linkHeader = at;
  pkt.remoteLinkAddress = b.subarray(at + 6, at + 12);
  if ((b[at] & 1) !== 0) {
    pkt.packetType = b[at] === 0xff && b[at + 1] === 0xff && b[at + 2] === 0xff && b[at + 3] === 0xff
      && b[at + 4] === 0xff && b[at + 5] === 0xff ? PacketType.BROADCAST : PacketType.MULTICAST;
  } else {
    pkt.packetType = b[at] === local[0] && b[at + 1] === local[1] && b[at + 2] === local[2] && b[at + 3] === local[3]
      && b[at + 4] === local[4] && b[at + 5] === local[5] ? PacketType.HOST : PacketType.OTHERHOST;
  }
  pkt.head = at + ETHERNET_HEADER_SIZE;
  pkt.networkHeader = pkt.head;
  pkt.networkProtocol = type;
  return type;
}

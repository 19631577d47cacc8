// struct virtio_net_hdr (include/uapi/linux/virtio_net.h; virtio spec 1.1 section 5.1.6), the 10-byte prefix
// PACKET_VNET_HDR puts in front of every frame on an AF_PACKET socket. Fields are in the host's byte order
// (little-endian here: legacy virtio is guest-native endian, and the kernel uses virtio_legacy_is_little_endian()).
import { GsoType, type GsoInfo, type GsoTypeValue } from '../buffer/packet_buffer.js';

export const VIRTIO_NET_HDR_SIZE = 10;
/** flags: the checksum at csum_start + csum_offset holds the pseudo-header sum; finish it. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** flags: the checksum was verified (receive only). */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
/** gso_type values (the ECN bit, 0x80, is masked off on receive). */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** Writes an all-zero header (no offload) at `at`. */
export function writeEmptyVirtioNetHdr(b: Uint8Array, at: number): void {
  b[at] = 0; b[at + 1] = 0; b[at + 2] = 0; b[at + 3] = 0; b[at + 4] = 0;
  b[at + 5] = 0; b[at + 6] = 0; b[at + 7] = 0; b[at + 8] = 0; b[at + 9] = 0;
}

/** Writes a header with every field given (little-endian 16-bit fields). */
export function writeVirtioNetHdr(
  b: Uint8Array, at: number, flags: number, gsoType: number, hdrLen: number, gsoSize: number, csumStart: number, csumOffset: number,
): void {
  b[at] = flags;
  b[at + 1] = gsoType;
  b[at + 2] = hdrLen & 0xff; b[at + 3] = hdrLen >> 8;
  b[at + 4] = gsoSize & 0xff; b[at + 5] = gsoSize >> 8;
  b[at + 6] = csumStart & 0xff; b[at + 7] = csumStart >> 8;
  b[at + 8] = csumOffset & 0xff; b[at + 9] = csumOffset >> 8;
}

export function virtioNetHdrFlags(b: Uint8Array, at: number): number { return b[at]; }
export function virtioNetHdrGsoType(b: Uint8Array, at: number): number { return b[at + 1] & ~VIRTIO_NET_HDR_GSO_ECN; }
export function virtioNetHdrGsoSize(b: Uint8Array, at: number): number { return b[at + 4] | (b[at + 5] << 8); }

/** Maps a received gso_type to GsoType (unknown kinds read as NONE: the packet is then treated as one segment). */
export function gsoTypeFromVirtio(t: number): GsoTypeValue {
  switch (t) {
    case VIRTIO_NET_HDR_GSO_TCPV4: return GsoType.TCPV4;
    case VIRTIO_NET_HDR_GSO_TCPV6: return GsoType.TCPV6;
    case VIRTIO_NET_HDR_GSO_UDP_L4: return GsoType.UDP_L4;
    default: return GsoType.NONE;
  }
}

/** Fills `out` from a received header; returns false if the frame carries no offload state. */
export function readVirtioNetHdr(b: Uint8Array, at: number, out: GsoInfo): boolean {
  const flags = b[at];
  const type = gsoTypeFromVirtio(virtioNetHdrGsoType(b, at));
  out.type = type;
  out.size = type === GsoType.NONE ? 0 : virtioNetHdrGsoSize(b, at);
  out.needsChecksum = (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
  return type !== GsoType.NONE || flags !== 0;
}

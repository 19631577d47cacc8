// AF_PACKET sockets for netstack's fdbased link (packet(7)): open a raw socket bound to one device, move frames in
// batches with recvmmsg/sendmmsg, and watch it for readability on the event loop. See packet.c.
import { addon } from './index.js';

interface PacketAddon {
  packetOpen(ifindex: number, vnetHdr: boolean, rcvbuf: number, sndbuf: number): number;
  packetRecvBatch(fd: number, buf: Uint8Array, slotSize: number, maxSlots: number, info: Int32Array): number;
  packetSendBatch(fd: number, bufs: Uint8Array[], ranges: Int32Array, count: number): number;
  packetWaitReadable(fd: number, timeoutMs: number): boolean;
  packetRxRing(fd: number, frameSize: number, framesPerBlock: number, blockCount: number): [ArrayBuffer, number];
  packetPollStart(fd: number, callback: (status: number) => void): unknown;
  packetPollStop(handle: unknown): void;
  packetPollRef(handle: unknown, ref: boolean): void;
  packetStats(fd: number): [number, number];
  interfaceIndex(name: string): number;
}

// Read through a getter: index.ts and this module import each other, and whichever a caller loads first, the
// addon object must be looked up after index.ts has finished loading it.
const native = (): PacketAddon => addon as unknown as PacketAddon;

/** Most frames one packetRecvBatch/packetSendBatch call moves (TSV_PACKET_MAX_BATCH in packet.c). */
export const PACKET_MAX_BATCH = 256;
/** Int32s of receive info per slot: length, sll_pkttype, status bits. */
export const PACKET_RX_INFO_INTS = 3;
/** Receive status bits. */
export const PACKET_RX_TRUNCATED = 1;
/** The frame's transport checksum is partial (TP_STATUS_CSUMNOTREADY: a local stack left it for offload). */
export const PACKET_RX_CSUM_NOT_READY = 2;
/** The kernel verified the frame's transport checksum (TP_STATUS_CSUM_VALID). */
export const PACKET_RX_CSUM_VALID = 4;
/** sll_pkttype values (linux/if_packet.h). */
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
export const PACKET_OUTGOING = 4;

export interface PacketSocketOptions {
  /** Prefix every frame with a struct virtio_net_hdr (PACKET_VNET_HDR) for GSO/GRO and checksum offload. */
  vnetHdr: boolean;
  /** SO_RCVBUFFORCE / SO_SNDBUFFORCE sizes in bytes (0: kernel default). */
  rcvbuf?: number;
  sndbuf?: number;
}

/**
 * Opens socket(AF_PACKET, SOCK_RAW, ETH_P_ALL) bound to device `ifindex` (blocking for send, receives never block),
 * close-on-exec, with our own transmissions not echoed back (PACKET_IGNORE_OUTGOING) and the device qdisc
 * bypassed. Needs CAP_NET_RAW. Close it with closeFd.
 */
export function packetOpen(ifindex: number, opts: PacketSocketOptions): number {
  return native().packetOpen(ifindex, opts.vnetHdr, opts.rcvbuf ?? 0, opts.sndbuf ?? 0);
}

/**
 * Receives up to `maxSlots` frames without blocking: frame i is written at buf[i*slotSize] and described by
 * info[3i] (length; larger than slotSize if truncated), info[3i+1] (sll_pkttype), info[3i+2] (PACKET_RX_* bits).
 * Returns the count (0 if none waiting) or -errno on error.
 */
export function packetRecvBatch(fd: number, buf: Uint8Array, slotSize: number, maxSlots: number, info: Int32Array): number {
  return native().packetRecvBatch(fd, buf, slotSize, maxSlots, info);
}

/**
 * Sends `count` frames, frame i being bufs[i][ranges[2i], ranges[2i+1]). Returns how many were sent (from the
 * front), or -errno if none could be (e.g. -ENETDOWN, -ENXIO after the device went away).
 */
export function packetSendBatch(fd: number, bufs: Uint8Array[], ranges: Int32Array, count: number): number {
  return native().packetSendBatch(fd, bufs, ranges, count);
}

/** Blocks the calling thread until fd is readable (true) or `timeoutMs` passes (false): poll(2), for workers. */
export function packetWaitReadable(fd: number, timeoutMs: number): boolean {
  return native().packetWaitReadable(fd, timeoutMs);
}

/** Layout of a TPACKET_V2 receive ring (packetRxRing). */
export interface PacketRxRing {
  /** The mapped ring (shared with the kernel: read frames in place, never keep views past their release). */
  memory: ArrayBuffer;
  frameSize: number;
  framesPerBlock: number;
  blockSize: number;
  frameCount: number;
}

/** struct tpacket2_hdr field offsets (linux/if_packet.h) and the status bits used with them. */
export const TPACKET2_STATUS = 0;
export const TPACKET2_LEN = 4;
export const TPACKET2_SNAPLEN = 8;
export const TPACKET2_MAC = 12;
/** The struct sockaddr_ll after the header (TPACKET_ALIGN(sizeof(struct tpacket2_hdr))), and its sll_pkttype. */
export const TPACKET2_SLL_PKTTYPE = 32 + 10;
export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_CSUMNOTREADY = 1 << 3;
export const TP_STATUS_CSUM_VALID = 1 << 7;

/**
 * Switches an open packet socket to a TPACKET_V2 receive ring and maps it (packet(7) PACKET_RX_RING). Frame i
 * starts at floor(i / framesPerBlock) * blockSize + (i % framesPerBlock) * frameSize; it is the caller's when its
 * tp_status has TP_STATUS_USER, and goes back to the kernel when the caller stores TP_STATUS_KERNEL there.
 */
export function packetRxRing(fd: number, frameSize: number, framesPerBlock: number, blockCount: number): PacketRxRing {
  const [memory, blockSize] = native().packetRxRing(fd, frameSize, framesPerBlock, blockCount);
  return { memory, frameSize, framesPerBlock, blockSize, frameCount: framesPerBlock * blockCount };
}

/** An opaque readiness watch on the event loop (uv_poll). */
export interface PacketPollHandle { readonly __packetPoll: unique symbol }

/**
 * Calls `onReadable` whenever fd is readable (level-triggered: the callback must drain the socket). Runs on the
 * calling thread's event loop; microtasks queued by the callback run right after it.
 */
export function packetPollStart(fd: number, onReadable: (status: number) => void): PacketPollHandle {
  return native().packetPollStart(fd, onReadable) as PacketPollHandle;
}

/** Stops a watch (idempotent). The fd stays open. */
export function packetPollStop(handle: PacketPollHandle): void {
  native().packetPollStop(handle);
}

/** Whether an active watch keeps the process alive (like Timer.ref/unref). */
export function packetPollRef(handle: PacketPollHandle, ref: boolean): void {
  native().packetPollRef(handle, ref);
}

/** Frames received and dropped (receive buffer full) since the previous call (PACKET_STATISTICS). */
export function packetStats(fd: number): { packets: number; drops: number } {
  const [packets, drops] = native().packetStats(fd);
  return { packets, drops };
}

/** if_nametoindex(3); throws an Error with code ENODEV if the device does not exist. */
export function interfaceIndex(name: string): number {
  return native().interfaceIndex(name);
}

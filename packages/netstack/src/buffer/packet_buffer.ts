// A packet in one contiguous byte array with headroom in front, so each layer parses its header in place on
// receive (recording where it starts) and prepends its header on send without copying the payload.
//
//   buf: [ headroom ........ | link hdr | network hdr | transport hdr | payload ] (unused tail)
//                             ^head                                              ^tail
//
// Ownership: a PacketBuffer delivered by a link endpoint (LinkDispatcher.deliverNetworkPacket) may be BORROWED:
// its bytes live in the endpoint's receive ring and are overwritten by the next batch. `borrowed` says so. A
// layer that keeps a packet past the delivery call (reassembly queue, TCP out-of-order queue) must call
// retain(), which copies a borrowed packet once and returns an owned one; owned packets return themselves.
// prepend() and append() on a borrowed packet first move it into its own buffer (its headroom and tailroom are
// the neighbouring receive slots), so building a reply in place is safe, at the cost of that one copy.

/** Generic segmentation offload request carried by an outgoing packet (see virtio_net_hdr, link/virtio_net_hdr.ts). */
export const GsoType = { NONE: 0, TCPV4: 1, TCPV6: 4, UDP_L4: 5 } as const;
export type GsoTypeValue = (typeof GsoType)[keyof typeof GsoType];

/**
 * Segmentation and checksum offload for one packet (the fields of virtio_net_hdr, see link/virtio_net_hdr.ts).
 * Send: the transport sets it on a super-packet (payload larger than one MSS, type TCPV4/TCPV6/UDP_L4) or on a
 * packet whose transport checksum holds only the pseudo-header sum (needsChecksum, type NONE); the link finds the
 * checksum field from pkt.transportHeader and pkt.transportProtocol, so those must be set. Only links with
 * LinkCapability.GSO / TX_CHECKSUM_OFFLOAD accept such packets.
 * Receive: what the peer kernel merged (GRO): a TCP super-packet whose checksum it already verified.
 */
export interface GsoInfo {
  type: GsoTypeValue;
  /** Payload bytes per segment (the MSS for TCP); 0 when type is NONE. */
  size: number;
  /** The transport checksum field holds the pseudo-header sum only; the link (or kernel) completes it. */
  needsChecksum: boolean;
}

/**
 * How the link layer saw a received frame (packet(7) sll_pkttype). LOOPBACK (PACKET_LOOPBACK in linux/if_packet.h)
 * marks a packet the stack delivered to itself without a link (Stack.deliverLocal).
 */
export const PacketType = { HOST: 0, BROADCAST: 1, MULTICAST: 2, OTHERHOST: 3, OUTGOING: 4, LOOPBACK: 5 } as const;

/** Headroom to reserve for the largest header stack: virtio_net_hdr 10 + Ethernet 14 + IPv6 40 + ext 24 + TCP 60. */
export const DEFAULT_HEADROOM = 160;

export class PacketBuffer {
  /** Backing storage; the packet occupies buf[head, tail). */
  buf: Uint8Array;
  head: number;
  tail: number;
  /** Absolute offsets (into buf) of each header once known, else -1. */
  linkHeader = -1;
  networkHeader = -1;
  transportHeader = -1;
  /** EtherType of the network protocol (0 if unknown). */
  networkProtocol = 0;
  /** IP protocol number of the transport (-1 if unknown). */
  transportProtocol = -1;
  /** Receive: how the frame was addressed (PacketType). */
  packetType: number = PacketType.HOST;
  /** Receive: the transport checksum was verified by the device or the peer kernel (virtio DATA_VALID / loopback). */
  checksumValidated = false;
  /** Send: segmentation/checksum offload request, or null. Receive: what GRO merged, or null. */
  gso: GsoInfo | null = null;
  /** True if buf belongs to a receive ring and is valid only during delivery (see retain()). */
  borrowed = false;
  /**
   * Send: the next hop's link address (MAC) an Ethernet link writes as destination; null for links without
   * addresses. Receive: the sender's link address as the Ethernet header gave it (a view into the frame).
   */
  remoteLinkAddress: Uint8Array | null = null;
  /** Flow hash (e.g. for sharding to TCP workers); 0 if not computed. */
  hash = 0;

  constructor(buf: Uint8Array, head = 0, tail = buf.length) {
    if (head < 0 || tail < head || tail > buf.length) {
      throw new RangeError(`EINVAL: packet window [${head}, ${tail}) outside a ${buf.length}-byte buffer`);
    }
    this.buf = buf;
    this.head = head;
    this.tail = tail;
  }

  /** A new owned packet with `headroom` bytes reserved in front of `payloadSize` zeroed payload bytes. */
  static allocate(payloadSize: number, headroom = DEFAULT_HEADROOM): PacketBuffer {
    return new PacketBuffer(new Uint8Array(headroom + payloadSize), headroom, headroom + payloadSize);
  }

  /** A new owned packet holding a copy of `payload` behind `headroom` bytes (one copy, on the send path). */
  static fromPayload(payload: Uint8Array, headroom = DEFAULT_HEADROOM): PacketBuffer {
    const buf = new Uint8Array(headroom + payload.length);
    buf.set(payload, headroom);
    return new PacketBuffer(buf, headroom, buf.length);
  }

  /** The packet's current bytes (shares memory). */
  data(): Uint8Array { return this.buf.subarray(this.head, this.tail); }
  get size(): number { return this.tail - this.head; }
  /** Bytes free in front of head. */
  get headroom(): number { return this.head; }

  /**
   * Makes room for an `n`-byte header in front of the packet and returns its absolute offset (the new head).
   * If the headroom is short the packet is moved once into a larger buffer (reserve enough to avoid this).
   */
  prepend(n: number): number {
    // A borrowed packet's headroom is someone else's memory (the previous receive slot): move it out first.
    if (n > this.head || this.borrowed) this.relocate(n, 0);
    this.head -= n;
    return this.head;
  }

  /** Removes `n` bytes from the front (a parsed header) and returns the offset where they started. */
  consume(n: number): number {
    const at = this.head;
    if (n > this.tail - this.head) throw new RangeError(`EINVAL: consume ${n} of a ${this.size}-byte packet`);
    this.head += n;
    return at;
  }

  /** Cuts the packet to `size` bytes (drops link padding or trailing data past a length field). */
  truncate(size: number): void {
    if (size < this.size) this.tail = this.head + Math.max(0, size);
  }

  /** Appends bytes at the tail, growing the buffer if needed. */
  append(bytes: Uint8Array): void {
    if (this.tail + bytes.length > this.buf.length || this.borrowed) {
      this.relocate(0, Math.max(bytes.length, this.tail - this.head));
    }
    this.buf.set(bytes, this.tail);
    this.tail += bytes.length;
  }

  /** Header views' window helpers: the bytes from a recorded header to the tail. */
  networkBytes(): Uint8Array { return this.buf.subarray(this.networkHeader < 0 ? this.head : this.networkHeader, this.tail); }
  transportBytes(): Uint8Array { return this.buf.subarray(this.transportHeader < 0 ? this.head : this.transportHeader, this.tail); }

  /** A deep copy with the same offsets and metadata (owned). */
  clone(headroom = this.head): PacketBuffer {
    // Copies from the first recorded header (a layer may still want to read the link header) to the tail,
    // placed so that at least `headroom` bytes precede the new head.
    const start = this.minOffset();
    const pad = Math.max(0, headroom - (this.head - start));
    const buf = new Uint8Array(pad + (this.tail - start));
    buf.set(this.buf.subarray(start, this.tail), pad);
    const delta = pad - start;
    const p = new PacketBuffer(buf, this.head + delta, this.tail + delta);
    p.copyMetadata(this, delta);
    return p;
  }

  /** Returns an owned packet: this one if already owned, else a copy (the one copy a kept packet costs). */
  retain(): PacketBuffer {
    return this.borrowed ? this.clone() : this;
  }

  /** Copies offsets (shifted by `delta`) and metadata from another packet. */
  copyMetadata(from: PacketBuffer, delta = 0): void {
    this.linkHeader = from.linkHeader < 0 ? -1 : from.linkHeader + delta;
    this.networkHeader = from.networkHeader < 0 ? -1 : from.networkHeader + delta;
    this.transportHeader = from.transportHeader < 0 ? -1 : from.transportHeader + delta;
    this.networkProtocol = from.networkProtocol;
    this.transportProtocol = from.transportProtocol;
    this.packetType = from.packetType;
    this.checksumValidated = from.checksumValidated;
    this.gso = from.gso ? { ...from.gso } : null;
    this.hash = from.hash;
    this.remoteLinkAddress = from.remoteLinkAddress ? Uint8Array.from(from.remoteLinkAddress) : null;
  }

  /** The lowest offset still meaningful: the first recorded header or head. */
  private minOffset(): number {
    let m = this.head;
    if (this.linkHeader >= 0 && this.linkHeader < m) m = this.linkHeader;
    if (this.networkHeader >= 0 && this.networkHeader < m) m = this.networkHeader;
    if (this.transportHeader >= 0 && this.transportHeader < m) m = this.transportHeader;
    return m;
  }

  /**
   * Moves the packet (from its first recorded header to the tail) into a new owned buffer with at least `front`
   * free bytes before head (plus DEFAULT_HEADROOM) and `back` free bytes after the tail. Copies only the packet,
   * never the rest of a receive ring.
   */
  private relocate(front: number, back: number): void {
    const start = this.minOffset();
    const lead = this.head - start;
    const pad = Math.max(0, front + DEFAULT_HEADROOM - lead);
    const buf = new Uint8Array(pad + (this.tail - start) + back);
    buf.set(this.buf.subarray(start, this.tail), pad);
    const delta = pad - start;
    if (this.remoteLinkAddress && this.remoteLinkAddress.buffer === this.buf.buffer) {
      this.remoteLinkAddress = Uint8Array.from(this.remoteLinkAddress);
    }
    this.buf = buf;
    this.head += delta;
    this.tail += delta;
    if (this.linkHeader >= 0) this.linkHeader += delta;
    if (this.networkHeader >= 0) this.networkHeader += delta;
    if (this.transportHeader >= 0) this.transportHeader += delta;
    this.borrowed = false;
  }

}

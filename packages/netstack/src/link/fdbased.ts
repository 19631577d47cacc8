// The fdbased link: an AF_PACKET socket bound to one Ethernet device (packet(7)), as netstack's link/fdbased.
//
// Receive: the socket is watched on the event loop (uv_poll in the native addon); when readable, frames are read
// in batches of up to `batchSize` with recvmmsg into one preallocated ring of fixed-size slots (the one copy on
// the receive path) and handed up as BORROWED PacketBuffers: the PacketBuffer objects are reused per slot and
// their bytes are overwritten by the next batch, so nothing is allocated per packet. A layer that keeps a packet
// calls pkt.retain() (see buffer/packet_buffer.ts). After each batch the dispatcher's deliverBatchEnd runs.
//
// Send: writePackets prepends the Ethernet header (and virtio_net_hdr) in each packet's headroom and sends the
// batch with one sendmmsg straight from the packets' own buffers (the one copy on the send path).
//
// Why uv_poll on the stack's own thread rather than a worker that blocks in recvmmsg: measured with
// fdbased_bench.test.ts (TSVISOR_LONG=1) on the shared 2-core VM over several runs, receiving 1514-byte frames cost
// 2.1-2.5 µs of process CPU per frame this way, against 2.4-2.8 µs when a worker received them and passed them
// through a SharedFrameRing (an extra copy and a cross-thread wake-up per batch). On two cores the peer's sender needs the
// other core anyway, so the pipelining a worker could add is not there to be had.
//
// Why recvmmsg rather than a PACKET_MMAP ring (rxRing option, kept for measuring on other machines): the ring
// needs 64 KiB frames for super-packets, so 8 MiB holds only 128 of them, and on the loaded 2-core VM it
// overflowed (about 60% of 1514-byte frames dropped at ~100 kpps offered) and cost ~4.4-4.9 µs CPU per frame, as
// each wake-up found only ~1.5 frames; recvmmsg with a 4 MiB socket buffer dropped none at the same rate and cost
// ~2.2-2.3 µs per frame. (TPACKET_V3's variable-size blocks would fit more frames, but hand a block over only
// when it fills or its retire timer fires, which adds latency to every lone packet.)
//
// Offload (gso, default on): PACKET_VNET_HDR. Received frames may be GRO/TSO super-packets of up to 64 KiB whose
// checksum the peer kernel vouches for; sent packets may be GSO super-packets (pkt.gso) that the kernel segments.
// With gso off, PACKET_AUXDATA still tells which frames carry a partial checksum from a local stack. Either way
// the slots are 64 KiB, because a local peer with TSO (a veth's default) hands over super-packets regardless.
import {
  closeFd, interfaceIndex, packetOpen, packetPollRef, packetPollStart, packetPollStop, packetRecvBatch, packetSendBatch,
  packetStats, PACKET_MAX_BATCH, PACKET_OUTGOING, PACKET_RX_CSUM_NOT_READY, PACKET_RX_CSUM_VALID, PACKET_RX_INFO_INTS,
  PACKET_RX_TRUNCATED, packetRxRing, TPACKET2_LEN, TPACKET2_MAC, TPACKET2_SLL_PKTTYPE, TPACKET2_SNAPLEN,
  TP_STATUS_CSUMNOTREADY, TP_STATUS_CSUM_VALID, TP_STATUS_KERNEL, TP_STATUS_USER, type PacketPollHandle,
  type PacketRxRing,
} from '@tsvisor/native';
import { GsoType, PacketBuffer, type GsoInfo } from '../buffer/packet_buffer.js';
import { ETHERNET_HEADER_SIZE } from '../header/ethernet.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../header/ipv4.js';
import { ARPHRD_ETHER, LinkCapability, type LinkDispatcher, type LinkEndpoint } from './link_endpoint.js';
import { prependEthernetHeader } from './ethernet_framing.js';
import {
  VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4, VIRTIO_NET_HDR_SIZE, gsoTypeFromVirtio, virtioNetHdrGsoSize,
  virtioNetHdrGsoType, writeEmptyVirtioNetHdr, writeVirtioNetHdr,
} from './virtio_net_hdr.js';
import { readHostDevice } from './host_netdev.js';

/** Receive slot: a 64 KiB super-packet plus Ethernet, VLAN and virtio_net_hdr, rounded to a cache line. */
const RX_SLOT_SIZE = 65536 + 128;
/**
 * Largest GSO super-packet accepted (network header + payload). The kernel takes a packet-socket frame of at most
 * 65535 bytes WITH its Ethernet header (one byte more fails with ENOBUFS, measured over a veth), so the IP packet
 * gets 65535 - 14; TCP's segment counts happened to stay under it, which was luck, not a guarantee.
 */
const GSO_MAX_SIZE = 65535 - 14;
/** Memory-mapped receive ring (rxRing option): 64 KiB + headers per frame, 4 frames per block, 128 frames. */
const RING_FRAME_SIZE = 65536 + 512;
const RING_FRAMES_PER_BLOCK = 4;
const RING_BLOCKS = 32;
/** Receive batches taken per readiness callback before yielding to other event-loop work. */
const RX_ROUNDS_PER_WAKEUP = 16;

export interface FdBasedOptions {
  /**
   * Adopt this already-open packet socket (from packetOpen, e.g. opened by runsc inside the container's network
   * namespace and passed over SCM_RIGHTS, as gVisor's runsc does) instead of opening one. Its PACKET_VNET_HDR
   * setting must match `gso`. The endpoint owns it from then on (close() closes it).
   */
  fd?: number;
  /** The device to bind (in the current network namespace). One of ifname/ifindex is required. */
  ifname?: string;
  ifindex?: number;
  /** Defaults read from the device (ip -j addr): its MAC and MTU. */
  linkAddress?: Uint8Array;
  mtu?: number;
  /** Use virtio_net_hdr for GSO/GRO and checksum offload (default true; runsc --gso=false turns it off). */
  gso?: boolean;
  /**
   * Receive through a memory-mapped TPACKET_V2 ring instead of recvmmsg (default false): the kernel copies frames
   * into the ring in the sender's context and no receive system call is made. See the measurements above.
   */
  rxRing?: boolean;
  /** Frames per recvmmsg/sendmmsg (default 64, at most 256). */
  batchSize?: number;
  /** Socket buffer sizes (default 4 MiB each; needs CAP_NET_ADMIN to exceed the sysctl limits). */
  rcvbuf?: number;
  sndbuf?: number;
}

export interface FdBasedStats {
  rxPackets: number;
  rxBytes: number;
  rxBatches: number;
  rxTruncated: number;
  rxRunts: number;
  rxErrors: number;
  /** errno of the last receive error (ENETDOWN once when the device goes away; the watch then goes quiet). */
  lastRxErrno: number;
  txPackets: number;
  txBytes: number;
  txBatches: number;
  txErrors: number;
  txOversized: number;
  /** errno of the last send error (ENXIO or ENETDOWN after the device went away, ENOBUFS under pressure). */
  lastTxErrno: number;
}

export class FdBasedEndpoint implements LinkEndpoint {
  readonly mtu: number;
  readonly maxHeaderLength: number;
  readonly linkAddress: Uint8Array;
  readonly capabilities: number;
  readonly gsoMaxSize: number;
  readonly arpHardwareType = ARPHRD_ETHER;
  readonly fd: number;
  readonly gso: boolean;
  readonly stats: FdBasedStats = {
    rxPackets: 0, rxBytes: 0, rxBatches: 0, rxTruncated: 0, rxRunts: 0, rxErrors: 0, lastRxErrno: 0,
    txPackets: 0, txBytes: 0, txBatches: 0, txErrors: 0, txOversized: 0, lastTxErrno: 0,
  };

  private dispatcher: LinkDispatcher | null = null;
  private poll: PacketPollHandle | null = null;
  private closed = false;
  private readonly batchSize: number;
  private readonly vnetLen: number;
  /** recvmmsg mode: the slot buffer and per-slot info. */
  private readonly rxSlots: Uint8Array;
  private readonly rxInfo: Int32Array;
  /** Ring mode: the mapped ring, its views, and the next frame to look at. */
  private readonly ring: PacketRxRing | null;
  private readonly ringBytes: Uint8Array;
  private readonly ringWords: Int32Array;
  private readonly ringHalfWords: Uint16Array;
  private readonly ringFrameOffsets: Int32Array;
  private ringNext = 0;
  /** One reusable PacketBuffer, GsoInfo and source-MAC view per receive slot. */
  private readonly rxPackets: PacketBuffer[] = [];
  private readonly rxGso: GsoInfo[] = [];
  private readonly rxSourceMacs: Uint8Array[] = [];
  private readonly txBufs: Uint8Array[];
  private readonly txRanges: Int32Array;
  private readonly onReadableBound = (): void => this.onReadable();

  private constructor(fd: number, opts: { mtu: number; linkAddress: Uint8Array; gso: boolean; batchSize: number; ring?: PacketRxRing | null }) {
    this.fd = fd;
    this.mtu = opts.mtu;
    this.linkAddress = Uint8Array.from(opts.linkAddress);
    this.gso = opts.gso;
    this.vnetLen = opts.gso ? VIRTIO_NET_HDR_SIZE : 0;
    this.maxHeaderLength = ETHERNET_HEADER_SIZE + this.vnetLen;
    this.capabilities = LinkCapability.RESOLUTION_REQUIRED
      | (opts.gso ? LinkCapability.GSO | LinkCapability.TX_CHECKSUM_OFFLOAD : 0);
    this.gsoMaxSize = opts.gso ? GSO_MAX_SIZE : 0;
    this.batchSize = Math.max(1, Math.min(opts.batchSize, PACKET_MAX_BATCH));
    this.ring = opts.ring ?? null;
    const slots = this.ring ? this.ring.frameCount : this.batchSize;
    this.rxSlots = this.ring ? EMPTY : new Uint8Array(RX_SLOT_SIZE * this.batchSize);
    this.rxInfo = new Int32Array(this.ring ? 0 : PACKET_RX_INFO_INTS * this.batchSize);
    this.ringBytes = this.ring ? new Uint8Array(this.ring.memory) : EMPTY;
    this.ringWords = this.ring ? new Int32Array(this.ring.memory) : new Int32Array(0);
    this.ringHalfWords = this.ring ? new Uint16Array(this.ring.memory) : new Uint16Array(0);
    this.ringFrameOffsets = new Int32Array(this.ring ? this.ring.frameCount : 0);
    const rxBuf = this.ring ? this.ringBytes : this.rxSlots;
    for (let i = 0; i < slots; i++) {
      let base: number;
      if (this.ring) {
        const r = this.ring;
        base = Math.floor(i / r.framesPerBlock) * r.blockSize + (i % r.framesPerBlock) * r.frameSize;
        this.ringFrameOffsets[i] = base;
      } else {
        base = i * RX_SLOT_SIZE;
      }
      const p = new PacketBuffer(rxBuf, base, base);
      p.borrowed = true;
      this.rxPackets.push(p);
      this.rxGso.push({ type: GsoType.NONE, size: 0, needsChecksum: false });
      // recvmmsg slots put the frame at a fixed place; ring frames say where (tp_mac), checked per frame.
      const eth = base + this.vnetLen;
      this.rxSourceMacs.push(rxBuf.subarray(eth + 6, eth + 12));
    }
    this.txBufs = new Array<Uint8Array>(PACKET_MAX_BATCH).fill(EMPTY);
    this.txRanges = new Int32Array(2 * PACKET_MAX_BATCH);
  }

  /**
   * Opens an AF_PACKET socket on the device (needs CAP_NET_RAW in the device's namespace). MAC and MTU default
   * to the device's own, read with `ip -j addr` (host_netdev.ts).
   */
  static open(opts: FdBasedOptions): FdBasedEndpoint {
    const gso = opts.gso ?? true;
    if (opts.fd === undefined && opts.ifname === undefined && opts.ifindex === undefined) {
      throw new RangeError('EINVAL: FdBasedEndpoint.open needs fd, ifname or ifindex');
    }
    let { linkAddress, mtu } = opts;
    let ifindex = opts.ifindex;
    // The device's MAC, MTU and index, unless all that is needed was given.
    const needIndex = opts.fd === undefined && ifindex === undefined;
    if (linkAddress === undefined || mtu === undefined || needIndex) {
      const name = opts.ifname;
      if (name === undefined) throw new RangeError('EINVAL: give ifname, or linkAddress and mtu (with fd or ifindex)');
      const dev = readHostDevice(name);
      if (dev.linkType !== 'ether' || dev.mac.length !== 6) {
        throw new RangeError(`EINVAL: ${name} is a ${dev.linkType} device; the fdbased link needs Ethernet`);
      }
      linkAddress ??= dev.mac;
      mtu ??= dev.mtu;
      ifindex ??= dev.ifindex;
    }
    if (linkAddress.length !== 6) throw new RangeError('EINVAL: linkAddress must be 6 bytes');
    const fd = opts.fd ?? packetOpen(ifindex!, { vnetHdr: gso, rcvbuf: opts.rcvbuf ?? 4 << 20, sndbuf: opts.sndbuf ?? 4 << 20 });
    let ring: PacketRxRing | null = null;
    if (opts.rxRing) {
      try {
        ring = packetRxRing(fd, RING_FRAME_SIZE, RING_FRAMES_PER_BLOCK, RING_BLOCKS);
      } catch (e) {
        if (opts.fd === undefined) closeFd(fd);
        throw e;
      }
    }
    return new FdBasedEndpoint(fd, { mtu, linkAddress, gso, batchSize: opts.batchSize ?? 64, ring });
  }

  attach(dispatcher: LinkDispatcher | null): void {
    this.dispatcher = dispatcher;
    if (dispatcher && !this.poll && !this.closed) {
      this.poll = packetPollStart(this.fd, this.onReadableBound);
    } else if (!dispatcher && this.poll) {
      packetPollStop(this.poll);
      this.poll = null;
    }
  }

  isAttached(): boolean { return this.dispatcher !== null; }

  /** Whether the receive watch keeps the process alive (default true, like a listening server). */
  setKeepAlive(on: boolean): void {
    if (this.poll) packetPollRef(this.poll, on);
  }

  /** Frames the kernel dropped because the socket's receive buffer was full, since the previous call. */
  kernelDrops(): number {
    return packetStats(this.fd).drops;
  }

  private onReadable(): void {
    if (this.ring) this.receiveFromRing();
    else this.receiveBatches();
  }

  /** recvmmsg mode: up to RX_ROUNDS_PER_WAKEUP batches into the slot buffer. */
  private receiveBatches(): void {
    const d = this.dispatcher;
    if (!d || this.closed) return;
    const slots = this.rxSlots;
    const info = this.rxInfo;
    const st = this.stats;
    for (let round = 0; round < RX_ROUNDS_PER_WAKEUP; round++) {
      const n = packetRecvBatch(this.fd, slots, RX_SLOT_SIZE, this.batchSize, info);
      if (n <= 0) {
        if (n < 0) { st.rxErrors++; st.lastRxErrno = -n; }
        return;
      }
      st.rxBatches++;
      for (let i = 0; i < n; i++) {
        const type = info[i * PACKET_RX_INFO_INTS + 1];
        const status = info[i * PACKET_RX_INFO_INTS + 2];
        if (type === PACKET_OUTGOING) continue; // kernels without PACKET_IGNORE_OUTGOING echo our own frames
        if ((status & PACKET_RX_TRUNCATED) !== 0) { st.rxTruncated++; continue; }
        const base = i * RX_SLOT_SIZE;
        const pkt = this.rxPackets[i];
        const validated = (status & (PACKET_RX_CSUM_NOT_READY | PACKET_RX_CSUM_VALID)) !== 0;
        if (!this.fillReceived(pkt, slots, base, base + this.vnetLen, base + info[i * PACKET_RX_INFO_INTS], type, validated, i)) continue;
        d.deliverNetworkPacket(pkt.networkProtocol, pkt);
        if (this.closed || this.dispatcher !== d) return;
      }
      d.deliverBatchEnd?.();
      if (n < this.batchSize) return;
    }
  }

  /** Ring mode: every frame the kernel has handed over, in order, each returned to the kernel once delivered. */
  private receiveFromRing(): void {
    const d = this.dispatcher;
    const ring = this.ring;
    if (!d || !ring || this.closed) return;
    const bytes = this.ringBytes;
    const words = this.ringWords;
    const half = this.ringHalfWords;
    const st = this.stats;
    const limit = this.batchSize * RX_ROUNDS_PER_WAKEUP;
    let inBatch = 0;
    for (let taken = 0; taken < limit; taken++) {
      const i = this.ringNext;
      const off = this.ringFrameOffsets[i];
      // Acquire: the kernel publishes tp_status last (smp_wmb before it), so the frame is complete once we see it.
      const status = Atomics.load(words, off >> 2);
      if ((status & TP_STATUS_USER) === 0) break;
      this.ringNext = i + 1 === ring.frameCount ? 0 : i + 1;
      const len = words[(off + TPACKET2_LEN) >> 2];
      const snap = words[(off + TPACKET2_SNAPLEN) >> 2];
      const mac = off + half[(off + TPACKET2_MAC) >> 1];
      const type = bytes[off + TPACKET2_SLL_PKTTYPE];
      const pkt = this.rxPackets[i];
      let deliver = true;
      if (type === PACKET_OUTGOING) deliver = false;
      else if (snap < len) { st.rxTruncated++; deliver = false; }
      if (deliver) {
        if (this.rxSourceMacs[i].byteOffset !== mac + 6) this.rxSourceMacs[i] = bytes.subarray(mac + 6, mac + 12);
        const validated = (status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)) !== 0;
        deliver = this.fillReceived(pkt, bytes, mac - this.vnetLen, mac, mac + snap, type, validated, i);
      }
      if (deliver) {
        inBatch++;
        try {
          d.deliverNetworkPacket(pkt.networkProtocol, pkt);
        } finally {
          // Hand the frame back even if the stack threw: a slot left as ours would stall the ring for good.
          Atomics.store(words, off >> 2, TP_STATUS_KERNEL);
        }
      } else {
        Atomics.store(words, off >> 2, TP_STATUS_KERNEL);
      }
      if (this.closed || this.dispatcher !== d) return;
      if (inBatch === this.batchSize) { st.rxBatches++; d.deliverBatchEnd?.(); inBatch = 0; }
    }
    if (inBatch > 0) { st.rxBatches++; d.deliverBatchEnd?.(); }
  }

  /**
   * Points slot `i`'s reusable PacketBuffer at a received frame [eth, end) in `buf` (virtio_net_hdr at `vnetAt`
   * when gso is on) and fills its metadata. False (and counted) if the frame is not one to deliver.
   */
  private fillReceived(pkt: PacketBuffer, buf: Uint8Array, vnetAt: number, eth: number, end: number, type: number, auxValidated: boolean, i: number): boolean {
    const st = this.stats;
    if (end - eth < ETHERNET_HEADER_SIZE) { st.rxRunts++; return false; }
    const etherType = (buf[eth + 12] << 8) | buf[eth + 13];
    if (etherType < 0x0600) { st.rxRunts++; return false; } // 802.3 length field: not ours to parse
    pkt.buf = buf;
    pkt.borrowed = true;
    pkt.linkHeader = eth;
    pkt.head = eth + ETHERNET_HEADER_SIZE;
    pkt.tail = end;
    pkt.networkHeader = pkt.head;
    pkt.transportHeader = -1;
    pkt.networkProtocol = etherType;
    pkt.transportProtocol = -1;
    pkt.packetType = type;
    pkt.remoteLinkAddress = this.rxSourceMacs[i];
    pkt.hash = 0;
    pkt.gso = null;
    if (this.vnetLen > 0) {
      const flags = buf[vnetAt];
      pkt.checksumValidated = (flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) !== 0;
      const gt = virtioNetHdrGsoType(buf, vnetAt);
      if (gt !== VIRTIO_NET_HDR_GSO_NONE) {
        const g = this.rxGso[i];
        g.type = gsoTypeFromVirtio(gt);
        g.size = virtioNetHdrGsoSize(buf, vnetAt);
        g.needsChecksum = (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
        pkt.gso = g;
      }
    } else {
      pkt.checksumValidated = auxValidated;
    }
    st.rxPackets++;
    st.rxBytes += end - eth;
    return true;
  }

  writePackets(batch: PacketBuffer[]): number {
    if (this.closed) return 0;
    let sent = 0;
    while (sent < batch.length) {
      const chunk = Math.min(batch.length - sent, PACKET_MAX_BATCH);
      let n = 0;
      for (; n < chunk; n++) {
        const pkt = batch[sent + n];
        if (!this.frame(pkt)) break;
        this.txBufs[n] = pkt.buf;
        this.txRanges[2 * n] = pkt.head;
        this.txRanges[2 * n + 1] = pkt.tail;
      }
      const r = n > 0 ? packetSendBatch(this.fd, this.txBufs, this.txRanges, n) : 0;
      for (let i = 0; i < n; i++) this.txBufs[i] = EMPTY; // drop references so packets can be collected
      this.stats.txBatches++;
      if (r < 0) {
        this.stats.txErrors++;
        this.stats.lastTxErrno = -r;
        return sent;
      }
      for (let i = 0; i < r; i++) this.stats.txBytes += this.txRanges[2 * i + 1] - this.txRanges[2 * i] - this.vnetLen;
      this.stats.txPackets += r;
      sent += r;
      if (r < chunk) return sent; // an oversized packet or a send error stopped the batch
    }
    return sent;
  }

  /**
   * Prepends this link's headers in the packet's headroom (virtio_net_hdr when gso is on, then Ethernet), exactly
   * as writePackets does before sendmmsg, without sending: pkt.buf[pkt.head, pkt.tail) is then the frame the socket
   * takes. For a sender that moves the bytes itself (WorkerQdisc copies them into a ring for a worker thread).
   * False (counted in stats.txOversized) if the packet cannot go out on this link.
   */
  prepareFrame(pkt: PacketBuffer): boolean {
    return this.frame(pkt);
  }

  /** Prepends link headers; false (and counted) if the packet cannot go out on this link. */
  private frame(pkt: PacketBuffer): boolean {
    const g = pkt.gso;
    const offload = g !== null && (g.type !== GsoType.NONE || g.needsChecksum);
    if (offload && this.vnetLen === 0) { this.stats.txOversized++; return false; }
    if (pkt.tail - pkt.head > (g !== null && g.type !== GsoType.NONE ? this.gsoMaxSize : this.mtu)) {
      this.stats.txOversized++;
      return false;
    }
    prependEthernetHeader(pkt, this.linkAddress);
    if (this.vnetLen === 0) return true;
    const at = pkt.prepend(VIRTIO_NET_HDR_SIZE);
    if (!offload || g === null) {
      writeEmptyVirtioNetHdr(pkt.buf, at);
      return true;
    }
    // Offsets in virtio_net_hdr count from the start of the frame (the Ethernet header), not from our prefix.
    const th = pkt.transportHeader;
    if (th < 0) { this.stats.txOversized++; return false; }
    const csumStart = th - pkt.linkHeader;
    let thLen: number;
    let csumOffset: number;
    if (pkt.transportProtocol === IPPROTO_TCP) {
      thLen = (pkt.buf[th + 12] >> 4) * 4;
      csumOffset = 16;
    } else if (pkt.transportProtocol === IPPROTO_UDP) {
      thLen = 8;
      csumOffset = 6;
    } else {
      this.stats.txOversized++;
      return false;
    }
    let gsoType = VIRTIO_NET_HDR_GSO_NONE;
    if (g.type === GsoType.TCPV4) gsoType = VIRTIO_NET_HDR_GSO_TCPV4;
    else if (g.type === GsoType.TCPV6) gsoType = VIRTIO_NET_HDR_GSO_TCPV6;
    else if (g.type === GsoType.UDP_L4) gsoType = VIRTIO_NET_HDR_GSO_UDP_L4;
    // The kernel only accepts GSO with a partial checksum to finish (virtio_net_hdr_to_skb), so GSO implies it.
    const flags = g.needsChecksum || gsoType !== VIRTIO_NET_HDR_GSO_NONE ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
    writeVirtioNetHdr(pkt.buf, at, flags, gsoType, csumStart + thLen, gsoType === VIRTIO_NET_HDR_GSO_NONE ? 0 : g.size, csumStart, csumOffset);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) { packetPollStop(this.poll); this.poll = null; }
    this.dispatcher = null;
    closeFd(this.fd);
  }
}

const EMPTY = new Uint8Array(0);

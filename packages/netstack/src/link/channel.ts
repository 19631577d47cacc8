// In-memory link endpoints, for tests and for embedding the stack in a program that moves frames itself.
//
// A ChannelEndpoint hands every written packet to `onOutbound` (or queues it for readOutbound()), and takes
// received frames through injectInbound(). createChannelPair() wires two of them back to back, with optional
// impairments (loss, duplication, reordering, delay) drawn from a seeded generator, so a test that fails
// replays exactly from its seed.
//
// Delivery is never synchronous with the write: frames cross on a later turn of the event loop, as on a wire,
// so a stack that answers a packet from inside its receive path cannot recurse into itself.
import { PacketBuffer, DEFAULT_HEADROOM } from '../buffer/packet_buffer.js';
import { ETHERNET_HEADER_SIZE } from '../header/ethernet.js';
import { ARPHRD_ETHER, ARPHRD_NONE, LinkCapability, type LinkDispatcher, type LinkEndpoint } from './link_endpoint.js';
import { parseEthernetHeader, prependEthernetHeader } from './ethernet_framing.js';

export interface ChannelOptions {
  mtu?: number;
  /** Carry Ethernet frames (with ARP/NDP resolution) instead of bare network packets. Default true. */
  ethernet?: boolean;
  /** MAC of this end (Ethernet mode); default 02:00:00:00:00:NN with a per-endpoint counter. */
  linkAddress?: Uint8Array;
  /** Extra LinkCapability bits (e.g. RX_CHECKSUM_OFFLOAD to skip checksum verification). */
  capabilities?: number;
  /** Most frames queued for readOutbound() before writes are refused. Default 1024. */
  queueLimit?: number;
}

/** One frame on the wire of a channel: the bytes and, for bare links, the network protocol. */
export interface ChannelFrame {
  protocol: number;
  bytes: Uint8Array;
}

let nextMac = 1;

export class ChannelEndpoint implements LinkEndpoint {
  readonly mtu: number;
  readonly maxHeaderLength: number;
  readonly linkAddress: Uint8Array;
  readonly capabilities: number;
  readonly gsoMaxSize = 0;
  readonly arpHardwareType: number;
  readonly ethernet: boolean;
  /** Called with each written frame; when unset frames queue for readOutbound(). */
  onOutbound: ((frame: ChannelFrame) => void) | null = null;
  /** Counters for tests: frames written, received, refused. */
  readonly stats = { tx: 0, rx: 0, txDropped: 0, rxDropped: 0 };
  private dispatcher: LinkDispatcher | null = null;
  private readonly outbound: ChannelFrame[] = [];
  private readonly queueLimit: number;
  private closed = false;

  constructor(opts: ChannelOptions = {}) {
    this.mtu = opts.mtu ?? 1500;
    this.ethernet = opts.ethernet ?? true;
    this.linkAddress = this.ethernet
      ? Uint8Array.from(opts.linkAddress ?? [0x02, 0, 0, 0, (nextMac >> 8) & 0xff, nextMac++ & 0xff])
      : new Uint8Array(0);
    this.maxHeaderLength = this.ethernet ? ETHERNET_HEADER_SIZE : 0;
    this.capabilities = (opts.capabilities ?? 0) | (this.ethernet ? LinkCapability.RESOLUTION_REQUIRED : 0);
    this.arpHardwareType = this.ethernet ? ARPHRD_ETHER : ARPHRD_NONE;
    this.queueLimit = opts.queueLimit ?? 1024;
  }

  attach(dispatcher: LinkDispatcher | null): void { this.dispatcher = dispatcher; }
  isAttached(): boolean { return this.dispatcher !== null; }

  writePackets(batch: PacketBuffer[]): number {
    let n = 0;
    for (const pkt of batch) {
      if (this.closed || (!this.onOutbound && this.outbound.length >= this.queueLimit)) {
        this.stats.txDropped += batch.length - n;
        break;
      }
      if (this.ethernet) prependEthernetHeader(pkt, this.linkAddress);
      // Copy: the frame is "on the wire" now and must not change if the sender reuses its buffer.
      const frame: ChannelFrame = { protocol: pkt.networkProtocol, bytes: pkt.buf.slice(pkt.head, pkt.tail) };
      this.stats.tx++;
      if (this.onOutbound) this.onOutbound(frame);
      else this.outbound.push(frame);
      n++;
    }
    return n;
  }

  /** Takes the oldest written frame, or null. */
  readOutbound(): ChannelFrame | null {
    return this.outbound.shift() ?? null;
  }

  /** Frames written and not yet read. */
  get outboundLength(): number { return this.outbound.length; }

  /**
   * Delivers one received frame to the attached dispatcher now (synchronously; the caller picks the moment).
   * For Ethernet channels `protocol` is ignored and read from the frame. Returns false if dropped.
   */
  injectInbound(bytes: Uint8Array, protocol = 0): boolean {
    if (this.closed || !this.dispatcher) { this.stats.rxDropped++; return false; }
    const pkt = PacketBuffer.fromPayload(bytes, DEFAULT_HEADROOM);
    if (this.capabilities & LinkCapability.RX_CHECKSUM_OFFLOAD) pkt.checksumValidated = true;
    let proto = protocol;
    if (this.ethernet) {
      proto = parseEthernetHeader(pkt, this.linkAddress);
      if (proto < 0) { this.stats.rxDropped++; return false; }
    } else {
      pkt.networkHeader = pkt.head;
      pkt.networkProtocol = proto;
    }
    this.stats.rx++;
    this.dispatcher.deliverNetworkPacket(proto, pkt);
    return true;
  }

  /** Signals the end of a batch of injectInbound calls (LinkDispatcher.deliverBatchEnd). */
  endInboundBatch(): void { this.dispatcher?.deliverBatchEnd?.(); }

  close(): void {
    this.closed = true;
    this.outbound.length = 0;
    this.onOutbound = null;
  }
}

/** Deterministic impairments for a channel pair, applied per frame in each direction. */
export interface ChannelImpairments {
  /** Seed of the generator (xorshift32); the same seed gives the same drops and delays. */
  seed?: number;
  /** Probability a frame is lost. */
  loss?: number;
  /** Probability a frame is delivered twice. */
  duplicate?: number;
  /** Probability a frame is held back and delivered after the next one. */
  reorder?: number;
  /** Fixed one-way delay in milliseconds (0: next event-loop turn). */
  delayMs?: number;
  /** Extra random delay up to this many milliseconds (also reorders). */
  jitterMs?: number;
  /** Decides per frame; returning false drops it (after the random impairments). For targeted tests. */
  filter?: (frame: ChannelFrame, from: 'a' | 'b') => boolean;
}

/** Two channel endpoints connected back to back. Call close() on the pair (or both ends) when done. */
export class ChannelPair {
  readonly a: ChannelEndpoint;
  readonly b: ChannelEndpoint;
  private rand: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending: { to: ChannelEndpoint; frames: ChannelFrame[] }[] = [];
  private flushScheduled = false;
  private held: { a: ChannelFrame | null; b: ChannelFrame | null } = { a: null, b: null };

  constructor(private readonly imp: ChannelImpairments = {}, opts: ChannelOptions = {}) {
    this.a = new ChannelEndpoint(opts);
    this.b = new ChannelEndpoint({ ...opts, linkAddress: undefined });
    let x = (imp.seed ?? 1) >>> 0 || 1;
    this.rand = () => {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      return x / 0x100000000;
    };
    this.a.onOutbound = (f) => this.carry(f, 'a', this.b);
    this.b.onOutbound = (f) => this.carry(f, 'b', this.a);
  }

  private carry(frame: ChannelFrame, from: 'a' | 'b', to: ChannelEndpoint): void {
    const imp = this.imp;
    if (imp.loss && this.rand() < imp.loss) return;
    if (imp.filter && !imp.filter(frame, from)) return;
    const copies = imp.duplicate && this.rand() < imp.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      if (imp.reorder && this.held[from] === null && this.rand() < imp.reorder) {
        this.held[from] = frame;
        continue;
      }
      this.schedule(to, frame);
      const h = this.held[from];
      if (h) { this.held[from] = null; this.schedule(to, h); }
    }
  }

  private schedule(to: ChannelEndpoint, frame: ChannelFrame): void {
    const delay = (this.imp.delayMs ?? 0) + (this.imp.jitterMs ? this.rand() * this.imp.jitterMs : 0);
    if (delay > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        to.injectInbound(frame.bytes, frame.protocol);
        to.endInboundBatch();
      }, delay);
      this.timers.add(t);
      return;
    }
    // Batch everything written in this turn into one delivery per endpoint on the next turn.
    const last = this.pending[this.pending.length - 1];
    if (last && last.to === to) last.frames.push(frame);
    else this.pending.push({ to, frames: [frame] });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batches = this.pending.splice(0);
    for (const { to, frames } of batches) {
      for (const f of frames) to.injectInbound(f.bytes, f.protocol);
      to.endInboundBatch();
    }
  }

  /** Frames held back for reordering are released (a test that ends a stream calls this). */
  releaseHeld(): void {
    if (this.held.a) { this.schedule(this.b, this.held.a); this.held.a = null; }
    if (this.held.b) { this.schedule(this.a, this.held.b); this.held.b = null; }
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pending.length = 0;
    this.a.close();
    this.b.close();
  }
}

/** Two connected channel endpoints (see ChannelPair for impairments). */
export function createChannelPair(imp: ChannelImpairments = {}, opts: ChannelOptions = {}): ChannelPair {
  return new ChannelPair(imp, opts);
}

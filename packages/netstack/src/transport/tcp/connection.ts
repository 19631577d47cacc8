// The TCP protocol engine of one connection: the RFC 9293 state machine, send and receive paths, loss recovery
// and timers. endpoint.ts puts the socket API on top. Section numbers in comments refer to RFC 9293 unless
// another RFC is named.
//
// Threading: everything runs on the caller's thread; received segments are processed synchronously and output
// (data, ACKs) is flushed once per burst from a microtask, which coalesces ACKs for segments that arrive together.

import {
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_MIN_HEADER_LENGTH,
  tcpChecksum,
  tcpOptionsLength,
  tcpPseudoHeaderSum,
  writeTcpHeader,
  type TcpOptionsToWrite,
} from '../../header/tcp.js';
import { GsoType, PacketBuffer } from '../../buffer/packet_buffer.js';
import type { Address, FullAddress } from '../../stack/address.js';
import type { Timer } from '../../stack/clock.js';
import type { NetworkWriteParams } from '../../stack/route.js';
import { MAX_BUFFER_SIZE, SocketOptions } from '../../stack/socket_options.js';
import { TcpipErrors, type TcpipError } from '../../stack/tcpip_error.js';
import type {
  NetworkReceiveInfo,
  TransportEndpoint,
  TransportEndpointId,
  TransportErrorInfo,
} from '../../stack/transport_protocol.js';
import { EventMask, WaiterQueue } from '../../waiter/waiter_queue.js';
import { createCongestionControl, type CongestionControl, type CongestionControlName } from './congestion-control.js';
import type { TcpRoute } from './host.js';
import type { CookieOptions, TcpProtocol } from './protocol.js';
import { ReceiveBuffer } from './receive-buffer.js';
import { RttEstimator } from './rtt-estimator.js';
import type { InboundSegment } from './segment.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqDiff, seqGE, seqGT, seqLE, seqLT, seqMax } from './seqnum.js';
import { SEG_LOST, TransmitQueue } from './transmit-queue.js';

/** Linux's TCP state numbers (include/net/tcp_states.h), as TCP_INFO and /proc/net/tcp report them. */
export const TcpState = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSED: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
} as const;
export type TcpStateValue = (typeof TcpState)[keyof typeof TcpState];

const TCP = 6;
/** RFC 9293 3.7.1: default send MSS when the peer sends no MSS option (IPv4 536, IPv6 1220 per RFC 8200 5). */
export const DEFAULT_MSS_V4 = 536;
const DEFAULT_MSS_V6 = 1220;
/** Linux's delayed-ACK timeout floor (TCP_DELACK_MIN, 40 ms); RFC 9293 3.8.6.3 caps it at 500 ms. */
const DELAYED_ACK_MS = 40;
/** TCP_CORK holds a partial segment at most 200 ms (tcp(7)). */
export const CORK_FLUSH_MS = 200;
/** Linux defaults: tcp_syn_retries 6, tcp_synack_retries 5, tcp_retries2 15. */
const SYN_RETRIES = 6;
const SYNACK_RETRIES = 5;
const DATA_RETRIES = 15;
/** Zero-window probes back off up to this interval (Linux TCP_RTO_MAX is 120 s; RFC 9293 3.8.6.1 has no cap). */
const MAX_PERSIST_MS = 60_000;
/** tcp(7): TCP_KEEPIDLE 7200 s, TCP_KEEPINTVL 75 s, TCP_KEEPCNT 9. */
const KEEPALIVE_IDLE_S = 7200;
const KEEPALIVE_INTERVAL_S = 75;
const KEEPALIVE_COUNT = 9;
/** Orphaned FIN-WAIT-2 lifetime (tcp(7) tcp_fin_timeout, 60 s). */
export const FIN_WAIT2_TIMEOUT_MS = 60_000;
/** A zero-window peer that stays silent this long is given up on (Linux: TCP_RTO_MAX since the last ACK). */
const DEFAULT_MAX_ZERO_WINDOW_SILENCE_MS = 120_000;
/** RFC 7323 5.5: timestamps older than 24 days are not used for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/** Why a connection ended, reported once through read/write and SO_ERROR. */
type PendingError = TcpipError | undefined;

/**
 * RFC 7323 2.2: the smallest shift that lets the 16-bit window cover the largest buffer SO_RCVBUF can set (the
 * shift is fixed at the SYN; Linux likewise sizes it for tcp_rmem's maximum rather than the current buffer).
 */
export function receiveWindowShift(capacity: number): number {
  const bytes = Math.max(capacity, MAX_BUFFER_SIZE);
  let shift = 0;
  while (shift < 14 && bytes >>> shift > 0xffff) shift++;
  return shift;
}

export abstract class TcpConnection implements TransportEndpoint {
  readonly options = new SocketOptions();

  state: TcpStateValue = TcpState.CLOSED;
  // Addressing.
  protected localAddress: Address | undefined;
  protected localPort = 0;
  protected remoteAddress: Address | undefined;
  protected remotePort = 0;
  protected boundNic = 0;
  protected portReserved = false;
  protected registeredId: TransportEndpointId | undefined;
  route: TcpRoute | undefined;
  /** GSO super-packet limit of the route's NIC (0: none). */
  protected gsoMaxSize = 0;
  /** TCP sets DF: path MTU discovery (RFC 1191, RFC 8201). */
  protected readonly writeParams: NetworkWriteParams = { protocol: TCP, ttl: 0, tos: 0, dontFragment: true };

  // Send sequence variables (3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndWnd = 0;
  protected sndWl1 = 0;
  protected sndWl2 = 0;
  protected maxSndWnd = 0;
  protected sndWndShift = 0;
  /** Payload bytes per segment on the wire (peer MSS, our MTU, option overhead). */
  sndMss = DEFAULT_MSS_V4;
  // Receive sequence variables.
  irs = 0;
  rcvNxt = 0;
  protected rcvWndShift = 0;
  /** Right edge of the window we last advertised; never moved left (3.8.6.2.1, "shrinking the window"). */
  protected rcvAdvEdge = 0;
  protected rcvMss = DEFAULT_MSS_V4;

  // Options negotiated in the handshake.
  protected wsOk = false;
  sackOk = false;
  tsOk = false;
  protected tsRecent = 0;
  protected tsRecentAt = 0;
  protected lastAckSent = 0;
  /** Per 4-tuple offset of our timestamp clock (set at connect/SYN; keyed so TIME-WAIT reuse can compare). */
  protected tsOffset = 0;

  // Buffers and bookkeeping.
  readonly sendBuffer: SendBuffer;
  readonly receiveBuffer: ReceiveBuffer;
  readonly txq = new TransmitQueue();
  readonly rtt: RttEstimator;
  cc: CongestionControl;
  protected ccName: CongestionControlName;

  // FIN handling.
  protected finQueued = false;
  protected finSent = false;
  protected finSeq = 0;
  protected finReceived = false;
  protected peerFinSeq = -1;
  protected shutRead = false;
  protected shutWrite = false;

  // Loss recovery.
  inRecovery = false;
  protected recoveryPoint = 0;
  protected dupAcks = 0;
  protected tlpOutstanding = false;
  protected retries = 0;
  totalRetransmits = 0;
  protected lastSendTime = 0;
  protected lastReceiveTime = 0;

  // ACK generation.
  protected ackPending = false;
  protected ackNow = false;
  protected segsSinceAck = 0;
  protected flushQueued = false;

  // Timers: one stack Timer re-armed for the earliest deadline (ms, Infinity when idle).
  protected timer: Timer | undefined;
  protected timerAt = Infinity;
  protected rtoAt = Infinity;
  protected tlpAt = Infinity;
  protected reorderAt = Infinity;
  protected delackAt = Infinity;
  protected persistAt = Infinity;
  protected persistBackoff = 0;
  protected keepaliveAt = Infinity;
  protected keepaliveProbes = 0;
  protected timeWaitAt = Infinity;
  protected finWait2At = Infinity;
  protected lingerAt = Infinity;
  protected corkAt = Infinity;

  // Socket options.
  noDelay = false;
  protected cork = false;
  protected keepAlive = false;
  protected keepIdleS = KEEPALIVE_IDLE_S;
  protected keepIntervalS = KEEPALIVE_INTERVAL_S;
  protected keepCount = KEEPALIVE_COUNT;
  protected userTimeoutMs = 0;
  protected synRetries = SYN_RETRIES;
  protected linger: { enabled: boolean; seconds: number } = { enabled: false, seconds: 0 };
  protected userMss = 0;
  /** TCP_LINGER2: orphaned FIN-WAIT-2 lifetime. */
  protected finWait2TimeoutMs = FIN_WAIT2_TIMEOUT_MS;
  /** TCP_WINDOW_CLAMP: the largest window we advertise (0: no clamp). */
  protected windowClamp = 0;

  // Listening.
  protected backlog = 0;
  protected readonly synQueue = new Set<TcpConnection>();
  protected readonly acceptQueue: TcpConnection[] = [];
  /** The listener that created this endpoint, until accept() hands it out. */
  protected parent: TcpConnection | undefined;
  /** Created from a SYN (passive open), so RST in SYN-RECEIVED returns silently (3.10.7.4). */
  protected passive = false;

  protected pendingError: PendingError;
  protected userClosed = false;
  protected released = false;
  protected everConnected = false;

  constructor(
    readonly stackProtocol: TcpProtocol,
    readonly family: 4 | 6,
    readonly waiterQueue: WaiterQueue,
  ) {
    const p = stackProtocol.settings;
    this.sendBuffer = new SendBuffer(p.sendBufferSize);
    this.receiveBuffer = new ReceiveBuffer(p.receiveBufferSize);
    this.rtt = new RttEstimator(p.rtoLimits);
    this.ccName = p.congestionControl;
    this.cc = createCongestionControl(this.ccName, this.sndMss);
  }

  protected get clockNow(): number {
    return this.stackProtocol.host.clock.nowMs();
  }

  protected notify(mask: number): void {
    this.waiterQueue.notify(mask);
  }

  /** MSG_MORE on the last write: hold a partial segment like TCP_CORK (tcp(7)). */
  protected moreHint = false;

  protected takeError(): TcpipError | undefined {
    const e = this.pendingError;
    this.pendingError = undefined;
    return e;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Registration and teardown

  /** The stack is shutting down: stop timers and drop the connection without sending anything. */
  stopForStackClose(): void {
    this.timer?.stop();
    this.timerAt = Infinity;
    this.released = true;
    if (this.state !== TcpState.CLOSED) {
      this.state = TcpState.CLOSED;
      this.notify(EventMask.IN | EventMask.OUT | EventMask.HUP);
    }
  }

  /**
   * Register with the demuxer under each network family (a dual-stack IPv6 listener also takes IPv4 SYNs;
   * a connection registers under the family its route uses).
   */
  protected register(id: TransportEndpointId, families: readonly (4 | 6)[] = [this.netFamily]): void {
    this.stackProtocol.liveEndpoints.add(this);
    this.unregister();
    for (const f of families) {
      this.stackProtocol.host.demuxer.register(f, TCP, id, this, this.boundNic, this.options.flag('reusePort'));
    }
    this.registeredId = id;
    this.registeredFamilies = families;
  }

  protected unregister(): void {
    if (!this.registeredId) return;
    for (const f of this.registeredFamilies) this.stackProtocol.host.demuxer.unregister(f, TCP, this.registeredId, this);
    this.registeredId = undefined;
  }
  protected registeredFamilies: readonly (4 | 6)[] = [];

  /** The network family packets travel on: the route's (IPv4 for a v4-mapped peer of an IPv6 socket). */
  get netFamily(): 4 | 6 {
    return this.route ? this.route.family : this.family;
  }

  /** An address as this socket reports it: v4-mapped on IPv6 sockets (ipv6(7)). */
  protected toUserAddress(a: Address): Address {
    return this.family === 6 && a.family === 4 ? a.mapToV6() : a;
  }

  /** The user is done with this endpoint and the protocol is too: free the port and the demuxer slot. */
  protected release(): void {
    if (this.state !== TcpState.CLOSED && this.state !== TcpState.LISTEN) return;
    if (this.released) return;
    this.released = true;
    this.stackProtocol.liveEndpoints.delete(this);
    this.unregister();
    if (this.portReserved && this.userClosed) {
      this.stackProtocol.host.ports.release(TCP, this.localPort, this);
      this.portReserved = false;
    }
    this.timer?.stop();
    this.timerAt = Infinity;
  }

  protected setClosed(): void {
    this.state = TcpState.CLOSED;
    this.rtoAt = this.tlpAt = this.reorderAt = this.delackAt = this.persistAt = Infinity;
    this.keepaliveAt = this.timeWaitAt = this.finWait2At = this.lingerAt = this.corkAt = Infinity;
    this.unregister();
    if (this.parent) {
      this.parent.synQueue.delete(this);
      const i = this.parent.acceptQueue.indexOf(this);
      if (i >= 0) this.parent.acceptQueue.splice(i, 1);
    }
    if (this.userClosed || this.parent) this.release();
    this.notify(EventMask.IN | EventMask.OUT | EventMask.HUP | EventMask.ERR | EventMask.RDHUP);
  }

  /** Drop the connection, optionally telling the peer with RST (3.10.4 ABORT). */
  abort(sendRst: boolean, err: TcpipError | undefined): void {
    if (sendRst && this.route && this.state !== TcpState.CLOSED && this.state !== TcpState.LISTEN &&
        this.state !== TcpState.SYN_SENT && this.state !== TcpState.TIME_WAIT) {
      this.sendControl(this.sndNxt, this.rcvNxt, TCP_FLAG_RST | TCP_FLAG_ACK);
      this.stackProtocol.stats.resetsSent++;
    }
    if (err) this.pendingError = err;
    this.setClosed();
  }

  protected closeListener(): void {
    for (const c of [...this.synQueue, ...this.acceptQueue]) c.abort(true, TcpipErrors.connectionReset);
    this.synQueue.clear();
    this.acceptQueue.length = 0;
    this.stackProtocol.host.ports.setListening(TCP, this.localPort, this, false);
    this.unregister();
    this.state = TcpState.CLOSED;
    this.notify(EventMask.IN | EventMask.HUP);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Handshake helpers

  protected initMss(): void {
    const route = this.route!;
    this.gsoMaxSize = this.stackProtocol.host.gsoMaxSize(route.nic);
    const hdr = TCP_MIN_HEADER_LENGTH;
    // Advertised MSS (3.7.1): what fits in one IP packet on our side.
    this.rcvMss = Math.max(88, route.maxPayload - hdr);
    if (this.userMss) this.rcvMss = Math.min(this.rcvMss, this.userMss);
    this.sndMss = Math.min(this.netFamily === 4 ? DEFAULT_MSS_V4 : DEFAULT_MSS_V6, this.rcvMss);
    this.rcvWndShift = receiveWindowShift(this.receiveBuffer.capacity);
  }


  /** Apply the options of the peer's SYN (RFC 7323 2.2, 3.2; RFC 2018 2). */
  protected negotiate(seg: InboundSegment, weOffered: boolean): void {
    const o = seg.options;
    const peerMss = o.mss > 0 ? o.mss : this.netFamily === 4 ? DEFAULT_MSS_V4 : DEFAULT_MSS_V6;
    this.wsOk = weOffered && o.windowScale >= 0;
    this.sndWndShift = this.wsOk ? o.windowScale : 0;
    if (!this.wsOk) this.rcvWndShift = 0;
    this.sackOk = weOffered && o.sackPermitted;
    this.tsOk = weOffered && o.hasTimestamp;
    if (this.tsOk) {
      this.tsRecent = o.tsVal;
      this.tsRecentAt = this.clockNow;
    }
    // RFC 9293 3.7.1 / RFC 6691: the payload per segment excludes the options we will send on every segment.
    this.sndMss = Math.max(64, Math.min(peerMss, this.rcvMss) - (this.tsOk ? 12 : 0));
    this.cc = createCongestionControl(this.ccName, this.sndMss);
  }

  protected synOptions(): TcpOptionsToWrite {
    const o = this.stackProtocol.scratchOptions;
    resetOptionsToWrite(o);
    o.mss = this.rcvMss;
    const s = this.stackProtocol.settings;
    if (s.windowScaling) o.windowScale = this.rcvWndShift;
    if (s.sack) o.sackPermitted = true;
    if (s.timestamps) {
      o.timestamp = true;
      o.tsVal = this.tsNow();
      o.tsEcr = this.state === TcpState.SYN_SENT ? 0 : this.tsRecent;
    }
    return o;
  }

  protected sendSyn(withAck: boolean): void {
    const flags = TCP_FLAG_SYN | (withAck ? TCP_FLAG_ACK : 0);
    const passiveOpts = withAck ? this.synAckOptions() : this.synOptions();
    // The window in a SYN is never scaled (RFC 7323 2.2).
    const wnd = Math.min(0xffff, this.receiveBuffer.free, this.windowClamp || Infinity);
    this.emit(this.iss, withAck ? this.rcvNxt : 0, flags, wnd, passiveOpts, -1, 0, 0);
    if (withAck) this.rcvAdvEdge = seqAdd(this.rcvNxt, wnd);
  }

  /** In a SYN-ACK, offer only what the peer offered (RFC 7323 1.3, RFC 2018 2). */
  protected synAckOptions(): TcpOptionsToWrite {
    const o = this.stackProtocol.scratchOptions;
    resetOptionsToWrite(o);
    o.mss = this.rcvMss;
    if (this.wsOk) o.windowScale = this.rcvWndShift;
    if (this.sackOk) o.sackPermitted = true;
    if (this.tsOk) {
      o.timestamp = true;
      o.tsVal = this.tsNow();
      o.tsEcr = this.tsRecent;
    }
    return o;
  }

  /** Set up a child of a listener from a received SYN; sends the SYN-ACK. */
  initFromSyn(parent: TcpConnection, route: TcpRoute, seg: InboundSegment): void {
    this.parent = parent;
    this.passive = true;
    this.route = route;
    this.noDelay = parent.noDelay;
    this.keepAlive = parent.keepAlive;
    this.linger = { ...parent.linger };
    this.localAddress = route.localAddress;
    this.localPort = seg.dstPort;
    this.remoteAddress = route.remoteAddress;
    this.remotePort = seg.srcPort;
    this.userMss = parent.userMss;
    this.windowClamp = parent.windowClamp;
    this.finWait2TimeoutMs = parent.finWait2TimeoutMs;
    this.ccName = parent.ccName;
    this.receiveBuffer.resize(parent.receiveBuffer.capacity);
    this.sendBuffer.resize(parent.sendBuffer.capacity);
    this.initMss();
    const s = this.stackProtocol.settings;
    const o = seg.options;
    this.wsOk = s.windowScaling && o.windowScale >= 0;
    this.sackOk = s.sack && o.sackPermitted;
    this.tsOk = s.timestamps && o.hasTimestamp;
    this.negotiate(seg, true);
    this.register({ localPort: this.localPort, localAddress: this.localAddress, remotePort: this.remotePort, remoteAddress: this.remoteAddress });
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.iss = this.stackProtocol.generateIsn(this.localAddress, this.localPort, this.remoteAddress, this.remotePort);
    this.tsOffset = this.stackProtocol.timestampOffset(this.localAddress, this.localPort, this.remoteAddress, this.remotePort);
    this.sndUna = this.iss;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndWnd = seg.window;
    this.txq.push(this.iss, this.sndNxt, this.clockNow);
    this.state = TcpState.SYN_RECV;
    this.everConnected = true;
    this.sendSyn(true);
    this.rtoAt = this.clockNow + this.rtt.rto();
    this.armTimer();
  }

  /** Set up a child of a listener from a valid SYN-cookie ACK: straight to ESTABLISHED (no options but MSS). */
  initFromCookie(parent: TcpConnection, route: TcpRoute, seg: InboundSegment, mss: number, opts?: CookieOptions): void {
    this.parent = parent;
    this.passive = true;
    this.route = route;
    this.noDelay = parent.noDelay;
    this.localAddress = route.localAddress;
    this.localPort = seg.dstPort;
    this.remoteAddress = route.remoteAddress;
    this.remotePort = seg.srcPort;
    this.initMss();
    this.tsOffset = this.stackProtocol.timestampOffset(this.localAddress, this.localPort, this.remoteAddress, this.remotePort);
    if (opts) {
      this.tsOk = true;
      this.tsRecent = opts.tsRecent;
      this.tsRecentAt = this.clockNow;
      this.sackOk = opts.sackOk;
      this.wsOk = opts.peerWindowShift >= 0;
      this.sndWndShift = this.wsOk ? opts.peerWindowShift : 0;
    }
    if (!this.wsOk) this.rcvWndShift = 0;
    this.sndMss = Math.min(mss, this.rcvMss) - (this.tsOk ? 12 : 0);
    this.cc = createCongestionControl(this.ccName, this.sndMss);
    this.register({ localPort: this.localPort, localAddress: this.localAddress, remotePort: this.remotePort, remoteAddress: this.remoteAddress });
    this.irs = seqAdd(seg.seq, -1);
    this.rcvNxt = seg.seq;
    this.iss = seqAdd(seg.ack, -1);
    this.sndUna = this.sndNxt = seg.ack;
    this.sndWnd = seg.window << this.sndWndShift;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.maxSndWnd = this.sndWnd;
    this.rcvAdvEdge = seqAdd(this.rcvNxt, Math.min(0xffff, this.receiveBuffer.free));
    this.lastAckSent = this.rcvNxt;
    this.everConnected = true;
    this.state = TcpState.ESTABLISHED;
    this.stackProtocol.stats.passiveOpens++;
    parent.acceptQueue.push(this);
    parent.notify(EventMask.IN);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Receive path

  handlePacket(info: NetworkReceiveInfo, pkt: PacketBuffer): void {
    const p = this.stackProtocol;
    const seg = p.scratchSegment;
    const off = pkt.transportHeader;
    const verify = p.settings.verifyChecksums && !pkt.checksumValidated;
    const bad = seg.parse(info.source, info.destination, pkt.buf, off, pkt.tail - off, verify);
    if (bad) {
      if (bad === 'checksum') p.stats.checksumErrors++;
      else p.stats.malformedSegments++;
      return;
    }
    p.stats.segmentsReceived++;
    if (this.state === TcpState.LISTEN) {
      p.handleListenSegment(this, info, seg);
      return;
    }
    if (this.state === TcpState.TIME_WAIT && this.acceptsReincarnation(seg)) {
      // RFC 6191 (and RFC 9293 3.10.7.4's note on TIME-WAIT): a new SYN whose sequence number (or timestamp) is
      // beyond the old connection's ends TIME-WAIT early and goes to the listener, if there is one.
      this.setClosed();
      const listener = p.host.demuxer.find(info.family, TCP, info.nic, info.destination, seg.dstPort, info.source, seg.srcPort);
      if (listener instanceof TcpConnection && listener.state === TcpState.LISTEN) p.handleListenSegment(listener, info, seg);
      else p.handleUnknownDestinationPacket(info, pkt);
      return;
    }
    this.handleSegment(seg);
  }

  protected acceptsReincarnation(seg: InboundSegment): boolean {
    if (!seg.has(TCP_FLAG_SYN) || seg.has(TCP_FLAG_ACK) || seg.has(TCP_FLAG_RST)) return false;
    // As Linux's tcp_timewait_state_process: not a PAWS failure, and a newer sequence number or timestamp.
    const ts = this.tsOk && seg.options.hasTimestamp;
    if (ts && seqLT(seg.options.tsVal, this.tsRecent)) return false;
    return seqGT(seg.seq, this.rcvNxt) || (ts && seqGT(seg.options.tsVal, this.tsRecent));
  }

  handleError(err: TransportErrorInfo, _info: NetworkReceiveInfo, _quoted: Uint8Array): void {
    if (err.kind === 'packetTooBig') {
      // RFC 1191 / RFC 8201: lower the MSS to the new path MTU.
      const hdr = this.netFamily === 4 ? 20 : 40;
      const mss = err.mtu - hdr - TCP_MIN_HEADER_LENGTH - (this.tsOk ? 12 : 0);
      if (mss >= 64 && mss < this.sndMss) this.sndMss = mss;
      return;
    }
    // RFC 1122 4.2.3.9: hard errors (port/protocol unreachable) abort a connection attempt; others are soft.
    if (this.state === TcpState.SYN_SENT && (err.kind === 'portUnreachable' || err.kind === 'protocolUnreachable')) {
      this.abort(false, TcpipErrors.connectionRefused);
    }
  }

  /** Send RST/ACK/challenge responses and advance the state machine for one segment (3.10.7). */
  handleSegment(seg: InboundSegment): void {
    const now = this.clockNow;
    this.lastReceiveTime = now;
    if (this.keepAlive) this.resetKeepalive();
    switch (this.state) {
      case TcpState.CLOSED:
        return;
      case TcpState.SYN_SENT:
        this.handleSynSent(seg);
        break;
      default:
        this.handleSynchronized(seg, now);
    }
    this.armTimer();
  }

  protected handleSynSent(seg: InboundSegment): void {
    // 3.10.7.3, first: check the ACK.
    let ackOk = false;
    if (seg.has(TCP_FLAG_ACK)) {
      if (seqLE(seg.ack, this.iss) || seqGT(seg.ack, this.sndNxt)) {
        if (!seg.has(TCP_FLAG_RST)) this.sendControl(seg.ack, 0, TCP_FLAG_RST);
        return;
      }
      ackOk = true;
    }
    // Second: RST. RFC 5961 3.2 also applies here via the ACK check above.
    if (seg.has(TCP_FLAG_RST)) {
      if (ackOk) this.abort(false, TcpipErrors.connectionRefused);
      return;
    }
    if (!seg.has(TCP_FLAG_SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    // The window our SYN announced (unscaled) now has a left edge.
    this.rcvAdvEdge = seqAdd(this.rcvNxt, Math.min(0xffff, this.receiveBuffer.free));
    this.negotiate(seg, true);
    if (ackOk) {
      this.ackAdvance(seg.ack, this.clockNow, seg);
      this.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 2.2)
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.maxSndWnd = this.sndWnd;
      this.establish();
      this.ackNow = true;
      this.flush();
      return;
    }
    // Simultaneous open (3.5, figure 8): SYN-SENT -> SYN-RECEIVED, answer with SYN,ACK on our ISS.
    this.state = TcpState.SYN_RECV;
    this.sndWnd = seg.window;
    this.sendSyn(true);
  }

  protected establish(): void {
    if (this.totalRetransmits > 0) this.rtt.restartAfterHandshakeLoss();
    this.rtt.backoffCount = 0;
    this.state = TcpState.ESTABLISHED;
    this.stackProtocol.stats.connectionsEstablished++;
    this.rtoAt = this.sndUna === this.sndNxt ? Infinity : this.clockNow + this.rtt.rto();
    this.rcvAdvEdge = seqMax(this.rcvAdvEdge, this.rcvNxt);
    this.resetKeepalive();
    this.notify(EventMask.OUT | EventMask.WRNORM);
  }

  protected acceptableSeq(seg: InboundSegment, rcvWnd: number): boolean {
    // 3.10.7.4, the four cases of the acceptability test.
    const len = seg.seqLength;
    const seq = seg.seq;
    const inWnd = (x: number) => seqGE(x, this.rcvNxt) && seqLT(x, seqAdd(this.rcvNxt, rcvWnd));
    if (len === 0) return rcvWnd === 0 ? seq === this.rcvNxt : inWnd(seq);
    if (rcvWnd === 0) return false;
    return inWnd(seq) || inWnd(seqAdd(seq, len - 1));
  }

  protected handleSynchronized(seg: InboundSegment, now: number): void {
    const p = this.stackProtocol;
    // RFC 7323 5.3 PAWS: a timestamp older than TS.Recent marks an old duplicate.
    if (this.tsOk && seg.options.hasTimestamp && !seg.has(TCP_FLAG_RST) &&
        seqLT(seg.options.tsVal, this.tsRecent) && now - this.tsRecentAt < PAWS_IDLE_MS) {
      p.stats.pawsRejected++;
      this.sendAck();
      return;
    }
    // RFC 5961 4.2: a SYN in a synchronized state gets a challenge ACK whatever its sequence number. (In
    // SYN-RECEIVED the peer's SYN-ACK of a simultaneous open falls through to the sequence check, which ACKs it.)
    if (seg.has(TCP_FLAG_SYN) && !seg.has(TCP_FLAG_RST) && this.state !== TcpState.SYN_RECV) {
      this.sendChallengeAck();
      return;
    }
    if (this.state === TcpState.SYN_RECV && seg.flags === TCP_FLAG_SYN && seg.seq === this.irs) {
      // The peer retransmitted its SYN, so our SYN-ACK was probably lost: answer with it again (as Linux's
      // tcp_check_req does) rather than with a bare ACK.
      this.sendSyn(true);
      return;
    }
    const rcvWnd = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    if (!this.acceptableSeq(seg, rcvWnd)) {
      if (!seg.has(TCP_FLAG_RST)) {
        if (this.state === TcpState.TIME_WAIT && seg.has(TCP_FLAG_FIN)) this.timeWaitAt = now + p.settings.timeWaitMs;
        this.sendAck();
      }
      return;
    }
    // RFC 7323 4.3: record TS.Recent when the segment covers Last.ACK.sent.
    if (this.tsOk && seg.options.hasTimestamp && seqLE(seg.seq, this.lastAckSent) &&
        seqLE(this.lastAckSent, seqAdd(seg.seq, seg.seqLength))) {
      this.tsRecent = seg.options.tsVal;
      this.tsRecentAt = now;
    }
    // Second: RST, with RFC 5961 3.2: only an exact RCV.NXT match resets; others get a challenge ACK.
    if (seg.has(TCP_FLAG_RST)) {
      if (seg.seq !== this.rcvNxt) {
        this.sendChallengeAck();
        return;
      }
      p.stats.resetsReceived++;
      switch (this.state) {
        case TcpState.SYN_RECV:
          // Passive open: return to LISTEN (the listener never saw this child). Active: refused.
          this.abort(false, this.passive ? undefined : TcpipErrors.connectionRefused);
          return;
        case TcpState.ESTABLISHED:
        case TcpState.FIN_WAIT1:
        case TcpState.FIN_WAIT2:
        case TcpState.CLOSE_WAIT:
          this.abort(false, TcpipErrors.connectionReset);
          return;
        default:
          this.abort(false, undefined);
          return;
      }
    }
    // Fourth: SYN in a synchronized state -> challenge ACK (RFC 5961 4.2).
    if (seg.has(TCP_FLAG_SYN)) {
      this.sendChallengeAck();
      return;
    }
    // Fifth: ACK.
    if (!seg.has(TCP_FLAG_ACK)) return;
    if (this.state === TcpState.SYN_RECV) {
      if (!(seqLT(this.sndUna, seg.ack) && seqLE(seg.ack, this.sndNxt))) {
        this.sendControl(seg.ack, 0, TCP_FLAG_RST);
        return;
      }
      const parent = this.parent;
      if (parent && parent.acceptQueue.length > parent.backlog) {
        // Accept queue full: drop the ACK and stay in SYN-RECEIVED (the SYN-ACK is retransmitted), as Linux does.
        p.stats.listenOverflows++;
        return;
      }
      this.ackAdvance(seg.ack, now, seg);
      this.sndWnd = seg.window << this.sndWndShift;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.maxSndWnd = this.sndWnd;
      this.establish();
      if (parent) {
        parent.synQueue.delete(this);
        parent.acceptQueue.push(this);
        p.stats.passiveOpens++;
        parent.notify(EventMask.IN | EventMask.RDNORM);
      }
    } else if (!this.processAck(seg, now)) {
      return;
    }
    if (this.state === TcpState.CLOSED) return;
    // Sixth: URG is not supported; the urgent pointer is ignored and the data delivered inline.
    // Seventh: segment text.
    const s = this.state;
    if (seg.payload.length > 0) {
      if (s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT1 || s === TcpState.FIN_WAIT2) {
        this.receiveData(seg, rcvWnd);
      }
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent FIN; ignore the text (3.10.7.4).
    }
    // Eighth: FIN.
    if (seg.has(TCP_FLAG_FIN)) {
      const finSeq = seqAdd(seg.seq, seg.payload.length);
      if (this.peerFinSeq < 0 || seqLT(finSeq, this.peerFinSeq)) this.peerFinSeq = finSeq;
      this.ackNow = true;
    }
    this.maybeConsumeFin(now);
    if (this.ackNow || this.ackPending) this.scheduleFlush();
  }

  /** Process an ACK field in a synchronized state. Returns false if the segment must be dropped. */
  protected processAck(seg: InboundSegment, now: number): boolean {
    const ack = seg.ack;
    // RFC 5961 5.2: ACKs below SND.UNA - MAX.SND.WND get a challenge ACK; above SND.NXT an ACK.
    if (seqLT(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) {
      this.sendChallengeAck();
      return false;
    }
    if (seqGT(ack, this.sndNxt)) {
      this.sendAck();
      return false;
    }
    const oldWnd = this.sndWnd;
    let newData = false;
    // Cumulative ACK first, then SACK blocks: a segment acknowledged by the same ACK that SACKs later ones was
    // not reordered (RFC 8985 6.2 step 3 compares against SACKs known before this ACK).
    if (seqGT(ack, this.sndUna)) {
      this.ackAdvance(ack, now, seg);
      newData = true;
    }
    if (this.sackOk && seg.options.sackBlockCount > 0) this.processSack(seg, now);
    // Window update (3.10.7.4 fifth, ESTABLISHED): only from a segment not older than the last one used.
    const newWnd = seg.window << this.sndWndShift;
    if (seqLT(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLE(this.sndWl2, ack))) {
      this.sndWnd = newWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (newWnd > this.maxSndWnd) this.maxSndWnd = newWnd;
      if (newWnd > 0 && oldWnd === 0) {
        this.persistAt = Infinity;
        this.persistBackoff = 0;
        this.scheduleFlush();
      }
    }
    // Duplicate ACK (RFC 5681 2): no data, no window change, outstanding data, ack == SND.UNA.
    if (!newData && ack === this.sndUna && seg.payload.length === 0 && !seg.has(TCP_FLAG_FIN) &&
        newWnd === oldWnd && this.sndNxt !== this.sndUna) {
      this.dupAcks++;
      if (!this.sackOk && this.dupAcks === 3 && !this.inRecovery && this.txq.count > 0) {
        this.markLost(0);
        this.enterRecovery(now);
      }
      this.scheduleFlush();
    }
    if (this.txq.sackedBytes > 0) this.runLossDetection(now);
    // FIN acknowledged?
    const finAcked = this.finSent && seqGT(this.sndUna, this.finSeq);
    switch (this.state) {
      case TcpState.FIN_WAIT1:
        if (finAcked) {
          this.state = TcpState.FIN_WAIT2;
          if (this.userClosed) this.finWait2At = now + this.finWait2TimeoutMs;
        }
        break;
      case TcpState.CLOSING:
        if (finAcked) this.enterTimeWait(now);
        break;
      case TcpState.LAST_ACK:
        if (finAcked) {
          this.setClosed();
          return false;
        }
        break;
    }
    return true;
  }

  /** SND.UNA moves to `ack`: free buffer space, take an RTT sample, grow cwnd, restart the RTO timer. */
  protected ackAdvance(ack: number, now: number, seg: InboundSegment): void {
    const acked = seqDiff(ack, this.sndUna);
    const flightBefore = this.inflight();
    // Which part of [SND.UNA, ack) is data (SYN and FIN take sequence space but no buffer bytes)?
    let dataAcked = acked;
    if (this.sndUna === this.iss) dataAcked--; // our SYN
    if (this.finSent && seqGT(ack, this.finSeq)) dataAcked--;
    const rttFrom = this.txq.ackTo(ack, now, this.rtt.minRtt === Infinity ? 0 : this.rtt.minRtt);
    // RTT measurement: RFC 7323 4.1 from the echoed timestamp, else Karn's rule on a never-retransmitted segment.
    if (this.tsOk && seg.options.hasTimestamp && seg.options.tsEcr !== 0) {
      const r = (this.tsNow() - seg.options.tsEcr) >>> 0;
      if (r < 0x7fffffff) this.rtt.sample(r);
    } else if (rttFrom >= 0) {
      this.rtt.sample(now - rttFrom);
    }
    this.sndUna = ack;
    if (dataAcked > 0) this.sendBuffer.consume(dataAcked);
    this.dupAcks = 0;
    this.retries = 0;
    this.tlpOutstanding = false;
    this.tlpAt = Infinity;
    if (this.inRecovery) {
      if (seqGE(ack, this.recoveryPoint)) {
        this.inRecovery = false;
        this.cc.onRecoveryExit(now);
      } else if (!this.sackOk && this.txq.count > 0) {
        // RFC 6582 3.2 step 5 (NewReno partial ACK): retransmit the next unacknowledged segment.
        this.markLost(0);
      }
    } else if (dataAcked > 0 && flightBefore >= this.cc.cwnd / 2) {
      // RFC 7661 4.1 spirit: grow cwnd only while it limits sending (no unbounded growth when app-limited).
      this.cc.onAck(dataAcked, now, this.rtt.srtt);
    }
    this.rtoAt = this.sndUna === this.sndNxt ? Infinity : now + this.rtt.rto();
    // RFC 8985 7.2: restart the probe timer on an ACK of new data while data is outstanding.
    this.armTlp(now);
    if (dataAcked > 0 && (this.state === TcpState.ESTABLISHED || this.state === TcpState.CLOSE_WAIT)) {
      this.notify(EventMask.OUT | EventMask.WRNORM);
    }
    this.scheduleFlush();
  }

  protected processSack(seg: InboundSegment, now: number): void {
    const o = seg.options;
    const minRtt = this.rtt.minRtt === Infinity ? 0 : this.rtt.minRtt;
    for (let i = 0; i < o.sackBlockCount; i++) {
      const left = o.sackBlocks[i * 2]!;
      const right = o.sackBlocks[i * 2 + 1]!;
      // Ignore blocks outside (SND.UNA, SND.NXT] and D-SACKs (RFC 2883) below SND.UNA.
      if (!seqLT(left, right) || seqLE(right, this.sndUna) || seqGT(right, this.sndNxt)) continue;
      this.txq.markSacked(seqMax(left, this.sndUna), right, now, minRtt);
    }
  }

  /** RACK-TLP (RFC 8985 6.2) and RFC 6675 loss marking; enters recovery on the first loss. */
  protected runLossDetection(now: number): void {
    const minRtt = this.rtt.minRtt === Infinity ? 0 : this.rtt.minRtt;
    // RFC 8985 6.2 step 4: no reordering window until reordering has been seen while in recovery.
    const reoWnd = !this.txq.reorderingSeen && this.inRecovery ? 0 : Math.min(minRtt / 4, this.rtt.srtt || minRtt);
    const wait = this.txq.detectLosses(now, reoWnd, this.sndMss);
    this.reorderAt = wait >= 0 ? now + wait : Infinity;
    if (this.txq.lostBytes > 0 && !this.inRecovery) this.enterRecovery(now);
  }

  protected enterRecovery(now: number): void {
    this.inRecovery = true;
    this.recoveryPoint = this.sndNxt;
    this.cc.onCongestionEvent(now, seqDiff(this.sndNxt, this.sndUna));
    this.stackProtocol.stats.fastRecoveries++;
    this.scheduleFlush();
  }

  protected markLost(i: number): void {
    if (this.txq.count === 0) return;
    // Mark via the RTO path for a single record: treat as lost once.
    const f = this.txq.flagsAt(i);
    if (f & SEG_LOST) return;
    this.txq.markOneLost(i);
  }

  protected receiveData(seg: InboundSegment, rcvWnd: number): void {
    let data = seg.payload;
    let seq = seg.seq;
    // Trim to the window (3.10.7.4 seventh: only the portion in the window is accepted).
    const edge = seqAdd(this.rcvNxt, rcvWnd);
    const end = seqAdd(seq, data.length);
    if (seqGT(end, edge)) data = data.subarray(0, Math.max(0, data.length - seqDiff(end, edge)));
    if (seqLT(seq, this.rcvNxt)) {
      const skip = seqDiff(this.rcvNxt, seq);
      data = data.subarray(Math.min(skip, data.length));
      seq = this.rcvNxt;
    }
    if (data.length === 0) {
      this.ackNow = true;
      return;
    }
    const before = this.rcvNxt;
    const hadOoo = this.receiveBuffer.outOfOrderSegments > 0;
    this.rcvNxt = this.receiveBuffer.insert(seq, data, this.rcvNxt);
    if (seq !== before || hadOoo) {
      // RFC 5681 4.2: ACK out-of-order segments and hole fills at once (they drive the sender's recovery).
      this.ackNow = true;
      this.stackProtocol.stats.outOfOrderSegments += seq !== before ? 1 : 0;
    } else {
      this.ackPending = true;
      this.segsSinceAck++;
      // RFC 9293 3.8.6.3: ACK at least every second full-sized segment.
      if (this.segsSinceAck >= 2) this.ackNow = true;
      if (!this.ackNow && this.delackAt === Infinity) this.delackAt = this.clockNow + DELAYED_ACK_MS;
    }
    if (this.rcvNxt !== before) this.notify(EventMask.IN | EventMask.RDNORM);
  }

  protected maybeConsumeFin(now: number): void {
    if (this.finReceived || this.peerFinSeq < 0 || this.rcvNxt !== this.peerFinSeq) return;
    this.finReceived = true;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    switch (this.state) {
      case TcpState.SYN_RECV:
      case TcpState.ESTABLISHED:
        this.state = TcpState.CLOSE_WAIT;
        break;
      case TcpState.FIN_WAIT1:
        if (this.finSent && seqGT(this.sndUna, this.finSeq)) this.enterTimeWait(now);
        else this.state = TcpState.CLOSING;
        break;
      case TcpState.FIN_WAIT2:
        this.enterTimeWait(now);
        break;
    }
    this.notify(EventMask.IN | EventMask.RDNORM | EventMask.RDHUP);
  }

  protected enterTimeWait(now: number): void {
    this.state = TcpState.TIME_WAIT;
    this.rtoAt = this.tlpAt = this.reorderAt = this.persistAt = this.keepaliveAt = this.finWait2At = Infinity;
    this.lingerAt = Infinity;
    this.timeWaitAt = now + this.stackProtocol.settings.timeWaitMs;
    this.notify(EventMask.HUP);
  }

  protected afterRead(): void {
    // Receiver SWS avoidance (3.8.6.2.2): announce a larger window only once it has grown by a useful amount.
    const rb = this.receiveBuffer;
    const advertised = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    const possible = rb.free;
    const threshold = Math.min(rb.capacity / 2, 2 * this.rcvMss);
    if (possible - advertised >= threshold && (advertised < rb.capacity / 2 || advertised < this.rcvMss)) {
      this.ackNow = true;
      this.scheduleFlush();
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Send path

  protected queueFin(): void {
    if (this.finQueued) return;
    switch (this.state) {
      case TcpState.SYN_RECV:
      case TcpState.ESTABLISHED:
        this.state = TcpState.FIN_WAIT1;
        break;
      case TcpState.CLOSE_WAIT:
        this.state = TcpState.LAST_ACK;
        break;
      default:
        return;
    }
    this.finQueued = true;
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flushTask);
  }
  protected readonly flushTask = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  protected tsNow(): number {
    return (Math.floor(this.clockNow) + this.tsOffset) >>> 0;
  }

  protected inflight(): number {
    return seqDiff(this.sndNxt, this.sndUna) - this.txq.sackedBytes - this.txq.lostBytes;
  }

  /** Largest payload for one segment handed to the route (GSO lets it exceed one MSS). */
  protected maxPayload(): number {
    if (this.gsoMaxSize > 0) {
      const hdr = TCP_MIN_HEADER_LENGTH + (this.tsOk ? 12 : 0) + (this.netFamily === 4 ? 20 : 40);
      const n = Math.floor((this.gsoMaxSize - hdr) / this.sndMss) * this.sndMss;
      return Math.max(this.sndMss, n);
    }
    // SACK blocks on a data segment take payload room (RFC 2018 3); the header must still fit the path MTU.
    const opts = this.ackOptions();
    const room = this.route!.maxPayload - TCP_MIN_HEADER_LENGTH - (opts ? tcpOptionsLength(opts) : 0);
    return Math.max(1, Math.min(this.sndMss, room));
  }

  /** Send whatever the windows allow: lost segments first, then new data, then FIN, then a pure ACK if owed. */
  flush(): void {
    const s = this.state;
    if (s === TcpState.CLOSED || s === TcpState.LISTEN || s === TcpState.SYN_SENT || !this.route) return;
    if (s === TcpState.SYN_RECV) {
      if (this.ackNow) this.sendAck();
      return;
    }
    if (s === TcpState.TIME_WAIT || s === TcpState.FIN_WAIT2 || s === TcpState.CLOSE_WAIT && this.sendBuffer.length === 0 && !this.finQueued) {
      if (this.ackNow || (this.ackPending && this.delackAt <= this.clockNow)) this.sendAck();
      this.armTimer();
      return;
    }
    const now = this.clockNow;
    let sent = false;
    const cwnd = this.cc.cwnd;
    // 1. Retransmit segments marked lost (RFC 6675 5 step (C) NextSeg rule 1; RFC 8985 retransmits the same way).
    while (this.txq.lostBytes > 0) {
      if (this.inflight() >= cwnd && sent) break;
      const i = this.txq.firstLost();
      if (i < 0) break;
      this.retransmit(i, now);
      sent = true;
    }
    // 2. New data.
    const maxPayload = this.maxPayload();
    const dataEnd = seqAdd(this.sndUna, this.sendBuffer.length + (this.sndUna === this.iss ? 1 : 0));
    for (;;) {
      const avail = seqDiff(dataEnd, this.sndNxt);
      if (avail <= 0) break;
      const wndLeft = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      const cwndLeft = cwnd - this.inflight();
      let n = Math.min(avail, maxPayload, wndLeft, cwndLeft);
      if (n <= 0) {
        if (wndLeft <= 0 && this.sndWnd === 0 && this.sndNxt === this.sndUna && this.persistAt === Infinity) {
          // Zero window and nothing in flight: probe (3.8.6.1).
          this.persistAt = now + Math.min(MAX_PERSIST_MS, this.rtt.rto() * 2 ** this.persistBackoff);
        }
        break;
      }
      if (n < this.sndMss && n < avail) {
        // Sender SWS avoidance (3.8.6.2.1): don't send a runt because of a small window while data is in flight.
        if (this.sndNxt !== this.sndUna && n < this.maxSndWnd / 2) break;
      }
      if (n === avail && n < this.sndMss) {
        const flightNow = this.sndNxt !== this.sndUna;
        // Nagle (3.7.4, RFC 896): hold a partial segment while data is unacknowledged, unless TCP_NODELAY.
        if (!this.noDelay && flightNow && !this.finQueued) break;
        // TCP_CORK / MSG_MORE: hold partial segments until uncorked or 200 ms passed.
        if ((this.cork || this.moreHint) && this.corkAt > now && !this.finQueued) {
          if (this.corkAt === Infinity) this.corkAt = now + CORK_FLUSH_MS;
          break;
        }
      }
      const idle = this.sndNxt === this.sndUna && this.lastSendTime > 0 && now - this.lastSendTime > this.rtt.rto();
      if (idle) this.cc.onIdleRestart(now); // RFC 5681 4.1
      const seq = this.sndNxt;
      const end = seqAdd(seq, n);
      const withFin = this.finQueued && !this.finSent && end === dataEnd;
      this.emitData(seq, n, withFin, now);
      const recEnd = withFin ? seqAdd(end, 1) : end;
      if (withFin) { this.finSent = true; this.finSeq = end; }
      this.txq.push(seq, recEnd, now);
      this.sndNxt = recEnd;
      sent = true;
      n = 0;
    }
    this.corkAt = this.sendBuffer.length === 0 || seqDiff(dataEnd, this.sndNxt) <= 0 ? Infinity : this.corkAt;
    // 3. A lone FIN once all data is out (it needs no window, 3.10.4 CLOSE).
    if (this.finQueued && !this.finSent && this.sndNxt === dataEnd) {
      this.finSeq = this.sndNxt;
      this.finSent = true;
      this.emit(this.sndNxt, this.rcvNxt, TCP_FLAG_FIN | TCP_FLAG_ACK, this.windowField(), this.ackOptions(), -1, 0, 0);
      this.txq.push(this.sndNxt, seqAdd(this.sndNxt, 1), now);
      this.sndNxt = seqAdd(this.sndNxt, 1);
      sent = true;
    }
    // 4. A pure ACK if one is owed and nothing carried it.
    if (!sent && (this.ackNow || (this.ackPending && this.delackAt <= now))) this.sendAck();
    if (sent) {
      this.lastSendTime = now;
      if (this.rtoAt === Infinity && this.sndNxt !== this.sndUna) this.rtoAt = now + this.rtt.rto();
      this.armTlp(now);
    }
    this.armTimer();
  }

  /** RFC 8985 7.2: schedule a tail loss probe after new data when not in recovery. */
  protected armTlp(now: number): void {
    if (!this.stackProtocol.settings.tailLossProbe || this.inRecovery || this.tlpOutstanding || !this.rtt.hasSample ||
        this.sndNxt === this.sndUna || !this.sackOk) {
      this.tlpAt = Infinity;
      return;
    }
    let pto = 2 * this.rtt.srtt;
    if (seqDiff(this.sndNxt, this.sndUna) <= this.sndMss) pto += 200; // WCDelAckT for a single segment
    pto = Math.max(pto, 10);
    const rtoLeft = this.rtoAt - now;
    if (pto >= rtoLeft) {
      this.tlpAt = Infinity;
      return;
    }
    this.tlpAt = now + pto;
  }

  protected retransmit(i: number, now: number): void {
    const q = this.txq;
    let start = q.start(i);
    let end = q.end(i);
    const maxPayload = this.maxPayload();
    if (seqDiff(end, start) > maxPayload) {
      q.split(i, seqAdd(start, maxPayload));
      end = q.end(i);
    }
    if (start === this.iss && this.state === TcpState.SYN_RECV) {
      this.sendSyn(true);
    } else {
      if (seqLT(start, this.sndUna)) start = this.sndUna;
      const withFin = this.finSent && end === seqAdd(this.finSeq, 1);
      const dataLen = seqDiff(end, start) - (withFin ? 1 : 0);
      if (dataLen > 0) this.emitData(start, dataLen, withFin, now);
      else if (withFin) this.emit(start, this.rcvNxt, TCP_FLAG_FIN | TCP_FLAG_ACK, this.windowField(), this.ackOptions(), -1, 0, 0);
    }
    q.markRetransmitted(i, now);
    this.totalRetransmits++;
    this.stackProtocol.stats.retransmits++;
  }

  protected emitData(seq: number, len: number, fin: boolean, _now: number): void {
    const flags = TCP_FLAG_ACK | (fin ? TCP_FLAG_FIN : 0) | (seqAdd(seq, len) === seqAdd(this.sndUna, this.sendBuffer.length) ? TCP_FLAG_PSH : 0);
    this.emit(seq, this.rcvNxt, flags, this.windowField(), this.ackOptions(), seqDiff(seq, this.sndUna), len, len > this.sndMss ? this.sndMss : 0);
  }

  protected ackOptions(): TcpOptionsToWrite | undefined {
    if (!this.tsOk && !(this.sackOk && this.receiveBuffer.outOfOrderSegments > 0)) return undefined;
    const o = this.stackProtocol.scratchOptions;
    resetOptionsToWrite(o);
    if (this.tsOk) {
      o.timestamp = true;
      o.tsVal = this.tsNow();
      o.tsEcr = this.tsRecent;
    }
    if (this.sackOk && this.receiveBuffer.outOfOrderSegments > 0) {
      const blocks = this.stackProtocol.scratchSackBlocks;
      o.sackBlocks = blocks;
      o.sackBlockCount = this.receiveBuffer.sackBlocks(blocks, 4);
    }
    return o;
  }

  /** The window field for a non-SYN segment; moves the advertised right edge forward, never back. */
  protected windowField(): number {
    const free = this.windowClamp > 0 ? Math.min(this.receiveBuffer.free, this.windowClamp) : this.receiveBuffer.free;
    let edge = seqAdd(this.rcvNxt, free);
    if (seqLT(edge, this.rcvAdvEdge)) edge = this.rcvAdvEdge;
    const wnd = Math.min(seqDiff(edge, this.rcvNxt), 0xffff << this.rcvWndShift);
    // Round down to the scale granularity, then record the edge actually announced.
    const field = wnd >>> this.rcvWndShift;
    const announced = seqAdd(this.rcvNxt, field << this.rcvWndShift);
    if (seqGT(announced, this.rcvAdvEdge)) this.rcvAdvEdge = announced;
    return field;
  }

  sendAck(): void {
    if (!this.route) return;
    this.emit(this.sndNxt, this.rcvNxt, TCP_FLAG_ACK, this.windowField(), this.ackOptions(), -1, 0, 0);
  }

  protected sendChallengeAck(): void {
    // RFC 5961 7: rate-limit challenge ACKs across the stack.
    if (this.stackProtocol.allowChallengeAck()) {
      this.stackProtocol.stats.challengeAcks++;
      this.sendAck();
    }
  }

  /** A segment with no options and no data (RST, probes). */
  protected sendControl(seq: number, ack: number, flags: number): void {
    if (!this.route) return;
    this.emit(seq, ack, flags, flags & TCP_FLAG_RST ? 0 : this.windowField(), undefined, -1, 0, 0);
  }

  /**
   * Build one segment and hand it to the route. `dataOffset` is the offset into the send buffer (from SND.UNA) of
   * `dataLen` payload bytes, or -1 for none.
   */
  protected emit(seq: number, ack: number, flags: number, window: number, opts: TcpOptionsToWrite | undefined,
    dataOffset: number, dataLen: number, gsoSegmentSize: number): void {
    const route = this.route!;
    const hdrLen = TCP_MIN_HEADER_LENGTH + (opts ? tcpOptionsLength(opts) : 0);
    const total = hdrLen + dataLen;
    const pkt = PacketBuffer.allocate(total, route.maxHeaderLength);
    const seg = pkt.buf;
    const at = pkt.head;
    const f = this.stackProtocol.scratchFields;
    f.srcPort = this.localPort;
    f.dstPort = this.remotePort;
    f.seq = seq;
    f.ack = flags & TCP_FLAG_ACK ? ack : 0;
    f.flags = flags;
    f.window = window;
    writeTcpHeader(seg, at, f, opts);
    if (dataLen > 0) this.sendBuffer.copyOut(dataOffset, dataLen, seg, at + hdrLen);
    pkt.transportHeader = at;
    pkt.transportProtocol = TCP;
    if (gsoSegmentSize > 0 && total > route.maxPayload) {
      // A super-packet: the link segments it and completes each checksum from the pseudo-header sum we leave.
      const partial = tcpPseudoHeaderSum(route.localAddress.bytes, route.remoteAddress.bytes, total);
      seg[at + 16] = partial >>> 8;
      seg[at + 17] = partial & 0xff;
      pkt.gso = { type: this.netFamily === 4 ? GsoType.TCPV4 : GsoType.TCPV6, size: gsoSegmentSize, needsChecksum: true };
    } else if (!route.isLocal) {
      const sum = tcpChecksum(route.localAddress.bytes, route.remoteAddress.bytes, seg, at, total);
      seg[at + 16] = sum >>> 8;
      seg[at + 17] = sum & 0xff;
    }
    // A local route never leaves the stack and its packets arrive marked validated (like Linux's loopback with
    // CHECKSUM_PARTIAL), so the sum is not computed at all.
    if (flags & TCP_FLAG_ACK) {
      this.lastAckSent = this.rcvNxt;
      this.ackPending = false;
      this.ackNow = false;
      this.segsSinceAck = 0;
      this.delackAt = Infinity;
    }
    this.stackProtocol.stats.segmentsSent++;
    const err = route.writePacket(pkt, this.writeParams);
    if (err) {
      this.stackProtocol.stats.sendErrors++;
      // The path MTU shrank under us (DF set): size later segments and retransmissions to the new MTU.
      if (err === TcpipErrors.messageTooLong) {
        const mss = route.maxPayload - hdrLen;
        if (mss >= 64 && mss < this.sndMss) this.sndMss = mss;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Timers

  protected armTimer(): void {
    const next = Math.min(this.rtoAt, this.tlpAt, this.reorderAt, this.delackAt, this.persistAt, this.keepaliveAt,
      this.timeWaitAt, this.finWait2At, this.lingerAt, this.corkAt);
    if (next === Infinity || this.released) return;
    // Re-arm only when the earliest deadline moved earlier; a late wake-up re-checks and re-arms itself.
    if (next >= this.timerAt) return;
    this.timerAt = next;
    const delay = Math.max(0, next - this.clockNow);
    if (this.timer) this.timer.reset(delay);
    else this.timer = this.stackProtocol.host.clock.afterFunc(delay, this.onTimer);
  }

  protected readonly onTimer = (): void => {
    this.timerAt = Infinity;
    const now = this.clockNow;
    if (this.timeWaitAt <= now) {
      this.timeWaitAt = Infinity;
      this.setClosed();
      return;
    }
    if (this.lingerAt <= now) {
      // SO_LINGER timeout ran out before the data was delivered: reset (socket(7)).
      this.lingerAt = Infinity;
      this.abort(true, undefined);
      return;
    }
    if (this.finWait2At <= now) {
      this.finWait2At = Infinity;
      if (this.state === TcpState.FIN_WAIT2) {
        this.setClosed();
        return;
      }
    }
    if (this.rtoAt <= now) {
      this.rtoAt = Infinity;
      this.onRetransmitTimeout(now);
      if (this.state === TcpState.CLOSED) return;
    }
    if (this.tlpAt <= now) {
      this.tlpAt = Infinity;
      this.onTailLossProbe(now);
    }
    if (this.reorderAt <= now) {
      this.reorderAt = Infinity;
      this.runLossDetection(now);
      this.flush();
    }
    if (this.persistAt <= now) {
      this.persistAt = Infinity;
      this.onPersist(now);
    }
    if (this.keepaliveAt <= now) {
      this.keepaliveAt = Infinity;
      this.onKeepalive(now);
      if (this.state === TcpState.CLOSED) return;
    }
    if (this.delackAt <= now) {
      this.delackAt = Infinity;
      if (this.ackPending) { this.ackNow = true; this.flush(); }
    }
    if (this.corkAt <= now) {
      this.corkAt = Infinity;
      this.moreHint = false;
      const wasCorked = this.cork;
      this.cork = false;
      this.flush();
      this.cork = wasCorked;
    }
    this.armTimer();
  };

  protected onRetransmitTimeout(now: number): void {
    const s = this.state;
    if (this.sndUna === this.sndNxt) return;
    const synchronized = s !== TcpState.SYN_SENT && s !== TcpState.SYN_RECV;
    if (synchronized && this.sndWnd === 0) {
      // The peer closed its window with our data in flight: retransmissions act as window probes and do not count
      // toward giving up while the peer keeps answering (3.8.6.1: probing continues indefinitely), as Linux does.
      if (now - this.lastReceiveTime > DEFAULT_MAX_ZERO_WINDOW_SILENCE_MS) {
        this.abort(true, TcpipErrors.timeout);
        return;
      }
      this.rtt.backoff();
      const first = this.txq.count > 0 ? 0 : -1;
      if (first >= 0) this.retransmit(first, now);
      this.rtoAt = now + this.rtt.rto();
      return;
    }
    this.retries++;
    const limit = s === TcpState.SYN_SENT ? this.synRetries : s === TcpState.SYN_RECV ? SYNACK_RETRIES : DATA_RETRIES;
    const userTimedOut = this.userTimeoutMs > 0 && now - this.lastReceiveTime >= this.userTimeoutMs;
    if (this.retries > limit || userTimedOut) {
      // RFC 9293 3.8.3 R2: give up and report the timeout.
      this.abort(s !== TcpState.SYN_SENT && s !== TcpState.SYN_RECV, TcpipErrors.timeout);
      return;
    }
    // RFC 6298 5.5: back off the timer.
    this.rtt.backoff();
    this.stackProtocol.stats.timeouts++;
    if (s === TcpState.SYN_SENT) {
      this.sendSyn(false);
      this.totalRetransmits++;
      this.rtoAt = now + this.rtt.rto();
      return;
    }
    if (s === TcpState.SYN_RECV) {
      this.sendSyn(true);
      this.totalRetransmits++;
      this.rtoAt = now + this.rtt.rto();
      return;
    }
    // RFC 5681 3.1 / RFC 6675 5.1: collapse cwnd, consider everything unSACKed lost, retransmit from SND.UNA.
    const flight = seqDiff(this.sndNxt, this.sndUna);
    this.cc.onRetransmissionTimeout(now, flight);
    this.txq.markAllLost();
    this.inRecovery = true;
    this.recoveryPoint = this.sndNxt;
    this.dupAcks = 0;
    this.tlpAt = Infinity;
    this.rtoAt = now + this.rtt.rto();
    this.flush();
  }

  protected onTailLossProbe(now: number): void {
    // RFC 8985 7.3: send one new segment if possible, else retransmit the last one; then the RTO takes over.
    if (this.inRecovery || this.sndUna === this.sndNxt) return;
    this.tlpOutstanding = true;
    const before = this.sndNxt;
    const dataEnd = seqAdd(this.sndUna, this.sendBuffer.length);
    if (seqGT(dataEnd, this.sndNxt) && seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt) > 0) {
      const cwnd = this.cc.cwnd;
      this.cc.cwnd = Number.MAX_SAFE_INTEGER; // the probe is allowed regardless of cwnd
      const savedNoDelay = this.noDelay;
      this.noDelay = true;
      this.flush();
      this.noDelay = savedNoDelay;
      this.cc.cwnd = cwnd;
    }
    if (this.sndNxt === before && this.txq.count > 0) this.retransmit(this.txq.lastIndex(), now);
    this.stackProtocol.stats.tailLossProbes++;
    this.rtoAt = now + this.rtt.rto();
  }

  protected onPersist(now: number): void {
    // 3.8.6.1: probe a zero window. Like Linux we send SND.UNA-1 with no data, which any receiver must ACK with its
    // current window; the interval backs off exponentially and the probes never time the connection out.
    if (this.sndWnd !== 0 || this.sendBuffer.length === 0) return;
    if (this.sndNxt !== this.sndUna) return;
    this.sendControl(seqAdd(this.sndUna, -1), this.rcvNxt, TCP_FLAG_ACK);
    this.stackProtocol.stats.windowProbes++;
    this.persistBackoff++;
    this.persistAt = now + Math.min(MAX_PERSIST_MS, this.rtt.rto() * 2 ** this.persistBackoff);
  }

  protected resetKeepalive(): void {
    if (!this.keepAlive || (this.state !== TcpState.ESTABLISHED && this.state !== TcpState.CLOSE_WAIT)) {
      this.keepaliveAt = Infinity;
      return;
    }
    this.keepaliveProbes = 0;
    this.keepaliveAt = this.clockNow + this.keepIdleS * 1000;
    this.armTimer();
  }

  protected onKeepalive(now: number): void {
    if (!this.keepAlive) return;
    if (this.keepaliveProbes >= this.keepCount) {
      this.abort(true, TcpipErrors.timeout);
      return;
    }
    // RFC 1122 4.2.3.6: a keepalive is SEG.SEQ = SND.NXT-1 with no data, eliciting an ACK.
    this.sendControl(seqAdd(this.sndNxt, -1), this.rcvNxt, TCP_FLAG_ACK);
    this.keepaliveProbes++;
    this.stackProtocol.stats.keepaliveProbes++;
    this.keepaliveAt = now + this.keepIntervalS * 1000;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Introspection for tests and /proc

  get localPortNumber(): number { return this.localPort; }
  get remotePortNumber(): number { return this.remotePort; }
  get acceptQueueLength(): number { return this.acceptQueue.length; }
  get synQueueLength(): number { return this.synQueue.size; }
  get backlogLimit(): number { return this.backlog; }
  addToSynQueue(child: TcpConnection): void { this.synQueue.add(child); }
  /** Take the next established child off the accept queue (it no longer belongs to the listener). */
  protected takeAccepted(): TcpConnection | undefined {
    const child = this.acceptQueue.shift();
    if (child) child.parent = undefined;
    return child;
  }
  /** The peer's address and port (undefined before connect/SYN). */
  peerAddress(): FullAddress | undefined {
    return this.remoteAddress ? { address: this.toUserAddress(this.remoteAddress), port: this.remotePort } : undefined;
  }
  get windowScaleSend(): number { return this.sndWndShift; }
  get windowScaleReceive(): number { return this.rcvWndShift; }
  get timestampsEnabled(): boolean { return this.tsOk; }

  /** A one-line summary of the connection's variables, for diagnostics. */
  describe(): string {
    const now = this.clockNow;
    const t = (x: number) => (x === Infinity ? '-' : (x - now).toFixed(0));
    return `state=${this.state} una=${this.sndUna} nxt=${this.sndNxt} wnd=${this.sndWnd} cwnd=${this.cc.cwnd} ` +
      `ssthresh=${this.cc.ssthresh} inflight=${this.inflight()} sndbuf=${this.sendBuffer.length} txq=${this.txq.count} ` +
      `sacked=${this.txq.sackedBytes} lost=${this.txq.lostBytes} rec=${this.inRecovery} rcvNxt=${this.rcvNxt} ` +
      `readable=${this.receiveBuffer.readable} ooo=${this.receiveBuffer.outOfOrderSegments} rto=${t(this.rtoAt)} ` +
      `tlp=${t(this.tlpAt)} reo=${t(this.reorderAt)} delack=${t(this.delackAt)} persist=${t(this.persistAt)} ` +
      `timerAt=${t(this.timerAt)} retries=${this.retries} fin=${this.finQueued}/${this.finSent}`;
  }
}

function resetOptionsToWrite(o: TcpOptionsToWrite): void {
  o.mss = undefined;
  o.windowScale = undefined;
  o.sackPermitted = false;
  o.timestamp = false;
  o.tsVal = 0;
  o.tsEcr = 0;
  o.sackBlocks = undefined;
  o.sackBlockCount = 0;
}

// One TCP connection's state (RFC 9293 3.3.1 sequence variables, negotiated options, buffers, timers' deadlines)
// and lifecycle (demuxer registration, close, abort, release). The engine is layered on top of it:
//   connection.ts         state and lifecycle               (TcpConnection)
//   connection-output.ts  segments out, loss marking, timers (TcpConnectionOutput)
//   connection-input.ts   segments in, handshake            (TcpConnectionInput)
//   endpoint.ts           the socket API                    (TcpEndpoint)
// Section numbers in comments refer to RFC 9293 unless another RFC is named.
//
// Threading: everything runs on the caller's thread; received segments are processed synchronously and output
// (data, ACKs) is flushed once per burst from a microtask, which coalesces ACKs for segments that arrive together.
// Not done yet: design.md's TCP worker threads sharded by flow hash. The engine only talks to a TcpHost (host.ts),
// so a worker can run a TcpProtocol over a ring-backed host; the socket API proxy for the sentry is the open part.

import { TCP_FLAG_ACK, TCP_FLAG_RST } from '../../header/tcp.js';
import type { PacketBuffer } from '../../buffer/packet_buffer.js';
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
import {
  createCongestionControl,
  type CongestionControl,
  type CongestionControlName,
} from './congestion-control.js';
import type { TcpRoute } from './host.js';
import type { TcpProtocol } from './protocol.js';
import { ReceiveBuffer } from './receive-buffer.js';
import { RttEstimator } from './rtt-estimator.js';
import { SendBuffer } from './send-buffer.js';
import { TransmitQueue } from './transmit-queue.js';
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

export const TCP = 6;
/** RFC 9293 3.7.1: default send MSS when the peer sends no MSS option (IPv4 536, IPv6 1220 per RFC 8200 5). */
export const DEFAULT_MSS_V4 = 536;
export const DEFAULT_MSS_V6 = 1220;
/** Linux's delayed-ACK timeout floor (TCP_DELACK_MIN, 40 ms); RFC 9293 3.8.6.3 caps it at 500 ms. */
export const DELAYED_ACK_MS = 40;
/** TCP_CORK holds a partial segment at most 200 ms (tcp(7)). */
export const CORK_FLUSH_MS = 200;
/** Linux defaults: tcp_syn_retries 6, tcp_synack_retries 5, tcp_retries2 15. */
export const SYN_RETRIES = 6;
export const SYNACK_RETRIES = 5;
export const DATA_RETRIES = 15;
/** Zero-window probes back off up to this interval (Linux TCP_RTO_MAX is 120 s; RFC 9293 3.8.6.1 has no cap). */
export const MAX_PERSIST_MS = 60_000;
/** tcp(7): TCP_KEEPIDLE 7200 s, TCP_KEEPINTVL 75 s, TCP_KEEPCNT 9. */
export const KEEPALIVE_IDLE_S = 7200;
export const KEEPALIVE_INTERVAL_S = 75;
export const KEEPALIVE_COUNT = 9;
/** Orphaned FIN-WAIT-2 lifetime (tcp(7) tcp_fin_timeout, 60 s). */
export const FIN_WAIT2_TIMEOUT_MS = 60_000;
/** A zero-window peer that stays silent this long is given up on (Linux: TCP_RTO_MAX since the last ACK). */
export const DEFAULT_MAX_ZERO_WINDOW_SILENCE_MS = 120_000;
/** RFC 7323 5.5: timestamps older than 24 days are not used for PAWS. */
/**
 * Least interval between two challenge ACKs, or two ACKs answering segments without data that were out of window,
 * failed PAWS or acknowledged unsent data, of one connection (Linux's tcp_invalid_ratelimit, 500 ms). Without it the
 * stack-wide RFC 5961 7 budget is a counter an off-path attacker can drain and read back through its own
 * connection, learning whether a guessed 4-tuple or sequence number hit (CVE-2016-5696); and two ends that disagree
 * about the sequence space answer each other's ACKs forever (an ACK loop).
 */
export const OUT_OF_WINDOW_ACK_INTERVAL_MS = 500;
export const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

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
  /** The recovery was started by an RTO (slow start) rather than by SACK/dupACK loss detection (fast recovery). */
  protected rtoRecovery = false;
  protected recoveryPoint = 0;
  protected dupAcks = 0;
  protected tlpOutstanding = false;
  protected retries = 0;
  totalRetransmits = 0;
  protected lastSendTime = 0;
  protected lastReceiveTime = 0;
  /** When this connection last sent a challenge or out-of-window ACK (OUT_OF_WINDOW_ACK_INTERVAL_MS). */
  protected lastOutOfWindowAckAt = -Infinity;

  /** End of the last sub-MSS segment sent, -1 before any (Minshall's Nagle variant). */
  protected smallSegmentEnd = -1;
  /** Segments still to ACK at once (Linux's quick-ACK mode at the start and after idle; tcp_incr_quickack). */
  protected quickAcks = 0;
  protected lastDataReceivedAt = 0;

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


  // Implemented by the output and input layers (connection-output.ts, connection-input.ts).
  protected abstract sendControl(seq: number, ack: number, flags: number): void;
  protected abstract inflight(): number;
  abstract handlePacket(info: NetworkReceiveInfo, pkt: PacketBuffer): void;
  abstract handleError(err: TransportErrorInfo, info: NetworkReceiveInfo, quoted: Uint8Array): void;

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
    if (this.state === TcpState.TIME_WAIT) this.stackProtocol.timeWaitCount--;
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
  // Introspection for tests and /proc

  get localPortNumber(): number { return this.localPort; }
  /** Our sending side is shut (shutdown(SHUT_WR), close); TCP worker threads report it to the stack thread. */
  get sendShutdown(): boolean { return this.shutWrite; }
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
      `sacked=${this.txq.sackedBytes} lost=${this.txq.lostBytes} rec=${this.inRecovery}${this.rtoRecovery ? '(rto)' : ''} ` +
      `srtt=${this.rtt.srtt.toFixed(1)} rttvar=${this.rtt.rttvar.toFixed(1)} backoff=${this.rtt.backoffCount} rcvNxt=${this.rcvNxt} ` +
      `readable=${this.receiveBuffer.readable} ooo=${this.receiveBuffer.outOfOrderSegments} rto=${t(this.rtoAt)} ` +
      `tlp=${t(this.tlpAt)} reo=${t(this.reorderAt)} delack=${t(this.delackAt)} persist=${t(this.persistAt)} ` +
      `timerAt=${t(this.timerAt)} retries=${this.retries} fin=${this.finQueued}/${this.finSent}`;
  }
}

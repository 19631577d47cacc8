// The TCP transport protocol: creates endpoints, answers segments for which no endpoint exists with RST
// (RFC 9293 3.10.7.1), runs the listen path (SYN queue, SYN cookies), and holds stack-wide TCP settings and counters.

import { createHash, randomBytes, randomInt } from 'node:crypto';
import {
  TCP_FLAG_ACK,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_MIN_HEADER_LENGTH,
  tcpChecksum,
  tcpOptionsLength,
  writeTcpHeader,
  type TcpFieldsToWrite,
  type TcpOptionsToWrite,
} from '../../header/tcp.js';
import { PacketBuffer } from '../../buffer/packet_buffer.js';
import { IPV4_ANY, IPV6_ANY, type Address } from '../../stack/address.js';
import type { Endpoint } from '../../stack/endpoint.js';
import type { TcpipError } from '../../stack/tcpip_error.js';
import type {
  NetworkReceiveInfo,
  TransportProtocol,
  UnknownDestinationResult,
} from '../../stack/transport_protocol.js';
import type { WaiterQueue } from '../../waiter/waiter_queue.js';
import { WaiterQueue as Queue } from '../../waiter/waiter_queue.js';
import type { CongestionControlName } from './congestion-control.js';
import { receiveWindowShift, type TcpConnection } from './connection.js';
import type { TcpConnectionInput } from './connection-input.js';
import { TcpEndpoint, TcpState } from './endpoint.js';
import { stackTcpHost, type TcpHost, type TcpRoute } from './host.js';
import type { Stack } from '../../stack/stack.js';
import type { TransportProtocolFactory } from '../../stack/transport_protocol.js';
import { DEFAULT_RTO_LIMITS, type RtoLimits } from './rtt-estimator.js';
import { InboundSegment } from './segment.js';
import { seqAdd } from './seqnum.js';
import { SYN_COOKIE_LIFETIME_MS, SynCookies } from './syn-cookies.js';

export interface TcpSettings {
  /** Initial socket buffer sizes in bytes (SO_SNDBUF / SO_RCVBUF change them per socket). */
  sendBufferSize: number;
  receiveBufferSize: number;
  congestionControl: CongestionControlName;
  rtoLimits: RtoLimits;
  /** RFC 7323 window scaling, RFC 2018 SACK, RFC 7323 timestamps offered in SYNs. */
  windowScaling: boolean;
  sack: boolean;
  timestamps: boolean;
  /** RFC 8985 7 tail loss probes. */
  tailLossProbe: boolean;
  /** False when the link verified checksums already (offload). */
  verifyChecksums: boolean;
  /** TIME-WAIT duration, 2*MSL (Linux: 60 s, TCP_TIMEWAIT_LEN). */
  timeWaitMs: number;
  /** Upper bound for listen(2) backlogs (net.core.somaxconn, 4096). */
  somaxconn: number;
  /** SYN-RECEIVED children per listener before SYN cookies take over (net.ipv4.tcp_max_syn_backlog). */
  maxSynBacklog: number;
  /** net.ipv4.tcp_syncookies: 0 never, 1 when the SYN queue is full, 2 always. */
  synCookies: 0 | 1 | 2;
  /** RFC 5961 7: challenge ACKs per second across the stack (net.ipv4.tcp_challenge_ack_limit). */
  challengeAckLimit: number;
  /**
   * Connections held in TIME-WAIT at once (net.ipv4.tcp_max_tw_buckets); beyond it a connection closes at once
   * instead. Each one keeps a whole connection for 2*MSL, so peers opening and closing connections that we close
   * first would otherwise grow memory without bound.
   */
  maxTimeWait: number;
}

export const DEFAULT_TCP_SETTINGS: TcpSettings = {
  sendBufferSize: 1 << 20,
  receiveBufferSize: 1 << 20,
  congestionControl: 'cubic',
  rtoLimits: DEFAULT_RTO_LIMITS,
  windowScaling: true,
  sack: true,
  timestamps: true,
  tailLossProbe: true,
  verifyChecksums: true,
  timeWaitMs: 60_000,
  somaxconn: 4096,
  maxSynBacklog: 256,
  synCookies: 1,
  challengeAckLimit: 1000,
  maxTimeWait: 8192,
};

/** Counters in the spirit of /proc/net/snmp Tcp: and netstat TcpExt:. */
export class TcpStats {
  activeOpens = 0;
  passiveOpens = 0;
  connectionsEstablished = 0;
  segmentsReceived = 0;
  segmentsSent = 0;
  retransmits = 0;
  timeouts = 0;
  fastRecoveries = 0;
  tailLossProbes = 0;
  resetsSent = 0;
  resetsReceived = 0;
  challengeAcks = 0;
  /** Challenge ACKs not sent because of the per-connection or stack-wide rate limit. */
  challengeAcksSkipped = 0;
  /** ACKs not sent for dropped segments without data because of the per-connection rate limit. */
  outOfWindowAcksSkipped = 0;
  /** Connections closed without TIME-WAIT because maxTimeWait were in it (Linux's TCPTimeWaitOverflow). */
  timeWaitOverflows = 0;
  checksumErrors = 0;
  malformedSegments = 0;
  outOfOrderSegments = 0;
  pawsRejected = 0;
  /** ICMP errors ignored because the sequence number they quote is not one in flight (RFC 5927 4.1). */
  outOfWindowIcmps = 0;
  windowProbes = 0;
  keepaliveProbes = 0;
  synCookiesSent = 0;
  synCookiesAccepted = 0;
  synCookiesFailed = 0;
  listenOverflows = 0;
  listenDrops = 0;
  sendErrors = 0;
  /** Exceptions caught in TCP's own deferred work (the per-burst flush): bugs, logged once per distinct message. */
  internalErrors = 0;
}

const STATELESS_WRITE_PARAMS = { protocol: 6, ttl: 0, tos: 0, dontFragment: true };

// SYN-cookie option bits in the low bits of our SYN-ACK timestamp (the scheme Linux uses, our own code):
// bits 0-3 the peer's window scale (15: none), bit 4 SACK permitted.
const COOKIE_WSCALE_MASK = 0xf;
const COOKIE_NO_WSCALE = 0xf;
const COOKIE_SACK_BIT = 0x10;
const COOKIE_TS_BITS = 5;

/** Options recovered from a SYN-cookie ACK's echoed timestamp. */
export interface CookieOptions {
  tsRecent: number;
  /** The peer's window scale, or -1 when it did not offer scaling. */
  peerWindowShift: number;
  sackOk: boolean;
}

/** A timestamp no later than `clock` whose low bits carry the options (so the peer's PAWS never sees it jump back). */
function cookieTimestamp(clock: number, wsPeer: number, sack: boolean): number {
  const bits = wsPeer | (sack ? COOKIE_SACK_BIT : 0);
  let ts = ((clock >>> COOKIE_TS_BITS) << COOKIE_TS_BITS) | bits;
  if ((ts >>> 0) > clock) ts = ((((clock >>> COOKIE_TS_BITS) - 1) << COOKIE_TS_BITS) | bits);
  return ts >>> 0;
}

export class TcpProtocol implements TransportProtocol {
  readonly number = 6;
  readonly minimumPacketSize = TCP_MIN_HEADER_LENGTH;
  readonly settings: TcpSettings;
  readonly stats = new TcpStats();

  // Scratch objects reused by every endpoint (processing is synchronous, one segment at a time).
  readonly scratchSegment = new InboundSegment();
  readonly scratchOptions: TcpOptionsToWrite = {};
  readonly scratchFields: TcpFieldsToWrite = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0 };
  readonly scratchSackBlocks = new Uint32Array(8);

  private readonly isnSecret = randomBytes(16);
  private readonly cookies = new SynCookies();
  /** When each listener last answered a SYN with a cookie (Linux's tcp_synq_overflow time stamp). */
  private readonly lastCookieSentAt = new WeakMap<TcpConnectionInput, number>();
  private challengeWindowStart = -Infinity;
  private challengeBudget = 0;

  constructor(
    readonly host: TcpHost,
    settings: Partial<TcpSettings> = {},
  ) {
    this.settings = { ...DEFAULT_TCP_SETTINGS, ...settings };
  }

  sourcePort(bytes: Uint8Array, offset: number, length: number): number {
    return length < 4 ? -1 : (bytes[offset]! << 8) | bytes[offset + 1]!;
  }

  destinationPort(bytes: Uint8Array, offset: number, length: number): number {
    return length < 4 ? -1 : (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  }

  newEndpoint(family: 4 | 6, waiterQueue: WaiterQueue): Endpoint | TcpipError {
    return new TcpEndpoint(this, family, waiterQueue);
  }

  /** Convenience for embedders and tests: a new endpoint with its own waiter queue. */
  createEndpoint(family: 4 | 6): TcpEndpoint {
    return new TcpEndpoint(this, family, new Queue());
  }

  anyAddress(family: 4 | 6): Address {
    return family === 4 ? IPV4_ANY : IPV6_ANY;
  }

  /** RFC 9293 3.10.7.1: a segment for a connection that does not exist gets a RST unless it carries one. */
  handleUnknownDestinationPacket(info: NetworkReceiveInfo, pkt: PacketBuffer): UnknownDestinationResult {
    const seg = this.scratchSegment;
    const off = pkt.transportHeader;
    const verify = this.settings.verifyChecksums && !pkt.checksumValidated;
    const bad = seg.parse(info.source, info.destination, pkt.buf, off, pkt.tail - off, verify);
    if (bad) {
      if (bad === 'checksum') this.stats.checksumErrors++;
      else this.stats.malformedSegments++;
      return 'malformed';
    }
    if (seg.has(TCP_FLAG_RST) || info.isBroadcastOrMulticast) return 'handled';
    this.replyReset(info, seg);
    return 'handled';
  }

  private replyReset(info: NetworkReceiveInfo, seg: InboundSegment): void {
    const route = this.host.findRoute(info.nic, info.destination, info.source);
    if (!('writePacket' in route)) return;
    if (seg.has(TCP_FLAG_ACK)) this.sendStateless(route, seg.dstPort, seg.srcPort, seg.ack, 0, TCP_FLAG_RST, 0);
    else this.sendStateless(route, seg.dstPort, seg.srcPort, 0, seqAdd(seg.seq, seg.seqLength), TCP_FLAG_RST | TCP_FLAG_ACK, 0);
    this.stats.resetsSent++;
  }

  /** Send a segment that belongs to no endpoint (RST, SYN-cookie SYN-ACK). */
  private sendStateless(route: TcpRoute, srcPort: number, dstPort: number, seq: number, ack: number, flags: number,
    window: number, opts?: TcpOptionsToWrite): void {
    const len = TCP_MIN_HEADER_LENGTH + (opts ? tcpOptionsLength(opts) : 0);
    const pkt = PacketBuffer.allocate(len, route.maxHeaderLength);
    const b = pkt.buf;
    const at = pkt.head;
    writeTcpHeader(b, at, { srcPort, dstPort, seq, ack, flags, window }, opts);
    const sum = tcpChecksum(route.localAddress.bytes, route.remoteAddress.bytes, b, at, len);
    b[at + 16] = sum >>> 8;
    b[at + 17] = sum & 0xff;
    pkt.transportHeader = at;
    pkt.transportProtocol = 6;
    this.stats.segmentsSent++;
    if (route.writePacket(pkt, STATELESS_WRITE_PARAMS)) this.stats.sendErrors++;
  }

  /** RFC 9293 3.10.7.2: a segment arriving at a listening endpoint. */
  handleListenSegment(listener: TcpConnectionInput, info: NetworkReceiveInfo, seg: InboundSegment): void {
    if (seg.has(TCP_FLAG_RST)) return;
    const now = this.host.clock.nowMs();
    if (seg.has(TCP_FLAG_ACK)) {
      // A cookie is checked only while cookies may be outstanding: always-on mode, or a cookie sent by this listener
      // within the two periods a cookie stays valid (as Linux's tcp_synq_no_recent_overflow). Otherwise a blind
      // attacker's ACK flood would get a fresh HMAC each and a 2^-28 chance per packet to create a connection.
      const recent = now - (this.lastCookieSentAt.get(listener) ?? -Infinity) < SYN_COOKIE_LIFETIME_MS;
      if (!seg.has(TCP_FLAG_SYN) && (this.settings.synCookies === 2 || (this.settings.synCookies === 1 && recent))) {
        const mss = this.cookies.check(now, info.destination, seg.dstPort, info.source, seg.srcPort, seqAdd(seg.ack, -1));
        if (mss > 0) {
          if (listener.acceptQueueLength > listener.backlogLimit) {
            this.stats.listenOverflows++;
            return;
          }
          const route = this.host.findRoute(info.nic, info.destination, info.source);
          if (!('writePacket' in route)) return;
          const child = new TcpEndpoint(this, listener.family, new Queue());
          this.stats.synCookiesAccepted++;
          const o = seg.options;
          let opts: CookieOptions | undefined;
          if (this.settings.timestamps && o.hasTimestamp && o.tsEcr !== 0) {
            const ws = o.tsEcr & COOKIE_WSCALE_MASK;
            opts = {
              tsRecent: o.tsVal,
              peerWindowShift: ws === COOKIE_NO_WSCALE ? -1 : Math.min(ws, 14),
              sackOk: (o.tsEcr & COOKIE_SACK_BIT) !== 0,
            };
          }
          child.initFromCookie(listener, route, seg, mss, opts);
          // The ACK may carry data or FIN: process it as an ESTABLISHED segment.
          if (seg.payload.length > 0 || seg.flags & 1) child.handleSegment(seg);
          return;
        }
        this.stats.synCookiesFailed++;
      }
      this.replyReset(info, seg);
      return;
    }
    if (!seg.has(TCP_FLAG_SYN)) return;
    if (info.isBroadcastOrMulticast) return;
    // Accept queue full: drop the SYN (the client retries), as Linux does.
    if (listener.acceptQueueLength > listener.backlogLimit) {
      this.stats.listenDrops++;
      return;
    }
    const synLimit = Math.min(this.settings.maxSynBacklog, Math.max(listener.backlogLimit, 8));
    const route = this.host.findRoute(info.nic, info.destination, info.source);
    if (!('writePacket' in route)) return;
    if (this.settings.synCookies === 2 || (listener.synQueueLength >= synLimit)) {
      if (this.settings.synCookies === 0) {
        this.stats.listenDrops++;
        return;
      }
      // RFC 4987 3.6: answer statelessly.
      const peerMss = seg.options.mss > 0 ? seg.options.mss : 536;
      const ourMss = route.maxPayload - TCP_MIN_HEADER_LENGTH;
      const isn = this.cookies.make(now, info.destination, seg.dstPort, info.source, seg.srcPort, Math.min(peerMss, ourMss));
      const opts: TcpOptionsToWrite = { mss: ourMss };
      const o = seg.options;
      if (this.settings.timestamps && o.hasTimestamp) {
        // The options a cookie cannot hold travel in our timestamp, which the peer echoes (cookieTimestamp()).
        const wsPeer = this.settings.windowScaling && o.windowScale >= 0 ? o.windowScale : COOKIE_NO_WSCALE;
        const sack = this.settings.sack && o.sackPermitted;
        const clock = (Math.floor(now) + this.timestampOffset(info.destination, seg.dstPort, info.source, seg.srcPort)) >>> 0;
        opts.timestamp = true;
        opts.tsVal = cookieTimestamp(clock, wsPeer, sack);
        opts.tsEcr = o.tsVal;
        if (wsPeer !== COOKIE_NO_WSCALE) opts.windowScale = receiveWindowShift(listener.receiveBuffer.capacity);
        if (sack) opts.sackPermitted = true;
      }
      this.sendStateless(route, seg.dstPort, seg.srcPort, isn, seqAdd(seg.seq, 1), TCP_FLAG_SYN | TCP_FLAG_ACK,
        Math.min(0xffff, listener.receiveBuffer.capacity), opts);
      this.stats.synCookiesSent++;
      this.lastCookieSentAt.set(listener, now);
      return;
    }
    const child = new TcpEndpoint(this, listener.family, new Queue());
    listener.addToSynQueue(child);
    child.initFromSyn(listener, route, seg);
  }

  /** RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4-microsecond clock. */
  generateIsn(local: Address, localPort: number, remote: Address, remotePort: number): number {
    const f = this.tupleHash('', local, localPort, remote, remotePort);
    const m = Math.floor((performance.timeOrigin + performance.now()) * 250) >>> 0;
    return (f + m) >>> 0;
  }

  /**
   * Offset added to our millisecond clock in timestamps: random per 4-tuple but stable for it (as Linux's
   * secure_tcp_ts_off), so timestamps on a new connection reusing a TIME-WAIT tuple keep increasing (RFC 6191).
   */
  timestampOffset(local: Address, localPort: number, remote: Address, remotePort: number): number {
    return this.tupleHash('ts', local, localPort, remote, remotePort);
  }

  /** A keyed 32-bit hash of the 4-tuple; `purpose` separates the uses of one secret. */
  private tupleHash(purpose: string, local: Address, localPort: number, remote: Address, remotePort: number): number {
    const h = createHash('sha256');
    h.update(this.isnSecret);
    if (purpose) h.update(purpose);
    h.update(local.bytes);
    h.update(remote.bytes);
    const ports = Buffer.allocUnsafe(4);
    ports.writeUInt16BE(localPort, 0);
    ports.writeUInt16BE(remotePort, 2);
    h.update(ports);
    return h.digest().readUInt32BE(0);
  }

  /**
   * RFC 5961 7: about challengeAckLimit challenge ACKs per second across the stack. Each second's budget is drawn at
   * random from [limit/2, 3*limit/2) (as Linux since the CVE-2016-5696 fix), so its exhaustion does not show an
   * off-path observer exactly how many challenge ACKs other connections sent.
   */
  allowChallengeAck(): boolean {
    const now = this.host.clock.nowMs();
    if (now - this.challengeWindowStart >= 1000) {
      this.challengeWindowStart = now;
      const limit = this.settings.challengeAckLimit;
      this.challengeBudget = limit <= 1 ? limit : Math.floor(limit / 2) + randomInt(limit);
    }
    if (this.challengeBudget <= 0) return false;
    this.challengeBudget--;
    return true;
  }

  /** Endpoints registered with the demuxer and not yet released (so close() can stop their timers). */
  readonly liveEndpoints = new Set<TcpConnection>();
  /** Connections now in TIME-WAIT (bounded by settings.maxTimeWait). */
  timeWaitCount = 0;

  close(): void {
    for (const ep of [...this.liveEndpoints]) ep.stopForStackClose();
    this.liveEndpoints.clear();
    this.timeWaitCount = 0;
  }
}

export { TcpState };

/** The factory to list in StackOptions.transportProtocols. */
export function tcpProtocol(settings: Partial<TcpSettings> = {}): TransportProtocolFactory {
  return (stack: Stack) => new TcpProtocol(stackTcpHost(stack), settings);
}

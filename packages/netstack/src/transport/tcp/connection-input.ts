// Segments into one TCP connection: the RFC 9293 3.10.7 event processing (sequence and RST checks with RFC 5961,
// ACK and window processing, SACK, text and FIN), the handshake's option negotiation and listener children.
// Section numbers refer to RFC 9293 unless another RFC is named.

import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_MIN_HEADER_LENGTH } from '../../header/tcp.js';
import { PacketBuffer } from '../../buffer/packet_buffer.js';
import { TcpipErrors } from '../../stack/tcpip_error.js';
import type { NetworkReceiveInfo, TransportErrorInfo } from '../../stack/transport_protocol.js';
import { EventMask } from '../../waiter/waiter_queue.js';
import { createCongestionControl } from './congestion-control.js';
import type { TcpRoute } from './host.js';
import type { CookieOptions } from './protocol.js';
import type { InboundSegment } from './segment.js';
import { seqAdd, seqDiff, seqGE, seqGT, seqLE, seqLT, seqMax } from './seqnum.js';
import {
  TcpState,
  TCP,
  DEFAULT_MSS_V4,
  DEFAULT_MSS_V6,
  DELAYED_ACK_MS,
  PAWS_IDLE_MS,
  OUT_OF_WINDOW_ACK_INTERVAL_MS,
  receiveWindowShift,
} from './connection.js';
import { TcpConnectionOutput } from './connection-output.js';

/** Segments ACKed at once in quick-ACK mode (Linux uses up to 16, TCP_MAX_QUICKACKS). */
const QUICK_ACKS = 16;

export abstract class TcpConnectionInput extends TcpConnectionOutput {
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


  /** A listener's child takes the listener's socket options, as accept(2)'s new socket does on Linux. */
  private inheritFrom(parent: TcpConnectionInput, route: TcpRoute, seg: InboundSegment): void {
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
  }

  /** Set up a child of a listener from a received SYN; sends the SYN-ACK. */
  initFromSyn(parent: TcpConnectionInput, route: TcpRoute, seg: InboundSegment): void {
    this.inheritFrom(parent, route, seg);
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
    this.iss = this.stackProtocol.generateIsn(route.localAddress, this.localPort, route.remoteAddress, this.remotePort);
    this.tsOffset = this.stackProtocol.timestampOffset(route.localAddress, this.localPort, route.remoteAddress, this.remotePort);
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
  initFromCookie(parent: TcpConnectionInput, route: TcpRoute, seg: InboundSegment, mss: number, opts?: CookieOptions): void {
    // The listener's options apply to cookie children too (only noDelay did: SO_RCVBUF, SO_SNDBUF, TCP_CONGESTION,
    // SO_KEEPALIVE, SO_LINGER, TCP_MAXSEG and TCP_WINDOW_CLAMP were silently the defaults).
    this.inheritFrom(parent, route, seg);
    this.initMss();
    this.tsOffset = this.stackProtocol.timestampOffset(route.localAddress, this.localPort, route.remoteAddress, this.remotePort);
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
      if (listener instanceof TcpConnectionInput && listener.state === TcpState.LISTEN) p.handleListenSegment(listener, info, seg);
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

  handleError(err: TransportErrorInfo, _info: NetworkReceiveInfo, quoted: Uint8Array): void {
    // RFC 5927 4.1 (as Linux's tcp_v4_err): an ICMP error quotes our segment's sequence number; one that is not in
    // [SND.UNA, SND.NXT] cannot be about a segment in flight and is ignored, so a blind attacker who knows only the
    // 4-tuple can neither abort a connection attempt nor shrink the MSS.
    const quotedSeq = quoted.length >= 8 ? ((quoted[4]! << 24) | (quoted[5]! << 16) | (quoted[6]! << 8) | quoted[7]!) >>> 0 : -1;
    if (quotedSeq < 0 || seqLT(quotedSeq, this.sndUna) || seqGT(quotedSeq, this.sndNxt)) {
      this.stackProtocol.stats.outOfWindowIcmps++;
      return;
    }
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
    this.quickAcks = QUICK_ACKS;
    this.lastDataReceivedAt = this.clockNow;
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
      this.sendOutOfWindowAck(seg.seqLength);
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
      // tcp_check_req does) rather than with a bare ACK; at most one per OUT_OF_WINDOW_ACK_INTERVAL_MS, as there.
      if (now - this.lastOutOfWindowAckAt < OUT_OF_WINDOW_ACK_INTERVAL_MS) {
        p.stats.outOfWindowAcksSkipped++;
        return;
      }
      this.lastOutOfWindowAckAt = now;
      this.sendSyn(true);
      if (this.txq.count > 0) this.txq.markRetransmitted(0, this.clockNow);
      return;
    }
    const rcvWnd = Math.max(0, seqDiff(this.rcvAdvEdge, this.rcvNxt));
    if (!this.acceptableSeq(seg, rcvWnd)) {
      if (!seg.has(TCP_FLAG_RST)) {
        if (this.state === TcpState.TIME_WAIT && seg.has(TCP_FLAG_FIN)) this.timeWaitAt = now + p.settings.timeWaitMs;
        this.sendOutOfWindowAck(seg.seqLength);
      }
      return;
    }
    // RFC 7323 4.3: TS.Recent is taken from a segment that covers Last.ACK.sent, but only once the segment has
    // passed the RST, SYN and ACK checks below (as Linux's tcp_replace_ts_recent after tcp_ack): a blind in-window
    // RST or an ACK of unsent data (RFC 5961 3, 5) must not set TS.Recent, or a far-future TSval from it would have
    // PAWS drop every later segment of the real peer.
    const coversLastAck = this.tsOk && seg.options.hasTimestamp && seqLE(seg.seq, this.lastAckSent) &&
        seqLE(this.lastAckSent, seqAdd(seg.seq, seg.seqLength));
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
      // Listener children are always created by TcpProtocol as TcpEndpoints (subclasses of this class).
      const parent = this.parent as TcpConnectionInput | undefined;
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
    if (coversLastAck) {
      this.tsRecent = seg.options.tsVal;
      this.tsRecentAt = now;
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
      this.sendOutOfWindowAck(seg.seqLength);
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
    const synAcked = this.sndUna === this.iss;
    if (synAcked) dataAcked--; // our SYN
    if (this.finSent && seqGT(ack, this.finSeq)) dataAcked--;
    const rttFrom = this.txq.ackTo(ack, now, this.rtt.minRtt === Infinity ? 0 : this.rtt.minRtt);
    // RTT measurement, as Linux's tcp_ack_update_rtt: from the send time of the oldest never-retransmitted segment
    // this ACK covers (sub-millisecond), unless it also covers retransmitted data (Karn's rule, RFC 6298 3, applied
    // to the whole ACK: segments queued behind a repaired hole would otherwise count the repair time); else from the
    // echoed timestamp (RFC 7323 4.1), which after a repair is the filling retransmission's own (RFC 7323 4.3).
    // A retransmitted SYN or SYN-ACK gives no sample at all: the peer may echo the first one's timestamp, and
    // RFC 6298 5.7 has the connection start from a 3 s RTO instead.
    const handshakeRetransmitted = synAcked && this.txq.ackedRetransmitted;
    if (rttFrom >= 0 && !this.txq.ackedRetransmitted) {
      this.rtt.sample(now - rttFrom);
    } else if (!handshakeRetransmitted && this.tsOk && seg.options.hasTimestamp && seg.options.tsEcr !== 0) {
      const r = (this.tsNow() - seg.options.tsEcr) >>> 0;
      if (r < 0x7fffffff) this.rtt.sample(r);
    }
    this.sndUna = ack;
    if (dataAcked > 0) this.sendBuffer.consume(dataAcked);
    this.dupAcks = 0;
    this.retries = 0;
    this.tlpOutstanding = false;
    this.tlpAt = Infinity;
    // An ACK of new data shows the path works again: drop the RTO backoff even without an RTT sample (all the
    // data it covers may have been retransmitted), as BSD-derived stacks do; SRTT and RTTVAR are kept.
    if (dataAcked > 0) this.rtt.backoffCount = 0;
    if (this.inRecovery) {
      if (seqGE(ack, this.recoveryPoint)) {
        this.inRecovery = false;
        if (this.rtoRecovery) this.rtoRecovery = false;
        else this.cc.onRecoveryExit(now);
      } else if (this.rtoRecovery) {
        // After an RTO the sender is in slow start from one segment (RFC 5681 3.1), not in fast recovery's fixed
        // window: every ACK of new data grows cwnd while the lost window is resent.
        if (dataAcked > 0) this.cc.onAck(dataAcked, now, this.rtt.srtt);
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
      // Quick-ACK mode: ACK every segment at the start of a connection and after an idle period, so the sender's
      // slow start and request/response exchanges are not paced by the delayed-ACK timer.
      const now = this.clockNow;
      if (now - this.lastDataReceivedAt > this.rtt.rto()) this.quickAcks = QUICK_ACKS;
      this.lastDataReceivedAt = now;
      if (this.quickAcks > 0) {
        this.quickAcks--;
        this.ackNow = true;
      }
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
    const p = this.stackProtocol;
    if (p.timeWaitCount >= p.settings.maxTimeWait) {
      // As Linux on "time wait bucket table overflow": ACK what is owed (the peer's FIN) and close at once.
      p.stats.timeWaitOverflows++;
      if (this.ackNow) this.sendAck();
      this.setClosed();
      return;
    }
    p.timeWaitCount++;
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

}

// Segments out of one TCP connection: data, retransmissions, ACKs and window updates, the handshake's SYN and
// SYN-ACK, loss marking (RACK-TLP, RFC 6675) and every timer (RTO, TLP, reordering, delayed ACK, persist,
// keepalive, TIME-WAIT, linger, cork). Section numbers refer to RFC 9293 unless another RFC is named.

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
import { logInternalError } from '../../stack/internal_error.js';
import { TcpipErrors } from '../../stack/tcpip_error.js';
import { seqAdd, seqDiff, seqGT, seqLT } from './seqnum.js';
import { SEG_LOST } from './transmit-queue.js';
import {
  TcpConnection,
  TcpState,
  TCP,
  OUT_OF_WINDOW_ACK_INTERVAL_MS,
  CORK_FLUSH_MS,
  DATA_RETRIES,
  SYNACK_RETRIES,
  MAX_PERSIST_MS,
  DEFAULT_MAX_ZERO_WINDOW_SILENCE_MS,
} from './connection.js';

export abstract class TcpConnectionOutput extends TcpConnection {
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
    this.rtoRecovery = false;
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
    try {
      this.flush();
    } catch (e) {
      // This runs as a microtask, outside every containment boundary of the stack (stack/internal_error.ts): an
      // exception here would be uncaught, fatal to the process (or to a TCP worker thread and all its
      // connections). A bug costs this flush; it is tried again after one RTO, since with nothing in flight no
      // ACK or timer may come to do it (a persistent bug then costs one attempt per RTO, logged once).
      this.stackProtocol.stats.internalErrors++;
      logInternalError('transmit', 'TCP flush', e);
      if (!this.released) this.stackProtocol.host.clock.afterFunc(this.rtt.rto(), () => this.scheduleFlush());
    }
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
    let nextLost = 0;
    while (this.txq.lostBytes > 0) {
      if (this.inflight() >= cwnd && sent) break;
      const i = this.txq.firstLost(nextLost);
      if (i < 0) break;
      this.retransmit(i, now);
      // Records before i are not lost; a split leaves the rest of record i, still lost, at i + 1.
      nextLost = i + 1;
      sent = true;
    }
    // 2. New data.
    const maxPayload = this.maxPayload();
    // A full-sized segment: the MSS less what SACK blocks take on this segment (Linux's mss_now from
    // tcp_current_mss). Judged against sndMss alone, every data segment that carries SACK blocks looked like a runt
    // to the SWS and Nagle checks below, and a receiver with a hole sent one segment per round trip.
    const fullSize = Math.min(this.sndMss, maxPayload);
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
      if (n < fullSize && n < avail) {
        // Sender SWS avoidance (3.8.6.2.1): don't send a runt because of a small window while data is in flight.
        if (this.sndNxt !== this.sndUna && n < this.maxSndWnd / 2) break;
      }
      if (n === avail && n < fullSize) {
        // Nagle (3.7.4, RFC 896) with Minshall's refinement, as Linux's tcp_nagle_check: hold a partial segment
        // only while an earlier partial segment is unacknowledged, unless TCP_NODELAY. (Plain Nagle would hold the
        // tail of every response behind the peer's delayed ACK.)
        const smallInFlight = this.smallSegmentEnd >= 0 && seqGT(this.smallSegmentEnd, this.sndUna);
        if (!this.noDelay && smallInFlight && !this.finQueued) break;
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
      if (n < fullSize) this.smallSegmentEnd = end;
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
    // RFC 5961 7: rate-limit challenge ACKs per connection (as Linux's tcp_oow_rate_limited), then across the stack.
    const now = this.clockNow;
    if (now - this.lastOutOfWindowAckAt < OUT_OF_WINDOW_ACK_INTERVAL_MS) {
      this.stackProtocol.stats.challengeAcksSkipped++;
      return;
    }
    if (this.stackProtocol.allowChallengeAck()) {
      this.lastOutOfWindowAckAt = now;
      this.stackProtocol.stats.challengeAcks++;
      this.sendAck();
    } else {
      this.stackProtocol.stats.challengeAcksSkipped++;
    }
  }

  /**
   * ACK a segment that is dropped (out of window, PAWS, ACK of unsent data) unless it carried no data or FIN and
   * this connection sent such an ACK in the last OUT_OF_WINDOW_ACK_INTERVAL_MS (as Linux's tcp_oow_rate_limited:
   * data segments are not part of an ACK loop and always get their ACK). Returns false when rate-limited.
   */
  protected sendOutOfWindowAck(seqLength: number): boolean {
    if (seqLength === 0) {
      const now = this.clockNow;
      if (now - this.lastOutOfWindowAckAt < OUT_OF_WINDOW_ACK_INTERVAL_MS) {
        this.stackProtocol.stats.outOfWindowAcksSkipped++;
        return false;
      }
      this.lastOutOfWindowAckAt = now;
    }
    this.sendAck();
    return true;
  }

  /**
   * A segment with no data (RST, window and keepalive probes). All but RSTs carry the timestamps option once it was
   * negotiated (RFC 7323 3.2: "MUST be sent in every non-<RST> segment"); a strict receiver drops those without.
   */
  protected sendControl(seq: number, ack: number, flags: number): void {
    if (!this.route) return;
    if (flags & TCP_FLAG_RST) this.emit(seq, ack, flags, 0, undefined, -1, 0, 0);
    else this.emit(seq, ack, flags, this.windowField(), this.ackOptions(), -1, 0, 0);
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
    const pkt = route.allocatePacket ? route.allocatePacket(total) : PacketBuffer.allocate(total, route.maxHeaderLength);
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
      if (now - this.lastReceiveTime > DEFAULT_MAX_ZERO_WINDOW_SILENCE_MS || this.orphanProbingTooLong(this.rtt.rto())) {
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
    if (s === TcpState.SYN_SENT || s === TcpState.SYN_RECV) {
      // In SYN-RECEIVED after a simultaneous open too, the SYN on our ISS goes again (with ACK when we have one).
      this.sendSyn(s === TcpState.SYN_RECV);
      if (this.txq.count > 0) this.txq.markRetransmitted(0, now); // Karn: no RTT sample from this handshake
      this.totalRetransmits++;
      this.rtoAt = now + this.rtt.rto();
      return;
    }
    // RFC 5681 3.1 / RFC 6675 5.1: collapse cwnd, consider everything unSACKed lost, retransmit from SND.UNA.
    const flight = seqDiff(this.sndNxt, this.sndUna);
    this.cc.onRetransmissionTimeout(now, flight);
    this.txq.markAllLost();
    this.inRecovery = true;
    this.rtoRecovery = true;
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
      // The probe is allowed regardless of cwnd, but it is one segment: room for exactly one more MSS (a huge cwnd
      // here sent everything the peer's window allowed into a path that had stopped ACKing).
      this.cc.cwnd = Math.max(0, this.inflight()) + this.sndMss;
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
    const interval = this.rtt.rto() * 2 ** (this.persistBackoff + 1);
    if (this.orphanProbingTooLong(interval)) {
      this.abort(true, TcpipErrors.timeout);
      return;
    }
    this.sendControl(seqAdd(this.sndUna, -1), this.rcvNxt, TCP_FLAG_ACK);
    this.stackProtocol.stats.windowProbes++;
    this.persistBackoff++;
    this.persistAt = now + Math.min(MAX_PERSIST_MS, interval);
  }

  /**
   * A closed socket's connection (an orphan) probing a zero window gives up once the probe interval has backed off
   * to MAX_PERSIST_MS, even while the peer answers (as Linux's tcp_probe_timer with tcp_orphan_retries): otherwise a
   * peer that never opens its window keeps every closed connection and its unsent data alive forever (sockstress).
   * Open sockets keep probing as 3.8.6.1 asks; the application can close them.
   */
  protected orphanProbingTooLong(nextIntervalMs: number): boolean {
    return this.userClosed && nextIntervalMs >= MAX_PERSIST_MS;
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


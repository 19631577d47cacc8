// The TCP socket the sentry drives: the non-blocking socket API of stack/endpoint.ts (bind, listen, accept,
// connect, read, write, shutdown, close, options, readiness) on top of the protocol engine in connection.ts.
// Every call returns at once; a caller that gets wouldBlock or connectStarted waits on waiterQueue for readiness.

import { Address, type FullAddress } from '../../stack/address.js';
import {
  ShutdownFlags,
  SockType,
  type Endpoint,
  type IntSockOpt,
  type ReadOptions,
  type ReadResult,
  type SockOpt,
  type SockOptKind,
  type WriteOptions,
} from '../../stack/endpoint.js';
import { TcpipErrors, type TcpipError } from '../../stack/tcpip_error.js';
import { EventMask } from '../../waiter/waiter_queue.js';
import { createCongestionControl, hasCongestionControl } from './congestion-control.js';
import { CORK_FLUSH_MS, DEFAULT_MSS_V4, FIN_WAIT2_TIMEOUT_MS, TcpState } from './connection.js';
import { TcpConnectionInput } from './connection-input.js';
import { seqAdd } from './seqnum.js';

export { TcpState, type TcpStateValue } from './connection.js';

const TCP = 6;

export class TcpEndpoint extends TcpConnectionInput implements Endpoint {
  readonly sockType = SockType.STREAM;
  readonly protocol = TCP;
  private receiveLowWatermark = 1;
  // ---------------------------------------------------------------------------------------------------------------
  // Socket API (stack/endpoint.ts)

  /** The poll(2) bits of Linux's tcp_poll for the current state (see the comments for each rule). */
  readiness(mask: number): number {
    let r = 0;
    const s = this.state;
    if (s === TcpState.LISTEN) {
      if (this.acceptQueue.length > 0) r |= EventMask.IN | EventMask.RDNORM;
      return r & (mask | EventMask.ERR | EventMask.HUP);
    }
    // Linux's sk_shutdown: receive side shut by shutdown(SHUT_RD) or the peer's FIN, both sides by the end of a
    // connection (tcp_done); send side by shutdown(SHUT_WR) or close.
    const ended = s === TcpState.CLOSED && this.everConnected;
    const rcvShut = this.shutRead || this.finReceived || ended;
    const sndShut = this.shutWrite || ended;
    if (s === TcpState.CLOSED || (rcvShut && sndShut)) r |= EventMask.HUP;
    if (rcvShut) r |= EventMask.IN | EventMask.RDNORM | EventMask.RDHUP;
    if (s !== TcpState.SYN_SENT && s !== TcpState.SYN_RECV) {
      // socket(7) SO_RCVLOWAT: readable once that many bytes wait.
      if (this.receiveBuffer.readable >= this.receiveLowWatermark) r |= EventMask.IN | EventMask.RDNORM;
      // sk_stream_is_writeable: free space at least half of what is queued. After SHUT_WR a write fails at once
      // (EPIPE), so it is "writable" too.
      const sb = this.sendBuffer;
      if (sndShut || (sb.free > 0 && sb.free >= sb.length / 2)) r |= EventMask.OUT | EventMask.WRNORM;
    }
    if (this.pendingError) r |= EventMask.ERR;
    return r & (mask | EventMask.ERR | EventMask.HUP);
  }

  private isDualStack(): boolean {
    return this.family === 6 && !this.options.flag('v6Only');
  }

  /** A user address in the network family it travels on (ipv6(7): v4-mapped addresses on IPv6 sockets). */
  private toNetAddress(a: Address): Address | TcpipError {
    if (a.family !== this.family) return TcpipErrors.addressFamilyNotSupported;
    if (this.family === 6 && a.isV4Mapped()) return this.options.flag('v6Only') ? TcpipErrors.networkUnreachable : a.unmapV4();
    return a;
  }

  /** Families a wildcard-bound socket covers. */
  private wildcardFamilies(): (4 | 6)[] {
    return this.isDualStack() ? [4, 6] : [this.family];
  }

  bind(addr: FullAddress): TcpipError | undefined {
    if (this.localPort !== 0 || this.state !== TcpState.CLOSED) return TcpipErrors.invalidEndpointState;
    const net = this.toNetAddress(addr.address);
    if (!(net instanceof Address)) return net;
    const local = net.isUnspecified() ? undefined : net;
    if (local && !this.stackProtocol.host.isLocalAddress(local)) return TcpipErrors.badLocalAddress;
    const port = this.stackProtocol.host.ports.reserve({
      transport: TCP,
      families: local ? [local.family] : this.wildcardFamilies(),
      address: local,
      port: addr.port,
      nic: addr.nic ?? 0,
      reuseAddress: this.options.flag('reuseAddress'),
      reusePort: this.options.flag('reusePort'),
      owner: this,
    });
    if (typeof port !== 'number') return port;
    this.localAddress = local;
    this.localPort = port;
    this.boundNic = addr.nic ?? 0;
    this.portReserved = true;
    return undefined;
  }

  listen(backlog: number): TcpipError | undefined {
    if (this.state === TcpState.LISTEN) {
      this.backlog = this.clampBacklog(backlog); // listen(2) again only updates the backlog
      return undefined;
    }
    if (this.state !== TcpState.CLOSED || this.everConnected) return TcpipErrors.invalidEndpointState;
    if (this.localPort === 0) {
      const port = this.stackProtocol.host.ports.reserve({
        transport: TCP, families: this.wildcardFamilies(), address: undefined, port: 0, nic: 0,
        reuseAddress: false, reusePort: false, owner: this, listening: true,
      });
      if (typeof port !== 'number') return port;
      this.localPort = port;
      this.portReserved = true;
    } else {
      const err = this.stackProtocol.host.ports.setListening(TCP, this.localPort, this, true);
      if (err) return err;
    }
    this.backlog = this.clampBacklog(backlog);
    this.state = TcpState.LISTEN;
    const families = this.localAddress ? [this.localAddress.family] : this.wildcardFamilies();
    this.register({ localPort: this.localPort, localAddress: this.localAddress, remotePort: 0, remoteAddress: undefined }, families);
    return undefined;
  }

  private clampBacklog(backlog: number): number {
    // listen(2): values above somaxconn are silently truncated; negative values act as 0.
    return Math.max(0, Math.min(backlog | 0, this.stackProtocol.settings.somaxconn));
  }

  accept(): { endpoint: Endpoint; peer: FullAddress } | TcpipError {
    if (this.state !== TcpState.LISTEN) return TcpipErrors.invalidEndpointState;
    // Children are created by TcpProtocol as TcpEndpoints.
    const child = this.takeAccepted() as TcpEndpoint | undefined;
    if (!child) return TcpipErrors.wouldBlock;
    return { endpoint: child, peer: child.peerAddress()! };
  }

  connect(addr: FullAddress): TcpipError | undefined {
    switch (this.state) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECV:
        return TcpipErrors.alreadyConnecting;
      case TcpState.CLOSED:
        break;
      default:
        // Linux's inet_stream_connect: EISCONN for any state but CLOSE, listening included.
        return TcpipErrors.alreadyConnected;
    }
    if (this.everConnected) {
      // connect(2) on a socket whose connection ended: report what ended it, like Linux's sk_err, else EISCONN.
      return this.takeError() ?? TcpipErrors.alreadyConnected;
    }
    const remote = this.toNetAddress(addr.address);
    if (!(remote instanceof Address)) return remote;
    if (this.localAddress && this.localAddress.family !== remote.family) return TcpipErrors.networkUnreachable;
    const host = this.stackProtocol.host;
    const route = host.findRoute(addr.nic ?? this.boundNic, this.localAddress, remote);
    if (!('writePacket' in route)) return route;
    if (this.localPort === 0) {
      const port = host.ports.reserve({
        transport: TCP, families: [route.family], address: route.localAddress, port: 0, nic: 0,
        reuseAddress: false, reusePort: false, owner: this,
      });
      if (typeof port !== 'number') return port;
      this.localPort = port;
      this.portReserved = true;
    }
    this.route = route;
    this.localAddress = route.localAddress;
    this.remoteAddress = remote;
    this.remotePort = addr.port;
    this.register({ localPort: this.localPort, localAddress: this.localAddress, remotePort: this.remotePort, remoteAddress: this.remoteAddress });
    this.initMss();
    this.iss = this.stackProtocol.generateIsn(this.localAddress, this.localPort, this.remoteAddress, this.remotePort);
    this.tsOffset = this.stackProtocol.timestampOffset(this.localAddress, this.localPort, this.remoteAddress, this.remotePort);
    this.sndUna = this.iss;
    this.sndNxt = seqAdd(this.iss, 1);
    this.txq.push(this.iss, this.sndNxt, this.clockNow);
    this.state = TcpState.SYN_SENT;
    this.stackProtocol.stats.activeOpens++;
    this.everConnected = true;
    this.sendSyn(false);
    this.rtoAt = this.clockNow + this.rtt.rto();
    this.armTimer();
    return TcpipErrors.connectStarted;
  }

  disconnect(): TcpipError | undefined {
    if (this.state === TcpState.LISTEN || this.state === TcpState.CLOSED) return undefined;
    this.abort(true, TcpipErrors.connectionAborted);
    return undefined;
  }

  read(dst: Uint8Array, opts?: ReadOptions): ReadResult | TcpipError {
    if (this.state === TcpState.LISTEN) return TcpipErrors.notConnected;
    const rb = this.receiveBuffer;
    // After shutdown(SHUT_RD) data already queued can still be read, then reads return end of stream (as Linux).
    if (rb.readable > 0) {
      const n = opts?.peek ? rb.peek(dst) : rb.read(dst);
      if (!opts?.peek) this.afterRead();
      return { count: n, total: n };
    }
    const err = this.takeError();
    if (err) return err;
    if (this.finReceived || this.shutRead) return TcpipErrors.closedForReceive;
    if (this.state === TcpState.CLOSED) return this.everConnected ? TcpipErrors.closedForReceive : TcpipErrors.notConnected;
    return TcpipErrors.wouldBlock;
  }

  write(src: Uint8Array, opts?: WriteOptions): number | TcpipError {
    if (this.shutWrite) return TcpipErrors.closedForSend;
    const s = this.state;
    if (s === TcpState.SYN_SENT || s === TcpState.SYN_RECV) return TcpipErrors.wouldBlock;
    if (s !== TcpState.ESTABLISHED && s !== TcpState.CLOSE_WAIT) {
      const err = this.takeError();
      if (err) return err;
      // Linux's tcp_sendmsg answers EPIPE (not ENOTCONN) on a socket that is not connected, listening included.
      return TcpipErrors.closedForSend;
    }
    if (src.length === 0) return 0;
    const n = this.sendBuffer.write(src);
    if (n === 0) return TcpipErrors.wouldBlock;
    if (opts?.more) this.corkAt = Math.min(this.corkAt, this.clockNow + CORK_FLUSH_MS);
    this.moreHint = opts?.more === true;
    this.scheduleFlush();
    return n;
  }

  shutdown(flags: number): TcpipError | undefined {
    const s = this.state;
    if (s === TcpState.LISTEN) {
      // Linux: shutdown(SHUT_RD) on a listener stops it (tcp_disconnect); we close the listener.
      if (flags & ShutdownFlags.READ) this.closeListener();
      return undefined;
    }
    if (s === TcpState.CLOSED || s === TcpState.SYN_SENT) {
      if (!this.everConnected) return TcpipErrors.notConnected;
    }
    if (flags & ShutdownFlags.READ) {
      this.shutRead = true;
      this.notify(EventMask.IN | EventMask.RDHUP);
    }
    if (flags & ShutdownFlags.WRITE && !this.shutWrite) {
      this.shutWrite = true;
      if (s === TcpState.SYN_SENT) {
        this.abort(false, undefined);
      } else {
        this.queueFin();
      }
      this.notify(EventMask.OUT);
    }
    return undefined;
  }

  close(): void {
    if (this.userClosed) return;
    this.userClosed = true;
    const s = this.state;
    if (s === TcpState.LISTEN) {
      this.closeListener();
      this.release();
      return;
    }
    if (s === TcpState.CLOSED || s === TcpState.SYN_SENT) {
      if (s === TcpState.SYN_SENT) this.setClosed();
      this.release();
      return;
    }
    // RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread received data resets the connection, as Linux does.
    // SO_LINGER with a zero timeout also resets (socket(7)).
    if (this.receiveBuffer.readable > 0 || (this.linger.enabled && this.linger.seconds === 0)) {
      this.abort(true, undefined);
      this.release();
      return;
    }
    this.shutRead = true;
    if (!this.shutWrite) {
      this.shutWrite = true;
      this.queueFin();
    }
    if (this.linger.enabled) this.lingerAt = this.clockNow + this.linger.seconds * 1000;
    if (this.state === TcpState.FIN_WAIT2) this.finWait2At = this.clockNow + this.finWait2TimeoutMs;
    this.armTimer();
  }

  lastError(): TcpipError | undefined {
    return this.takeError();
  }


  getLocalAddress(): FullAddress | TcpipError {
    const any = this.stackProtocol.anyAddress(this.family);
    return { address: this.localAddress ? this.toUserAddress(this.localAddress) : any, port: this.localPort };
  }

  getRemoteAddress(): FullAddress | TcpipError {
    if (!this.remoteAddress || this.state === TcpState.LISTEN || (this.state === TcpState.CLOSED && !this.everConnected)) {
      return TcpipErrors.notConnected;
    }
    return this.peerAddress()!;
  }

  setSockOptInt(opt: IntSockOpt, value: number): TcpipError | undefined {
    if (!Number.isInteger(value)) return TcpipErrors.invalidOptionValue;
    switch (opt) {
      case 'noDelay':
        this.noDelay = value !== 0;
        if (this.noDelay) this.scheduleFlush();
        return undefined;
      case 'cork':
        this.cork = value !== 0;
        if (!this.cork) { this.corkAt = Infinity; this.scheduleFlush(); }
        return undefined;
      case 'quickAck':
        if (value !== 0 && this.ackPending) { this.ackNow = true; this.scheduleFlush(); }
        return undefined;
      case 'keepAlive':
        this.keepAlive = value !== 0;
        this.options.set(opt, value);
        this.resetKeepalive();
        return undefined;
      case 'keepAliveIdle':
      case 'keepAliveInterval':
        // tcp(7): 1..32767 seconds.
        if (value < 1 || value > 32767) return TcpipErrors.invalidOptionValue;
        if (opt === 'keepAliveIdle') this.keepIdleS = value;
        else this.keepIntervalS = value;
        this.resetKeepalive();
        return undefined;
      case 'keepAliveCount':
        if (value < 1 || value > 127) return TcpipErrors.invalidOptionValue;
        this.keepCount = value;
        return undefined;
      case 'userTimeout':
        if (value < 0) return TcpipErrors.invalidOptionValue;
        this.userTimeoutMs = value;
        return undefined;
      case 'synCount':
        if (value < 1 || value > 127) return TcpipErrors.invalidOptionValue;
        this.synRetries = value;
        return undefined;
      case 'lingerTimeout':
        // tcp(7) TCP_LINGER2: seconds in FIN-WAIT-2 for an orphan; 0 or less restores the default.
        this.finWait2TimeoutMs = value > 0 ? Math.min(value, 120) * 1000 : FIN_WAIT2_TIMEOUT_MS;
        return undefined;
      case 'windowClamp':
        // tcp(7) TCP_WINDOW_CLAMP: at least SOCK_MIN_RCVBUF/2 (Linux clamps small values up), 0 to clear.
        if (value < 0) return TcpipErrors.invalidOptionValue;
        this.windowClamp = value === 0 ? 0 : Math.max(value, 1152);
        return undefined;
      case 'receiveLowWatermark':
        // socket(7) SO_RCVLOWAT: 0 is treated as 1.
        if (value < 0) return TcpipErrors.invalidOptionValue;
        this.receiveLowWatermark = Math.max(1, value);
        return this.options.set(opt, Math.max(1, value));
      case 'maxSegment':
        // tcp(7) TCP_MAXSEG: 88..32767 (Linux's TCP_MIN_MSS and MAX_TCP_WINDOW) or 0 for the default.
        if (value !== 0 && (value < 88 || value > 32767)) return TcpipErrors.invalidOptionValue;
        this.userMss = value;
        return undefined;
      case 'receiveBufferSize': {
        const err = this.options.set(opt, value);
        if (err) return err;
        this.receiveBuffer.resize(this.options.get(opt));
        return undefined;
      }
      case 'sendBufferSize': {
        const err = this.options.set(opt, value);
        if (err) return err;
        this.sendBuffer.resize(this.options.get(opt));
        return undefined;
      }
      case 'ttl':
      case 'tos':
      case 'ipv6HopLimit':
      case 'ipv6TrafficClass': {
        const err = this.options.set(opt, value);
        if (err) return err;
        // ip(7) IP_TTL/IP_TOS and ipv6(7) IPV6_UNICAST_HOPS/IPV6_TCLASS apply to every segment this socket sends.
        const v6 = this.netFamily === 6;
        const ttl = this.options.get(v6 ? 'ipv6HopLimit' : 'ttl');
        this.writeParams.ttl = ttl > 0 ? ttl : 0;
        this.writeParams.tos = this.options.get(v6 ? 'ipv6TrafficClass' : 'tos');
        return undefined;
      }
      default:
        return this.options.set(opt, value);
    }
  }

  getSockOptInt(opt: IntSockOpt): number | TcpipError {
    switch (opt) {
      case 'noDelay': return this.noDelay ? 1 : 0;
      case 'cork': return this.cork ? 1 : 0;
      case 'keepAlive': return this.keepAlive ? 1 : 0;
      case 'keepAliveIdle': return this.keepIdleS;
      case 'keepAliveInterval': return this.keepIntervalS;
      case 'keepAliveCount': return this.keepCount;
      case 'userTimeout': return this.userTimeoutMs;
      case 'synCount': return this.synRetries;
      case 'lingerTimeout': return this.finWait2TimeoutMs / 1000;
      case 'windowClamp': return this.windowClamp;
      case 'receiveLowWatermark': return this.receiveLowWatermark;
      case 'mtu':
        if (!this.route || this.state === TcpState.LISTEN) return TcpipErrors.notConnected;
        return this.route.maxPayload + (this.netFamily === 4 ? 20 : 40);
      case 'maxSegment': return this.state === TcpState.CLOSED || this.state === TcpState.LISTEN ? (this.userMss || DEFAULT_MSS_V4) : this.sndMss;
      case 'acceptConn': return this.state === TcpState.LISTEN ? 1 : 0;
      case 'receiveQueueSize': return this.receiveBuffer.readable;
      case 'sendQueueSize': return this.sendBuffer.length;
      case 'receiveBufferSize': return this.receiveBuffer.capacity;
      case 'sendBufferSize': return this.sendBuffer.capacity;
      default: return this.options.get(opt);
    }
  }

  setSockOpt(opt: SockOpt): TcpipError | undefined {
    switch (opt.kind) {
      case 'linger':
        if (opt.seconds < 0 || !Number.isInteger(opt.seconds)) return TcpipErrors.invalidOptionValue;
        this.linger = { enabled: opt.enabled, seconds: opt.seconds };
        return undefined;
      case 'congestionControl':
        if (!hasCongestionControl(opt.name)) return TcpipErrors.noSuchFile; // tcp(7) TCP_CONGESTION: ENOENT
        this.ccName = opt.name;
        if (this.state === TcpState.CLOSED || this.state === TcpState.LISTEN || this.state === TcpState.SYN_SENT) {
          this.cc = createCongestionControl(this.ccName, this.sndMss);
        }
        return undefined;
      default:
        return TcpipErrors.unknownProtocolOption;
    }
  }

  getSockOpt<K extends SockOptKind>(kind: K): Extract<SockOpt, { kind: K }> | TcpipError {
    let v: SockOpt;
    switch (kind) {
      case 'linger': v = { kind: 'linger', enabled: this.linger.enabled, seconds: this.linger.seconds }; break;
      case 'congestionControl': v = { kind: 'congestionControl', name: this.cc.name }; break;
      case 'tcpInfo':
        v = {
          kind: 'tcpInfo',
          info: {
            state: this.state,
            rtoUs: Math.round(this.rtt.rto() * 1000),
            rttUs: Math.round(this.rtt.srtt * 1000),
            rttVarUs: Math.round(this.rtt.rttvar * 1000),
            sndMss: this.sndMss,
            rcvMss: this.rcvMss,
            sndCwnd: Math.floor(this.cc.cwnd / this.sndMss),
            sndSsthresh: Math.min(0x7fffffff, Math.floor(this.cc.ssthresh / this.sndMss)),
            totalRetrans: this.totalRetransmits,
            reordering: this.txq.reorderingSeen ? 1 : 3,
          },
        };
        break;
      default:
        return TcpipErrors.unknownProtocolOption;
    }
    return v as Extract<SockOpt, { kind: K }>;
  }
}

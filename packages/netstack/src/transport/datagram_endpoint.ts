// The part UDP and ICMP-echo ("ping") sockets share: binding and connecting with port (identifier) reservation
// and demuxer registration for one or both families (a dual-stack IPv6 socket also serves IPv4 through
// v4-mapped addresses, ipv6(7) IPV6_V6ONLY), a bounded queue of received datagrams, readiness, socket options and
// multicast membership. Subclasses say how a datagram is framed on the wire.

import type { PacketBuffer } from '../buffer/packet_buffer.js';
import { Address, IPV4_ANY, IPV6_ANY, type FullAddress } from '../stack/address.js';
import {
  SockType, ShutdownFlags, type ControlMessages, type Endpoint, type IntSockOpt, type ReadOptions, type ReadResult,
  type SockOpt, type SockOptKind, type WriteOptions,
} from '../stack/endpoint.js';
import { Route } from '../stack/route.js';
import { SocketOptions } from '../stack/socket_options.js';
import type { Stack } from '../stack/stack.js';
import { TcpipErrors, type TcpipError } from '../stack/tcpip_error.js';
import type {
  NetworkReceiveInfo, TransportEndpoint, TransportEndpointId, TransportErrorInfo,
} from '../stack/transport_protocol.js';
import { EventMask, type WaiterQueue } from '../waiter/waiter_queue.js';

interface Datagram {
  data: Uint8Array;
  from: FullAddress;
  control: ControlMessages | undefined;
}

/** Errors kept for MSG_ERRQUEUE at most (Linux bounds the queue by the receive buffer). */
const MAX_QUEUED_ERRORS = 64;

type State = 'initial' | 'bound' | 'connected' | 'closed';

/** One (family, id) registration in the demuxer. */
interface Registration {
  family: 4 | 6;
  id: TransportEndpointId;
}

/** Bytes charged per queued datagram beyond its payload (its object, source address and control messages). */
export const DATAGRAM_OVERHEAD = 256;

export abstract class DatagramEndpoint implements Endpoint, TransportEndpoint {
  readonly sockType: typeof SockType.DGRAM | typeof SockType.RAW = SockType.DGRAM;
  protected readonly options = new SocketOptions();
  protected state: State = 'initial';
  /** Bound address (undefined: wildcard) in the socket's own family (v4-mapped for IPv4 on dual-stack sockets). */
  protected boundAddress: Address | undefined;
  protected localPort = 0;
  protected remote: FullAddress | undefined;
  protected route: Route | undefined;
  protected bindNic = 0;
  private registrations: Registration[] = [];
  private readonly queue: Datagram[] = [];
  private readonly errorQueue: Datagram[] = [];
  /** What the receive queue is charged against SO_RCVBUF: payloads plus DATAGRAM_OVERHEAD each. */
  private queuedBytes = 0;
  private shutdownFlags = 0;
  private pendingError: TcpipError | undefined;
  private readonly memberships: { group: Address; nic: number }[] = [];
  private multicastNic = 0;
  protected readonly owner = {};

  constructor(
    protected readonly stack: Stack,
    readonly family: 4 | 6,
    readonly protocol: number,
    readonly waiterQueue: WaiterQueue,
  ) {}

  /** Wire protocol number used for port reservation and the demuxer (17, or 1/58 for ping). */
  protected abstract demuxProtocol(netFamily: 4 | 6): number;
  /** Builds and sends one datagram via `route`. */
  protected abstract sendDatagram(route: Route, payload: Uint8Array, remotePort: number, opts: WriteOptions | undefined): TcpipError | undefined;
  /**
   * Validates a received packet and fills `this.parsed` with the payload window [start, end) within pkt.buf and
   * the source port; false drops the packet. (A field, not a returned object: nothing allocated per packet.)
   */
  protected abstract parseDatagram(info: NetworkReceiveInfo, pkt: PacketBuffer): boolean;
  protected readonly parsed = { start: 0, end: 0, sourcePort: 0 };
  /** Largest payload one datagram may carry for `family`. */
  protected abstract maxPayload(netFamily: 4 | 6): number;

  // ---- addresses

  private isDualStack(): boolean {
    return this.family === 6 && !this.options.flag('v6Only');
  }

  /** Converts a user address to the network family it travels on, or an error. */
  protected toNetAddress(a: Address): { family: 4 | 6; address: Address } | TcpipError {
    if (this.family === 4) {
      if (a.family !== 4) return TcpipErrors.addressFamilyNotSupported;
      return { family: 4, address: a };
    }
    if (a.family === 4) return TcpipErrors.addressFamilyNotSupported;
    if (a.isV4Mapped()) {
      if (this.options.flag('v6Only')) return TcpipErrors.networkUnreachable;
      return { family: 4, address: a.unmapV4() };
    }
    return { family: 6, address: a };
  }

  /** Converts a network address to what this socket reports (v4-mapped on IPv6 sockets). */
  protected toUserAddress(a: Address): Address {
    return this.family === 6 && a.family === 4 ? a.mapToV6() : a;
  }

  // ---- Endpoint

  readiness(mask: number): number {
    let r = 0;
    if (this.queue.length > 0 || (this.shutdownFlags & ShutdownFlags.READ) !== 0) r |= EventMask.IN | EventMask.RDNORM;
    if (this.state !== 'closed' && (this.shutdownFlags & ShutdownFlags.WRITE) === 0) r |= EventMask.OUT | EventMask.WRNORM;
    if (this.pendingError || this.errorQueue.length > 0) r |= EventMask.ERR;
    if (this.shutdownFlags === (ShutdownFlags.READ | ShutdownFlags.WRITE)) r |= EventMask.HUP;
    return r & (mask | EventMask.ERR | EventMask.HUP);
  }

  bind(addr: FullAddress): TcpipError | undefined {
    if (this.state === 'closed') return TcpipErrors.invalidEndpointState;
    if (this.state !== 'initial') return TcpipErrors.alreadyBound;
    if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) return TcpipErrors.invalidOptionValue;
    let families: (4 | 6)[];
    let netAddr: Address | undefined;
    if (addr.address.isUnspecified()) {
      families = this.family === 4 ? [4] : this.isDualStack() ? [4, 6] : [6];
      netAddr = undefined;
    } else {
      const n = this.toNetAddress(addr.address);
      if (!('family' in n)) return n;
      families = [n.family];
      netAddr = n.address;
      if (!netAddr.isMulticast() && !netAddr.isLimitedBroadcast() && !this.stack.isLocalAddress(netAddr) && !this.isSubnetBroadcast(netAddr)) {
        return TcpipErrors.badLocalAddress;
      }
    }
    const nic = addr.nic ?? this.bindNic;
    const port = this.reserve(families, netAddr, addr.port, nic);
    if (typeof port !== 'number') return port;
    this.localPort = port;
    this.boundAddress = addr.address.isUnspecified() ? undefined : addr.address;
    this.bindNic = nic;
    this.register(families.map((f) => ({ family: f, id: { localPort: port, localAddress: netAddr, remotePort: 0, remoteAddress: undefined } })));
    this.state = 'bound';
    return undefined;
  }

  private isSubnetBroadcast(a: Address): boolean {
    return this.stack.allNICs().some((n) => n.isSubnetBroadcast(a));
  }

  private reservedTransport = -1;

  private reserve(families: (4 | 6)[], addr: Address | undefined, port: number, nic: number): number | TcpipError {
    // A dual-stack socket reserves the port once: the reservation covers both families.
    this.reservedTransport = this.demuxProtocol(families[0]!);
    return this.stack.ports.reserve({
      transport: this.reservedTransport,
      families,
      address: addr,
      port,
      nic,
      reuseAddress: this.options.flag('reuseAddress'),
      reusePort: this.options.flag('reusePort'),
      owner: this.owner,
    });
  }

  private register(regs: Registration[]): void {
    this.unregister();
    for (const r of regs) {
      this.stack.registerTransportEndpoint(r.family, this.demuxProtocol(r.family), r.id, this, this.bindNic, this.options.flag('reusePort'));
    }
    this.registrations = regs;
  }

  private unregister(): void {
    for (const r of this.registrations) this.stack.unregisterTransportEndpoint(r.family, this.demuxProtocol(r.family), r.id, this);
    this.registrations = [];
  }

  connect(addr: FullAddress): TcpipError | undefined {
    if (this.state === 'closed') return TcpipErrors.invalidEndpointState;
    if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) return TcpipErrors.invalidOptionValue;
    const n = this.toNetAddress(addr.address);
    if (!('family' in n)) return n;
    let remoteNet = n.address;
    // connect() to the unspecified address means the loopback (Linux inet_dgram_connect / ip4_datagram_connect).
    if (remoteNet.isUnspecified()) remoteNet = n.family === 4 ? Address.parse('127.0.0.1') : Address.parse('::1');
    const localNet = this.boundAddress ? this.toNetAddress(this.boundAddress) : undefined;
    const localAddr = localNet && 'family' in localNet && !localNet.address.isMulticast() ? localNet.address : undefined;
    const route = this.stack.findRoute(addr.nic ?? this.bindNic, localAddr, remoteNet, n.family);
    if (!(route instanceof Route)) return route;
    if (route.isBroadcast && !this.options.flag('broadcast')) return TcpipErrors.broadcastDisabled;
    if (this.state === 'initial') {
      const families: (4 | 6)[] = this.family === 4 ? [4] : this.isDualStack() ? [4, 6] : [6];
      const port = this.reserve(families, undefined, 0, this.bindNic);
      if (typeof port !== 'number') return port;
      this.localPort = port;
    }
    this.route = route;
    this.remote = { address: this.toUserAddress(remoteNet), port: addr.port };
    this.register([{
      family: n.family,
      id: { localPort: this.localPort, localAddress: route.localAddress, remotePort: addr.port, remoteAddress: remoteNet },
    }]);
    this.state = 'connected';
    this.pendingError = undefined;
    return undefined;
  }

  /** connect(AF_UNSPEC): back to bound (or initial if only autobound). udp(7). */
  disconnect(): TcpipError | undefined {
    if (this.state !== 'connected') return undefined;
    this.route = undefined;
    this.remote = undefined;
    const families: (4 | 6)[] = this.family === 4 ? [4] : this.isDualStack() ? [4, 6] : [6];
    let netAddr: Address | undefined;
    if (this.boundAddress) {
      const n = this.toNetAddress(this.boundAddress);
      if ('family' in n) {
        families.length = 0;
        families.push(n.family);
        netAddr = n.address;
      }
    }
    this.register(families.map((f) => ({ family: f, id: { localPort: this.localPort, localAddress: netAddr, remotePort: 0, remoteAddress: undefined } })));
    this.state = 'bound';
    return undefined;
  }

  listen(): TcpipError | undefined {
    return TcpipErrors.notSupported;
  }
  accept(): TcpipError {
    return TcpipErrors.notSupported;
  }

  read(dst: Uint8Array, opts?: ReadOptions): ReadResult | TcpipError {
    if (opts?.errorQueue) {
      // recvmsg(2) MSG_ERRQUEUE: the offending packet's payload with an IP_RECVERR control message.
      const q = this.errorQueue[0];
      if (!q) return TcpipErrors.wouldBlock;
      if (!opts.peek) this.errorQueue.shift();
      const n = Math.min(dst.length, q.data.length);
      dst.set(q.data.subarray(0, n));
      return { count: n, total: q.data.length, remoteAddress: q.from, control: q.control };
    }
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = undefined;
      return e;
    }
    const d = this.queue[0];
    if (!d) {
      if ((this.shutdownFlags & ShutdownFlags.READ) !== 0) return TcpipErrors.closedForReceive;
      return TcpipErrors.wouldBlock;
    }
    if (!opts?.peek) {
      this.queue.shift();
      this.queuedBytes -= d.data.length + DATAGRAM_OVERHEAD;
    }
    const n = Math.min(dst.length, d.data.length);
    dst.set(d.data.subarray(0, n));
    const r: ReadResult = { count: n, total: d.data.length };
    if (opts?.needRemoteAddress) r.remoteAddress = d.from;
    if (d.control) r.control = d.control;
    return r;
  }

  write(src: Uint8Array, opts?: WriteOptions): number | TcpipError {
    if (this.state === 'closed') return TcpipErrors.invalidEndpointState;
    if ((this.shutdownFlags & ShutdownFlags.WRITE) !== 0) return TcpipErrors.closedForSend;
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = undefined;
      return e;
    }
    // ip(7) IP_TTL / IP_TOS control messages: 1..255 (0 or -1 in a cmsg would mean "default" for hop limits).
    if (opts?.ttl !== undefined && !(Number.isInteger(opts.ttl) && opts.ttl >= 0 && opts.ttl <= 255)) return TcpipErrors.invalidOptionValue;
    if (opts?.tos !== undefined && !(Number.isInteger(opts.tos) && opts.tos >= 0 && opts.tos <= 255)) return TcpipErrors.invalidOptionValue;
    let route: Route;
    let remotePort: number;
    if (opts?.to) {
      const to = opts.to;
      if (!Number.isInteger(to.port) || to.port < 0 || to.port > 65535) return TcpipErrors.invalidOptionValue;
      const n = this.toNetAddress(to.address);
      if (!('family' in n)) return n;
      let remoteNet = n.address;
      if (remoteNet.isUnspecified()) remoteNet = n.family === 4 ? Address.parse('127.0.0.1') : Address.parse('::1');
      const r = this.routeTo(remoteNet, n.family, opts.sourceNic ?? to.nic ?? 0, opts.sourceAddress);
      if (!(r instanceof Route)) return r;
      route = r;
      remotePort = to.port;
    } else {
      if (this.state !== 'connected' || !this.route || !this.remote) return TcpipErrors.destinationRequired;
      route = this.route;
      remotePort = this.remote.port;
    }
    if (route.isBroadcast && !this.options.flag('broadcast')) return TcpipErrors.broadcastDisabled;
    if (src.length > this.maxPayload(route.family)) return TcpipErrors.messageTooLong;
    if (this.state === 'initial') {
      // Autobind to an ephemeral port on first send (udp(7)).
      const families: (4 | 6)[] = this.family === 4 ? [4] : this.isDualStack() ? [4, 6] : [6];
      const port = this.reserve(families, undefined, 0, this.bindNic);
      if (typeof port !== 'number') return port;
      this.localPort = port;
      this.register(families.map((f) => ({ family: f, id: { localPort: port, localAddress: undefined, remotePort: 0, remoteAddress: undefined } })));
      this.state = 'bound';
    }
    const err = this.sendDatagram(route, src, remotePort, opts);
    if (err) return err;
    return src.length;
  }

  private routeTo(remote: Address, family: 4 | 6, nic: number, source?: Address): Route | TcpipError {
    let local: Address | undefined;
    if (source && !source.isUnspecified()) {
      // ip(7) IP_PKTINFO: ipi_spec_dst picks the source; it must be one of ours.
      const n = this.toNetAddress(source);
      if (!('family' in n) || n.family !== family) return TcpipErrors.badLocalAddress;
      if (!this.stack.isLocalAddress(n.address)) return TcpipErrors.badLocalAddress;
      local = n.address;
    } else if (this.boundAddress) {
      const n = this.toNetAddress(this.boundAddress);
      if ('family' in n && n.family === family && !n.address.isMulticast() && !n.address.isLimitedBroadcast()) local = n.address;
    }
    if (nic === 0) nic = remote.isMulticast() ? this.multicastNic || this.bindNic : this.bindNic;
    return this.stack.findRoute(nic, local, remote, family);
  }

  /**
   * Linux (inet_shutdown) applies the shutdown even to an unconnected datagram socket and then reports ENOTCONN;
   * programs rely on it to wake a thread blocked in recvfrom(), which then returns 0.
   */
  shutdown(flags: number): TcpipError | undefined {
    if (this.state === 'closed') return TcpipErrors.notConnected;
    this.shutdownFlags |= flags & (ShutdownFlags.READ | ShutdownFlags.WRITE);
    this.waiterQueue.notify(EventMask.IN | EventMask.OUT | EventMask.HUP);
    return this.state === 'connected' ? undefined : TcpipErrors.notConnected;
  }

  close(): void {
    if (this.state === 'closed') return;
    this.unregister();
    if (this.reservedTransport >= 0) this.stack.ports.release(this.reservedTransport, this.localPort, this.owner);
    for (const m of this.memberships) this.stack.nic(m.nic)?.leaveGroup(m.group);
    this.memberships.length = 0;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.state = 'closed';
    this.waiterQueue.notify(EventMask.IN | EventMask.OUT | EventMask.HUP);
  }

  lastError(): TcpipError | undefined {
    const e = this.pendingError;
    this.pendingError = undefined;
    return e;
  }

  getLocalAddress(): FullAddress | TcpipError {
    let address = this.boundAddress;
    if (this.state === 'connected' && this.route && !address) address = this.toUserAddress(this.route.localAddress);
    return { address: address ?? (this.family === 4 ? IPV4_ANY : IPV6_ANY), port: this.localPort };
  }

  getRemoteAddress(): FullAddress | TcpipError {
    if (this.state !== 'connected' || !this.remote) return TcpipErrors.notConnected;
    return { ...this.remote };
  }

  setSockOptInt(opt: IntSockOpt, value: number): TcpipError | undefined {
    if (opt === 'v6Only') {
      if (this.family !== 6) return TcpipErrors.unknownProtocolOption;
      if (this.state !== 'initial') return TcpipErrors.invalidEndpointState;
    }
    if (opt === 'bindToDevice') {
      if (value !== 0 && !this.stack.nic(value)) return TcpipErrors.unknownNICID;
      this.bindNic = value;
      return undefined;
    }
    return this.options.set(opt, value);
  }

  getSockOptInt(opt: IntSockOpt): number | TcpipError {
    switch (opt) {
      case 'receiveQueueSize':
        // FIONREAD on a datagram socket: the size of the next datagram (udp(7)).
        return this.queue[0]?.data.length ?? 0;
      case 'sendQueueSize':
        return 0;
      case 'bindToDevice':
        return this.bindNic;
      case 'acceptConn':
        return 0;
      case 'mtu':
        return this.route ? this.route.mtu : TcpipErrors.notConnected;
      default:
        return this.options.get(opt);
    }
  }

  setSockOpt(opt: SockOpt): TcpipError | undefined {
    switch (opt.kind) {
      case 'addMembership':
      case 'dropMembership': {
        if (!opt.group.isMulticast()) return TcpipErrors.invalidOptionValue;
        const netGroup = this.toNetAddress(opt.group);
        if (!('family' in netGroup)) return netGroup;
        let nic = opt.nic;
        if (nic === 0 && opt.interfaceAddress && !opt.interfaceAddress.isUnspecified()) nic = this.stack.nicForAddress(opt.interfaceAddress);
        if (nic === 0) {
          const r = this.stack.findRoute(0, undefined, netGroup.address, netGroup.family);
          nic = r instanceof Route ? r.nic : this.stack.allNICs().find((n) => !n.isLoopback)?.id ?? 0;
        }
        const n = this.stack.nic(nic);
        if (!n) return TcpipErrors.unknownNICID;
        const i = this.memberships.findIndex((m) => m.nic === nic && m.group.equals(netGroup.address));
        if (opt.kind === 'addMembership') {
          if (i >= 0) return TcpipErrors.duplicateAddress; // ip(7): EADDRINUSE-like; Linux returns EADDRINUSE
          n.joinGroup(netGroup.address);
          this.memberships.push({ group: netGroup.address, nic });
        } else {
          if (i < 0) return TcpipErrors.badLocalAddress;
          n.leaveGroup(netGroup.address);
          this.memberships.splice(i, 1);
        }
        return undefined;
      }
      case 'multicastInterface': {
        let nic = opt.nic;
        if (nic === 0 && opt.interfaceAddress && !opt.interfaceAddress.isUnspecified()) {
          nic = this.stack.nicForAddress(opt.interfaceAddress);
          if (nic === 0) return TcpipErrors.badLocalAddress;
        }
        if (nic !== 0 && !this.stack.nic(nic)) return TcpipErrors.unknownNICID;
        this.multicastNic = nic;
        return undefined;
      }
      default:
        return TcpipErrors.unknownProtocolOption;
    }
  }

  getSockOpt<K extends SockOptKind>(kind: K): Extract<SockOpt, { kind: K }> | TcpipError {
    if (kind === 'multicastInterface') return { kind: 'multicastInterface', nic: this.multicastNic } as Extract<SockOpt, { kind: K }>;
    return TcpipErrors.unknownProtocolOption;
  }

  // ---- TransportEndpoint

  handlePacket(info: NetworkReceiveInfo, pkt: PacketBuffer): void {
    if (this.state === 'closed' || (this.shutdownFlags & ShutdownFlags.READ) !== 0) return;
    if (!this.parseDatagram(info, pkt)) return;
    const parsed = this.parsed;
    const len = parsed.end - parsed.start;
    // socket(7) SO_RCVBUF: datagrams beyond the receive buffer are dropped (counted as RcvbufErrors). Each is
    // charged its bookkeeping too, as Linux charges skb truesize: a flood of empty datagrams must fill it as well.
    const charge = len + DATAGRAM_OVERHEAD;
    if (this.queuedBytes + charge > this.options.get('receiveBufferSize') && this.queue.length > 0) {
      this.onReceiveBufferFull();
      return;
    }
    let control: ControlMessages | undefined;
    const o = this.options;
    if (o.flag('receiveTos') || o.flag('ipv6ReceiveTrafficClass')) (control ??= {}).tos = info.tos;
    if (o.flag('receiveTtl') || o.flag('ipv6ReceiveHopLimit')) (control ??= {}).ttl = info.ttl;
    if (o.flag('receivePacketInfo') || o.flag('ipv6ReceivePacketInfo')) {
      (control ??= {}).packetInfo = { nic: info.nic, localAddress: this.toUserAddress(info.destination), destinationAddress: this.toUserAddress(info.destination) };
    }
    if (o.flag('receiveOriginalDestination')) {
      // ip(7) IP_RECVORIGDSTADDR: the destination address and port the datagram was sent to.
      (control ??= {}).originalDestination = { address: this.toUserAddress(info.destination), port: this.localPort };
    }
    if (o.flag('timestamp')) (control ??= {}).timestampNs = info.timestampNs !== 0n ? info.timestampNs : this.stack.clock.wallNs();
    this.queue.push({
      data: pkt.buf.slice(parsed.start, parsed.end),
      from: { address: this.toUserAddress(info.source), port: parsed.sourcePort, nic: info.nic },
      control,
    });
    this.queuedBytes += charge;
    this.onDelivered();
    this.waiterQueue.notify(EventMask.IN | EventMask.RDNORM);
  }

  protected onReceiveBufferFull(): void {}
  /** Bytes of transport header at the start of a quoted packet (8 for UDP and ICMP echo). */
  protected quotedHeaderLength(): number {
    return 8;
  }
  protected onDelivered(): void {}

  /**
   * udp(7): without IP_RECVERR, ICMP errors are reported only on connected sockets, as the error of the next
   * operation (ECONNREFUSED for port unreachable).
   */
  handleError(err: TransportErrorInfo, info: NetworkReceiveInfo, quoted: Uint8Array): void {
    const recverr = this.options.flag('receiveErrors');
    if (this.state !== 'connected' && !recverr) return;
    let e: TcpipError | undefined;
    switch (err.kind) {
      case 'portUnreachable':
      case 'protocolUnreachable':
        e = TcpipErrors.connectionRefused;
        break;
      case 'hostUnreachable':
        e = TcpipErrors.hostUnreachable;
        break;
      case 'networkUnreachable':
        e = TcpipErrors.networkUnreachable;
        break;
      case 'packetTooBig':
        // The PMTU was updated; only the error queue hears about it (EMSGSIZE with the new MTU).
        e = recverr ? TcpipErrors.messageTooLong : undefined;
        break;
      case 'timeExceeded':
      case 'parameterProblem':
        e = recverr ? TcpipErrors.hostUnreachable : undefined;
        break;
      default:
        e = recverr ? TcpipErrors.hostUnreachable : undefined;
    }
    if (!e) return;
    if (recverr && this.errorQueue.length < MAX_QUEUED_ERRORS) {
      // The data of an error-queue message is the offending datagram's payload (past its transport header).
      const payload = quoted.subarray(Math.min(quoted.length, this.quotedHeaderLength()));
      this.errorQueue.push({
        data: payload.slice(),
        // msg_name is the destination of the offending datagram (ip(7) IP_RECVERR).
        from: {
          address: this.toUserAddress(err.quotedDestination ?? info.source),
          port: this.quotedHeaderLength() >= 4 && quoted.length >= 4 ? (quoted[2]! << 8) | quoted[3]! : 0,
        },
        control: {
          extendedError: {
            errno: e.errno,
            origin: info.family === 4 ? 2 : 3,
            type: err.icmpType,
            code: err.icmpCode,
            info: err.mtu,
            offender: this.toUserAddress(err.reporter),
          },
        },
      });
    }
    if (err.kind === 'packetTooBig') {
      this.waiterQueue.notify(EventMask.ERR);
      return;
    }
    this.pendingError = e;
    this.waiterQueue.notify(EventMask.ERR);
  }
}

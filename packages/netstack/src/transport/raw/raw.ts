// Raw sockets (raw(7), ipv6(7) / RFC 3542): socket(AF_INET[6], SOCK_RAW, protocol). A raw socket receives a copy of
// every packet of its protocol that reaches the host (IPv4: from the IP header on; IPv6: the payload only), filtered
// by bound and connected address. It sends its payload with a stack-built IP header, or for IPv4 with IP_HDRINCL
// (always on for IPPROTO_RAW) a complete packet. ICMPv6 raw sockets get their checksum computed (RFC 3542 3.1) and
// honour ICMP6_FILTER. Whether the caller may open one (CAP_NET_RAW) is the sentry's decision.

import { PacketBuffer } from '../../buffer/packet_buffer.js';
import { finishChecksum, sumBytes } from '../../header/checksum.js';
import { Address, IPV4_ANY, IPV6_ANY, IpProtocol, type FullAddress } from '../../stack/address.js';
import {
  SockType, ShutdownFlags, type Endpoint, type IntSockOpt, type ReadOptions, type ReadResult, type SockOpt,
  type SockOptKind, type WriteOptions,
} from '../../stack/endpoint.js';
import { Route } from '../../stack/route.js';
import { SocketOptions } from '../../stack/socket_options.js';
import type { RawEndpointFactory, RawTransportEndpoint, Stack } from '../../stack/stack.js';
import { TcpipErrors, type TcpipError } from '../../stack/tcpip_error.js';
import type { NetworkReceiveInfo } from '../../stack/transport_protocol.js';
import { EventMask, type WaiterQueue } from '../../waiter/waiter_queue.js';
import { DATAGRAM_OVERHEAD } from '../datagram_endpoint.js';

/** Pass as StackOptions.rawFactory to enable raw sockets. */
export const rawEndpointFactory: RawEndpointFactory = (stack, family, protocol, wq) => {
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) return TcpipErrors.unknownProtocol;
  // raw(7): protocol 0 is invalid for SOCK_RAW.
  if (protocol === 0) return TcpipErrors.unknownProtocol;
  return new RawEndpoint(stack, family, protocol, wq);
};

interface RawPacket {
  data: Uint8Array;
  from: FullAddress;
}

export class RawEndpoint implements Endpoint, RawTransportEndpoint {
  readonly sockType = SockType.RAW;
  private readonly options = new SocketOptions();
  private readonly queue: RawPacket[] = [];
  private queuedBytes = 0;
  private bound: Address | undefined;
  private connected: Address | undefined;
  private bindNic = 0;
  private closed = false;
  private shutdownFlags = 0;
  private icmpv6Deny: Uint32Array | undefined;

  constructor(
    private readonly stack: Stack,
    readonly family: 4 | 6,
    readonly protocol: number,
    readonly waiterQueue: WaiterQueue,
  ) {
    // raw(7): IPPROTO_RAW implies IP_HDRINCL; ipv6(7): IPv6 IPPROTO_RAW sockets likewise send whole packets.
    if (protocol === IpProtocol.RAW) this.options.set('headerIncluded', 1);
    // IPPROTO_RAW sockets are send-only (raw(7)): they never receive.
    if (protocol !== IpProtocol.RAW) stack.registerRawEndpoint(family, protocol, this);
  }

  readiness(mask: number): number {
    let r = 0;
    if (this.queue.length > 0 || (this.shutdownFlags & ShutdownFlags.READ) !== 0) r |= EventMask.IN | EventMask.RDNORM;
    if (!this.closed && (this.shutdownFlags & ShutdownFlags.WRITE) === 0) r |= EventMask.OUT | EventMask.WRNORM;
    return r & (mask | EventMask.ERR | EventMask.HUP);
  }

  bind(addr: FullAddress): TcpipError | undefined {
    if (this.closed) return TcpipErrors.invalidEndpointState;
    if (addr.address.family !== this.family) return TcpipErrors.addressFamilyNotSupported;
    if (!addr.address.isUnspecified() && !this.stack.isLocalAddress(addr.address)) return TcpipErrors.badLocalAddress;
    this.bound = addr.address.isUnspecified() ? undefined : addr.address;
    if (addr.nic) this.bindNic = addr.nic;
    return undefined;
  }

  connect(addr: FullAddress): TcpipError | undefined {
    if (addr.address.family !== this.family) return TcpipErrors.addressFamilyNotSupported;
    const r = this.stack.findRoute(addr.nic ?? this.bindNic, this.bound, addr.address, this.family);
    if (!(r instanceof Route)) return r;
    this.connected = addr.address;
    return undefined;
  }

  disconnect(): TcpipError | undefined {
    this.connected = undefined;
    return undefined;
  }
  listen(): TcpipError {
    return TcpipErrors.notSupported;
  }
  accept(): TcpipError {
    return TcpipErrors.notSupported;
  }

  read(dst: Uint8Array, opts?: ReadOptions): ReadResult | TcpipError {
    const p = this.queue[0];
    if (!p) return (this.shutdownFlags & ShutdownFlags.READ) !== 0 ? TcpipErrors.closedForReceive : TcpipErrors.wouldBlock;
    if (!opts?.peek) {
      this.queue.shift();
      this.queuedBytes -= p.data.length + DATAGRAM_OVERHEAD;
    }
    const n = Math.min(dst.length, p.data.length);
    dst.set(p.data.subarray(0, n));
    const r: ReadResult = { count: n, total: p.data.length };
    if (opts?.needRemoteAddress) r.remoteAddress = p.from;
    return r;
  }

  write(src: Uint8Array, opts?: WriteOptions): number | TcpipError {
    if (this.closed) return TcpipErrors.invalidEndpointState;
    if ((this.shutdownFlags & ShutdownFlags.WRITE) !== 0) return TcpipErrors.closedForSend;
    if (opts?.ttl !== undefined && !(Number.isInteger(opts.ttl) && opts.ttl >= 0 && opts.ttl <= 255)) return TcpipErrors.invalidOptionValue;
    if (opts?.tos !== undefined && !(Number.isInteger(opts.tos) && opts.tos >= 0 && opts.tos <= 255)) return TcpipErrors.invalidOptionValue;
    const hdrincl = this.options.flag('headerIncluded');
    let dst = opts?.to?.address ?? this.connected;
    if (!dst && hdrincl) {
      if (this.family === 4 && src.length >= 20) dst = Address.intern(src, 16, 4);
      else if (this.family === 6 && src.length >= 40) dst = Address.intern(src, 24, 16);
    }
    if (!dst) return TcpipErrors.destinationRequired;
    if (dst.family !== this.family) return TcpipErrors.addressFamilyNotSupported;
    const route = this.stack.findRoute(opts?.to?.nic ?? this.bindNic, hdrincl ? undefined : this.bound, dst, this.family);
    if (!(route instanceof Route)) return route;
    if (route.isBroadcast && !this.options.flag('broadcast')) return TcpipErrors.broadcastDisabled;
    const pkt = PacketBuffer.allocate(src.length, route.maxHeaderLength);
    pkt.buf.set(src, pkt.head);
    let err: TcpipError | undefined;
    if (hdrincl) {
      err = route.writeHeaderIncludedPacket(pkt);
    } else {
      if (src.length > (this.family === 4 ? 65515 : 65535)) return TcpipErrors.messageTooLong;
      pkt.transportHeader = pkt.head;
      if (this.family === 6 && this.protocol === IpProtocol.ICMPV6 && src.length >= 4) {
        pkt.buf[pkt.head + 2] = 0;
        pkt.buf[pkt.head + 3] = 0;
        const c = finishChecksum(sumBytes(pkt.buf, pkt.head, src.length, route.pseudoHeaderSum(IpProtocol.ICMPV6, src.length)));
        pkt.buf[pkt.head + 2] = c >> 8;
        pkt.buf[pkt.head + 3] = c & 0xff;
      }
      const o = this.options;
      const ttl = opts?.ttl ?? (this.family === 4 ? o.get('ttl') : Math.max(0, o.get('ipv6HopLimit')));
      err = route.writePacket(pkt, { protocol: this.protocol, ttl, tos: opts?.tos ?? o.get('tos') });
    }
    if (err) return err;
    this.stack.stats.raw.packetsSent++;
    return src.length;
  }

  shutdown(flags: number): TcpipError | undefined {
    if (!this.connected) return TcpipErrors.notConnected;
    this.shutdownFlags |= flags;
    this.waiterQueue.notify(EventMask.IN | EventMask.OUT);
    return undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.protocol !== IpProtocol.RAW) this.stack.unregisterRawEndpoint(this.family, this.protocol, this);
    this.queue.length = 0;
    this.waiterQueue.notify(EventMask.IN | EventMask.OUT | EventMask.HUP);
  }

  lastError(): TcpipError | undefined {
    return undefined;
  }

  getLocalAddress(): FullAddress {
    return { address: this.bound ?? (this.family === 4 ? IPV4_ANY : IPV6_ANY), port: 0 };
  }
  getRemoteAddress(): FullAddress | TcpipError {
    return this.connected ? { address: this.connected, port: 0 } : TcpipErrors.notConnected;
  }

  setSockOptInt(opt: IntSockOpt, value: number): TcpipError | undefined {
    // IPV6_HDRINCL exists only for IPPROTO_RAW sockets (Linux 4.5+), where it is always on.
    if (opt === 'headerIncluded' && this.family !== 4 && this.protocol !== IpProtocol.RAW) return TcpipErrors.unknownProtocolOption;
    if (opt === 'bindToDevice') {
      this.bindNic = value;
      return undefined;
    }
    return this.options.set(opt, value);
  }
  getSockOptInt(opt: IntSockOpt): number | TcpipError {
    if (opt === 'receiveQueueSize') return this.queue[0]?.data.length ?? 0;
    if (opt === 'bindToDevice') return this.bindNic;
    return this.options.get(opt);
  }
  setSockOpt(opt: SockOpt): TcpipError | undefined {
    if (opt.kind === 'icmpv6Filter') {
      if (this.family !== 6 || this.protocol !== IpProtocol.ICMPV6) return TcpipErrors.unknownProtocolOption;
      if (opt.denyTypes.length !== 8) return TcpipErrors.invalidOptionValue;
      this.icmpv6Deny = Uint32Array.from(opt.denyTypes);
      return undefined;
    }
    return TcpipErrors.unknownProtocolOption;
  }
  getSockOpt<K extends SockOptKind>(kind: K): Extract<SockOpt, { kind: K }> | TcpipError {
    if (kind === 'icmpv6Filter' && this.family === 6 && this.protocol === IpProtocol.ICMPV6) {
      return { kind: 'icmpv6Filter', denyTypes: Uint32Array.from(this.icmpv6Deny ?? new Uint32Array(8)) } as Extract<SockOpt, { kind: K }>;
    }
    return TcpipErrors.unknownProtocolOption;
  }

  handleRawPacket(info: NetworkReceiveInfo, pkt: PacketBuffer): void {
    if (this.closed || (this.shutdownFlags & ShutdownFlags.READ) !== 0) return;
    if (this.bound && !this.bound.equals(info.destination)) return;
    if (this.connected && !this.connected.equals(info.source)) return;
    if (this.bindNic !== 0 && this.bindNic !== info.nic) return;
    if (this.icmpv6Deny) {
      const type = pkt.buf[pkt.transportHeader]!;
      if ((this.icmpv6Deny[type >> 5]! & (1 << (type & 31))) !== 0) return;
    }
    const start = this.family === 4 ? pkt.networkHeader : pkt.transportHeader;
    // Charged like a datagram socket's queue (payload plus DATAGRAM_OVERHEAD): an IPv6 raw socket sees no IP
    // header, and empty payloads must fill SO_RCVBUF too.
    const charge = pkt.tail - start + DATAGRAM_OVERHEAD;
    if (this.queuedBytes + charge > this.options.get('receiveBufferSize') && this.queue.length > 0) {
      this.stack.stats.raw.receiveBufferErrors++;
      return;
    }
    this.queue.push({ data: pkt.buf.slice(start, pkt.tail), from: { address: info.source, port: 0, nic: info.nic } });
    this.queuedBytes += charge;
    this.stack.stats.raw.packetsReceived++;
    this.waiterQueue.notify(EventMask.IN | EventMask.RDNORM);
  }
}

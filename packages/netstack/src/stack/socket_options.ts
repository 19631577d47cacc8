// Protocol-independent socket option state shared by all endpoint kinds (SOL_SOCKET and the IP-level flags that
// only change what is reported or which defaults apply). Endpoints keep one SocketOptions and consult it; options a
// protocol interprets itself (TCP_NODELAY, ...) are handled by the protocol before falling back to this table.

import type { IntSockOpt } from './endpoint.js';
import { TcpipErrors, type TcpipError } from './tcpip_error.js';

/** Linux defaults: net.core.rmem_default / wmem_default are 212992 bytes. */
export const DEFAULT_RECEIVE_BUFFER_SIZE = 212992;
export const DEFAULT_SEND_BUFFER_SIZE = 212992;
/** socket(7): SO_RCVBUF/SO_SNDBUF are doubled by the kernel and clamped; the minimums are 2304 and 4608 bytes. */
export const MIN_RECEIVE_BUFFER_SIZE = 2304;
export const MIN_SEND_BUFFER_SIZE = 4608;
export const MAX_BUFFER_SIZE = 4 << 20;

const BOOLEAN_OPTIONS: ReadonlySet<IntSockOpt> = new Set<IntSockOpt>([
  'reuseAddress', 'reusePort', 'keepAlive', 'broadcast', 'noChecksum', 'timestamp', 'outOfBandInline',
  'multicastLoop', 'receiveTos', 'receiveTtl', 'receivePacketInfo', 'headerIncluded', 'v6Only',
  'ipv6ReceiveTrafficClass', 'ipv6ReceiveHopLimit', 'ipv6ReceivePacketInfo', 'receiveOriginalDestination', 'receiveErrors',
  'noDelay', 'cork', 'quickAck',
]);

export class SocketOptions {
  private readonly values = new Map<IntSockOpt, number>([
    ['receiveBufferSize', DEFAULT_RECEIVE_BUFFER_SIZE],
    ['sendBufferSize', DEFAULT_SEND_BUFFER_SIZE],
    ['receiveLowWatermark', 1],
    ['multicastLoop', 1],
    ['multicastTtl', 1],
    ['ipv6MulticastHops', 1],
    ['ipv6HopLimit', -1],
    ['ttl', 0],
    ['tos', 0],
    ['ipv6TrafficClass', 0],
  ]);

  /** Called by setSockOptInt for an option the protocol itself does not interpret. */
  set(opt: IntSockOpt, value: number): TcpipError | undefined {
    if (!Number.isInteger(value)) return TcpipErrors.invalidOptionValue;
    switch (opt) {
      case 'receiveBufferSize':
        // socket(7): the kernel doubles the value to allow for bookkeeping overhead.
        value = Math.min(MAX_BUFFER_SIZE, Math.max(MIN_RECEIVE_BUFFER_SIZE, value * 2));
        break;
      case 'sendBufferSize':
        value = Math.min(MAX_BUFFER_SIZE, Math.max(MIN_SEND_BUFFER_SIZE, value * 2));
        break;
      case 'ttl':
        // ip(7) IP_TTL: 1..255; -1 restores the default (stored as 0).
        if (value === -1) value = 0;
        else if (value < 1 || value > 255) return TcpipErrors.invalidOptionValue;
        break;
      case 'ipv6HopLimit':
      case 'ipv6MulticastHops':
        if (value < -1 || value > 255) return TcpipErrors.invalidOptionValue;
        break;
      case 'multicastTtl':
        if (value === -1) value = 1;
        if (value < 0 || value > 255) return TcpipErrors.invalidOptionValue;
        break;
      case 'tos':
      case 'ipv6TrafficClass':
        if (value === -1) value = 0;
        if (value < 0 || value > 255) return TcpipErrors.invalidOptionValue;
        break;
      case 'acceptConn':
      case 'mtu':
      case 'receiveQueueSize':
      case 'sendQueueSize':
        return TcpipErrors.unknownProtocolOption; // read-only
      default:
        if (BOOLEAN_OPTIONS.has(opt)) value = value !== 0 ? 1 : 0;
    }
    this.values.set(opt, value);
    return undefined;
  }

  get(opt: IntSockOpt): number {
    return this.values.get(opt) ?? 0;
  }

  flag(opt: IntSockOpt): boolean {
    return (this.values.get(opt) ?? 0) !== 0;
  }
}

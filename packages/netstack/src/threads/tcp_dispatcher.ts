// TCP on the stack thread when TCP runs on worker threads (wire.ts): the TransportProtocol registered as number 6
// instead of TcpProtocol. The stack's demuxer then holds no TCP endpoints, so every received TCP segment reaches
// handleUnknownDestinationPacket, which hands it to the worker that owns its flow (flowHash of the 4-tuple, the
// segment's source being the remote end) through that worker's TO_WORKER ring. ICMP errors quoting our segments
// follow the same hash (handleUnmatchedError). Sockets are RemoteTcpEndpoints: the Endpoint API on this thread.

import { TCP_MIN_HEADER_LENGTH } from '../header/tcp.js';
import type { PacketBuffer } from '../buffer/packet_buffer.js';
import type { Address } from '../stack/address.js';
import type { Endpoint } from '../stack/endpoint.js';
import type { Stack } from '../stack/stack.js';
import type { TcpipError } from '../stack/tcpip_error.js';
import type {
  NetworkReceiveInfo,
  TransportErrorInfo,
  TransportProtocol,
  TransportProtocolFactory,
  UnknownDestinationResult,
} from '../stack/transport_protocol.js';
import { stackTcpHost } from '../transport/tcp/host.js';
import { installTcpWorkerSupport } from '../tools/default_stack.js';
import { TcpProtocol, type TcpSettings } from '../transport/tcp/protocol.js';
import type { WaiterQueue } from '../waiter/waiter_queue.js';
import { RemoteTcpEndpoint, type RemoteTcpContext } from './remote_tcp_endpoint.js';
import { TcpWorkerPool, type TcpWorkerPoolOptions } from './tcp_worker_pool.js';

export interface TcpDispatcherOptions extends Omit<TcpWorkerPoolOptions, 'tcp'> {
  tcp?: Partial<TcpSettings>;
}

export class TcpDispatcher implements TransportProtocol, RemoteTcpContext {
  readonly number = 6;
  readonly minimumPacketSize = TCP_MIN_HEADER_LENGTH;
  readonly pool: TcpWorkerPool;
  /** Creates the prototype endpoints (option validation, port reservations); never listens or connects. */
  readonly prototypes: TcpProtocol;
  /** Segments refused before reaching a worker (shorter than a TCP header, or a bad data offset). */
  malformedSegments = 0;

  constructor(
    readonly stack: Stack,
    opts: TcpDispatcherOptions,
  ) {
    // The pool first: it refuses bad options (and a missing worker script) before anything else exists.
    this.pool = new TcpWorkerPool(stack, { ...opts, tcp: opts.tcp });
    this.prototypes = new TcpProtocol(stackTcpHost(stack), opts.tcp ?? {});
  }

  sourcePort(bytes: Uint8Array, offset: number, length: number): number {
    return length < 4 ? -1 : (bytes[offset]! << 8) | bytes[offset + 1]!;
  }

  destinationPort(bytes: Uint8Array, offset: number, length: number): number {
    return length < 4 ? -1 : (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  }

  newEndpoint(family: 4 | 6, waiterQueue: WaiterQueue): Endpoint | TcpipError {
    return new RemoteTcpEndpoint(this, family, waiterQueue);
  }

  /** Every segment arrives here (the demuxer has no TCP endpoints): forward it to the worker owning its flow. */
  handleUnknownDestinationPacket(info: NetworkReceiveInfo, pkt: PacketBuffer): UnknownDestinationResult {
    const off = pkt.transportHeader;
    const len = pkt.tail - off;
    // RFC 9293 3.1: the data offset counts 32-bit words, at least 5, and cannot point past the segment. The
    // worker parses the rest (and checks the checksum); this is only what the hash needs.
    const dataOffset = (pkt.buf[off + 12]! >>> 4) * 4;
    if (len < TCP_MIN_HEADER_LENGTH || dataOffset < TCP_MIN_HEADER_LENGTH || dataOffset > len) {
      this.malformedSegments++;
      return 'malformed';
    }
    // TCP never answers broadcast or multicast (RFC 1122 4.2.3.10); the stack does not route those here anyway.
    if (info.isBroadcastOrMulticast) return 'handled';
    const sport = (pkt.buf[off]! << 8) | pkt.buf[off + 1]!;
    const dport = (pkt.buf[off + 2]! << 8) | pkt.buf[off + 3]!;
    this.pool.forwardSegment(this.pool.workerFor(info.source, sport, info.destination, dport), info, pkt);
    return 'handled';
  }

  /** An ICMP error quoting one of our segments: to the worker of the quoted flow (remote = quoted destination). */
  handleUnmatchedError(err: TransportErrorInfo, info: NetworkReceiveInfo, quotedSource: Address, quotedDestination: Address, quoted: Uint8Array): boolean {
    if (quoted.length < 8) return false;
    const sport = (quoted[0]! << 8) | quoted[1]!;
    const dport = (quoted[2]! << 8) | quoted[3]!;
    const w = this.pool.workerFor(quotedDestination, dport, quotedSource, sport);
    return this.pool.forwardIcmpError(w, err, info, quotedSource, quotedDestination, quoted);
  }

  close(): void {
    void this.pool.close();
    this.prototypes.close();
  }
}

/** The factory to list in StackOptions.transportProtocols instead of tcpProtocol() for TCP on worker threads. */
export function tcpDispatcherProtocol(opts: TcpDispatcherOptions): TransportProtocolFactory {
  return (stack: Stack) => new TcpDispatcher(stack, opts);
}

// Loading this module is what enables createDefaultStack({ tcpWorkers }) (see tools/default_stack.ts's header).
installTcpWorkerSupport(tcpDispatcherProtocol);

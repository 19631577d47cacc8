// A Stack with every protocol this package implements, as the tool and the sentry use it: IPv4, IPv6, ARP,
// TCP, UDP, ICMP echo sockets for both families, and raw sockets. With `tcpWorkers` > 0, TCP connections run on
// that many worker threads (threads/tcp_dispatcher.ts) behind the same Endpoint API; 0 keeps TCP on the stack's
// thread (tests, small embeddings).
//
// This file does not import threads/: worker mode is installed by loading threads/tcp_dispatcher.js (the package
// index does; the tool imports it only for --tcp-workers > 0). Measured on the 2-core VM: merely loading the
// threads modules into the tool cut its single-threaded TCP download from 10-14 to 7-9 Gbit/s in repeated A/B runs
// (cause inside V8 not found; docs/benchmarks.md), so a single-threaded stack does not load them.

import { arpProtocol } from '../network/arp/arp.js';
import { ipv4Protocol, type IPv4ProtocolOptions } from '../network/ipv4/ipv4.js';
import { ipv6Protocol, type IPv6ProtocolOptions } from '../network/ipv6/ipv6.js';
import type { Clock } from '../stack/clock.js';
import { Stack } from '../stack/stack.js';
import type { TcpDispatcherOptions } from '../threads/tcp_dispatcher.js';
import type { TcpWorkerPool, TcpWorkerPoolOptions } from '../threads/tcp_worker_pool.js';
import { icmpv4Protocol, icmpv6Protocol } from '../transport/icmp/icmp.js';
import { rawEndpointFactory } from '../transport/raw/raw.js';
import { tcpProtocol, type TcpSettings } from '../transport/tcp/protocol.js';
import { udpProtocol } from '../transport/udp/udp.js';
import type { TransportProtocolFactory } from '../stack/transport_protocol.js';

let tcpWorkerProtocol: ((opts: TcpDispatcherOptions) => TransportProtocolFactory) | undefined;

/** Called by threads/tcp_dispatcher.ts when it loads: makes createDefaultStack({ tcpWorkers }) available. */
export function installTcpWorkerSupport(factory: (opts: TcpDispatcherOptions) => TransportProtocolFactory): void {
  tcpWorkerProtocol = factory;
}

export interface DefaultStackOptions {
  clock?: Clock;
  forwarding?: { v4?: boolean; v6?: boolean };
  tcp?: Partial<TcpSettings>;
  ipv4?: IPv4ProtocolOptions;
  ipv6?: IPv6ProtocolOptions;
  /** Allow raw sockets (default true; the sentry enables them only for CAP_NET_RAW holders per socket). */
  raw?: boolean;
  /**
   * TCP worker threads (0 or undefined: TCP on the stack's thread). Worker threads use the real clock (`clock`
   * applies to the stack thread only). Stack.close() stops them; tcpWorkerPool(stack).close() also says when the
   * threads have exited.
   */
  tcpWorkers?: number;
  /**
   * Ring sizes, per-connection credits and the control timeout of the worker pool (TcpWorkerPoolOptions), for
   * tuning and measurement; workerScript for tests that run a misbehaving worker.
   */
  tcpWorkerTuning?: Pick<TcpWorkerPoolOptions, 'ringBytes' | 'sendCredit' | 'receiveCredit' | 'controlTimeoutMs' | 'workerScript'>;
}

export function createDefaultStack(opts: DefaultStackOptions = {}): Stack {
  const workers = opts.tcpWorkers ?? 0;
  if (!Number.isInteger(workers) || workers < 0) {
    throw new RangeError(`EINVAL: tcpWorkers must be a non-negative integer, got ${workers}`);
  }
  if (workers > 0 && !tcpWorkerProtocol) {
    throw new Error(
      "ENOTSUP: TCP worker threads are not loaded: import '@tsvisor/netstack' (or its threads/tcp_dispatcher.js) before createDefaultStack({ tcpWorkers })",
    );
  }
  const tcp = workers > 0 ? tcpWorkerProtocol!({ ...opts.tcpWorkerTuning, workers, tcp: opts.tcp }) : tcpProtocol(opts.tcp);
  return new Stack({
    networkProtocols: [ipv4Protocol(opts.ipv4), ipv6Protocol(opts.ipv6), arpProtocol()],
    transportProtocols: [tcp, udpProtocol(), icmpv4Protocol(), icmpv6Protocol()],
    rawFactory: opts.raw === false ? undefined : rawEndpointFactory,
    clock: opts.clock,
    forwarding: opts.forwarding,
  });
}

/** The TCP worker pool of a stack created with tcpWorkers > 0 (statistics, route refresh, close), else undefined. */
export function tcpWorkerPool(stack: Stack): TcpWorkerPool | undefined {
  // Duck-typed so this file needs no value import of threads/ (see the header): only a TcpDispatcher has a pool.
  const p = stack.transportProtocol(6) as { pool?: TcpWorkerPool } | undefined;
  return p?.pool;
}

// Public API of @tsvisor/netstack: a user-space TCP/IP stack usable on its own (see tools/netstack.ts) and by the
// sentry for the application's sockets.
//
// Layers, each importing only those below it: header -> buffer -> link -> stack -> network -> transport -> tools.
// A minimal embedding:
//
//   const stack = createDefaultStack();                        // IPv4, IPv6, ARP, TCP, UDP, ping, raw
//   const pair = createChannelPair();                          // or FdBasedEndpoint.open({ ifname: 'eth0' })
//   stack.createNIC(1, pair.a);
//   stack.addAddress(1, '10.0.0.1/24');                        // also adds the on-link route
//   stack.addRouteText('default', '10.0.0.254', 1);
//   const ep = stack.socket(4, SockType.DGRAM, 0, new WaiterQueue());   // Endpoint | TcpipError
//   ep.bind({ address: Address.parse('0.0.0.0'), port: 53 });
//   ep.waiterQueue.subscribe(EventMask.IN, () => { const r = ep.read(buf, { needRemoteAddress: true }); ... });
//
// TCP on worker threads: createDefaultStack({ tcpWorkers: 2 }) shards connections over two worker threads (flow
// hash); sockets keep the same Endpoint API (RemoteTcpEndpoint). tcpWorkerPool(stack) gives statistics and close().
//
// Every Endpoint operation is non-blocking and returns a TcpipError value (TcpipErrors.wouldBlock, ...) whose
// `errno` is the Linux errno; the caller waits on `waiterQueue` and re-checks `readiness(mask)`.

// stack: addresses, errors, socket-level endpoint API, routes, the Stack itself
export * from './stack/address.js';
export * from './stack/tcpip_error.js';
export * from './stack/endpoint.js';
export * from './stack/socket_options.js';
export * from './stack/clock.js';
export * from './stack/stats.js';
export * from './stack/internal_error.js';
export * from './stack/route.js';
export * from './stack/route_table.js';
export * from './stack/path_mtu_cache.js';
export * from './stack/port_manager.js';
export * from './stack/neighbor_cache.js';
export * from './stack/transport_protocol.js';
export * from './stack/transport_demuxer.js';
export * from './stack/network_protocol.js';
export * from './stack/nic.js';
export * from './stack/stack.js';
export * from './waiter/waiter_queue.js';

// header: packet header views, checksums (helper F); buffer: packet buffers and rings; link: link endpoints
export * from './header/index.js';
export * from './buffer/packet_buffer.js';
export * from './link/link_endpoint.js';
export * from './link/ethernet_framing.js';
export * from './link/channel.js';
export * from './link/loopback.js';
export * from './link/fdbased.js';
export * from './link/host_netdev.js';
export * from './link/qdisc.js';
export * from './link/worker_qdisc.js';

// network layer
export * from './network/fragment_reassembler.js';
export * from './network/icmp_rate_limiter.js';
export * from './network/ipv4/ipv4.js';
export * from './network/ipv6/ipv6.js';
export * from './network/ipv6/ndp.js';
export * from './network/arp/arp.js';

// transports
export * from './transport/datagram_endpoint.js';
export * from './transport/raw/raw.js';
export * from './transport/udp/udp.js';
export * from './transport/icmp/icmp.js';
export { tcpProtocol, TcpProtocol, DEFAULT_TCP_SETTINGS, TcpState, type TcpSettings } from './transport/tcp/protocol.js';
export { TcpEndpoint } from './transport/tcp/endpoint.js';

// the standalone tool's building blocks, for embedding (the sentry takes devices over the same way)
export * from './tools/default_stack.js';
export * from './tools/device_takeover.js';
export * from './tools/services.js';
export * from './tools/http_server.js';
export * from './tools/stream_connection.js';

// more of the lower layers (virtio_net_hdr, shared rings: helper F)
export * from './link/virtio_net_hdr.js';
export * from './buffer/shared_ring.js';

// TCP on worker threads (createDefaultStack({ tcpWorkers: N }); the stack-thread side, wire.ts is the contract)
export { TcpDispatcher, tcpDispatcherProtocol, type TcpDispatcherOptions } from './threads/tcp_dispatcher.js';
export { RemoteTcpEndpoint } from './threads/remote_tcp_endpoint.js';
export {
  TcpWorkerPool,
  defaultWorkerScript,
  type TcpWorkerPoolOptions,
  type TcpWorkerPoolStats,
} from './threads/tcp_worker_pool.js';

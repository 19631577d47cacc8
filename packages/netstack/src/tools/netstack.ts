#!/usr/bin/env node
// The standalone netstack tool (bin/netstack):
//   netstack serve [--device IFACE] [--http-root DIR] [--http-port N] [--gso=false] [--tcp-workers N]
//                  [--qdisc=inline|worker|false]
// Inside a network namespace it takes the device over (addresses, routes, MTU; device_takeover.ts), then serves
// TCP and UDP echo (7), discard (9) and chargen (19), an HTTP/1.1 file server, and answers ping over IPv4 and IPv6
// entirely in user space through an AF_PACKET socket. SIGUSR1 prints statistics; SIGTERM/SIGINT print them, give
// the addresses and routes back to the kernel, and exit.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { formatStats } from '../stack/stats.js';
import { TcpProtocol } from '../transport/tcp/protocol.js';
import type { TcpWorkerPool } from '../threads/tcp_worker_pool.js';
import { createDefaultStack, tcpWorkerPool } from './default_stack.js';
import { chooseDevice, restoreToKernel, routeEntries, takeOverHostNetwork, type QdiscChoice } from './device_takeover.js';
import { serveHttp, type HttpServerStats } from './http_server.js';
import { CHARGEN_PORT, DISCARD_PORT, ECHO_PORT, serveTcp, serveUdp, type Service, type StreamServiceStats } from './services.js';

interface ServeArgs {
  device?: string;
  httpRoot?: string;
  httpPort: number;
  gso: boolean;
  tcpWorkers: number;
  keepAddresses: boolean;
  qdisc: QdiscChoice;
}


/**
 * Worker mode: the workers' TCP counters summed (`tcp.*`, as in single-threaded mode), then each worker's share of
 * the connection counters (`tcpWorker<i>.*`), which shows how the flow hash spread the connections.
 */
function workerTcpLines(pool: TcpWorkerPool): string[] {
  const perWorker = pool.workerStats();
  const each = perWorker.flatMap((s, i) =>
    s
      ? ['passiveOpens', 'activeOpens', 'segmentsReceived', 'segmentsSent', 'retransmits'].map((k) => `tcpWorker${i}.${k} ${s[k] ?? 0}`)
      : [`tcpWorker${i}.unavailable 1`],
  );
  return [...Object.entries(pool.tcpStats(perWorker)).filter(([, v]) => v !== 0).map(([k, v]) => `tcp.${k} ${v}`), ...each];
}

async function serve(args: ServeArgs): Promise<void> {
  const device = chooseDevice(args.device);
  if (!Number.isInteger(args.tcpWorkers) || args.tcpWorkers < 0 || args.tcpWorkers > 64) {
    throw Object.assign(new Error(`--tcp-workers must be an integer in 0..64, got ${args.tcpWorkers}`), { code: 'EINVAL' });
  }
  // 0: TCP on this thread; N: connections sharded over N worker threads (threads/tcp_dispatcher.ts), loaded only
  // then (default_stack.ts's header says why).
  if (args.tcpWorkers > 0) await import('../threads/tcp_dispatcher.js');
  const stack = createDefaultStack({ tcpWorkers: args.tcpWorkers });
  const pool = tcpWorkerPool(stack);
  const { devices } = takeOverHostNetwork(stack, { devices: [device.name], gso: args.gso, keepAddresses: args.keepAddresses, qdisc: args.qdisc });
  const { link, config: cfg } = devices[0]!;

  const services: Service[] = [];
  const discard: StreamServiceStats = { bytesReceived: 0 };
  for (const [port, kind] of [[ECHO_PORT, 'echo'], [DISCARD_PORT, 'discard'], [CHARGEN_PORT, 'chargen']] as const) {
    services.push(serveUdp(stack, port, kind));
    services.push(serveTcp(stack, port, kind, [4, 6], kind === 'discard' ? discard : undefined));
  }
  const http: HttpServerStats = { requests: 0, responses: {}, bytesSent: 0 };
  if (args.httpRoot) services.push(serveHttp(stack, args.httpPort, args.httpRoot, http));

  const dumpStats = () => {
    const tcp = stack.transportProtocol(6);
    const lines = [
      `netstack statistics (${device.name}):`,
      formatStats(stack.stats),
      ...Object.entries(link.stats).filter(([, v]) => v !== 0).map(([k, v]) => `link.${k} ${v}`),
      ...(tcp instanceof TcpProtocol ? Object.entries(tcp.stats).filter(([, v]) => v !== 0).map(([k, v]) => `tcp.${k} ${v}`) : []),
      // Worker mode: the workers' TCP counters summed, then the stack thread's side of the pool.
      ...(pool ? workerTcpLines(pool) : []),
      ...(pool ? Object.entries(pool.stats).filter(([, v]) => v !== 0).map(([k, v]) => `tcpWorkers.${k} ${v}`) : []),
      `discard.tcpBytesReceived ${discard.bytesReceived}`,
      ...(args.httpRoot ? [`http.requests ${http.requests}`, `http.bytesSent ${http.bytesSent}`, ...Object.entries(http.responses).map(([k, v]) => `http.status${k} ${v}`)] : []),
    ];
    process.stderr.write(`${lines.join('\n')}\n`);
  };
  process.on('SIGUSR1', dumpStats);
  const stop = () => {
    dumpStats();
    for (const s of services) s.close();
    stack.close();
    if (!args.keepAddresses) {
      for (const p of restoreToKernel(cfg)) process.stderr.write(`netstack: restoring ${device.name}: ${p}\n`);
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The AF_PACKET poll keeps the process alive; print one line so scripts know the services are up.
  process.stdout.write(`${JSON.stringify({
    ready: true,
    device: device.name,
    mtu: device.mtu,
    addresses: cfg.addresses.map((a) => a.toString()),
    routes: routeEntries(cfg, devices[0]!.nic).map((r) => `${r.destination}${r.gateway ? ` via ${r.gateway}` : ''}`),
    services: { echo: ECHO_PORT, discard: DISCARD_PORT, chargen: CHARGEN_PORT, ...(args.httpRoot ? { http: args.httpPort } : {}) },
  })}\n`);
}

/** "CODE: message", without repeating a code the message already starts with (the stack's "EINVAL: ..." style). */
function errorText(e: Error & { code?: string }): string {
  const code = e.code ?? 'ERROR';
  return e.message.startsWith(`${code}:`) ? e.message : `${code}: ${e.message}`;
}

export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('netstack')
    .command(
      'serve',
      'take over a device in this network namespace and serve echo/discard/chargen, HTTP and ping from netstack',
      (y) =>
        y
          .option('device', { type: 'string', describe: 'device to take over (default: the first Ethernet device that is up)' })
          .option('http-root', { type: 'string', describe: 'serve files from this directory over HTTP/1.1' })
          .option('http-port', { type: 'number', default: 80, describe: 'HTTP port' })
          .option('gso', { type: 'boolean', default: true, describe: 'use virtio_net_hdr segmentation/checksum offload' })
          .option('tcp-workers', { type: 'number', default: 0, describe: 'TCP worker threads (0: TCP on the main thread)' })
          .option('keep-addresses', { type: 'boolean', default: false, describe: 'leave the addresses on the host device too (for debugging)' })
          .option('qdisc', {
            type: 'string',
            default: 'inline',
            // --qdisc and --qdisc=true mean the inline FIFO; --no-qdisc and --qdisc=false none; anything else is
            // refused by takeOverHostNetwork with EINVAL before the device is touched.
            coerce: (v: unknown) => (v === '' || v === true || v === 'true' ? 'inline' : v === false || v === 'false' ? false : v) as QdiscChoice,
            describe: "egress queueing: 'inline' (FIFO batches on this thread), 'worker' (sendmmsg on its own thread), false (none)",
          }),
      (a) => serve({
        device: a.device, httpRoot: a['http-root'], httpPort: a['http-port'], gso: a.gso, tcpWorkers: a['tcp-workers'], keepAddresses: a['keep-addresses'], qdisc: a.qdisc,
      }),
    )
    .demandCommand(1)
    .strict()
    .fail((msg, err) => {
      if (err) process.stderr.write(`netstack: ${errorText(err)}\n`);
      else process.stderr.write(`netstack: ${msg} (see netstack --help)\n`);
      process.exit(err ? 1 : 2);
    })
    .parseAsync();
}

main(hideBin(process.argv)).catch((e: Error & { code?: string }) => {
  process.stderr.write(`netstack: ${errorText(e)}\n`);
  process.exit(1);
});

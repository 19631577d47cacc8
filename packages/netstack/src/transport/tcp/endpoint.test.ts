import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { LoopbackEndpoint } from '../../link/loopback.js';
import { ipv4Protocol } from '../../network/ipv4/ipv4.js';
import { Address } from '../../stack/address.js';
import { Stack } from '../../stack/stack.js';
import { ShutdownFlags } from '../../stack/endpoint.js';
import { TcpipErrors, isTcpipError } from '../../stack/tcpip_error.js';
import { EventMask } from '../../waiter/waiter_queue.js';
import { TcpEndpoint, TcpState } from './endpoint.js';
import { TcpProtocol, tcpProtocol } from './protocol.js';
import { createTcpStackPair, type TcpStackPair } from './stack-pair.js';

let pair: TcpStackPair | undefined;
const debugEndpoints = new Set<TcpEndpoint>();
afterEach(() => {
  pair?.close();
  pair = undefined;
});

/** Resolves once `ep` reports any of `mask` (or rejects after timeoutMs). */
function waitFor(ep: TcpEndpoint, mask: number, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const now = ep.readiness(mask);
    if (now) return resolve(now);
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for events 0x${mask.toString(16)}: ${ep.describe()} || ${[...debugEndpoints].map((e) => e.describe()).join(' || ')} statsA=${JSON.stringify(pair?.tcpA.stats)} statsB=${JSON.stringify(pair?.tcpB.stats)}`));
    }, timeoutMs);
    const unsubscribe = ep.waiterQueue.subscribe(mask, () => {
      const r = ep.readiness(mask);
      if (r) {
        clearTimeout(timer);
        unsubscribe();
        resolve(r);
      }
    });
  });
}

async function connectPair(p: TcpStackPair, port = 8080, family: 4 | 6 = 4): Promise<{ client: TcpEndpoint; server: TcpEndpoint; listener: TcpEndpoint }> {
  const listener = p.tcpB.createEndpoint(family);
  expect(listener.bind({ address: p.addrB, port })).toBeUndefined();
  expect(listener.listen(16)).toBeUndefined();
  const client = p.tcpA.createEndpoint(family);
  expect(client.connect({ address: p.addrB, port })).toBe(TcpipErrors.connectStarted);
  await waitFor(listener, EventMask.IN);
  const acc = listener.accept();
  if (isTcpipError(acc)) throw new Error(String(acc));
  await waitFor(client, EventMask.OUT);
  debugEndpoints.clear();
  debugEndpoints.add(client).add(acc.endpoint as TcpEndpoint);
  return { client, server: acc.endpoint as TcpEndpoint, listener };
}

/** Writes all of `data` through `ep`, waiting for writability; then shuts down writing. */
async function writeAll(ep: TcpEndpoint, data: Uint8Array, chunk = 256 * 1024): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const n = ep.write(data.subarray(off, Math.min(data.length, off + chunk)));
    if (n === TcpipErrors.wouldBlock) {
      await waitFor(ep, EventMask.OUT, 60000);
      continue;
    }
    if (isTcpipError(n)) throw new Error(`write: ${n}`);
    off += n;
  }
  expect(ep.shutdown(ShutdownFlags.WRITE)).toBeUndefined();
}

/** Reads until EOF; returns the sha256 and byte count. */
async function readAll(ep: TcpEndpoint): Promise<{ hash: string; length: number }> {
  const h = createHash('sha256');
  const buf = new Uint8Array(512 * 1024);
  let length = 0;
  for (;;) {
    const r = ep.read(buf);
    if (r === TcpipErrors.wouldBlock) {
      await waitFor(ep, EventMask.IN, 60000);
      continue;
    }
    if (r === TcpipErrors.closedForReceive) break;
    if (isTcpipError(r)) throw new Error(`read: ${r}`);
    h.update(buf.subarray(0, r.count));
    length += r.count;
  }
  return { hash: h.digest('hex'), length };
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x; b[i + 1] = x >>> 8; b[i + 2] = x >>> 16; b[i + 3] = x >>> 24;
  }
  return b;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('TCP over two stacks', () => {
  it('completes the three-way handshake and negotiates options', async () => {
    pair = createTcpStackPair();
    const { client, server } = await connectPair(pair);
    expect(client.state).toBe(TcpState.ESTABLISHED);
    expect(server.state).toBe(TcpState.ESTABLISHED);
    expect(client.sackOk && server.sackOk).toBe(true);
    expect(client.timestampsEnabled && server.timestampsEnabled).toBe(true);
    // Scaled for the 4 MiB SO_RCVBUF maximum: shift 7 (RFC 7323 2.2: 65535 << 6 < 4 MiB <= 65535 << 7).
    expect(client.windowScaleReceive).toBe(7);
    expect(server.windowScaleSend).toBe(7);
    // MTU 1500 - 20 IP - 20 TCP - 12 timestamps.
    expect(client.sndMss).toBe(1448);
    const peer = server.getRemoteAddress();
    expect(isTcpipError(peer) ? peer : peer.address.toString()).toBe('10.0.0.1');
  });

  it('transfers data both ways and closes with FIN (TIME_WAIT on the active closer)', async () => {
    pair = createTcpStackPair();
    const { client, server } = await connectPair(pair);
    const up = pattern(300_000, 1);
    const down = pattern(200_000, 2);
    const [, , gotUp, gotDown] = await Promise.all([
      writeAll(client, up), writeAll(server, down), readAll(server), readAll(client),
    ]);
    expect(gotUp.hash).toBe(sha(up));
    expect(gotDown.hash).toBe(sha(down));
    client.close();
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    // Both sent FIN at about the same time: simultaneous or sequential close ends in TIME_WAIT on at least one side.
    expect([client.state, server.state]).toContain(TcpState.TIME_WAIT);
  });

  it('works over IPv6 with a half-close (shutdown SHUT_WR, then the peer still sends)', async () => {
    pair = createTcpStackPair({ family: 6 });
    const { client, server } = await connectPair(pair, 443, 6);
    // MTU 1500 - 40 IPv6 - 20 TCP - 12 timestamps.
    expect(client.sndMss).toBe(1428);
    const req = pattern(5000, 9);
    await writeAll(client, req); // ends with shutdown(SHUT_WR): FIN-WAIT
    const got = await readAll(server);
    expect(got.hash).toBe(sha(req));
    await new Promise((r) => setTimeout(r, 20)); // the ACK of the FIN is on the wire
    expect(client.state).toBe(TcpState.FIN_WAIT2);
    expect(server.state).toBe(TcpState.CLOSE_WAIT);
    const resp = pattern(100_000, 10);
    await writeAll(server, resp);
    const back = await readAll(client);
    expect(back.hash).toBe(sha(resp));
    await new Promise((r) => setTimeout(r, 20));
    expect(client.state).toBe(TcpState.TIME_WAIT);
    expect(server.state).toBe(TcpState.CLOSED);
  });

  it('serves IPv4 clients on a dual-stack IPv6 listener with v4-mapped addresses, and not with IPV6_V6ONLY', async () => {
    pair = createTcpStackPair();
    const listener = pair.tcpB.createEndpoint(6);
    expect(listener.bind({ address: Address.parse('::'), port: 8081 })).toBeUndefined();
    expect(listener.listen(4)).toBeUndefined();
    const v4client = pair.tcpA.createEndpoint(4);
    expect(v4client.connect({ address: Address.parse('10.0.0.2'), port: 8081 })).toBe(TcpipErrors.connectStarted);
    await waitFor(listener, EventMask.IN);
    const acc = listener.accept();
    if (isTcpipError(acc)) throw new Error(String(acc));
    expect(acc.peer.address.toString()).toBe('::ffff:10.0.0.1');
    const server = acc.endpoint as TcpEndpoint;
    const local = server.getLocalAddress();
    expect(isTcpipError(local) ? local : local.address.toString()).toBe('::ffff:10.0.0.2');
    expect(server.sndMss).toBe(1448); // IPv4 on the wire
    // An IPv6 socket connecting to a v4-mapped address talks IPv4.
    const v6client = pair.tcpA.createEndpoint(6);
    expect(v6client.connect({ address: Address.parse('::ffff:10.0.0.2'), port: 8081 })).toBe(TcpipErrors.connectStarted);
    await waitFor(v6client, EventMask.OUT);
    const remote = v6client.getRemoteAddress();
    expect(isTcpipError(remote) ? remote : remote.address.toString()).toBe('::ffff:10.0.0.2');
    // IPV6_V6ONLY: IPv4 SYNs are refused.
    const only6 = pair.tcpB.createEndpoint(6);
    expect(only6.setSockOptInt('v6Only', 1)).toBeUndefined();
    expect(only6.bind({ address: Address.parse('::'), port: 8082 })).toBeUndefined();
    only6.listen(4);
    const refused = pair.tcpA.createEndpoint(4);
    refused.connect({ address: Address.parse('10.0.0.2'), port: 8082 });
    await waitFor(refused, EventMask.ERR);
    expect(refused.lastError()).toBe(TcpipErrors.connectionRefused);
  });

  it('reports poll bits as Linux tcp_poll does through the connection lifecycle', async () => {
    pair = createTcpStackPair();
    const all = EventMask.IN | EventMask.OUT | EventMask.ERR | EventMask.HUP | EventMask.RDHUP | EventMask.RDNORM | EventMask.WRNORM;
    const fresh = pair.tcpA.createEndpoint(4);
    // A new socket polls POLLOUT|POLLHUP (with the WRNORM twin) on Linux.
    expect(fresh.readiness(all)).toBe(EventMask.OUT | EventMask.WRNORM | EventMask.HUP);
    const { client, server } = await connectPair(pair, 8090);
    expect(client.readiness(all)).toBe(EventMask.OUT | EventMask.WRNORM);
    server.shutdown(ShutdownFlags.WRITE); // peer FIN: readable (EOF) and RDHUP
    await waitFor(client, EventMask.RDHUP);
    expect(client.readiness(all)).toBe(EventMask.IN | EventMask.RDNORM | EventMask.RDHUP | EventMask.OUT | EventMask.WRNORM);
    client.shutdown(ShutdownFlags.WRITE); // both directions shut: HUP
    expect(client.readiness(all) & EventMask.HUP).toBe(EventMask.HUP);
    // A refused connect: ERR, HUP, IN, OUT.
    const refused = pair.tcpA.createEndpoint(4);
    refused.connect({ address: pair.addrB, port: 1 });
    expect(refused.readiness(all)).toBe(0); // SYN-SENT
    await waitFor(refused, EventMask.ERR);
    expect(refused.readiness(all)).toBe(all);
  });

  it('answers a SYN to a closed port with RST (connection refused)', async () => {
    pair = createTcpStackPair();
    const client = pair.tcpA.createEndpoint(4);
    expect(client.connect({ address: pair.addrB, port: 9 })).toBe(TcpipErrors.connectStarted);
    const ev = await waitFor(client, EventMask.ERR);
    expect(ev & EventMask.ERR).toBeTruthy();
    expect(client.lastError()).toBe(TcpipErrors.connectionRefused);
    expect(client.state).toBe(TcpState.CLOSED);
    expect(pair.tcpB.stats.resetsSent).toBe(1);
  });

  it('returns the errno Linux gives for misuse: bind to a foreign address, connect on a listener, double bind', async () => {
    pair = createTcpStackPair();
    const e = pair.tcpB.createEndpoint(4);
    expect(e.bind({ address: Address.parse('192.0.2.1'), port: 80 })).toBe(TcpipErrors.badLocalAddress);
    expect(e.bind({ address: pair.addrB, port: 80 })).toBeUndefined();
    expect(e.bind({ address: pair.addrB, port: 81 })).toBe(TcpipErrors.invalidEndpointState);
    expect(e.listen(1)).toBeUndefined();
    expect(e.connect({ address: pair.addrA, port: 1 })).toBe(TcpipErrors.alreadyConnected);
    const other = pair.tcpB.createEndpoint(4);
    expect(other.bind({ address: pair.addrB, port: 80 })).toBe(TcpipErrors.portInUse);
    const fresh = pair.tcpB.createEndpoint(4);
    expect(fresh.write(new Uint8Array(1))).toBe(TcpipErrors.closedForSend); // EPIPE, as tcp_sendmsg
    expect(fresh.read(new Uint8Array(1))).toBe(TcpipErrors.notConnected);
    expect(fresh.accept()).toBe(TcpipErrors.invalidEndpointState);
  });

  it('accept returns wouldBlock when the queue is empty and read/write return wouldBlock when idle', async () => {
    pair = createTcpStackPair();
    const listener = pair.tcpB.createEndpoint(4);
    listener.bind({ address: pair.addrB, port: 81 });
    listener.listen(4);
    expect(listener.accept()).toBe(TcpipErrors.wouldBlock);
    const { client } = await connectPair(pair, 82);
    expect(client.read(new Uint8Array(10))).toBe(TcpipErrors.wouldBlock);
  });
});

describe('TCP bulk throughput', () => {
  for (const mtu of [1500, 65535]) {
    it(`moves data one way over a clean channel link (MTU ${mtu})`, async () => {
      const mb = process.env.TSVISOR_LONG === '1' ? 50 : 8;
      pair = createTcpStackPair({ link: { mtu } });
      const { client, server } = await connectPair(pair);
      const data = pattern(mb << 20, 5);
      const t0 = performance.now();
      const [, got] = await Promise.all([writeAll(client, data), readAll(server)]);
      const secs = (performance.now() - t0) / 1000;
      expect(got.hash).toBe(sha(data));
      console.log(`clean one-way ${mb} MiB, MTU ${mtu}: ${secs.toFixed(2)} s, ${((mb * 8 * 1.048576) / secs).toFixed(0)} Mbit/s, segments ${pair.tcpA.stats.segmentsSent}/${pair.tcpB.stats.segmentsSent}`);
    }, 120_000);
  }
});

describe('TCP over the loopback NIC', () => {
  it('connects to 127.0.0.1 and moves data with 64 KiB segments', async () => {
    const stack = new Stack({ networkProtocols: [ipv4Protocol()], transportProtocols: [tcpProtocol()] });
    try {
      expect(stack.createNIC(1, new LoopbackEndpoint()) ?? stack.addAddress(1, '127.0.0.1/8')).toBeUndefined();
      const tcp = stack.transportProtocol(6) as TcpProtocol;
      const lo = Address.parse('127.0.0.1');
      const listener = tcp.createEndpoint(4);
      listener.bind({ address: lo, port: 9000 });
      listener.listen(1);
      const client = tcp.createEndpoint(4);
      expect(client.connect({ address: lo, port: 9000 })).toBe(TcpipErrors.connectStarted);
      await waitFor(listener, EventMask.IN);
      const acc = listener.accept();
      if (isTcpipError(acc)) throw new Error(String(acc));
      const server = acc.endpoint as TcpEndpoint;
      expect(client.sndMss).toBeGreaterThan(65000); // the local route MTU, less IP, TCP and timestamp headers
      const data = pattern(8 << 20, 11);
      const t0 = performance.now();
      const [, got] = await Promise.all([writeAll(client, data), readAll(server)]);
      expect(got.hash).toBe(sha(data));
      console.log(`loopback 8 MiB: ${(performance.now() - t0).toFixed(0)} ms`);
    } finally {
      stack.close();
    }
  });
});

describe('TCP with an impaired link', () => {
  // Heavier impairments over several seeds (about a minute): run with TSVISOR_LONG=1.
  it.skipIf(process.env.TSVISOR_LONG !== '1')('soaks under heavy loss, reordering and duplication on many seeds', async () => {
    const cases: [number, number, number, number][] = [
      [11, 0.1, 0.1, 0.05], [12, 0.2, 0.05, 0], [13, 0.05, 0.3, 0.1], [14, 0.02, 0.05, 0.02], [15, 0.02, 0.05, 0.02], [16, 0.05, 0.05, 0.05],
    ];
    for (const [seed, loss, reorder, duplicate] of cases) {
      pair = createTcpStackPair({ impairments: { seed, loss, reorder, duplicate } });
      const { client, server } = await connectPair(pair);
      // At 20% loss TCP crawls (as any TCP would): a smaller transfer for that case.
      const size = loss >= 0.2 ? 256 << 10 : 1 << 20;
      const up = pattern(size, seed);
      const down = pattern(size, seed + 100);
      const [, , gotUp, gotDown] = await Promise.all([writeAll(client, up), writeAll(server, down), readAll(server), readAll(client)]);
      expect(gotUp.hash).toBe(sha(up));
      expect(gotDown.hash).toBe(sha(down));
      pair.close();
      pair = undefined;
    }
  }, 300_000);

  it('delivers both directions intact under loss, reordering, duplication and delay', async () => {
    const mb = process.env.TSVISOR_LONG === '1' ? 50 : 4;
    pair = createTcpStackPair({ impairments: { seed: 7, loss: 0.01, reorder: 0.02, duplicate: 0.01, delayMs: 1 } });
    const { client, server } = await connectPair(pair);
    const up = pattern(mb << 20, 3);
    const down = pattern(mb << 20, 4);
    const t0 = performance.now();
    const [, , gotUp, gotDown] = await Promise.all([
      writeAll(client, up), writeAll(server, down), readAll(server), readAll(client),
    ]);
    const secs = (performance.now() - t0) / 1000;
    expect(gotUp.length).toBe(up.length);
    expect(gotUp.hash).toBe(sha(up));
    expect(gotDown.hash).toBe(sha(down));
    // Losses were repaired by SACK recovery and retransmission.
    expect(client.totalRetransmits + server.totalRetransmits).toBeGreaterThan(0);
    console.log(`impaired bidirectional ${mb} MiB each way: ${secs.toFixed(2)} s, ${((2 * mb * 8) / secs).toFixed(1)} Mbit/s total, retransmits ${client.totalRetransmits}/${server.totalRetransmits}`);
  }, 120_000);
});


// TCP on worker threads end to end: a stack with tcpWorkers=2 (real worker_threads running dist/threads/
// tcp_worker.js: run `npx tsc -b packages/netstack` first; `make test` builds before testing) talks to a plain
// single-threaded stack over a channel link. The Endpoint API a worker-mode stack gives applications must behave as
// TcpEndpoint does, so several checks run the same scenario on both kinds of stack and compare.

import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createChannelPair, type ChannelImpairments } from '../link/channel.js';
import { Address } from '../stack/address.js';
import { ShutdownFlags, SockType, type Endpoint } from '../stack/endpoint.js';
import type { Stack } from '../stack/stack.js';
import { TcpipError, TcpipErrors } from '../stack/tcpip_error.js';
import { createDefaultStack, tcpWorkerPool, type DefaultStackOptions } from '../tools/default_stack.js';
import { addLoopbackNIC } from '../tools/device_takeover.js';
import { serveTcp } from '../tools/services.js';
import { NetworkReceiveInfo } from '../stack/transport_protocol.js';
import { EventMask, WaiterQueue } from '../waiter/waiter_queue.js';
import { PacketBuffer } from '../buffer/packet_buffer.js';
import { RemoteTcpEndpoint } from './remote_tcp_endpoint.js';
// Loading tcp_dispatcher.js installs worker mode into createDefaultStack (tools/default_stack.ts's header).
import './tcp_dispatcher.js';
import { TcpDispatcher } from './tcp_dispatcher.js';
import { defaultWorkerScript } from './tcp_worker_pool.js';
import { flowHash } from './wire.js';
import type { TcpSettings } from '../transport/tcp/protocol.js';

interface Pair {
  /** 10.7.0.1, fd07::1 */
  a: Stack;
  /** 10.7.0.2, fd07::2 */
  b: Stack;
  close(): Promise<void>;
}

const open: Pair[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

function pair(
  workersA: number,
  workersB: number,
  impairments: ChannelImpairments = {},
  tcp: Partial<TcpSettings> = {},
  tuning: DefaultStackOptions['tcpWorkerTuning'] = undefined,
): Pair {
  const link = createChannelPair(impairments);
  const a = createDefaultStack({ tcpWorkers: workersA, tcp, tcpWorkerTuning: tuning });
  const b = createDefaultStack({ tcpWorkers: workersB, tcp });
  a.createNIC(1, link.a);
  b.createNIC(1, link.b);
  a.addAddress(1, '10.7.0.1/24');
  b.addAddress(1, '10.7.0.2/24');
  a.addAddress(1, 'fd07::1/64');
  b.addAddress(1, 'fd07::2/64');
  const p: Pair = {
    a,
    b,
    close: async () => {
      const pools = [tcpWorkerPool(a), tcpWorkerPool(b)];
      a.close();
      b.close();
      link.close();
      for (const pool of pools) await pool?.close();
    },
  };
  open.push(p);
  return p;
}

function socket(s: Stack, family: 4 | 6 = 4): Endpoint {
  const ep = s.socket(family, SockType.STREAM, 0, new WaiterQueue());
  if (ep instanceof TcpipError) throw new Error(`socket: ${ep}`);
  return ep;
}

function listen(s: Stack, port: number, onAccept: (ep: Endpoint) => void, family: 4 | 6 = 4): Endpoint {
  const l = socket(s, family);
  expect(l.bind({ address: Address.parse(family === 4 ? '0.0.0.0' : '::'), port })).toBeUndefined();
  expect(l.listen(128)).toBeUndefined();
  const drain = () => {
    for (;;) {
      const r = l.accept();
      if (r instanceof TcpipError) return;
      onAccept(r.endpoint);
    }
  };
  l.waiterQueue.subscribe(EventMask.IN, drain);
  return l;
}

function connect(s: Stack, to: string, port: number): Endpoint {
  const ep = socket(s, to.includes(':') ? 6 : 4);
  expect(ep.connect({ address: Address.parse(to), port })).toBe(TcpipErrors.connectStarted);
  return ep;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Sends `payload`, half-closes, and reads until end of stream; resolves with the hash of what arrived. */
function stream(ep: Endpoint, payload: Uint8Array, timeoutMs = 15_000): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    const buf = new Uint8Array(65536);
    let sent = 0;
    let got = 0;
    let shut = false;
    let eof = false;
    let finished = false;
    let running = false;
    let again = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      unsub();
      if (err) reject(err);
      else resolve({ hash: h.digest('hex'), bytes: got });
    };
    const timer = setTimeout(() => finish(new Error(`timeout: sent ${sent}/${payload.length}, received ${got}`)), timeoutMs);
    const step = () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      do {
        again = false;
        while (sent < payload.length) {
          const n = ep.write(payload.subarray(sent, Math.min(payload.length, sent + 256 * 1024)));
          if (n instanceof TcpipError) {
            if (n === TcpipErrors.wouldBlock) break;
            running = false;
            return finish(new Error(`write: ${n}`));
          }
          sent += n;
        }
        if (sent === payload.length && !shut) {
          shut = true;
          ep.shutdown(ShutdownFlags.WRITE);
        }
        while (!eof) {
          const r = ep.read(buf);
          if (r instanceof TcpipError) {
            if (r === TcpipErrors.wouldBlock) break;
            running = false;
            if (r !== TcpipErrors.closedForReceive) return finish(new Error(`read: ${r}`));
            eof = true;
            break;
          }
          h.update(buf.subarray(0, r.count));
          got += r.count;
        }
      } while (again);
      running = false;
      if (eof && shut) finish();
    };
    const unsub = ep.waiterQueue.subscribe(EventMask.IN | EventMask.OUT | EventMask.ERR | EventMask.HUP, step);
    queueMicrotask(step);
  });
}

describe('TCP worker threads', () => {
  it('carries 20 MB each way intact under loss and reordering, worker stack listening and connecting', { timeout: 30_000 }, async () => {
    const p = pair(2, 0, { seed: 7, loss: 0.003, reorder: 0.01 });
    const up = randomBytes(20 << 20);
    const down = randomBytes(20 << 20);
    // Worker stack (a) listens, plain stack (b) connects.
    const served = new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
      listen(p.a, 5001, (ep) => stream(ep, down).then(resolve, reject));
    });
    const client = stream(connect(p.b, '10.7.0.1', 5001), up);
    // And the reverse at the same time: the plain stack listens, the worker stack connects (IPv6).
    const served2 = new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
      listen(p.b, 5002, (ep) => stream(ep, up).then(resolve, reject), 6);
    });
    const client2 = stream(connect(p.a, 'fd07::2', 5002), down);
    const [s, c, s2, c2] = await Promise.all([served, client, served2, client2]);
    expect(s).toEqual({ hash: sha(up), bytes: up.length });
    expect(c).toEqual({ hash: sha(down), bytes: down.length });
    expect(s2).toEqual({ hash: sha(down), bytes: down.length });
    expect(c2).toEqual({ hash: sha(up), bytes: up.length });
    const pool = tcpWorkerPool(p.a)!;
    expect(pool.tcpStats()['retransmits']).toBeGreaterThan(0); // the loss really hit the workers' connections
  });

  it('small rings: records wait in order when TO_WORKER is full, segments are dropped and retransmitted, data intact', { timeout: 30_000 }, async () => {
    // The smallest rings (256 KiB): bursts of four connections' writes and segments overflow them.
    const p = pair(2, 0, {}, {}, { ringBytes: 256 * 1024 });
    const up = randomBytes(4 << 20);
    const down = randomBytes(4 << 20);
    const served: Promise<{ hash: string; bytes: number }>[] = [];
    let accepted!: () => void;
    const allAccepted = new Promise<void>((r) => (accepted = r));
    listen(p.a, 5003, (ep) => {
      served.push(stream(ep, down, 25_000));
      if (served.length === 4) accepted();
    });
    const clients = Array.from({ length: 4 }, () => stream(connect(p.b, '10.7.0.1', 5003), up, 25_000));
    await allAccepted;
    const results = await Promise.all([...served, ...clients]);
    for (const r of results.slice(0, 4)) expect(r).toEqual({ hash: sha(up), bytes: up.length });
    for (const r of results.slice(4)) expect(r).toEqual({ hash: sha(down), bytes: down.length });
    const stats = tcpWorkerPool(p.a)!.stats;
    expect(stats.recordsDeferred).toBeGreaterThan(0);
    expect(stats.segmentsDropped).toBeGreaterThan(0);
  });

  it('spreads 50 parallel connections over both workers; the echo service works unchanged', { timeout: 20_000 }, async () => {
    const p = pair(2, 0);
    const svc = serveTcp(p.a, 7, 'echo', [4]);
    const payloads = Array.from({ length: 50 }, (_, i) => randomBytes(1000 + i * 97));
    const results = await Promise.all(payloads.map((pl) => stream(connect(p.b, '10.7.0.1', 7), pl)));
    results.forEach((r, i) => expect(r).toEqual({ hash: sha(payloads[i]!), bytes: payloads[i]!.length }));
    const perWorker = tcpWorkerPool(p.a)!.workerStats();
    expect(perWorker).toHaveLength(2);
    const opens = perWorker.map((s) => s?.['passiveOpens'] ?? 0);
    expect(opens[0]! + opens[1]!).toBe(50);
    expect(opens[0]).toBeGreaterThan(0);
    expect(opens[1]).toBeGreaterThan(0);
    svc.close();
  });

  it('rejects a bad socket option with the error TcpEndpoint gives, before and after connecting', { timeout: 10_000 }, async () => {
    const p = pair(2, 0);
    const plain = socket(p.b);
    const remote = socket(p.a);
    expect(remote).toBeInstanceOf(RemoteTcpEndpoint);
    for (const [opt, v] of [['keepAliveIdle', 0], ['keepAliveCount', 200], ['maxSegment', 20], ['receiveBufferSize', 1.5]] as const) {
      const want = plain.setSockOptInt(opt, v);
      expect(want).toBeInstanceOf(TcpipError);
      expect(remote.setSockOptInt(opt, v)).toBe(want);
    }
    expect(remote.setSockOpt({ kind: 'congestionControl', name: 'nope' })).toBe(plain.setSockOpt({ kind: 'congestionControl', name: 'nope' }));
    // Options set many times are replayed once each (60000 records would not fit one ring record).
    for (let i = 0; i < 60_000; i++) expect(remote.setSockOptInt('keepAliveIdle', 1 + (i % 100))).toBeUndefined();
    expect(remote.setSockOptInt('keepAliveIdle', 30)).toBeUndefined();
    // Materialized on a worker: the worker's TcpEndpoint validates, with the same result.
    listen(p.b, 6000, () => {});
    expect(remote.connect({ address: Address.parse('10.7.0.2'), port: 6000 })).toBe(TcpipErrors.connectStarted);
    const c = remote;
    await waitFor(c, EventMask.OUT);
    expect(c.getSockOptInt('keepAliveIdle')).toBe(30); // replayed on the worker
    expect(c.setSockOptInt('keepAliveIdle', 0)).toBe(TcpipErrors.invalidOptionValue);
    expect(c.setSockOptInt('keepAliveCount', 200)).toBe(TcpipErrors.invalidOptionValue);
    expect(c.setSockOptInt('noDelay', 1)).toBeUndefined();
    expect(c.getSockOptInt('noDelay')).toBe(1);
  });
});

/** Resolves once `ep` reports any of `mask` (or ERR/HUP). */
function waitFor(ep: Endpoint, mask: number, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const now = ep.readiness(mask);
    if (now) return resolve(now);
    const timer = setTimeout(() => {
      unsub();
      reject(new Error(`timeout waiting for events 0x${mask.toString(16)}`));
    }, timeoutMs);
    const unsub = ep.waiterQueue.subscribe(mask | EventMask.ERR | EventMask.HUP, () => {
      const r = ep.readiness(mask);
      if (!r) return;
      clearTimeout(timer);
      unsub();
      resolve(r);
    });
  });
}

/** Reads until end of stream or an error; returns the bytes and the error that ended it (its code). */
async function readToEnd(ep: Endpoint, timeoutMs = 5000): Promise<{ data: Buffer; end: string }> {
  const chunks: Buffer[] = [];
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = ep.read(buf);
    if (!(r instanceof TcpipError)) {
      chunks.push(Buffer.from(buf.subarray(0, r.count)));
      continue;
    }
    if (r !== TcpipErrors.wouldBlock) return { data: Buffer.concat(chunks), end: r.code };
    await waitFor(ep, EventMask.IN, Math.max(1, deadline - Date.now()));
  }
}

const code = (r: unknown): string => (r instanceof TcpipError ? r.code : r === undefined ? 'ok' : JSON.stringify(r));
const bits = (m: number): string =>
  Object.entries(EventMask).filter(([, v]) => m & v).map(([k]) => k).join('|') || '-';

/**
 * The same socket-level scenarios with the endpoints under test on a stack with `workers` TCP workers (0: plain
 * TcpEndpoints) against a plain peer; returns what every call answered, for comparison.
 */
async function semantics(workers: number): Promise<string[]> {
  const p = pair(workers, 0);
  const log: string[] = [];
  const all = EventMask.IN | EventMask.OUT | EventMask.RDHUP;
  const peerConns: Endpoint[] = [];
  listen(p.b, 7001, (ep) => peerConns.push(ep));

  // Calls on sockets that are not connected.
  const fresh = socket(p.a);
  log.push(`fresh read ${code(fresh.read(new Uint8Array(4)))} write ${code(fresh.write(new Uint8Array(4)))}`);
  log.push(`fresh shutdown ${code(fresh.shutdown(ShutdownFlags.WRITE))} accept ${code(fresh.accept())} remote ${code(fresh.getRemoteAddress())}`);
  log.push(`fresh readiness ${bits(fresh.readiness(all))} lastError ${code(fresh.lastError())} disconnect ${code(fresh.disconnect())}`);
  log.push(`bind ${code(fresh.bind({ address: Address.parse('10.7.0.1'), port: 7100 }))} again ${code(fresh.bind({ address: Address.parse('10.7.0.1'), port: 7101 }))}`);
  const other = socket(p.a);
  log.push(`bind in use ${code(other.bind({ address: Address.parse('0.0.0.0'), port: 7100 }))} not local ${code(other.bind({ address: Address.parse('10.9.9.9'), port: 7102 }))}`);
  log.push(`listen ${code(fresh.listen(5))} again ${code(fresh.listen(10))} acceptConn ${code(fresh.getSockOptInt('acceptConn'))}`);
  log.push(`listener read ${code(fresh.read(new Uint8Array(4)))} write ${code(fresh.write(new Uint8Array(4)))} accept ${code(fresh.accept())}`);
  log.push(`listener connect ${code(fresh.connect({ address: Address.parse('10.7.0.2'), port: 7001 }))} remote ${code(fresh.getRemoteAddress())}`);
  const la = fresh.getLocalAddress();
  log.push(`listener local ${la instanceof TcpipError ? la.code : `${la.address}:${la.port}`}`);
  fresh.close();
  other.close();
  // The port is free again once the listener closed.
  const again = socket(p.a);
  log.push(`rebind after close ${code(again.bind({ address: Address.parse('0.0.0.0'), port: 7100 }))}`);
  again.close();

  // A: orderly close, the endpoint under test connecting.
  const c = socket(p.a);
  log.push(`A connect ${code(c.connect({ address: Address.parse('10.7.0.2'), port: 7001 }))} again ${code(c.connect({ address: Address.parse('10.7.0.2'), port: 7001 }))}`);
  log.push(`A connecting write ${code(c.write(new Uint8Array(1)))}`);
  await waitFor(c, EventMask.OUT);
  log.push(`A connected readiness ${bits(c.readiness(all))} remote ${code((c.getRemoteAddress() as { port: number }).port)}`);
  log.push(`A write ${code(c.write(Buffer.from('hello')))} shutdown ${code(c.shutdown(ShutdownFlags.WRITE))} write ${code(c.write(Buffer.from('x')))}`);
  while (peerConns.length === 0) await new Promise((r) => setTimeout(r, 5));
  const pa = peerConns.shift()!;
  const got = await readToEnd(pa);
  log.push(`A peer got ${got.data.toString()} then ${got.end}`);
  pa.write(Buffer.from('bye'));
  pa.close();
  const back = await readToEnd(c);
  log.push(`A got ${back.data.toString()} then ${back.end}; read again ${code(c.read(new Uint8Array(4)))}`);
  log.push(`A readiness ${bits(c.readiness(all))} lastError ${code(c.lastError())} connect ${code(c.connect({ address: Address.parse('10.7.0.2'), port: 7001 }))}`);
  c.close();

  // B: the peer closes with unread data (RST): the endpoint under test sees the reset once, then end of stream.
  const d = socket(p.a);
  d.connect({ address: Address.parse('10.7.0.2'), port: 7001 });
  await waitFor(d, EventMask.OUT);
  log.push(`B write ${code(d.write(new Uint8Array(3000)))}`);
  while (peerConns.length === 0) await new Promise((r) => setTimeout(r, 5));
  const pb = peerConns.shift()!;
  await waitFor(pb, EventMask.IN);
  pb.close();
  await waitFor(d, EventMask.ERR);
  log.push(`B readiness ${bits(d.readiness(all))}`);
  log.push(`B read ${code(d.read(new Uint8Array(4)))} read ${code(d.read(new Uint8Array(4)))} write ${code(d.write(new Uint8Array(4)))} lastError ${code(d.lastError())}`);
  log.push(`B readiness after ${bits(d.readiness(all))}`);
  d.close();

  // C: connection refused (no listener): reported through SO_ERROR.
  const e = socket(p.a);
  log.push(`C connect ${code(e.connect({ address: Address.parse('10.7.0.2'), port: 7999 }))}`);
  await waitFor(e, EventMask.ERR);
  log.push(`C readiness ${bits(e.readiness(all))} lastError ${code(e.lastError())} lastError ${code(e.lastError())}`);
  log.push(`C read ${code(e.read(new Uint8Array(4)))} write ${code(e.write(new Uint8Array(4)))} connect ${code(e.connect({ address: Address.parse('10.7.0.2'), port: 7999 }))}`);
  e.close();

  // D: close(2) right after a large write still delivers every byte, then end of stream.
  const f = socket(p.a);
  f.connect({ address: Address.parse('10.7.0.2'), port: 7001 });
  await waitFor(f, EventMask.OUT);
  const big = randomBytes(200_000);
  let sent = 0;
  while (sent < big.length) {
    const n = f.write(big.subarray(sent));
    if (n instanceof TcpipError) await waitFor(f, EventMask.OUT);
    else sent += n;
  }
  f.close();
  while (peerConns.length === 0) await new Promise((r) => setTimeout(r, 5));
  const pf = peerConns.shift()!;
  const all2 = await readToEnd(pf);
  log.push(`D peer got ${all2.data.length} bytes intact ${sha(all2.data) === sha(big)} then ${all2.end}`);

  // E: the endpoint under test accepts; shutdown(SHUT_RD) then reads give end of stream.
  const accepted: Endpoint[] = [];
  const l = listen(p.a, 7002, (ep) => accepted.push(ep));
  const g = connect(p.b, '10.7.0.1', 7002);
  await waitFor(g, EventMask.OUT);
  while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5));
  const h = accepted[0]!;
  const ra = h.getRemoteAddress();
  const lo = h.getLocalAddress();
  log.push(`E accepted remote ${ra instanceof TcpipError ? ra.code : `${ra.address}`} local ${lo instanceof TcpipError ? lo.code : `${lo.address}:${lo.port}`}`);
  g.write(Buffer.from('ping'));
  await waitFor(h, EventMask.IN);
  const peekBuf = new Uint8Array(2);
  const peeked = h.read(peekBuf, { peek: true });
  log.push(`E peek ${code(peeked instanceof TcpipError ? peeked : peeked.count)} ${Buffer.from(peekBuf).toString()} FIONREAD ${code(h.getSockOptInt('receiveQueueSize'))}`);
  log.push(`E options noDelay ${code(h.setSockOptInt('noDelay', 1))} ${code(h.getSockOptInt('noDelay'))} linger ${code(h.setSockOpt({ kind: 'linger', enabled: true, seconds: 5 }))} ${JSON.stringify(h.getSockOpt('linger'))}`);
  log.push(`E shutdown read ${code(h.shutdown(ShutdownFlags.READ))} readiness ${bits(h.readiness(all))}`);
  const rest = await readToEnd(h);
  log.push(`E after SHUT_RD got ${rest.data.toString()} then ${rest.end}`);
  h.close();
  g.close();
  l.close();
  return log;
}

/** Threads of this process (each worker thread is one; Node's own threads are started by then). */
function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

describe('TCP worker threads: socket semantics', () => {
  it('EOF, reset, refusal, close and error values match a single-threaded stack for the same calls', { timeout: 15_000 }, async () => {
    const plain = await semantics(0);
    const workers = await semantics(2);
    expect(workers).toEqual(plain);
  });
});

/**
 * Three connections from the peer (b) to the echo service on a's port 7, from source ports (counting up from
 * `firstPort`) whose flow hashes to `worker` of two; each must echo 5000 bytes intact.
 */
async function echoFromPeer(p: Pair, worker: number, firstPort: number): Promise<void> {
  let served = 0;
  for (let port = firstPort; served < 3; port++) {
    if (flowHash(Address.parse('10.7.0.2'), port, Address.parse('10.7.0.1'), 7) % 2 !== worker) continue;
    const c = socket(p.b);
    expect(c.bind({ address: Address.parse('10.7.0.2'), port })).toBeUndefined();
    expect(c.connect({ address: Address.parse('10.7.0.1'), port: 7 })).toBe(TcpipErrors.connectStarted);
    const pl = randomBytes(5000);
    expect(await stream(c, pl, 5000)).toEqual({ hash: sha(pl), bytes: pl.length });
    served++;
  }
}

describe('TCP worker threads: local traffic, ICMP errors, failures', () => {
  it('connects to its own addresses over loopback (both ends on workers), IPv4 and IPv6', { timeout: 10_000 }, async () => {
    const s = createDefaultStack({ tcpWorkers: 2 });
    addLoopbackNIC(s);
    open.push({ a: s, b: s, close: async () => { s.close(); await tcpWorkerPool(s)?.close(); } });
    const svc = serveTcp(s, 7, 'echo', [4, 6]);
    const payloads = Array.from({ length: 8 }, (_, i) => randomBytes(50_000 + i));
    const results = await Promise.all(payloads.map((pl, i) => stream(connect(s, i % 2 ? '::1' : '127.0.0.1', 7), pl)));
    results.forEach((r, i) => expect(r).toEqual({ hash: sha(payloads[i]!), bytes: payloads[i]!.length }));
    svc.close();
  });

  it('a dual-stack IPv6 listener reports IPv4 peers as v4-mapped addresses', { timeout: 10_000 }, async () => {
    const p = pair(2, 0);
    const accepted: Endpoint[] = [];
    const l = socket(p.a, 6);
    expect(l.bind({ address: Address.parse('::'), port: 7300 })).toBeUndefined();
    expect(l.listen(8)).toBeUndefined();
    l.waiterQueue.subscribe(EventMask.IN, () => {
      const r = l.accept();
      if (!(r instanceof TcpipError)) accepted.push(r.endpoint);
    });
    const c = connect(p.b, '10.7.0.1', 7300);
    await waitFor(c, EventMask.OUT);
    while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5));
    const peer = accepted[0]!.getRemoteAddress();
    const local = accepted[0]!.getLocalAddress();
    expect(peer instanceof TcpipError ? peer.code : peer.address.toString()).toBe('::ffff:10.7.0.2');
    expect(local instanceof TcpipError ? local.code : `${local.address}:${local.port}`).toBe('::ffff:10.7.0.1:7300');
  });

  it('an ICMP Packet Too Big quoting a worker connection lowers its segment size (Stack.deliverTransportError hook)', { timeout: 10_000 }, async () => {
    // Remember the sequence number of the last data segment the worker stack sent: an ICMP error must quote one in
    // flight (RFC 5927 4.1), and the peer never acknowledges it (the filter drops it), so it stays in flight.
    let quotedSeq = -1;
    const p = pair(2, 0, {
      filter: (f, from) => {
        const b = f.bytes;
        const tcp = 14 + 20; // Ethernet + IPv4 without options
        if (from !== 'a' || b.length <= tcp + 20 || b[14 + 9] !== 6 || ((b[tcp + 2]! << 8) | b[tcp + 3]!) !== 7400) return true;
        const dataOffset = (b[tcp + 12]! >>> 4) * 4;
        if (b.length - tcp - dataOffset === 0) return true;
        quotedSeq = ((b[tcp + 4]! << 24) | (b[tcp + 5]! << 16) | (b[tcp + 6]! << 8) | b[tcp + 7]!) >>> 0;
        return false;
      },
    });
    listen(p.b, 7400, () => {});
    const c = connect(p.a, '10.7.0.2', 7400);
    await waitFor(c, EventMask.OUT);
    const before = c.getSockOptInt('maxSegment') as number;
    expect(before).toBeGreaterThan(1400);
    expect(c.write(new Uint8Array(100))).toBe(100);
    for (let i = 0; i < 100 && quotedSeq < 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(quotedSeq).toBeGreaterThanOrEqual(0);
    const la = c.getLocalAddress() as { port: number };
    const quoted = new Uint8Array(20);
    const qv = new DataView(quoted.buffer);
    qv.setUint16(0, la.port);
    qv.setUint16(2, 7400);
    qv.setUint32(4, quotedSeq);
    const netInfo = new NetworkReceiveInfo();
    netInfo.nic = 1;
    netInfo.family = 4;
    netInfo.source = Address.parse('10.7.0.2');
    netInfo.destination = Address.parse('10.7.0.1');
    const delivered = p.a.deliverTransportError(
      netInfo,
      { kind: 'packetTooBig', mtu: 1000, icmpType: 3, icmpCode: 4, reporter: Address.parse('10.7.0.2') },
      6, Address.parse('10.7.0.1'), Address.parse('10.7.0.2'), quoted,
    );
    expect(delivered).toBe(true);
    expect(tcpWorkerPool(p.a)!.stats.icmpErrorsForwarded).toBe(1);
    // The worker's connection takes the new path MTU: segments of at most 1000 - 40 bytes of headers.
    for (let i = 0; i < 100 && (c.getSockOptInt('maxSegment') as number) >= before; i++) await new Promise((r) => setTimeout(r, 10));
    const after = c.getSockOptInt('maxSegment') as number;
    expect(after).toBeLessThanOrEqual(960);
    expect(after).toBeGreaterThan(900);
  });

  it('forwards a segment whether or not it has room in front, and leaves the packet as it was', { timeout: 10_000 }, async () => {
    const p = pair(2, 0);
    const dispatcher = p.a.transportProtocol(6) as TcpDispatcher;
    const info = new NetworkReceiveInfo();
    info.nic = 1;
    info.family = 4;
    info.source = Address.parse('10.7.0.2');
    info.destination = Address.parse('10.7.0.1');
    info.ttl = 64;
    // An ACK for a connection that does not exist: the worker that gets it answers with a RST (RFC 9293 3.10.7.1).
    const ack = (front: number, sport: number) => {
      const b = new Uint8Array(front + 20).fill(0xa5, 0, front);
      const v = new DataView(b.buffer, front);
      v.setUint16(0, sport);
      v.setUint16(2, 9999);
      v.setUint32(4, 1);
      v.setUint32(8, 1);
      v.setUint8(12, 5 << 4);
      v.setUint8(13, 0x10);
      v.setUint16(14, 1000);
      const pkt = new PacketBuffer(b, 0, b.length);
      pkt.transportHeader = front;
      pkt.checksumValidated = true; // as a link with receive checksum offload says
      return pkt;
    };
    // The addresses were added after the stack (and its workers) started: send them the snapshot now, as an
    // embedder does after configuring (otherwise the periodic comparison does it within ROUTE_SYNC_MS).
    const pool = tcpWorkerPool(p.a)!;
    pool.syncRoutes();
    for (const [front, sport] of [[64, 40001], [0, 40002], [12, 40003]] as const) {
      const pkt = ack(front, sport);
      const before = pkt.buf.slice();
      expect(dispatcher.handleUnknownDestinationPacket(info, pkt)).toBe('handled');
      expect(pkt.buf).toEqual(before);
    }
    for (let i = 0; i < 100 && pool.tcpStats()['resetsSent'] !== 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pool.tcpStats()['resetsSent']).toBe(3);
    expect(pool.stats.segmentsForwarded).toBe(3);
    // Too short for a TCP header, or a data offset past the end: refused here, never forwarded.
    const short = ack(0, 40004);
    short.tail = 12;
    expect(dispatcher.handleUnknownDestinationPacket(info, short)).toBe('malformed');
    const badOffset = ack(0, 40005);
    badOffset.buf[12] = 15 << 4;
    expect(dispatcher.handleUnknownDestinationPacket(info, badOffset)).toBe('malformed');
    expect(pool.stats.segmentsForwarded).toBe(3);
  });

  it('connection churn: closed connections leave the tables, their ports stay reserved through TIME-WAIT only', { timeout: 15_000 }, async () => {
    const p = pair(2, 0, {}, { timeWaitMs: 400 });
    const pool = tcpWorkerPool(p.a)!;
    listen(p.b, 7700, (ep) => {
      // The peer reads to the end and closes: the worker stack closes first and goes through TIME-WAIT.
      void readToEnd(ep).then(() => ep.close());
    });
    const ports: number[] = [];
    for (let round = 0; round < 10; round++) {
      await Promise.all(Array.from({ length: 20 }, async () => {
        const c = connect(p.a, '10.7.0.2', 7700);
        await waitFor(c, EventMask.OUT);
        ports.push((c.getLocalAddress() as { port: number }).port);
        expect(c.write(Buffer.from('x'))).toBe(1);
        c.close();
      }));
    }
    expect(new Set(ports).size).toBe(200);
    // In TIME-WAIT on the workers (the worker stack closed first): the endpoints are not released yet and the
    // stack keeps their ports from being handed out again, as a single-threaded stack does.
    await new Promise((r) => setTimeout(r, 100));
    expect(ports.filter((port) => p.a.ports.isReserved(6, port)).length).toBeGreaterThan(150);
    // Once TIME-WAIT ends, everything is released: the tables are empty and every port is free.
    for (let i = 0; i < 300 && pool.endpointCounts().some((n) => n > 0); i++) await new Promise((r) => setTimeout(r, 10));
    expect(pool.endpointCounts()).toEqual([0, 0]);
    expect(ports.filter((port) => p.a.ports.isReserved(6, port))).toEqual([]);
    expect(pool.tcpStats()['activeOpens']).toBe(200);
  });

  it('a worker that dies aborts its connections; the other worker and the stack keep serving', { timeout: 15_000 }, async () => {
    const p = pair(2, 0);
    const svc = serveTcp(p.a, 7, 'echo', [4]);
    // Connections on both workers, kept open.
    const conns: Endpoint[] = [];
    for (let i = 0; i < 12; i++) conns.push(connect(p.b, '10.7.0.1', 7));
    await Promise.all(conns.map((c) => waitFor(c, EventMask.OUT)));
    const pool = tcpWorkerPool(p.a)!;
    const l = socket(p.a);
    l.bind({ address: Address.parse('0.0.0.0'), port: 7500 });
    l.listen(16);
    const local: Endpoint[] = [];
    for (let i = 0; i < 12; i++) local.push(connect(p.a, '10.7.0.2', 7600 + i));
    pool.killWorker(0);
    // Connections of the stack's own that lived on worker 0 end with ConnectionAborted, the others do not.
    let aborted = 0;
    for (const c of local) {
      const w = (c as RemoteTcpEndpoint).workerIndex;
      if (w === 0) {
        expect(c.readiness(EventMask.IN) & EventMask.ERR).toBe(EventMask.ERR);
        expect(c.lastError()).toBe(TcpipErrors.connectionAborted);
        aborted++;
      }
    }
    expect(aborted).toBeGreaterThan(0);
    expect(aborted).toBeLessThan(12);
    expect(pool.stats.workersDied).toBe(1);
    expect(pool.workerStats()[0]).toBeUndefined();
    // New connections whose 4-tuple hashes to worker 1 still work: the echo service answers them.
    await echoFromPeer(p, 1, 20000);
    // The dead worker's share of new flows goes to the live worker: connections from the peer whose 4-tuple hashes
    // to worker 0 are accepted and served...
    await echoFromPeer(p, 0, 21000);
    // ... and so are connections the worker stack opens whose 4-tuple hashes to worker 0.
    const peerEcho = serveTcp(p.b, 7, 'echo', [4]);
    let opened = 0;
    for (let port = 22000; opened < 3; port++) {
      if (flowHash(Address.parse('10.7.0.2'), 7, Address.parse('10.7.0.1'), port) % 2 !== 0) continue;
      const c = socket(p.a) as RemoteTcpEndpoint;
      expect(c.bind({ address: Address.parse('10.7.0.1'), port })).toBeUndefined();
      expect(c.connect({ address: Address.parse('10.7.0.2'), port: 7 })).toBe(TcpipErrors.connectStarted);
      expect(c.workerIndex).toBe(1);
      const pl = randomBytes(5000);
      expect(await stream(c, pl, 5000)).toEqual({ hash: sha(pl), bytes: pl.length });
      opened++;
    }
    peerEcho.close();
    l.close();
    svc.close();
  });
});

/**
 * A worker entry script whose worker 0 never answers anything (its event loop idles: a hung worker as the stack
 * thread sees it) while the others run the real worker.
 */
function hangingWorkerZeroScript(): URL {
  const path = join(tmpdir(), `tsvisor-hanging-tcp-worker-${process.pid}.mjs`);
  writeFileSync(path, [
    "import { workerData } from 'node:worker_threads';",
    'if (workerData.index === 0) setInterval(() => {}, 1 << 30);',
    `else await import(${JSON.stringify(defaultWorkerScript().href)});`,
  ].join('\n'));
  return pathToFileURL(path);
}

/** Worker 0 starts (its heartbeat moves a few times), then its loop stops turning, as in an endless loop. */
function stallingWorkerZeroScript(): URL {
  const path = join(tmpdir(), `tsvisor-stalling-tcp-worker-${process.pid}.mjs`);
  writeFileSync(path, [
    "import { workerData } from 'node:worker_threads';",
    'if (workerData.index === 0) {',
    '  const ctl = new Int32Array(workerData.reply, 0, 4);',
    '  let beats = 0;',
    '  const t = setInterval(() => { Atomics.add(ctl, 2, 1); if (++beats === 3) clearInterval(t); }, 10);',
    '  setInterval(() => {}, 1 << 30);',
    `} else await import(${JSON.stringify(defaultWorkerScript().href)});`,
  ].join('\n'));
  return pathToFileURL(path);
}

/**
 * Worker 0 runs the real worker until `trigger` exists, then blocks its thread for a second and throws (a crash
 * while a control call is waiting for it).
 */
function crashingWorkerZeroScript(trigger: string): URL {
  const path = join(tmpdir(), `tsvisor-crashing-tcp-worker-${process.pid}.mjs`);
  writeFileSync(path, [
    "import { existsSync } from 'node:fs';",
    "import { workerData } from 'node:worker_threads';",
    `import(${JSON.stringify(defaultWorkerScript().href)});`,
    'if (workerData.index === 0) {',
    '  setInterval(() => {',
    `    if (!existsSync(${JSON.stringify(trigger)})) return;`,
    '    const end = Date.now() + 1000;',
    '    while (Date.now() < end);',
    "    throw new Error('planted crash');",
    '  }, 10);',
    '}',
  ].join('\n'));
  return pathToFileURL(path);
}

describe('TCP worker threads: a worker that hangs', () => {
  it('a worker that crashes during a control call ends the call at once, not at the timeout', { timeout: 15_000 }, async () => {
    const trigger = join(tmpdir(), `tsvisor-crash-trigger-${process.pid}`);
    rmSync(trigger, { force: true });
    const p = pair(2, 0, {}, {}, { controlTimeoutMs: 6000, workerScript: crashingWorkerZeroScript(trigger) });
    const pool = tcpWorkerPool(p.a)!;
    await pool.ready;
    writeFileSync(trigger, '');
    try {
      await new Promise((r) => setTimeout(r, 100)); // worker 0 is now stuck, about to throw
      const t0 = Date.now();
      const stats = pool.workerStats();
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(stats[0]).toBeUndefined();
      expect(stats[1]).toBeDefined();
      expect(pool.stats.workersDied).toBe(1);
    } finally {
      rmSync(trigger, { force: true });
    }
  });

  it('a started worker whose loop stops turning is declared dead without any control call', { timeout: 10_000 }, async () => {
    const p = pair(2, 0, {}, {}, { controlTimeoutMs: 300, workerScript: stallingWorkerZeroScript() });
    const pool = tcpWorkerPool(p.a)!;
    const t0 = Date.now();
    while (pool.stats.workersDied === 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(pool.stats.workersDied).toBe(1);
    expect(pool.isWorkerAlive(0)).toBe(false);
    expect(pool.isWorkerAlive(1)).toBe(true);
    // A live worker is never mistaken for a hung one, idle as it is.
    await new Promise((r) => setTimeout(r, 700));
    expect(pool.stats.workersDied).toBe(1);
  });

  it('a control call waits at most the control timeout; connect() and listen() go on with the live worker', { timeout: 15_000 }, async () => {
    const p = pair(2, 0, {}, {}, { controlTimeoutMs: 300, workerScript: hangingWorkerZeroScript() });
    const pool = tcpWorkerPool(p.a)!;
    const peerEcho = serveTcp(p.b, 7, 'echo', [4]);
    // A connection whose 4-tuple hashes to the hung worker.
    let port = 23000;
    while (flowHash(Address.parse('10.7.0.2'), 7, Address.parse('10.7.0.1'), port) % 2 !== 0) port++;
    const c = socket(p.a) as RemoteTcpEndpoint;
    expect(c.bind({ address: Address.parse('10.7.0.1'), port })).toBeUndefined();
    const t0 = Date.now();
    // The call blocks the stack thread until the timeout, declares the worker dead, and starts the connection on
    // the live worker instead of failing the application's connect().
    expect(c.connect({ address: Address.parse('10.7.0.2'), port: 7 })).toBe(TcpipErrors.connectStarted);
    const blocked = Date.now() - t0;
    expect(blocked).toBeGreaterThanOrEqual(290);
    expect(blocked).toBeLessThan(3000);
    expect(pool.stats.workersDied).toBe(1);
    expect(c.workerIndex).toBe(1);
    await waitFor(c, EventMask.OUT);
    // No error left behind by the attempt on the dead worker.
    expect(c.readiness(EventMask.IN | EventMask.OUT) & EventMask.ERR).toBe(0);
    expect(c.lastError()).toBeUndefined();
    const pl = randomBytes(20_000);
    expect(await stream(c, pl, 5000)).toEqual({ hash: sha(pl), bytes: pl.length });
    // Later calls do not wait for the dead worker again.
    const t1 = Date.now();
    const served: Promise<{ hash: string; bytes: number }>[] = [];
    listen(p.a, 7900, (ep) => served.push(stream(ep, new Uint8Array(0))));
    expect(Date.now() - t1).toBeLessThan(250);
    peerEcho.close();
  });

  it('listen() skips a worker that hangs during the call; connections are served by the live one', { timeout: 15_000 }, async () => {
    const p = pair(2, 0, {}, {}, { controlTimeoutMs: 300, workerScript: hangingWorkerZeroScript() });
    const served: Promise<{ hash: string; bytes: number }>[] = [];
    const got: Endpoint[] = [];
    listen(p.a, 7901, (ep) => {
      got.push(ep);
      served.push(stream(ep, Buffer.from('pong')));
    });
    expect(tcpWorkerPool(p.a)!.stats.workersDied).toBe(1);
    const results = await Promise.all(Array.from({ length: 4 }, () => stream(connect(p.b, '10.7.0.1', 7901), Buffer.from('ping'))));
    for (const r of results) expect(r).toEqual({ hash: sha(Buffer.from('pong')), bytes: 4 });
    expect(got.every((ep) => (ep as RemoteTcpEndpoint).workerIndex === 1)).toBe(true);
    await Promise.all(served);
  });
});

describe('TCP worker threads: stack-side overflow queue', () => {
  it('WRITE records waiting for a full ring keep only their bytes', { timeout: 10_000 }, async () => {
    const p = pair(2, 0, {}, {}, { ringBytes: 256 * 1024, workerScript: hangingWorkerZeroScript() });
    const pool = tcpWorkerPool(p.a)!;
    // Worker 0 never drains its TO_WORKER ring: fill it, then write a byte per turn of the event loop.
    for (let i = 0; i < 8; i++) {
      pool.postWrite(0, 1000, 0, new Uint8Array(60_000));
      await new Promise((r) => setImmediate(r));
    }
    const before = pool.overflowMemory()[0]!;
    for (let i = 0; i < 1000; i++) {
      pool.postWrite(0, 1000, 0, new Uint8Array(1));
      await new Promise((r) => setImmediate(r));
    }
    expect(pool.stats.recordsDeferred).toBeGreaterThan(1000);
    // 9 bytes each (header + the byte), not the 4 KiB gathering buffer each came from.
    expect(pool.overflowMemory()[0]! - before).toBeLessThanOrEqual(1000 * 16);
  });

  it('a worker that takes no routing snapshot within the control timeout is declared dead, once', { timeout: 10_000 }, async () => {
    const p = pair(2, 0, {}, {}, { ringBytes: 256 * 1024, controlTimeoutMs: 300, workerScript: hangingWorkerZeroScript() });
    const pool = tcpWorkerPool(p.a)!;
    for (let i = 0; i < 8; i++) {
      pool.postWrite(0, 1000, 0, new Uint8Array(60_000));
      await new Promise((r) => setImmediate(r));
    }
    const t0 = Date.now();
    pool.refreshRoutes();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(pool.stats.workersDied).toBe(1);
    const t1 = Date.now();
    pool.refreshRoutes();
    expect(Date.now() - t1).toBeLessThan(100);
  });
});

describe('TCP worker threads: stack-side receive queue', () => {
  it('small DATA records share chunks: memory stays proportional to the bytes queued, and reads see them in order', { timeout: 10_000 }, async () => {
    const p = pair(2, 0);
    listen(p.b, 7800, () => {});
    const c = connect(p.a, '10.7.0.2', 7800) as RemoteTcpEndpoint;
    await waitFor(c, EventMask.OUT);
    // DATA records as the pool hands them over: views into shared memory (a stand-in for the TO_STACK ring), a
    // peer trickling one byte per segment at an application that does not read.
    const ring = new Uint8Array(new SharedArrayBuffer(1 << 20));
    const expected: number[] = [];
    let at = 0;
    const deliver = (length: number) => {
      if (at + length > ring.length) at = 0;
      for (let i = 0; i < length; i++) ring[at + i] = (expected.length + i) & 0xff;
      for (let i = 0; i < length; i++) expected.push((expected.length) & 0xff);
      c.onData(ring, at, length);
      at = (at + length + 8 + 7) & ~7; // the next record starts 8-aligned after a record header
    };
    for (let i = 0; i < 3000; i++) deliver(1);
    // Before: one 64 KiB chunk per record (3000 x 64 KiB = 196 MB for 3000 bytes).
    expect(c.receiveQueueMemory).toBeLessThanOrEqual(2 * 65536);
    // Mixed sizes, misaligned large ones included: chunks hold at most 4 times the queued bytes plus two chunks.
    const sizes = [40_000, 3, 65_536, 1, 33_000, 7, 20_000, 50_001, 9, 64_000];
    for (let round = 0; round < 4; round++) for (const n of sizes) deliver(n);
    expect(c.receiveQueueMemory).toBeLessThanOrEqual(4 * expected.length + 2 * 65536);
    expect(c.getSockOptInt('receiveQueueSize')).toBeGreaterThanOrEqual(expected.length);
    // Everything reads back in order, peeking included.
    const peek = new Uint8Array(5000);
    const pr = c.read(peek, { peek: true });
    expect(pr instanceof TcpipError ? pr : pr.count).toBe(5000);
    expect([...peek]).toEqual(expected.slice(0, 5000));
    const got: number[] = [];
    const buf = new Uint8Array(7777);
    for (;;) {
      const r = c.read(buf);
      if (r instanceof TcpipError) break;
      for (let i = 0; i < r.count; i++) got.push(buf[i]!);
    }
    expect(got.length).toBe(expected.length);
    expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true);
    expect(c.receiveQueueMemory).toBe(0);
    c.close();
  });
});

describe('TCP worker threads: what a connection costs the stack thread', () => {
  it('an accepted connection never creates a prototype endpoint', { timeout: 10_000 }, async () => {
    const p = pair(2, 0);
    const dispatcher = p.a.transportProtocol(6) as TcpDispatcher;
    const accepted: Endpoint[] = [];
    listen(p.a, 8200, (ep) => accepted.push(ep));
    const created = vi.spyOn(dispatcher.prototypes, 'createEndpoint');
    const clients = Array.from({ length: 5 }, () => connect(p.b, '10.7.0.1', 8200));
    await Promise.all(clients.map((c) => waitFor(c, EventMask.OUT)));
    while (accepted.length < 5) await new Promise((r) => setTimeout(r, 5));
    expect(accepted.every((ep) => !(ep as RemoteTcpEndpoint).hasPrototype)).toBe(true);
    expect(created).not.toHaveBeenCalled();
    created.mockRestore();
  });

  it('a connection keeps its port reservation but not the prototype endpoint (and its buffers)', { timeout: 10_000 }, async () => {
    const p = pair(2, 0, {}, { timeWaitMs: 200 });
    listen(p.b, 8100, (ep) => void readToEnd(ep).then(() => ep.close()));
    for (const [bindTo, family] of [[undefined, 4], ['10.7.0.1', 4], ['::', 6]] as const) {
      const c = socket(p.a, family) as RemoteTcpEndpoint;
      if (bindTo) expect(c.bind({ address: Address.parse(bindTo), port: 0 })).toBeUndefined();
      expect(c.connect({ address: Address.parse(family === 6 ? '::ffff:10.7.0.2' : '10.7.0.2'), port: 8100 })).toBe(TcpipErrors.connectStarted);
      expect(c.hasPrototype).toBe(false);
      await waitFor(c, EventMask.OUT);
      const port = (c.getLocalAddress() as { port: number }).port;
      // Still reserved as bind(2) sees it: another socket cannot take the port.
      const other = socket(p.a);
      expect(other.bind({ address: Address.parse('10.7.0.1'), port })).toBe(TcpipErrors.portInUse);
      other.close();
      c.close();
      // Released with the connection (after its TIME-WAIT on the worker).
      for (let i = 0; i < 200 && p.a.ports.isReserved(6, port); i++) await new Promise((r) => setTimeout(r, 10));
      expect(p.a.ports.isReserved(6, port)).toBe(false);
    }
  });
});

describe('TCP worker threads: close with bytes the worker could not send yet', () => {
  it('SO_LINGER 0 resets at close() even while written bytes wait for the peer\'s window; the port is freed', { timeout: 15_000 }, async () => {
    const p = pair(2, 0);
    const peers: Endpoint[] = [];
    const l = socket(p.b);
    expect(l.setSockOptInt('receiveBufferSize', 4096)).toBeUndefined();
    expect(l.bind({ address: Address.parse('0.0.0.0'), port: 8000 })).toBeUndefined();
    expect(l.listen(8)).toBeUndefined();
    l.waiterQueue.subscribe(EventMask.IN, () => {
      const r = l.accept();
      if (!(r instanceof TcpipError)) peers.push(r.endpoint); // never read: its window closes
    });
    const c = socket(p.a) as RemoteTcpEndpoint;
    expect(c.setSockOptInt('sendBufferSize', 4096)).toBeUndefined();
    expect(c.connect({ address: Address.parse('10.7.0.2'), port: 8000 })).toBe(TcpipErrors.connectStarted);
    await waitFor(c, EventMask.OUT);
    // Write until the stack-side credit is used up: the peer's window and the worker endpoint's send buffer are
    // full, so the worker holds the rest of the written bytes itself.
    const chunk = new Uint8Array(16384);
    let quiet = 0;
    while (quiet < 20) {
      const n = c.write(chunk);
      if (n instanceof TcpipError) {
        quiet++;
        await new Promise((r) => setTimeout(r, 10));
      } else quiet = 0;
    }
    expect(c.getSockOptInt('sendQueueSize')).toBeGreaterThan(100_000);
    while (peers.length === 0) await new Promise((r) => setTimeout(r, 5));
    const peer = peers[0]!;
    const port = (c.getLocalAddress() as { port: number }).port;
    expect(c.setSockOpt({ kind: 'linger', enabled: true, seconds: 0 })).toBeUndefined();
    c.close();
    // socket(7): SO_LINGER with a zero timeout resets the connection at close(), unsent data or not.
    await waitFor(peer, EventMask.ERR, 3000);
    expect(peer.lastError()).toBe(TcpipErrors.connectionReset);
    for (let i = 0; i < 100 && p.a.ports.isReserved(6, port); i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.a.ports.isReserved(6, port)).toBe(false);
    expect(tcpWorkerPool(p.a)!.endpointCounts()).toEqual([0, 0]);
  });
});

describe('TCP worker pool lifecycle', () => {
  it('refuses a worker script that does not exist, saying so, instead of timing out on the first call', () => {
    const script = pathToFileURL(join(tmpdir(), `tsvisor-no-such-worker-${process.pid}.js`));
    expect(() => createDefaultStack({ tcpWorkers: 1, tcpWorkerTuning: { workerScript: script } })).toThrow(/ENOENT: TCP worker script .* does not exist/);
  });

  it('closing the pool leaves no worker threads', { timeout: 10_000 }, async () => {
    const before = threadCount();
    const s = createDefaultStack({ tcpWorkers: 2 });
    const pool = tcpWorkerPool(s)!;
    await pool.ready;
    // Both workers run: a stats call answers only from a live worker's event loop.
    expect(pool.workerStats().every((x) => x !== undefined)).toBe(true);
    expect(threadCount()).toBeGreaterThanOrEqual(before + 2);
    s.close();
    await pool.close();
    for (let i = 0; i < 50 && threadCount() > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(threadCount()).toBeLessThanOrEqual(before);
  });
});

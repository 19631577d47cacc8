// TCP on worker threads end to end: a stack with tcpWorkers=2 (real worker_threads running dist/threads/
// tcp_worker.js: run `npx tsc -b packages/netstack` first; `make test` builds before testing) talks to a plain
// single-threaded stack over a channel link. The Endpoint API a worker-mode stack gives applications must behave as
// TcpEndpoint does, so several checks run the same scenario on both kinds of stack and compare.

import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createChannelPair, type ChannelImpairments } from '../link/channel.js';
import { Address } from '../stack/address.js';
import { ShutdownFlags, SockType, type Endpoint } from '../stack/endpoint.js';
import type { Stack } from '../stack/stack.js';
import { TcpipError, TcpipErrors } from '../stack/tcpip_error.js';
import { createDefaultStack, tcpWorkerPool } from '../tools/default_stack.js';
import { serveTcp } from '../tools/services.js';
import { EventMask, WaiterQueue } from '../waiter/waiter_queue.js';
import { RemoteTcpEndpoint } from './remote_tcp_endpoint.js';

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

function pair(workersA: number, workersB: number, impairments: ChannelImpairments = {}): Pair {
  const link = createChannelPair(impairments);
  const a = createDefaultStack({ tcpWorkers: workersA });
  const b = createDefaultStack({ tcpWorkers: workersB });
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

/** Threads of this process (each worker thread is one; Node's own threads are started by then). */
function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

describe('TCP worker pool lifecycle', () => {
  it('closing the pool leaves no worker threads', { timeout: 10_000 }, async () => {
    const before = threadCount();
    const s = createDefaultStack({ tcpWorkers: 2 });
    const pool = tcpWorkerPool(s)!;
    // Wait until both workers run (a stats call answers only from a live worker's event loop).
    expect(pool.workerStats().every((x) => x !== undefined)).toBe(true);
    expect(threadCount()).toBeGreaterThanOrEqual(before + 2);
    s.close();
    await pool.close();
    for (let i = 0; i < 50 && threadCount() > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(threadCount()).toBeLessThanOrEqual(before);
  });
});

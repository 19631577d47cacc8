// TCP against the real Linux TCP stack: a network namespace and a veth pair created here (names carry the pid;
// removed in afterAll). Our Stack drives the root-namespace end through the fdbased (AF_PACKET) link; the kernel
// in the namespace runs netcat. Transfers are hashed end to end and timed; a kernel-to-kernel transfer across a
// second veth pair gives the native baseline the ratio is reported against.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FdBasedEndpoint } from '../../link/fdbased.js';
import { arpProtocol } from '../../network/arp/arp.js';
import { ipv4Protocol } from '../../network/ipv4/ipv4.js';
import { Address } from '../../stack/address.js';
import { ShutdownFlags } from '../../stack/endpoint.js';
import { Stack } from '../../stack/stack.js';
import { TcpipErrors, isTcpipError } from '../../stack/tcpip_error.js';
import { EventMask } from '../../waiter/waiter_queue.js';
import type { TcpEndpoint } from './endpoint.js';
import { TcpProtocol, tcpProtocol } from './protocol.js';

const NS = `tsvt${process.pid}`;
const OURS = `ta${process.pid}`.slice(0, 15);
const THEIRS = `tb${process.pid}`.slice(0, 15);
const BASE_A = `tc${process.pid}`.slice(0, 15);
const BASE_B = `td${process.pid}`.slice(0, 15);
const NET = `10.191.${process.pid % 250}`;
const BASE_NET = `10.192.${process.pid % 250}`;
const MB = Number(process.env.TSVISOR_TCP_KERNEL_MB ?? (process.env.TSVISOR_LONG === '1' ? 256 : 32));
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let dir = '';
let file = '';
let fileHash = '';

/** Runs a command; resolves with its stdout once it exits 0. */
function runAsync(cmd: string, args: string[]): { done: Promise<string>; kill: () => void } {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const done = new Promise<string>((resolve, reject) => {
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
  return { done, kill: () => p.kill() };
}

function waitFor(ep: TcpEndpoint, mask: number, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ep.readiness(mask)) return resolve();
    const t = setTimeout(() => { un(); reject(new Error(`timeout waiting 0x${mask.toString(16)}: ${ep.describe()}`)); }, timeoutMs);
    const un = ep.waiterQueue.subscribe(mask, () => {
      if (ep.readiness(mask)) { clearTimeout(t); un(); resolve(); }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until netcat in the namespace listens on `port` (a fixed sleep lost the race on a loaded machine). */
async function listening(port: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (sh('ip', 'netns', 'exec', NS, 'ss', '-Hltn', `sport = :${port}`).trim() !== '') return;
    await sleep(20);
  }
  throw new Error(`nothing listens on port ${port} in ${NS} after 5 s`);
}

describe('TCP against the Linux kernel across a veth', () => {
  let stack: Stack;
  let link: FdBasedEndpoint;
  let tcp: TcpProtocol;
  let nativeMbps = 0;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsv-tcp-'));
    file = join(dir, 'data');
    const data = randomBytes(MB << 20);
    writeFileSync(file, data);
    fileHash = createHash('sha256').update(data).digest('hex');
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS);
    sh('ip', 'link', 'set', THEIRS, 'netns', NS);
    sh('ip', '-n', NS, 'addr', 'add', `${NET}.2/24`, 'dev', THEIRS);
    sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', NS, 'link', 'set', THEIRS, 'up');
    sh('sysctl', '-qw', `net.ipv6.conf.${OURS}.disable_ipv6=1`);
    sh('ip', 'link', 'set', OURS, 'up');
    // Baseline pair: kernel on both ends (root namespace side gets an address).
    sh('ip', 'link', 'add', BASE_A, 'type', 'veth', 'peer', 'name', BASE_B);
    sh('ip', 'link', 'set', BASE_B, 'netns', NS);
    sh('ip', 'addr', 'add', `${BASE_NET}.1/24`, 'dev', BASE_A);
    sh('ip', '-n', NS, 'addr', 'add', `${BASE_NET}.2/24`, 'dev', BASE_B);
    sh('ip', 'link', 'set', BASE_A, 'up');
    sh('ip', '-n', NS, 'link', 'set', BASE_B, 'up');
    stack = new Stack({ networkProtocols: [ipv4Protocol(), arpProtocol()], transportProtocols: [tcpProtocol()] });
    link = FdBasedEndpoint.open({ ifname: OURS, gso: true });
    const err = stack.createNIC(1, link) ?? stack.addAddress(1, `${NET}.1/24`);
    if (err) throw new Error(String(err));
    tcp = stack.transportProtocol(6) as TcpProtocol;
  });

  afterAll(() => {
    stack?.close();
    for (const dev of [OURS, BASE_A]) {
      try { sh('ip', 'link', 'del', dev); } catch { /* gone with the namespace */ }
    }
    try { sh('ip', 'netns', 'del', NS); } catch { /* never created */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('measures the native kernel-to-kernel baseline', async () => {
    const port = 30000 + (process.pid % 10000);
    const server = runAsync('ip', ['netns', 'exec', NS, 'sh', '-c', `nc -l -p ${port} -N | sha256sum`]);
    await listening(port);
    const t0 = performance.now();
    await runAsync('sh', ['-c', `nc -N ${BASE_NET}.2 ${port} < ${file}`]).done;
    const out = await server.done;
    const secs = (performance.now() - t0) / 1000;
    expect(out.split(' ')[0]).toBe(fileHash);
    nativeMbps = (MB * 8 * 1.048576) / secs;
    console.log(`native kernel->kernel over veth: ${MB} MiB in ${secs.toFixed(2)} s = ${nativeMbps.toFixed(0)} Mbit/s`);
  }, 60_000);

  it('receives from a kernel client (kernel -> netstack), hash intact', async () => {
    const listener = tcp.createEndpoint(4);
    expect(listener.bind({ address: Address.parse(`${NET}.1`), port: 5001 })).toBeUndefined();
    expect(listener.listen(4)).toBeUndefined();
    const t0 = performance.now();
    const client = runAsync('ip', ['netns', 'exec', NS, 'sh', '-c', `nc -N ${NET}.1 5001 < ${file}`]);
    await waitFor(listener, EventMask.IN);
    const acc = listener.accept();
    if (isTcpipError(acc)) throw new Error(String(acc));
    const ep = acc.endpoint as TcpEndpoint;
    const h = createHash('sha256');
    const buf = new Uint8Array(1 << 20);
    let total = 0;
    for (;;) {
      const r = ep.read(buf);
      if (r === TcpipErrors.wouldBlock) { await waitFor(ep, EventMask.IN); continue; }
      if (r === TcpipErrors.closedForReceive) break;
      if (isTcpipError(r)) throw new Error(String(r));
      h.update(buf.subarray(0, r.count));
      total += r.count;
    }
    ep.close();
    await client.done;
    const secs = (performance.now() - t0) / 1000;
    expect(total).toBe(MB << 20);
    expect(h.digest('hex')).toBe(fileHash);
    const mbps = (MB * 8 * 1.048576) / secs;
    console.log(`kernel->netstack: ${MB} MiB in ${secs.toFixed(2)} s = ${mbps.toFixed(0)} Mbit/s (${(mbps / (nativeMbps || 1)).toFixed(2)} of native); ep ${ep.describe()}`);
    listener.close();
  }, 120_000);

  it('sends to a kernel server (netstack -> kernel), hash intact', async () => {
    const port = 5002;
    const server = runAsync('ip', ['netns', 'exec', NS, 'sh', '-c', `nc -l -p ${port} -N | sha256sum`]);
    await listening(port);
    const data = (await import('node:fs')).readFileSync(file);
    const ep = tcp.createEndpoint(4);
    const t0 = performance.now();
    expect(ep.connect({ address: Address.parse(`${NET}.2`), port })).toBe(TcpipErrors.connectStarted);
    await waitFor(ep, EventMask.OUT | EventMask.ERR);
    expect(ep.lastError()).toBeUndefined();
    let off = 0;
    while (off < data.length) {
      const n = ep.write(data.subarray(off, off + (1 << 20)));
      if (n === TcpipErrors.wouldBlock) { await waitFor(ep, EventMask.OUT); continue; }
      if (isTcpipError(n)) throw new Error(String(n));
      off += n;
    }
    ep.shutdown(ShutdownFlags.WRITE);
    const out = await server.done;
    const secs = (performance.now() - t0) / 1000;
    expect(out.split(' ')[0]).toBe(fileHash);
    const mbps = (MB * 8 * 1.048576) / secs;
    console.log(`netstack->kernel: ${MB} MiB in ${secs.toFixed(2)} s = ${mbps.toFixed(0)} Mbit/s (${(mbps / (nativeMbps || 1)).toFixed(2)} of native); retransmits ${ep.totalRetransmits}; segments sent ${tcp.stats.segmentsSent}; link ${JSON.stringify(link.stats)}`);
    ep.close();
  }, 120_000);

  it('streams to a kernel byte counter as fast as it can (throughput, compared with kernel to kernel)', async () => {
    const data = (await import('node:fs')).readFileSync(file);
    const sink = async (host: string, port: number, send: () => Promise<void>) => {
      const server = runAsync('ip', ['netns', 'exec', NS, 'sh', '-c', `nc -l -p ${port} -N | wc -c`]);
      await listening(port);
      const t0 = performance.now();
      await send();
      const out = await server.done;
      expect(Number(out.trim())).toBe(data.length);
      void host;
      return (MB * 8 * 1.048576) / ((performance.now() - t0) / 1000);
    };
    const native = await sink(`${BASE_NET}.2`, 5003, () => runAsync('sh', ['-c', `nc -N ${BASE_NET}.2 5003 < ${file}`]).done.then(() => undefined));
    const ours = await sink(`${NET}.2`, 5004, async () => {
      const ep = tcp.createEndpoint(4);
      expect(ep.connect({ address: Address.parse(`${NET}.2`), port: 5004 })).toBe(TcpipErrors.connectStarted);
      await waitFor(ep, EventMask.OUT | EventMask.ERR);
      let off = 0;
      while (off < data.length) {
        const n = ep.write(data.subarray(off, off + (1 << 20)));
        if (n === TcpipErrors.wouldBlock) { await waitFor(ep, EventMask.OUT); continue; }
        if (isTcpipError(n)) throw new Error(String(n));
        off += n;
      }
      ep.shutdown(ShutdownFlags.WRITE);
      ep.close();
    });
    console.log(`to a kernel byte counter: netstack ${ours.toFixed(0)} Mbit/s, kernel ${native.toFixed(0)} Mbit/s, ratio ${(ours / native).toFixed(2)}`);
    expect(ours).toBeGreaterThan(0);
  }, 120_000);
});

// Throughput of the fdbased link across a veth (TSVISOR_LONG=1 only: it takes ~10 s and saturates both cores).
// RX: a sender in a namespace blasts 1514-byte UDP frames with sendmmsg on its own packet socket (native code,
// so the sender is not the bottleneck); the endpoint receives, and a dispatcher checks the IPv4 and UDP headers
// as the stack's first layer would. TX: the endpoint sends 1514-byte frames built in fresh PacketBuffers, and
// the namespace's kernel counts what arrives. Results are printed; the assertions are only floors.
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FdBasedEndpoint } from './fdbased.js';
import { PacketBuffer } from '../buffer/packet_buffer.js';
import { ETHERTYPE_IPV4 } from '../header/ethernet.js';
import { IPv4Header, IPPROTO_UDP } from '../header/ipv4.js';
import { UDPHeader } from '../header/udp.js';
import { parseIPv4, parseMac } from '../header/address_text.js';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { SharedFrameRing } from '../buffer/shared_ring.js';
import { prependEthernetHeader } from './ethernet_framing.js';
import { readHostDevice } from './host_netdev.js';

const LONG = process.env.TSVISOR_LONG === '1';
const NS = `tsvb${process.pid}`;
const OURS = `ba${process.pid}`.slice(0, 15);
const THEIRS = `bb${process.pid}`.slice(0, 15);
const NET = `10.252.${process.pid % 250}`;
const SECONDS = 3;
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const addonPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../native/build/Release/tsvisor_native.node');

/** The namespace-side sender: builds one 1514-byte frame and sends it in batches of 64 for `secs` seconds. */
const senderScript = (dstMac: string, secs: number) => `
const a = require(${JSON.stringify(addonPath)});
const ifindex = a.interfaceIndex(${JSON.stringify(THEIRS)});
const fd = a.packetOpen(ifindex, false, 0, 4 << 20);
const f = new Uint8Array(1514);
${JSON.stringify(dstMac)}.split(':').forEach((h, i) => { f[i] = parseInt(h, 16); });
f[12] = 0x08; f[13] = 0x00;
const ip = [0x45, 0, 0x05, 0xdc, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 252, ${process.pid % 250}, 2, 10, 252, ${process.pid % 250}, 1];
f.set(ip, 14);
let s = 0; for (let i = 0; i < 20; i += 2) s += (ip[i] << 8) | ip[i + 1];
while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
s = ~s & 0xffff; f[24] = s >> 8; f[25] = s & 0xff;
f.set([0x30, 0x39, 0x30, 0x39, 0x05, 0xc8, 0, 0], 34);
const bufs = new Array(64).fill(f);
const ranges = new Int32Array(128); for (let i = 0; i < 64; i++) { ranges[2 * i] = 0; ranges[2 * i + 1] = 1514; }
const end = Date.now() + ${secs * 1000};
let sent = 0;
while (Date.now() < end) { const n = a.packetSendBatch(fd, bufs, ranges, 64); if (n > 0) sent += n; }
console.log(sent);
`;

/** Microseconds of user+system CPU this process spent per frame. */
function perPacket(cpu: NodeJS.CpuUsage, frames: number): string {
  return ((cpu.user + cpu.system) / Math.max(1, frames)).toFixed(2);
}

function rxCount(): number {
  const j = JSON.parse(sh('ip', '-n', NS, '-j', '-s', 'link', 'show', THEIRS)) as { stats64: { rx: { packets: number } } }[];
  return j[0].stats64.rx.packets;
}

describe.runIf(LONG)('fdbased throughput over a veth', () => {
  beforeAll(() => {
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS);
    sh('ip', 'link', 'set', THEIRS, 'netns', NS);
    sh('ip', '-n', NS, 'addr', 'add', `${NET}.2/24`, 'dev', THEIRS);
    sh('ip', '-n', NS, 'link', 'set', THEIRS, 'up');
    sh('sysctl', '-qw', `net.ipv6.conf.${OURS}.disable_ipv6=1`);
    sh('ip', 'link', 'set', OURS, 'up');
  });
  afterAll(() => {
    try { sh('ip', 'link', 'del', OURS); } catch { /* gone */ }
    try { sh('ip', 'netns', 'del', NS); } catch { /* gone */ }
  });

  for (const [gso, rxRing] of [[true, false], [false, false], [true, true], [false, true]]) {
    it(`receives 1514-byte frames (gso=${gso}${rxRing ? ', mmap ring' : ', recvmmsg'})`, async () => {
      const ep = FdBasedEndpoint.open({ ifname: OURS, gso, rxRing });
      let packets = 0, bytes = 0, ipv4 = 0, udp = 0;
      const ip = new IPv4Header(new Uint8Array(0));
      const u = new UDPHeader(new Uint8Array(0));
      ep.attach({
        deliverNetworkPacket(proto, pkt) {
          packets++;
          bytes += pkt.size;
          if (proto !== ETHERTYPE_IPV4) return; // the namespace's own IPv6 neighbour discovery
          ipv4++;
          ip.reset(pkt.buf, pkt.head, pkt.size);
          if (!ip.isValid() || !ip.isChecksumValid() || ip.protocol() !== IPPROTO_UDP) return;
          u.reset(pkt.buf, pkt.head + ip.headerLength(), ip.payloadLength());
          if (u.isValid()) udp++;
        },
      });
      const mac = Array.from(ep.linkAddress, (x) => x.toString(16).padStart(2, '0')).join(':');
      const t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const sent = await new Promise<number>((resolve, reject) => {
        execFile('ip', ['netns', 'exec', NS, process.execPath, '-e', senderScript(mac, SECONDS)], (err, stdout) => {
          if (err) reject(err); else resolve(Number(stdout.trim()));
        });
      });
      await new Promise((r) => setTimeout(r, 100));
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const drops = ep.kernelDrops();
      const st = { ...ep.stats };
      ep.close();
      const line = `RX gso=${gso} ${rxRing ? 'ring' : 'recvmmsg'}: sent ${sent} in ${SECONDS}s, received ${packets} (${udp} valid UDP), `
        + `${(packets / SECONDS / 1e3).toFixed(0)} kpps, ${(bytes * 8 / SECONDS / 1e9).toFixed(2)} Gbit/s, `
        + `${(packets / st.rxBatches).toFixed(1)} frames/batch, kernel drops ${drops} (wall ${secs.toFixed(1)}s), `
        + `${perPacket(cpu, packets)} µs CPU/frame in this process`;
      console.log(line);
      expect(udp).toBe(ipv4);
      expect(packets).toBeGreaterThan(10_000);
    }, 30_000);

  }

  for (const gso of [true, false]) {
    it(`sends 1514-byte frames (gso=${gso})`, async () => {
      const ep = FdBasedEndpoint.open({ ifname: OURS, gso });
      ep.attach({ deliverNetworkPacket() { /* ignore */ } });
      const theirMac = parseMac((JSON.parse(sh('ip', '-n', NS, '-j', 'link', 'show', THEIRS)) as { address: string }[])[0].address)!;
      const src = parseIPv4(`${NET}.1`)!, dst = parseIPv4(`${NET}.2`)!;
      const before = rxCount();
      const batch: PacketBuffer[] = [];
      const end = Date.now() + SECONDS * 1000;
      let written = 0;
      const cpu0 = process.cpuUsage();
      while (Date.now() < end) {
        for (let i = 0; i < 64; i++) {
          const p = PacketBuffer.allocate(1500, ep.maxHeaderLength);
          const h = new IPv4Header(p.buf, p.head);
          h.encode({ totalLength: 1500, protocol: IPPROTO_UDP, src, dst, ttl: 64 });
          new UDPHeader(p.buf, p.head + 20).encode({ sourcePort: 9, destinationPort: 9, length: 1480 });
          p.networkProtocol = ETHERTYPE_IPV4;
          p.remoteLinkAddress = theirMac;
          batch.push(p);
        }
        written += ep.writePackets(batch);
        batch.length = 0;
        if ((written & 0x3fff) < 64) await new Promise((r) => setImmediate(r));
      }
      const cpu = process.cpuUsage(cpu0);
      await new Promise((r) => setTimeout(r, 200));
      const arrived = rxCount() - before;
      ep.close();
      console.log(`TX gso=${gso}: wrote ${written} in ${SECONDS}s = ${(written / SECONDS / 1e3).toFixed(0)} kpps, `
        + `${(written * 1514 * 8 / SECONDS / 1e9).toFixed(2)} Gbit/s; namespace counted ${arrived}; `
        + `${perPacket(cpu, written)} µs CPU/frame in this process (kernel send path included)`);
      expect(arrived).toBeGreaterThanOrEqual(written * 0.99);
      expect(written).toBeGreaterThan(10_000);
    }, 30_000);
  }

  // The alternative qdisc design, measured rather than assumed: the stack's thread copies each frame into a
  // SharedFrameRing and a worker sends batches with sendmmsg straight from the shared memory.
  it('sends 1514-byte frames through a worker qdisc (SharedFrameRing + sendmmsg on a worker)', async () => {
    const source = readFileSync(new URL('../buffer/shared_ring.ts', import.meta.url), 'utf8');
    const ringJs = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const ring = SharedFrameRing.create(8 << 20);
    const worker = new Worker(`
      const exports = {}; const module = { exports };
      ${ringJs}
      const { workerData } = require('node:worker_threads');
      const a = require(${JSON.stringify(addonPath)});
      const ring = exports.SharedFrameRing.attach(workerData.sab);
      const fd = a.packetOpen(a.interfaceIndex(workerData.ifname), false, 0, 4 << 20);
      const info = new Int32Array(3 * 64), ranges = new Int32Array(128), bufs = new Array(64).fill(ring.data);
      for (;;) {
        const n = ring.peekBatch(64, info);
        if (n === 0) { if (!ring.waitReadable(1000) && ring.closed) break; continue; }
        for (let i = 0; i < n; i++) { ranges[2 * i] = info[3 * i]; ranges[2 * i + 1] = info[3 * i] + info[3 * i + 1]; }
        let off = 0;
        while (off < n) {
          const r = a.packetSendBatch(fd, bufs, ranges.subarray(2 * off), n - off);
          if (r <= 0) break;
          off += r;
        }
        ring.release();
      }
      a.closeFd(fd);
    `, { eval: true, workerData: { sab: ring.sab, ifname: OURS } });
    const ourMac = readHostDevice(OURS).mac;
    const theirMac = parseMac((JSON.parse(sh('ip', '-n', NS, '-j', 'link', 'show', THEIRS)) as { address: string }[])[0].address)!;
    const src = parseIPv4(`${NET}.1`)!, dst = parseIPv4(`${NET}.2`)!;
    const before = rxCount();
    const end = Date.now() + SECONDS * 1000;
    let written = 0;
    const t0 = Date.now();
    const cpu0 = process.cpuUsage();
    while (Date.now() < end) {
      for (let i = 0; i < 64; i++) {
        const p = PacketBuffer.allocate(1500, 14);
        new IPv4Header(p.buf, p.head).encode({ totalLength: 1500, protocol: IPPROTO_UDP, src, dst, ttl: 64 });
        new UDPHeader(p.buf, p.head + 20).encode({ sourcePort: 9, destinationPort: 9, length: 1480 });
        p.networkProtocol = ETHERTYPE_IPV4;
        p.remoteLinkAddress = theirMac;
        prependEthernetHeader(p, ourMac);
        while (!ring.tryWrite(p.buf, p.head, p.tail)) ring.waitWritable(100);
        written++;
      }
      if ((written & 0x3fff) < 64) await new Promise((r) => setImmediate(r));
    }
    const elapsed = (Date.now() - t0) / 1000;
    ring.close();
    await new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const cpu = process.cpuUsage(cpu0);
    const arrived = rxCount() - before;
    console.log(`TX worker qdisc: wrote ${written} in ${elapsed.toFixed(1)}s = ${(written / elapsed / 1e3).toFixed(0)} kpps, `
      + `${(written * 1514 * 8 / elapsed / 1e9).toFixed(2)} Gbit/s; namespace counted ${arrived}; `
      + `${perPacket(cpu, written)} µs CPU/frame in this process (both threads)`);
    expect(arrived).toBeGreaterThanOrEqual(written * 0.99);
  }, 30_000);

  // The alternative receive design: a worker blocks in poll(2), receives batches, and copies frames into a
  // SharedFrameRing that the stack's thread drains (waking through Atomics.waitAsync instead of uv_poll).
  it('receives 1514-byte frames through a worker (poll + recvmmsg on a worker, SharedFrameRing to this thread)', async () => {
    const source = readFileSync(new URL('../buffer/shared_ring.ts', import.meta.url), 'utf8');
    const ringJs = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const ring = SharedFrameRing.create(8 << 20);
    const stop = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(`
      const exports = {}; const module = { exports };
      ${ringJs}
      const { workerData } = require('node:worker_threads');
      const a = require(${JSON.stringify(addonPath)});
      const ring = exports.SharedFrameRing.attach(workerData.sab);
      const stop = new Int32Array(workerData.stop);
      const fd = a.packetOpen(a.interfaceIndex(workerData.ifname), false, 4 << 20, 0);
      const SLOT = 2048, buf = new Uint8Array(SLOT * 64), info = new Int32Array(3 * 64);
      while (Atomics.load(stop, 0) === 0) {
        if (!a.packetWaitReadable(fd, 100)) continue;
        const n = a.packetRecvBatch(fd, buf, SLOT, 64, info);
        for (let i = 0; i < n; i++) {
          if (!ring.tryWrite(buf, i * SLOT, i * SLOT + Math.min(info[3 * i], SLOT), 0)) Atomics.add(stop, 1, 1);
        }
      }
      a.closeFd(fd);
      ring.close();
    `, { eval: true, workerData: { sab: ring.sab, stop: stop.buffer, ifname: OURS } });
    await new Promise((r) => setTimeout(r, 200));
    const ourMac = Array.from(readHostDevice(OURS).mac, (x) => x.toString(16).padStart(2, '0')).join(':');
    let done = false;
    let sent = 0;
    const cpu0 = process.cpuUsage();
    execFile('ip', ['netns', 'exec', NS, process.execPath, '-e', senderScript(ourMac, SECONDS)], (err, stdout) => {
      done = true;
      if (!err) sent = Number(stdout.trim());
    });
    let packets = 0, udp = 0, ipv4 = 0;
    const ip = new IPv4Header(new Uint8Array(0));
    const u = new UDPHeader(new Uint8Array(0));
    const pkt = new PacketBuffer(ring.data, 0, 0);
    while (!done) {
      const f = ring.peek();
      if (!f) { await ring.waitReadableAsync(50); continue; }
      pkt.head = f.offset + 14;
      pkt.tail = f.offset + f.length;
      packets++;
      if (ring.data[f.offset + 12] === 0x08 && ring.data[f.offset + 13] === 0) {
        ipv4++;
        ip.reset(pkt.buf, pkt.head, pkt.size);
        if (ip.isValid() && ip.isChecksumValid() && ip.protocol() === IPPROTO_UDP) {
          u.reset(pkt.buf, pkt.head + ip.headerLength(), ip.payloadLength());
          if (u.isValid()) udp++;
        }
      }
      ring.release();
    }
    const cpu = process.cpuUsage(cpu0);
    Atomics.store(stop, 0, 1);
    await new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    console.log(`RX worker: sent ${sent} in ${SECONDS}s, received ${packets} (${udp} valid UDP), `
      + `${(packets / SECONDS / 1e3).toFixed(0)} kpps, ring-full drops ${Atomics.load(stop, 1)}, `
      + `${perPacket(cpu, packets)} µs CPU/frame in this process (both threads)`);
    expect(udp).toBe(ipv4);
    expect(packets).toBeGreaterThan(10_000);
  }, 30_000);
});

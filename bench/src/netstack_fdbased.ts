// Throughput of the netstack's fdbased link alone across a veth (moved here from the TSVISOR_LONG-gated
// packages/netstack/src/link/fdbased_bench.test.ts: performance is measured in benchmarks, not asserted in tests).
// RX: a sender in a namespace blasts 1514-byte UDP frames with sendmmsg on its own packet socket (native code, so the
// sender is not the bottleneck); the endpoint receives, and a dispatcher checks the IPv4 and UDP headers as the
// stack's first layer would. TX: the endpoint sends 1514-byte frames built in fresh PacketBuffers, and the namespace's
// kernel counts what arrives. Also the two alternative designs: a worker-thread qdisc (SharedFrameRing + sendmmsg on
// a worker) and a worker-thread receiver (poll + recvmmsg on a worker, SharedFrameRing to the stack's thread).
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { FdBasedEndpoint } from '../../packages/netstack/dist/link/fdbased.js';
import { PacketBuffer } from '../../packages/netstack/dist/buffer/packet_buffer.js';
import { SharedFrameRing } from '../../packages/netstack/dist/buffer/shared_ring.js';
import { ETHERTYPE_IPV4 } from '../../packages/netstack/dist/header/ethernet.js';
import { IPv4Header, IPPROTO_UDP } from '../../packages/netstack/dist/header/ipv4.js';
import { UDPHeader } from '../../packages/netstack/dist/header/udp.js';
import { parseIPv4, parseMac } from '../../packages/netstack/dist/header/address_text.js';
import { prependEthernetHeader } from '../../packages/netstack/dist/link/ethernet_framing.js';
import { readHostDevice } from '../../packages/netstack/dist/link/host_netdev.js';
import { repoRoot } from './workloads.js';

const NS = `tsvb${process.pid}`;
const OURS = `ba${process.pid}`.slice(0, 15);
const THEIRS = `bb${process.pid}`.slice(0, 15);
const NET = `10.252.${process.pid % 250}`;
const SECONDS = 3;
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const addonPath = path.join(repoRoot, 'packages', 'native', 'build', 'Release', 'tsvisor_native.node');
const workerFile = new URL('./netstack_fdbased_worker.js', import.meta.url);

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
const perFrame = (cpu: NodeJS.CpuUsage, frames: number) => ((cpu.user + cpu.system) / Math.max(1, frames)).toFixed(2);

function rxCount(): number {
  const j = JSON.parse(sh('ip', '-n', NS, '-j', '-s', 'link', 'show', THEIRS)) as { stats64: { rx: { packets: number } } }[];
  return j[0]!.stats64.rx.packets;
}

const macText = (mac: Uint8Array) => Array.from(mac, (x) => x.toString(16).padStart(2, '0')).join(':');
const theirMac = () => parseMac((JSON.parse(sh('ip', '-n', NS, '-j', 'link', 'show', THEIRS)) as { address: string }[])[0]!.address)!;

function runSender(mac: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    execFile('ip', ['netns', 'exec', NS, process.execPath, '-e', senderScript(mac, SECONDS)], (err, stdout) => {
      if (err) reject(err); else resolve(Number(stdout.trim()));
    });
  });
}

async function receive(gso: boolean, rxRing: boolean): Promise<string> {
  const ep = FdBasedEndpoint.open({ ifname: OURS, gso, rxRing });
  let packets = 0, bytes = 0, ipv4 = 0, udp = 0;
  const ip = new IPv4Header(new Uint8Array(0));
  const u = new UDPHeader(new Uint8Array(0));
  ep.attach({
    deliverNetworkPacket(proto: number, pkt: PacketBuffer) {
      packets++;
      bytes += pkt.size;
      if (proto !== ETHERTYPE_IPV4) return; // the namespace's own IPv6 neighbour discovery
      ipv4++;
      ip.reset(pkt.buf, pkt.head, pkt.size);
      if (!ip.isValid() || !ip.isChecksumValid() || ip.protocol() !== IPPROTO_UDP) return;
      u.reset(pkt.buf, pkt.head + ip.headerLength(), ip.payloadLength());
      if (u.isValid()) udp++;
    },
  } as Parameters<FdBasedEndpoint['attach']>[0]);
  const cpu0 = process.cpuUsage();
  const sent = await runSender(macText(ep.linkAddress));
  await new Promise((r) => setTimeout(r, 100));
  const cpu = process.cpuUsage(cpu0);
  const drops = ep.kernelDrops();
  const st = { ...ep.stats };
  ep.close();
  return `RX gso=${gso} ${rxRing ? 'mmap ring' : 'recvmmsg'}: sent ${sent} in ${SECONDS}s, received ${packets} (${udp}/${ipv4} valid UDP), `
    + `${(packets / SECONDS / 1e3).toFixed(0)} kpps, ${(bytes * 8 / SECONDS / 1e9).toFixed(2)} Gbit/s, `
    + `${(packets / Math.max(1, st.rxBatches)).toFixed(1)} frames/batch, kernel drops ${drops}, ${perFrame(cpu, packets)} µs CPU/frame`;
}

async function send(gso: boolean): Promise<string> {
  const ep = FdBasedEndpoint.open({ ifname: OURS, gso });
  ep.attach({ deliverNetworkPacket() { /* ignore */ } } as unknown as Parameters<FdBasedEndpoint['attach']>[0]);
  const mac = theirMac();
  const src = parseIPv4(`${NET}.1`)!, dst = parseIPv4(`${NET}.2`)!;
  const before = rxCount();
  const batch: PacketBuffer[] = [];
  const end = Date.now() + SECONDS * 1000;
  let written = 0;
  const cpu0 = process.cpuUsage();
  while (Date.now() < end) {
    for (let i = 0; i < 64; i++) {
      const p = PacketBuffer.allocate(1500, ep.maxHeaderLength);
      new IPv4Header(p.buf, p.head).encode({ totalLength: 1500, protocol: IPPROTO_UDP, src, dst, ttl: 64 });
      new UDPHeader(p.buf, p.head + 20).encode({ sourcePort: 9, destinationPort: 9, length: 1480 });
      p.networkProtocol = ETHERTYPE_IPV4;
      p.remoteLinkAddress = mac;
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
  return `TX gso=${gso}: wrote ${written} in ${SECONDS}s = ${(written / SECONDS / 1e3).toFixed(0)} kpps, `
    + `${(written * 1514 * 8 / SECONDS / 1e9).toFixed(2)} Gbit/s; namespace counted ${arrived}; ${perFrame(cpu, written)} µs CPU/frame (kernel send path included)`;
}

async function sendThroughWorker(): Promise<string> {
  const ring = SharedFrameRing.create(8 << 20);
  const worker = new Worker(workerFile, { workerData: { role: 'tx', sab: ring.sab, ifname: OURS, addon: addonPath } });
  const ourMac = readHostDevice(OURS).mac;
  const mac = theirMac();
  const src = parseIPv4(`${NET}.1`)!, dst = parseIPv4(`${NET}.2`)!;
  const before = rxCount();
  const t0 = Date.now(), end = t0 + SECONDS * 1000;
  let written = 0;
  const cpu0 = process.cpuUsage();
  while (Date.now() < end) {
    for (let i = 0; i < 64; i++) {
      const p = PacketBuffer.allocate(1500, 14);
      new IPv4Header(p.buf, p.head).encode({ totalLength: 1500, protocol: IPPROTO_UDP, src, dst, ttl: 64 });
      new UDPHeader(p.buf, p.head + 20).encode({ sourcePort: 9, destinationPort: 9, length: 1480 });
      p.networkProtocol = ETHERTYPE_IPV4;
      p.remoteLinkAddress = mac;
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
  return `TX worker qdisc: wrote ${written} in ${elapsed.toFixed(1)}s = ${(written / elapsed / 1e3).toFixed(0)} kpps, `
    + `${(written * 1514 * 8 / elapsed / 1e9).toFixed(2)} Gbit/s; namespace counted ${arrived}; ${perFrame(cpu, written)} µs CPU/frame (both threads)`;
}

async function receiveThroughWorker(): Promise<string> {
  const ring = SharedFrameRing.create(8 << 20);
  const stop = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(workerFile, { workerData: { role: 'rx', sab: ring.sab, stop: stop.buffer, ifname: OURS, addon: addonPath } });
  await new Promise((r) => setTimeout(r, 200));
  let done = false;
  let sent = 0;
  const cpu0 = process.cpuUsage();
  runSender(macText(readHostDevice(OURS).mac)).then((n) => { sent = n; done = true; }, () => { done = true; });
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
  return `RX worker: sent ${sent} in ${SECONDS}s, received ${packets} (${udp}/${ipv4} valid UDP), `
    + `${(packets / SECONDS / 1e3).toFixed(0)} kpps, ring-full drops ${Atomics.load(stop, 1)}, ${perFrame(cpu, packets)} µs CPU/frame (both threads)`;
}

/** One line per configuration; a configuration that fails says why instead of a figure. */
export async function fdbasedLines(): Promise<string[]> {
  sh('ip', 'netns', 'add', NS);
  const lines: string[] = [];
  try {
    sh('ip', 'link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS);
    sh('ip', 'link', 'set', THEIRS, 'netns', NS);
    sh('ip', '-n', NS, 'addr', 'add', `${NET}.2/24`, 'dev', THEIRS);
    sh('ip', '-n', NS, 'link', 'set', THEIRS, 'up');
    sh('sysctl', '-qw', `net.ipv6.conf.${OURS}.disable_ipv6=1`);
    sh('ip', 'link', 'set', OURS, 'up');
    const cases: [string, () => Promise<string>][] = [
      ['RX gso=true recvmmsg', () => receive(true, false)],
      ['RX gso=false recvmmsg', () => receive(false, false)],
      ['RX gso=true mmap ring', () => receive(true, true)],
      ['RX gso=false mmap ring', () => receive(false, true)],
      ['TX gso=true', () => send(true)],
      ['TX gso=false', () => send(false)],
      ['TX worker qdisc', sendThroughWorker],
      ['RX worker', receiveThroughWorker],
    ];
    for (const [name, run] of cases) {
      try { lines.push(await run()); } catch (e) { lines.push(`${name}: not measured: ${(e as Error).message.split('\n')[0]}`); }
    }
  } finally {
    try { sh('ip', 'link', 'del', OURS); } catch { /* gone */ }
    try { sh('ip', 'netns', 'del', NS); } catch { /* gone */ }
  }
  return lines;
}

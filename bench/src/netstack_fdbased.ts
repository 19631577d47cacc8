// Throughput of the netstack's fdbased link alone across a veth (moved here from the TSVISOR_LONG-gated
// packages/netstack/src/link/fdbased_bench.test.ts: performance is measured in benchmarks, not asserted in tests).
// RX: a sender in a namespace blasts 1514-byte UDP frames with sendmmsg on its own packet socket (native code, so the
// sender is not the bottleneck); the endpoint receives, and a dispatcher checks the IPv4 and UDP headers as the
// stack's first layer would. TX: the endpoint sends 1514-byte frames built in fresh PacketBuffers, and the namespace's
// kernel counts what arrives. TX qdisc: the two egress stages the stack can use (the inline FifoQdisc and the
// WorkerQdisc, sendmmsg on its own thread) for a TCP-like stream of 64 KiB GSO super-packets and of 1514-byte frames,
// with the stack thread's CPU apart from the whole process's. Also an alternative receive design: a worker-thread
// receiver (poll + recvmmsg on a worker, SharedFrameRing to the stack's thread).
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { FdBasedEndpoint } from '../../packages/netstack/dist/link/fdbased.js';
import { GsoType, PacketBuffer } from '../../packages/netstack/dist/buffer/packet_buffer.js';
import { FifoQdisc } from '../../packages/netstack/dist/link/qdisc.js';
import { WorkerQdisc } from '../../packages/netstack/dist/link/worker_qdisc.js';
import type { LinkEndpoint } from '../../packages/netstack/dist/link/link_endpoint.js';
import { foldChecksum } from '../../packages/netstack/dist/header/checksum.js';
import { SharedFrameRing } from '../../packages/netstack/dist/buffer/shared_ring.js';
import { ETHERTYPE_IPV4 } from '../../packages/netstack/dist/header/ethernet.js';
import { IPv4Header, IPPROTO_TCP, IPPROTO_UDP } from '../../packages/netstack/dist/header/ipv4.js';
import { UDPHeader } from '../../packages/netstack/dist/header/udp.js';
import { parseIPv4, parseMac } from '../../packages/netstack/dist/header/address_text.js';
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

/** CPU seconds the stack's (main) thread has used: utime + stime of /proc/self/task/<pid>/stat, in clock ticks. */
function mainThreadCpuSeconds(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5) (utime, stime), counted from 3 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export type QdiscKind = 'inline' | 'worker';
export type StreamShape = 'gso64k' | 'frames1514';

/**
 * A TCP-like stream through one egress stage: per event-loop turn, a burst of segments of one connection (IPv4,
 * TCP with the 12-byte timestamp option, partial checksum for offload) as netstack's TCP writes them: 4 GSO
 * super-packets of 45 x 1448 bytes (the largest multiple of the MSS under gsoMaxSize), or 32 frames of 1514 bytes.
 * The segment buffers are reused once the qdisc has taken them, so the figures are the egress stage's cost (framing,
 * copy or syscall), not the building of segments. The worker's ring is treated like a send window: when half full,
 * the producer waits (whenBacklogBelow, without blocking) until a quarter is left, as TCP waits for ACKs.
 */
export async function sendThroughQdisc(kind: QdiscKind, shape: StreamShape, seconds = SECONDS): Promise<string> {
  const ep = FdBasedEndpoint.open({ ifname: OURS, gso: true });
  const q: LinkEndpoint & { stats: { sent: number; dropped: number; batches: number } } = kind === 'worker' ? new WorkerQdisc(ep) : new FifoQdisc(ep);
  ep.attach({ deliverNetworkPacket() { /* ignore */ } } as unknown as Parameters<FdBasedEndpoint['attach']>[0]);
  const mac = theirMac();
  const src = parseIPv4(`${NET}.1`)!, dst = parseIPv4(`${NET}.9`)!; // .9: nobody's; the namespace drops them on arrival
  const gso = shape === 'gso64k';
  const mss = 1448;
  const payloadLen = gso ? 45 * mss : mss;
  const perTurn = gso ? 4 : 32;
  const hdr = 20 + 32;
  const pool: { pkt: PacketBuffer; head: number }[] = [];
  for (let i = 0; i < perTurn; i++) {
    const pkt = PacketBuffer.allocate(hdr + payloadLen, ep.maxHeaderLength);
    const b = pkt.buf, ip = pkt.head, t = ip + 20;
    new IPv4Header(b, ip).encode({ totalLength: hdr + payloadLen, protocol: IPPROTO_TCP, src, dst, ttl: 64, flags: 0x4000 });
    b.set([0x9c, 0x40, 0x13, 0x89, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x10, 0xff, 0xff, 0, 0, 0, 0, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 1], t);
    const partial = foldChecksum(new IPv4Header(b, ip).pseudoHeaderSum(IPPROTO_TCP, 32 + payloadLen));
    b[t + 16] = partial >> 8; b[t + 17] = partial & 0xff;
    pool.push({ pkt, head: ip });
  }
  const gsoInfo = { type: gso ? GsoType.TCPV4 : GsoType.NONE, size: gso ? mss : 0, needsChecksum: true };
  const batch: PacketBuffer[] = [];
  const wq = q instanceof WorkerQdisc ? q : null;
  const before = rxCount();
  let seq = 0, written = 0;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuSeconds();
  const t0 = Date.now(), end = t0 + seconds * 1000;
  while (Date.now() < end) {
    for (const { pkt, head } of pool) {
      pkt.head = head;
      pkt.networkHeader = head;
      pkt.transportHeader = head + 20;
      pkt.networkProtocol = ETHERTYPE_IPV4;
      pkt.transportProtocol = IPPROTO_TCP;
      pkt.remoteLinkAddress = mac;
      pkt.gso = gsoInfo;
      const b = pkt.buf, s = head + 24;
      b[s] = seq >>> 24; b[s + 1] = seq >>> 16; b[s + 2] = seq >>> 8; b[s + 3] = seq;
      seq = (seq + payloadLen) | 0;
      batch.push(pkt);
    }
    written += q.writePackets(batch);
    batch.length = 0;
    // The FifoQdisc flushes (a microtask) before either resolves.
    if (wq && wq.backlogBytes > wq.ringBytes / 2) await wq.whenBacklogBelow(wq.ringBytes / 4);
    else await new Promise((r) => setImmediate(r));
  }
  if (wq) await wq.whenBacklogBelow(0);
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainCpu = mainThreadCpuSeconds() - main0;
  await new Promise((r) => setTimeout(r, 200));
  const arrived = rxCount() - before;
  const st = q.stats;
  q.close();
  if (wq) await wq.whenClosed();
  const frameBytes = 14 + hdr + payloadLen;
  return `TX qdisc=${kind} ${gso ? `64 KiB GSO (${frameBytes}-byte frames)` : '1514-byte frames'}: sent ${st.sent} of ${written} written in ${elapsed.toFixed(1)}s `
    + `= ${(st.sent / elapsed / 1e3).toFixed(1)} k frames/s, ${(st.sent * frameBytes * 8 / elapsed / 1e9).toFixed(2)} Gbit/s, `
    + `${(st.sent / Math.max(1, st.batches)).toFixed(1)} frames/sendmmsg, dropped ${st.dropped}; namespace counted ${arrived}; `
    + `CPU/frame: stack thread ${(mainCpu * 1e6 / Math.max(1, st.sent)).toFixed(2)} µs, process ${perFrame(cpu, st.sent)} µs`;
}

/** The qdisc comparison alone (also part of fdbasedLines). */
export async function qdiscLines(seconds = SECONDS): Promise<string[]> {
  return withVethPair(async () => {
    const lines: string[] = [];
    for (const shape of ['gso64k', 'frames1514'] as const) {
      for (const kind of ['inline', 'worker'] as const) {
        try { lines.push(await sendThroughQdisc(kind, shape, seconds)); } catch (e) { lines.push(`TX qdisc=${kind} ${shape}: not measured: ${(e as Error).message.split('\n')[0]}`); }
      }
    }
    return lines;
  });
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

/** Runs `body` with the namespace and veth pair set up, and removes them afterwards. */
async function withVethPair<T>(body: () => Promise<T>): Promise<T> {
  sh('ip', 'netns', 'add', NS);
  try {
    sh('ip', 'link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS);
    sh('ip', 'link', 'set', THEIRS, 'netns', NS);
    sh('ip', '-n', NS, 'addr', 'add', `${NET}.2/24`, 'dev', THEIRS);
    sh('ip', '-n', NS, 'link', 'set', THEIRS, 'up');
    sh('sysctl', '-qw', `net.ipv6.conf.${OURS}.disable_ipv6=1`);
    sh('ip', 'link', 'set', OURS, 'up');
    return await body();
  } finally {
    try { sh('ip', 'link', 'del', OURS); } catch { /* gone */ }
    try { sh('ip', 'netns', 'del', NS); } catch { /* gone */ }
  }
}

/** One line per configuration; a configuration that fails says why instead of a figure. */
export async function fdbasedLines(): Promise<string[]> {
  return withVethPair(async () => {
    const lines: string[] = [];
    const cases: [string, () => Promise<string>][] = [
      ['RX gso=true recvmmsg', () => receive(true, false)],
      ['RX gso=false recvmmsg', () => receive(false, false)],
      ['RX gso=true mmap ring', () => receive(true, true)],
      ['RX gso=false mmap ring', () => receive(false, true)],
      ['TX gso=true', () => send(true)],
      ['TX gso=false', () => send(false)],
      ['TX qdisc=inline gso64k', () => sendThroughQdisc('inline', 'gso64k')],
      ['TX qdisc=worker gso64k', () => sendThroughQdisc('worker', 'gso64k')],
      ['TX qdisc=inline frames1514', () => sendThroughQdisc('inline', 'frames1514')],
      ['TX qdisc=worker frames1514', () => sendThroughQdisc('worker', 'frames1514')],
      ['RX worker', receiveThroughWorker],
    ];
    for (const [name, run] of cases) {
      try { lines.push(await run()); } catch (e) { lines.push(`${name}: not measured: ${(e as Error).message.split('\n')[0]}`); }
    }
    return lines;
  });
}

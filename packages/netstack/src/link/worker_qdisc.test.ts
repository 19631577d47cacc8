// WorkerQdisc against a real Linux peer: a network namespace and veth pair created here (names carry the pid;
// removed in afterAll). Frames go out through the worker thread's sendmmsg on our end; a packet socket on the
// namespace's end (a small Python reader) captures what arrives, so count, order and bytes are checked on the
// wire, not in our own bookkeeping. Spawns the thread from dist/: run `npx tsc -b packages/netstack` first.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GsoType, PacketBuffer } from '../buffer/packet_buffer.js';
import { ETHERTYPE_IPV4 } from '../header/ethernet.js';
import { IPv4Header } from '../header/ipv4.js';
import { parseIPv4 } from '../header/address_text.js';
import { foldChecksum } from '../header/checksum.js';
import { createDefaultStack } from '../tools/default_stack.js';
import { takeOverHostNetwork } from '../tools/device_takeover.js';
import { FdBasedEndpoint } from './fdbased.js';
import { ChannelEndpoint } from './channel.js';
import type { LinkDispatcher } from './link_endpoint.js';
import { WorkerQdisc } from './worker_qdisc.js';
import { ControlSlot } from './worker_qdisc_protocol.js';

const NS = `tsvw${process.pid}`;
const OURS = `wa${process.pid}`.slice(0, 15);
const THEIRS = `wb${process.pid}`.slice(0, 15);
const NET = `10.246.${process.pid % 250}`;
/** IEEE 802 local experimental EtherType: no kernel protocol handles it, so nothing else shows up in the capture. */
const ETHERTYPE_TEST = 0x88b5;
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Captures up to `want` frames of EtherType `proto` arriving on the namespace's end (not our own outgoing ones),
 * written to stdout as [length:u32le, bytes]; stops at `want`, after 700 ms without a frame, or after 8 s.
 */
const READER = `
import socket, struct, sys, time
ifname, proto, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
s.bind((ifname, proto))
s.settimeout(0.1)
sys.stderr.write('ready\\n'); sys.stderr.flush()
out, got, start, last = sys.stdout.buffer, 0, time.time(), None
while got < want and time.time() - start < 8 and (last is None or time.time() - last < 0.7):
    try:
        data, addr = s.recvfrom(70000)
    except socket.timeout:
        continue
    if addr[2] == 4:  # PACKET_OUTGOING
        continue
    out.write(struct.pack('<I', len(data)) + data)
    got += 1
    last = time.time()
out.flush()
`;

interface Capture { frames: Promise<Uint8Array[]> }

async function capture(proto: number, want: number): Promise<Capture> {
  const child = spawn('ip', ['netns', 'exec', NS, '/usr/bin/python3', '-c', READER, THEIRS, String(proto), String(want)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 100 && !err.includes('ready'); i++) await sleep(20);
  if (!err.includes('ready')) throw new Error(`capture did not start: ${err}`);
  const frames = new Promise<Uint8Array[]>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) { reject(new Error(`capture exited ${code}: ${err}`)); return; }
      const all = Buffer.concat(chunks);
      const out: Uint8Array[] = [];
      for (let at = 0; at + 4 <= all.length;) {
        const len = all.readUInt32LE(at);
        out.push(Uint8Array.from(all.subarray(at + 4, at + 4 + len)));
        at += 4 + len;
      }
      resolve(out);
    });
  });
  return { frames };
}

function theirMac(): Uint8Array {
  const text = (JSON.parse(sh('ip', '-n', NS, '-j', 'link', 'show', THEIRS)) as { address: string }[])[0].address;
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

/** A test frame: sequence number, then bytes derived from it, `size` bytes of payload in all. */
function testPacket(seq: number, size: number, headroom: number, dst: Uint8Array): PacketBuffer {
  const p = PacketBuffer.allocate(size, headroom);
  const b = p.buf;
  b[p.head] = seq >> 24; b[p.head + 1] = seq >> 16; b[p.head + 2] = seq >> 8; b[p.head + 3] = seq;
  for (let i = 4; i < size; i++) b[p.head + i] = (seq * 31 + i * 7) & 0xff;
  p.networkProtocol = ETHERTYPE_TEST;
  p.remoteLinkAddress = dst;
  return p;
}

/** The Ethernet frame the wire should carry for a packet writePackets has framed (virtio_net_hdr skipped). */
function wireFrame(p: PacketBuffer, vnetLen: number): Uint8Array {
  return p.buf.slice(p.head + vnetLen, p.tail);
}

/** How many of this process's descriptors refer to the same open file (socket) as `fd`. */
function descriptorsOf(socketLink: string): number {
  let n = 0;
  for (const d of readdirSync('/proc/self/fd')) {
    try { if (readlinkSync(`/proc/self/fd/${d}`) === socketLink) n++; } catch { /* closed meanwhile */ }
  }
  return n;
}

function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

describe('WorkerQdisc over a veth into a network namespace', () => {
  beforeAll(() => {
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS);
    sh('ip', 'link', 'set', THEIRS, 'netns', NS);
    sh('ip', '-n', NS, 'addr', 'add', `${NET}.2/24`, 'dev', THEIRS);
    sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', NS, 'link', 'set', THEIRS, 'up');
    sh('sysctl', '-qw', `net.ipv6.conf.${OURS}.disable_ipv6=1`);
    sh('ip', 'link', 'set', OURS, 'up');
  });

  afterAll(() => {
    try { sh('ip', 'link', 'del', OURS); } catch { /* gone with the namespace */ }
    try { sh('ip', 'netns', 'del', NS); } catch { /* never created */ }
  });

  it('sends a stream of frames of every size intact and in order, and close() ends the thread', async () => {
    const before = threadCount();
    const total = 3000;
    const cap = await capture(ETHERTYPE_TEST, total);
    const ep = FdBasedEndpoint.open({ ifname: OURS, gso: true });
    const q = new WorkerQdisc(ep);
    const online = new Promise<void>((resolve, reject) => {
      q.thread.once('online', () => resolve());
      setTimeout(() => reject(new Error('the worker did not start within 3 s')), 3000);
    });
    const mac = theirMac();
    const expected: Uint8Array[] = [];
    try {
      await online;
      expect(threadCount()).toBeGreaterThanOrEqual(before + 1);
      for (let seq = 0; seq < total;) {
        const batch: PacketBuffer[] = [];
        for (let i = 0; i < 200 && seq < total; i++, seq++) batch.push(testPacket(seq, 46 + (seq * 97) % 1455, q.maxHeaderLength, mac));
        expect(q.writePackets(batch)).toBe(batch.length);
        for (const p of batch) expected.push(wireFrame(p, 10));
        // Keep within the ring: a stream, not a burst (the burst case is a test below). whenBacklogBelow wakes on
        // the worker's notification after each batch it sends.
        if (q.backlogBytes > q.ringBytes / 8) {
          await q.whenBacklogBelow(q.ringBytes / 16);
          expect(q.backlogBytes).toBeLessThanOrEqual(q.ringBytes / 16);
        }
      }
      const frames = await cap.frames;
      expect(frames.length).toBe(total);
      for (let i = 0; i < total; i++) {
        if (!Buffer.from(frames[i]).equals(Buffer.from(expected[i]))) throw new Error(`frame ${i} differs (length ${frames[i].length} vs ${expected[i].length})`);
      }
      const st = q.stats;
      expect(st).toMatchObject({ queued: total, sent: total, dropped: 0, ringFull: 0, errors: 0, workerFailures: 0, inThread: false });
      expect(st.sentBytes).toBe(expected.reduce((n, f) => n + f.length, 0));
      expect(st.batches).toBeLessThan(total); // batched: more than one frame per sendmmsg on average
    } finally {
      q.close();
    }
    expect(q.writePackets([testPacket(0, 46, q.maxHeaderLength, mac)])).toBe(0);
    await q.whenClosed();
    expect(q.thread.threadId).toBe(-1);
    for (let i = 0; i < 50 && threadCount() > before; i++) await sleep(10);
    expect(threadCount()).toBe(before);
  });

  it('sends 64 KiB TCP GSO super-packets (virtio_net_hdr framing) intact', async () => {
    const ep = FdBasedEndpoint.open({ ifname: OURS, gso: true });
    const q = new WorkerQdisc(ep);
    const mac = theirMac();
    const count = 40;
    const cap = await capture(ETHERTYPE_IPV4, count);
    const src = parseIPv4(`${NET}.1`)!, dst = parseIPv4(`${NET}.9`)!; // .9: nobody's, so the namespace drops them
    const expected: Uint8Array[] = [];
    try {
      for (let k = 0; k < count; k++) {
        // The largest the kernel takes through a veth: the frame (Ethernet header included) at most 65535 bytes;
        // one byte more and sendmmsg fails with ENOBUFS (see the report on FdBasedEndpoint.gsoMaxSize).
        const payload = new Uint8Array(65535 - 14 - 40).map((_, i) => (i * 13 + k) & 0xff);
        const pkt = PacketBuffer.fromPayload(payload, 64);
        pkt.transportHeader = pkt.prepend(20);
        const t = pkt.transportHeader;
        const b = pkt.buf;
        // A distinct source port per packet, so the receiving side's GRO has no flow to merge them into.
        const sport = 10000 + k;
        b.set([sport >> 8, sport & 0xff, 0x00, 0x50, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0], t);
        pkt.networkHeader = pkt.prepend(20);
        const ip = new IPv4Header(b, pkt.networkHeader);
        ip.encode({ totalLength: 40 + payload.length, protocol: 6, src, dst, ttl: 64, flags: 0x4000 });
        const partial = foldChecksum(ip.pseudoHeaderSum(6, 20 + payload.length));
        b[t + 16] = partial >> 8;
        b[t + 17] = partial & 0xff;
        pkt.networkProtocol = ETHERTYPE_IPV4;
        pkt.transportProtocol = 6;
        pkt.remoteLinkAddress = mac;
        pkt.gso = { type: GsoType.TCPV4, size: 1448, needsChecksum: true };
        expect(q.writePackets([pkt])).toBe(1);
        // The virtio_net_hdr FdBasedEndpoint wrote: NEEDS_CSUM, GSO_TCPV4, gso_size 1448.
        expect([b[pkt.head], b[pkt.head + 1], b[pkt.head + 4] | (b[pkt.head + 5] << 8)]).toEqual([1, 1, 1448]);
        expected.push(wireFrame(pkt, 10));
        if (k % 8 === 7) await sleep(2);
      }
      const frames = await cap.frames;
      expect(frames.length, JSON.stringify(q.stats)).toBe(count);
      for (let i = 0; i < count; i++) {
        expect(frames[i].length).toBe(65535);
        expect(Buffer.from(frames[i]).equals(Buffer.from(expected[i]))).toBe(true);
      }
      expect(q.stats).toMatchObject({ sent: count, dropped: 0, errors: 0 });
    } finally {
      q.close();
    }
    await q.whenClosed();
  });

  it('drops and counts what does not fit a full ring; exactly what it accepted arrives', async () => {
    const ep = FdBasedEndpoint.open({ ifname: OURS, gso: false });
    const q = new WorkerQdisc(ep, { ringBytes: 64 << 10 });
    const mac = theirMac();
    const cap = await capture(ETHERTYPE_TEST, 1000);
    let accepted = 0;
    const expected: Uint8Array[] = [];
    try {
      // One synchronous burst of 1000 full-size frames (1.5 MB) into 64 KiB: the worker cannot keep up (it is
      // most likely not even running yet), so most are refused.
      for (let seq = 0; seq < 1000; seq += 50) {
        const batch = Array.from({ length: 50 }, (_, i) => testPacket(seq + i, 1500, q.maxHeaderLength, mac));
        const n = q.writePackets(batch);
        for (let i = 0; i < n; i++) expected.push(wireFrame(batch[i], 0));
        accepted += n;
      }
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(1000);
      const st = q.stats;
      expect(st.queued).toBe(accepted);
      expect(st.dropped).toBe(1000 - accepted);
      expect(st.ringFull).toBeGreaterThanOrEqual(1);
      const frames = await cap.frames;
      expect(frames.length).toBe(accepted);
      for (let i = 0; i < accepted; i++) expect(Buffer.from(frames[i]).equals(Buffer.from(expected[i]))).toBe(true);
      expect(q.stats.sent).toBe(accepted);
    } finally {
      q.close();
    }
    await q.whenClosed();
  });

  it('a worker that dies is reported once and sending continues on the stack thread, nothing lost', async () => {
    const ep = FdBasedEndpoint.open({ ifname: OURS, gso: true });
    const q = new WorkerQdisc(ep);
    const reports: { err: unknown; dropped: number }[] = [];
    const dispatcher: LinkDispatcher = {
      deliverNetworkPacket() { /* nothing to receive here */ },
      transmitFailed(err, dropped) { reports.push({ err, dropped }); },
    };
    q.attach(dispatcher);
    const mac = theirMac();
    const cap = await capture(ETHERTYPE_TEST, 30);
    try {
      expect(q.writePackets(Array.from({ length: 10 }, (_, i) => testPacket(i, 100, q.maxHeaderLength, mac)))).toBe(10);
      for (let i = 0; i < 200 && q.stats.sent < 10; i++) await sleep(5);
      expect(q.stats.sent).toBe(10);
      await q.thread.terminate();
      for (let i = 0; i < 100 && !q.stats.inThread; i++) await sleep(5);
      expect(q.stats.inThread).toBe(true);
      expect(reports.length).toBe(1);
      expect((reports[0].err as { code?: string }).code).toBe('EWORKERQDISC');
      expect(reports[0].dropped).toBe(0);
      expect(q.isAttached()).toBe(true);
      // From now on the frames go out from this thread (through a FifoQdisc: flushed at the end of the job).
      expect(q.writePackets(Array.from({ length: 10 }, (_, i) => testPacket(10 + i, 100, q.maxHeaderLength, mac)))).toBe(10);
      await sleep(0);
      expect(q.writePackets(Array.from({ length: 10 }, (_, i) => testPacket(20 + i, 100, q.maxHeaderLength, mac)))).toBe(10);
      const frames = await cap.frames;
      expect(frames.map((f) => (f[14] << 24) | (f[15] << 16) | (f[16] << 8) | f[17])).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(q.stats).toMatchObject({ sent: 30, dropped: 0, workerFailures: 1, sentBytes: frames.reduce((n, f) => n + f.length, 0) });
      expect(reports.length).toBe(1);
    } finally {
      q.close();
    }
  });

  it("device takeover with qdisc: 'worker' serves the device through a WorkerQdisc (ping from the namespace)", async () => {
    // The takeover reads the device's address from the host and removes it from the kernel, as in a sandbox.
    sh('ip', 'addr', 'replace', `${NET}.1/24`, 'dev', OURS);
    const stack = createDefaultStack();
    try {
      const { devices } = takeOverHostNetwork(stack, { devices: [OURS], qdisc: 'worker' });
      expect(devices).toHaveLength(1);
      const egress = devices[0].egress;
      expect(egress).toBeInstanceOf(WorkerQdisc);
      sh('ip', '-n', NS, 'neigh', 'flush', 'dev', THEIRS);
      const { stdout: out } = await run('ip', ['netns', 'exec', NS, 'busybox', 'ping', '-c', '3', '-i', '0.2', '-w', '5', `${NET}.1`]);
      expect(out).toMatch(/, 3 packets received/);
      // ARP reply and three echo replies left through the worker.
      expect((egress as WorkerQdisc).stats.sent).toBeGreaterThanOrEqual(4);
      expect((egress as WorkerQdisc).stats.inThread).toBe(false);
    } finally {
      stack.close();
    }
  });

  it("device takeover with qdisc: 'worker' whose NIC the stack refuses closes the worker and leaves the kernel's address", async () => {
    sh('ip', 'addr', 'replace', `${NET}.1/24`, 'dev', OURS);
    const ifindex = Number(readFileSync(`/sys/class/net/${OURS}/ifindex`, 'utf8'));
    const stack = createDefaultStack();
    const before = threadCount();
    try {
      // The NIC id the takeover wants (the device's ifindex) is taken: createNIC refuses.
      expect(stack.createNIC(ifindex, new ChannelEndpoint({ ethernet: true }))).toBeUndefined();
      expect(() => takeOverHostNetwork(stack, { devices: [OURS], qdisc: 'worker' })).toThrow(/NIC for/);
      for (let i = 0; i < 50 && threadCount() > before; i++) await sleep(10);
      expect(threadCount()).toBe(before);
      expect(sh('ip', '-4', '-o', 'addr', 'show', 'dev', OURS)).toContain(`${NET}.1/24`);
    } finally {
      stack.close();
    }
  });

  it("the worker's duplicate descriptor is closed once, from the exit event (not by the thread), also when closed before it started", async () => {
    for (const waitForStart of [true, false]) {
      const ep = FdBasedEndpoint.open({ ifname: OURS, gso: false });
      const socketLink = readlinkSync(`/proc/self/fd/${ep.fd}`);
      const q = new WorkerQdisc(ep);
      expect(descriptorsOf(socketLink)).toBe(2);
      if (waitForStart) await sleep(50); // the thread is running (or at least may be): close() waits for STOPPED
      q.close();
      // The endpoint's own descriptor is closed; the duplicate stays until the thread is gone, so a terminate()
      // racing the thread's last steps can never make two closes of one number (the second hitting another file).
      expect(descriptorsOf(socketLink)).toBe(1);
      await q.whenClosed();
      expect(descriptorsOf(socketLink)).toBe(0);
    }
  });

  it('a frame the kernel refuses costs that frame only when the stack thread sends what a stopped worker left', async () => {
    const ep = FdBasedEndpoint.open({ ifname: OURS, gso: true });
    const q = new WorkerQdisc(ep);
    const reports: number[] = [];
    q.attach({ deliverNetworkPacket() { /* nothing to receive here */ }, transmitFailed: (_e, dropped) => void reports.push(dropped) });
    const mac = theirMac();
    const cap = await capture(ETHERTYPE_TEST, 3);
    try {
      // A checksum offload whose transport header starts 4 bytes before the end: the virtio_net_hdr's csum_start +
      // csum_offset + 2 passes the frame's length, so the kernel refuses that frame (EINVAL, packet(7) with
      // PACKET_VNET_HDR) while the ones before and after it are fine.
      const bad = testPacket(99, 100, q.maxHeaderLength, mac);
      bad.transportProtocol = 6;
      bad.transportHeader = bad.tail - 4;
      bad.gso = { type: GsoType.NONE, size: 0, needsChecksum: true };
      const batch = [testPacket(0, 100, q.maxHeaderLength, mac), bad, testPacket(1, 100, q.maxHeaderLength, mac), testPacket(2, 100, q.maxHeaderLength, mac)];
      // The thread is told to stop before it reads anything (the STOP slot close() sets, without closing), so it
      // exits at its first check and the exit handler sends the ring's frames from this thread: deterministic,
      // unlike terminate(), which may land after the thread's sendmmsg and before its release (the documented
      // one-batch duplicate).
      Atomics.store((q as unknown as { control: Int32Array }).control, ControlSlot.STOP, 1);
      expect(q.writePackets(batch)).toBe(4);
      await q.whenClosed();
      for (let i = 0; i < 100 && !q.stats.inThread; i++) await sleep(5);
      expect(q.stats.inThread).toBe(true);
      const frames = await cap.frames;
      expect(frames.map((f) => (f[14] << 24) | (f[15] << 16) | (f[16] << 8) | f[17])).toEqual([0, 1, 2]);
      expect(q.stats).toMatchObject({ sent: 3, dropped: 1, errors: 1, lastErrno: 0 });
      expect(reports.length).toBe(1);
    } finally {
      q.close();
    }
  });
});

// AF_PACKET batches across a veth pair this test creates (unique names, removed afterwards): frames sent on one
// end arrive on the other, with and without virtio_net_hdr, and the uv_poll watch fires.
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeFd,
  interfaceIndex, packetOpen, packetPollStart, packetPollStop, packetRecvBatch, packetSendBatch, packetStats,
  PACKET_RX_INFO_INTS, PACKET_HOST, PACKET_BROADCAST, packetWaitReadable, packetRxRing, TPACKET2_LEN, TPACKET2_MAC,
  TPACKET2_SLL_PKTTYPE, TP_STATUS_USER, TP_STATUS_KERNEL,
} from './index.js';

const A = `tpa${process.pid}`.slice(0, 15);
const B = `tpb${process.pid}`.slice(0, 15);
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

function mac(name: string): Uint8Array {
  const info = JSON.parse(ip('-j', 'link', 'show', 'dev', name)) as { address: string }[];
  return Uint8Array.from(info[0].address.split(':').map((h) => parseInt(h, 16)));
}

/** An Ethernet frame of an unassigned local experimental EtherType (0x88b5, IEEE 802 "local experimental 1"). */
function frame(dst: Uint8Array, src: Uint8Array, tag: number, size = 60): Uint8Array {
  const f = new Uint8Array(size);
  f.set(dst, 0); f.set(src, 6); f[12] = 0x88; f[13] = 0xb5; f[14] = tag;
  return f;
}

async function receive(fd: number, want: (f: Uint8Array, type: number) => boolean, vnet = 0): Promise<Uint8Array> {
  const slot = 2048;
  const buf = new Uint8Array(slot * 8);
  const info = new Int32Array(8 * PACKET_RX_INFO_INTS);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { packetPollStop(h); reject(new Error('no frame within 5 s')); }, 5000);
    const h = packetPollStart(fd, () => {
      for (;;) {
        const n = packetRecvBatch(fd, buf, slot, 8, info);
        if (n < 0) { clearTimeout(timer); packetPollStop(h); reject(new Error(`recv errno ${-n}`)); return; }
        if (n === 0) return;
        for (let i = 0; i < n; i++) {
          const f = buf.slice(i * slot + vnet, i * slot + info[i * PACKET_RX_INFO_INTS]);
          if (want(f, info[i * PACKET_RX_INFO_INTS + 1])) { clearTimeout(timer); packetPollStop(h); resolve(f); return; }
        }
      }
    });
  });
}

describe('AF_PACKET batches over a veth pair', () => {
  let fdA = -1, fdB = -1;
  let macA: Uint8Array, macB: Uint8Array;

  beforeAll(() => {
    ip('link', 'add', A, 'type', 'veth', 'peer', 'name', B);
    for (const d of [A, B]) {
      execFileSync('sysctl', ['-qw', `net.ipv6.conf.${d}.disable_ipv6=1`]);
      ip('link', 'set', d, 'up');
    }
    macA = mac(A); macB = mac(B);
    fdA = packetOpen(interfaceIndex(A), { vnetHdr: false, rcvbuf: 1 << 20 });
    fdB = packetOpen(interfaceIndex(B), { vnetHdr: true });
  });

  afterAll(() => {
    if (fdA >= 0) closeFd(fdA);
    if (fdB >= 0) closeFd(fdB);
    try { ip('link', 'del', A); } catch { /* already gone */ }
  });

  it('sends a batch from one end and receives it on the other, classified', async () => {
    const got = receive(fdB, (f) => f[12] === 0x88 && f[14] === 3, 10);
    const bufs = [frame(macB, macA, 1), frame(new Uint8Array(6).fill(0xff), macA, 2), frame(macB, macA, 3)];
    const ranges = new Int32Array([0, 60, 0, 60, 0, 60]);
    expect(packetSendBatch(fdA, bufs, ranges, 3)).toBe(3);
    const f = await got;
    expect(Array.from(f.subarray(0, 12))).toEqual([...macB, ...macA]);
  });

  it('strips and adds virtio_net_hdr on the vnet end, and reports packet types', async () => {
    const types: number[] = [];
    const got = receive(fdA, (f, t) => { if (f[12] === 0x88) types.push(t); return f[14] === 9; });
    // A 10-byte virtio_net_hdr of zeros (no offload) in front of each frame, sent from a larger buffer's middle.
    const big = new Uint8Array(200);
    big.set(frame(macA, macB, 8), 20 + 10);
    const b2 = new Uint8Array(70);
    b2.set(frame(new Uint8Array(6).fill(0xff), macB, 9), 10);
    expect(packetSendBatch(fdB, [big, b2], new Int32Array([20, 90, 0, 70]), 2)).toBe(2);
    const f = await got;
    expect(f.length).toBe(60);
    expect(types).toEqual([PACKET_HOST, PACKET_BROADCAST]);
    expect(packetStats(fdA).drops).toBe(0);
  });

  it('blocks in poll until a frame is waiting (the worker-thread alternative to the uv_poll watch)', () => {
    const buf = new Uint8Array(2048 * 8);
    const info = new Int32Array(8 * PACKET_RX_INFO_INTS);
    while (packetRecvBatch(fdB, buf, 2048, 8, info) > 0) { /* drain */ }
    const t0 = Date.now();
    expect(packetWaitReadable(fdB, 50)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(packetSendBatch(fdA, [frame(macB, macA, 4)], new Int32Array([0, 60]), 1)).toBe(1);
    expect(packetWaitReadable(fdB, 2000)).toBe(true);
    expect(packetRecvBatch(fdB, buf, 2048, 8, info)).toBeGreaterThanOrEqual(1);
  });

  it('maps a TPACKET_V2 receive ring that frames land in, and takes slots back', () => {
    const fd = packetOpen(interfaceIndex(A), { vnetHdr: true });
    try {
      const ring = packetRxRing(fd, 4096, 2, 2);
      expect(ring.frameCount).toBe(4);
      expect(ring.blockSize % 4096).toBe(0);
      const words = new Int32Array(ring.memory);
      const bytes = new Uint8Array(ring.memory);
      for (let round = 0; round < 3; round++) { // 6 frames through 4 slots: slots must be reused
        expect(packetSendBatch(fdB, [new Uint8Array(10 + 60).fill(0, 0, 10), new Uint8Array(70)].map((b, k) => { b.set(frame(macA, macB, round * 2 + k), 10); return b; }), new Int32Array([0, 70, 0, 70]), 2)).toBe(2);
        expect(packetWaitReadable(fd, 2000)).toBe(true);
        let seen = 0;
        for (let i = 0; i < ring.frameCount; i++) {
          const off = Math.floor(i / ring.framesPerBlock) * ring.blockSize + (i % ring.framesPerBlock) * ring.frameSize;
          if ((Atomics.load(words, off >> 2) & TP_STATUS_USER) === 0) continue;
          const mac = off + new Uint16Array(ring.memory)[(off + TPACKET2_MAC) >> 1];
          if (bytes[mac + 12] === 0x88) {
            expect(words[(off + TPACKET2_LEN) >> 2]).toBe(60);
            expect(bytes[off + TPACKET2_SLL_PKTTYPE]).toBe(PACKET_HOST);
            expect(Array.from(bytes.subarray(mac - 10, mac))).toEqual(new Array(10).fill(0)); // virtio_net_hdr
            seen++;
          }
          Atomics.store(words, off >> 2, TP_STATUS_KERNEL);
        }
        expect(seen).toBe(2);
      }
      expect(() => packetRxRing(fd, 100, 1, 1)).toThrow(/multiple of 16/);
    } finally {
      closeFd(fd);
    }
  });

  it('stops a watch for good, even when asked twice', async () => {
    let calls = 0;
    const h = packetPollStart(fdB, () => { calls++; });
    packetPollStop(h);
    packetPollStop(h);
    expect(packetSendBatch(fdA, [frame(macB, macA, 5)], new Int32Array([0, 60]), 1)).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(0);
    expect(packetWaitReadable(fdB, 1000)).toBe(true); // the frame is there; nobody was told
  });

  it('lets a worker exit with a watch still active (the handle is closed at teardown, not left to abort the loop)', async () => {
    const addonPath = new URL('../build/Release/tsvisor_native.node', import.meta.url).pathname;
    const w = new Worker(`
      const a = require(${JSON.stringify(addonPath)});
      const fd = a.packetOpen(a.interfaceIndex(${JSON.stringify(A)}), false, 0, 0);
      a.packetPollStart(fd, () => {});
      setTimeout(() => process.exit(7), 50);
    `, { eval: true });
    const code = await new Promise<number>((resolve) => w.on('exit', resolve));
    expect(code).toBe(7);
  });

  it('rejects bad arguments with clear errors instead of touching memory', () => {
    expect(() => packetSendBatch(fdA, [new Uint8Array(10)], new Int32Array([0, 11]), 1)).toThrow(/outside its buffer/);
    expect(() => packetSendBatch(fdA, [new Uint8Array(10)], new Int32Array([0]), 1)).toThrow(/fewer than count/);
    expect(() => interfaceIndex(`nodev${process.pid}`)).toThrow();
    expect(packetRecvBatch(fdA, new Uint8Array(100), 100, 1, new Int32Array(3))).toBeGreaterThanOrEqual(0);
  });
});

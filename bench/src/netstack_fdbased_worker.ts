// The worker half of the link-layer benchmarks in netstack_fdbased.ts (the two alternative designs measured there):
//   role 'tx': drains a SharedFrameRing and sends batches with sendmmsg straight from the shared memory;
//   role 'rx': blocks in poll(2), receives batches with recvmmsg, and copies frames into a SharedFrameRing.
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import { SharedFrameRing } from '../../packages/netstack/dist/buffer/shared_ring.js';

interface Addon {
  interfaceIndex(name: string): number;
  packetOpen(ifindex: number, vnetHdr: boolean, rcvbuf: number, sndbuf: number): number;
  packetSendBatch(fd: number, bufs: Uint8Array[], ranges: Int32Array, n: number): number;
  packetRecvBatch(fd: number, buf: Uint8Array, slot: number, n: number, info: Int32Array): number;
  packetWaitReadable(fd: number, ms: number): boolean;
  closeFd(fd: number): void;
}
const data = workerData as { role: 'tx' | 'rx'; sab: SharedArrayBuffer; stop?: SharedArrayBuffer; ifname: string; addon: string };
const a = createRequire(import.meta.url)(data.addon) as Addon;
const ring = SharedFrameRing.attach(data.sab);

if (data.role === 'tx') {
  const fd = a.packetOpen(a.interfaceIndex(data.ifname), false, 0, 4 << 20);
  const info = new Int32Array(3 * 64), ranges = new Int32Array(128), bufs = new Array<Uint8Array>(64).fill(ring.data);
  for (;;) {
    const n = ring.peekBatch(64, info);
    if (n === 0) { if (!ring.waitReadable(1000) && ring.closed) break; continue; }
    for (let i = 0; i < n; i++) { ranges[2 * i] = info[3 * i]!; ranges[2 * i + 1] = info[3 * i]! + info[3 * i + 1]!; }
    let off = 0;
    while (off < n) {
      const r = a.packetSendBatch(fd, bufs, ranges.subarray(2 * off), n - off);
      if (r <= 0) break;
      off += r;
    }
    ring.release();
  }
  a.closeFd(fd);
} else {
  const stop = new Int32Array(data.stop!);
  const fd = a.packetOpen(a.interfaceIndex(data.ifname), false, 4 << 20, 0);
  const SLOT = 2048, buf = new Uint8Array(SLOT * 64), info = new Int32Array(3 * 64);
  while (Atomics.load(stop, 0) === 0) {
    if (!a.packetWaitReadable(fd, 100)) continue;
    const n = a.packetRecvBatch(fd, buf, SLOT, 64, info);
    for (let i = 0; i < n; i++) {
      if (!ring.tryWrite(buf, i * SLOT, i * SLOT + Math.min(info[3 * i]!, SLOT), 0)) Atomics.add(stop, 1, 1);
    }
  }
  a.closeFd(fd);
  ring.close();
}

// The worker half of the receive benchmark in netstack_fdbased.ts (the alternative receive design measured there):
// blocks in poll(2), receives batches with recvmmsg, and copies frames into a SharedFrameRing. (The sending
// counterpart became the product's WorkerQdisc, packages/netstack/src/link/worker_qdisc.ts, measured there too.)
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import { SharedFrameRing } from '../../packages/netstack/dist/buffer/shared_ring.js';

interface Addon {
  interfaceIndex(name: string): number;
  packetOpen(ifindex: number, vnetHdr: boolean, rcvbuf: number, sndbuf: number): number;
  packetRecvBatch(fd: number, buf: Uint8Array, slot: number, n: number, info: Int32Array): number;
  packetWaitReadable(fd: number, ms: number): boolean;
  closeFd(fd: number): void;
}
const data = workerData as { role: 'rx'; sab: SharedArrayBuffer; stop?: SharedArrayBuffer; ifname: string; addon: string };
const a = createRequire(import.meta.url)(data.addon) as Addon;
const ring = SharedFrameRing.attach(data.sab);

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

// The worker half of WorkerQdisc (worker_qdisc.ts): drains a SharedFrameRing of complete frames (virtio_net_hdr
// when the socket has PACKET_VNET_HDR, Ethernet header, packet) and sends them in batches with sendmmsg straight
// from the shared memory, on a duplicate of the fdbased endpoint's AF_PACKET socket. Node runs it from dist/.
//
// Protocol with the stack's thread (Int32 slots of `control`, indexes in worker_qdisc.ts's ControlSlot):
//   STATE: STARTING -> RUNNING (compare-and-swap here; if the stack's thread swapped it to STOPPED first, close()
//          came before this thread started and nothing is sent) -> STOPPED (stored once this thread sends nothing
//          more; close() waits for it, so nothing is sent after close() returns).
//   STOP:  set by close(); checked between batches. Frames still in the ring are then discarded, as FifoQdisc
//          discards its queue on close.
// The fd is never closed here: the stack's thread closes it from the worker's exit event, when no send can be in
// progress whichever way the thread ended (worker_qdisc.ts).
// Counters go to `counters` (BigInt64 slots, see CounterSlot), written only here and read by the stack's thread.
import { PACKET_MAX_BATCH } from '@tsvisor/native';
import { workerData } from 'node:worker_threads';
import { SharedFrameRing } from '../buffer/shared_ring.js';
import { ControlSlot, CounterSlot, WorkerState, type WorkerQdiscThreadData } from './worker_qdisc_protocol.js';
import { newFrameBatchResult, peekedRanges, sendFrameBatch } from './worker_qdisc_send.js';

const data = workerData as WorkerQdiscThreadData;
const ctl = new Int32Array(data.control);
const counters = new BigInt64Array(data.counters);
const ring = SharedFrameRing.attach(data.ring);
const batchSize = Math.max(1, Math.min(data.batchSize, PACKET_MAX_BATCH));

/** Adds to a counter (single writer: a load and a store, published with Atomics so the reader sees whole values). */
function count(slot: number, n: number): void {
  Atomics.store(counters, slot, Atomics.load(counters, slot) + BigInt(n));
}

function run(fd: number): void {
  const info = new Int32Array(3 * batchSize);
  const ranges = new Int32Array(2 * batchSize);
  const bufs = new Array<Uint8Array>(batchSize).fill(ring.data);
  const result = newFrameBatchResult();
  while (Atomics.load(ctl, ControlSlot.STOP) === 0) {
    const n = ring.peekBatch(batchSize, info);
    if (n === 0) {
      // Atomics.wait on the ring's write position: the producer's tryWrite notifies, close() notifies too.
      ring.waitReadable(1000);
      continue;
    }
    peekedRanges(info, n, ranges);
    const r = sendFrameBatch(fd, bufs, ranges, n, data.vnetLen, result);
    ring.release();
    Atomics.add(ctl, ControlSlot.RELEASES, 1);
    Atomics.notify(ctl, ControlSlot.RELEASES);
    count(CounterSlot.SENT, r.sent);
    count(CounterSlot.SENT_BYTES, r.bytes);
    if (r.errors > 0) {
      count(CounterSlot.SEND_ERRORS, r.errors);
      count(CounterSlot.SEND_DROPPED, r.dropped);
      if (r.lastErrno !== 0) Atomics.store(counters, CounterSlot.LAST_ERRNO, BigInt(r.lastErrno));
    }
    count(CounterSlot.BATCHES, 1);
  }
}

if (Atomics.compareExchange(ctl, ControlSlot.STATE, WorkerState.STARTING, WorkerState.RUNNING) === WorkerState.STARTING) {
  try {
    run(data.fd);
  } finally {
    Atomics.store(ctl, ControlSlot.STATE, WorkerState.STOPPED);
    Atomics.notify(ctl, ControlSlot.STATE);
  }
}

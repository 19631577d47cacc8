// A queueing discipline whose sending runs on its own worker thread (issue 4: "a qdisc stage on its own worker that
// batches egress"), for an fdbased link. writePackets frames each packet exactly as FdBasedEndpoint.writePackets
// would (FdBasedEndpoint.prepareFrame: virtio_net_hdr when the socket has PACKET_VNET_HDR, Ethernet header) and
// copies the frame into a SharedFrameRing; the worker (worker_qdisc_thread.ts) takes up to `batchSize` frames at a
// time and sends them with one sendmmsg straight from the shared memory. The stack's thread then pays one copy per
// frame and no system call; the kernel's send path (for a veth, the peer's whole receive path too) runs on the
// worker's thread instead. That matters once TCP runs on worker threads and the stack's thread is the busy one.
//
// The socket: the worker sends on a dup(2) of the endpoint's fd rather than on a socket of its own. A second
// packet socket bound to the device would receive a clone of every incoming frame that nobody reads, and could
// not be opened at all for an adopted fd (FdBasedOptions.fd: a socket opened by runsc in the container's network
// namespace, where this process cannot bind by ifindex); the duplicate shares the endpoint's socket, so its
// PACKET_VNET_HDR setting always matches the framing. Being a separate descriptor, the endpoint's close() can never
// pull the number out from under a sendmmsg in progress. It is closed exactly once, on the stack's thread, from the
// worker's exit event: only then can no send be using it, whatever way the thread ended. (When the thread closed
// it itself, a terminate() landing between its close and its STOPPED store made the exit handler close the
// number a second time, by then possibly another file's.)
//
// Failure: a full ring drops the packet and counts it (stats.dropped, stats.ringFull), as a full device queue
// does; TCP retransmits. A worker that dies (an exception, terminate(), a failed start) is reported once, to the
// attached stack's LinkDispatcher.transmitFailed (stats.internalErrors.transmit) or the internal-error log, and
// the link falls back to sending on the stack's thread through a FifoQdisc: frames still in the ring are sent from
// there first (at most one batch the worker had already handed to sendmmsg may go out twice; TCP discards the
// duplicates), and nothing is silently lost.
//
// close() stops the worker after its current batch and waits (bounded) for it to say it sends nothing more, so
// nothing is sent after close() returns; the thread's exit, and the closing of its descriptor, follow
// asynchronously (whenClosed()).
//
// Measured against the inline FifoQdisc (bench/src/netstack_fdbased.ts, sendThroughQdisc: a TCP-like stream over a
// veth, IPv4 + TCP with timestamps, partial checksums, the ring used as a send window through whenBacklogBelow;
// shared 2-core VM with load average 2-3 from other work, 3 runs of 3 s each, 2026-11-23):
//
//                                    frames/s     stack-thread CPU/frame   process CPU/frame   frames/sendmmsg
//   64 KiB GSO (65226-byte frames)
//     inline FifoQdisc               149-205 k    4.6-4.9 us               4.7-4.9 us          4 (one turn's burst)
//     WorkerQdisc                    109-127 k    3.6-3.8 us               8.6-8.8 us          20-29
//   1514-byte frames
//     inline FifoQdisc               371-398 k    2.4-2.5 us               2.4-2.5 us          32 (one turn's burst)
//     WorkerQdisc                    330-370 k    0.55-0.66 us             3.0-3.2 us          64
//
// So: for full-size frames the worker takes ~75% of the egress cost off the stack's thread (what is left is framing
// and the copy into the ring) for ~25% more CPU in all and similar throughput; for 64 KiB super-packets the copy
// into the ring costs nearly what the kernel's copy does, so the stack's thread saves only ~20% while the process
// spends nearly twice the CPU, and frames/s drop. The inline FifoQdisc stays the default; the worker pays off when
// the stack's thread is the bottleneck (TCP on worker threads funnelling small segments through it). Sending
// without the copy would need the segments built in shared memory in the first place (not done).
//
// In the whole stack (takeOverHostNetwork with qdisc 'inline' vs 'worker', chargen/discard served on one thread, the
// host kernel's bench/c/tcp_bench as client, 1 TCP stream for 4 s, 3 rounds, same VM and day): download 11.1-14.9
// Gbit/s inline vs 9.0-14.4 worker, the stack's thread busy 0.049-0.063 vs 0.043-0.058 CPU-seconds per Gbit (the
// whole process 0.064-0.093 vs 0.075-0.100); upload (egress is ACKs only) 12.4-14.1 vs 10.5-14.0 Gbit/s with the
// stack's thread at 2.2-2.5 vs 1.8 CPU-seconds per 4 s. With GSO a download's egress is a few super-packets per turn,
// so moving the sendmmsg buys the stack's thread ~10% at the cost of more CPU overall.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { closeFd, dupFd, PACKET_MAX_BATCH } from '@tsvisor/native';
import type { PacketBuffer } from '../buffer/packet_buffer.js';
import { SharedFrameRing } from '../buffer/shared_ring.js';
import { logInternalError } from '../stack/internal_error.js';
import type { FdBasedEndpoint } from './fdbased.js';
import type { LinkDispatcher, LinkEndpoint } from './link_endpoint.js';
import { FifoQdisc } from './qdisc.js';
import { newFrameBatchResult, peekedRanges, sendFrameBatch } from './worker_qdisc_send.js';
import { VIRTIO_NET_HDR_SIZE } from './virtio_net_hdr.js';
import {
  ControlSlot, CONTROL_SLOTS, CounterSlot, COUNTER_SLOTS, WorkerState, type WorkerQdiscThreadData,
} from './worker_qdisc_protocol.js';

export interface WorkerQdiscOptions {
  /**
   * Bytes of frames the ring holds (rounded up to a power of two; at least two of the link's largest frames).
   * Default 4 MiB: 64 GSO super-packets of 64 KiB, or about 2,700 frames of 1514 bytes (Linux's txqueuelen of 1000
   * packets, in bytes, for full-size frames).
   */
  ringBytes?: number;
  /** Most frames per sendmmsg on the worker (default 64, at most 256). */
  batchSize?: number;
}

export interface WorkerQdiscStats {
  /** Packets accepted into the ring. */
  queued: number;
  /** Frames sent (by the worker, or on the stack's thread after a fallback). */
  sent: number;
  /** Their bytes (link header included, virtio_net_hdr excluded). */
  sentBytes: number;
  /** Packets refused or lost: ring full, not sendable on the link, send errors, closed. */
  dropped: number;
  /** Of dropped: refused because the ring was full. */
  ringFull: number;
  /** sendmmsg batches. */
  batches: number;
  /** Sends that failed with an errno (their frames are in dropped), and the last errno. */
  errors: number;
  lastErrno: number;
  /** 1 once the worker died and sending moved to the stack's thread. */
  workerFailures: number;
  /** Whether sending runs on the stack's thread (after a worker failure). */
  inThread: boolean;
}

/** The thread script: dist/ when this module runs from src/ (vitest), since Node runs workers from JavaScript. */
function threadScript(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/link/worker_qdisc_thread.js', here) : new URL('./worker_qdisc_thread.js', here);
}

/**
 * The parent's Node flags minus export conditions: under vitest the process runs with `--conditions source`, which
 * would make the thread's `@tsvisor/native` import resolve to TypeScript sources that Node cannot run.
 */
function threadExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--conditions' || a === '-C') { i++; continue; }
    if (a.startsWith('--conditions=') || a.startsWith('-C=')) continue;
    out.push(a);
  }
  return out;
}

/** Atomics.waitAsync (Node 16+, ES2024): typed here because the project's lib is ES2023. */
const atomicsWaitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number, timeout: number):
    { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}).waitAsync;

/** How long close() waits for the worker to finish its batch. */
const CLOSE_WAIT_MS = 500;

export class WorkerQdisc implements LinkEndpoint {
  private readonly ring: SharedFrameRing;
  private readonly control: Int32Array;
  private readonly counters: BigInt64Array;
  private readonly worker: Worker;
  private readonly workerFd: number;
  /** Until the worker's exit event closes workerFd. */
  private workerFdOpen = true;
  private readonly exited: Promise<void>;
  private dispatcher: LinkDispatcher | null = null;
  private closed = false;
  /** Set when the worker died: sending continues here. */
  private fallback: FifoQdisc | null = null;
  private workerError: unknown = null;
  /** lower.stats.txBytes when the fallback began (its sends are counted there). */
  private fallbackBytesBase = 0;
  private local = { queued: 0, dropped: 0, ringFull: 0, drainedSent: 0, drainedBytes: 0, drainedBatches: 0, drainErrors: 0, lastErrno: 0, workerFailures: 0 };
  private readonly batchSize: number;
  private readonly vnetLen: number;

  constructor(readonly lower: FdBasedEndpoint, opts: WorkerQdiscOptions = {}) {
    const script = threadScript();
    if (!existsSync(fileURLToPath(script))) {
      throw Object.assign(
        new Error(`ENOENT: the worker qdisc thread script ${fileURLToPath(script)} is missing; build it with npx tsc -b packages/netstack`),
        { code: 'ENOENT' },
      );
    }
    this.batchSize = Math.max(1, Math.min(opts.batchSize ?? 64, PACKET_MAX_BATCH));
    this.vnetLen = lower.gso ? VIRTIO_NET_HDR_SIZE : 0;
    const largest = lower.maxHeaderLength + (lower.gsoMaxSize > 0 ? lower.gsoMaxSize : lower.mtu);
    // SharedFrameRing.maxFrameSize is half the capacity minus its record header.
    this.ring = SharedFrameRing.create(Math.max(opts.ringBytes ?? 4 << 20, 2 * (largest + 8)));
    this.control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_SLOTS));
    this.counters = new BigInt64Array(new SharedArrayBuffer(8 * COUNTER_SLOTS));
    this.workerFd = dupFd(lower.fd);
    const workerData: WorkerQdiscThreadData = {
      ring: this.ring.sab, control: this.control.buffer as SharedArrayBuffer, counters: this.counters.buffer as SharedArrayBuffer,
      fd: this.workerFd, vnetLen: this.vnetLen, batchSize: this.batchSize,
    };
    try {
      this.worker = new Worker(script, { workerData, execArgv: threadExecArgv(), name: `netstack worker qdisc (fd ${lower.fd})` });
    } catch (e) {
      closeFd(this.workerFd);
      throw e;
    }
    // The link's receive watch is what keeps a serving process alive; an idle sender thread should not.
    this.worker.unref();
    this.worker.on('error', (e) => { this.workerError ??= e; });
    this.exited = new Promise<void>((resolve) => {
      this.worker.once('exit', (code) => {
        this.onWorkerExit(code);
        resolve();
      });
    });
  }

  get mtu(): number { return this.lower.mtu; }
  get maxHeaderLength(): number { return this.lower.maxHeaderLength; }
  get linkAddress(): Uint8Array { return this.lower.linkAddress; }
  get capabilities(): number { return this.lower.capabilities; }
  get gsoMaxSize(): number { return this.lower.gsoMaxSize; }
  get arpHardwareType(): number { return this.lower.arpHardwareType; }
  attach(dispatcher: LinkDispatcher | null): void {
    this.dispatcher = dispatcher;
    if (this.fallback) this.fallback.attach(dispatcher);
    else this.lower.attach(dispatcher);
  }
  isAttached(): boolean { return this.lower.isAttached(); }

  /** The sender thread (its threadId identifies it; terminating it makes the link fall back to the stack's thread). */
  get thread(): Worker { return this.worker; }

  get stats(): WorkerQdiscStats {
    const c = this.counters;
    const l = this.local;
    const f = this.fallback?.stats;
    const workerErrno = Number(Atomics.load(c, CounterSlot.LAST_ERRNO));
    return {
      queued: l.queued + (f ? f.queued : 0),
      sent: Number(Atomics.load(c, CounterSlot.SENT)) + l.drainedSent + (f ? f.sent : 0),
      sentBytes: Number(Atomics.load(c, CounterSlot.SENT_BYTES)) + l.drainedBytes + (f ? this.lower.stats.txBytes - this.fallbackBytesBase : 0),
      dropped: l.dropped + Number(Atomics.load(c, CounterSlot.SEND_DROPPED)) + (f ? f.dropped : 0),
      ringFull: l.ringFull,
      batches: Number(Atomics.load(c, CounterSlot.BATCHES)) + l.drainedBatches + (f ? f.batches : 0),
      errors: Number(Atomics.load(c, CounterSlot.SEND_ERRORS)) + l.drainErrors + (f ? f.errors : 0),
      lastErrno: l.lastErrno || workerErrno,
      workerFailures: l.workerFailures,
      inThread: this.fallback !== null,
    };
  }

  /**
   * Frames each packet and copies it into the ring for the worker; returns how many were accepted from the front
   * of the batch (the rest are dropped and counted: ring full, or a packet this link cannot send). The packets are
   * not kept, so borrowed ones need no retain().
   */
  writePackets(batch: PacketBuffer[]): number {
    if (this.closed) return 0;
    if (this.fallback) return this.fallback.writePackets(batch);
    const l = this.local;
    const ring = this.ring;
    let n = 0;
    for (; n < batch.length; n++) {
      const pkt = batch[n];
      // The same headers FdBasedEndpoint.writePackets writes; false (counted there as txOversized) if unsendable.
      if (!this.lower.prepareFrame(pkt)) break;
      if (pkt.tail - pkt.head > ring.maxFrameSize || !ring.tryWrite(pkt.buf, pkt.head, pkt.tail)) {
        l.ringFull++;
        break;
      }
    }
    l.queued += n;
    l.dropped += batch.length - n;
    return n;
  }

  /** Bytes of frames waiting in the ring for the worker (records and padding included): for backpressure. */
  get backlogBytes(): number { return this.ring.used; }

  /** The ring's size in bytes. */
  get ringBytes(): number { return this.ring.capacity; }

  /**
   * Resolves once at most `bytes` are waiting in the ring (or the qdisc closed, or sending moved to this thread),
   * without blocking the thread: for a producer that would rather wait than have packets dropped, as TCP waits for
   * its window. Wakes on the worker's notification after each batch (Atomics.waitAsync).
   */
  async whenBacklogBelow(bytes: number): Promise<void> {
    const ctl = this.control;
    while (!this.closed && this.fallback === null && this.ring.used > bytes) {
      const seen = Atomics.load(ctl, ControlSlot.RELEASES);
      if (this.ring.used <= bytes) return;
      // Bounded, so a worker that died without notifying is noticed (its exit event switches to the fallback).
      const w = atomicsWaitAsync(ctl, ControlSlot.RELEASES, seen, 50);
      if (w.async) await w.value;
    }
  }

  /** Resolves when the worker thread has exited (after close(), or after it died). */
  whenClosed(): Promise<void> {
    return this.exited;
  }

  /**
   * Stops the worker after the batch it is sending (what is still queued is discarded, as FifoQdisc.close does),
   * waits for it to stop sending, then closes the link. Idempotent. The thread exits right after, and its socket
   * descriptor is closed then; whenClosed() resolves after that.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const ctl = this.control;
    Atomics.store(ctl, ControlSlot.STOP, 1);
    this.ring.close();
    if (this.fallback === null) {
      // Before the thread started: it will find STOPPED and exit without sending anything.
      const prior = Atomics.compareExchange(ctl, ControlSlot.STATE, WorkerState.STARTING, WorkerState.STOPPED);
      if (prior !== WorkerState.STARTING) {
        // Bounded: the worker checks STOP between batches, and a batch is one sendmmsg.
        const deadline = Date.now() + CLOSE_WAIT_MS;
        while (Atomics.load(ctl, ControlSlot.STATE) !== WorkerState.STOPPED) {
          const left = deadline - Date.now();
          if (left <= 0) break;
          Atomics.wait(ctl, ControlSlot.STATE, WorkerState.RUNNING, left);
        }
      }
      void this.worker.terminate();
    }
    if (this.fallback) this.fallback.close();
    else this.lower.close();
  }

  private onWorkerExit(code: number): void {
    // The thread is gone, however it ended (stopped, threw, terminated, failed to load): no send can be using its
    // descriptor any more, so it is closed here, the one place that does.
    Atomics.store(this.control, ControlSlot.STATE, WorkerState.STOPPED);
    if (this.workerFdOpen) {
      this.workerFdOpen = false;
      try { closeFd(this.workerFd); } catch { /* nothing more to release */ }
    }
    if (this.closed) return;
    // This runs from the worker's exit event: nothing here may throw (it would be an uncaught exception), and the
    // fallback is in place before anything else, so writes never go on into a ring nobody reads.
    this.local.workerFailures++;
    this.fallbackBytesBase = this.lower.stats.txBytes;
    const fallback = new FifoQdisc(this.lower, { batchSize: this.batchSize });
    this.fallback = fallback;
    let dropped = 0;
    try {
      if (this.dispatcher) fallback.attach(this.dispatcher);
      dropped = this.drainRing();
    } catch (e) {
      logInternalError('transmit', 'worker qdisc (sending what the dead worker left)', e);
    }
    const cause = this.workerError;
    const err = Object.assign(
      new Error(`EWORKERQDISC: the worker qdisc thread of fd ${this.lower.fd} exited (code ${code})`
        + `${cause ? `: ${cause instanceof Error ? cause.message : String(cause)}` : ''}; sending on the stack's thread from now on`, { cause }),
      { code: 'EWORKERQDISC' },
    );
    try {
      if (this.dispatcher?.transmitFailed) this.dispatcher.transmitFailed(err, dropped);
      else logInternalError('transmit', 'worker qdisc', err);
    } catch (e) {
      logInternalError('transmit', 'worker qdisc (reporting its failure)', e);
    }
  }

  /** Sends what the dead worker left in the ring from this thread; returns how many frames could not be sent. */
  private drainRing(): number {
    const ring = this.ring;
    const l = this.local;
    const info = new Int32Array(3 * this.batchSize);
    const ranges = new Int32Array(2 * this.batchSize);
    const bufs = new Array<Uint8Array>(this.batchSize).fill(ring.data);
    const result = newFrameBatchResult();
    let dropped = 0;
    for (;;) {
      const n = ring.peekBatch(this.batchSize, info);
      if (n === 0) break;
      peekedRanges(info, n, ranges);
      const r = sendFrameBatch(this.lower.fd, bufs, ranges, n, this.vnetLen, result);
      ring.release();
      l.drainedBatches++;
      l.drainedSent += r.sent;
      l.drainedBytes += r.bytes;
      l.drainErrors += r.errors;
      if (r.lastErrno !== 0) l.lastErrno = r.lastErrno;
      l.dropped += r.dropped;
      dropped += r.dropped;
    }
    return dropped;
  }
}

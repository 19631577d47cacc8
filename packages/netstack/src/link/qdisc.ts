// A FIFO queueing discipline in front of a link: writes from anywhere in a turn of the event loop are queued and
// handed to the link in batches of up to `batchSize` at the end of the turn, so a burst of small writes (TCP
// segments, ACKs) becomes one sendmmsg. Modelled on netstack's qdisc/fifo, which does the same on a goroutine.
//
// Runs in the thread that writes, not on a worker. Measured on the shared 2-core VM (link/fdbased_bench.test.ts,
// TSVISOR_LONG=1, 1514-byte frames across a veth, several runs under load from other work): in-thread sendmmsg
// batches cost 5.3-7.1 µs of process CPU per frame (kernel send path included), while copying each frame into a
// SharedFrameRing for a worker that sends batches from shared memory cost 6.7-8.3 µs per frame. Frames per
// second were within noise of each other (the worker sometimes ahead by using the second core, which the stack
// needs for itself). With TCP GSO, a write carries up to 64 KiB, so the syscalls a worker could hide are few.

import type { PacketBuffer } from '../buffer/packet_buffer.js';
import { logInternalError } from '../stack/internal_error.js';
import type { LinkDispatcher, LinkEndpoint } from './link_endpoint.js';

export interface QdiscOptions {
  /** Most packets queued; writes beyond it are refused (counted in stats.dropped). Default 1000 (Linux txqueuelen). */
  limit?: number;
  /** Most packets handed to the link per writePackets call. Default 64. */
  batchSize?: number;
}

export class FifoQdisc implements LinkEndpoint {
  /** errors: flushes that ended in an exception from the link (their packets are in dropped too). */
  readonly stats = { queued: 0, sent: 0, dropped: 0, batches: 0, errors: 0 };
  private dispatcher: LinkDispatcher | null = null;
  private queue: PacketBuffer[] = [];
  private batch: PacketBuffer[] = [];
  private scheduled = false;
  private closed = false;
  private readonly limit: number;
  private readonly batchSize: number;
  private readonly flushBound = (): void => this.flush();

  constructor(readonly lower: LinkEndpoint, opts: QdiscOptions = {}) {
    this.limit = opts.limit ?? 1000;
    this.batchSize = opts.batchSize ?? 64;
  }

  get mtu(): number { return this.lower.mtu; }
  get maxHeaderLength(): number { return this.lower.maxHeaderLength; }
  get linkAddress(): Uint8Array { return this.lower.linkAddress; }
  get capabilities(): number { return this.lower.capabilities; }
  get gsoMaxSize(): number { return this.lower.gsoMaxSize; }
  get arpHardwareType(): number { return this.lower.arpHardwareType; }
  attach(dispatcher: LinkDispatcher | null): void {
    this.dispatcher = dispatcher;
    this.lower.attach(dispatcher);
  }
  isAttached(): boolean { return this.lower.isAttached(); }

  writePackets(batch: PacketBuffer[]): number {
    if (this.closed) return 0;
    let n = 0;
    // A borrowed packet (straight from a receive ring, e.g. one being forwarded) would be overwritten by the next
    // receive batch before the flush: keep a copy of it instead.
    for (; n < batch.length && this.queue.length < this.limit; n++) this.queue.push(batch[n].retain());
    this.stats.queued += n;
    this.stats.dropped += batch.length - n;
    if (n > 0 && !this.scheduled) {
      this.scheduled = true;
      // queueMicrotask: after the current JavaScript job (one receive batch, one syscall) but before any I/O,
      // so batching adds no latency beyond the work already in progress.
      queueMicrotask(this.flushBound);
    }
    return n;
  }

  /**
   * Hands everything queued to the link now. Runs from a microtask, where an exception would have no caller but
   * the process: if the link throws, what was left is dropped and the attached stack counts and logs it
   * (LinkDispatcher.transmitFailed); the queue is empty afterwards either way.
   */
  flush(): void {
    this.scheduled = false;
    const q = this.queue;
    let i = 0;
    try {
      while (i < q.length && !this.closed) {
        const batch = this.batch;
        const end = Math.min(q.length, i + this.batchSize);
        for (let j = i; j < end; j++) batch.push(q[j]);
        const sent = this.lower.writePackets(batch);
        batch.length = 0;
        this.stats.batches++;
        this.stats.sent += sent;
        // A short write means the link is full; what is left is dropped, as a full device queue drops.
        if (sent < end - i) { this.stats.dropped += q.length - i - sent; i = q.length; break; }
        i = end;
      }
    } catch (e) {
      // The link threw inside writePackets: how much of that batch it sent first is unknown, so all of it counts
      // as dropped along with the rest of the queue.
      const dropped = q.length - i;
      this.batch.length = 0;
      this.stats.errors++;
      this.stats.dropped += dropped;
      try {
        if (this.dispatcher?.transmitFailed) this.dispatcher.transmitFailed(e, dropped);
        else logInternalError('transmit', 'qdisc flush (no stack attached)', e);
      } catch (reportError) {
        // Reporting failed too (the embedder's logger threw): still nothing may leave this microtask.
        logInternalError('transmit', 'qdisc flush (reporting its failure)', reportError);
      }
    } finally {
      q.length = 0;
    }
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.lower.close();
  }
}

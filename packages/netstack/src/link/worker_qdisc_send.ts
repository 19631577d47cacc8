// Sending one batch of complete frames out of a SharedFrameRing's memory with sendmmsg, for both halves of
// WorkerQdisc: the sender thread (worker_qdisc_thread.ts) and the stack's thread when it sends what a dead worker
// left in the ring (worker_qdisc.ts). One implementation, so both treat a frame the kernel refuses the same way.

import { packetSendBatch } from '@tsvisor/native';

/** What one sendFrameBatch call did; the caller adds it to its own counters. */
export interface FrameBatchResult {
  /** Frames the kernel accepted. */
  sent: number;
  /** Their bytes, link header included, virtio_net_hdr excluded (as FdBasedEndpoint's txBytes). */
  bytes: number;
  /** Failed send calls or refused frames (their frames are in dropped). */
  errors: number;
  dropped: number;
  /** errno of the last failed call, 0 if none. */
  lastErrno: number;
}

export function newFrameBatchResult(): FrameBatchResult {
  return { sent: 0, bytes: 0, errors: 0, dropped: 0, lastErrno: 0 };
}

/** Turns SharedFrameRing.peekBatch's (offset, length, meta) triples into [start, end) ranges of ring.data. */
export function peekedRanges(info: Int32Array, n: number, ranges: Int32Array): void {
  for (let i = 0; i < n; i++) {
    ranges[2 * i] = info[3 * i];
    ranges[2 * i + 1] = info[3 * i] + info[3 * i + 1];
  }
}

/**
 * Sends the `n` frames `ranges` names (in `bufs`, each entry the ring's data) on `fd`, in order. A frame the
 * kernel refuses after others went out costs that frame only (sendmmsg(2) RETURN VALUE: the count of those
 * before it); an error on the first frame of a call drops the rest of the batch, as a device queue that cannot
 * transmit drops (ENETDOWN/ENXIO once the device is gone, ENOBUFS under pressure). TCP retransmits.
 */
export function sendFrameBatch(
  fd: number, bufs: Uint8Array[], ranges: Int32Array, n: number, vnetLen: number, out: FrameBatchResult,
): FrameBatchResult {
  out.sent = 0;
  out.bytes = 0;
  out.errors = 0;
  out.dropped = 0;
  out.lastErrno = 0;
  let off = 0;
  while (off < n) {
    const r = packetSendBatch(fd, bufs, off === 0 ? ranges : ranges.subarray(2 * off), n - off);
    if (r < 0) {
      out.errors++;
      out.dropped += n - off;
      out.lastErrno = -r;
      break;
    }
    for (let i = off; i < off + r; i++) out.bytes += ranges[2 * i + 1] - ranges[2 * i] - vnetLen;
    out.sent += r;
    off += r;
    if (off < n) {
      // Frame `off` failed after the ones before it went out: skip it; the next call reports the error if it
      // persists.
      out.errors++;
      out.dropped++;
      off++;
    }
  }
  return out;
}

// The shared-memory contract between WorkerQdisc (worker_qdisc.ts, the stack's thread) and its sender thread
// (worker_qdisc_thread.ts). Imports nothing, so the worker loads only what it needs.

/** Int32 slots of the control block. */
export const ControlSlot = {
  /** WorkerState; see worker_qdisc_thread.ts for the transitions. */
  STATE: 0,
  /** Non-zero: stop after the current batch (set by close()). */
  STOP: 1,
  /** Batches the worker has released from the ring (wrapping); notified after each, for whenBacklogBelow(). */
  RELEASES: 2,
} as const;
export const CONTROL_SLOTS = 4;

export const WorkerState = {
  STARTING: 0,
  RUNNING: 1,
  /** The thread sends nothing more (or close() came before it started); its fd is closed at its exit event. */
  STOPPED: 2,
} as const;

/** BigInt64 counter slots, written only by the sender thread. */
export const CounterSlot = {
  /** Frames sendmmsg accepted. */
  SENT: 0,
  /** Their bytes, link header included, virtio_net_hdr excluded (as FdBasedEndpoint's txBytes). */
  SENT_BYTES: 1,
  /** sendmmsg calls' worth of batches taken from the ring. */
  BATCHES: 2,
  /** Send calls that failed (frames dropped by them are in SEND_DROPPED). */
  SEND_ERRORS: 3,
  SEND_DROPPED: 4,
  /** errno of the last failed send. */
  LAST_ERRNO: 5,
} as const;
export const COUNTER_SLOTS = 8;

/** workerData of the sender thread. */
export interface WorkerQdiscThreadData {
  /** SharedFrameRing.sab: complete frames as the socket takes them. */
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  /** The thread's own duplicate of the endpoint's AF_PACKET socket (the stack's thread closes it after the exit). */
  fd: number;
  /** Length of the virtio_net_hdr prefix on each frame (0 without PACKET_VNET_HDR), for byte counts. */
  vnetLen: number;
  /** Most frames per sendmmsg. */
  batchSize: number;
}

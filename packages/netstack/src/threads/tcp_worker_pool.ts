// The stack thread's side of the TCP worker threads (design.md "Netstack": threading; the contract is wire.ts):
// spawns N workers running threads/tcp_worker.js, owns the two SharedFrameRings and the control reply block of
// each, sends them routing snapshots, and drains what they send back on the stack thread:
//   FRAME       a TCP segment a worker's connection sends: copied into a PacketBuffer and written through the
//               stack's route (the stack thread owns links, neighbours and IP, so every frame leaves from here);
//   DATA, STATE, SEND_CREDIT, ACCEPTED
//               per-endpoint records, handed to the RemoteTcpEndpoint registered under (worker, endpoint id).
// Records for a worker's endpoints (WRITE, CONSUMED, and control requests sent without waiting) keep their order
// (to_worker_writer.ts): when TO_WORKER is full they wait in a per-worker queue retried on every drain and on a
// short timer; received segments are dropped instead (TCP retransmits) and counted. Writes of one event-loop turn
// are gathered per endpoint into records of up to 64 KiB.
//
// Cost notes (measured on the 2-core VM, Node 20): V8 copies into or out of a SharedArrayBuffer word by word only
// when source and destination have the same alignment modulo 8, else byte by byte (5-6x slower), so every copy
// here keeps them equal; and an Atomics.notify that must wake a consumer parked in Atomics.waitAsync costs
// microseconds, paid per record while the other side is idle.
//
// Worker script: Node runs the compiled dist/threads/tcp_worker.js. Under vitest this file is src/threads/*.ts, and
// a worker thread cannot load TypeScript, so the pool then starts ../../dist/threads/tcp_worker.js: run
// `npx tsc -b packages/netstack` before tests that spawn workers (`make test` builds first).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PacketBuffer, type GsoTypeValue } from '../buffer/packet_buffer.js';
import { SharedFrameRing } from '../buffer/shared_ring.js';
import { LinkCapability } from '../link/link_endpoint.js';
import { IPV4_ANY, type Address } from '../stack/address.js';
import type { NetworkWriteParams, Route } from '../stack/route.js';
import type { Stack } from '../stack/stack.js';
import { TcpipError, TcpipErrors } from '../stack/tcpip_error.js';
import type { NetworkReceiveInfo, TransportErrorInfo } from '../stack/transport_protocol.js';
import type { TcpSettings } from '../transport/tcp/protocol.js';
import { ToWorkerWriter } from './to_worker_writer.js';
import {
  ACCEPTED_RECORD,
  CONTROL_HEADER,
  ENDPOINT_HEADER,
  FRAME_HEADER,
  FrameFlags,
  ICMP_ERROR_HEADER,
  REPLY_CAPACITY,
  REPLY_CONTROL_BYTES,
  REPLY_EXITED,
  REPLY_HEARTBEAT,
  REPLY_LENGTH,
  REPLY_SEQ,
  SEGMENT_HEADER,
  STATE_RECORD,
  SegmentFlags,
  ToStack,
  ToWorker,
  TRANSPORT_ERROR_KINDS,
  WORKER_ID_BASE,
  decodeJson,
  encodeIcmpError,
  encodeJson,
  errorAt,
  flowHash,
  readAcceptedRecord,
  readFrameHeader,
  writeSegmentHeader,
  type ControlReply,
  type ControlRequest,
  type FrameFields,
  type RouteSnapshot,
  type TcpWorkerData,
} from './wire.js';

/** What the pool hands a worker's per-endpoint records to (RemoteTcpEndpoint implements it). */
export interface WorkerEndpointSink {
  /** DATA: bytes[offset, offset + length) is shared memory valid only during the call (copy to keep). */
  onData(bytes: Uint8Array, offset: number, length: number): void;
  /** STATE: EndpointStateBits and the newly reported asynchronous error (undefined: none). */
  onState(bits: number, error: TcpipError | undefined): void;
  onSendCredit(bytes: number): void;
  /** ACCEPTED on a listener: the new endpoint `id` on `worker`. False: the listener no longer takes connections. */
  onAccepted(worker: number, id: number, family: 4 | 6, peer: Address, peerPort: number, local: Address, localPort: number): boolean;
  /** The worker died or the pool closed: the endpoint's worker side is gone. */
  onWorkerGone(worker: number, error: TcpipError | undefined): void;
}

export interface TcpWorkerPoolOptions {
  /** Worker threads (at least 1). */
  workers: number;
  /** TCP settings every worker's TcpProtocol uses. */
  tcp?: Partial<TcpSettings>;
  /** Data bytes of each ring (each direction, per worker). Default 4 MiB. */
  ringBytes?: number;
  /** Per-endpoint credits (wire.ts "Byte streams"). Defaults 256 KiB each. */
  sendCredit?: number;
  receiveCredit?: number;
  /** The worker entry script; default: tcp_worker.js next to this file (dist/ when running from src/). */
  workerScript?: URL;
  /** Longest a synchronous control call waits for a worker's reply before the worker is declared dead. */
  controlTimeoutMs?: number;
}

const logged = new Set<string>();
/** Logs a worker problem on stderr once per distinct message (a misbehaving worker must not flood the log). */
function logOnce(message: string, err: unknown): void {
  const text = `netstack: ${message}: ${err instanceof Error ? err.message : String(err)}`;
  if (logged.has(text) || logged.size > 256) return;
  logged.add(text);
  process.stderr.write(`${text}\n`);
}

/** Atomics.waitAsync (Node 16+, ES2024): typed here because the project's lib is ES2023. */
const atomicsWaitAsync = (Atomics as unknown as {
  waitAsync(ta: Int32Array, index: number, value: number, timeout: number):
    { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

export const DEFAULT_RING_BYTES = 4 << 20;
export const MIN_RING_BYTES = 256 << 10;
export const DEFAULT_CREDIT = 256 << 10;
const DEFAULT_CONTROL_TIMEOUT_MS = 5000;
/** Records handled per drain pass before the stack thread yields to its other I/O (the links). */
const DRAIN_BATCH = 512;
/** Idle wait per ring; only bounds how long a closed-pool check may lag. */
const IDLE_WAIT_MS = 1000;
const ROUTE_CACHE_LIMIT = 4096;
/** How often the routing snapshot is compared with the stack's (TcpWorkerPool.syncRoutes). */
const ROUTE_SYNC_MS = 200;

/** Counters of the stack thread's side of the pool. */
export interface TcpWorkerPoolStats {
  segmentsForwarded: number;
  /** Received segments dropped because a worker's TO_WORKER ring was full (or the worker dead). */
  segmentsDropped: number;
  icmpErrorsForwarded: number;
  framesSent: number;
  /** Frames a worker sent that found no route, or that the route refused. */
  framesDropped: number;
  /** Records that waited in an overflow queue because TO_WORKER was full. */
  recordsDeferred: number;
  workersDied: number;
}

/** The entry script: next to this module in dist/, or dist/threads/ when this module runs from src/ (vitest). */
export function defaultWorkerScript(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('../../dist/threads/tcp_worker.js', import.meta.url)
    : new URL('./tcp_worker.js', import.meta.url);
}

/** Receive chunks recycled (DATA records carry at most 64 KiB); at most FREE_CHUNKS_MAX kept (4 MiB). */
const DATA_CHUNK_BYTES = 64 * 1024;
const FREE_CHUNKS_MAX = 64;

class WorkerLink {
  readonly toWorker: SharedFrameRing;
  readonly toStack: SharedFrameRing;
  readonly replySab: SharedArrayBuffer;
  readonly reply: Int32Array;
  readonly replyBytes: Uint8Array;
  readonly inView: DataView;
  worker: Worker | undefined;
  dead = false;
  exited: Promise<void>;
  readonly endpoints = new Map<number, WorkerEndpointSink>();
  /** Every record into toWorker but SEGMENT and ICMP_ERROR (those are dropped when it is full). */
  readonly out: ToWorkerWriter;
  requestSeq = 0;
  /** The worker's heartbeat (wire.ts REPLY_HEARTBEAT) as last seen, and when it last moved. */
  lastBeat = 0;
  lastBeatAt = Date.now();

  constructor(readonly index: number, ringBytes: number, onQueued: () => void) {
    this.toWorker = SharedFrameRing.create(ringBytes);
    this.out = new ToWorkerWriter(this.toWorker, onQueued);
    this.toStack = SharedFrameRing.create(ringBytes);
    this.replySab = new SharedArrayBuffer(REPLY_CONTROL_BYTES + REPLY_CAPACITY);
    this.reply = new Int32Array(this.replySab, 0, REPLY_CONTROL_BYTES / 4);
    this.replyBytes = new Uint8Array(this.replySab, REPLY_CONTROL_BYTES, REPLY_CAPACITY);
    const d = this.toStack.data;
    this.inView = new DataView(d.buffer, d.byteOffset, d.byteLength);
    this.exited = Promise.resolve();
  }
}

export class TcpWorkerPool {
  readonly workerCount: number;
  readonly sendCredit: number;
  readonly receiveCredit: number;
  readonly stats: TcpWorkerPoolStats = {
    segmentsForwarded: 0, segmentsDropped: 0, icmpErrorsForwarded: 0, framesSent: 0, framesDropped: 0,
    recordsDeferred: 0, workersDied: 0,
  };
  /**
   * Resolves once every worker answered its first request (or after a minute). Not needed for correctness: the first control call simply
   * blocks until its worker answers (a thread takes 100-300 ms to load its modules). Benchmarks and embedders
   * that must not block the stack thread at startup await it first.
   */
  readonly ready: Promise<void>;
  private readonly links: WorkerLink[] = [];
  /** Indexes of the workers not dead (workerFor's fallback). */
  private aliveWorkers: number[] = [];
  private readonly controlTimeoutMs: number;
  private nextId = 1;
  private closed = false;
  private lastSnapshot = '';
  private routeCache = new Map<number, Map<Address, Map<Address, Route>>>();
  private routeCacheSize = 0;
  private overflowTimer: NodeJS.Timeout | undefined;
  private writesScheduled = false;
  private readonly freeChunks: ArrayBuffer[] = [];
  private routeTimer: NodeJS.Timeout | undefined;
  /** Scratch for SEGMENT records assembled before the ring copies them (header + payload must be contiguous). */
  private scratch = new Uint8Array(64 * 1024 + 256);
  /** The FRAME header being sent (sendFrame reads each into this one). */
  private readonly frame: FrameFields = {
    family: 4, flags: 0, ttl: 0, tos: 0, nic: 0, local: IPV4_ANY, remote: IPV4_ANY, gsoType: 0, gsoSize: 0,
  };
  /** The packet bytes a SEGMENT header temporarily replaces (forwardSegment). */
  private readonly savedFront = new Uint8Array(SEGMENT_HEADER);

  constructor(
    readonly stack: Stack,
    opts: TcpWorkerPoolOptions,
  ) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1 || opts.workers > 64) {
      throw new RangeError(`EINVAL: TCP workers must be an integer in 1..64, got ${opts.workers}`);
    }
    this.workerCount = opts.workers;
    this.sendCredit = opts.sendCredit ?? DEFAULT_CREDIT;
    this.receiveCredit = opts.receiveCredit ?? DEFAULT_CREDIT;
    this.controlTimeoutMs = opts.controlTimeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
    const ringBytes = opts.ringBytes ?? DEFAULT_RING_BYTES;
    // A ring must hold the largest record either side writes: a 64 KiB GSO segment or WRITE/DATA chunk plus its
    // header takes half of a 256 KiB ring's largest frame.
    if (!Number.isInteger(ringBytes) || ringBytes < MIN_RING_BYTES || ringBytes > 1 << 30) {
      throw new RangeError(`EINVAL: TCP worker rings need ${MIN_RING_BYTES}..${1 << 30} bytes, got ${ringBytes}`);
    }
    const script = opts.workerScript ?? defaultWorkerScript();
    // A missing script surfaces as the Worker's 'error' event, which the stack thread sees only between its own
    // tasks: its first control call would block for the whole timeout first and report a hung worker instead.
    if (script.protocol === 'file:' && !existsSync(fileURLToPath(script))) {
      throw new Error(`ENOENT: TCP worker script ${fileURLToPath(script)} does not exist (build the package: npx tsc -b packages/netstack)`);
    }
    const routes = this.snapshot();
    this.lastSnapshot = JSON.stringify(routes);
    const online: Promise<void>[] = [];
    for (let i = 0; i < this.workerCount; i++) {
      const link = new WorkerLink(i, ringBytes, this.recordQueued);
      const data: TcpWorkerData = {
        index: i,
        workers: this.workerCount,
        toWorker: link.toWorker.sab,
        toStack: link.toStack.sab,
        reply: link.replySab,
        routes,
        tcp: { ...(opts.tcp ?? {}) } as Record<string, unknown>,
        sendCredit: this.sendCredit,
        receiveCredit: this.receiveCredit,
      };
      const worker = new Worker(script, { workerData: data, name: `netstack-tcp-${i}` });
      link.worker = worker;
      link.exited = new Promise((resolve) => worker.once('exit', () => resolve()));

      worker.on('error', (e) => this.workerFailed(link, e));
      worker.on('exit', (code) => {
        if (!this.closed) this.workerFailed(link, new Error(`exited with code ${code}`));
      });
      this.links.push(link);
      this.aliveWorkers.push(i);
      void this.drainLoop(link);
    }
    // A worker is ready once it answers a request (its event loop runs the core): ask each for its statistics and
    // wait for the reply without blocking this thread.
    for (const l of this.links) {
      this.controlAsync(l.index, { op: 'stats' });
      const r = atomicsWaitAsync(l.reply, REPLY_SEQ, 0, 60_000);
      online.push(r.async ? r.value.then(() => undefined) : Promise.resolve());
    }
    this.ready = Promise.all(online).then(() => undefined);
    // Addresses and routes change without telling transports (NICs add link-local addresses themselves), so a
    // periodic comparison keeps the workers' snapshot current; listen() and connect() also check before they act.
    // The comparison costs microseconds for a few NICs.
    // The same timer watches the workers' heartbeats (first: a hung worker must not block a snapshot's write).
    this.routeTimer = setInterval(() => {
      this.checkHeartbeats();
      this.syncRoutes();
    }, ROUTE_SYNC_MS);
    this.routeTimer.unref();
  }

  // ---- endpoint ids and the endpoint table

  /** A new stack-allocated endpoint id (below WORKER_ID_BASE; never reused while the pool lives). */
  allocateId(): number {
    const id = this.nextId++;
    if (this.nextId >= WORKER_ID_BASE) this.nextId = 1;
    return id;
  }

  register(worker: number, id: number, ep: WorkerEndpointSink): void {
    this.links[worker]?.endpoints.set(id, ep);
  }

  unregister(worker: number, id: number, ep: WorkerEndpointSink): void {
    const l = this.links[worker];
    if (l && l.endpoints.get(id) === ep) l.endpoints.delete(id);
  }

  /** Memory each worker's overflow queue holds (records waiting for room in TO_WORKER), for diagnostics. */
  overflowMemory(): number[] {
    return this.links.map((l) => l.out.queuedMemory);
  }

  /** Endpoints each worker's table holds (diagnostics: closed connections leave it once RELEASED). */
  endpointCounts(): number[] {
    return this.links.map((l) => l.endpoints.size);
  }

  isWorkerAlive(worker: number): boolean {
    const l = this.links[worker];
    return l !== undefined && !l.dead && !this.closed;
  }

  /**
   * The worker that owns the flow (remote is the peer; wire.ts "Flow sharding"): flowHash % workers, or, when that
   * worker died, one of the live workers by the same hash. A dead worker's share of flows then goes on being served
   * (every live worker holds a copy of every listener; a segment of a connection that died with its worker meets a
   * worker that answers with RST), while every flow of a live worker keeps its worker. Without this, the dead
   * worker's share of new connections, incoming and outgoing, would fail for the rest of the pool's life.
   */
  workerFor(remote: Address, remotePort: number, local: Address, localPort: number): number {
    return this.workerForHash(flowHash(remote, remotePort, local, localPort));
  }

  private workerForHash(h: number): number {
    const w = h % this.workerCount;
    if (!this.links[w]!.dead) return w;
    const alive = this.aliveWorkers;
    return alive.length > 0 ? alive[h % alive.length]! : w;
  }

  // ---- synchronous control

  /**
   * Sends `req` to `worker` and blocks the stack thread until it answers (wire.ts "synchronous control"). A dead
   * worker, a closed pool, or a worker that does not answer within the timeout answers ConnectionAborted.
   */
  control(worker: number, req: ControlRequest): ControlReply {
    const l = this.links[worker];
    if (!l || l.dead || this.closed) return { ok: false, error: 'ConnectionAborted' };
    const rec = this.controlRecord(l, req);
    const id = l.requestSeq;
    if (rec.length > l.toWorker.maxFrameSize) return { ok: false, error: TcpipErrors.noBufferSpace.code };
    // Records queued before this request reach the worker first (a close follows the writes before it).
    const deadline = Date.now() + this.controlTimeoutMs;
    if (!l.out.writeBlocking(ToWorker.CONTROL, rec, deadline)) return this.timedOut(l, `control request '${req.op}'`);
    for (;;) {
      const seen = Atomics.load(l.reply, REPLY_SEQ);
      if (seen === id) break;
      if (Atomics.load(l.reply, REPLY_EXITED) !== 0) {
        this.workerFailed(l, new Error(`the thread exited during control request '${req.op}'`));
        return { ok: false, error: 'ConnectionAborted' };
      }
      const left = deadline - Date.now();
      if (left <= 0) return this.timedOut(l, `control request '${req.op}'`);
      Atomics.wait(l.reply, REPLY_SEQ, seen, left);
    }
    const len = Atomics.load(l.reply, REPLY_LENGTH);
    if (len < 0 || len > REPLY_CAPACITY) return { ok: false, error: 'InvalidEndpointState' };
    try {
      return decodeJson<ControlReply>(l.replyBytes.slice(0, len));
    } catch (e) {
      logOnce(`TCP worker ${l.index}: unreadable control reply to ${req.op}`, e);
      return { ok: false, error: 'InvalidEndpointState' };
    }
  }

  /**
   * Sends `req` without waiting for the answer, in order with the WRITE and CONSUMED records before it (for
   * operations whose result the caller does not need: close, abort, ...). The worker answers every request in
   * order, so a later synchronous control() simply waits past the replies to these.
   */
  controlAsync(worker: number, req: ControlRequest): void {
    const l = this.links[worker];
    if (!l || l.dead || this.closed) return;
    const rec = this.controlRecord(l, req);
    if (rec.length > l.toWorker.maxFrameSize) {
      logOnce(`TCP worker ${l.index}: control request '${req.op}' not sent`, new RangeError(`${rec.length} bytes exceed the ring's records`));
      return;
    }
    l.out.write(ToWorker.CONTROL, rec);
  }

  private controlRecord(l: WorkerLink, req: ControlRequest): Uint8Array {
    let id = (l.requestSeq + 1) | 0;
    if (id === 0) id = 1;
    l.requestSeq = id;
    const body = encodeJson(req);
    const rec = new Uint8Array(CONTROL_HEADER + body.length);
    new DataView(rec.buffer).setUint32(0, id >>> 0, true);
    rec.set(body, CONTROL_HEADER);
    return rec;
  }

  /** A worker that did not take or answer `what` within the control timeout is declared dead (hung or stuck). */
  private timedOut(l: WorkerLink, what: string): ControlReply {
    this.workerFailed(l, new Error(`no answer to ${what} within ${this.controlTimeoutMs} ms`));
    return { ok: false, error: 'ConnectionAborted' };
  }

  // ---- receive chunks

  /**
   * A copy of a DATA record's bytes for an endpoint's receive queue, in a recycled 64 KiB buffer when it fits (the
   * copy out of shared memory is then a plain aligned set, without allocating and zeroing a new array each time).
   */
  copyDataChunk(bytes: Uint8Array, offset: number, length: number): Uint8Array {
    const ab = length <= DATA_CHUNK_BYTES ? (this.freeChunks.pop() ?? new ArrayBuffer(DATA_CHUNK_BYTES)) : new ArrayBuffer(length);
    const c = new Uint8Array(ab, 0, length);
    c.set(bytes.subarray(offset, offset + length));
    return c;
  }

  /**
   * Appends a DATA record's bytes to `tail` (the last chunk of an endpoint's receive queue) in the room left in its
   * 64 KiB buffer, returning the longer view, or undefined when it does not fit (the caller then takes a new chunk
   * from copyDataChunk). Without this, every record took a chunk of its own: a peer trickling one-byte segments at
   * an application that does not read made each byte of receive credit hold 64 KiB (16 GiB per connection at the
   * default credit). With it, a chunk is left behind only when the next record does not fit in it, or (to keep
   * large copies aligned, see forwardSegment) when a record of half a chunk or more would be copied misaligned;
   * either way a chunk and its successor hold more than 32 KiB, so a queue's chunks take at most 4 times its bytes
   * plus two chunks.
   */
  appendToDataChunk(tail: Uint8Array, bytes: Uint8Array, offset: number, length: number): Uint8Array | undefined {
    if (tail.buffer.byteLength !== DATA_CHUNK_BYTES) return undefined;
    const end = tail.byteOffset + tail.length;
    if (end + length > DATA_CHUNK_BYTES) return undefined;
    if (length >= DATA_CHUNK_BYTES / 2 && ((end - bytes.byteOffset - offset) & 7) !== 0) return undefined;
    const grown = new Uint8Array(tail.buffer, tail.byteOffset, tail.length + length);
    grown.set(bytes.subarray(offset, offset + length), tail.length);
    return grown;
  }

  /** Gives a chunk of copyDataChunk back once the application read all of it. */
  returnDataChunk(c: Uint8Array): void {
    if (c.buffer.byteLength === DATA_CHUNK_BYTES && this.freeChunks.length < FREE_CHUNKS_MAX) this.freeChunks.push(c.buffer as ArrayBuffer);
  }

  // ---- ordered endpoint records (WRITE, CONSUMED): to_worker_writer.ts

  /**
   * WRITE: src[start, end) for endpoint `id` with WriteFlags. Writes of one turn of the event loop are gathered per
   * endpoint (ToWorkerWriter.gather) and sent when the turn's microtasks run, or before any other record for the
   * worker.
   */
  postWrite(worker: number, id: number, flags: number, src: Uint8Array, start = 0, end = src.length): void {
    const l = this.links[worker];
    if (!l || l.dead || this.closed) return;
    l.out.gather(id, flags, src, start, end);
    if (!this.writesScheduled) {
      this.writesScheduled = true;
      queueMicrotask(this.sendWritesTask);
    }
  }

  private readonly sendWritesTask = (): void => {
    this.writesScheduled = false;
    for (const l of this.links) if (!l.dead) l.out.sendGathered();
  };

  /** CONSUMED: the application took `count` bytes (or, on a listener's id, accepted connections). */
  postConsumed(worker: number, id: number, count: number): void {
    const l = this.links[worker];
    if (!l || l.dead || this.closed || count <= 0) return;
    l.out.writeEndpointRecord(ToWorker.CONSUMED, id, count);
  }

  /** A record had to wait for room in a TO_WORKER ring: counted, and retried on a short timer. */
  private readonly recordQueued = (): void => {
    this.stats.recordsDeferred++;
    this.scheduleOverflowRetry();
  };

  private scheduleOverflowRetry(): void {
    if (this.overflowTimer || this.closed) return;
    this.overflowTimer = setTimeout(() => {
      this.overflowTimer = undefined;
      let pending = false;
      for (const l of this.links) {
        if (l.dead) continue;
        if (!l.out.flush()) pending = true;
      }
      if (pending) this.scheduleOverflowRetry();
    }, 1);
  }

  // ---- received segments and ICMP errors (tcp_dispatcher.ts)

  /**
   * SEGMENT: hands a received TCP segment to `worker`; dropped (and counted) when its ring is full. The record is
   * header + TCP bytes in one piece: when the packet has 40 bytes in front of its TCP header (its IP and link
   * headers, already parsed), the header is written there for the ring's copy and those bytes are put back, so
   * the segment is copied once; otherwise (no room, or a start not 8-aligned: see below) it is assembled in a
   * scratch buffer first.
   */
  forwardSegment(worker: number, info: NetworkReceiveInfo, pkt: PacketBuffer): void {
    const l = this.links[worker];
    const off = pkt.transportHeader;
    const len = pkt.tail - off;
    if (!l || l.dead || this.closed || SEGMENT_HEADER + len > l.toWorker.maxFrameSize) {
      this.stats.segmentsDropped++;
      return;
    }
    let ok: boolean;
    // V8 copies into shared memory word by word only when source and destination are equally aligned modulo 8
    // (else byte by byte, 5-6 times slower, measured on Node 20); the ring's records are 8-aligned.
    if (off >= SEGMENT_HEADER && ((pkt.buf.byteOffset + off - SEGMENT_HEADER) & 7) === 0) {
      const at = off - SEGMENT_HEADER;
      const saved = this.savedFront;
      saved.set(pkt.buf.subarray(at, off));
      writeSegmentHeader(pkt.buf, at, info.family, pkt.checksumValidated ? SegmentFlags.CHECKSUM_VALIDATED : 0, info.ttl, info.tos, info.nic, info.source, info.destination);
      try {
        ok = l.toWorker.tryWrite(pkt.buf, at, pkt.tail, ToWorker.SEGMENT);
      } finally {
        pkt.buf.set(saved, at);
      }
    } else {
      const n = SEGMENT_HEADER + len;
      if (this.scratch.length < n) {
        this.scratch = new Uint8Array(n);
      }
      writeSegmentHeader(this.scratch, 0, info.family, pkt.checksumValidated ? SegmentFlags.CHECKSUM_VALIDATED : 0, info.ttl, info.tos, info.nic, info.source, info.destination);
      this.scratch.set(pkt.buf.subarray(off, pkt.tail), SEGMENT_HEADER);
      ok = l.toWorker.tryWrite(this.scratch, 0, n, ToWorker.SEGMENT);
    }
    if (ok) this.stats.segmentsForwarded++;
    else this.stats.segmentsDropped++;
  }

  /** ICMP_ERROR: an ICMP error quoting a segment of a connection on `worker`. */
  forwardIcmpError(worker: number, err: TransportErrorInfo, info: NetworkReceiveInfo, quotedSource: Address, quotedDestination: Address, quoted: Uint8Array): boolean {
    const l = this.links[worker];
    const kind = TRANSPORT_ERROR_KINDS.indexOf(err.kind);
    if (!l || l.dead || this.closed || kind < 0) return false;
    const n = ICMP_ERROR_HEADER + quoted.length;
    if (n > l.toWorker.maxFrameSize) return false;
    const b = encodeIcmpError({
      family: quotedSource.family, kind, icmpType: err.icmpType, icmpCode: err.icmpCode, nic: info.nic, mtu: err.mtu,
      reporter: err.reporter, quotedSource, quotedDestination,
    }, quoted);
    if (!l.toWorker.tryWrite(b, 0, n, ToWorker.ICMP_ERROR)) return false;
    this.stats.icmpErrorsForwarded++;
    return true;
  }

  // ---- routes

  /** The routing facts a worker needs to pick routes itself (wire.ts RouteSnapshot). */
  snapshot(): RouteSnapshot {
    return {
      nics: this.stack.allNICs().map((n) => ({
        id: n.id,
        mtu: n.mtu,
        // Route.maxHeaderLength without the transport: link header + the larger IP header + room for a fragment
        // header (what Route reserves).
        linkHeaderLength: n.link.maxHeaderLength + 40 + 8,
        gsoMaxSize: n.link.capabilities & LinkCapability.GSO ? n.link.gsoMaxSize : 0,
        addresses: n.addresses().map((a) => a.toString()),
      })),
      routes: this.stack.routes.all().map((r) => ({
        destination: r.destination.toString(),
        nic: r.nic,
        ...(r.gateway ? { gateway: r.gateway.toString() } : {}),
      })),
    };
  }

  /** Sends the current snapshot to every worker and forgets cached routes (call after changing addresses/routes). */
  refreshRoutes(): void {
    const snap = this.snapshot();
    this.lastSnapshot = JSON.stringify(snap);
    this.routeCache.clear();
    this.routeCacheSize = 0;
    const body = encodeJson(snap);
    for (const l of this.links) {
      if (l.dead || this.closed) continue;
      if (body.length > l.toWorker.maxFrameSize) {
        logOnce(`TCP worker ${l.index}: routing snapshot not sent`, new RangeError(`${body.length} bytes exceed the ring's ${l.toWorker.maxFrameSize}-byte records (use larger rings)`));
        continue;
      }
      // A worker that takes nothing for the control timeout is declared dead, as a control call does: otherwise
      // every later snapshot (and the control call after it) would block the stack thread for the timeout again.
      if (!l.out.writeBlocking(ToWorker.ROUTES, body, Date.now() + this.controlTimeoutMs)) this.timedOut(l, 'a routing snapshot');
    }
  }

  /** refreshRoutes() if the addresses or routes changed since the last snapshot. */
  syncRoutes(): void {
    if (this.closed) return;
    if (JSON.stringify(this.snapshot()) !== this.lastSnapshot) {
      this.refreshRoutes();
      return;
    }
    // Cached routes also go stale in ways the snapshot does not show (a NIC disabled, a route's preferred source):
    // forget them at every comparison, a few findRoute calls per active flow and period.
    this.routeCache.clear();
    this.routeCacheSize = 0;
  }

  private routeFor(nic: number, local: Address, remote: Address): Route | TcpipError {
    let byLocal = this.routeCache.get(nic);
    if (!byLocal) this.routeCache.set(nic, (byLocal = new Map()));
    let byRemote = byLocal.get(local);
    if (!byRemote) byLocal.set(local, (byRemote = new Map()));
    const hit = byRemote.get(remote);
    if (hit) return hit;
    const r = this.stack.findRoute(nic, local, remote);
    if (r instanceof TcpipError) return r;
    if (this.routeCacheSize >= ROUTE_CACHE_LIMIT) {
      this.routeCache.clear();
      this.routeCacheSize = 0;
      return r;
    }
    byRemote.set(remote, r);
    this.routeCacheSize++;
    return r;
  }

  // ---- draining TO_STACK

  private async drainLoop(l: WorkerLink): Promise<void> {
    while (!this.closed && !l.dead) {
      const ready = await l.toStack.waitReadableAsync(IDLE_WAIT_MS);
      if (this.closed || l.dead) return;
      if (!ready) {
        if (l.toStack.closed) return;
        continue;
      }
      const more = this.drain(l);
      // A worker sending continuously must not starve the links' receive callbacks (macrotasks).
      if (more) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Handles up to DRAIN_BATCH records; true if more are waiting. */
  private drain(l: WorkerLink): boolean {
    const ring = l.toStack;
    let n = 0;
    for (; n < DRAIN_BATCH; n++) {
      const f = ring.peek();
      if (!f) break;
      try {
        this.handleRecord(l, f.meta, f.bytes, f.offset, f.length);
      } catch (e) {
        logOnce(`TCP worker ${l.index}: record type ${f.meta}`, e);
      }
      ring.release();
      if (this.closed || l.dead) return false;
    }
    if (l.out.queued > 0) l.out.flush();
    // Frames written during the batch may sit in a qdisc or the local-delivery queue until the batch end.
    if (n > 0) this.stack.flushBatch();
    return n === DRAIN_BATCH;
  }

  private handleRecord(l: WorkerLink, meta: number, b: Uint8Array, o: number, len: number): void {
    const v = l.inView;
    switch (meta) {
      case ToStack.FRAME:
        if (len >= FRAME_HEADER) this.sendFrame(b, o, len);
        return;
      case ToStack.DATA: {
        if (len < ENDPOINT_HEADER) return;
        const ep = l.endpoints.get(v.getUint32(o, true));
        ep?.onData(b, o + ENDPOINT_HEADER, len - ENDPOINT_HEADER);
        return;
      }
      case ToStack.STATE: {
        if (len < STATE_RECORD) return;
        const ep = l.endpoints.get(v.getUint32(o, true));
        ep?.onState(v.getUint32(o + 4, true), errorAt(v.getInt32(o + 8, true)));
        return;
      }
      case ToStack.SEND_CREDIT: {
        if (len < ENDPOINT_HEADER) return;
        l.endpoints.get(v.getUint32(o, true))?.onSendCredit(v.getUint32(o + 4, true));
        return;
      }
      case ToStack.ACCEPTED: {
        if (len < ACCEPTED_RECORD) return;
        const a = readAcceptedRecord(b, o);
        const listener = l.endpoints.get(a.listener);
        if (!listener || !listener.onAccepted(l.index, a.id, a.family, a.peer, a.peerPort, a.local, a.localPort)) {
          // Nobody will take it (the listener closed meanwhile): reset it as a closed listener's queue is.
          this.controlAsync(l.index, { op: 'abort', ep: a.id });
          this.controlAsync(l.index, { op: 'close', ep: a.id });
        }
        return;
      }
      default:
        return;
    }
  }

  private sendFrame(b: Uint8Array, o: number, len: number): void {
    const f = this.frame;
    readFrameHeader(b, o, f);
    const route = this.routeFor(f.nic, f.local, f.remote);
    if (route instanceof TcpipError) {
      this.stats.framesDropped++;
      return;
    }
    const tcpLen = len - FRAME_HEADER;
    // The TCP bytes start at 4 mod 8 in the ring (8-aligned record + 44): give the copy the same alignment, the
    // fast one out of shared memory (see forwardSegment).
    const headroom = route.maxHeaderLength + ((((o + FRAME_HEADER) & 7) - route.maxHeaderLength) & 7);
    const pkt = PacketBuffer.allocate(tcpLen, headroom);
    pkt.buf.set(b.subarray(o + FRAME_HEADER, o + len), pkt.head);
    pkt.transportHeader = pkt.head;
    pkt.transportProtocol = 6;
    if (f.flags & FrameFlags.HAS_GSO) {
      pkt.gso = { type: f.gsoType as GsoTypeValue, size: f.gsoSize, needsChecksum: (f.flags & FrameFlags.NEEDS_CHECKSUM) !== 0 };
    }
    const params: NetworkWriteParams = { protocol: 6, ttl: f.ttl, tos: f.tos, dontFragment: (f.flags & FrameFlags.DONT_FRAGMENT) !== 0 };
    if (route.writePacket(pkt, params)) this.stats.framesDropped++;
    else this.stats.framesSent++;
  }

  // ---- statistics

  /** Each worker's TcpProtocol.stats (undefined for a dead worker). */
  workerStats(): (Record<string, number> | undefined)[] {
    return this.links.map((l) => {
      const r = this.control(l.index, { op: 'stats' });
      return r.ok && r.value && typeof r.value === 'object' ? (r.value as Record<string, number>) : undefined;
    });
  }

  /**
   * The workers' TCP statistics summed field by field (the counters of TcpStats): of `perWorker` when the caller
   * already has workerStats() (one control round trip per worker, not two), else asked now.
   */
  tcpStats(perWorker: (Record<string, number> | undefined)[] = this.workerStats()): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const s of perWorker) {
      if (!s) continue;
      for (const [k, val] of Object.entries(s)) if (typeof val === 'number') sum[k] = (sum[k] ?? 0) + val;
    }
    return sum;
  }

  // ---- failure and shutdown

  /**
   * Declares dead a started worker whose heartbeat stood still for the control timeout (wire.ts REPLY_HEARTBEAT).
   * Comparing counts, not clocks, a stack thread that was itself busy for a while mistakes no live worker for a
   * hung one.
   */
  private checkHeartbeats(): void {
    const now = Date.now();
    for (const l of this.links) {
      if (l.dead) continue;
      const beat = Atomics.load(l.reply, REPLY_HEARTBEAT);
      if (beat !== l.lastBeat) {
        l.lastBeat = beat;
        l.lastBeatAt = now;
      } else if (beat !== 0 && now - l.lastBeatAt >= this.controlTimeoutMs) {
        this.workerFailed(l, new Error(`its loop made no progress for ${now - l.lastBeatAt} ms (hung)`));
      }
    }
  }

  private workerFailed(l: WorkerLink, e: unknown): void {
    if (l.dead || this.closed) return;
    l.dead = true;
    this.aliveWorkers = this.aliveWorkers.filter((i) => i !== l.index);
    this.stats.workersDied++;
    logOnce(`TCP worker ${l.index} died; its connections are aborted`, e);
    this.stopWorker(l, TcpipErrors.connectionAborted);
  }

  /** Closes the worker's rings, ends its thread, and tells its endpoints their worker side is gone. */
  private stopWorker(l: WorkerLink, error: TcpipError | undefined): void {
    l.toWorker.close();
    l.toStack.close();
    l.out.clear();
    const eps = [...l.endpoints.values()];
    l.endpoints.clear();
    for (const ep of new Set(eps)) ep.onWorkerGone(l.index, error);
    void l.worker?.terminate();
  }

  /**
   * Stops worker `index` abruptly, as a crash would: its connections get ConnectionAborted and the other workers
   * go on (for tests of that path, and for an embedder that must shed a stuck worker).
   */
  killWorker(index: number): void {
    const l = this.links[index];
    if (!l || l.dead || this.closed) return;
    this.workerFailed(l, new Error('stopped by killWorker()'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Stops every worker (their connections end without sending anything, as Stack.close() does for TCP) and
   * resolves once all worker threads have exited.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.overflowTimer) clearTimeout(this.overflowTimer);
      if (this.routeTimer) clearInterval(this.routeTimer);
      for (const l of this.links) this.stopWorker(l, undefined);
    }
    return Promise.all(this.links.map((l) => l.exited)).then(() => undefined);
  }
}

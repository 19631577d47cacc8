// One TCP worker's engine (design.md "Netstack": threading; the contract is wire.ts): a whole TcpProtocol over a
// WorkerTcpHost, fed by the TO_WORKER ring and answering through TO_STACK. It does not depend on worker_threads:
// tcp_worker.ts runs it in a thread, tests run two of them in one thread and play the stack thread themselves.
//
// Per endpoint the core keeps what the socket buffers need across the thread boundary: bytes WRITE delivered that
// the TcpEndpoint did not take yet (staged; they return send credit as the endpoint takes them), the receive
// credit (DATA is read out of the endpoint only while credit allows, so a stack thread that stops reading closes
// the TCP window), a shutdown(SHUT_WR) that waits for the staged bytes, and the STATE bits last reported.
//
// Ordering toward the stack thread: STATE, SEND_CREDIT and ACCEPTED records that find TO_STACK full wait in a local
// FIFO; DATA is only read out of an endpoint while that FIFO is empty and the ring has room for it, so every
// record reaches the stack thread in the order it was produced (ACCEPTED before its endpoint's DATA, DATA before
// the STATE that says READ_CLOSED). FRAMEs bypass the FIFO: a full ring drops them and TCP retransmits.

import { PacketBuffer } from '../buffer/packet_buffer.js';
import { IPV4_ANY } from '../stack/address.js';
import { SharedFrameRing } from '../buffer/shared_ring.js';
import type { Clock, Timer } from '../stack/clock.js';
import { ShutdownFlags, type IntSockOpt, type SockOpt, type SockOptKind } from '../stack/endpoint.js';
import { isTcpipError, TcpipErrors, type TcpipError } from '../stack/tcpip_error.js';
import { NetworkReceiveInfo, type TransportErrorInfo } from '../stack/transport_protocol.js';
import { TcpEndpoint } from '../transport/tcp/endpoint.js';
import { TcpProtocol, TcpState, type TcpSettings } from '../transport/tcp/protocol.js';
import { ALL_EVENTS, EventMask } from '../waiter/waiter_queue.js';
import {
  ACCEPTED_RECORD,
  CONTROL_HEADER,
  ENDPOINT_HEADER,
  EndpointStateBits,
  ICMP_ERROR_HEADER,
  REPLY_CAPACITY,
  REPLY_CONTROL_BYTES,
  REPLY_HEARTBEAT,
  REPLY_LENGTH,
  REPLY_SEQ,
  SEGMENT_HEADER,
  SegmentFlags,
  STATE_RECORD,
  ToStack,
  ToWorker,
  TRANSPORT_ERROR_KINDS,
  WORKER_ID_BASE,
  WriteFlags,
  decodeJson,
  encodeJson,
  errorIndex,
  fromWireAddress,
  isUint,
  readIcmpErrorHeader,
  readSegmentHeader,
  readU32,
  toWireAddress,
  writeAcceptedRecord,
  writeU32,
  type ControlReply,
  type ControlRequest,
  type RouteSnapshot,
  type SegmentFields,
  type TcpWorkerData,
  type WireFullAddress,
  type WireOption,
} from './wire.js';
import { ToStackWriter } from './to_stack_writer.js';
import { logInternalError } from '../stack/internal_error.js';
import { WorkerTcpHost, type WorkerHostStats } from './worker_tcp_host.js';

const TCP = 6;
/** Largest DATA record payload (the brief of wire.ts: chunks of at most 64 KiB). */
export const MAX_DATA_CHUNK = 64 * 1024;
/** Records one drain() call handles by default before returning to the event loop (timers, TCP flushes). */
export const DEFAULT_DRAIN_BUDGET = 512;
/** How soon queued records (and DATA waiting for ring room) are retried when nothing else wakes the core. */
const RETRY_MS = 1;
/** How long run() waits for TO_WORKER before looking at its retry queue again. */
const IDLE_WAIT_MS = 50;

/** Counters of what the core saw besides TCP's own (TcpProtocol.stats) and the send path's (host.stats). */
export interface WorkerCoreStats {
  segmentsIn: number;
  icmpErrorsIn: number;
  /** Records too short, of an unknown type, or with bad header fields (hostile or buggy producer): skipped. */
  malformedRecords: number;
  /** CONTROL requests whose JSON did not parse or had an unknown op or bad fields (answered with an error). */
  malformedControl: number;
  /** WRITE/CONSUMED records for an endpoint id the worker does not hold. */
  unknownEndpointRecords: number;
  /** WRITE bytes dropped because the endpoint can no longer send (reset, shut down); their credit is returned. */
  writeBytesDiscarded: number;
  controlRequests: number;
  dataRecordsOut: number;
  dataBytesOut: number;
  stateRecordsOut: number;
  /** STATE/SEND_CREDIT/ACCEPTED records that found TO_STACK full and waited in the local queue. */
  recordsQueued: number;
  /** Control replies too large for the reply block (answered NoBufferSpace). */
  repliesTooLarge: number;
  /**
   * Exceptions caught while handling a record or serving an endpoint (worker bugs: the record is dropped, the
   * endpoint retried on its next event), logged once per distinct message. TCP timers' are in host.stats.
   */
  internalErrors: number;
  /**
   * WRITE records that took an endpoint's staged bytes past the send credit (a stack-thread bug: the bytes are
   * still sent, in order, but the worker's memory is no longer bounded by the credit).
   */
  sendCreditOverruns: number;
}

/** What the core keeps per endpoint id. */
interface WorkerEndpoint {
  id: number;
  ep: TcpEndpoint;
  unsubscribe: () => void;
  /** WRITE bytes the endpoint did not take yet, oldest first, with the MORE flag of their record. */
  staged: { bytes: Uint8Array; more: boolean }[];
  stagedBytes: number;
  /** Bytes of DATA the stack thread may still receive before it returns credit with CONSUMED. */
  receiveCredit: number;
  /** A WRITE with END or shutdown(WRITE) arrived: shut the send side once the staged bytes are in. */
  shutdownWriteAfterFlush: boolean;
  /** endpoint.close() was called. */
  closed: boolean;
  /** It was CONNECTING or CONNECTED at some point (CLOSED then means "ended": both directions closed). */
  wasActive: boolean;
  wasConnected: boolean;
  lastBits: number;
  /** An error taken from the endpoint and not yet handed over in a STATE record. */
  errorToSend: TcpipError | undefined;
  /** Listener copies: accept backlog and ACCEPTED records the stack thread has not taken yet. */
  listening: boolean;
  backlog: number;
  acceptsOutstanding: number;
}

export interface TcpWorkerCoreOptions {
  /** Clock for the worker's TcpProtocol (tests may pass a ManualClock); default the real one. */
  clock?: Clock;
}

export class TcpWorkerCore {
  readonly index: number;
  readonly host: WorkerTcpHost;
  readonly protocol: TcpProtocol;
  readonly stats: WorkerCoreStats = {
    segmentsIn: 0, icmpErrorsIn: 0, malformedRecords: 0, malformedControl: 0, unknownEndpointRecords: 0,
    writeBytesDiscarded: 0, controlRequests: 0, dataRecordsOut: 0, dataBytesOut: 0, stateRecordsOut: 0,
    recordsQueued: 0, repliesTooLarge: 0, internalErrors: 0, sendCreditOverruns: 0,
  };
  private readonly toWorker: SharedFrameRing;
  private readonly toStack: SharedFrameRing;
  private readonly replyCtl: Int32Array;
  private readonly replyBytes: Uint8Array;
  private readonly initialReceiveCredit: number;
  private readonly initialSendCredit: number;
  private readonly endpoints = new Map<number, WorkerEndpoint>();
  private nextWorkerId = WORKER_ID_BASE;
  /** TO_STACK for every record but FRAME (those go through the host's routes). */
  private readonly out: ToStackWriter;
  /** Endpoints whose readiness may have changed, or that wait for ring room or credit to move on. */
  private readonly dirty = new Set<WorkerEndpoint>();
  private pumpScheduled = false;
  private retryTimer: Timer | undefined;
  private retryArmed = false;
  private readonly info = new NetworkReceiveInfo();
  /** The SEGMENT header being handled (handleSegment reads each into this one). */
  private readonly segment: SegmentFields = {
    family: 4, flags: 0, ttl: 0, tos: 0, nic: 0, source: IPV4_ANY, destination: IPV4_ANY,
  };
  private readonly header = new Uint8Array(ACCEPTED_RECORD);
  private dataScratch = new Uint8Array(ENDPOINT_HEADER + MAX_DATA_CHUNK);
  private closedCore = false;

  constructor(data: TcpWorkerData, options: TcpWorkerCoreOptions = {}) {
    this.index = data.index;
    this.toWorker = SharedFrameRing.attach(data.toWorker);
    this.toStack = SharedFrameRing.attach(data.toStack);
    if (data.reply.byteLength < REPLY_CONTROL_BYTES + REPLY_CAPACITY) {
      throw new RangeError(`EINVAL: the reply block needs ${REPLY_CONTROL_BYTES + REPLY_CAPACITY} bytes, got ${data.reply.byteLength}`);
    }
    this.replyCtl = new Int32Array(data.reply, 0, REPLY_CONTROL_BYTES / 4);
    this.replyBytes = new Uint8Array(data.reply, REPLY_CONTROL_BYTES, REPLY_CAPACITY);
    this.initialReceiveCredit = Math.max(1, data.receiveCredit | 0);
    this.initialSendCredit = Math.max(1, data.sendCredit | 0);
    this.host = new WorkerTcpHost(this.toStack, data.routes, options.clock);
    this.out = new ToStackWriter(this.toStack);
    this.protocol = new TcpProtocol(this.host, (data.tcp ?? {}) as Partial<TcpSettings>);
  }

  get hostStats(): WorkerHostStats {
    return this.host.stats;
  }

  /** Endpoint ids this worker holds (stack-allocated and accepted ones). */
  get endpointIds(): number[] {
    return [...this.endpoints.keys()];
  }

  /** The TcpEndpoint behind an id (tests and diagnostics). */
  endpoint(id: number): TcpEndpoint | undefined {
    return this.endpoints.get(id)?.ep;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // TO_WORKER

  /**
   * Handles up to `budget` records of TO_WORKER, then moves bytes and states of the endpoints that changed.
   * Returns how many records it handled. Never throws for bad input: malformed records are counted and skipped.
   */
  drain(budget = DEFAULT_DRAIN_BUDGET): number {
    let n = 0;
    const ring = this.toWorker;
    while (n < budget) {
      const f = ring.peek();
      if (!f) break;
      try {
        this.handleRecord(f.meta, f.bytes, f.offset, f.length);
      } catch (e) {
        // Parsers reject bad input with a counted drop; an exception is a bug, and it must not take the worker down
        // with every connection on it (stack/internal_error.ts: counted, logged once per distinct message).
        this.stats.internalErrors++;
        logInternalError('receive', `TCP worker ${this.index} record type ${f.meta}`, e);
      }
      ring.release();
      n++;
    }
    this.pump();
    return n;
  }

  private handleRecord(meta: number, buf: Uint8Array, off: number, len: number): void {
    switch (meta) {
      case ToWorker.SEGMENT: return this.handleSegment(buf, off, len);
      case ToWorker.ICMP_ERROR: return this.handleIcmpError(buf, off, len);
      case ToWorker.CONTROL: return this.handleControl(buf, off, len);
      case ToWorker.WRITE: return this.handleWrite(buf, off, len);
      case ToWorker.CONSUMED: return this.handleConsumed(buf, off, len);
      case ToWorker.ROUTES: return this.handleRoutes(buf, off, len);
      default:
        this.stats.malformedRecords++;
    }
  }

  /** Stack.deliverToTransport for TCP, without raw sockets and multicast (the stack thread handles those). */
  private handleSegment(buf: Uint8Array, off: number, len: number): void {
    const f = this.segment;
    if (len < SEGMENT_HEADER + 20 || !readSegmentHeader(buf, off, f)) {
      this.stats.malformedRecords++;
      return;
    }
    this.stats.segmentsIn++;
    const family = f.family;
    const info = this.info;
    info.nic = f.nic;
    info.family = family;
    info.source = f.source;
    info.destination = f.destination;
    info.ttl = f.ttl;
    info.tos = f.tos;
    info.protocol = TCP;
    info.isBroadcastOrMulticast = info.destination.isMulticast() || info.destination.isLimitedBroadcast();
    info.networkHeaderLength = family === 4 ? 20 : 40;
    const t = off + SEGMENT_HEADER;
    // The segment stays in the ring (borrowed): TCP copies what it keeps (payload, out-of-order data).
    const pkt = new PacketBuffer(buf, t, off + len);
    pkt.borrowed = true;
    pkt.transportHeader = t;
    pkt.transportProtocol = TCP;
    pkt.checksumValidated = (f.flags & SegmentFlags.CHECKSUM_VALIDATED) !== 0;
    const sport = (buf[t]! << 8) | buf[t + 1]!;
    const dport = (buf[t + 2]! << 8) | buf[t + 3]!;
    const ep = this.host.demuxer.find(family, TCP, info.nic, info.destination, dport, info.source, sport);
    if (ep) {
      ep.handlePacket(info, pkt);
      return;
    }
    if (this.protocol.handleUnknownDestinationPacket(info, pkt) === 'malformed') this.stats.malformedRecords++;
  }

  /** Stack.deliverTransportError for TCP: path MTU first, then the endpoint that sent the quoted segment. */
  private handleIcmpError(buf: Uint8Array, off: number, len: number): void {
    const h = len >= ICMP_ERROR_HEADER + 8 ? readIcmpErrorHeader(buf, off) : undefined;
    if (!h) {
      this.stats.malformedRecords++;
      return;
    }
    this.stats.icmpErrorsIn++;
    const kind = TRANSPORT_ERROR_KINDS[h.kind]!;
    const family = h.family;
    const local = h.quotedSource;
    const remote = h.quotedDestination;
    if (kind === 'packetTooBig' && h.mtu > 0) this.host.updatePathMtu(remote, h.mtu);
    const quoted = buf.subarray(off + ICMP_ERROR_HEADER, off + len);
    const sport = (quoted[0]! << 8) | quoted[1]!;
    const dport = (quoted[2]! << 8) | quoted[3]!;
    const info = this.info;
    info.nic = h.nic;
    info.family = family;
    info.source = h.reporter;
    info.destination = local;
    info.ttl = 0;
    info.tos = 0;
    info.protocol = TCP;
    info.isBroadcastOrMulticast = false;
    info.networkHeaderLength = family === 4 ? 20 : 40;
    const ep = this.host.demuxer.find(family, TCP, info.nic, local, sport, remote, dport);
    if (!ep) return;
    const err: TransportErrorInfo = {
      kind, mtu: h.mtu, icmpType: h.icmpType, icmpCode: h.icmpCode, reporter: h.reporter, quotedDestination: remote,
    };
    ep.handleError(err, info, quoted);
  }

  private handleRoutes(buf: Uint8Array, off: number, len: number): void {
    let snap: RouteSnapshot;
    try {
      snap = decodeJson<RouteSnapshot>(buf.subarray(off, off + len));
      this.host.setRoutes(snap);
    } catch {
      this.stats.malformedRecords++;
    }
  }

  /** The endpoint an ENDPOINT_HEADER record names; a short record or an unknown id is counted and undefined. */
  private recordEndpoint(buf: Uint8Array, off: number, len: number): WorkerEndpoint | undefined {
    if (len < ENDPOINT_HEADER) {
      this.stats.malformedRecords++;
      return undefined;
    }
    const w = this.endpoints.get(readU32(buf, off));
    if (!w) this.stats.unknownEndpointRecords++;
    return w;
  }

  private handleWrite(buf: Uint8Array, off: number, len: number): void {
    const w = this.recordEndpoint(buf, off, len);
    if (!w) return;
    const flags = readU32(buf, off + 4);
    const bytes = buf.subarray(off + ENDPOINT_HEADER, off + len);
    const more = (flags & WriteFlags.MORE) !== 0;
    if (bytes.length > 0) {
      if (w.closed || w.shutdownWriteAfterFlush) {
        // Bytes after END or close: the stack thread broke the order; they cannot be sent.
        this.discardWrite(w, bytes.length);
      } else if (w.staged.length > 0) {
        w.staged.push({ bytes: bytes.slice(), more });
        w.stagedBytes += bytes.length;
        if (w.stagedBytes > this.initialSendCredit) this.stats.sendCreditOverruns++;
      } else {
        // Straight from the ring into the send buffer when the endpoint takes it all (no staging copy).
        const r = w.ep.write(bytes, more ? { more: true } : undefined);
        if (typeof r === 'number') {
          if (r > 0) this.sendCredit(w, r);
          if (r < bytes.length) {
            w.staged.push({ bytes: bytes.slice(r), more });
            w.stagedBytes += bytes.length - r;
          }
        } else if (r === TcpipErrors.wouldBlock) {
          w.staged.push({ bytes: bytes.slice(), more });
          w.stagedBytes += bytes.length;
        } else {
          this.writeFailed(w, r, bytes.length);
        }
      }
    }
    if (flags & WriteFlags.END) w.shutdownWriteAfterFlush = true;
    this.markDirty(w);
  }

  private handleConsumed(buf: Uint8Array, off: number, len: number): void {
    const w = this.recordEndpoint(buf, off, len);
    if (!w) return;
    const n = readU32(buf, off + 4);
    if (w.listening) w.acceptsOutstanding = Math.max(0, w.acceptsOutstanding - n);
    // Never more credit than the initial grant: a confused producer cannot make the worker flood the ring.
    else w.receiveCredit = Math.min(this.initialReceiveCredit, w.receiveCredit + n);
    this.markDirty(w);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Control

  private handleControl(buf: Uint8Array, off: number, len: number): void {
    if (len < CONTROL_HEADER) {
      this.stats.malformedRecords++;
      return;
    }
    this.stats.controlRequests++;
    const requestId = readU32(buf, off);
    let reply: ControlReply;
    let req: ControlRequest | undefined;
    try {
      req = decodeJson<ControlRequest>(buf.subarray(off + CONTROL_HEADER, off + len));
    } catch {
      req = undefined;
    }
    if (typeof req !== 'object' || req === null || typeof (req as { op?: unknown }).op !== 'string') {
      this.stats.malformedControl++;
      reply = { ok: false, error: TcpipErrors.malformedHeader.code };
    } else {
      try {
        reply = this.execute(req);
      } catch {
        // Bad field values in a well-formed JSON request (Address.parse of garbage, ...): the request's fault.
        this.stats.malformedControl++;
        reply = { ok: false, error: TcpipErrors.malformedHeader.code };
      }
    }
    this.writeReply(requestId, reply);
  }

  private writeReply(requestId: number, reply: ControlReply): void {
    let bytes = encodeJson(reply);
    if (bytes.length > REPLY_CAPACITY) {
      this.stats.repliesTooLarge++;
      bytes = encodeJson({ ok: false, error: TcpipErrors.noBufferSpace.code } satisfies ControlReply);
    }
    this.replyBytes.set(bytes, 0);
    Atomics.store(this.replyCtl, REPLY_LENGTH, bytes.length);
    Atomics.store(this.replyCtl, REPLY_SEQ, requestId | 0);
    Atomics.notify(this.replyCtl, REPLY_SEQ);
  }

  /** Runs one control request; a TcpipError result is the reply's error. */
  private execute(req: ControlRequest): ControlReply {
    if (req.op === 'stats') return { ok: true, value: { ...this.protocol.stats } };
    if (req.op === 'create') return result(this.create(req));
    if (!isUint((req as { ep?: unknown }).ep)) {
      this.stats.malformedControl++;
      return fail(TcpipErrors.malformedHeader);
    }
    const w = this.endpoints.get(req.ep);
    if (!w) return fail(TcpipErrors.invalidEndpointState);
    const ep = w.ep;
    switch (req.op) {
      case 'listen': {
        if (typeof req.backlog !== 'number') return malformed(this.stats);
        const err = ep.listen(req.backlog);
        if (err) return fail(err);
        w.listening = true;
        // Linux's accept queue holds backlog+1 (sk_acceptq_is_full is ">"): so may the stack thread's.
        w.backlog = Math.max(1, Math.min(req.backlog | 0, this.protocol.settings.somaxconn) + 1);
        this.markDirty(w);
        return { ok: true };
      }
      case 'connect': {
        if (!isWireAddress(req.remote)) return malformed(this.stats);
        const err = ep.connect(fromWireAddress(req.remote, ep.family));
        this.markDirty(w);
        return result(err);
      }
      case 'shutdown': {
        if (!isUint(req.flags)) return malformed(this.stats);
        let err: TcpipError | undefined;
        if (req.flags & ShutdownFlags.READ) err = ep.shutdown(ShutdownFlags.READ);
        if (!err && req.flags & ShutdownFlags.WRITE) {
          // After the bytes WRITE already delivered (shutdown(2) comes after them in the application's order).
          if (w.stagedBytes > 0) w.shutdownWriteAfterFlush = true;
          else err = ep.shutdown(ShutdownFlags.WRITE);
        }
        this.markDirty(w);
        return result(err);
      }
      case 'close':
        this.closeNow(w);
        return { ok: true };
      case 'abort': {
        this.dropStaged(w);
        const err = ep.disconnect();
        this.markDirty(w);
        return result(err);
      }
      case 'setInt': {
        if (typeof req.name !== 'string' || typeof req.value !== 'number') return malformed(this.stats);
        const err = ep.setSockOptInt(req.name as IntSockOpt, req.value);
        this.markDirty(w);
        return result(err);
      }
      case 'getInt': {
        if (typeof req.name !== 'string') return malformed(this.stats);
        const v = ep.getSockOptInt(req.name as IntSockOpt);
        return isTcpipError(v) ? fail(v) : { ok: true, value: v };
      }
      case 'set': {
        if (typeof req.opt !== 'object' || req.opt === null) return malformed(this.stats);
        const err = ep.setSockOpt(req.opt as unknown as SockOpt);
        return result(err);
      }
      case 'get': {
        if (typeof req.kind !== 'string') return malformed(this.stats);
        const v = ep.getSockOpt(req.kind as SockOptKind);
        return isTcpipError(v) ? fail(v) : { ok: true, value: v };
      }
      case 'addresses': {
        const local = ep.getLocalAddress();
        const remote = ep.getRemoteAddress();
        return {
          ok: true,
          value: {
            ...(isTcpipError(local) ? {} : { local: toWireAddress(local) }),
            ...(isTcpipError(remote) ? {} : { remote: toWireAddress(remote) }),
          },
        };
      }
      default:
        this.stats.malformedControl++;
        return fail(TcpipErrors.malformedHeader);
    }
  }

  private create(req: { ep: number; family: 4 | 6; options: WireOption[]; local?: WireFullAddress }): TcpipError | undefined {
    if (!isUint(req.ep) || req.ep >= WORKER_ID_BASE || (req.family !== 4 && req.family !== 6) ||
        (req.options !== undefined && !Array.isArray(req.options)) || (req.local !== undefined && !isWireAddress(req.local))) {
      this.stats.malformedControl++;
      return TcpipErrors.malformedHeader;
    }
    if (this.endpoints.has(req.ep)) return TcpipErrors.invalidEndpointState;
    const ep = this.protocol.createEndpoint(req.family);
    for (const o of req.options ?? []) {
      let err: TcpipError | undefined;
      if (typeof o === 'object' && o !== null && 'int' in o && typeof o.int === 'string' && typeof o.value === 'number') {
        err = ep.setSockOptInt(o.int as IntSockOpt, o.value);
      } else if (typeof o === 'object' && o !== null && 'opt' in o && typeof o.opt === 'object' && o.opt !== null) {
        err = ep.setSockOpt(o.opt as unknown as SockOpt);
      } else {
        this.stats.malformedControl++;
        err = TcpipErrors.malformedHeader;
      }
      if (err) {
        ep.close();
        return err;
      }
    }
    if (req.local !== undefined) {
      const err = ep.bind(fromWireAddress(req.local, req.family));
      if (err) {
        ep.close();
        return err;
      }
    }
    this.adopt(req.ep, ep);
    return undefined;
  }

  /** Starts tracking an endpoint under `id`. */
  private adopt(id: number, ep: TcpEndpoint): WorkerEndpoint {
    const w: WorkerEndpoint = {
      id, ep, unsubscribe: () => {}, staged: [], stagedBytes: 0, receiveCredit: this.initialReceiveCredit,
      shutdownWriteAfterFlush: false, closed: false, wasActive: false, wasConnected: false,
      lastBits: 0, errorToSend: undefined, listening: false, backlog: 0, acceptsOutstanding: 0,
    };
    w.unsubscribe = ep.waiterQueue.subscribe(ALL_EVENTS, () => this.markDirty(w));
    this.endpoints.set(id, w);
    return w;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Pumping bytes and states

  private markDirty(w: WorkerEndpoint): void {
    this.dirty.add(w);
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      // Readiness changes arrive inside TCP processing (notify from handleSegment): move bytes afterwards, never
      // re-entering the endpoint from its own callback.
      queueMicrotask(this.pumpTask);
    }
  }

  private readonly pumpTask = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  /** Moves staged writes into endpoints, DATA and STATE out of them, and retries queued records. */
  pump(): void {
    if (this.closedCore) return;
    this.out.flush();
    if (this.dirty.size > 0) {
      const batch = [...this.dirty];
      this.dirty.clear();
      for (const w of batch) {
        if (this.endpoints.get(w.id) !== w) continue;
        try {
          this.service(w);
        } catch (e) {
          // A bug must cost one endpoint's turn, not the worker and every connection on it.
          this.stats.internalErrors++;
          logInternalError('transmit', `TCP worker ${this.index} endpoint service`, e);
        }
      }
    }
    if (this.out.queued > 0 || this.dirty.size > 0) this.armRetry();
  }

  private armRetry(): void {
    if (this.retryArmed || this.closedCore) return;
    this.retryArmed = true;
    const fire = (): void => {
      this.retryArmed = false;
      this.pump();
    };
    if (this.retryTimer) this.retryTimer.reset(RETRY_MS);
    else this.retryTimer = this.host.clock.afterFunc(RETRY_MS, fire);
  }

  private service(w: WorkerEndpoint): void {
    const ep = w.ep;
    // 1. WRITE bytes the endpoint did not take yet.
    if (w.staged.length > 0) this.pushStaged(w);
    // 2. Deferred shutdown(WRITE), once every staged byte is in the endpoint.
    if (w.stagedBytes === 0 && w.shutdownWriteAfterFlush && !w.closed && !ep.sendShutdown) ep.shutdown(ShutdownFlags.WRITE);
    // 3. A listener copy forwards accepted connections while the stack thread has accept credit.
    if (w.listening && !w.closed) this.acceptChildren(w);
    // 4. Received bytes, as credit and ring room allow (not after close: no application reads them).
    let blocked = false;
    if (!w.closed && !w.listening) blocked = this.pumpData(w);
    // 5. STATE when anything changed (after the DATA above), RELEASED when the closed endpoint is gone.
    this.reportState(w);
    if (blocked) this.dirty.add(w);
  }

  /**
   * close(2): closes the endpoint at once, with every byte WRITE delivered before it in the endpoint's send buffer.
   * Staged bytes are part of the socket's send buffer as the application sees it (they are within its send
   * credit), so the buffer grows to take them all. Closing only once they drained (as before) kept the socket open
   * for as long as the peer kept its window shut: SO_LINGER with a zero timeout did not reset (socket(7)), a linger
   * timeout never started, and the orphan limits that end a connection a peer holds with a zero window
   * (TcpConnectionOutput.orphanProbingTooLong, sockstress) never applied.
   */
  private closeNow(w: WorkerEndpoint): void {
    if (w.closed) return;
    // RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread received data resets the connection. TcpEndpoint.close
    // sees the bytes still in its own buffer; the bytes already sent as DATA that the application did not read
    // (in the stack thread's queue, or still crossing TO_STACK where the stack thread could not see them at close)
    // are the receive credit not returned: the stack thread reports every byte read before it sends 'close'.
    if (!w.listening && w.receiveCredit < this.initialReceiveCredit && w.ep.state !== TcpState.SYN_SENT) {
      this.dropStaged(w);
      w.ep.disconnect();
    }
    if (w.stagedBytes > 0) {
      const sb = w.ep.sendBuffer;
      sb.resize(Math.max(sb.capacity, sb.length + w.stagedBytes));
      this.pushStaged(w);
      // What the endpoint still refused (it can no longer send) is dropped and its credit returned.
      this.dropStaged(w);
    }
    w.closed = true;
    w.ep.close();
    this.markDirty(w);
  }

  private pushStaged(w: WorkerEndpoint): void {
    let taken = 0;
    while (w.staged.length > 0) {
      const head = w.staged[0]!;
      const r = w.ep.write(head.bytes, head.more ? { more: true } : undefined);
      if (typeof r !== 'number') {
        if (r === TcpipErrors.wouldBlock) break;
        if (taken > 0) this.sendCredit(w, taken);
        taken = 0;
        const n = w.stagedBytes;
        w.staged.length = 0;
        w.stagedBytes = 0;
        this.writeFailed(w, r, n);
        break;
      }
      if (r === 0) break;
      taken += r;
      w.stagedBytes -= r;
      if (r < head.bytes.length) {
        head.bytes = head.bytes.subarray(r);
        break;
      }
      w.staged.shift();
    }
    if (taken > 0) this.sendCredit(w, taken);
  }

  /** The endpoint cannot send any more: the bytes are dropped, their credit returned, a real error reported. */
  private writeFailed(w: WorkerEndpoint, err: TcpipError, bytes: number): void {
    // write() hands out the endpoint's pending error (what ended the connection): it goes to the stack thread.
    if (err !== TcpipErrors.closedForSend && err !== TcpipErrors.wouldBlock) w.errorToSend ??= err;
    this.discardWrite(w, bytes);
  }

  private discardWrite(w: WorkerEndpoint, bytes: number): void {
    this.stats.writeBytesDiscarded += bytes;
    this.sendCredit(w, bytes);
  }

  private dropStaged(w: WorkerEndpoint): void {
    const n = w.stagedBytes;
    w.staged.length = 0;
    w.stagedBytes = 0;
    if (n > 0) this.discardWrite(w, n);
  }

  private sendCredit(w: WorkerEndpoint, n: number): void {
    const h = this.header;
    writeU32(h, 0, w.id);
    writeU32(h, 4, n);
    this.emit(ToStack.SEND_CREDIT, h, ENDPOINT_HEADER);
  }

  private acceptChildren(w: WorkerEndpoint): void {
    while (w.acceptsOutstanding < w.backlog) {
      const r = w.ep.accept();
      if (isTcpipError(r)) break;
      const child = r.endpoint as TcpEndpoint;
      const id = this.allocateWorkerId();
      const cw = this.adopt(id, child);
      cw.wasActive = cw.wasConnected = true;
      w.acceptsOutstanding++;
      const local = child.getLocalAddress();
      const h = this.header;
      writeAcceptedRecord(h, {
        listener: w.id, id, family: r.peer.address.family, peer: r.peer.address, peerPort: r.peer.port,
        local: isTcpipError(local) ? undefined : local.address, localPort: isTcpipError(local) ? 0 : local.port,
      });
      this.emit(ToStack.ACCEPTED, h, ACCEPTED_RECORD);
      // Its STATE and any DATA that arrived with the handshake follow the ACCEPTED record.
      this.service(cw);
    }
  }

  private allocateWorkerId(): number {
    for (;;) {
      const id = this.nextWorkerId;
      this.nextWorkerId = id >= 0xffff_ffff ? WORKER_ID_BASE : id + 1;
      if (!this.endpoints.has(id)) return id;
    }
  }

  /** Reads DATA out of the endpoint; true when bytes are waiting that credit allows but the ring had no room for. */
  private pumpData(w: WorkerEndpoint): boolean {
    const ep = w.ep;
    for (;;) {
      const readable = ep.receiveBuffer.readable;
      if (readable === 0 || w.receiveCredit <= 0) return false;
      const want = Math.min(readable, w.receiveCredit, MAX_DATA_CHUNK);
      // room() is 0 while queued records wait: DATA goes after them.
      const n = Math.min(want, this.out.room(ENDPOINT_HEADER));
      // A nearly full ring would otherwise be answered with ever smaller records (half the room each time).
      if (n <= 0 || (n < want && n < this.out.minChunk)) return true;
      const buf = this.dataScratch;
      const r = ep.read(buf.subarray(ENDPOINT_HEADER, ENDPOINT_HEADER + n));
      if (isTcpipError(r) || r.count === 0) return false;
      writeU32(buf, 0, w.id);
      writeU32(buf, 4, 0);
      this.out.writeSized(ToStack.DATA, buf, ENDPOINT_HEADER + r.count);
      w.receiveCredit -= r.count;
      this.stats.dataRecordsOut++;
      this.stats.dataBytesOut += r.count;
    }
  }

  private stateBits(w: WorkerEndpoint): number {
    const ep = w.ep;
    const s = ep.state;
    let bits = 0;
    if (s === TcpState.SYN_SENT || s === TcpState.SYN_RECV) {
      bits |= EndpointStateBits.CONNECTING;
      w.wasActive = true;
    } else if (s !== TcpState.CLOSED && s !== TcpState.LISTEN) {
      w.wasActive = w.wasConnected = true;
    }
    if (w.wasConnected) bits |= EndpointStateBits.CONNECTED;
    if (s === TcpState.LISTEN) {
      if (ep.acceptQueueLength > 0) bits |= EndpointStateBits.LISTEN_READY;
      return bits;
    }
    const ready = ep.readiness(ALL_EVENTS);
    // End of stream only once every received byte went out as DATA.
    if (ready & EventMask.RDHUP && ep.receiveBuffer.readable === 0) bits |= EndpointStateBits.READ_CLOSED;
    if (ep.sendShutdown || (s === TcpState.CLOSED && w.wasActive)) bits |= EndpointStateBits.WRITE_CLOSED;
    return bits;
  }

  private reportState(w: WorkerEndpoint): void {
    const ep = w.ep;
    // SO_ERROR: the worker takes the error and hands it over once (wire.ts STATE), after the bytes received before
    // it (tcp_recvmsg returns queued data before sk_err).
    if ((ep.receiveBuffer.readable === 0 || w.closed) && ep.readiness(EventMask.ERR) & EventMask.ERR) {
      const e = ep.lastError();
      if (e) w.errorToSend ??= e;
    }
    let bits = this.stateBits(w);
    // After TIME_WAIT: the stack thread frees the port at RELEASED, and Linux keeps it taken through TIME_WAIT
    // (a port reused meanwhile would fail this worker's bind, or meet the old connection's segments).
    const released = w.closed && ep.state === TcpState.CLOSED;
    if (released) bits |= EndpointStateBits.RELEASED;
    const err = w.errorToSend;
    if (bits === w.lastBits && err === undefined) return;
    const h = this.header;
    writeU32(h, 0, w.id);
    writeU32(h, 4, err ? bits | EndpointStateBits.ERROR : bits);
    writeU32(h, 8, errorIndex(err) >>> 0);
    this.emit(ToStack.STATE, h, STATE_RECORD);
    this.stats.stateRecordsOut++;
    w.lastBits = bits;
    w.errorToSend = undefined;
    if (released) {
      w.unsubscribe();
      this.endpoints.delete(w.id);
      this.dirty.delete(w);
    }
  }

  /** STATE, SEND_CREDIT, ACCEPTED: into TO_STACK now, or queued in order when it is full (ToStackWriter). */
  private emit(meta: number, bytes: Uint8Array, len: number): void {
    if (this.out.write(meta, bytes, len)) return;
    this.stats.recordsQueued++;
    this.armRetry();
  }

  /** Records waiting for room in TO_STACK. */
  get queuedRecords(): number {
    return this.out.queued;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * The worker's loop: drain TO_WORKER, and when it is empty wait for it without blocking the thread (timers and
   * TCP's flushes run meanwhile). Resolves when TO_WORKER is closed and drained, or after close().
   */
  async run(): Promise<void> {
    // A pending Atomics.waitAsync does not keep Node's event loop alive (and stack timers are unref'd): without a
    // ref'd handle an idle worker would simply exit.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      await this.loop();
    } finally {
      clearInterval(keepAlive);
    }
    this.close();
  }

  private async loop(): Promise<void> {
    while (!this.closedCore) {
      Atomics.add(this.replyCtl, REPLY_HEARTBEAT, 1);
      const n = this.drain();
      if (n > 0) {
        // Let TCP's per-burst flush (microtasks) and due timers run between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (this.toWorker.closed && this.toWorker.used === 0) break;
      const wait = this.queuedRecords > 0 || this.dirty.size > 0 ? RETRY_MS : IDLE_WAIT_MS;
      await this.toWorker.waitReadableAsync(wait);
    }
  }

  /** Stops every connection's timers without sending anything and forgets all endpoints. */
  close(): void {
    if (this.closedCore) return;
    this.closedCore = true;
    this.retryTimer?.stop();
    for (const w of this.endpoints.values()) w.unsubscribe();
    this.endpoints.clear();
    this.dirty.clear();
    this.protocol.close();
  }
}

function isWireAddress(v: unknown): v is WireFullAddress {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Partial<WireFullAddress>;
  return (a.addr === undefined || typeof a.addr === 'string') && isUint(a.port) && a.port <= 0xffff &&
    (a.nic === undefined || isUint(a.nic));
}

function fail(e: TcpipError): ControlReply {
  return { ok: false, error: e.code };
}

function result(e: TcpipError | undefined): ControlReply {
  return e ? fail(e) : { ok: true };
}

function malformed(stats: WorkerCoreStats): ControlReply {
  stats.malformedControl++;
  return fail(TcpipErrors.malformedHeader);
}

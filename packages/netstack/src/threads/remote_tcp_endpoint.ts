// The TCP socket applications (and later the sentry's socket syscalls) use when TCP runs on worker threads: the
// Endpoint API of stack/endpoint.ts, unchanged, on the stack thread, for a connection that lives on a worker
// (wire.ts). Semantics and error values follow TcpEndpoint (transport/tcp/endpoint.ts).
//
// Life of an endpoint:
//   unmaterialized  a "prototype" TcpEndpoint of a stack-thread TcpProtocol stands in for it: socket options are
//                   set on it (so validation is TcpEndpoint's own) and recorded to replay on the worker; bind()
//                   reserves the port in the stack's PortManager, the one arbiter across workers. The prototype is
//                   never listened or connected (it would register in the stack's demuxer).
//   listening       listen() creates a copy of the listener on every worker under one id (as SO_REUSEPORT shards);
//                   connections the copies accept arrive as ACCEPTED records, already living on that worker.
//   connected       connect() picks the worker flowHash of the 4-tuple names (the one its segments will reach) and
//                   creates the connection there. Received bytes arrive as DATA into a local queue; writes leave as
//                   WRITE records within the send credit; STATE records carry what the worker's endpoint is.
// Control operations on a materialized endpoint (options, shutdown(SHUT_RD), close, abort) are synchronous calls
// to the worker (TcpWorkerPool.control).

import { Address, IPV4_ANY, IPV6_ANY, type FullAddress } from '../stack/address.js';
import {
  ShutdownFlags,
  SockType,
  type Endpoint,
  type IntSockOpt,
  type ReadOptions,
  type ReadResult,
  type SockOpt,
  type SockOptKind,
  type WriteOptions,
} from '../stack/endpoint.js';
import type { Stack } from '../stack/stack.js';
import { TcpipError, TcpipErrors } from '../stack/tcpip_error.js';
import type { TcpEndpoint } from '../transport/tcp/endpoint.js';
import type { TcpProtocol } from '../transport/tcp/protocol.js';
import { EventMask, WaiterQueue } from '../waiter/waiter_queue.js';
import type { TcpWorkerPool, WorkerEndpointSink } from './tcp_worker_pool.js';
import {
  EndpointStateBits as S,
  WriteFlags,
  errorFromCode,
  toWireAddress,
  type ControlReply,
  type WireOption,
} from './wire.js';

const TCP = 6;

/** What a RemoteTcpEndpoint needs from its dispatcher. */
export interface RemoteTcpContext {
  readonly stack: Stack;
  readonly pool: TcpWorkerPool;
  /** The stack-thread TcpProtocol that creates prototypes (never listened or connected). */
  readonly prototypes: TcpProtocol;
}

type Mode = 'unmaterialized' | 'listening' | 'connection';

interface PendingAccept {
  endpoint: RemoteTcpEndpoint;
  peer: FullAddress;
  worker: number;
}

/** The error a control reply carries, or undefined for success. */
function replyError(r: ControlReply): TcpipError | undefined {
  return r.ok ? undefined : errorFromCode(r.error);
}

export class RemoteTcpEndpoint implements Endpoint, WorkerEndpointSink {
  readonly sockType = SockType.STREAM;
  readonly protocol = TCP;

  private mode: Mode = 'unmaterialized';
  /** Stands in for the endpoint until it is materialized; then only owns the stack-side port reservation. */
  private proto: TcpEndpoint | undefined;
  /** Options set before materialization, in order, replayed on the worker ('create'). */
  private readonly recorded: WireOption[] = [];
  private boundNic = 0;
  private id = 0;
  /** The worker of a connection (-1 for listeners and unmaterialized endpoints). */
  private worker = -1;
  private userClosed = false;
  /** A port this endpoint reserves itself in the stack's PortManager (a connection, after dropPrototype). */
  private ownPort = 0;

  // Connection state, as the worker last reported it (STATE) plus what the application did here.
  private bits = 0;
  private everConnected = false;
  private shutRead = false;
  private shutWrite = false;
  private pendingError: TcpipError | undefined;
  private receiveLowWatermark = 1;
  private local: FullAddress | undefined;
  private remote: FullAddress | undefined;

  // Receive queue (DATA) and its credit accounting.
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  private queued = 0;
  private unreportedConsumed = 0;
  // Send credit: bytes the worker's endpoint can still take.
  private sendAvailable = 0;

  // Listener state.
  private backlog = 0;
  private readonly acceptQueue: PendingAccept[] = [];

  /** `withPrototype` false: an accepted connection, which needs none (creating one allocates 32 KiB of buffers). */
  constructor(
    private readonly ctx: RemoteTcpContext,
    readonly family: 4 | 6,
    readonly waiterQueue: WaiterQueue,
    withPrototype = true,
  ) {
    this.proto = withPrototype ? ctx.prototypes.createEndpoint(family) : undefined;
  }

  /** An endpoint accepted by a listener copy on `worker`: already connected there. */
  static accepted(ctx: RemoteTcpContext, family: 4 | 6, worker: number, id: number, local: FullAddress, peer: FullAddress): RemoteTcpEndpoint {
    // Children share the listener's port; they reserve nothing (as TcpEndpoint's children), so need no prototype.
    const ep = new RemoteTcpEndpoint(ctx, family, new WaiterQueue(), false);
    ep.mode = 'connection';
    ep.worker = worker;
    ep.id = id;
    ep.everConnected = true;
    ep.bits = S.CONNECTED;
    ep.sendAvailable = ctx.pool.sendCredit;
    ep.local = local;
    ep.remote = peer;
    ctx.pool.register(worker, id, ep);
    return ep;
  }

  /** Memory the receive queue holds (its chunks' buffers), for tests and diagnostics. */
  get receiveQueueMemory(): number {
    let n = 0;
    for (const c of this.queue) n += c.buffer.byteLength;
    return n;
  }

  /** The worker holding this connection (-1: none or every worker, for a listener). For tests and diagnostics. */
  get workerIndex(): number {
    return this.worker;
  }

  private notify(mask: number): void {
    this.waiterQueue.notify(mask);
  }

  /** A user address in the network family it travels on (ipv6(7): v4-mapped addresses on IPv6 sockets). */
  private toNetAddress(a: Address): Address | TcpipError {
    if (a.family !== this.family) return TcpipErrors.addressFamilyNotSupported;
    if (this.family === 6 && a.isV4Mapped()) return this.optionFlag('v6Only') ? TcpipErrors.networkUnreachable : a.unmapV4();
    return a;
  }

  private toUserAddress(a: Address): Address {
    return this.family === 6 && a.family === 4 ? a.mapToV6() : a;
  }

  private optionFlag(opt: IntSockOpt): boolean {
    const v = this.proto?.getSockOptInt(opt);
    return typeof v === 'number' && v !== 0;
  }

  /**
   * The connection is over (TcpEndpoint's "CLOSED after a connection"). CONNECTED stays set once the handshake
   * completed (the worker's bits are levels), so that end shows as both sides closed; a connect() that is neither
   * CONNECTING nor CONNECTED any more failed (the worker may never report CONNECTING when the refusal arrives
   * before it looks, so WRITE_CLOSED is not required then).
   */
  private get ended(): boolean {
    if (!this.everConnected || this.bits & S.CONNECTING) return false;
    const both = S.READ_CLOSED | S.WRITE_CLOSED;
    return (this.bits & S.CONNECTED) === 0 || (this.bits & both) === both;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Endpoint API

  readiness(mask: number): number {
    if (this.mode === 'unmaterialized') return this.proto ? this.proto.readiness(mask) : 0;
    let r = 0;
    if (this.mode === 'listening') {
      if (this.acceptQueue.length > 0) r |= EventMask.IN | EventMask.RDNORM;
      return r & (mask | EventMask.ERR | EventMask.HUP);
    }
    // The rules of TcpEndpoint.readiness (Linux's tcp_poll) over the worker's reported state.
    const connecting = (this.bits & S.CONNECTING) !== 0;
    const ended = this.ended;
    const rcvShut = this.shutRead || (this.bits & S.READ_CLOSED) !== 0 || ended;
    const sndShut = this.shutWrite || (this.bits & S.WRITE_CLOSED) !== 0 || ended;
    if (ended || (rcvShut && sndShut)) r |= EventMask.HUP;
    if (rcvShut) r |= EventMask.IN | EventMask.RDNORM | EventMask.RDHUP;
    if (!connecting) {
      if (this.queued >= this.receiveLowWatermark) r |= EventMask.IN | EventMask.RDNORM;
      // sk_stream_is_writeable over the credit: free space at least half of what is still queued for the worker.
      const inUse = this.ctx.pool.sendCredit - this.sendAvailable;
      if (sndShut || (this.sendAvailable > 0 && this.sendAvailable >= inUse / 2)) r |= EventMask.OUT | EventMask.WRNORM;
    }
    if (this.pendingError) r |= EventMask.ERR;
    return r & (mask | EventMask.ERR | EventMask.HUP);
  }

  bind(addr: FullAddress): TcpipError | undefined {
    if (this.mode !== 'unmaterialized' || !this.proto) return TcpipErrors.invalidEndpointState;
    const err = this.proto.bind(addr);
    if (!err) this.boundNic = addr.nic ?? 0;
    return err;
  }

  listen(backlog: number): TcpipError | undefined {
    const pool = this.ctx.pool;
    if (this.mode === 'listening') {
      // listen(2) again only updates the backlog.
      this.backlog = this.clampBacklog(backlog);
      for (let w = 0; w < pool.workerCount; w++) pool.controlAsync(w, { op: 'listen', ep: this.id, backlog: this.backlog });
      return undefined;
    }
    if (this.mode !== 'unmaterialized' || !this.proto || this.userClosed) return TcpipErrors.invalidEndpointState;
    const proto = this.proto;
    let bound = proto.getLocalAddress() as FullAddress;
    if (bound.port === 0) {
      const err = proto.bind({ address: this.family === 4 ? IPV4_ANY : IPV6_ANY, port: 0 });
      if (err) return err;
      bound = proto.getLocalAddress() as FullAddress;
    }
    const err = this.ctx.stack.ports.setListening(TCP, bound.port, proto, true);
    if (err) return err;
    pool.syncRoutes();
    this.backlog = this.clampBacklog(backlog);
    this.id = pool.allocateId();
    const local = toWireAddress({ ...bound, nic: this.boundNic });
    const created: number[] = [];
    for (let w = 0; w < pool.workerCount; w++) {
      if (!pool.isWorkerAlive(w)) continue;
      // One round trip per worker: if 'create' failed, 'listen' fails too (unknown id: InvalidEndpointState). The
      // prototype already validated the options and the stack reserved the port, so neither is expected to.
      pool.controlAsync(w, { op: 'create', ep: this.id, family: this.family, options: this.recorded, local });
      created.push(w);
      const e = replyError(pool.control(w, { op: 'listen', ep: this.id, backlog: this.backlog }));
      // A worker that died during the call (hung past the control timeout, or crashed) is simply not one of the
      // listener's copies: its share of flows goes to the live workers (TcpWorkerPool.workerFor).
      if (e && !pool.isWorkerAlive(w)) {
        created.pop();
        continue;
      }
      if (e) {
        for (const c of created) pool.controlAsync(c, { op: 'close', ep: this.id });
        this.ctx.stack.ports.setListening(TCP, bound.port, proto, false);
        return e;
      }
    }
    if (created.length === 0) {
      this.ctx.stack.ports.setListening(TCP, bound.port, proto, false);
      return TcpipErrors.noBufferSpace;
    }
    for (const w of created) pool.register(w, this.id, this);
    this.mode = 'listening';
    return undefined;
  }

  private clampBacklog(backlog: number): number {
    // listen(2): values above somaxconn are silently truncated; negative values act as 0.
    return Math.max(0, Math.min(backlog | 0, this.ctx.prototypes.settings.somaxconn));
  }

  accept(): { endpoint: Endpoint; peer: FullAddress } | TcpipError {
    if (this.mode !== 'listening') return TcpipErrors.invalidEndpointState;
    const a = this.acceptQueue.shift();
    if (!a) return TcpipErrors.wouldBlock;
    // Return the accept credit to the copy that forwarded it.
    this.ctx.pool.postConsumed(a.worker, this.id, 1);
    return { endpoint: a.endpoint, peer: a.peer };
  }

  connect(addr: FullAddress): TcpipError | undefined {
    if (this.mode === 'listening') return TcpipErrors.alreadyConnected;
    if (this.mode === 'connection') {
      if (this.bits & S.CONNECTING) return TcpipErrors.alreadyConnecting;
      // connect(2) on a socket whose connection ended: report what ended it, else EISCONN.
      if (this.ended) return this.takeError() ?? TcpipErrors.alreadyConnected;
      return TcpipErrors.alreadyConnected;
    }
    const proto = this.proto;
    if (!proto || this.userClosed) return TcpipErrors.invalidEndpointState;
    const remote = this.toNetAddress(addr.address);
    if (!(remote instanceof Address)) return remote;
    const bound = proto.getLocalAddress() as FullAddress;
    let localNet: Address | undefined;
    if (!bound.address.isUnspecified()) {
      const n = this.toNetAddress(bound.address);
      if (!(n instanceof Address)) return n;
      localNet = n;
    }
    if (localNet && localNet.family !== remote.family) return TcpipErrors.networkUnreachable;
    const route = this.ctx.stack.findRoute(addr.nic ?? this.boundNic, localNet, remote);
    if (route instanceof TcpipError) return route;
    let port = bound.port;
    if (port === 0) {
      // The ephemeral port is reserved here, in the stack's PortManager, for the route's local address (as
      // TcpEndpoint.connect does).
      const err = proto.bind({ address: this.toUserAddress(route.localAddress), port: 0 });
      if (err) return err;
      port = (proto.getLocalAddress() as FullAddress).port;
    }
    const pool = this.ctx.pool;
    pool.syncRoutes();
    const local = { address: this.toUserAddress(route.localAddress), port, nic: this.boundNic };
    for (let attempt = 0; ; attempt++) {
      const w = pool.workerFor(remote, addr.port, route.localAddress, port);
      const e = this.connectOn(w, local, remote, addr);
      if (!e) {
        this.dropPrototype();
        return TcpipErrors.connectStarted;
      }
      // A worker that died during the call (it hung past the control timeout, or crashed) answers ConnectionAborted
      // for a connection that never existed: the flow belongs to a live worker now (workerFor), so try it there.
      if (pool.isWorkerAlive(w) || pool.isClosed || attempt + 1 >= pool.workerCount) return e;
    }
  }

  /** Creates the connection on worker `w` and starts it; on a refusal the socket is left as it was, unconnected. */
  private connectOn(w: number, local: FullAddress & { nic: number }, remote: Address, addr: FullAddress): TcpipError | undefined {
    const pool = this.ctx.pool;
    const id = pool.allocateId();
    // 'create' needs no answer of its own: if it failed, 'connect' fails too (unknown id) and is reverted below.
    pool.controlAsync(w, { op: 'create', ep: id, family: this.family, options: this.recorded, local: toWireAddress(local) });
    this.mode = 'connection';
    this.worker = w;
    this.id = id;
    this.everConnected = true;
    this.bits = S.CONNECTING;
    this.sendAvailable = pool.sendCredit;
    this.local = { address: local.address, port: local.port };
    this.remote = { address: this.toUserAddress(remote), port: addr.port };
    pool.register(w, id, this);
    const r = pool.control(w, { op: 'connect', ep: id, remote: toWireAddress({ address: addr.address, port: addr.port, nic: addr.nic ?? 0 }) });
    const e = replyError(r);
    if (!e || e === TcpipErrors.connectStarted) return undefined;
    // The worker refused synchronously (TcpEndpoint.connect's own errors, e.g. no route in its snapshot): the
    // socket stays as it was, unconnected, as TcpEndpoint's does, without an error the failed attempt left behind
    // (onWorkerGone sets one when the worker dies during the call).
    pool.unregister(w, id, this);
    pool.controlAsync(w, { op: 'close', ep: id });
    this.mode = 'unmaterialized';
    this.worker = -1;
    this.everConnected = false;
    this.bits = 0;
    this.pendingError = undefined;
    this.local = this.remote = undefined;
    return e;
  }

  disconnect(): TcpipError | undefined {
    if (this.mode !== 'connection' || this.ended) return undefined;
    this.ctx.pool.controlAsync(this.worker, { op: 'abort', ep: this.id });
    return undefined;
  }

  read(dst: Uint8Array, opts?: ReadOptions): ReadResult | TcpipError {
    if (this.mode === 'unmaterialized') return this.proto ? this.proto.read(dst, opts) : TcpipErrors.notConnected;
    if (this.mode === 'listening') return TcpipErrors.notConnected;
    if (this.queued > 0) {
      const n = this.copyOut(dst, opts?.peek === true);
      return { count: n, total: n };
    }
    const err = this.takeError();
    if (err) return err;
    if (this.shutRead || (this.bits & S.READ_CLOSED) || this.ended) return TcpipErrors.closedForReceive;
    return TcpipErrors.wouldBlock;
  }

  /** Copies queued bytes into dst; unless peeking, consumes them and returns receive credit in batches. */
  private copyOut(dst: Uint8Array, peek: boolean): number {
    let n = 0;
    let i = 0;
    let off = this.queueHead;
    while (n < dst.length && i < this.queue.length) {
      const c = this.queue[i]!;
      const take = Math.min(c.length - off, dst.length - n);
      dst.set(c.subarray(off, off + take), n);
      n += take;
      off += take;
      if (off === c.length) {
        i++;
        off = 0;
      }
    }
    if (peek) return n;
    for (let k = 0; k < i; k++) this.ctx.pool.returnDataChunk(this.queue[k]!);
    this.queue.splice(0, i);
    this.queueHead = off;
    this.queued -= n;
    this.unreportedConsumed += n;
    // Credit goes back once a quarter of it is used up, or at once when the queue runs dry (the worker may be
    // holding bytes back for want of credit).
    if (this.unreportedConsumed >= this.ctx.pool.receiveCredit / 4 || this.queued === 0) this.reportConsumed();
    return n;
  }

  private reportConsumed(): void {
    if (this.unreportedConsumed === 0 || this.mode !== 'connection') return;
    this.ctx.pool.postConsumed(this.worker, this.id, this.unreportedConsumed);
    this.unreportedConsumed = 0;
  }

  write(src: Uint8Array, opts?: WriteOptions): number | TcpipError {
    if (this.shutWrite) return TcpipErrors.closedForSend;
    if (this.mode === 'unmaterialized') return this.proto ? this.proto.write(src, opts) : TcpipErrors.closedForSend;
    // Linux's tcp_sendmsg answers EPIPE on a socket that is not connected, listening included.
    if (this.mode === 'listening') return TcpipErrors.closedForSend;
    if (this.bits & S.CONNECTING) return TcpipErrors.wouldBlock;
    if (!(this.bits & S.CONNECTED) || (this.bits & S.WRITE_CLOSED)) return this.takeError() ?? TcpipErrors.closedForSend;
    if (src.length === 0) return 0;
    const n = Math.min(src.length, this.sendAvailable);
    if (n === 0) return TcpipErrors.wouldBlock;
    this.sendAvailable -= n;
    this.ctx.pool.postWrite(this.worker, this.id, opts?.more ? WriteFlags.MORE : 0, src, 0, n);
    return n;
  }

  shutdown(flags: number): TcpipError | undefined {
    const pool = this.ctx.pool;
    if (this.mode === 'unmaterialized') return this.proto ? this.proto.shutdown(flags) : TcpipErrors.notConnected;
    if (this.mode === 'listening') {
      // Linux: shutdown(SHUT_RD) on a listener stops it; TcpEndpoint closes the listener (the port stays bound).
      if (flags & ShutdownFlags.READ) this.stopListening();
      return undefined;
    }
    if (flags & ShutdownFlags.READ && !this.shutRead) {
      this.shutRead = true;
      pool.controlAsync(this.worker, { op: 'shutdown', ep: this.id, flags: ShutdownFlags.READ });
      this.notify(EventMask.IN | EventMask.RDHUP);
    }
    if (flags & ShutdownFlags.WRITE && !this.shutWrite) {
      this.shutWrite = true;
      // After the bytes already written: the worker sends FIN once they are out (WriteFlags.END).
      pool.postWrite(this.worker, this.id, WriteFlags.END, new Uint8Array(0));
      this.notify(EventMask.OUT);
    }
    return undefined;
  }

  /** Stops every listener copy and resets the connections accepted but not yet taken (as closeListener). */
  private stopListening(): void {
    const pool = this.ctx.pool;
    for (let w = 0; w < pool.workerCount; w++) {
      pool.unregister(w, this.id, this);
      pool.controlAsync(w, { op: 'close', ep: this.id });
    }
    for (const a of this.acceptQueue.splice(0)) a.endpoint.resetAndClose();
    const bound = this.proto?.getLocalAddress();
    if (this.proto && bound && !(bound instanceof TcpipError)) this.ctx.stack.ports.setListening(TCP, bound.port, this.proto, false);
    this.mode = 'unmaterialized';
    this.notify(EventMask.IN | EventMask.HUP);
  }

  /** A connection nobody will accept: RST to the peer, then release it on its worker. */
  private resetAndClose(): void {
    this.userClosed = true;
    if (this.mode !== 'connection') return;
    this.ctx.pool.controlAsync(this.worker, { op: 'abort', ep: this.id });
    this.ctx.pool.controlAsync(this.worker, { op: 'close', ep: this.id });
  }

  close(): void {
    if (this.userClosed) return;
    this.userClosed = true;
    const pool = this.ctx.pool;
    if (this.mode === 'listening') {
      this.stopListening();
      this.releasePort();
      return;
    }
    if (this.mode === 'unmaterialized') {
      this.releasePort();
      return;
    }
    // RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread received data resets the connection (as TcpEndpoint).
    // The worker decides: it counts the DATA bytes it sent that were not reported read, which includes those still
    // crossing TO_STACK now; so every byte read is reported first, and the unread ones never.
    this.reportConsumed();
    for (const c of this.queue) this.ctx.pool.returnDataChunk(c);
    this.queue.length = 0;
    this.queued = 0;
    // close(2): bytes already written are still flushed by the worker, then FIN (or linger/reset per options).
    pool.controlAsync(this.worker, { op: 'close', ep: this.id });
    // The stack-side port reservation goes with the worker's endpoint (RELEASED), as TcpEndpoint's goes at release.
    if (!pool.isWorkerAlive(this.worker)) this.releasePort();
  }

  private releasePort(): void {
    const p = this.proto;
    this.proto = undefined;
    p?.close();
    if (this.ownPort !== 0) this.ctx.stack.ports.release(TCP, this.ownPort, this);
    this.ownPort = 0;
  }

  /**
   * A connection needs its prototype no more (options, shutdown and close go to the worker; connect() cannot be
   * called again), but the prototype's buffers (32 KiB) would stay for the connection's life on top of the worker's
   * endpoint's: the port reservation passes to this endpoint, with the fields TcpEndpoint.bind reserved it with,
   * and the prototype goes.
   */
  private dropPrototype(): void {
    const proto = this.proto;
    if (!proto) return;
    const bound = proto.getLocalAddress();
    if (bound instanceof TcpipError || bound.port === 0) return;
    const local = bound.address.isUnspecified() ? undefined : this.toNetAddress(bound.address);
    if (local instanceof TcpipError) return;
    const dualStack = this.family === 6 && !this.optionFlag('v6Only');
    const reservation = {
      transport: TCP,
      families: local ? [local.family] : dualStack ? [4, 6] as const : [this.family],
      address: local,
      port: bound.port,
      nic: this.boundNic,
      reuseAddress: this.optionFlag('reuseAddress'),
      reusePort: this.optionFlag('reusePort'),
      owner: this,
    };
    this.proto = undefined;
    proto.close(); // releases the prototype's reservation: nothing runs between this and the next line
    const port = this.ctx.stack.ports.reserve(reservation);
    if (typeof port === 'number') this.ownPort = port;
  }

  /** Whether a stack-thread prototype TcpEndpoint still backs this socket (diagnostics: a connection has none). */
  get hasPrototype(): boolean {
    return this.proto !== undefined;
  }

  private takeError(): TcpipError | undefined {
    const e = this.pendingError;
    this.pendingError = undefined;
    return e;
  }

  lastError(): TcpipError | undefined {
    if (this.mode === 'unmaterialized') return this.proto?.lastError();
    return this.takeError();
  }

  getLocalAddress(): FullAddress | TcpipError {
    if (this.mode === 'connection' && this.local) return { address: this.local.address, port: this.local.port };
    if (this.proto) return this.proto.getLocalAddress();
    return { address: this.family === 4 ? IPV4_ANY : IPV6_ANY, port: 0 };
  }

  getRemoteAddress(): FullAddress | TcpipError {
    if (this.mode !== 'connection' || !this.remote) return TcpipErrors.notConnected;
    return { address: this.remote.address, port: this.remote.port };
  }

  setSockOptInt(opt: IntSockOpt, value: number): TcpipError | undefined {
    if (this.mode === 'unmaterialized') {
      if (!this.proto) return TcpipErrors.invalidEndpointState;
      const err = this.proto.setSockOptInt(opt, value);
      if (err) return err;
      this.record({ int: opt, value });
      if (opt === 'receiveLowWatermark') this.receiveLowWatermark = Math.max(1, value);
      return undefined;
    }
    if (!Number.isInteger(value)) return TcpipErrors.invalidOptionValue;
    if (this.mode === 'listening' && this.proto) {
      // The prototype answers a listener's getSockOptInt: keep it current (and let it validate first).
      const e = this.proto.setSockOptInt(opt, value);
      if (e) return e;
    }
    const err = this.onWorkers((w) => this.ctx.pool.control(w, { op: 'setInt', ep: this.id, name: opt, value }));
    if (!err && opt === 'receiveLowWatermark') this.receiveLowWatermark = Math.max(1, value);
    return err;
  }

  getSockOptInt(opt: IntSockOpt): number | TcpipError {
    if (this.mode === 'unmaterialized' || (this.mode === 'listening' && opt !== 'acceptConn')) {
      if (!this.proto) return TcpipErrors.invalidEndpointState;
      if (opt === 'acceptConn') return 0;
      return this.proto.getSockOptInt(opt);
    }
    if (this.mode === 'listening') return 1; // acceptConn
    const r = this.ctx.pool.control(this.worker, { op: 'getInt', ep: this.id, name: opt });
    if (!r.ok) return errorFromCode(r.error);
    const v = typeof r.value === 'number' ? r.value : 0;
    // The stack thread's queues are part of the socket's buffers: FIONREAD counts bytes waiting here too, and
    // SIOCOUTQ the bytes written but not yet taken by the worker.
    if (opt === 'receiveQueueSize') return v + this.queued;
    if (opt === 'sendQueueSize') return v + (this.ctx.pool.sendCredit - this.sendAvailable);
    return v;
  }

  setSockOpt(opt: SockOpt): TcpipError | undefined {
    if (this.mode === 'unmaterialized') {
      if (!this.proto) return TcpipErrors.invalidEndpointState;
      const err = this.proto.setSockOpt(opt);
      if (err) return err;
      // TCP accepts only plain-data options (linger, congestionControl), so the record is JSON as it stands.
      this.record({ opt: { ...opt } as Record<string, unknown> });
      return undefined;
    }
    if (this.mode === 'listening' && this.proto) {
      const e = this.proto.setSockOpt(opt);
      if (e) return e;
    }
    return this.onWorkers((w) => this.ctx.pool.control(w, { op: 'set', ep: this.id, opt: { ...opt } as Record<string, unknown> }));
  }

  getSockOpt<K extends SockOptKind>(kind: K): Extract<SockOpt, { kind: K }> | TcpipError {
    if (this.mode !== 'connection') {
      if (!this.proto) return TcpipErrors.invalidEndpointState;
      return this.proto.getSockOpt(kind);
    }
    const r = this.ctx.pool.control(this.worker, { op: 'get', ep: this.id, kind });
    if (!r.ok) return errorFromCode(r.error);
    return r.value as Extract<SockOpt, { kind: K }>;
  }

  /**
   * Remembers an option to replay on the worker; a later setting of the same option replaces the earlier one (so
   * the list, and the 'create' request carrying it, stay small however often the application sets options).
   */
  private record(o: WireOption): void {
    const key = 'int' in o ? `int:${o.int}` : `opt:${String(o.opt['kind'])}`;
    const i = this.recorded.findIndex((r) => ('int' in r ? `int:${r.int}` : `opt:${String(r.opt['kind'])}`) === key);
    if (i >= 0) this.recorded.splice(i, 1);
    this.recorded.push(o);
  }

  /** Runs a control op on the connection's worker, or on every listener copy (the first error wins). */
  private onWorkers(op: (worker: number) => ControlReply): TcpipError | undefined {
    if (this.mode === 'connection') return replyError(op(this.worker));
    let first: TcpipError | undefined;
    for (let w = 0; w < this.ctx.pool.workerCount; w++) {
      if (!this.ctx.pool.isWorkerAlive(w)) continue;
      first ??= replyError(op(w));
    }
    return first;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Records from the worker (WorkerEndpointSink)

  onData(bytes: Uint8Array, offset: number, length: number): void {
    if (length === 0) return;
    if (this.userClosed) {
      // Nobody will read it: give the credit straight back so the worker is never stuck on it.
      this.ctx.pool.postConsumed(this.worker, this.id, length);
      return;
    }
    // Into the room left in the last chunk when it fits (TcpWorkerPool.appendToDataChunk bounds the memory a queue
    // of small records holds), else a new chunk.
    const last = this.queue.length - 1;
    const grown = last >= 0 ? this.ctx.pool.appendToDataChunk(this.queue[last]!, bytes, offset, length) : undefined;
    if (grown) this.queue[last] = grown;
    else this.queue.push(this.ctx.pool.copyDataChunk(bytes, offset, length));
    this.queued += length;
    this.notify(EventMask.IN | EventMask.RDNORM);
  }

  onState(bits: number, error: TcpipError | undefined): void {
    const was = this.bits;
    this.bits = bits;
    if (error) this.pendingError = error;
    if (bits & S.RELEASED) {
      this.ctx.pool.unregister(this.worker, this.id, this);
      // RELEASED comes once the worker's endpoint is CLOSED, after any TIME-WAIT (wire.ts): the port is free there
      // now, so it is here too (TcpEndpoint likewise keeps its port through TIME-WAIT).
      if (this.userClosed) this.releasePort();
    }
    if (was !== bits || error) this.notify(EventMask.IN | EventMask.OUT | EventMask.HUP | EventMask.RDHUP | (error ? EventMask.ERR : 0));
  }

  onSendCredit(bytes: number): void {
    this.sendAvailable = Math.min(this.ctx.pool.sendCredit, this.sendAvailable + bytes);
    this.notify(EventMask.OUT | EventMask.WRNORM);
  }

  onAccepted(worker: number, id: number, _family: 4 | 6, peer: Address, peerPort: number, local: Address, localPort: number): boolean {
    if (this.mode !== 'listening' || this.userClosed) return false;
    const peerAddr = { address: this.toUserAddress(peer), port: peerPort };
    const ep = RemoteTcpEndpoint.accepted(this.ctx, this.family, worker, id, { address: this.toUserAddress(local), port: localPort }, peerAddr);
    this.acceptQueue.push({ endpoint: ep, peer: peerAddr, worker });
    this.notify(EventMask.IN | EventMask.RDNORM);
    return true;
  }

  onWorkerGone(worker: number, error: TcpipError | undefined): void {
    if (this.mode === 'listening') {
      // The other copies keep listening; connections from the dead worker in the queue died with it.
      for (let i = this.acceptQueue.length - 1; i >= 0; i--) if (this.acceptQueue[i]!.worker === worker) this.acceptQueue.splice(i, 1);
      return;
    }
    if (this.mode !== 'connection' || worker !== this.worker) return;
    this.bits = S.READ_CLOSED | S.WRITE_CLOSED;
    if (error && !this.userClosed) this.pendingError = error;
    if (this.userClosed) this.releasePort();
    this.notify(EventMask.IN | EventMask.OUT | EventMask.HUP | EventMask.ERR | EventMask.RDHUP);
  }
}

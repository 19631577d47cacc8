// Event-driven wrapper around a connected stream Endpoint for the tool's services: turns readiness notifications
// into onData/onDrain/onEnd callbacks and queues writes the endpoint cannot take yet (backpressure: `writable`
// goes false while bytes are queued, and onDrain fires when the queue empties).

import type { Endpoint } from '../stack/endpoint.js';
import { ShutdownFlags } from '../stack/endpoint.js';
import { TcpipError } from '../stack/tcpip_error.js';
import { EventMask, type WaiterEntry } from '../waiter/waiter_queue.js';

export interface StreamHandlers {
  onData?(data: Uint8Array): void;
  /** The write queue emptied (call write() again to continue a long response). */
  onDrain?(): void;
  /** The peer finished sending (read returned end of stream). */
  onEnd?(): void;
  /** Reset, timeout, or other error; the connection is closed after this. */
  onError?(err: TcpipError): void;
}

const READ_CHUNK = 64 * 1024;

export class StreamConnection {
  private readonly entry: WaiterEntry;
  private readonly pending: Uint8Array[] = [];
  private readonly readBuf = new Uint8Array(READ_CHUNK);
  private closed = false;
  private ended = false;
  private closeAfterFlush = false;
  /** While paused, received data stays in the endpoint (the peer's window closes). */
  paused = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly handlers: StreamHandlers,
  ) {
    this.entry = { mask: EventMask.IN | EventMask.OUT | EventMask.ERR | EventMask.HUP | EventMask.RDHUP, callback: () => this.poll() };
    endpoint.waiterQueue.register(this.entry);
    queueMicrotask(() => this.poll());
  }

  get writable(): boolean {
    return this.pending.length === 0 && !this.closed;
  }

  /** Queues `data` (copied only if the endpoint does not take it all now). Returns `writable`. */
  write(data: Uint8Array): boolean {
    if (this.closed || data.length === 0) return this.writable;
    if (this.pending.length === 0) {
      const n = this.endpoint.write(data);
      if (n instanceof TcpipError) {
        if (n.code !== 'WouldBlock') {
          this.fail(n);
          return false;
        }
      } else if (n === data.length) {
        return true;
      } else {
        data = data.subarray(n);
      }
    }
    this.pending.push(data.slice());
    return false;
  }

  /** Half-close after everything queued is sent (shutdown(SHUT_WR)). */
  end(): void {
    this.closeAfterFlush = true;
    this.flushPending();
  }

  resume(): void {
    this.paused = false;
    queueMicrotask(() => this.poll());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.endpoint.waiterQueue.unregister(this.entry);
    this.endpoint.close();
  }

  private fail(err: TcpipError): void {
    if (this.closed) return;
    this.handlers.onError?.(err);
    this.close();
  }

  private flushPending(): void {
    while (this.pending.length > 0 && !this.closed) {
      const head = this.pending[0]!;
      const n = this.endpoint.write(head);
      if (n instanceof TcpipError) {
        if (n.code === 'WouldBlock') return;
        this.fail(n);
        return;
      }
      if (n < head.length) {
        this.pending[0] = head.subarray(n);
        return;
      }
      this.pending.shift();
    }
    if (this.closed) return;
    if (this.closeAfterFlush) {
      this.closeAfterFlush = false;
      this.endpoint.shutdown(ShutdownFlags.WRITE);
      if (this.ended) this.close();
      return;
    }
    this.handlers.onDrain?.();
  }

  private poll(): void {
    if (this.closed) return;
    const ready = this.endpoint.readiness(EventMask.IN | EventMask.OUT);
    if ((ready & EventMask.OUT) !== 0 && (this.pending.length > 0 || this.closeAfterFlush)) this.flushPending();
    if (this.closed) return;
    if ((ready & (EventMask.IN | EventMask.HUP | EventMask.ERR)) !== 0 && !this.paused && !this.ended) {
      for (;;) {
        const r = this.endpoint.read(this.readBuf);
        if (r instanceof TcpipError) {
          if (r.code === 'WouldBlock') break;
          if (r.code === 'ClosedForReceive') {
            this.ended = true;
            this.handlers.onEnd?.();
            break;
          }
          this.fail(r);
          return;
        }
        if (r.count === 0) {
          this.ended = true;
          this.handlers.onEnd?.();
          break;
        }
        this.handlers.onData?.(this.readBuf.subarray(0, r.count));
        if (this.closed || this.paused) return;
      }
    }
    const err = this.endpoint.lastError();
    if (err) this.fail(err);
  }
}

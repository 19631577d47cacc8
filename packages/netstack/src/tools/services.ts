// The small Internet services the standalone tool serves over netstack, on UDP and TCP, IPv4 and IPv6:
// echo (RFC 862, port 7), discard (RFC 863, port 9) and character generator (RFC 864, port 19).

import { Address } from '../stack/address.js';
import type { Endpoint } from '../stack/endpoint.js';
import type { Stack } from '../stack/stack.js';
import { TcpipError } from '../stack/tcpip_error.js';
import { EventMask, WaiterQueue } from '../waiter/waiter_queue.js';
import { StreamConnection } from './stream_connection.js';

export const ECHO_PORT = 7;
export const DISCARD_PORT = 9;
export const CHARGEN_PORT = 19;

/** Something listening that can be stopped. */
export interface Service {
  close(): void;
}

const CHARGEN_LINE_BYTES = 74; // 72 printable characters + CR LF
const CHARGEN_CYCLE_LINES = 95; // line n starts at character n mod 95, so the text repeats every 95 lines

/** One whole cycle of the RFC 864 text, made once: the service then copies slices instead of computing bytes. */
const chargenCycle: Uint8Array = (() => {
  const out = new Uint8Array(CHARGEN_CYCLE_LINES * CHARGEN_LINE_BYTES);
  for (let l = 0; l < CHARGEN_CYCLE_LINES; l++) {
    for (let i = 0; i < 72; i++) out[l * CHARGEN_LINE_BYTES + i] = 32 + ((l + i) % 95);
    out[l * CHARGEN_LINE_BYTES + 72] = 13;
    out[l * CHARGEN_LINE_BYTES + 73] = 10;
  }
  return out;
})();

/** RFC 864: lines of 72 printable characters, each starting one character further along the 95-character set. */
export function chargenLines(count: number, start = 0): Uint8Array {
  const out = new Uint8Array(count * CHARGEN_LINE_BYTES);
  let at = 0;
  let from = (start % CHARGEN_CYCLE_LINES) * CHARGEN_LINE_BYTES;
  while (at < out.length) {
    const take = Math.min(chargenCycle.length - from, out.length - at);
    out.set(chargenCycle.subarray(from, from + take), at);
    at += take;
    from = 0;
  }
  return out;
}

/** Lines per TCP chargen write: about 64 KiB, so one write can fill a GSO super-packet. */
const CHARGEN_BLOCK_LINES = 885;
/**
 * The text from line 0 on, long enough that a whole block starts at every line of the cycle: a block is a view of
 * it, never a fresh copy (the tool's download benchmark measured allocating and filling each block at a quarter of
 * the tool's CPU). Nothing writes to it; the stream's writes copy it into the send buffer.
 */
const chargenStream: Uint8Array = chargenLines(CHARGEN_BLOCK_LINES + CHARGEN_CYCLE_LINES - 1);

/** CHARGEN_BLOCK_LINES lines from line `start` of the cycle, as a read-only view. */
function chargenBlock(start: number): Uint8Array {
  const from = (start % CHARGEN_CYCLE_LINES) * CHARGEN_LINE_BYTES;
  return chargenStream.subarray(from, from + CHARGEN_BLOCK_LINES * CHARGEN_LINE_BYTES);
}

function fail(what: string, e: TcpipError): never {
  const err = new Error(`${what}: ${e.message}`) as Error & { code: string; errno: number };
  err.code = e.code;
  err.errno = e.errno;
  throw err;
}

function newBound(stack: Stack, protocol: number, family: 4 | 6, port: number): Endpoint {
  const ep = stack.newEndpoint(protocol, family, new WaiterQueue());
  if (ep instanceof TcpipError) fail(`socket(${family}, ${protocol})`, ep);
  if (family === 6) ep.setSockOptInt('v6Only', 1);
  ep.setSockOptInt('reuseAddress', 1);
  const e = ep.bind({ address: Address.parse(family === 4 ? '0.0.0.0' : '::'), port });
  if (e) fail(`bind port ${port}/${protocol === 6 ? 'tcp' : 'udp'} (IPv${family})`, e);
  return ep;
}

export type DatagramKind = 'echo' | 'discard' | 'chargen';

/** A UDP service on both families. */
export function serveUdp(stack: Stack, port: number, kind: DatagramKind, families: (4 | 6)[] = [4, 6]): Service {
  const eps = families.map((f) => newBound(stack, 17, f, port));
  const buf = new Uint8Array(65536);
  const unsub = eps.map((ep) =>
    ep.waiterQueue.subscribe(EventMask.IN, () => {
      for (;;) {
        const r = ep.read(buf, { needRemoteAddress: true });
        if (r instanceof TcpipError) break;
        if (!r.remoteAddress) continue;
        if (kind === 'echo') ep.write(buf.subarray(0, r.count), { to: r.remoteAddress });
        else if (kind === 'chargen') {
          // RFC 864 UDP: answer each datagram with one of 0-512 characters.
          const n = Math.floor(Math.random() * 513);
          ep.write(chargenLines(7).subarray(0, n), { to: r.remoteAddress });
        }
      }
    }),
  );
  return {
    close: () => {
      unsub.forEach((u) => u());
      eps.forEach((e) => e.close());
    },
  };
}

/** Accepts TCP connections on both families and hands each to `onConnection`. */
export function listenTcp(stack: Stack, port: number, onConnection: (ep: Endpoint) => void, families: (4 | 6)[] = [4, 6], backlog = 128): Service {
  const eps = families.map((f) => newBound(stack, 6, f, port));
  for (const ep of eps) {
    const e = ep.listen(backlog);
    if (e) fail(`listen port ${port}`, e);
  }
  const unsub = eps.map((ep) => {
    const drain = () => {
      for (;;) {
        const a = ep.accept();
        if (a instanceof TcpipError) break;
        onConnection(a.endpoint);
      }
    };
    queueMicrotask(drain);
    return ep.waiterQueue.subscribe(EventMask.IN, drain);
  });
  return {
    close: () => {
      unsub.forEach((u) => u());
      eps.forEach((e) => e.close());
    },
  };
}

/** Byte counts a TCP service keeps (printed with the tool's statistics; lets tests check that nothing was lost). */
export interface StreamServiceStats {
  bytesReceived: number;
}

export function serveTcp(stack: Stack, port: number, kind: DatagramKind, families: (4 | 6)[] = [4, 6], stats?: StreamServiceStats): Service {
  return listenTcp(stack, port, (ep) => {
    if (kind === 'echo') {
      const c: StreamConnection = new StreamConnection(ep, {
        onData: (d) => {
          // Backpressure: stop reading while the echo cannot be sent.
          if (!c.write(d)) c.paused = true;
        },
        onDrain: () => {
          if (c.paused) c.resume();
        },
        onEnd: () => c.end(),
        onError: () => {},
      });
    } else if (kind === 'discard') {
      const c: StreamConnection = new StreamConnection(ep, {
        onData: (d) => {
          if (stats) stats.bytesReceived += d.length;
        },
        onEnd: () => c.close(),
        onError: () => {},
      });
    } else {
      let line = 0;
      const block = () => {
        const b = chargenBlock(line);
        line = (line + CHARGEN_BLOCK_LINES) % CHARGEN_CYCLE_LINES;
        return b;
      };
      const pump = () => {
        while (c.write(block()));
      };
      const c: StreamConnection = new StreamConnection(ep, { onDrain: pump, onEnd: () => c.close(), onError: () => {} });
      queueMicrotask(pump);
    }
  }, families);
}

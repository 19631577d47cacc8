// A small HTTP/1.1 file server on netstack TCP endpoints (RFC 9112 message syntax, RFC 9110 semantics): GET and
// HEAD of regular files under a root directory, Content-Length, persistent connections (keep-alive by default in
// HTTP/1.1, opt-in for HTTP/1.0), pipelined requests answered in order, 400/404/405/431/505 errors.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Endpoint } from '../stack/endpoint.js';
import type { Stack } from '../stack/stack.js';
import { listenTcp, type Service } from './services.js';
import { StreamConnection } from './stream_connection.js';

const MAX_HEADER_BYTES = 16 * 1024;
/**
 * Most request bytes held while a response is in progress (pipelined requests waiting their turn). Beyond it the
 * connection stops reading, so the peer's TCP window closes instead of this buffer growing with whatever it sends.
 */
const MAX_BUFFERED_BYTES = 4 * MAX_HEADER_BYTES;
const FILE_CHUNK = 256 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
};

export interface HttpServerStats {
  requests: number;
  responses: Record<number, number>;
  bytesSent: number;
}

export interface HttpRequestHead {
  method: string;
  target: string;
  version: '1.0' | '1.1';
  headers: Map<string, string>;
}

/** Parses a request head (without the final CRLFCRLF). Returns a status code for malformed input. */
export function parseRequestHead(text: string): HttpRequestHead | number {
  const lines = text.split('\r\n');
  const m = /^([A-Z!#$%&'*+.^_`|~0-9-]+) (\S+) HTTP\/(\d)\.(\d)$/.exec(lines[0] ?? '');
  if (!m) return 400;
  if (m[3] !== '1') return 505;
  const version = m[4] === '0' ? '1.0' : '1.1';
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const c = line.indexOf(':');
    // RFC 9112 5.1: no whitespace between the field name and the colon; obsolete line folding is rejected.
    if (c <= 0 || /\s/.test(line.slice(0, c))) return 400;
    const name = line.slice(0, c).toLowerCase();
    const value = line.slice(c + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  // RFC 9112 3.2: a 1.1 request without Host is a 400.
  if (version === '1.1' && !headers.has('host')) return 400;
  return { method: m[1]!, target: m[2]!, version, headers };
}

/** Maps a request target to a file under `root`, or undefined if it escapes the root or is malformed. */
export function resolveTarget(root: string, target: string): string | undefined {
  const q = target.search(/[?#]/);
  let p = q >= 0 ? target.slice(0, q) : target;
  if (!p.startsWith('/')) return undefined;
  try {
    p = decodeURIComponent(p);
  } catch {
    return undefined;
  }
  if (p.includes('\0')) return undefined;
  const normal = path.posix.normalize(p);
  if (normal.split('/').includes('..')) return undefined;
  const full = path.join(root, normal);
  const rel = path.relative(root, full);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return full;
}

export function serveHttp(stack: Stack, port: number, root: string, stats?: HttpServerStats): Service {
  const rootAbs = path.resolve(root);
  return listenTcp(stack, port, (ep) => new HttpConnection(ep, rootAbs, stats));
}

class HttpConnection {
  private readonly conn: StreamConnection;
  private buf = Buffer.alloc(0);
  private busy = false;
  private file: { fd: number; remaining: number } | undefined;
  private keepAlive = true;
  private peerEnded = false;
  private readonly chunk = new Uint8Array(FILE_CHUNK);

  constructor(
    ep: Endpoint,
    private readonly root: string,
    private readonly stats: HttpServerStats | undefined,
  ) {
    this.conn = new StreamConnection(ep, {
      onData: (d) => {
        this.buf = this.buf.length === 0 ? Buffer.from(d) : Buffer.concat([this.buf, d]);
        if (this.buf.length > MAX_BUFFERED_BYTES) this.conn.paused = true;
        this.next();
      },
      onDrain: () => this.pump(),
      onEnd: () => {
        this.peerEnded = true;
        if (!this.busy) this.conn.end();
      },
      onError: () => this.closeFile(),
    });
  }

  /** Handles the complete requests in the buffer while idle, then reads again if the buffer has room. */
  private next(): void {
    this.handleBuffered();
    if (this.conn.paused && !this.busy && this.keepAlive && this.buf.length <= MAX_BUFFERED_BYTES) this.conn.resume();
  }

  private handleBuffered(): void {
    while (!this.busy && this.keepAlive) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > MAX_HEADER_BYTES) this.respondError(431, false);
        else if (this.peerEnded) this.conn.end();
        return;
      }
      if (end > MAX_HEADER_BYTES) {
        this.respondError(431, false);
        return;
      }
      const head = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      this.handle(head);
    }
  }

  private handle(head: string): void {
    const req = parseRequestHead(head);
    if (typeof req === 'number') {
      this.respondError(req, false);
      return;
    }
    if (this.stats) this.stats.requests++;
    const conn = (req.headers.get('connection') ?? '').toLowerCase();
    this.keepAlive = req.version === '1.1' ? !conn.includes('close') : conn.includes('keep-alive');
    // Request bodies are not expected for GET/HEAD; one with a length is skipped (RFC 9112 6.3).
    const bodyLen = Number(req.headers.get('content-length') ?? '0');
    if (!Number.isInteger(bodyLen) || bodyLen < 0 || req.headers.has('transfer-encoding')) {
      this.respondError(400, false);
      return;
    }
    if (bodyLen > this.buf.length) {
      this.respondError(413, false);
      return;
    }
    this.buf = this.buf.subarray(bodyLen);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.respond(405, 'text/plain', Buffer.from('method not allowed\n'), req.method === 'HEAD', { Allow: 'GET, HEAD' });
      return;
    }
    let file = resolveTarget(this.root, req.target);
    if (!file) {
      this.respondError(400, this.keepAlive, req.method === 'HEAD');
      return;
    }
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(file);
      if (st.isDirectory()) {
        file = path.join(file, 'index.html');
        st = fs.statSync(file);
      }
    } catch {
      st = undefined;
    }
    if (!st || !st.isFile()) {
      this.respondError(404, this.keepAlive, req.method === 'HEAD');
      return;
    }
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      this.respondError(404, this.keepAlive, req.method === 'HEAD');
      return;
    }
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    this.writeHead(200, type, st.size, { 'Last-Modified': st.mtime.toUTCString() });
    if (req.method === 'HEAD' || st.size === 0) {
      fs.closeSync(fd);
      this.finishResponse();
      return;
    }
    this.busy = true;
    this.file = { fd, remaining: st.size };
    this.pump();
  }

  /** Streams the open file while the connection takes data. */
  private pump(): void {
    const f = this.file;
    if (!f) return;
    while (f.remaining > 0) {
      let n: number;
      try {
        n = fs.readSync(f.fd, this.chunk, 0, Math.min(FILE_CHUNK, f.remaining), null);
      } catch {
        n = 0;
      }
      if (n <= 0) {
        // The file shrank under us: the promised length cannot be met, so the connection must close.
        this.keepAlive = false;
        break;
      }
      f.remaining -= n;
      if (this.stats) this.stats.bytesSent += n;
      if (!this.conn.write(this.chunk.subarray(0, n))) {
        if (f.remaining > 0) return; // continue on drain
      }
    }
    this.closeFile();
    this.busy = false;
    this.finishResponse();
  }

  private closeFile(): void {
    if (this.file) {
      fs.closeSync(this.file.fd);
      this.file = undefined;
    }
  }

  private finishResponse(): void {
    if (!this.keepAlive || (this.peerEnded && this.buf.indexOf('\r\n\r\n') < 0)) {
      this.conn.end();
      return;
    }
    queueMicrotask(() => this.next());
  }

  private writeHead(status: number, type: string, length: number, extra: Record<string, string> = {}): void {
    if (this.stats) this.stats.responses[status] = (this.stats.responses[status] ?? 0) + 1;
    const lines = [
      `HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}`,
      `Date: ${new Date().toUTCString()}`,
      'Server: tsvisor-netstack',
      `Content-Type: ${type}`,
      `Content-Length: ${length}`,
      `Connection: ${this.keepAlive ? 'keep-alive' : 'close'}`,
      ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
    ];
    this.conn.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
  }

  private respond(status: number, type: string, body: Buffer, head: boolean, extra: Record<string, string> = {}): void {
    this.writeHead(status, type, body.length, extra);
    if (!head) this.conn.write(body);
    this.finishResponse();
  }

  private respondError(status: number, keepAlive: boolean, head = false): void {
    this.keepAlive = keepAlive;
    this.respond(status, 'text/plain; charset=utf-8', Buffer.from(`${status} ${REASONS[status] ?? ''}\n`), head);
  }
}

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  505: 'HTTP Version Not Supported',
};

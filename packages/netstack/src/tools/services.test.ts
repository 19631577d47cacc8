// The tool's services in one process: a server stack and a client stack over a channel pair.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createChannelPair } from '../link/channel.js';
import { Address } from '../stack/address.js';
import type { Endpoint } from '../stack/endpoint.js';
import { TcpipError } from '../stack/tcpip_error.js';
import { EventMask, WaiterQueue } from '../waiter/waiter_queue.js';
import { createDefaultStack } from './default_stack.js';
import { addLoopbackNIC } from './device_takeover.js';
import { parseRequestHead, resolveTarget, serveHttp } from './http_server.js';
import { chargenLines, serveTcp, serveUdp } from './services.js';

const root = mkdtempSync(join(tmpdir(), 'tsv-services-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('HTTP request parsing', () => {
  it('parses request heads and rejects malformed ones with the right status', () => {
    const r = parseRequestHead('GET /a?b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\naccept: text/plain');
    expect(r).toMatchObject({ method: 'GET', target: '/a?b', version: '1.1' });
    expect(typeof r !== 'number' && r.headers.get('accept')).toBe('*/*, text/plain');
    expect(parseRequestHead('GET / HTTP/1.1')).toBe(400); // no Host
    expect(parseRequestHead('GET / HTTP/1.0')).toMatchObject({ version: '1.0' });
    expect(parseRequestHead('GET / HTTP/2.0\r\nHost: x')).toBe(505);
    expect(parseRequestHead('GET  / HTTP/1.1\r\nHost: x')).toBe(400);
    expect(parseRequestHead('GET / HTTP/1.1\r\nHost : x')).toBe(400);
  });
  it('keeps targets inside the root', () => {
    expect(resolveTarget('/srv', '/a/b.txt?x=1')).toBe('/srv/a/b.txt');
    expect(resolveTarget('/srv', '/../../etc/passwd')).toBe('/srv/etc/passwd');
    expect(resolveTarget('/srv', '/%2e%2e/%2e%2e/etc')).toBe('/srv/etc');
    expect(resolveTarget('/srv', 'http://x/')).toBeUndefined();
    expect(resolveTarget('/srv', '/a%00b')).toBeUndefined();
    expect(resolveTarget('/srv', '/%zz')).toBeUndefined();
  });
  it('chargen lines rotate through the printable characters (RFC 864)', () => {
    const t = new TextDecoder().decode(chargenLines(2)).split('\r\n');
    expect(t[0]).toBe(Array.from({ length: 72 }, (_, i) => String.fromCharCode(32 + i)).join(''));
    expect(t[1]).toBe(t[0]!.slice(1) + String.fromCharCode(32 + 72));
  });
  it('chargen text is the same from any starting line, across the 95-line cycle', () => {
    // Line n, column i of RFC 864's pattern is character 32 + (n + i) mod 95.
    for (const [count, start] of [[1, 0], [64, 40], [7, 94], [300, 17], [95, 95], [0, 3]] as const) {
      const got = chargenLines(count, start);
      expect(got.length).toBe(count * 74);
      for (let l = 0; l < count; l++) {
        for (let i = 0; i < 72; i++) expect(got[l * 74 + i]).toBe(32 + ((start + l + i) % 95));
        expect([got[l * 74 + 72], got[l * 74 + 73]]).toEqual([13, 10]);
      }
    }
  });
});

function setup() {
  const link = createChannelPair();
  const server = createDefaultStack();
  const client = createDefaultStack();
  server.createNIC(1, link.a);
  client.createNIC(1, link.b);
  server.addAddress(1, '10.6.0.1/24');
  client.addAddress(1, '10.6.0.2/24');
  server.addAddress(1, 'fd06::1/64');
  client.addAddress(1, 'fd06::2/64');
  return { link, server, client, close: () => { server.close(); client.close(); link.close(); } };
}

/** Connects, sends `request`, half-closes, and collects everything until the server closes. */
async function exchange(ep: Endpoint, to: string, port: number, request: Uint8Array, halfClose = true): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const buf = new Uint8Array(65536);
  let sent = 0;
  let done = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout; got ${Buffer.concat(chunks).length} bytes`)), 10_000);
    const step = () => {
      if (done) return;
      const ready = ep.readiness(EventMask.IN | EventMask.OUT);
      if ((ready & EventMask.OUT) && sent < request.length) {
        const n = ep.write(request.subarray(sent));
        if (typeof n === 'number') {
          sent += n;
          if (sent === request.length && halfClose) ep.shutdown(2);
        }
      }
      for (;;) {
        const r = ep.read(buf);
        if (r instanceof TcpipError) {
          if (r.code === 'WouldBlock') break;
          done = true;
          clearTimeout(timer);
          ep.close();
          if (r.code === 'ClosedForReceive') resolve(Buffer.concat(chunks));
          else reject(new Error(String(r)));
          return;
        }
        if (r.count === 0) break;
        chunks.push(Buffer.from(buf.subarray(0, r.count)));
      }
    };
    ep.waiterQueue.subscribe(EventMask.IN | EventMask.OUT | EventMask.HUP | EventMask.ERR, step);
    const e = ep.connect({ address: Address.parse(to), port });
    if (e && e.code !== 'ConnectStarted') reject(new Error(String(e)));
    step();
  });
}

describe('services over netstack TCP and UDP', () => {
  it('echoes 1 MB over TCP and discards', async () => {
    const t = setup();
    try {
      serveTcp(t.server, 7, 'echo');
      serveTcp(t.server, 9, 'discard');
      const data = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
      const back = await exchange(t.client.newEndpoint(6, 4, new WaiterQueue()) as Endpoint, '10.6.0.1', 7, data);
      expect(back.equals(Buffer.from(data))).toBe(true);
      const none = await exchange(t.client.newEndpoint(6, 6, new WaiterQueue()) as Endpoint, 'fd06::1', 9, data);
      expect(none.length).toBe(0);
    } finally {
      t.close();
    }
  });

  it('streams chargen over TCP as one continuous RFC 864 text across its 64 KiB write blocks', async () => {
    const t = setup();
    try {
      serveTcp(t.server, 19, 'chargen');
      const want = 300_000; // several write blocks of 885 lines, each starting mid-cycle
      const ep = t.client.newEndpoint(6, 4, new WaiterQueue()) as Endpoint;
      const got = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let total = 0;
        const buf = new Uint8Array(65536);
        const timer = setTimeout(() => reject(new Error(`timeout; got ${total} bytes`)), 10_000);
        const step = () => {
          for (;;) {
            const r = ep.read(buf);
            if (r instanceof TcpipError) {
              if (r.code !== 'WouldBlock') reject(new Error(String(r)));
              return;
            }
            if (r.count === 0) return;
            chunks.push(Buffer.from(buf.subarray(0, r.count)));
            total += r.count;
            if (total >= want) {
              clearTimeout(timer);
              ep.close();
              resolve(Buffer.concat(chunks).subarray(0, want));
              return;
            }
          }
        };
        ep.waiterQueue.subscribe(EventMask.IN | EventMask.HUP | EventMask.ERR, step);
        const e = ep.connect({ address: Address.parse('10.6.0.1'), port: 19 });
        if (e && e.code !== 'ConnectStarted') reject(new Error(String(e)));
      });
      expect(got.equals(Buffer.from(chargenLines(Math.ceil(want / 74)).subarray(0, want)))).toBe(true);
    } finally {
      t.close();
    }
  });

  it('serves a file over HTTP/1.1 with keep-alive for pipelined requests, HEAD and 404', async () => {
    const t = setup();
    try {
      const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
      writeFileSync(join(root, 'f.bin'), body);
      serveHttp(t.server, 80, root);
      const req = Buffer.from(
        'GET /f.bin HTTP/1.1\r\nHost: a\r\n\r\n' + 'HEAD /f.bin HTTP/1.1\r\nHost: a\r\n\r\n' + 'GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
      );
      const out = await exchange(t.client.newEndpoint(6, 4, new WaiterQueue()) as Endpoint, '10.6.0.1', 80, req, false);
      const first = out.indexOf('\r\n\r\n');
      expect(out.subarray(0, first).toString()).toMatch(/^HTTP\/1.1 200 OK[\s\S]*Content-Length: 300000[\s\S]*Connection: keep-alive/);
      expect(out.subarray(first + 4, first + 4 + body.length).equals(body)).toBe(true);
      const rest = out.subarray(first + 4 + body.length).toString('latin1');
      expect(rest).toMatch(/^HTTP\/1.1 200 OK[\s\S]*Content-Length: 300000\r\n[\s\S]*?\r\n\r\nHTTP\/1.1 404 Not Found/);
      expect(rest).toMatch(/Connection: close/);
    } finally {
      t.close();
    }
  });

  it('answers UDP echo and chargen', async () => {
    const t = setup();
    try {
      serveUdp(t.server, 7, 'echo');
      serveUdp(t.server, 19, 'chargen');
      const c = t.client.newEndpoint(17, 4, new WaiterQueue()) as Endpoint;
      c.write(Uint8Array.of(1, 2, 3), { to: { address: Address.parse('10.6.0.1'), port: 7 } });
      const buf = new Uint8Array(1000);
      let r = c.read(buf);
      for (let i = 0; i < 100 && r instanceof TcpipError; i++) {
        await new Promise((res) => setImmediate(res));
        r = c.read(buf);
      }
      expect(r).toMatchObject({ count: 3 });
      c.write(Uint8Array.of(0), { to: { address: Address.parse('10.6.0.1'), port: 19 } });
      r = c.read(buf);
      for (let i = 0; i < 100 && r instanceof TcpipError; i++) {
        await new Promise((res) => setImmediate(res));
        r = c.read(buf);
      }
      expect(r instanceof TcpipError).toBe(false);
      if (!(r instanceof TcpipError)) expect(r.count).toBeLessThanOrEqual(512);
    } finally {
      t.close();
    }
  });

  it('serves HTTP over the loopback NIC alone (--network=none)', async () => {
    const stack = createDefaultStack();
    try {
      expect(addLoopbackNIC(stack)).toBe(1);
      writeFileSync(join(root, 'lo.txt'), 'local\n');
      serveHttp(stack, 8080, root);
      for (const host of ['127.0.0.1', '::1']) {
        const ep = stack.newEndpoint(6, host.includes(':') ? 6 : 4, new WaiterQueue()) as Endpoint;
        const out = await exchange(ep, host, 8080, Buffer.from('GET /lo.txt HTTP/1.0\r\n\r\n'), false);
        expect(out.toString()).toMatch(/^HTTP\/1.1 200 OK[\s\S]*\r\n\r\nlocal\n$/);
      }
    } finally {
      stack.close();
    }
  });

  it('stops reading from an HTTP client that keeps sending while its response is stalled', async () => {
    const t = setup();
    try {
      writeFileSync(join(root, 'big.bin'), Buffer.alloc(4 << 20, 7));
      serveHttp(t.server, 80, root);
      const ep = t.client.newEndpoint(6, 4, new WaiterQueue()) as Endpoint;
      ep.connect({ address: Address.parse('10.6.0.1'), port: 80 });
      // The client never reads its response, and pipelines junk behind its request. The server must stop taking
      // it in (the TCP window closes) rather than buffer whatever the client sends.
      const junk = Buffer.alloc(64 * 1024, 'x');
      const request = Buffer.from('GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n');
      let sent = 0;
      let idleTurns = 0;
      let requestSent = false;
      const limit = 16 << 20;
      const t0 = Date.now();
      while (idleTurns < 200 && sent < limit && Date.now() - t0 < 5000) {
        const n = ep.write(requestSent ? junk : request);
        if (typeof n === 'number' && n > 0) {
          if (!requestSent) requestSent = n === request.length;
          sent += n;
          idleTurns = 0;
        } else {
          idleTurns++;
        }
        await new Promise((r) => setImmediate(r));
      }
      expect(requestSent).toBe(true);
      expect(idleTurns).toBe(200); // the client's writes stalled for good
      expect(sent).toBeLessThan(limit / 4);
    } finally {
      t.close();
    }
  }, 30_000);
});

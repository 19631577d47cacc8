// P9Client sends the requests made in one turn of the event loop with one write (writev) on the stream: counted on
// the client's socket, with a peer that answers every request.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { socketpair } from '@tsvisor/native';
import { P9Client } from './client.js';
import { decode, encode, FrameSplitter } from './codec.js';
import type { Request } from './messages.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A peer answering Tversion and Tclunk (enough to count the client's writes). */
function answering(sock: net.Socket): { requests: number } {
  const seen = { requests: 0 };
  const splitter = new FrameSplitter(1 << 20);
  sock.on('data', (chunk: Buffer) => {
    for (const f of splitter.push(chunk)) {
      const req = decode(f) as Request;
      seen.requests++;
      if (req.type === 'Tversion') sock.write(encode({ type: 'Rversion', tag: req.tag, msize: req.msize, version: req.version }));
      else if (req.type === 'Tclunk') sock.write(encode({ type: 'Rclunk', tag: req.tag }));
    }
  });
  return seen;
}

describe('P9Client write batching', () => {
  it('sends 100 requests made together in one or two writes, and a lone request at once', async () => {
    const [a, b] = socketpair();
    const cs = new net.Socket({ fd: a });
    const ss = new net.Socket({ fd: b });
    const peer = answering(ss);
    const client = await P9Client.connect(cs);
    cleanups.push(() => {
      client.close();
      ss.destroy();
    });
    let writes = 0;
    const sock = cs as unknown as { _write: (...x: unknown[]) => void; _writev: (...x: unknown[]) => void };
    const w = sock._write.bind(cs);
    const wv = sock._writev.bind(cs);
    sock._write = (...x) => (writes++, w(...x));
    sock._writev = (...x) => (writes++, wv(...x));
    await Promise.all(Array.from({ length: 100 }, (_, i) => client.rpc({ type: 'Tclunk', fid: i }, 'Rclunk')));
    expect(peer.requests).toBe(101);
    expect(writes).toBeLessThanOrEqual(2);
    // One request alone is not held back waiting for company.
    const before = writes;
    const t0 = Date.now();
    await client.rpc({ type: 'Tclunk', fid: 1 }, 'Rclunk');
    expect(writes).toBe(before + 1);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

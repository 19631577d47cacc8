// A raw 9P peer for tests: writes arbitrary bytes or messages, collects decoded replies, waits for a matching one.
import type { Socket } from 'node:net';
import { decode, encode, FrameSplitter } from '../codec.js';
import type { Message, Reply } from '../messages.js';

export class RawPeer {
  readonly replies: Reply[] = [];
  private readonly splitter = new FrameSplitter(1 << 20);
  private readonly waiters: (() => void)[] = [];
  private isClosed = false;

  constructor(private readonly sock: Socket) {
    sock.on('data', (c: Buffer) => {
      for (const f of this.splitter.push(c)) this.replies.push(decode(f) as Reply);
      this.wake();
    });
    sock.on('close', () => {
      this.isClosed = true;
      this.wake();
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(m: Message | Buffer): void {
    this.sock.write(Buffer.isBuffer(m) ? m : encode(m));
  }

  /** The first reply matching `pred` (removed from `replies`); throws on timeout or connection loss. */
  async waitFor(pred: (r: Reply) => boolean, timeoutMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.replies.findIndex(pred);
      if (i >= 0) return this.replies.splice(i, 1)[0]!;
      if (this.isClosed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('timed out waiting for a reply');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

// P9Client: a 9P2000.L client over any Node Duplex (in tsvisor, a net.Socket over a socketpair end shared with the
// gofer). Many requests may be in flight; each gets a tag from a recycled pool. Fids are allocated by the client.
// Once the connection is lost (peer closed, stream error, or the peer sent a frame we cannot parse), every pending
// and every later request fails with P9Error(EIO): a crashed gofer gives the application EIO, never a hang.
import type { Duplex } from 'node:stream';
import { decode, encode, FrameSplitter } from './codec.js';
import type {
  Attr,
  Dirent,
  Reply,
  Request,
  SetattrFields,
  StatfsFields,
} from './messages.js';
import {
  DEFAULT_MSIZE,
  GetattrMask,
  MAXWELEM,
  MIN_MSIZE,
  NOFID,
  NOTAG,
  P9Errno,
  P9Error,
  IOHDRSZ,
  VERSION_9P2000L,
  type Qid,
} from './wire.js';

/** A request body without its tag (the client assigns tags). */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'tag'> : never) : never;

interface Pending {
  expect: Reply['type'];
  resolve(reply: Reply): void;
  reject(err: Error): void;
  /** A Tflush for this request is outstanding: its tag is released by the Rflush, not by the reply. */
  flushing?: boolean;
}

/** Per-call options. */
export interface CallOptions {
  /** Abort the request: the client sends Tflush and the call fails with EINTR unless the reply came first. */
  signal?: AbortSignal;
}

export interface P9ClientOptions {
  /** msize to propose (the server may lower it). Default 512 KiB. */
  msize?: number;
  /** Give up (ETIMEDOUT, connection closed) if the server has not answered Tversion by then. Default 30 s. */
  versionTimeoutMs?: number;
}

/** Result of opening or creating a file. `iounit` 0 means "use msize - 24" (open(5)). */
export interface OpenResult {
  qid: Qid;
  iounit: number;
}

/** Fields to change with setattr; only those present are sent (the valid mask is computed from them). */
export interface SetattrRequest {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** Seconds/nanoseconds, or 'now'. */
  atime?: { sec: number; nsec: number } | 'now';
  mtime?: { sec: number; nsec: number } | 'now';
  /** Update ctime (Linux always sets it along with other changes). */
  ctime?: boolean;
}

export type Statfs = StatfsFields;

const MAX_TAGS = 0xffff; // tags 0..0xfffe; 0xffff is NOTAG.

export class P9Client {
  /** Negotiated maximum message size. */
  msize: number;
  private readonly splitter: FrameSplitter;
  private readonly pending = new Map<number, Pending>();
  private readonly freeTags: number[] = [];
  private nextTag = 0;
  private readonly tagWaiters: ((tag: number) => void)[] = [];
  private readonly freeFids: number[] = [];
  private readonly usedFids = new Set<number>();
  private nextFid = 0;
  private dead: P9Error | undefined;
  private corked = false;
  private readonly closeListeners: ((err: P9Error) => void)[] = [];

  private constructor(private readonly stream: Duplex, msize: number) {
    this.msize = msize;
    this.splitter = new FrameSplitter(msize);
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) => this.fail(`connection error: ${err.message}`));
    stream.on('end', () => this.fail('connection closed by the server'));
    stream.on('close', () => this.fail('connection closed'));
  }

  /**
   * Sends one frame. Requests made in the same turn of the event loop (many lookups in flight, a read-ahead) go out
   * in one writev: the stream is corked for the rest of the turn and uncorked from process.nextTick, which runs
   * before the event loop waits again, so a lone request is not delayed.
   */
  private writeFrame(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stream.uncork();
      });
    }
    this.stream.write(frame);
  }

  /** Negotiate the version (Tversion 9P2000.L) on a connected stream and return a client ready to attach. */
  static async connect(stream: Duplex, options: P9ClientOptions = {}): Promise<P9Client> {
    const proposed = options.msize ?? DEFAULT_MSIZE;
    if (proposed < MIN_MSIZE) throw new RangeError(`msize ${proposed} is below the minimum ${MIN_MSIZE}`);
    const client = new P9Client(stream, proposed);
    let reply;
    // A server that never answers must not hang the caller (a sandbox whose gofer is wedged fails to start).
    const timeoutMs = options.versionTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new P9Error(P9Errno.ETIMEDOUT, `no Rversion within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      reply = await Promise.race([
        client.call({ type: 'Tversion', msize: proposed, version: VERSION_9P2000L }, 'Rversion', NOTAG),
        timedOut,
      ]);
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (reply.version !== VERSION_9P2000L) {
      client.close();
      throw new P9Error(P9Errno.EPROTO, `server speaks ${JSON.stringify(reply.version)}, not ${VERSION_9P2000L}`);
    }
    if (reply.msize > proposed || reply.msize < MIN_MSIZE) {
      client.close();
      throw new P9Error(P9Errno.EPROTO, `server chose msize ${reply.msize} (proposed ${proposed}, minimum ${MIN_MSIZE})`);
    }
    client.msize = reply.msize;
    client.splitter.maxSize = reply.msize;
    return client;
  }

  /** True once the connection is gone (every call now fails with EIO). */
  get closed(): boolean {
    return this.dead !== undefined;
  }

  /** Register a callback for connection loss (called once, with the EIO error). */
  onClose(listener: (err: P9Error) => void): void {
    if (this.dead) listener(this.dead);
    else this.closeListeners.push(listener);
  }

  /** Close the connection; pending requests fail with EIO. */
  close(): void {
    this.fail('client closed');
    this.stream.destroy();
  }

  // ---- fids ----

  /** Reserve a fid number (for callers that build requests themselves); release it with releaseFid. */
  allocFid(): number {
    let fid = this.freeFids.pop();
    if (fid === undefined) {
      if (this.nextFid >= NOFID) throw new P9Error(P9Errno.EAGAIN, 'out of fids');
      fid = this.nextFid++;
    }
    this.usedFids.add(fid);
    return fid;
  }

  /** Give a fid number back. Releasing one twice (a double clunk) is ignored, so no number is ever handed out twice. */
  releaseFid(fid: number): void {
    if (this.usedFids.delete(fid)) this.freeFids.push(fid);
  }

  // ---- operations (see the 9P2000.L description for each) ----

  /** Attach to the server's tree `aname` as `uname`/`nUname`; returns the new root fid and its qid. */
  async attach(uname: string, aname: string, nUname = 0xffffffff): Promise<{ fid: number; qid: Qid }> {
    return this.withNewFid(async (fid) => {
      const r = await this.rpc({ type: 'Tattach', fid, afid: NOFID, uname, aname, nUname }, 'Rattach');
      return { fid, qid: r.qid };
    });
  }

  /**
   * Walk from `fid` through `names` (each one path component, no '/'); returns a new fid for the result and the
   * qid of every component. An empty `names` clones `fid`. Longer paths are walked 16 names per message. If any
   * component is missing the call fails (ENOENT, or the server's error) and no fid is left allocated.
   */
  async walk(fid: number, names: readonly string[]): Promise<{ fid: number; qids: Qid[] }> {
    const newfid = this.allocFid();
    const qids: Qid[] = [];
    // After the first message succeeds newfid exists on the server; later messages walk it in place, and a failure
    // there leaves it where it was (walk(5)), so it must be clunked before it is given back.
    let created = false;
    try {
      let i = 0;
      do {
        const chunk = names.slice(i, i + MAXWELEM);
        const r = await this.rpc({ type: 'Twalk', fid: created ? newfid : fid, newfid, names: [...chunk] }, 'Rwalk');
        if (r.qids.length > chunk.length) throw this.protocolFailure(`Rwalk of ${r.qids.length} qids for ${chunk.length} names`);
        if (r.qids.length !== chunk.length) {
          throw new P9Error(P9Errno.ENOENT, `walk: ${JSON.stringify(chunk[r.qids.length])} not found`);
        }
        qids.push(...r.qids);
        created = true;
        i += MAXWELEM;
      } while (i < names.length);
      return { fid: newfid, qids };
    } catch (err) {
      if (created) await this.clunkQuietly(newfid);
      this.releaseFid(newfid);
      throw err;
    }
  }

  /** Attributes of `fid`; `mask` is GetattrMask bits (default BASIC: everything in struct stat). */
  async getattr(fid: number, mask: number = GetattrMask.BASIC): Promise<Attr> {
    const r = await this.rpc({ type: 'Tgetattr', fid, requestMask: mask }, 'Rgetattr');
    const { type: _t, tag: _g, ...attr } = r;
    return attr;
  }

  /** Change attributes (chmod/chown/truncate/utimes) of `fid`. */
  async setattr(fid: number, req: SetattrRequest): Promise<void> {
    await this.rpc({ type: 'Tsetattr', fid, ...setattrFields(req) }, 'Rsetattr');
  }

  /** Open `fid` (which must not be open yet) with Linux open flags (OpenFlags). */
  async lopen(fid: number, flags: number, options?: CallOptions): Promise<OpenResult> {
    const r = await this.rpc({ type: 'Tlopen', fid, flags }, 'Rlopen', options);
    return { qid: r.qid, iounit: r.iounit };
  }

  /** Create and open `name` in the directory `fid`; afterwards `fid` refers to the new open file, not the directory. */
  async lcreate(fid: number, name: string, flags: number, mode: number, gid: number): Promise<OpenResult> {
    const r = await this.rpc({ type: 'Tlcreate', fid, name, flags, mode, gid }, 'Rlcreate');
    return { qid: r.qid, iounit: r.iounit };
  }

  /** Alias of lcreate, the name helper code may look for. */
  create(fid: number, name: string, flags: number, mode: number, gid: number): Promise<OpenResult> {
    return this.lcreate(fid, name, flags, mode, gid);
  }

  /** Largest count one read can carry. */
  get maxReadCount(): number {
    return this.msize - IOHDRSZ;
  }

  /** Largest payload one write can carry. */
  get maxWriteCount(): number {
    return this.msize - IOHDRSZ;
  }

  /** Read up to `count` bytes at `offset` from an open fid (count is capped at maxReadCount). May return fewer; an
   * empty buffer means end of file. */
  async read(fid: number, offset: number, count: number, options?: CallOptions): Promise<Buffer> {
    const asked = Math.min(count, this.maxReadCount);
    const r = await this.rpc({ type: 'Tread', fid, offset, count: asked }, 'Rread', options);
    // read(5): at most count bytes. More would overrun whatever buffer the caller sized for `count`.
    if (r.data.length > asked) throw this.protocolFailure(`Rread of ${r.data.length} bytes for a count of ${asked}`);
    return r.data as Buffer;
  }

  /** Write `data` at `offset` (at most maxWriteCount bytes are sent); returns the number of bytes written. */
  async write(fid: number, offset: number, data: Uint8Array, options?: CallOptions): Promise<number> {
    const part = data.length > this.maxWriteCount ? data.subarray(0, this.maxWriteCount) : data;
    const r = await this.rpc({ type: 'Twrite', fid, offset, data: part }, 'Rwrite', options);
    if (r.count > part.length) throw this.protocolFailure(`Rwrite count ${r.count} > ${part.length} bytes sent`);
    return r.count;
  }

  /** Directory entries of an open directory fid, starting after cookie `offset` (0n for the start); `count` bytes of
   * entries at most. An empty array means the end. Resume with the last entry's `offset`. */
  async readdir(fid: number, offset: bigint, count: number = this.msize - IOHDRSZ): Promise<Dirent[]> {
    const r = await this.rpc(
      { type: 'Treaddir', fid, offset, count: Math.min(count, this.msize - IOHDRSZ) },
      'Rreaddir',
    );
    return r.entries;
  }

  /** Target of the symlink `fid` (the text, not resolved: resolving it is the caller's job). */
  async readlink(fid: number): Promise<string> {
    return (await this.rpc({ type: 'Treadlink', fid }, 'Rreadlink')).target;
  }

  /** Forget `fid` (and close it if open). The fid is released even if the server answers an error (clunk(5)). */
  async clunk(fid: number): Promise<void> {
    try {
      await this.rpc({ type: 'Tclunk', fid }, 'Rclunk');
    } finally {
      this.releaseFid(fid);
    }
  }

  /** Remove the file `fid` refers to and clunk the fid (released even on error, remove(5)). */
  async remove(fid: number): Promise<void> {
    try {
      await this.rpc({ type: 'Tremove', fid }, 'Rremove');
    } finally {
      this.releaseFid(fid);
    }
  }

  async statfs(fid: number): Promise<Statfs> {
    const { type: _t, tag: _g, ...st } = await this.rpc({ type: 'Tstatfs', fid }, 'Rstatfs');
    return st;
  }

  /** mkdir `name` in directory `dfid`. */
  async mkdir(dfid: number, name: string, mode: number, gid: number): Promise<Qid> {
    return (await this.rpc({ type: 'Tmkdir', dfid, name, mode, gid }, 'Rmkdir')).qid;
  }

  /** Create symlink `name` -> `target` in directory `dfid`. */
  async symlink(dfid: number, name: string, target: string, gid: number): Promise<Qid> {
    return (await this.rpc({ type: 'Tsymlink', fid: dfid, name, target, gid }, 'Rsymlink')).qid;
  }

  /** mknod(2) `name` in directory `dfid`; mode includes the file type bits. */
  async mknod(dfid: number, name: string, mode: number, major: number, minor: number, gid: number): Promise<Qid> {
    return (await this.rpc({ type: 'Tmknod', dfid, name, mode, major, minor, gid }, 'Rmknod')).qid;
  }

  /** Hard link: create `name` in directory `dfid` for the file `fid`. */
  async link(dfid: number, fid: number, name: string): Promise<void> {
    await this.rpc({ type: 'Tlink', dfid, fid, name }, 'Rlink');
  }

  /** Remove `name` from directory `dfid`; flags AT_REMOVEDIR for a directory. */
  async unlinkat(dfid: number, name: string, flags = 0): Promise<void> {
    await this.rpc({ type: 'Tunlinkat', dirfid: dfid, name, flags }, 'Runlinkat');
  }

  async renameat(olddfid: number, oldname: string, newdfid: number, newname: string): Promise<void> {
    await this.rpc({ type: 'Trenameat', olddirfid: olddfid, oldname, newdirfid: newdfid, newname }, 'Rrenameat');
  }

  /** Rename the file `fid` to `name` in directory `dfid` (the older Trename; renameat is preferred). */
  async rename(fid: number, dfid: number, name: string): Promise<void> {
    await this.rpc({ type: 'Trename', fid, dfid, name }, 'Rrename');
  }

  async fsync(fid: number, datasync = false): Promise<void> {
    await this.rpc({ type: 'Tfsync', fid, datasync: datasync ? 1 : 0 }, 'Rfsync');
  }

  /** Size of extended attribute `name` (or of the name list if name is ''); a new fid reads its value. */
  async xattrwalk(fid: number, name: string): Promise<{ fid: number; size: number }> {
    return this.withNewFid(async (newfid) => {
      const r = await this.rpc({ type: 'Txattrwalk', fid, newfid, name }, 'Rxattrwalk');
      return { fid: newfid, size: r.size };
    });
  }

  /** Abort the request carrying `oldtag` (flush(5)); resolves when the server has answered Rflush. */
  async flush(oldtag: number): Promise<void> {
    await this.rpc({ type: 'Tflush', oldtag }, 'Rflush');
  }

  /**
   * Send any request and wait for its reply. Rlerror becomes P9Error(ecode); a reply of an unexpected type is a
   * protocol failure (connection closed, EIO). Exposed for tests and for messages without a wrapper.
   */
  rpc<E extends Reply['type']>(
    body: RequestBody,
    expect: E,
    options: CallOptions = {},
  ): Promise<Extract<Reply, { type: E }>> {
    return this.call(body, expect, undefined, options.signal);
  }

  private call<E extends Reply['type']>(
    body: RequestBody,
    expect: E,
    fixedTag?: number,
    signal?: AbortSignal,
  ): Promise<Extract<Reply, { type: E }>> {
    if (this.dead) return Promise.reject(this.dead);
    if (signal?.aborted) return Promise.reject(new P9Error(P9Errno.EINTR, `${body.type} aborted before it was sent`));
    return new Promise<Reply>((resolve, reject) => {
      const send = (tag: number): void => {
        const giveBack = (): void => {
          if (fixedTag === undefined && tag !== NOTAG) this.releaseTag(tag);
        };
        if (this.dead) {
          giveBack();
          reject(this.dead);
          return;
        }
        if (signal?.aborted) {
          giveBack();
          reject(new P9Error(P9Errno.EINTR, `${body.type} aborted before it was sent`));
          return;
        }
        let frame: Buffer;
        try {
          frame = encode({ ...body, tag } as Request);
        } catch (err) {
          giveBack();
          reject(err);
          return;
        }
        if (frame.length > this.msize) {
          giveBack();
          reject(new P9Error(P9Errno.EMSGSIZE, `${body.type} of ${frame.length} bytes exceeds msize ${this.msize}`));
          return;
        }
        const entry: Pending = { expect, resolve, reject };
        this.pending.set(tag, entry);
        this.writeFrame(frame);
        if (signal) {
          const onAbort = (): void => this.abort(tag, entry);
          signal.addEventListener('abort', onAbort, { once: true });
          const done = (): void => signal.removeEventListener('abort', onAbort);
          entry.resolve = (r) => (done(), resolve(r));
          entry.reject = (e) => (done(), reject(e));
        }
      };
      if (fixedTag !== undefined) send(fixedTag);
      else this.takeTag(send);
    }) as Promise<Extract<Reply, { type: E }>>;
  }

  /**
   * flush(5): ask the server to abandon the request on `tag`. The server answers the old request (if it already
   * finished) before Rflush; whatever has not been answered by then fails with EINTR. The tag is reused only after
   * the Rflush.
   */
  private abort(tag: number, entry: Pending): void {
    if (this.pending.get(tag) !== entry || entry.flushing) return;
    entry.flushing = true;
    const finish = (): void => {
      if (this.pending.get(tag) === entry) {
        this.pending.delete(tag);
        entry.reject(new P9Error(P9Errno.EINTR, 'request flushed'));
      }
      if (!this.dead) this.releaseTag(tag);
    };
    this.call({ type: 'Tflush', oldtag: tag }, 'Rflush').then(finish, finish);
  }

  // ---- internals ----

  private async withNewFid<T>(fn: (fid: number) => Promise<T>): Promise<T> {
    const fid = this.allocFid();
    try {
      return await fn(fid);
    } catch (err) {
      this.releaseFid(fid);
      throw err;
    }
  }

  private async clunkQuietly(fid: number): Promise<void> {
    try {
      await this.rpc({ type: 'Tclunk', fid }, 'Rclunk');
    } catch {
      // The fid is being abandoned either way; the caller reports the original failure.
    }
  }

  private takeTag(cb: (tag: number) => void): void {
    const tag = this.freeTags.pop();
    if (tag !== undefined) cb(tag);
    else if (this.nextTag < MAX_TAGS) cb(this.nextTag++);
    else this.tagWaiters.push(cb); // all 65535 tags in flight: wait for one to come back
  }

  private releaseTag(tag: number): void {
    const waiter = this.tagWaiters.shift();
    if (waiter) waiter(tag);
    else this.freeTags.push(tag);
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (err) {
      this.protocolFailure((err as Error).message);
      return;
    }
    for (const frame of frames) {
      if (this.dead) return;
      let reply: Reply;
      try {
        const msg = decode(frame);
        if (msg.type.startsWith('T')) throw new Error(`server sent a request (${msg.type})`);
        reply = msg as Reply;
      } catch (err) {
        this.protocolFailure(`bad reply: ${(err as Error).message}`);
        return;
      }
      const p = this.pending.get(reply.tag);
      if (!p) {
        this.protocolFailure(`reply ${reply.type} for tag ${reply.tag} with no request in flight`);
        return;
      }
      this.pending.delete(reply.tag);
      if (reply.tag !== NOTAG && !p.flushing) this.releaseTag(reply.tag);
      if (reply.type === 'Rlerror') p.reject(new P9Error(reply.ecode));
      else if (reply.type !== p.expect) {
        p.reject(new P9Error(P9Errno.EIO, `expected ${p.expect}, server sent ${reply.type}`));
        this.protocolFailure(`expected ${p.expect}, server sent ${reply.type}`);
      } else p.resolve(reply);
    }
  }

  /** The peer broke the protocol: nothing it says can be trusted any more, so the connection is dropped. */
  private protocolFailure(why: string): P9Error {
    this.fail(`protocol error: ${why}`);
    this.stream.destroy();
    return this.dead!;
  }

  private fail(why: string): void {
    if (this.dead) return;
    this.dead = new P9Error(P9Errno.EIO, `9P connection lost (${why})`);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(this.dead);
    const waiters = this.tagWaiters.splice(0);
    for (const w of waiters) w(NOTAG); // each waiter sees `dead` and rejects
    for (const l of this.closeListeners.splice(0)) l(this.dead);
  }
}

function setattrFields(req: SetattrRequest): SetattrFields {
  // Bits from include/net/9p/9p.h P9_ATTR_*; a time given explicitly also needs the *_SET bit, else the server
  // uses the current time (utimensat(2) UTIME_NOW).
  let valid = 0;
  const f: SetattrFields = {
    valid: 0, mode: 0, uid: 0, gid: 0, size: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0,
  };
  if (req.mode !== undefined) { valid |= 0x1; f.mode = req.mode; }
  if (req.uid !== undefined) { valid |= 0x2; f.uid = req.uid; }
  if (req.gid !== undefined) { valid |= 0x4; f.gid = req.gid; }
  if (req.size !== undefined) { valid |= 0x8; f.size = req.size; }
  if (req.atime !== undefined) {
    valid |= 0x10;
    if (req.atime !== 'now') { valid |= 0x80; f.atimeSec = req.atime.sec; f.atimeNsec = req.atime.nsec; }
  }
  if (req.mtime !== undefined) {
    valid |= 0x20;
    if (req.mtime !== 'now') { valid |= 0x100; f.mtimeSec = req.mtime.sec; f.mtimeNsec = req.mtime.nsec; }
  }
  if (req.ctime) valid |= 0x40;
  f.valid = valid;
  return f;
}

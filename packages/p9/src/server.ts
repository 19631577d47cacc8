// The 9P2000.L server framework: one P9ServerSession per connection decodes requests, keeps the session's fid
// table, dispatches to a P9FileHandler (the file system, e.g. the gofer's) and encodes the replies. Requests run
// concurrently and are answered as they complete, like a real 9P server. Everything the client sends is validated
// here once (frame layout, fids, names, counts), so handlers receive only well-formed arguments.
//
// Malformed input never throws out of the session: a frame that decodes badly but has a readable tag gets
// Rlerror(EINVAL); a frame that cannot be delimited (size < 7 or > msize) ends the session, because there is no
// way to find where the next frame starts.
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { decode, direntSize, encode, FrameError, FrameSplitter, peekHeader } from './codec.js';
import type { Attr, Dirent, Reply, Request, SetattrFields, StatfsFields } from './messages.js';
import {
  DEFAULT_MSIZE,
  MIN_MSIZE,
  NOFID,
  P9DecodeError,
  P9Errno,
  P9Error,
  RREAD_OVERHEAD,
  RREADDIR_OVERHEAD,
  VERSION_9P2000L,
  type Qid,
} from './wire.js';

/**
 * A file system served over 9P. `F` is the handler's own object for whatever a fid points at. Methods throw
 * P9Error (or a Node system error with a `code` such as 'ENOENT') to answer Rlerror; any other exception is
 * answered EIO and logged. Optional methods that are missing answer EOPNOTSUPP.
 */
export interface P9FileHandler<F> {
  attach(uname: string, aname: string, nUname: number): Promise<{ qid: Qid; file: F }>;
  /**
   * Walk `names` from `file` (names are validated: non-empty, no '/' or NUL; '..' may appear). Return the qids of
   * the components walked; `file` is the result and is required only when every name was walked. An empty `names`
   * is a clone: return a new object for the same file. Throw if the first name fails.
   */
  walk(file: F, names: string[]): Promise<{ qids: Qid[]; file?: F }>;
  getattr(file: F, mask: number): Promise<Attr>;
  lopen(file: F, flags: number): Promise<{ qid: Qid; iounit: number }>;
  /** Read at most `count` bytes (already capped to fit msize). */
  read(file: F, offset: number, count: number): Promise<Uint8Array>;
  /** Entries after cookie `offset` that fit in `count` bytes (use direntSize); extra entries are dropped. */
  readdir(file: F, offset: bigint, count: number): Promise<Dirent[]>;
  readlink(file: F): Promise<string>;
  statfs(file: F): Promise<StatfsFields>;
  /** The fid is gone (clunked, removed, replaced, or the session ended): release what `file` holds. */
  clunk(file: F): Promise<void>;
  write?(file: F, offset: number, data: Uint8Array): Promise<number>;
  /** Create `name` in directory `dir` and open it; the returned `file` replaces `dir` on that fid. */
  lcreate?(dir: F, name: string, flags: number, mode: number, gid: number): Promise<{ qid: Qid; iounit: number; file: F }>;
  mkdir?(dir: F, name: string, mode: number, gid: number): Promise<Qid>;
  symlink?(dir: F, name: string, target: string, gid: number): Promise<Qid>;
  mknod?(dir: F, name: string, mode: number, major: number, minor: number, gid: number): Promise<Qid>;
  link?(dir: F, target: F, name: string): Promise<void>;
  unlinkat?(dir: F, name: string, flags: number): Promise<void>;
  renameat?(oldDir: F, oldName: string, newDir: F, newName: string): Promise<void>;
  rename?(file: F, newDir: F, newName: string): Promise<void>;
  /** Remove the file itself (Tremove); the fid is clunked afterwards whatever the outcome. */
  remove?(file: F): Promise<void>;
  setattr?(file: F, attr: SetattrFields): Promise<void>;
  fsync?(file: F, datasync: boolean): Promise<void>;
  xattrwalk?(file: F, name: string): Promise<{ size: number; file: F }>;
}

/** pino-compatible subset used for diagnostics. */
export interface P9Logger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface P9ServerOptions {
  /** Largest msize the server accepts (the client may ask for less). Default 512 KiB. */
  maxMsize?: number;
  /** Requests in progress before the server stops reading from the connection (back-pressure). Default 128. */
  maxInflight?: number;
  /** Fids one session may hold (each may pin an open host file). Default 65536; beyond it, EMFILE. */
  maxFids?: number;
  /**
   * Reply bytes queued for a client that does not read them before the server stops reading requests. Default
   * 4 MiB. Without it a client that sends reads and never collects the replies grows the server's memory without
   * bound (each reply may be msize bytes).
   */
  maxQueuedReplyBytes?: number;
  log?: P9Logger;
}

const systemErrno: Record<string, number> = os.constants.errno as Record<string, number>;

/** Map anything a handler throws to a Linux errno; unknown exceptions are EIO (and worth a log line). */
export function errnoOf(err: unknown): { errno: number; expected: boolean } {
  if (err instanceof P9Error) return { errno: err.errno, expected: true };
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && systemErrno[code] !== undefined) return { errno: systemErrno[code]!, expected: true };
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno === 'number' && errno !== 0 && Number.isInteger(errno)) {
      return { errno: Math.abs(errno), expected: true };
    }
  }
  return { errno: P9Errno.EIO, expected: false };
}

/** A name that is one path component (9P names never contain '/'); '.' and '..' allowed only when walking. */
function checkName(name: string, forWalk: boolean): void {
  if (name.length === 0 || name.includes('/') || name.includes('\0')) {
    throw new P9Error(P9Errno.EINVAL, `invalid name ${JSON.stringify(name)}`);
  }
  if (!forWalk && (name === '.' || name === '..')) {
    throw new P9Error(P9Errno.EINVAL, `cannot create or remove ${JSON.stringify(name)}`);
  }
}

function notSupported(op: string): P9Error {
  return new P9Error(P9Errno.EOPNOTSUPP, `${op} is not supported by this server`);
}

/** A request being served: `aborted` once a Tflush or Tversion has abandoned it (its reply is then dropped). */
interface InFlight {
  aborted: boolean;
}

type ReplyBody = Reply extends infer R ? (R extends Reply ? Omit<R, 'tag'> : never) : never;

export class P9ServerSession<F> {
  /** Negotiated msize (0 until Tversion). */
  msize = 0;
  private readonly splitter: FrameSplitter;
  private readonly fids = new Map<number, F>();
  /** Requests being served, by tag. */
  private readonly inflight = new Map<number, InFlight>();
  /**
   * Handlers still running, flushed or version-aborted ones included: their host calls cannot be cancelled, so they
   * count against maxInflight until they finish (else Tread+Tflush pairs would start handlers without limit).
   */
  private running = 0;
  private readonly maxMsize: number;
  private readonly maxInflight: number;
  private readonly maxFids: number;
  private readonly maxQueuedReplyBytes: number;
  private readonly log: P9Logger | undefined;
  private paused = false;
  /** Frames read but not yet dispatched (only while paused). */
  private queued: Buffer[] = [];
  private ended = false;
  private resolveDone!: () => void;
  /** Resolves when the connection has ended and every fid has been released. */
  readonly done: Promise<void>;

  constructor(
    private readonly stream: Duplex,
    private readonly handler: P9FileHandler<F>,
    options: P9ServerOptions = {},
  ) {
    this.maxMsize = Math.max(MIN_MSIZE, options.maxMsize ?? DEFAULT_MSIZE);
    this.maxInflight = options.maxInflight ?? 128;
    this.maxFids = options.maxFids ?? 65536;
    this.maxQueuedReplyBytes = options.maxQueuedReplyBytes ?? 4 * 1024 * 1024;
    this.log = options.log;
    // Until Tversion the only acceptable frame is a Tversion, which is small; cap at maxMsize meanwhile.
    this.splitter = new FrameSplitter(this.maxMsize);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.end('client closed the connection'));
    stream.on('close', () => this.end('connection closed'));
    stream.on('error', (err: Error) => this.end(`connection error: ${err.message}`));
    stream.on('drain', () => this.flowControl());
  }

  /** Number of fids currently attached/walked (for tests and diagnostics). */
  get fidCount(): number {
    return this.fids.size;
  }

  /** Drop the connection and release every fid. */
  close(): void {
    this.stream.destroy();
    this.end('server closed the session');
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.log?.warn({ err: err.message }, '9P: undelimitable frame, closing the session');
      this.close();
      return;
    }
    // One read may hold thousands of small requests: they wait here while the session is paused, so the limits
    // in flowControl hold per request, not per read.
    for (const frame of frames) this.queued.push(frame);
    this.processQueued();
  }

  private processQueued(): void {
    while (!this.paused && !this.ended && this.queued.length > 0) this.onFrame(this.queued.shift()!);
  }

  private onFrame(frame: Buffer): void {
    let req: Request;
    try {
      const msg = decode(frame);
      if (!msg.type.startsWith('T')) throw new P9DecodeError(`${msg.type} is a reply, not a request`, msg.tag);
      req = msg as Request;
    } catch (err) {
      const tag = err instanceof P9DecodeError ? err.tag : peekHeader(frame)?.tag;
      this.log?.debug({ err: (err as Error).message, tag }, '9P: malformed request');
      if (tag !== undefined) this.send({ type: 'Rlerror', ecode: P9Errno.EINVAL }, tag);
      else this.close();
      return;
    }
    if (req.type === 'Tversion') {
      // Answered at once, in order: requests behind it in the stream must see the new msize and the empty fid table.
      let reply: ReplyBody;
      try {
        reply = this.version(req.msize, req.version);
      } catch (err) {
        reply = { type: 'Rlerror', ecode: errnoOf(err).errno };
      }
      this.send(reply, req.tag);
      return;
    }
    if (req.type === 'Tflush') {
      // flush(5): abandon the old request and answer at once. Its handler may still finish (a host call cannot be
      // cancelled), but its reply is dropped and any fid it would create is released, so after Rflush the client
      // may reuse the tag and sees nothing more of the old request.
      const old = this.inflight.get(req.oldtag);
      if (old) {
        old.aborted = true;
        this.inflight.delete(req.oldtag);
      }
      this.send({ type: 'Rflush' }, req.tag);
      return;
    }
    if (this.inflight.has(req.tag)) {
      this.send({ type: 'Rlerror', ecode: P9Errno.EINVAL }, req.tag);
      return;
    }
    const state: InFlight = { aborted: false };
    this.inflight.set(req.tag, state);
    this.running++;
    void this.dispatch(req, state)
      .then(
        (reply) => {
          if (!state.aborted) this.send(reply, req.tag);
        },
        (err: unknown) => {
          const { errno, expected } = errnoOf(err);
          if (!expected) this.log?.warn({ err: String(err), type: req.type }, '9P: handler failed unexpectedly');
          if (!state.aborted) this.send({ type: 'Rlerror', ecode: errno }, req.tag);
        },
      )
      .finally(() => {
        if (this.inflight.get(req.tag) === state) this.inflight.delete(req.tag);
        this.running--;
        this.flowControl();
      });
    this.flowControl();
  }

  /**
   * Back-pressure: stop reading requests while too many are in progress or too many reply bytes wait for the
   * client to read them; resume once both have fallen well below (half the request limit, and a drained queue).
   */
  private flowControl(): void {
    if (this.ended) return;
    const queued = this.stream.writableLength;
    if (!this.paused) {
      if (this.running >= this.maxInflight || queued > this.maxQueuedReplyBytes) {
        this.paused = true;
        this.stream.pause();
      }
    } else if (this.running < this.maxInflight / 2 && queued <= this.maxQueuedReplyBytes / 2) {
      this.paused = false;
      this.stream.resume();
      this.processQueued();
    }
  }

  private send(body: ReplyBody, tag: number): void {
    if (this.ended) return;
    let frame: Buffer;
    try {
      frame = encode({ ...body, tag } as Reply);
      if (this.msize && frame.length > this.msize) {
        frame = encode({ type: 'Rlerror', tag, ecode: P9Errno.EMSGSIZE });
      }
    } catch (err) {
      // The handler produced a value the protocol cannot carry (a negative size, a 70 KB name): a server bug.
      this.log?.warn({ err: String(err), type: body.type }, '9P: reply does not encode');
      frame = encode({ type: 'Rlerror', tag, ecode: P9Errno.EIO });
    }
    this.stream.write(frame);
    if (!this.paused && this.stream.writableLength > this.maxQueuedReplyBytes) this.flowControl();
  }

  private file(fid: number): F {
    const f = this.fids.get(fid);
    if (f === undefined) throw new P9Error(P9Errno.EBADF, `unknown fid ${fid}`);
    return f;
  }

  private checkNewFid(fid: number): void {
    if (fid === NOFID) throw new P9Error(P9Errno.EBADF, 'NOFID cannot be used as a new fid');
    if (this.fids.has(fid)) throw new P9Error(P9Errno.EBADF, `fid ${fid} is already in use`);
    if (this.fids.size >= this.maxFids) throw new P9Error(P9Errno.EMFILE, `session holds ${this.fids.size} fids already`);
  }

  /** Put `file` on `fid`, releasing whatever the fid held before; a flushed or version-aborted request installs nothing. */
  private async setFid(fid: number, file: F, state: InFlight): Promise<void> {
    if (state.aborted) {
      await this.releaseQuietly(file);
      throw new P9Error(P9Errno.EINTR, 'request was flushed or aborted by Tversion');
    }
    const old = this.fids.get(fid);
    if (old === undefined && this.fids.size >= this.maxFids) {
      // Checked again here: concurrent walks all passed checkNewFid before any of them finished.
      await this.releaseQuietly(file);
      throw new P9Error(P9Errno.EMFILE, `session holds ${this.fids.size} fids already`);
    }
    this.fids.set(fid, file);
    if (old !== undefined && old !== file) await this.releaseQuietly(old);
  }

  private async releaseQuietly(file: F): Promise<void> {
    try {
      await this.handler.clunk(file);
    } catch (err) {
      this.log?.debug({ err: String(err) }, '9P: clunk failed');
    }
  }

  private async dispatch(req: Request, state: InFlight): Promise<ReplyBody> {
    const h = this.handler;
    if (this.msize === 0) throw new P9Error(P9Errno.EPROTO, `${req.type} before Tversion`);
    switch (req.type) {
      case 'Tversion':
      case 'Tflush':
        throw new P9Error(P9Errno.EINVAL, `${req.type} is answered in onFrame`); // unreachable
      case 'Tauth':
        throw new P9Error(P9Errno.EOPNOTSUPP, 'authentication is not required');
      case 'Tattach': {
        this.checkNewFid(req.fid);
        if (req.afid !== NOFID) throw new P9Error(P9Errno.EINVAL, 'no authentication fid is expected');
        const { qid, file } = await h.attach(req.uname, req.aname, req.nUname);
        if (this.fids.has(req.fid)) {
          await this.releaseQuietly(file);
          throw new P9Error(P9Errno.EBADF, `fid ${req.fid} was taken meanwhile`);
        }
        await this.setFid(req.fid, file, state);
        return { type: 'Rattach', qid };
      }
      case 'Twalk': {
        const from = this.file(req.fid);
        if (req.newfid !== req.fid) this.checkNewFid(req.newfid);
        for (const n of req.names) checkName(n, true);
        const r = await h.walk(from, req.names);
        if (r.qids.length > req.names.length) throw new P9Error(P9Errno.EIO, 'walk handler returned too many qids');
        if (r.qids.length === req.names.length) {
          if (r.file === undefined) throw new P9Error(P9Errno.EIO, 'walk handler returned no file');
          if (req.newfid !== req.fid && this.fids.has(req.newfid)) {
            await this.releaseQuietly(r.file);
            throw new P9Error(P9Errno.EBADF, `fid ${req.newfid} was taken meanwhile`);
          }
          await this.setFid(req.newfid, r.file, state);
        } else {
          if (r.file !== undefined) await this.releaseQuietly(r.file);
          if (r.qids.length === 0) throw new P9Error(P9Errno.ENOENT, `${JSON.stringify(req.names[0])} not found`);
        }
        return { type: 'Rwalk', qids: r.qids };
      }
      case 'Tclunk': {
        const f = this.file(req.fid);
        this.fids.delete(req.fid);
        await h.clunk(f);
        return { type: 'Rclunk' };
      }
      case 'Tremove': {
        const f = this.file(req.fid);
        // remove(5): the fid is clunked even if the remove fails.
        this.fids.delete(req.fid);
        try {
          if (!h.remove) throw notSupported('remove');
          await h.remove(f);
        } finally {
          await this.releaseQuietly(f);
        }
        return { type: 'Rremove' };
      }
      case 'Tgetattr':
        return { type: 'Rgetattr', ...(await h.getattr(this.file(req.fid), req.requestMask)) };
      case 'Tsetattr': {
        if (!h.setattr) throw notSupported('setattr');
        const { type: _t, tag: _g, fid, ...fields } = req;
        await h.setattr(this.file(fid), fields);
        return { type: 'Rsetattr' };
      }
      case 'Tstatfs':
        return { type: 'Rstatfs', ...(await h.statfs(this.file(req.fid))) };
      case 'Tlopen': {
        const r = await h.lopen(this.file(req.fid), req.flags);
        return { type: 'Rlopen', qid: r.qid, iounit: r.iounit };
      }
      case 'Tlcreate': {
        if (!h.lcreate) throw notSupported('lcreate');
        checkName(req.name, false);
        const r = await h.lcreate(this.file(req.fid), req.name, req.flags, req.mode, req.gid);
        await this.setFid(req.fid, r.file, state);
        return { type: 'Rlcreate', qid: r.qid, iounit: r.iounit };
      }
      case 'Tread': {
        const count = Math.min(req.count, this.msize - RREAD_OVERHEAD);
        let data = await h.read(this.file(req.fid), req.offset, count);
        if (data.length > count) data = data.subarray(0, count);
        return { type: 'Rread', data };
      }
      case 'Twrite': {
        if (!h.write) throw notSupported('write');
        const n = await h.write(this.file(req.fid), req.offset, req.data);
        return { type: 'Rwrite', count: n };
      }
      case 'Treaddir': {
        const count = Math.min(req.count, this.msize - RREADDIR_OVERHEAD);
        const entries = await h.readdir(this.file(req.fid), req.offset, count);
        let used = 0;
        let fit = 0;
        for (const e of entries) {
          used += direntSize(e.name);
          if (used > count) break;
          fit++;
        }
        return { type: 'Rreaddir', entries: fit === entries.length ? entries : entries.slice(0, fit) };
      }
      case 'Treadlink':
        return { type: 'Rreadlink', target: await h.readlink(this.file(req.fid)) };
      case 'Tmkdir': {
        if (!h.mkdir) throw notSupported('mkdir');
        checkName(req.name, false);
        return { type: 'Rmkdir', qid: await h.mkdir(this.file(req.dfid), req.name, req.mode, req.gid) };
      }
      case 'Tsymlink': {
        if (!h.symlink) throw notSupported('symlink');
        checkName(req.name, false);
        if (req.target.length === 0 || req.target.includes('\0')) throw new P9Error(P9Errno.EINVAL, 'bad target');
        return { type: 'Rsymlink', qid: await h.symlink(this.file(req.fid), req.name, req.target, req.gid) };
      }
      case 'Tmknod': {
        if (!h.mknod) throw notSupported('mknod');
        checkName(req.name, false);
        const qid = await h.mknod(this.file(req.dfid), req.name, req.mode, req.major, req.minor, req.gid);
        return { type: 'Rmknod', qid };
      }
      case 'Tlink': {
        if (!h.link) throw notSupported('link');
        checkName(req.name, false);
        await h.link(this.file(req.dfid), this.file(req.fid), req.name);
        return { type: 'Rlink' };
      }
      case 'Tunlinkat': {
        if (!h.unlinkat) throw notSupported('unlinkat');
        checkName(req.name, false);
        await h.unlinkat(this.file(req.dirfid), req.name, req.flags);
        return { type: 'Runlinkat' };
      }
      case 'Trenameat': {
        if (!h.renameat) throw notSupported('renameat');
        checkName(req.oldname, false);
        checkName(req.newname, false);
        await h.renameat(this.file(req.olddirfid), req.oldname, this.file(req.newdirfid), req.newname);
        return { type: 'Rrenameat' };
      }
      case 'Trename': {
        if (!h.rename) throw notSupported('rename');
        checkName(req.name, false);
        await h.rename(this.file(req.fid), this.file(req.dfid), req.name);
        return { type: 'Rrename' };
      }
      case 'Tfsync': {
        const f = this.file(req.fid);
        if (h.fsync) await h.fsync(f, req.datasync !== 0);
        return { type: 'Rfsync' };
      }
      case 'Txattrwalk': {
        const f = this.file(req.fid);
        if (req.newfid !== req.fid) this.checkNewFid(req.newfid);
        if (!h.xattrwalk) throw notSupported('xattrs');
        const r = await h.xattrwalk(f, req.name);
        await this.setFid(req.newfid, r.file, state);
        return { type: 'Rxattrwalk', size: r.size };
      }
      case 'Txattrcreate':
        this.file(req.fid);
        throw notSupported('xattrs');
      case 'Tlock':
      case 'Tgetlock':
        this.file(req.fid);
        throw notSupported('9P byte-range locks');
    }
  }

  /** Synchronous on purpose: requests that follow a Tversion in the same read must see its msize and fid reset. */
  private version(msize: number, version: string): ReplyBody {
    // version(5): a new Tversion aborts everything outstanding and clunks every fid.
    for (const state of this.inflight.values()) state.aborted = true;
    this.inflight.clear();
    const files = [...this.fids.values()];
    this.fids.clear();
    for (const f of files) void this.releaseQuietly(f);
    if (version !== VERSION_9P2000L) {
      this.msize = 0;
      return { type: 'Rversion', msize: Math.min(msize, this.maxMsize), version: 'unknown' };
    }
    if (msize < MIN_MSIZE) throw new P9Error(P9Errno.EINVAL, `msize ${msize} is below the minimum ${MIN_MSIZE}`);
    this.msize = Math.min(msize, this.maxMsize);
    this.splitter.maxSize = this.msize;
    return { type: 'Rversion', msize: this.msize, version: VERSION_9P2000L };
  }

  private end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.log?.debug({ why, fids: this.fids.size }, '9P session ended');
    const files = [...this.fids.values()];
    this.fids.clear();
    void Promise.allSettled(files.map((f) => this.releaseQuietly(f))).then(() => this.resolveDone());
  }
}

/** Serve `handler` on `stream` until it closes. */
export function serveP9<F>(stream: Duplex, handler: P9FileHandler<F>, options?: P9ServerOptions): P9ServerSession<F> {
  return new P9ServerSession(stream, handler, options);
}


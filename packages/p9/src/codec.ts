// The one 9P2000.L encoder/decoder, shared by the client (sentry) and the server (gofer).
// Each message is described once as an ordered field list; encode and decode walk the same list, so the two
// directions cannot disagree. Frames are size[4] type[1] tag[2] body; anything malformed raises P9DecodeError
// (carrying the tag when the header was readable) and never reads past the frame.
import {
  HEADER_SIZE,
  MAXWELEM,
  P9DecodeError,
  WireReader,
  WireWriter,
} from './wire.js';
import { MessageNumber, type Dirent, type Message, type MessageType } from './messages.js';

type FieldKind =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64' // bigint
  | 'u64n' // number, at most 2^53-1
  | 'str'
  | 'qid'
  | 'qids' // nwqid[2] nwqid*(qid[13])
  | 'names' // nwname[2] nwname*(name[s])
  | 'data' // count[4] data[count]
  | 'dirents' // count[4] then entries filling exactly count bytes
  | 'optU32'; // a u32 that older peers omit (Tfsync datasync): decodes to 0 when absent

type Field = readonly [name: string, kind: FieldKind];

const attrFields: Field[] = [
  ['valid', 'u64n'],
  ['qid', 'qid'],
  ['mode', 'u32'],
  ['uid', 'u32'],
  ['gid', 'u32'],
  ['nlink', 'u64n'],
  ['rdev', 'u64n'],
  ['size', 'u64n'],
  ['blksize', 'u64n'],
  ['blocks', 'u64n'],
  ['atimeSec', 'u64n'],
  ['atimeNsec', 'u64n'],
  ['mtimeSec', 'u64n'],
  ['mtimeNsec', 'u64n'],
  ['ctimeSec', 'u64n'],
  ['ctimeNsec', 'u64n'],
  ['btimeSec', 'u64n'],
  ['btimeNsec', 'u64n'],
  ['gen', 'u64'],
  ['dataVersion', 'u64'],
];

/** Field layouts, in wire order, per message (protocol.md / include/net/9p/9p.h). */
const layouts: Record<MessageType, readonly Field[]> = {
  Tversion: [['msize', 'u32'], ['version', 'str']],
  Rversion: [['msize', 'u32'], ['version', 'str']],
  Tauth: [['afid', 'u32'], ['uname', 'str'], ['aname', 'str'], ['nUname', 'u32']],
  Rauth: [['aqid', 'qid']],
  Tattach: [['fid', 'u32'], ['afid', 'u32'], ['uname', 'str'], ['aname', 'str'], ['nUname', 'u32']],
  Rattach: [['qid', 'qid']],
  Rlerror: [['ecode', 'u32']],
  Tflush: [['oldtag', 'u16']],
  Rflush: [],
  Twalk: [['fid', 'u32'], ['newfid', 'u32'], ['names', 'names']],
  Rwalk: [['qids', 'qids']],
  Tread: [['fid', 'u32'], ['offset', 'u64n'], ['count', 'u32']],
  Rread: [['data', 'data']],
  Twrite: [['fid', 'u32'], ['offset', 'u64n'], ['data', 'data']],
  Rwrite: [['count', 'u32']],
  Tclunk: [['fid', 'u32']],
  Rclunk: [],
  Tremove: [['fid', 'u32']],
  Rremove: [],
  Tstatfs: [['fid', 'u32']],
  Rstatfs: [
    ['fsType', 'u32'],
    ['bsize', 'u32'],
    ['blocks', 'u64n'],
    ['bfree', 'u64n'],
    ['bavail', 'u64n'],
    ['files', 'u64n'],
    ['ffree', 'u64n'],
    ['fsid', 'u64'],
    ['namelen', 'u32'],
  ],
  Tlopen: [['fid', 'u32'], ['flags', 'u32']],
  Rlopen: [['qid', 'qid'], ['iounit', 'u32']],
  Tlcreate: [['fid', 'u32'], ['name', 'str'], ['flags', 'u32'], ['mode', 'u32'], ['gid', 'u32']],
  Rlcreate: [['qid', 'qid'], ['iounit', 'u32']],
  Tsymlink: [['fid', 'u32'], ['name', 'str'], ['target', 'str'], ['gid', 'u32']],
  Rsymlink: [['qid', 'qid']],
  Tmknod: [['dfid', 'u32'], ['name', 'str'], ['mode', 'u32'], ['major', 'u32'], ['minor', 'u32'], ['gid', 'u32']],
  Rmknod: [['qid', 'qid']],
  Trename: [['fid', 'u32'], ['dfid', 'u32'], ['name', 'str']],
  Rrename: [],
  Treadlink: [['fid', 'u32']],
  Rreadlink: [['target', 'str']],
  Tgetattr: [['fid', 'u32'], ['requestMask', 'u64n']],
  Rgetattr: attrFields,
  Tsetattr: [
    ['fid', 'u32'],
    ['valid', 'u32'],
    ['mode', 'u32'],
    ['uid', 'u32'],
    ['gid', 'u32'],
    ['size', 'u64n'],
    ['atimeSec', 'u64n'],
    ['atimeNsec', 'u64n'],
    ['mtimeSec', 'u64n'],
    ['mtimeNsec', 'u64n'],
  ],
  Rsetattr: [],
  Txattrwalk: [['fid', 'u32'], ['newfid', 'u32'], ['name', 'str']],
  Rxattrwalk: [['size', 'u64n']],
  Txattrcreate: [['fid', 'u32'], ['name', 'str'], ['attrSize', 'u64n'], ['flags', 'u32']],
  Rxattrcreate: [],
  Treaddir: [['fid', 'u32'], ['offset', 'u64'], ['count', 'u32']],
  Rreaddir: [['entries', 'dirents']],
  Tfsync: [['fid', 'u32'], ['datasync', 'optU32']],
  Rfsync: [],
  Tlock: [
    ['fid', 'u32'],
    ['lockType', 'u8'],
    ['flags', 'u32'],
    ['start', 'u64n'],
    ['length', 'u64n'],
    ['procId', 'u32'],
    ['clientId', 'str'],
  ],
  Rlock: [['status', 'u8']],
  Tgetlock: [
    ['fid', 'u32'],
    ['lockType', 'u8'],
    ['start', 'u64n'],
    ['length', 'u64n'],
    ['procId', 'u32'],
    ['clientId', 'str'],
  ],
  Rgetlock: [['lockType', 'u8'], ['start', 'u64n'], ['length', 'u64n'], ['procId', 'u32'], ['clientId', 'str']],
  Tlink: [['dfid', 'u32'], ['fid', 'u32'], ['name', 'str']],
  Rlink: [],
  Tmkdir: [['dfid', 'u32'], ['name', 'str'], ['mode', 'u32'], ['gid', 'u32']],
  Rmkdir: [['qid', 'qid']],
  Trenameat: [['olddirfid', 'u32'], ['oldname', 'str'], ['newdirfid', 'u32'], ['newname', 'str']],
  Rrenameat: [],
  Tunlinkat: [['dirfid', 'u32'], ['name', 'str'], ['flags', 'u32']],
  Runlinkat: [],
};

const typeByNumber = new Map<number, MessageType>(
  Object.entries(MessageNumber).map(([name, num]) => [num, name as MessageType]),
);

/** Encoded size of one Rreaddir entry: qid[13] offset[8] type[1] name[s]. Servers use it to fill `count`. */
export function direntSize(name: string): number {
  return 13 + 8 + 1 + 2 + Buffer.byteLength(name, 'utf8');
}

function writeDirent(w: WireWriter, d: Dirent): void {
  w.qid(d.qid).u64(d.offset, 'dirent offset').u8(d.dtype, 'dirent type').str(d.name, 'dirent name');
}

function writeField(w: WireWriter, kind: FieldKind, value: unknown, name: string): void {
  switch (kind) {
    case 'u8':
      w.u8(value as number, name);
      return;
    case 'u16':
      w.u16(value as number, name);
      return;
    case 'u32':
    case 'optU32':
      w.u32(value as number, name);
      return;
    case 'u64':
    case 'u64n':
      w.u64(value as bigint | number, name);
      return;
    case 'str':
      if (typeof value !== 'string') throw new TypeError(`9P encode: ${name} must be a string`);
      w.str(value, name);
      return;
    case 'qid':
      w.qid(value as never);
      return;
    case 'qids': {
      const qids = value as { type: number; version: number; path: bigint }[];
      w.u16(qids.length, `${name} count`);
      for (const q of qids) w.qid(q);
      return;
    }
    case 'names': {
      const names = value as string[];
      w.u16(names.length, `${name} count`);
      for (const n of names) w.str(n, name);
      return;
    }
    case 'data': {
      const data = value as Uint8Array;
      w.u32(data.length, `${name} count`);
      w.bytes(data);
      return;
    }
    case 'dirents': {
      const entries = value as Dirent[];
      const countAt = w.length;
      w.u32(0);
      for (const d of entries) writeDirent(w, d);
      w.patchU32(countAt, w.length - countAt - 4);
      return;
    }
  }
}

/** Encode one message into a complete frame (size[4] type[1] tag[2] body). Throws RangeError/TypeError on values
 * that cannot be represented (a programming error on the sending side, never a peer's fault). */
export function encode(msg: Message): Buffer {
  const layout = layouts[msg.type];
  if (!layout) throw new TypeError(`9P encode: unknown message type ${String((msg as { type: unknown }).type)}`);
  const w = new WireWriter(64 + ('data' in msg && msg.data instanceof Uint8Array ? msg.data.length : 0));
  w.u32(0).u8(MessageNumber[msg.type]).u16(msg.tag, 'tag');
  const rec = msg as unknown as Record<string, unknown>;
  for (const [name, kind] of layout) writeField(w, kind, rec[name], name);
  w.patchU32(0, w.length);
  return w.finish();
}

function readField(r: WireReader, kind: FieldKind, name: string, tag: number): unknown {
  switch (kind) {
    case 'u8':
      return r.u8(name);
    case 'u16':
      return r.u16(name);
    case 'u32':
      return r.u32(name);
    case 'optU32':
      return r.remaining === 0 ? 0 : r.u32(name);
    case 'u64':
      return r.u64(name);
    case 'u64n':
      return r.u64n(name);
    case 'str':
      return r.str(name);
    case 'qid':
      return r.qid(name);
    case 'qids': {
      const n = r.u16(`${name} count`);
      if (n > MAXWELEM) throw new P9DecodeError(`${n} qids exceed MAXWELEM (${MAXWELEM})`, tag);
      const out = [];
      for (let i = 0; i < n; i++) out.push(r.qid(name));
      return out;
    }
    case 'names': {
      const n = r.u16(`${name} count`);
      if (n > MAXWELEM) throw new P9DecodeError(`${n} names exceed MAXWELEM (${MAXWELEM})`, tag);
      const out = [];
      for (let i = 0; i < n; i++) out.push(r.str(name));
      return out;
    }
    case 'data': {
      const n = r.u32(`${name} count`);
      // Copy out: the frame buffer is reused/retained by the framer, and callers keep data longer than a frame.
      return Buffer.from(r.bytes(n, name));
    }
    case 'dirents': {
      const n = r.u32(`${name} count`);
      const sub = new WireReader(r.bytes(n, name), 0, tag);
      const out: Dirent[] = [];
      while (sub.remaining > 0) {
        const qid = sub.qid('dirent qid');
        const offset = sub.u64('dirent offset');
        const dtype = sub.u8('dirent type');
        const dname = sub.str('dirent name');
        out.push({ qid, offset, dtype, name: dname });
      }
      return out;
    }
  }
}

/** The header of a frame, if at least 7 bytes are present. */
export function peekHeader(frame: Buffer): { size: number; typeNumber: number; tag: number } | undefined {
  if (frame.length < HEADER_SIZE) return undefined;
  return { size: frame.readUInt32LE(0), typeNumber: frame[4]!, tag: frame.readUInt16LE(5) };
}

/** Decode one complete frame. Throws P9DecodeError for anything malformed (tag set when the header was readable). */
export function decode(frame: Buffer): Message {
  const hdr = peekHeader(frame);
  if (!hdr) throw new P9DecodeError(`frame of ${frame.length} bytes is shorter than the 7-byte header`);
  if (hdr.size !== frame.length) {
    throw new P9DecodeError(`size field ${hdr.size} does not match the frame length ${frame.length}`, hdr.tag);
  }
  const type = typeByNumber.get(hdr.typeNumber);
  if (!type) throw new P9DecodeError(`unknown message type ${hdr.typeNumber}`, hdr.tag);
  const r = new WireReader(frame, HEADER_SIZE, hdr.tag);
  const msg: Record<string, unknown> = { type, tag: hdr.tag };
  for (const [name, kind] of layouts[type]) msg[name] = readField(r, kind, name, hdr.tag);
  r.end(type);
  return msg as unknown as Message;
}

/** True if the type name is a request (T-message). */
export function isRequestType(type: MessageType): boolean {
  return type.startsWith('T');
}

/**
 * Splits a byte stream into frames. Frames larger than `maxSize` (the negotiated msize) or smaller than the header
 * cannot be skipped safely, so they are a fatal stream error (FrameError): the session must close.
 */
export class FrameSplitter {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  constructor(public maxSize: number) {}

  /** Feed bytes; returns the complete frames now available (each a standalone Buffer). */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.pendingLength < 4) break;
      const head = this.pending[0]!.length >= 4 ? this.pending[0]! : this.flatten();
      const size = head.readUInt32LE(0);
      if (size < HEADER_SIZE) throw new FrameError(`frame size ${size} is smaller than the 7-byte header`);
      if (size > this.maxSize) throw new FrameError(`frame size ${size} exceeds msize ${this.maxSize}`);
      if (this.pendingLength < size) break;
      const all = this.flatten();
      frames.push(Buffer.from(all.subarray(0, size)));
      const rest = all.subarray(size);
      this.pending = rest.length ? [rest] : [];
      this.pendingLength = rest.length;
    }
    return frames;
  }

  private flatten(): Buffer {
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending, this.pendingLength)];
    return this.pending[0]!;
  }
}

/** The byte stream cannot be split into frames any more (the peer is broken or hostile). */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

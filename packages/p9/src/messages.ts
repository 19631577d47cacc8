// One TypeScript type per 9P2000.L message (a discriminated union on `type`), with the wire type numbers.
// Field names follow the protocol description (diod protocol.md, Linux include/net/9p/9p.h) in camelCase.
// u64 fields that identify things (qid paths, readdir cookies, fsid) are bigint; u64 quantities (sizes,
// offsets, times, masks) are numbers and the decoder rejects values above 2^53-1 rather than rounding them.
import type { Qid } from './wire.js';

/** Wire numbers of every message this package knows (T = request, R = reply, R = T + 1). */
export const MessageNumber = {
  Rlerror: 7,
  Tstatfs: 8,
  Rstatfs: 9,
  Tlopen: 12,
  Rlopen: 13,
  Tlcreate: 14,
  Rlcreate: 15,
  Tsymlink: 16,
  Rsymlink: 17,
  Tmknod: 18,
  Rmknod: 19,
  Trename: 20,
  Rrename: 21,
  Treadlink: 22,
  Rreadlink: 23,
  Tgetattr: 24,
  Rgetattr: 25,
  Tsetattr: 26,
  Rsetattr: 27,
  Txattrwalk: 30,
  Rxattrwalk: 31,
  Txattrcreate: 32,
  Rxattrcreate: 33,
  Treaddir: 40,
  Rreaddir: 41,
  Tfsync: 50,
  Rfsync: 51,
  Tlock: 52,
  Rlock: 53,
  Tgetlock: 54,
  Rgetlock: 55,
  Tlink: 70,
  Rlink: 71,
  Tmkdir: 72,
  Rmkdir: 73,
  Trenameat: 74,
  Rrenameat: 75,
  Tunlinkat: 76,
  Runlinkat: 77,
  Tversion: 100,
  Rversion: 101,
  Tauth: 102,
  Rauth: 103,
  Tattach: 104,
  Rattach: 105,
  Tflush: 108,
  Rflush: 109,
  Twalk: 110,
  Rwalk: 111,
  Tread: 116,
  Rread: 117,
  Twrite: 118,
  Rwrite: 119,
  Tclunk: 120,
  Rclunk: 121,
  Tremove: 122,
  Rremove: 123,
} as const;

export type MessageType = keyof typeof MessageNumber;

/** One directory entry inside Rreaddir: qid[13] offset[8] type[1] name[s]. `offset` is the cookie to resume after it. */
export interface Dirent {
  qid: Qid;
  offset: bigint;
  /** d_type as in getdents64 (DT_DIR = 4, DT_REG = 8, DT_LNK = 10, ...). */
  dtype: number;
  name: string;
}

/** The attribute block of Rgetattr (after the qid). Fields not in `valid` are meaningless. */
export interface Attr {
  valid: number;
  qid: Qid;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  btimeSec: number;
  btimeNsec: number;
  gen: bigint;
  dataVersion: bigint;
}

/** Fields of Tsetattr after the fid; `valid` (SetattrMask bits) says which ones apply. */
export interface SetattrFields {
  valid: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
}

/** Rstatfs body, as statfs(2). */
export interface StatfsFields {
  fsType: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  fsid: bigint;
  namelen: number;
}

interface Tagged {
  tag: number;
}

export interface Tversion extends Tagged { type: 'Tversion'; msize: number; version: string }
export interface Rversion extends Tagged { type: 'Rversion'; msize: number; version: string }
export interface Tauth extends Tagged { type: 'Tauth'; afid: number; uname: string; aname: string; nUname: number }
export interface Rauth extends Tagged { type: 'Rauth'; aqid: Qid }
export interface Tattach extends Tagged {
  type: 'Tattach';
  fid: number;
  afid: number;
  uname: string;
  aname: string;
  nUname: number;
}
export interface Rattach extends Tagged { type: 'Rattach'; qid: Qid }
export interface Rlerror extends Tagged { type: 'Rlerror'; ecode: number }
export interface Tflush extends Tagged { type: 'Tflush'; oldtag: number }
export interface Rflush extends Tagged { type: 'Rflush' }
export interface Twalk extends Tagged { type: 'Twalk'; fid: number; newfid: number; names: string[] }
export interface Rwalk extends Tagged { type: 'Rwalk'; qids: Qid[] }
export interface Tread extends Tagged { type: 'Tread'; fid: number; offset: number; count: number }
export interface Rread extends Tagged { type: 'Rread'; data: Uint8Array }
export interface Twrite extends Tagged { type: 'Twrite'; fid: number; offset: number; data: Uint8Array }
export interface Rwrite extends Tagged { type: 'Rwrite'; count: number }
export interface Tclunk extends Tagged { type: 'Tclunk'; fid: number }
export interface Rclunk extends Tagged { type: 'Rclunk' }
export interface Tremove extends Tagged { type: 'Tremove'; fid: number }
export interface Rremove extends Tagged { type: 'Rremove' }
export interface Tstatfs extends Tagged { type: 'Tstatfs'; fid: number }
export interface Rstatfs extends Tagged, StatfsFields { type: 'Rstatfs' }
export interface Tlopen extends Tagged { type: 'Tlopen'; fid: number; flags: number }
export interface Rlopen extends Tagged { type: 'Rlopen'; qid: Qid; iounit: number }
export interface Tlcreate extends Tagged {
  type: 'Tlcreate';
  fid: number;
  name: string;
  flags: number;
  mode: number;
  gid: number;
}
export interface Rlcreate extends Tagged { type: 'Rlcreate'; qid: Qid; iounit: number }
export interface Tsymlink extends Tagged { type: 'Tsymlink'; fid: number; name: string; target: string; gid: number }
export interface Rsymlink extends Tagged { type: 'Rsymlink'; qid: Qid }
export interface Tmknod extends Tagged {
  type: 'Tmknod';
  dfid: number;
  name: string;
  mode: number;
  major: number;
  minor: number;
  gid: number;
}
export interface Rmknod extends Tagged { type: 'Rmknod'; qid: Qid }
export interface Trename extends Tagged { type: 'Trename'; fid: number; dfid: number; name: string }
export interface Rrename extends Tagged { type: 'Rrename' }
export interface Treadlink extends Tagged { type: 'Treadlink'; fid: number }
export interface Rreadlink extends Tagged { type: 'Rreadlink'; target: string }
export interface Tgetattr extends Tagged { type: 'Tgetattr'; fid: number; requestMask: number }
export interface Rgetattr extends Tagged, Attr { type: 'Rgetattr' }
export interface Tsetattr extends Tagged, SetattrFields { type: 'Tsetattr'; fid: number }
export interface Rsetattr extends Tagged { type: 'Rsetattr' }
export interface Txattrwalk extends Tagged { type: 'Txattrwalk'; fid: number; newfid: number; name: string }
export interface Rxattrwalk extends Tagged { type: 'Rxattrwalk'; size: number }
export interface Txattrcreate extends Tagged {
  type: 'Txattrcreate';
  fid: number;
  name: string;
  attrSize: number;
  flags: number;
}
export interface Rxattrcreate extends Tagged { type: 'Rxattrcreate' }
export interface Treaddir extends Tagged { type: 'Treaddir'; fid: number; offset: bigint; count: number }
export interface Rreaddir extends Tagged { type: 'Rreaddir'; entries: Dirent[] }
/** Linux sends datasync[4] after the fid; diod's description omits it, so the decoder accepts both (datasync 0). */
export interface Tfsync extends Tagged { type: 'Tfsync'; fid: number; datasync: number }
export interface Rfsync extends Tagged { type: 'Rfsync' }
export interface Tlock extends Tagged {
  type: 'Tlock';
  fid: number;
  lockType: number;
  flags: number;
  start: number;
  length: number;
  procId: number;
  clientId: string;
}
export interface Rlock extends Tagged { type: 'Rlock'; status: number }
export interface Tgetlock extends Tagged {
  type: 'Tgetlock';
  fid: number;
  lockType: number;
  start: number;
  length: number;
  procId: number;
  clientId: string;
}
export interface Rgetlock extends Tagged {
  type: 'Rgetlock';
  lockType: number;
  start: number;
  length: number;
  procId: number;
  clientId: string;
}
export interface Tlink extends Tagged { type: 'Tlink'; dfid: number; fid: number; name: string }
export interface Rlink extends Tagged { type: 'Rlink' }
export interface Tmkdir extends Tagged { type: 'Tmkdir'; dfid: number; name: string; mode: number; gid: number }
export interface Rmkdir extends Tagged { type: 'Rmkdir'; qid: Qid }
export interface Trenameat extends Tagged {
  type: 'Trenameat';
  olddirfid: number;
  oldname: string;
  newdirfid: number;
  newname: string;
}
export interface Rrenameat extends Tagged { type: 'Rrenameat' }
export interface Tunlinkat extends Tagged { type: 'Tunlinkat'; dirfid: number; name: string; flags: number }
export interface Runlinkat extends Tagged { type: 'Runlinkat' }

export type Request =
  | Tversion | Tauth | Tattach | Tflush | Twalk | Tread | Twrite | Tclunk | Tremove | Tstatfs | Tlopen | Tlcreate
  | Tsymlink | Tmknod | Trename | Treadlink | Tgetattr | Tsetattr | Txattrwalk | Txattrcreate | Treaddir | Tfsync
  | Tlock | Tgetlock | Tlink | Tmkdir | Trenameat | Tunlinkat;

export type Reply =
  | Rversion | Rauth | Rattach | Rlerror | Rflush | Rwalk | Rread | Rwrite | Rclunk | Rremove | Rstatfs | Rlopen
  | Rlcreate | Rsymlink | Rmknod | Rrename | Rreadlink | Rgetattr | Rsetattr | Rxattrwalk | Rxattrcreate | Rreaddir
  | Rfsync | Rlock | Rgetlock | Rlink | Rmkdir | Rrenameat | Runlinkat;

export type Message = Request | Reply;

/** The message of a given type name. */
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/** The reply type that answers request type T (besides Rlerror). */
export type ReplyTypeOf<T extends Request['type']> = T extends `T${infer Rest}` ? `R${Rest}` & MessageType : never;

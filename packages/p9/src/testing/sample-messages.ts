// One valid example of every 9P2000.L message, used by the codec round-trip and fuzz tests (and by the gofer's).
// Typed as a Record over MessageType, so adding a message type without an example fails to compile.
import type { Message, MessageType } from '../messages.js';

const qid = { type: 0x80, version: 7, path: 0x1234_5678_9abc_def0n };
const qid2 = { type: 0x02, version: 0, path: 42n };

export const sampleMessages: { [T in MessageType]: Extract<Message, { type: T }> } = {
  Tversion: { type: 'Tversion', tag: 0xffff, msize: 65536, version: '9P2000.L' },
  Rversion: { type: 'Rversion', tag: 0xffff, msize: 8192, version: '9P2000.L' },
  Tauth: { type: 'Tauth', tag: 1, afid: 5, uname: 'root', aname: '/', nUname: 0 },
  Rauth: { type: 'Rauth', tag: 1, aqid: qid },
  Tattach: { type: 'Tattach', tag: 2, fid: 0, afid: 0xffffffff, uname: 'nobody', aname: '/srv', nUname: 65534 },
  Rattach: { type: 'Rattach', tag: 2, qid },
  Rlerror: { type: 'Rlerror', tag: 3, ecode: 2 },
  Tflush: { type: 'Tflush', tag: 4, oldtag: 3 },
  Rflush: { type: 'Rflush', tag: 4 },
  Twalk: { type: 'Twalk', tag: 5, fid: 0, newfid: 1, names: ['usr', 'lib', 'héllo wörld'] },
  Rwalk: { type: 'Rwalk', tag: 5, qids: [qid, qid2, qid] },
  Tread: { type: 'Tread', tag: 6, fid: 1, offset: 2 ** 40 + 3, count: 4096 },
  Rread: { type: 'Rread', tag: 6, data: Buffer.from('file contents\n') },
  Twrite: { type: 'Twrite', tag: 7, fid: 1, offset: 9, data: Buffer.from([0, 1, 2, 255]) },
  Rwrite: { type: 'Rwrite', tag: 7, count: 4 },
  Tclunk: { type: 'Tclunk', tag: 8, fid: 1 },
  Rclunk: { type: 'Rclunk', tag: 8 },
  Tremove: { type: 'Tremove', tag: 9, fid: 3 },
  Rremove: { type: 'Rremove', tag: 9 },
  Tstatfs: { type: 'Tstatfs', tag: 10, fid: 0 },
  Rstatfs: {
    type: 'Rstatfs', tag: 10, fsType: 0x01021997, bsize: 4096, blocks: 1e9, bfree: 5e8, bavail: 4e8, files: 1e6,
    ffree: 9e5, fsid: 0xffff_ffff_dbc1_aa23n, namelen: 255,
  },
  Tlopen: { type: 'Tlopen', tag: 11, fid: 1, flags: 0o2 | 0o1000 },
  Rlopen: { type: 'Rlopen', tag: 11, qid, iounit: 0 },
  Tlcreate: { type: 'Tlcreate', tag: 12, fid: 2, name: 'new.txt', flags: 0o101, mode: 0o644, gid: 100 },
  Rlcreate: { type: 'Rlcreate', tag: 12, qid: qid2, iounit: 8192 },
  Tsymlink: { type: 'Tsymlink', tag: 13, fid: 2, name: 'l', target: '../../etc/passwd', gid: 0 },
  Rsymlink: { type: 'Rsymlink', tag: 13, qid: qid2 },
  Tmknod: { type: 'Tmknod', tag: 14, dfid: 2, name: 'fifo', mode: 0o10644, major: 0, minor: 0, gid: 0 },
  Rmknod: { type: 'Rmknod', tag: 14, qid },
  Trename: { type: 'Trename', tag: 15, fid: 3, dfid: 2, name: 'renamed' },
  Rrename: { type: 'Rrename', tag: 15 },
  Treadlink: { type: 'Treadlink', tag: 16, fid: 4 },
  Rreadlink: { type: 'Rreadlink', tag: 16, target: '/etc/passwd' },
  Tgetattr: { type: 'Tgetattr', tag: 17, fid: 4, requestMask: 0x3fff },
  Rgetattr: {
    type: 'Rgetattr', tag: 17, valid: 0x7ff, qid, mode: 0o40755, uid: 1000, gid: 1000, nlink: 3, rdev: 0, size: 4096,
    blksize: 4096, blocks: 8, atimeSec: 1_700_000_000, atimeNsec: 123, mtimeSec: 1_700_000_001, mtimeNsec: 456,
    ctimeSec: 1_700_000_002, ctimeNsec: 789, btimeSec: 0, btimeNsec: 0, gen: 0n, dataVersion: 0n,
  },
  Tsetattr: {
    type: 'Tsetattr', tag: 18, fid: 4, valid: 0x1 | 0x8 | 0x30 | 0x100, mode: 0o600, uid: 0, gid: 0, size: 10,
    atimeSec: 0, atimeNsec: 0, mtimeSec: 1_700_000_000, mtimeNsec: 5,
  },
  Rsetattr: { type: 'Rsetattr', tag: 18 },
  Txattrwalk: { type: 'Txattrwalk', tag: 19, fid: 4, newfid: 9, name: 'user.foo' },
  Rxattrwalk: { type: 'Rxattrwalk', tag: 19, size: 12 },
  Txattrcreate: { type: 'Txattrcreate', tag: 20, fid: 9, name: 'user.bar', attrSize: 3, flags: 0 },
  Rxattrcreate: { type: 'Rxattrcreate', tag: 20 },
  Treaddir: { type: 'Treaddir', tag: 21, fid: 2, offset: 0x7fff_ffff_ffff_ffffn, count: 8168 },
  Rreaddir: {
    type: 'Rreaddir', tag: 21, entries: [
      { qid, offset: 1n, dtype: 4, name: '.' },
      { qid: qid2, offset: 0x4dec_1234_0000_0001n, dtype: 10, name: 'link' },
    ],
  },
  Tfsync: { type: 'Tfsync', tag: 22, fid: 1, datasync: 1 },
  Rfsync: { type: 'Rfsync', tag: 22 },
  Tlock: {
    type: 'Tlock', tag: 23, fid: 1, lockType: 1, flags: 1, start: 0, length: 100, procId: 77, clientId: 'sentry',
  },
  Rlock: { type: 'Rlock', tag: 23, status: 0 },
  Tgetlock: { type: 'Tgetlock', tag: 24, fid: 1, lockType: 0, start: 5, length: 0, procId: 77, clientId: 'sentry' },
  Rgetlock: { type: 'Rgetlock', tag: 24, lockType: 2, start: 5, length: 0, procId: 0, clientId: '' },
  Tlink: { type: 'Tlink', tag: 25, dfid: 2, fid: 1, name: 'hard' },
  Rlink: { type: 'Rlink', tag: 25 },
  Tmkdir: { type: 'Tmkdir', tag: 26, dfid: 2, name: 'd', mode: 0o755, gid: 0 },
  Rmkdir: { type: 'Rmkdir', tag: 26, qid },
  Trenameat: { type: 'Trenameat', tag: 27, olddirfid: 2, oldname: 'a', newdirfid: 3, newname: 'b' },
  Rrenameat: { type: 'Rrenameat', tag: 27 },
  Tunlinkat: { type: 'Tunlinkat', tag: 28, dirfid: 2, name: 'd', flags: 0x200 },
  Runlinkat: { type: 'Runlinkat', tag: 28 },
};

/** Deterministic PRNG (mulberry32) so a failing fuzz case can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random mutation of a valid frame: byte flips, truncation, extension, size/count field damage. */
export function mutateFrame(frame: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(frame);
  const pick = Math.floor(rand() * 7);
  const at = (n: number): number => Math.floor(rand() * n);
  switch (pick) {
    case 0: { // flip 1-4 random bytes
      const n = 1 + at(4);
      for (let i = 0; i < n; i++) b[at(b.length)] = at(256);
      return b;
    }
    case 1: // truncate (keeping the size field as it was: it now lies)
      return b.subarray(0, at(b.length));
    case 2: { // truncate and fix the size field, so only the body is short
      const cut = b.subarray(0, Math.max(0, at(b.length)));
      if (cut.length >= 4) cut.writeUInt32LE(cut.length, 0);
      return cut;
    }
    case 3: { // append junk, fixing the size field
      const ext = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + at(16) }, () => at(256)))]);
      ext.writeUInt32LE(ext.length, 0);
      return ext;
    }
    case 4: // random type byte
      if (b.length > 4) b[4] = at(256);
      return b;
    case 5: { // a 16- or 32-bit field somewhere in the body set to an extreme value
      if (b.length > 9) {
        const pos = 7 + at(b.length - 8);
        const v = [0, 0xff, 0xffff, 0x7fff, 17, 16][at(6)]!;
        b[pos] = v & 0xff;
        if (pos + 1 < b.length) b[pos + 1] = (v >> 8) & 0xff;
      }
      return b;
    }
    default: { // random size field
      if (b.length >= 4) b.writeUInt32LE([0, 3, 6, 7, b.length + 1, b.length - 1, 0xffffffff][at(7)]! >>> 0, 0);
      return b;
    }
  }
}

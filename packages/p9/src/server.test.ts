// The server framework and P9Client together over a real socketpair, plus a fuzzed live session. The file system
// behind the server here is a small in-memory tree (MemoryTree below): a real, if simple, P9FileHandler.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { socketpair } from '@tsvisor/native';
import { P9Client } from './client.js';
import { encode, FrameSplitter } from './codec.js';
import type { Attr, Dirent, StatfsFields } from './messages.js';
import { P9ServerSession, type P9FileHandler } from './server.js';
import { mutateFrame, sampleMessages, seededRandom } from './testing/sample-messages.js';
import { RawPeer } from './testing/raw-peer.js';
import { AT_REMOVEDIR, NOFID, NOTAG, P9Errno, P9Error, QidType, type Qid } from './wire.js';

const FUZZ_PER_TYPE = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 2000);

interface MemNode {
  qid: Qid;
  mode: number;
  parent: MemNode | null;
  children?: Map<string, MemNode>;
  data?: Buffer;
  target?: string;
}
interface MemFile {
  node: MemNode;
  open: boolean;
}

class MemoryTree implements P9FileHandler<MemFile> {
  private nextPath = 1n;
  readonly root: MemNode = this.node(QidType.DIR, 0o40755, null);
  live = 0; // file objects not yet clunked

  node(type: number, mode: number, parent: MemNode | null): MemNode {
    const n: MemNode = { qid: { type, version: 0, path: this.nextPath++ }, mode, parent };
    if (type === QidType.DIR) n.children = new Map();
    else if (type === QidType.SYMLINK) n.target = '';
    else n.data = Buffer.alloc(0);
    return n;
  }
  add(dir: MemNode, name: string, n: MemNode): MemNode {
    if (dir.children!.has(name)) throw new P9Error(P9Errno.EEXIST);
    dir.children!.set(name, n);
    return n;
  }
  private f(node: MemNode): MemFile {
    this.live++;
    return { node, open: false };
  }
  private dir(f: MemFile): MemNode {
    if (!f.node.children) throw new P9Error(P9Errno.ENOTDIR);
    return f.node;
  }
  async attach(): Promise<{ qid: Qid; file: MemFile }> {
    return { qid: this.root.qid, file: this.f(this.root) };
  }
  async walk(file: MemFile, names: string[]): Promise<{ qids: Qid[]; file?: MemFile }> {
    let cur = file.node;
    const qids: Qid[] = [];
    for (const name of names) {
      if (!cur.children) break;
      const next = name === '..' ? (cur.parent ?? cur) : name === '.' ? cur : cur.children.get(name);
      if (!next) break;
      cur = next;
      qids.push(cur.qid);
    }
    if (qids.length === 0 && names.length > 0) throw new P9Error(P9Errno.ENOENT);
    return { qids, file: qids.length === names.length ? this.f(cur) : undefined };
  }
  async getattr(file: MemFile): Promise<Attr> {
    const n = file.node;
    return {
      valid: 0x7ff, qid: n.qid, mode: n.mode, uid: 0, gid: 0, nlink: 1, rdev: 0, size: n.data?.length ?? 0,
      blksize: 4096, blocks: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0,
      btimeSec: 0, btimeNsec: 0, gen: 0n, dataVersion: 0n,
    };
  }
  async lopen(file: MemFile): Promise<{ qid: Qid; iounit: number }> {
    if (file.open) throw new P9Error(P9Errno.EBADF, 'already open');
    file.open = true;
    return { qid: file.node.qid, iounit: 0 };
  }
  async read(file: MemFile, offset: number, count: number): Promise<Uint8Array> {
    if (!file.open || !file.node.data) throw new P9Error(P9Errno.EBADF);
    return file.node.data.subarray(offset, offset + count);
  }
  async write(file: MemFile, offset: number, data: Uint8Array): Promise<number> {
    if (!file.open || !file.node.data) throw new P9Error(P9Errno.EBADF);
    if (offset > 1 << 20) throw new P9Error(P9Errno.EFBIG);
    const n = file.node;
    const end = offset + data.length;
    if (end > n.data!.length) n.data = Buffer.concat([n.data!, Buffer.alloc(end - n.data!.length)]);
    n.data!.set(data, offset);
    return data.length;
  }
  async readdir(file: MemFile, offset: bigint): Promise<Dirent[]> {
    const entries = [...this.dir(file).children!.entries()];
    return entries.slice(Number(offset)).map(([name, n], i) => ({
      qid: n.qid, offset: offset + BigInt(i + 1), dtype: n.children ? 4 : n.target !== undefined ? 10 : 8, name,
    }));
  }
  async readlink(file: MemFile): Promise<string> {
    if (file.node.target === undefined) throw new P9Error(P9Errno.EINVAL);
    return file.node.target;
  }
  async statfs(): Promise<StatfsFields> {
    return { fsType: 0x01021997, bsize: 4096, blocks: 1, bfree: 1, bavail: 1, files: 9, ffree: 9, fsid: 1n, namelen: 255 };
  }
  async clunk(): Promise<void> {
    this.live--;
  }
  async lcreate(dir: MemFile, name: string, _flags: number, mode: number): Promise<{ qid: Qid; iounit: number; file: MemFile }> {
    const n = this.add(this.dir(dir), name, this.node(QidType.FILE, 0o100000 | (mode & 0o7777), dir.node));
    const file = this.f(n);
    file.open = true;
    return { qid: n.qid, iounit: 0, file };
  }
  async mkdir(dir: MemFile, name: string, mode: number): Promise<Qid> {
    return this.add(this.dir(dir), name, this.node(QidType.DIR, 0o40000 | (mode & 0o7777), dir.node)).qid;
  }
  async symlink(dir: MemFile, name: string, target: string): Promise<Qid> {
    const n = this.add(this.dir(dir), name, this.node(QidType.SYMLINK, 0o120777, dir.node));
    n.target = target;
    return n.qid;
  }
  async unlinkat(dir: MemFile, name: string, flags: number): Promise<void> {
    const d = this.dir(dir);
    const n = d.children!.get(name);
    if (!n) throw new P9Error(P9Errno.ENOENT);
    if (n.children && !(flags & AT_REMOVEDIR)) throw new P9Error(P9Errno.EISDIR);
    if (!n.children && flags & AT_REMOVEDIR) throw new P9Error(P9Errno.ENOTDIR);
    if (n.children && n.children.size > 0) throw new P9Error(P9Errno.ENOTEMPTY);
    d.children!.delete(name);
  }
  async renameat(od: MemFile, on: string, nd: MemFile, nn: string): Promise<void> {
    const n = this.dir(od).children!.get(on);
    if (!n) throw new P9Error(P9Errno.ENOENT);
    this.dir(nd).children!.set(nn, n);
    od.node.children!.delete(on);
    n.parent = nd.node;
  }
}

function pair(): [net.Socket, net.Socket] {
  const [a, b] = socketpair();
  return [new net.Socket({ fd: a }), new net.Socket({ fd: b })];
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function connected(opts: { msize?: number } = {}) {
  const [cs, ss] = pair();
  const tree = new MemoryTree();
  const session = new P9ServerSession(ss, tree, { maxMsize: 65536 });
  const client = await P9Client.connect(cs, { msize: opts.msize ?? 65536 });
  cleanups.push(() => {
    client.close();
    ss.destroy();
  });
  const { fid: root } = await client.attach('root', '', 0);
  return { client, tree, session, root, ss, cs };
}

describe('P9ServerSession with P9Client over a socketpair', () => {
  it('serves walk, getattr, create, write, read, readdir, rename and unlink', async () => {
    const { client, root, tree } = await connected();
    await client.mkdir(root, 'dir', 0o755, 0);
    const { fid: d, qids } = await client.walk(root, ['dir']);
    expect(qids[0]!.type).toBe(QidType.DIR);
    const { fid: f } = await client.walk(d, []);
    await client.lcreate(f, 'a.txt', 0o102, 0o644, 0);
    const big = Buffer.alloc(200_000, 7);
    let off = 0;
    while (off < big.length) off += await client.write(f, off, big.subarray(off));
    expect((await client.getattr(f)).size).toBe(200_000);
    const parts = await Promise.all(Array.from({ length: 50 }, (_, i) => client.read(f, i * 4000, 4000)));
    expect(Buffer.concat(parts).equals(big)).toBe(true);
    await client.symlink(d, 'ln', '/etc/passwd', 0);
    const { fid: l } = await client.walk(root, ['dir', 'ln']);
    expect(await client.readlink(l)).toBe('/etc/passwd');
    await client.lopen(d, 0);
    expect((await client.readdir(d, 0n)).map((e) => e.name)).toEqual(['a.txt', 'ln']);
    await client.renameat(d, 'a.txt', root, 'b.txt');
    const { fid: b } = await client.walk(root, ['dir', '..', 'b.txt']);
    expect((await client.getattr(b)).size).toBe(200_000);
    await client.unlinkat(root, 'b.txt');
    await expect(client.unlinkat(root, 'dir')).rejects.toMatchObject({ code: 'EISDIR' });
    for (const fid of [d, f, l, b]) await client.clunk(fid);
    expect(tree.live).toBe(1); // only the root fid is left
  });

  it('answers errors with the right errno and keeps the fid table consistent', async () => {
    const { client, root, session } = await connected();
    await expect(client.walk(root, ['missing'])).rejects.toMatchObject({ errno: P9Errno.ENOENT });
    await expect(client.getattr(999)).rejects.toMatchObject({ errno: P9Errno.EBADF });
    await expect(client.mkdir(root, 'a/b', 0o755, 0)).rejects.toMatchObject({ errno: P9Errno.EINVAL });
    await expect(client.mkdir(root, '..', 0o755, 0)).rejects.toMatchObject({ errno: P9Errno.EINVAL });
    await expect(client.walk(root, ['x\0y'])).rejects.toMatchObject({ errno: P9Errno.EINVAL });
    await expect(client.setattr(root, { mode: 0o700 })).rejects.toMatchObject({ errno: P9Errno.EOPNOTSUPP });
    await expect(client.xattrwalk(root, 'user.x')).rejects.toMatchObject({ errno: P9Errno.EOPNOTSUPP });
    // fid already in use as newfid
    const { fid } = await client.walk(root, []);
    await expect(client.rpc({ type: 'Twalk', fid: root, newfid: fid, names: [] }, 'Rwalk')).rejects.toMatchObject({
      errno: P9Errno.EBADF,
    });
    expect(session.fidCount).toBe(2);
    await client.clunk(fid);
    expect(session.fidCount).toBe(1);
    // walks longer than 16 names are split by the client
    let path = root;
    for (let i = 0; i < 20; i++) {
      await client.mkdir(path, `d${i}`, 0o755, 0);
      const next = (await client.walk(path, [`d${i}`])).fid;
      if (path !== root) await client.clunk(path);
      path = next;
    }
    const deep = await client.walk(root, Array.from({ length: 20 }, (_, i) => `d${i}`));
    expect(deep.qids).toHaveLength(20);
  });

  it('answers Tflush at once and drops the flushed reply, and caps the fids a session may hold', async () => {
    const [cs, ss] = pair();
    cleanups.push(() => { cs.destroy(); ss.destroy(); });
    const tree = new MemoryTree();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = Object.assign(Object.create(tree) as MemoryTree, {
      async statfs(): Promise<StatfsFields> {
        await gate;
        return tree.statfs();
      },
    });
    new P9ServerSession(ss, slow, { maxMsize: 65536, maxFids: 3 });
    const peer = new RawPeer(cs);
    peer.send({ type: 'Tversion', tag: NOTAG, msize: 65536, version: '9P2000.L' });
    await peer.waitFor((r) => r.type === 'Rversion');
    peer.send({ type: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: '', aname: '', nUname: 0 });
    await peer.waitFor((r) => r.tag === 1);
    peer.send({ type: 'Tstatfs', tag: 2, fid: 0 });
    peer.send({ type: 'Tflush', tag: 3, oldtag: 2 });
    // flush(5): Rflush at once, and the abandoned request is never answered, even once its handler finishes.
    expect(await peer.waitFor((r) => r.tag === 3)).toEqual({ type: 'Rflush', tag: 3 });
    release();
    peer.send({ type: 'Tgetattr', tag: 2, fid: 0, requestMask: 0x7ff }); // the tag is free again
    expect(await peer.waitFor((r) => r.tag === 2)).toMatchObject({ type: 'Rgetattr' });
    await new Promise((r) => setTimeout(r, 20));
    expect(peer.replies.filter((r) => r.tag === 2)).toEqual([]);
    for (const [tag, newfid] of [[4, 1], [5, 2], [6, 3]] as const) {
      peer.send({ type: 'Twalk', tag, fid: 0, newfid, names: [] });
    }
    expect(await peer.waitFor((r) => r.tag === 5)).toMatchObject({ type: 'Rwalk' });
    expect(await peer.waitFor((r) => r.tag === 6)).toMatchObject({ type: 'Rlerror', ecode: P9Errno.EMFILE });
  });

  it('counts flushed requests whose handlers still run against maxInflight', async () => {
    const [cs, ss] = pair();
    cleanups.push(() => { cs.destroy(); ss.destroy(); });
    const tree = new MemoryTree();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const slow = Object.assign(Object.create(tree) as MemoryTree, {
      async statfs(): Promise<StatfsFields> {
        started++;
        await gate;
        return tree.statfs();
      },
    });
    new P9ServerSession(ss, slow, { maxMsize: 65536, maxInflight: 8 });
    const peer = new RawPeer(cs);
    peer.send({ type: 'Tversion', tag: NOTAG, msize: 65536, version: '9P2000.L' });
    await peer.waitFor((r) => r.type === 'Rversion');
    peer.send({ type: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: '', aname: '', nUname: 0 });
    await peer.waitFor((r) => r.tag === 1);
    // Each handler blocks (a host call that cannot be cancelled); flushing it frees the tag, not the handler.
    const pairs: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      pairs.push(encode({ type: 'Tstatfs', tag: 10, fid: 0 }), encode({ type: 'Tflush', tag: 11, oldtag: 10 }));
    }
    peer.send(Buffer.concat(pairs));
    await new Promise((r) => setTimeout(r, 100));
    expect(started).toBe(8);
    release();
    await new Promise((r) => setTimeout(r, 100));
    expect(started).toBe(100); // the rest are served once the running ones finish
  });

  it('aborts a request with Tflush: EINTR for the caller, the connection stays usable', async () => {
    const [cs, ss] = pair();
    const tree = new MemoryTree();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let flushesSeen = 0;
    const slow = Object.assign(Object.create(tree) as MemoryTree, {
      async read(file: MemFile, offset: number, count: number): Promise<Uint8Array> {
        await gate;
        return tree.read(file, offset, count);
      },
    });
    const seen = new FrameSplitter(1 << 20);
    ss.on('data', (c: Buffer) => {
      for (const f of seen.push(c)) flushesSeen += f[4] === 108 ? 1 : 0; // 108 = Tflush
    });
    new P9ServerSession(ss, slow, { maxMsize: 65536 });
    const client = await P9Client.connect(cs);
    cleanups.push(() => { client.close(); ss.destroy(); });
    const { fid: root } = await client.attach('', '', 0);
    const { fid } = await client.walk(root, []);
    await client.lcreate(fid, 'f', 0o2, 0o644, 0);
    await client.write(fid, 0, Buffer.from('data'));
    const ac = new AbortController();
    const stuck = client.read(fid, 0, 4, { signal: ac.signal });
    ac.abort();
    setTimeout(release, 30); // the server's handler finishes late; its reply is dropped after the Rflush
    await expect(stuck).rejects.toMatchObject({ code: 'EINTR' });
    expect(flushesSeen).toBe(1);
    await new Promise((r) => setTimeout(r, 50)); // the handler has finished; its reply must not reach the client
    expect(client.closed).toBe(false);
    expect((await client.read(fid, 0, 4)).toString()).toBe('data');
    // already aborted: never sent
    await expect(client.read(fid, 0, 4, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'EINTR' });
    expect(flushesSeen).toBe(1);
  });

  it('never hands out one fid number twice, even after a double clunk', async () => {
    const { client, root } = await connected();
    const { fid } = await client.walk(root, []);
    await client.clunk(fid);
    await expect(client.clunk(fid)).rejects.toMatchObject({ errno: P9Errno.EBADF });
    const a = await client.walk(root, []);
    const b = await client.walk(root, []);
    expect(a.fid).not.toBe(b.fid);
    expect(new Set([a.fid, b.fid, root]).size).toBe(3);
  });

  it('handles thousands of concurrent requests with recycled tags', async () => {
    const { client, root } = await connected();
    const results = await Promise.all(Array.from({ length: 3000 }, () => client.getattr(root)));
    expect(results.every((a) => a.qid.type === QidType.DIR)).toBe(true);
  });

  it('drops a server that answers a read with more bytes, or a walk with more qids, than asked (EIO)', async () => {
    const rootQid = { type: QidType.DIR, version: 0, path: 1n };
    /** A server that answers Tread with 10 bytes too many and Twalk with one qid too many. */
    const overgiving = (): net.Socket => {
      const [cs, ss] = pair();
      cleanups.push(() => { cs.destroy(); ss.destroy(); });
      const splitter = new FrameSplitter(1 << 20);
      ss.on('data', (c: Buffer) => {
        for (const f of splitter.push(c)) {
          const tag = f.readUInt16LE(5);
          if (f[4] === 100) ss.write(encode({ type: 'Rversion', tag, msize: 8192, version: '9P2000.L' }));
          if (f[4] === 116) ss.write(encode({ type: 'Rread', tag, data: Buffer.alloc(f.readUInt32LE(19) + 10) }));
          if (f[4] === 110) ss.write(encode({ type: 'Rwalk', tag, qids: [rootQid, rootQid] }));
        }
      });
      return cs;
    };
    const reader = await P9Client.connect(overgiving(), { msize: 8192 });
    await expect(reader.read(1, 0, 100)).rejects.toMatchObject({ errno: P9Errno.EIO });
    expect(reader.closed).toBe(true);
    const walker = await P9Client.connect(overgiving(), { msize: 8192 });
    await expect(walker.walk(1, ['a'])).rejects.toMatchObject({ errno: P9Errno.EIO });
    expect(walker.closed).toBe(true);
  });

  it('fails every pending and later request with EIO when the server side goes away', async () => {
    const { client, root, ss } = await connected();
    const pending = client.getattr(root);
    ss.destroy();
    await expect(pending).rejects.toMatchObject({ errno: P9Errno.EIO });
    await expect(client.getattr(root)).rejects.toMatchObject({ errno: P9Errno.EIO });
  });

  it('connect gives up with ETIMEDOUT when the server never answers Tversion', async () => {
    const [cs, ss] = pair();
    cleanups.push(() => ss.destroy());
    ss.resume(); // a peer that reads and never answers
    await expect(P9Client.connect(cs, { versionTimeoutMs: 100 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(cs.destroyed).toBe(true);
  });

  it('releases every fid when the connection ends', async () => {
    const { client, root, tree, session } = await connected();
    await client.walk(root, []);
    await client.walk(root, []);
    expect(tree.live).toBe(3);
    client.close();
    await session.done;
    expect(tree.live).toBe(0);
  });
});

describe('P9ServerSession under hostile input', () => {
  it('answers malformed frames with Rlerror(EINVAL) and keeps serving', async () => {
    const [cs, ss] = pair();
    cleanups.push(() => { cs.destroy(); ss.destroy(); });
    new P9ServerSession(ss, new MemoryTree(), { maxMsize: 65536 });
    const peer = new RawPeer(cs);
    peer.send({ type: 'Tversion', tag: NOTAG, msize: 65536, version: '9P2000.L' });
    expect(await peer.waitFor((r) => r.type === 'Rversion')).toMatchObject({ msize: 65536, version: '9P2000.L' });
    // unknown type 99, tag 0x1234
    peer.send(Buffer.from([7, 0, 0, 0, 99, 0x34, 0x12]));
    expect(await peer.waitFor((r) => r.tag === 0x1234)).toEqual({ type: 'Rlerror', tag: 0x1234, ecode: P9Errno.EINVAL });
    // a string running past the end
    const bad = encode({ type: 'Twalk', tag: 77, fid: 0, newfid: 1, names: ['abc'] });
    bad.writeUInt16LE(999, 17);
    peer.send(bad);
    expect(await peer.waitFor((r) => r.tag === 77)).toMatchObject({ type: 'Rlerror', ecode: P9Errno.EINVAL });
    // a reply sent to the server
    peer.send({ type: 'Rclunk', tag: 78 });
    expect(await peer.waitFor((r) => r.tag === 78)).toMatchObject({ type: 'Rlerror', ecode: P9Errno.EINVAL });
    // a count past msize cannot fit in a frame within msize: Tread count is clamped, so the reply still fits
    peer.send({ type: 'Tattach', tag: 79, fid: 1, afid: NOFID, uname: '', aname: '', nUname: 0 });
    await peer.waitFor((r) => r.tag === 79 && r.type === 'Rattach');
    peer.send({ type: 'Tgetattr', tag: 80, fid: 1, requestMask: 0x7ff });
    expect((await peer.waitFor((r) => r.tag === 80)).type).toBe('Rgetattr');
  });

  it('stops reading requests while a client leaves its replies unread (bounded reply queue), then serves them all', async () => {
    const [cs, ss] = pair();
    cleanups.push(() => { cs.destroy(); ss.destroy(); });
    const tree = new MemoryTree();
    tree.add(tree.root, 'big', tree.node(QidType.FILE, 0o100644, tree.root)).data = Buffer.alloc(60_000, 7);
    const limit = 256 * 1024;
    new P9ServerSession(ss, tree, { maxMsize: 65536, maxQueuedReplyBytes: limit, maxInflight: 8 });
    const peer = new RawPeer(cs);
    peer.send({ type: 'Tversion', tag: NOTAG, msize: 65536, version: '9P2000.L' });
    await peer.waitFor((r) => r.type === 'Rversion');
    peer.send({ type: 'Tattach', tag: 1, fid: 1, afid: NOFID, uname: '', aname: '', nUname: 0 });
    await peer.waitFor((r) => r.type === 'Rattach');
    peer.send({ type: 'Twalk', tag: 1, fid: 1, newfid: 2, names: ['big'] });
    await peer.waitFor((r) => r.type === 'Rwalk');
    peer.send({ type: 'Tlopen', tag: 1, fid: 2, flags: 0 });
    await peer.waitFor((r) => r.type === 'Rlopen');
    cs.removeAllListeners('data');
    cs.pause(); // from here on, a client that sends and never reads
    const reads = 400; // 24 MB of replies
    const frames: Buffer[] = [];
    for (let tag = 1; tag <= reads; tag++) frames.push(encode({ type: 'Tread', tag, fid: 2, offset: 0, count: 60_000 }));
    cs.write(Buffer.concat(frames));
    await new Promise((r) => setTimeout(r, 300));
    // What the server holds for the client: its stream's queue (the kernel's socket buffer aside). The bound is the
    // limit plus the replies of the requests in progress when it was crossed (maxInflight of them).
    expect(ss.writableLength).toBeGreaterThan(0);
    expect(ss.writableLength).toBeLessThanOrEqual(limit + 8 * 65536);
    // Once the client reads, every request is answered, in full.
    const splitter = new FrameSplitter(1 << 20);
    let got = 0;
    const all = new Promise<void>((resolve) => {
      cs.on('data', (c: Buffer) => {
        for (const f of splitter.push(c)) {
          if (f[4] === 117 /* Rread */ && f.readUInt32LE(7) === 60_000) got++;
        }
        if (got === reads) resolve();
      });
    });
    cs.resume();
    await all;
    expect(got).toBe(reads);
  });

  it('closes the session (without throwing) on a frame that cannot be delimited', async () => {
    const [cs, ss] = pair();
    cleanups.push(() => { cs.destroy(); ss.destroy(); });
    const tree = new MemoryTree();
    const session = new P9ServerSession(ss, tree, { maxMsize: 65536 });
    const peer = new RawPeer(cs);
    peer.send({ type: 'Tversion', tag: NOTAG, msize: 8192, version: '9P2000.L' });
    await peer.waitFor((r) => r.type === 'Rversion');
    peer.send({ type: 'Tattach', tag: 1, fid: 1, afid: NOFID, uname: '', aname: '', nUname: 0 });
    await peer.waitFor((r) => r.tag === 1);
    const huge = Buffer.alloc(16);
    huge.writeUInt32LE(9000, 0); // bigger than the negotiated msize of 8192
    peer.send(huge);
    await session.done;
    expect(tree.live).toBe(0);
  });

  it(`keeps serving through ${FUZZ_PER_TYPE} mutated frames per request type`, async () => {
    const [cs, ss] = pair();
    cleanups.push(() => { cs.destroy(); ss.destroy(); });
    const session = new P9ServerSession(ss, new MemoryTree(), { maxMsize: 65536 });
    const peer = new RawPeer(cs);
    const rand = seededRandom(0xf00d);
    let probe = 0;
    const requests = Object.values(sampleMessages).filter((m) => m.type.startsWith('T'));
    for (const msg of requests) {
      const frame = encode(msg);
      for (let i = 0; i < FUZZ_PER_TYPE; i++) {
        const m = mutateFrame(frame, rand);
        if (m.length < 7) continue; // cannot be delimited: tested above (it ends the session)
        m.writeUInt32LE(m.length, 0); // keep the stream delimited so the session must survive
        peer.send(m);
      }
      // Barrier: reset the session, attach, and ask something: the server must answer correctly.
      const tag = 0xfff0 - (probe++ % 8);
      peer.send({ type: 'Tversion', tag: NOTAG, msize: 65536, version: '9P2000.L' });
      peer.send({ type: 'Tattach', tag, fid: 4242, afid: NOFID, uname: '', aname: '', nUname: 0 });
      expect(await peer.waitFor((x) => x.tag === tag && x.type !== 'Rversion')).toMatchObject({ type: 'Rattach' });
      peer.send({ type: 'Tgetattr', tag: tag - 100, fid: 4242, requestMask: 0x7ff });
      const r = await peer.waitFor((x) => x.tag === tag - 100 && (x.type === 'Rgetattr' || x.type === 'Rlerror'));
      expect(r, `after fuzzing ${msg.type}`).toMatchObject({ type: 'Rgetattr' });
      peer.replies.length = 0;
    }
    expect(peer.closed).toBe(false);
    expect(session.msize).toBe(65536);
  });
});

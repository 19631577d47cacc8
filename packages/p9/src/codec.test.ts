import { describe, expect, it } from 'vitest';
import { decode, encode, FrameError, FrameSplitter, direntSize } from './codec.js';
import { MessageNumber, type MessageType } from './messages.js';
import { P9DecodeError } from './wire.js';
import { mutateFrame, sampleMessages, seededRandom } from './testing/sample-messages.js';

const FUZZ_PER_TYPE = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 3000);

describe('9P2000.L codec', () => {
  it('has an example for every message type', () => {
    expect(Object.keys(sampleMessages).sort()).toEqual(Object.keys(MessageNumber).sort());
  });

  for (const [type, msg] of Object.entries(sampleMessages)) {
    it(`round-trips ${type}`, () => {
      const frame = encode(msg);
      expect(frame.readUInt32LE(0)).toBe(frame.length);
      expect(frame[4]).toBe(MessageNumber[type as MessageType]);
      expect(frame.readUInt16LE(5)).toBe(msg.tag);
      expect(decode(frame)).toEqual(msg);
    });
  }

  it('lays out fields little-endian as the spec says (Twalk, byte for byte)', () => {
    const frame = encode({ type: 'Twalk', tag: 0x0102, fid: 3, newfid: 4, names: ['ab'] });
    expect([...frame]).toEqual([
      21, 0, 0, 0, 110, 0x02, 0x01, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 2, 0, 0x61, 0x62,
    ]);
    const q = encode({ type: 'Rattach', tag: 1, qid: { type: 0x80, version: 2, path: 0x0807060504030201n } });
    expect([...q.subarray(7)]).toEqual([0x80, 2, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('accepts Tfsync without datasync (diod layout) as datasync 0', () => {
    const frame = Buffer.from([11, 0, 0, 0, 50, 9, 0, 1, 0, 0, 0]);
    expect(decode(frame)).toEqual({ type: 'Tfsync', tag: 9, fid: 1, datasync: 0 });
  });

  it('computes dirent sizes that match the encoding', () => {
    const m = sampleMessages.Rreaddir;
    const total = m.entries.reduce((n, e) => n + direntSize(e.name), 0);
    expect(encode(m).length).toBe(7 + 4 + total);
  });

  it('rejects malformed frames with P9DecodeError, with the tag when readable', () => {
    const bad = (b: Buffer): P9DecodeError => {
      try {
        decode(b);
      } catch (e) {
        expect(e).toBeInstanceOf(P9DecodeError);
        return e as P9DecodeError;
      }
      throw new Error('decoded a malformed frame');
    };
    expect(bad(Buffer.from([1, 2, 3])).tag).toBeUndefined(); // short header
    const unknown = Buffer.from([7, 0, 0, 0, 99, 5, 0]);
    expect(bad(unknown).tag).toBe(5); // unknown type
    const walk = encode({ type: 'Twalk', tag: 6, fid: 0, newfid: 1, names: ['abc'] });
    walk.writeUInt16LE(200, 17); // string length past the end
    expect(bad(walk).tag).toBe(6);
    const read = encode({ type: 'Rread', tag: 7, data: Buffer.alloc(4) });
    read.writeUInt32LE(1 << 30, 7); // count past the frame (and any msize)
    expect(bad(read).tag).toBe(7);
    const sized = encode({ type: 'Tclunk', tag: 8, fid: 1 });
    sized.writeUInt32LE(100, 0); // size field lies
    expect(bad(sized).tag).toBe(8);
    const trailing = Buffer.concat([encode({ type: 'Tclunk', tag: 9, fid: 1 }), Buffer.from([0])]);
    trailing.writeUInt32LE(trailing.length, 0);
    expect(bad(trailing).tag).toBe(9);
    const manyNames = encode({ type: 'Twalk', tag: 10, fid: 0, newfid: 1, names: [] });
    manyNames.writeUInt16LE(17, 15); // more than MAXWELEM names
    expect(bad(manyNames).tag).toBe(10);
    const huge = encode({ type: 'Tread', tag: 11, fid: 0, offset: 0, count: 1 });
    huge.writeBigUInt64LE(1n << 60n, 11); // a u64 quantity beyond 2^53 is refused, not rounded
    expect(bad(huge).tag).toBe(11);
  });

  it(`survives ${FUZZ_PER_TYPE} random mutations per message type with only P9DecodeError`, () => {
    const rand = seededRandom(0x9e3779b9);
    let decoded = 0;
    let rejected = 0;
    for (const msg of Object.values(sampleMessages)) {
      const frame = encode(msg);
      for (let i = 0; i < FUZZ_PER_TYPE; i++) {
        const m = mutateFrame(frame, rand);
        try {
          const out = decode(m);
          decoded++;
          // Whatever decodes must be a well-formed message that encodes again to a frame of the same length
          // (strings with invalid UTF-8 may change length, so only check types here).
          expect(typeof out.type).toBe('string');
          expect(out.tag).toBe(m.readUInt16LE(5));
        } catch (e) {
          if (!(e instanceof P9DecodeError)) throw new Error(`decoder threw ${String(e)} on ${m.toString('hex')}`);
          rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(0);
    expect(decoded).toBeGreaterThan(0);
  });

  it('splits a byte stream into frames regardless of chunking, and refuses oversize frames', () => {
    const frames = Object.values(sampleMessages).map((m) => encode(m));
    const stream = Buffer.concat(frames);
    const rand = seededRandom(7);
    const splitter = new FrameSplitter(1 << 20);
    const out: Buffer[] = [];
    for (let pos = 0; pos < stream.length; ) {
      const n = 1 + Math.floor(rand() * 40);
      out.push(...splitter.push(stream.subarray(pos, pos + n)));
      pos += n;
    }
    expect(out).toEqual(frames);
    const small = new FrameSplitter(64);
    expect(() => small.push(encode({ type: 'Rread', tag: 1, data: Buffer.alloc(100) }))).toThrow(FrameError);
    expect(() => new FrameSplitter(64).push(Buffer.from([3, 0, 0, 0]))).toThrow(FrameError);
  });
});

// Fuzzes the loader with mutated ELF and program headers of real binaries: every outcome must be a SyscallError
// with an errno execve can return for a bad file, or a well-formed plan. TSVISOR_FUZZ_ITERATIONS sets the count.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SyscallError, Errno } from '../kernel/syscall_error.js';
import { TASK_SIZE } from './layout.js';
import { loadExecutable } from './loader.js';
import type { ExecutableSource, LoadedImage } from './types.js';

const ITERATIONS = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 2000);
const HEAD = 4096; // mutations stay in the first page, where the ELF header and program headers are

/** A small deterministic PRNG (xorshift32) so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const INTERESTING64 = [0n, 1n, 0x38n, 0x40n, 0xfffn, 0x1000n, 0x7fffffffn, 0xffffffffn, 0x7ffffffff000n, 0x7fffffffffffffffn, 0xffffffffffffffffn];
const INTERESTING16 = [0, 1, 2, 3, 55, 56, 57, 72, 73, 74, 0x7fff, 0xffff];

function mutate(head: Buffer, next: () => number): void {
  const n = 1 + (next() % 4);
  for (let i = 0; i < n; i++) {
    const kind = next() % 5;
    // Bias towards the ELF header (64 bytes) and the first program headers.
    const off = next() % 2 === 0 ? next() % 64 : 64 + (next() % (56 * 14));
    if (kind === 0) head[off] = next() & 0xff;
    else if (kind === 1) head[off]! ^= 1 << (next() % 8);
    else if (kind === 2 && off + 8 <= head.length) head.writeBigUInt64LE(INTERESTING64[next() % INTERESTING64.length]!, off & ~7);
    else if (kind === 3 && off + 2 <= head.length) head.writeUInt16LE(INTERESTING16[next() % INTERESTING16.length]!, off & ~1);
    else if (kind === 4 && off + 4 <= head.length) head.writeUInt32LE([1, 3, 6, 0x6474e551][next() % 4]!, off & ~3);
  }
}

function sourceFor(path: string, original: Buffer, head: Buffer, size: number, others: Record<string, Buffer>): ExecutableSource {
  return {
    async open(p: string) {
      if (p === path) {
        return {
          path: p,
          size,
          read: async (o: number, l: number) => {
            const end = Math.min(o + l, size);
            if (o >= end) return Buffer.alloc(0);
            if (end <= HEAD) return head.subarray(o, end);
            if (o >= HEAD) return original.subarray(o, end);
            return Buffer.concat([head.subarray(o, HEAD), original.subarray(HEAD, end)]);
          },
        };
      }
      const f = others[p];
      if (!f) throw new SyscallError(Errno.ENOENT, p);
      return { path: p, size: f.length, read: async (o: number, l: number) => f.subarray(o, o + l) };
    },
  };
}

function checkPlan(img: LoadedImage): void {
  let prevEnd = 0n;
  for (const m of img.mappings) {
    if (m.start % 4096n !== 0n || m.length % 4096n !== 0n || m.length <= 0n) throw new Error('unaligned mapping');
    if (m.start < prevEnd) throw new Error('overlapping mappings');
    if (m.start + m.length > TASK_SIZE) throw new Error('mapping beyond TASK_SIZE');
    if (BigInt(m.contents.length) > m.length) throw new Error('contents longer than mapping');
    prevEnd = m.start + m.length;
  }
  if (img.stack.sp % 16n !== 0n) throw new Error('unaligned sp');
}

describe('loader fuzz', () => {
  const ld = fs.readFileSync('/lib64/ld-linux-x86-64.so.2');
  const targets: Array<[string, Buffer]> = [
    ['/bin/busybox', fs.readFileSync('/bin/busybox')],
    ['/bin/ls', fs.readFileSync('/bin/ls')],
  ];

  it(`survives ${ITERATIONS} mutated headers with only SyscallErrors or well-formed plans`, async () => {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const next = rng(0x9e3779b9 ^ i);
      const [path, original] = targets[i % targets.length]!;
      const head = Buffer.from(original.subarray(0, HEAD));
      mutate(head, next);
      const size = next() % 10 === 0 ? next() % original.length : original.length;
      const src = sourceFor(path, original, head, size, { '/lib64/ld-linux-x86-64.so.2': ld });
      let outcome: string;
      try {
        const img = await loadExecutable(src, path, ['x'], ['Y=1'], { random16: Buffer.alloc(16), uid: 0, gid: 0 });
        checkPlan(img);
        outcome = 'ok';
      } catch (err) {
        if (!(err instanceof SyscallError)) throw new Error(`iteration ${i} (${path}): non-SyscallError ${String(err)}`);
        // ENOEXEC: a malformed executable. ENOENT: a mutated PT_INTERP naming a path that does not exist.
        // ELIBBAD: the (intact) interpreter cannot be placed beside the mutated executable.
        expect([Errno.ENOEXEC, Errno.ENOENT, Errno.ELIBBAD], `iteration ${i}: ${err.message}`).toContain(err.errno);
        outcome = `errno ${err.errno}`;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    if (process.env.TSVISOR_FUZZ_VERBOSE) console.log(outcomes);
    // Both outcomes must occur, or the mutations are not reaching the checks (or not leaving files loadable).
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get(`errno ${Errno.ENOEXEC}`) ?? 0).toBeGreaterThan(ITERATIONS / 10);
  });
});

// Test support: a classic-BPF interpreter for seccomp programs (the subset of Documentation/networking/filter.rst
// that seccomp allows), so tests can ask an exported program for its verdict on any syscall and arguments without
// running the call. Unknown opcodes throw: the test then learns the interpreter is incomplete, not a wrong answer.

export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  args?: bigint[];
}

const AUDIT_ARCH_X86_64 = 0xc000003e;

function dataWord(d: SeccompData, off: number): number {
  const buf = Buffer.alloc(64);
  buf.writeUInt32LE(d.nr >>> 0, 0);
  buf.writeUInt32LE(d.arch >>> 0, 4);
  buf.writeBigUInt64LE(d.ip ?? 0n, 8);
  (d.args ?? []).forEach((a, i) => buf.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  if (off < 0 || off + 4 > 64 || off % 4 !== 0) throw new Error(`bad seccomp_data offset ${off}`);
  return buf.readUInt32LE(off);
}

/** Runs `prog` (struct sock_filter[]) on a syscall and returns the 32-bit SECCOMP_RET_* verdict. */
export function evalSeccomp(prog: Buffer, d: SeccompData): number {
  const n = prog.length / 8;
  let a = 0;
  let x = 0;
  const mem = new Array<number>(16).fill(0);
  for (let pc = 0, steps = 0; pc < n; pc++, steps++) {
    if (steps > 4096) throw new Error('BPF program does not terminate');
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog[pc * 8 + 2]!;
    const jf = prog[pc * 8 + 3]!;
    const k = prog.readUInt32LE(pc * 8 + 4);
    const cls = code & 0x07;
    if (cls === 0x00 /* LD */) {
      const mode = code & 0xe0;
      if (mode === 0x20 /* ABS */) a = dataWord(d, k);
      else if (mode === 0x00 /* IMM */) a = k;
      else if (mode === 0x60 /* MEM */) a = mem[k]!;
      else if (mode === 0x80 /* LEN */) a = 64;
      else throw new Error(`unsupported LD 0x${code.toString(16)}`);
    } else if (cls === 0x01 /* LDX */) {
      const mode = code & 0xe0;
      if (mode === 0x00) x = k;
      else if (mode === 0x60) x = mem[k]!;
      else if (mode === 0x80) x = 64;
      else throw new Error(`unsupported LDX 0x${code.toString(16)}`);
    } else if (cls === 0x02 /* ST */) mem[k] = a;
    else if (cls === 0x03 /* STX */) mem[k] = x;
    else if (cls === 0x04 /* ALU */) {
      const src = code & 0x08 ? x : k;
      switch (code & 0xf0) {
        case 0x00: a = (a + src) >>> 0; break;
        case 0x10: a = (a - src) >>> 0; break;
        case 0x20: a = Math.imul(a, src) >>> 0; break;
        case 0x40: a = (a | src) >>> 0; break;
        case 0x50: a = (a & src) >>> 0; break;
        case 0x60: a = (a << src) >>> 0; break;
        case 0x70: a = a >>> src; break;
        case 0x80: a = -a >>> 0; break;
        case 0xa0: a = (a ^ src) >>> 0; break;
        default: throw new Error(`unsupported ALU 0x${code.toString(16)}`);
      }
    } else if (cls === 0x05 /* JMP */) {
      const src = (code & 0x08 ? x : k) >>> 0;
      const op = code & 0xf0;
      if (op === 0x00) {
        pc += k;
        continue;
      }
      let cond: boolean;
      if (op === 0x10) cond = a === src;
      else if (op === 0x20) cond = a > src;
      else if (op === 0x30) cond = a >= src;
      else if (op === 0x40) cond = (a & src) !== 0;
      else throw new Error(`unsupported JMP 0x${code.toString(16)}`);
      pc += cond ? jt : jf;
    } else if (cls === 0x06 /* RET */) return (code & 0x18) === 0x10 ? a : k;
    else if (cls === 0x07 /* MISC */) {
      if (code === 0x07) x = a;
      else if (code === 0x87) a = x;
      else throw new Error(`unsupported MISC 0x${code.toString(16)}`);
    }
  }
  throw new Error('BPF program ran off its end');
}

export { AUDIT_ARCH_X86_64 };

// The initial process stack, laid out as Linux lays it out (fs/exec.c copy_strings, fs/binfmt_elf.c
// create_elf_tables) and as the System V x86-64 ABI (section 3.4.1, "Initial Stack and Register State") requires.
// From the top (highest address) down:
//   8 zero bytes; the AT_EXECFN string; the envp strings; the argv strings (argv[0] lowest);
//   16-byte alignment; the AT_PLATFORM string; the 16 AT_RANDOM bytes;
//   (padding to 16 bytes) auxv pairs ending with AT_NULL; NULL; envp pointers; NULL; argv pointers; argc <- %rsp.
import { SyscallError, Errno } from '../kernel/syscall_error.js';
import { AT } from './auxv.js';
import { ARG_MAX, MAX_ARG_STRLEN, MAX_ARG_TOTAL } from './layout.js';

export interface StackStrings {
  argv: Buffer[];
  envp: Buffer[];
  /** The path given to execve, for AT_EXECFN. */
  execfn: Buffer;
  /** AT_PLATFORM string, omitted when undefined. */
  platform?: Buffer;
  random16: Buffer;
}

/** Where the loader put the strings the auxiliary vector points at. */
export interface StackAddresses {
  execfn: bigint;
  platform?: bigint;
  random: bigint;
}

export interface BuiltStack {
  image: Buffer;
  sp: bigint;
  auxv: Array<[number, bigint]>;
}

/**
 * Checks argv and envp against Linux's limits (fs/exec.c, bprm_stack_limits and copy_strings): each string, NUL
 * included, at most MAX_ARG_STRLEN bytes; the strings (with `execfn`, the path given to execve, which is copied
 * first for AT_EXECFN) plus one pointer per argv and envp entry within a quarter of the stack, at most 6 MiB and
 * at least ARG_MAX whatever the stack size. E2BIG otherwise.
 */
export function checkArgumentLimits(argv: Buffer[], envp: Buffer[], stackSize: bigint, execfn: Buffer): void {
  let total = (argv.length + envp.length) * 8;
  for (const s of [execfn, ...argv, ...envp]) {
    if (s.length + 1 > MAX_ARG_STRLEN) throw new SyscallError(Errno.E2BIG, `argument of ${s.length} bytes`);
    total += s.length + 1;
  }
  const quarter = Number(stackSize / 4n);
  const limit = Math.max(Math.min(quarter, MAX_ARG_TOTAL), ARG_MAX);
  if (total > limit) throw new SyscallError(Errno.E2BIG, `arguments and environment take ${total} bytes (limit ${limit})`);
}

/**
 * Builds the stack image that ends at `top`. `makeAuxv` receives the addresses of the strings and returns the
 * auxiliary vector without the final AT_NULL (added here). Fails with E2BIG if the image would not fit `size`.
 */
export function buildInitialStack(
  top: bigint,
  size: bigint,
  strings: StackStrings,
  makeAuxv: (addrs: StackAddresses) => Array<[number, bigint]>,
): BuiltStack {
  if (strings.random16.length !== 16) throw new RangeError('AT_RANDOM needs exactly 16 bytes');
  // Lay the strings out downwards from `top`, remembering each string's start as an offset below `top`.
  let below = 8; // the zero word at the very top
  const place = (b: Buffer): number => {
    below += b.length + 1;
    return below;
  };
  const execfnOff = place(strings.execfn);
  const envOffs = strings.envp.map(() => 0);
  for (let i = strings.envp.length - 1; i >= 0; i--) envOffs[i] = place(strings.envp[i]!);
  const argOffs = strings.argv.map(() => 0);
  for (let i = strings.argv.length - 1; i >= 0; i--) argOffs[i] = place(strings.argv[i]!);
  // Linux aligns here (arch_align_stack, without randomization: down to 16 bytes).
  let p = (top - BigInt(below)) & ~15n;
  let platformAddr: bigint | undefined;
  if (strings.platform) {
    p -= BigInt(strings.platform.length + 1);
    platformAddr = p;
  }
  p -= 16n;
  const randomAddr = p;

  const addrs: StackAddresses = { execfn: top - BigInt(execfnOff), random: randomAddr };
  if (platformAddr !== undefined) addrs.platform = platformAddr;
  const auxv = makeAuxv(addrs);
  auxv.push([AT.NULL, 0n]);
  const words = 1 + (strings.argv.length + 1) + (strings.envp.length + 1) + auxv.length * 2;
  const sp = (p - BigInt(words * 8)) & ~15n;
  const length = top - sp;
  if (length > size) throw new SyscallError(Errno.E2BIG, `initial stack of ${length} bytes exceeds the stack size ${size}`);

  const image = Buffer.alloc(Number(length)); // zero-filled: NUL terminators, padding and the top word
  const at = (addr: bigint): number => Number(addr - sp);
  const writeString = (off: number, b: Buffer): bigint => {
    const addr = top - BigInt(off);
    b.copy(image, at(addr));
    return addr;
  };
  writeString(execfnOff, strings.execfn);
  const envPtrs = strings.envp.map((b, i) => writeString(envOffs[i]!, b));
  const argPtrs = strings.argv.map((b, i) => writeString(argOffs[i]!, b));
  if (strings.platform && platformAddr !== undefined) strings.platform.copy(image, at(platformAddr));
  strings.random16.copy(image, at(randomAddr));

  let w = 0;
  const word = (v: bigint): void => {
    image.writeBigUInt64LE(v, w);
    w += 8;
  };
  word(BigInt(strings.argv.length));
  for (const a of argPtrs) word(a);
  word(0n);
  for (const e of envPtrs) word(e);
  word(0n);
  for (const [k, v] of auxv) {
    word(BigInt(k));
    word(BigInt.asUintN(64, v));
  }
  return { image, sp, auxv };
}

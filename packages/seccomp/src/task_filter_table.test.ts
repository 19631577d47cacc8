// Every syscall number, through the exported program: the verdict is the one the class lists ask for. Uses a BPF
// interpreter (testdata/bpf_eval.ts) so that all ~460 numbers and the argument rules are covered without running
// them; the probe tests (task_filter.test.ts) show the kernel agrees on the representative ones.
import { describe, expect, it } from 'vitest';
import { buildTaskFilter, ARG_CHECKED_SYSCALLS, NEVER_NATIVE_SYSCALLS } from './task_filter.js';
import { CLONE_NS_FLAGS, SCMP_ACT, TRACE_DATA } from './constants.js';
import { AUDIT_ARCH_X86_64, evalSeccomp } from './testdata/bpf_eval.js';

const NOTIFY = SCMP_ACT.NOTIFY >>> 0;
const ALLOW = SCMP_ACT.ALLOW >>> 0;
const TRACE = SCMP_ACT.trace(TRACE_DATA.PTRACE_CLASS) >>> 0;

// A deterministic spread of every number 0..459 over the three classes (the argument-checked ones left out; the
// never-native ones are emulated, the only class buildTaskFilter accepts for most of them).
const fixed = new Set<number>(Object.values(ARG_CHECKED_SYSCALLS));
const neverNative = new Set<number>(Object.values(NEVER_NATIVE_SYSCALLS).map((r) => r.nr));
const classes = { emulated: [] as number[], native: [] as number[], ptrace: [] as number[] };
const expected = new Map<number, number>();
for (let nr = 0; nr < 460; nr++) {
  if (fixed.has(nr)) continue;
  const pick = neverNative.has(nr) ? 3 : (nr * 7919) % 5;
  if (pick < 2) {
    classes.native.push(nr);
    expected.set(nr, ALLOW);
  } else if (pick === 2) {
    classes.ptrace.push(nr);
    expected.set(nr, TRACE);
  } else {
    if (pick === 3) classes.emulated.push(nr); // pick 4: unlisted, emulated by default
    expected.set(nr, NOTIFY);
  }
}

describe('task filter verdicts for every syscall number', () => {
  const bpf = buildTaskFilter(classes);
  const verdict = (nr: number, args: bigint[] = [], arch = AUDIT_ARCH_X86_64): number =>
    evalSeccomp(bpf, { nr, arch, args }) >>> 0;

  it('gives each listed or unlisted number its class', () => {
    for (const [nr, want] of expected) expect(verdict(nr, [0xdeadn, 1n, 2n, 3n, 4n, 5n]), `syscall ${nr}`).toBe(want);
    for (const nr of [460, 500, 1023, 0x3fffffff]) expect(verdict(nr)).toBe(NOTIFY);
  });

  it('applies the argument rules', () => {
    const { mmap, clone, arch_prctl, clone3 } = ARG_CHECKED_SYSCALLS;
    expect(verdict(mmap, [0n, 4096n, 3n, 0x22n, -1n, 0n])).toBe(ALLOW);
    expect(verdict(mmap, [0n, 4096n, 3n, 0x02n, 3n, 0n])).toBe(SCMP_ACT.trace(TRACE_DATA.FILE_MMAP) >>> 0);
    expect(verdict(mmap, [0n, 4096n, 3n, 0xffffffffffffffdfn, 3n, 0n])).toBe(SCMP_ACT.trace(TRACE_DATA.FILE_MMAP) >>> 0);
    for (const bit of Object.values(CLONE_NS_FLAGS)) expect(verdict(clone, [BigInt(bit | 17)])).toBe(SCMP_ACT.errno(1) >>> 0);
    expect(verdict(clone, [17n])).toBe(NOTIFY);
    expect(verdict(clone3, [0n, 88n])).toBe(SCMP_ACT.errno(38) >>> 0);
    expect(verdict(arch_prctl, [0x1002n])).toBe(ALLOW);
    expect(verdict(arch_prctl, [0x1003n])).toBe(ALLOW);
    expect(verdict(arch_prctl, [0x1001n])).toBe(NOTIFY);
    expect(verdict(arch_prctl, [0x100001002n])).toBe(NOTIFY); // high bits set: not ARCH_SET_FS to BPF
  });

  it('kills other architectures and x32 numbers', () => {
    expect(verdict(39, [], 0x40000003 /* i386 */)).toBe(SCMP_ACT.KILL_PROCESS >>> 0);
    expect(verdict(0x40000000 + 39)).toBe(SCMP_ACT.KILL_PROCESS >>> 0);
  });

  it('accepts only a bad-architecture action that stops the call', () => {
    const i386 = (action: number): number =>
      evalSeccomp(buildTaskFilter(classes, { badArchAction: action }), { nr: 39, arch: 0x40000003, args: [] }) >>> 0;
    expect(i386(SCMP_ACT.errno(38))).toBe(SCMP_ACT.errno(38) >>> 0);
    expect(i386(SCMP_ACT.TRAP)).toBe(SCMP_ACT.TRAP);
    expect(i386(SCMP_ACT.KILL_THREAD)).toBe(SCMP_ACT.KILL_THREAD);
    for (const action of [SCMP_ACT.ALLOW, SCMP_ACT.LOG, SCMP_ACT.NOTIFY, SCMP_ACT.trace(1)]) {
      expect(() => buildTaskFilter(classes, { badArchAction: action }), action.toString(16)).toThrow(/another syscall ABI/);
    }
  });
});

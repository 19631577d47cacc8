// ptrace(2) requests, waitpid for one tid, and syscall injection (see ptrace.c). Every call must come from the
// thread that attached (the sentry's main thread).
import { addon } from './index.js';

/** Result of running a task to a syscall stop: %rax there, and signals that arrived and were held back. */
export interface SyscallStopResult {
  value: bigint;
  /** Signals suppressed on the way (not delivered); the caller re-raises them (tgkill) when appropriate. */
  signals: number[];
}

interface PtraceAddon {
  ptraceCont(tid: number, sig?: number): void;
  ptraceSyscall(tid: number, sig?: number): void;
  ptraceDetach(tid: number, sig?: number): void;
  ptraceInterrupt(tid: number): void;
  ptraceListen(tid: number): void;
  ptraceGetEventMsg(tid: number): number;
  ptraceGetRegs(tid: number, out: Uint8Array): void;
  ptraceSetRegs(tid: number, regs: Uint8Array): void;
  ptraceGetSiginfo(tid: number, out: Uint8Array): void;
  waitTid(tid: number, block?: boolean): number;
  tgkill(tgid: number, tid: number, sig: number): void;
  runToSyscallStop(tid: number): SyscallStopResult;
  injectSyscall(tid: number, insnAddr: bigint, nr: number, args: bigint[]): SyscallStopResult;
  ptraceGetRseq(tid: number): RseqConfiguration;
}

/** A thread's registered restartable sequence (PTRACE_GET_RSEQ_CONFIGURATION, rseq(2)). */
export interface RseqConfiguration {
  /** 0n when none is registered. */
  address: bigint;
  size: number;
  signature: number;
  flags: number;
}

// index.ts loads the addon and re-exports this module, so the binding is read at call time, not at import
// time (the import cycle would otherwise see it uninitialised).
const p = new Proxy({} as PtraceAddon, { get: (_t, key) => (addon as unknown as Record<string | symbol, unknown>)[key] });

export const ptraceCont = (tid: number, sig = 0): void => p.ptraceCont(tid, sig);
export const ptraceSyscall = (tid: number, sig = 0): void => p.ptraceSyscall(tid, sig);
export const ptraceDetach = (tid: number, sig = 0): void => p.ptraceDetach(tid, sig);
export const ptraceInterrupt = (tid: number): void => p.ptraceInterrupt(tid);
export const ptraceListen = (tid: number): void => p.ptraceListen(tid);
/** PTRACE_GETEVENTMSG: the new tid at a fork/clone event, the exit status at PTRACE_EVENT_EXIT. */
export const ptraceGetEventMsg = (tid: number): number => p.ptraceGetEventMsg(tid);
export const ptraceGetSiginfo = (tid: number, out: Uint8Array): void => p.ptraceGetSiginfo(tid, out);
/** waitpid(tid, __WALL | (block ? 0 : WNOHANG)): the raw status, or -1 when nothing is pending. */
export const waitTid = (tid: number, block = false): number => p.waitTid(tid, block);
export const tgkill = (tgid: number, tid: number, sig: number): void => p.tgkill(tgid, tid, sig);
/** From a seccomp stop or an event stop inside a syscall: finish that syscall and stop at its exit. */
export const runToSyscallStop = (tid: number): SyscallStopResult => p.runToSyscallStop(tid);
/** At a syscall-exit stop: run syscall `nr` with `args` via the `syscall` instruction at `insnAddr`. */
export const injectSyscall = (tid: number, insnAddr: bigint, nr: number, args: bigint[]): SyscallStopResult =>
  p.injectSyscall(tid, insnAddr, nr, args);

/** The thread's rseq registration (the kernel touches that memory on every return to user mode). */
export const ptraceGetRseq = (tid: number): RseqConfiguration => p.ptraceGetRseq(tid);

/** Offsets (in 8-byte words) of struct user_regs_struct (x86_64, <sys/user.h>). */
export const REG = {
  r15: 0, r14: 1, r13: 2, r12: 3, rbp: 4, rbx: 5, r11: 6, r10: 7, r9: 8, r8: 9, rax: 10, rcx: 11, rdx: 12,
  rsi: 13, rdi: 14, orig_rax: 15, rip: 16, cs: 17, eflags: 18, rsp: 19, ss: 20, fs_base: 21, gs_base: 22, ds: 23,
  es: 24, fs: 25, gs: 26,
} as const;
export const USER_REGS_SIZE = 27 * 8;

/** A task's general registers, read and written as one block. */
export class Registers {
  readonly buf = Buffer.alloc(USER_REGS_SIZE);
  private readonly words = new BigUint64Array(this.buf.buffer, this.buf.byteOffset, 27);

  static of(tid: number): Registers {
    const r = new Registers();
    r.load(tid);
    return r;
  }
  load(tid: number): this {
    p.ptraceGetRegs(tid, this.buf);
    return this;
  }
  store(tid: number): void {
    p.ptraceSetRegs(tid, this.buf);
  }
  get(name: keyof typeof REG): bigint {
    return this.words[REG[name]]!;
  }
  set(name: keyof typeof REG, value: bigint): void {
    this.words[REG[name]] = BigInt.asUintN(64, value);
  }
  copyFrom(other: Registers): void {
    this.buf.set(other.buf);
  }
}

// Wait-status decoding (wait(2), ptrace(2) "Stopped states").
export const WIFEXITED = (s: number): boolean => (s & 0x7f) === 0;
export const WEXITSTATUS = (s: number): number => (s >> 8) & 0xff;
export const WIFSIGNALED = (s: number): boolean => (s & 0x7f) !== 0 && (s & 0x7f) !== 0x7f;
export const WTERMSIG = (s: number): number => s & 0x7f;
export const WIFSTOPPED = (s: number): boolean => (s & 0xff) === 0x7f;
export const WSTOPSIG = (s: number): number => (s >> 8) & 0xff;
/** The PTRACE_EVENT_* of a stop (status >> 16), 0 for a signal-delivery stop. */
export const PTRACE_EVENT = (s: number): number => (s >> 16) & 0xff;

export const PTRACE_EVENT_FORK = 1;
export const PTRACE_EVENT_VFORK = 2;
export const PTRACE_EVENT_CLONE = 3;
export const PTRACE_EVENT_EXEC = 4;
export const PTRACE_EVENT_VFORK_DONE = 5;
export const PTRACE_EVENT_EXIT = 6;
export const PTRACE_EVENT_SECCOMP = 7;
export const PTRACE_EVENT_STOP = 128;

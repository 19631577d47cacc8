// Makes a task's address space look like a LoadedImage (loader/types.ts): at a syscall-exit stop it injects
// munmap for the old image, anonymous mmaps for the new one (with their final protection), writes their bytes
// through /proc/PID/mem (which writes read-only pages too), and sets the registers for the entry point.
// The stub page stays: its `syscall` instruction is what every injection runs (platform/stub.ts).
import { injectSyscall, ptraceGetRseq, Registers } from '@tsvisor/native';
import type { LoadedImage } from '../loader/types.js';
import { STUB_BASE, STUB_END, STUB_SYSCALL_INSN } from '../platform/stub.js';
import { Errno, fail } from '../kernel/syscall_error.js';
import type { HostTaskMemory } from '../kernel/task_memory.js';
import { isSpecialMapping, readHostMaps } from './host_maps.js';

const NR = {
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  rt_sigaction: 13,
  sigaltstack: 131,
  set_tid_address: 218,
  set_robust_list: 273,
  rseq: 334,
} as const;
const RSEQ_FLAG_UNREGISTER = 1n;
/** End of the user address space on x86_64 with 4-level page tables. */
const TASK_SIZE = 0x7ffffffff000n;
const SIGCHLD = 17;
const SA_NOCLDWAIT = 2n;
const ROBUST_LIST_HEAD_SIZE = 24n;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
const SS_DISABLE = 2;

/** Runs one injected syscall; returns its result, throwing SyscallError(-result) when it failed. */
export function inject(hostTid: number, nr: number, args: bigint[], heldSignals: number[]): bigint {
  const r = injectSyscall(hostTid, STUB_SYSCALL_INSN, nr, args);
  heldSignals.push(...r.signals);
  if (r.value < 0n && r.value > -4096n) fail(Number(-r.value), `injected syscall ${nr} failed`);
  return r.value;
}

/** Where the kernel put the vDSO (announced to the program as AT_SYSINFO_EHDR). */
export function vdsoBase(hostPid: number): bigint | undefined {
  return readHostMaps(hostPid).find((m) => m.name === '[vdso]')?.start;
}

/**
 * Replaces the image of the task `hostTid` (in a syscall-exit stop) with `image`. `caughtSignals` are reset to
 * SIG_DFL (execve(2): handlers do not survive; ignored signals stay ignored). Returns signals that arrived during
 * the work and were held back.
 */
export function applyImage(
  hostTid: number,
  memory: HostTaskMemory,
  image: LoadedImage,
  caughtSignals: number[],
  ignoredSigchld: boolean,
): number[] {
  const held: number[] = [];
  // Thread state that points into the old image goes first, as in execve(2): the kernel writes a registered
  // rseq area on every return to user mode (unmapped, that is a SIGSEGV loop), and clear_child_tid and the
  // robust futex list would be written at exit into whatever the new image maps there.
  const rseq = ptraceGetRseq(hostTid);
  if (rseq.address !== 0n) {
    inject(hostTid, NR.rseq, [rseq.address, BigInt(rseq.size), RSEQ_FLAG_UNREGISTER, BigInt(rseq.signature)], held);
  }
  inject(hostTid, NR.set_tid_address, [0n], held);
  inject(hostTid, NR.set_robust_list, [0n, ROBUST_LIST_HEAD_SIZE], held);
  // Everything but the stub page and the kernel's special mappings goes, in as few calls as the layout allows:
  // munmap of a range with holes is fine (munmap(2)).
  const keep = readHostMaps(hostTid)
    .filter((m) => m.start < TASK_SIZE && (isSpecialMapping(m) || (m.start >= STUB_BASE && m.end <= STUB_END)))
    .sort((a, b) => (a.start < b.start ? -1 : 1));
  let from = STUB_END;
  for (const k of keep) {
    if (k.end <= from) continue;
    if (k.start > from) inject(hostTid, NR.munmap, [from, k.start - from], held);
    from = k.end;
  }
  if (from < TASK_SIZE) inject(hostTid, NR.munmap, [from, TASK_SIZE - from], held);
  const anon = BigInt(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  for (const m of image.mappings) {
    if (m.start < STUB_END && m.start + m.length > STUB_BASE) fail(Errno.ENOMEM, 'image overlaps the stub page');
    // Mapped with its final protection at once: /proc/PID/mem writes read-only pages too.
    const at = inject(hostTid, NR.mmap, [m.start, m.length, BigInt(m.prot), anon, -1n, 0n], held);
    if (at !== m.start) fail(Errno.ENOMEM, `mmap landed at 0x${at.toString(16)}, not 0x${m.start.toString(16)}`);
    if (m.contents.length > 0) memory.writeForce(m.start, m.contents);
  }
  const st = image.stack;
  const stackLow = st.top - st.size;
  inject(hostTid, NR.mmap, [stackLow, st.size, BigInt(st.prot), anon, -1n, 0n], held);
  memory.writeForce(st.top - BigInt(st.image.length), st.image);

  // The bottom of the fresh stack is zero: a zeroed struct sigaction (SIG_DFL, no flags) for the resets.
  for (const sig of caughtSignals) {
    if (sig !== SIGCHLD) inject(hostTid, NR.rt_sigaction, [BigInt(sig), stackLow, 0n, 8n], held);
  }
  // SIGCHLD: SIG_DFL unless ignored, always with SA_NOCLDWAIT on the host (see kernel/ptrace_syscalls.ts).
  const chld = Buffer.alloc(32);
  chld.writeBigUInt64LE(ignoredSigchld ? 1n : 0n, 0);
  chld.writeBigUInt64LE(SA_NOCLDWAIT, 8);
  memory.writeForce(stackLow + 128n, chld);
  inject(hostTid, NR.rt_sigaction, [BigInt(SIGCHLD), stackLow + 128n, 0n, 8n], held);
  memory.writeForce(stackLow + 128n, Buffer.alloc(32));
  // stack_t { ss_sp, ss_flags, ss_size }: disable any alternate signal stack (execve(2)).
  const ss = Buffer.alloc(24);
  ss.writeInt32LE(SS_DISABLE, 8);
  memory.writeForce(stackLow + 64n, ss);
  inject(hostTid, NR.sigaltstack, [stackLow + 64n, 0n], held);
  memory.writeForce(stackLow + 64n, Buffer.alloc(24));

  // The program break is the sentry's (mm/brk.ts): nothing to set on the host.

  // Registers as a new process starts (System V x86-64 ABI 3.4.1: %rdx holds an atexit function or 0).
  const regs = Registers.of(hostTid);
  const fresh = new Registers();
  fresh.copyFrom(regs);
  for (const r of ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi'] as const) {
    fresh.set(r, 0n);
  }
  fresh.set('rip', image.entry);
  fresh.set('rsp', st.sp);
  fresh.set('fs_base', 0n);
  fresh.set('gs_base', 0n);
  fresh.set('eflags', 0x202n);
  fresh.store(hostTid);
  return held;
}

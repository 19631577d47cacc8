// The syscall table: every x86_64 syscall the sandbox knows, with its class (how the platform routes it, and why
// that is safe), its support level, and the handler for emulated ones. The task seccomp filter is built from the
// classes here (taskFilter), so routing and handling can never disagree. `runsc` prints this table.
import { buildTaskFilter } from '@tsvisor/seccomp';
import type { Task } from '../kernel/task.js';
import { fileSyscalls } from './fs_syscalls.js';
import { identitySyscalls } from './identity.js';
import { SYSCALL_NAMES, SYSCALL_NUMBERS, type SyscallName } from './numbers.js';
import { processSyscalls } from './process.js';
import { systemInfoSyscalls } from './system_info.js';
import type { SupportLevel, SyscallClass, SyscallHandler } from './types.js';

export interface SyscallEntry {
  nr: number;
  name: SyscallName;
  class: SyscallClass;
  support: SupportLevel;
  /** Why the class is safe (native, ptrace) or what the emulation leaves out (partial). */
  note: string;
  handler?: SyscallHandler<Task>;
}

/**
 * Native: they act only on the calling task's own address space, threads, signal state or clocks, so the host
 * may run them (design.md "The platform"). mmap is native only with MAP_ANONYMOUS and arch_prctl only for
 * ARCH_SET_FS/ARCH_GET_FS: the filter (packages/seccomp) checks those arguments.
 */
const NATIVE: Partial<Record<SyscallName, string>> = {
  mmap: 'anonymous only (MAP_ANONYMOUS checked in BPF); file mappings go to the tracer',
  munmap: 'own address space',
  mprotect: 'own address space',
  mremap: 'own address space',
  madvise: 'own address space',
  mincore: 'own address space',
  msync: 'own memory; file mappings are private copies, nothing to write back',
  mlock: 'own memory, bounded by RLIMIT_MEMLOCK of the host',
  munlock: 'own memory',
  mlockall: 'own memory',
  munlockall: 'own memory',
  futex: 'waits on own memory',
  set_robust_list: 'own thread state',
  get_robust_list: 'own thread state',
  rseq: 'own thread state',
  set_tid_address: 'own thread state',
  arch_prctl: 'ARCH_SET_FS/ARCH_GET_FS only (checked in BPF): TLS of the own thread',
  rt_sigprocmask: 'own signal mask',
  rt_sigreturn: 'own signal frame',
  rt_sigsuspend: 'waits for own signals',
  rt_sigtimedwait: 'waits for own signals',
  rt_sigpending: 'own pending signals',
  sigaltstack: 'own signal stack',
  pause: 'waits for own signals',
  sched_yield: 'scheduling of the own thread',
  sched_getaffinity: 'reads own CPU mask',
  getcpu: 'reads own CPU number',
  nanosleep: 'sleeps',
  clock_nanosleep: 'sleeps',
  clock_gettime: 'reads clocks (also the vDSO does)',
  clock_getres: 'reads clocks',
  gettimeofday: 'reads clocks',
  time: 'reads clocks',
  getitimer: 'own process timers',
  setitimer: 'own process timers: signals go to the own process only',
  alarm: 'own process timer',
  timer_create: 'POSIX timers signal only the own thread group (the kernel checks SIGEV_THREAD_ID)',
  timer_settime: 'own POSIX timer',
  timer_gettime: 'own POSIX timer',
  timer_getoverrun: 'own POSIX timer',
  timer_delete: 'own POSIX timer',
  sched_setaffinity: 'CPU placement; only tasks of the sandbox are visible in its pid namespace',
  getpid: 'host tgid inside the task pid namespace is the sandbox pid',
  gettid: 'host tid inside the task pid namespace is the sandbox tid',
  getrandom: 'reads kernel randomness, no resource named',
  membarrier: 'own threads',
  exit: 'ends the own thread; the tracer sees it',
  exit_group: 'ends the own process; the tracer sees it',
  restart_syscall: 'restarts a native sleep',
};

/** ptrace class: the sentry must act on the task itself (a new image, a new traced thread, filled memory). */
const PTRACE: Partial<Record<SyscallName, string>> = {
  execve: 'the sentry loads the ELF from its VFS and replaces the image by injection',
  execveat: 'as execve (the stub is exec\'ed through it at task creation)',
  clone: 'runs on the host after flag checks (namespaces refused in BPF, CLONE_UNTRACED removed, CLONE_PIDFD refused: a host fd) so the child is traced',
  fork: 'runs on the host; the child is traced from its first instruction (PTRACE_O_TRACEFORK)',
  vfork: 'becomes fork: the child\'s execve replaces its image in place',
  rt_sigaction: 'own dispositions; traced so SIGCHLD always has SA_NOCLDWAIT on the host (auto-reap of tasks)',
  brk: 'the heap is grown/shrunk by injected mmap/munmap: the host brk area starts after the stub (mm/brk.ts)',
};

/** Emulated handlers whose support is partial, with what they leave out. */
const PARTIAL: Partial<Record<SyscallName, string>> = {
  wait4: 'rusage: CPU times only',
  waitid: 'rusage: CPU times only; P_PIDFD not supported',
  getrusage: 'CPU times only (memory and I/O counters zero)',
  prctl: 'names, dumpable, no_new_privs, seccomp queries, PDEATHSIG, child subreaper',
  setfsuid: 'not kept apart from the effective id',
  setfsgid: 'not kept apart from the effective id',
  arch_prctl: 'ARCH_GET_CPUID, ARCH_GET_GS; ARCH_SET_GS refused',
  kill: 'no job-control stop/continue bookkeeping',
  rt_sigqueueinfo: 'delivered without its siginfo payload',
  rt_tgsigqueueinfo: 'delivered without its siginfo payload',
  capget: 'root has every capability, others none',
  capset: 'accepted, not kept',
  get_mempolicy: 'one node, default policy',
  set_mempolicy: 'accepted, no effect',
  mbind: 'accepted, no effect',
};

const EMULATED: Partial<Record<SyscallName, SyscallHandler<Task>>> = {
  ...(fileSyscalls as Partial<Record<SyscallName, SyscallHandler<Task>>>),
  ...processSyscalls,
  ...identitySyscalls,
  ...systemInfoSyscalls,
};

function build(): Map<number, SyscallEntry> {
  const table = new Map<number, SyscallEntry>();
  for (const [name, nr] of Object.entries(SYSCALL_NUMBERS) as [SyscallName, number][]) {
    const native = NATIVE[name];
    const ptrace = PTRACE[name];
    const handler = EMULATED[name];
    if (native !== undefined && name !== 'arch_prctl') {
      table.set(nr, { nr, name, class: 'native', support: 'full', note: native });
    } else if (ptrace !== undefined) {
      table.set(nr, { nr, name, class: 'ptrace', support: 'full', note: ptrace });
    } else if (handler) {
      const partial = PARTIAL[name];
      table.set(nr, {
        nr,
        name,
        class: 'emulated',
        support: partial ? 'partial' : 'full',
        note: partial ?? 'answered by the sentry',
        handler,
      });
    } else if (name === 'clone3') {
      table.set(nr, { nr, name, class: 'emulated', support: 'unimplemented', note: 'ENOSYS in BPF: flags are in memory; libc falls back to clone' });
    } else {
      table.set(nr, { nr, name, class: 'emulated', support: 'unimplemented', note: 'ENOSYS' });
    }
  }
  // arch_prctl: ARCH_SET_FS/GET_FS native by argument rule; every other code is emulated.
  const ap = SYSCALL_NUMBERS.arch_prctl;
  table.set(ap, { ...table.get(ap)!, note: `${NATIVE.arch_prctl}; others: ${PARTIAL.arch_prctl}` });
  return table;
}

/** The whole table, keyed by syscall number. */
export const syscallTable: ReadonlyMap<number, SyscallEntry> = build();

export function syscallName(nr: number): string {
  return SYSCALL_NAMES.get(nr) ?? `syscall_${nr}`;
}

let cachedFilter: Buffer | null = null;

/** The task seccomp filter (BPF) for this table, built once. */
export function taskFilter(): Buffer {
  if (!cachedFilter) {
    const classes = { emulated: [] as number[], native: [] as number[], ptrace: [] as number[] };
    for (const e of syscallTable.values()) {
      if (e.name === 'clone3') continue; // fixed rule in the filter
      classes[e.class].push(e.nr);
    }
    cachedFilter = buildTaskFilter(classes);
  }
  return cachedFilter;
}

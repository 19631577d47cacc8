// The seccomp filter installed in every application task (design.md, "The platform"). It sorts each syscall into
// one of three classes, given by the sentry's syscall table:
//   emulated -> SECCOMP_RET_USER_NOTIF: the sentry answers it; the host never runs it;
//   native   -> SECCOMP_RET_ALLOW: it only touches the task's own address space and threads;
//   ptrace   -> SECCOMP_RET_TRACE: the sentry must act on the task itself (registers, a new image).
// Anything not listed is emulated: the sentry answers unknown syscalls with ENOSYS, the host never runs them.
//
// A few syscalls are safe natively only for some arguments; their rules are fixed here, whatever class the table
// gives them, because the safety argument is about this filter, not about the handler:
//   mmap       native only with MAP_ANONYMOUS (the fd is then ignored by Linux, mmap(2)); a file-backed mmap would
//              let the host map a host fd, so it goes to the tracer, which maps anonymous memory and fills it with
//              the file's bytes from the sentry's VFS (TRACE_DATA.FILE_MMAP);
//   clone      refused with EPERM when it asks for any namespace (CLONE_NEW*): a task must not make namespaces the
//              sentry does not model (a new user namespace would also give it capabilities over host objects);
//              otherwise the class the table gives clone, ptrace or emulated (the sentry sees the new task via
//              PTRACE_O_TRACECLONE); native is refused, since CLONE_UNTRACED would escape the tracer;
//   clone3     ENOSYS: its flags are in memory, which BPF cannot read; glibc then falls back to clone (design.md);
//   arch_prctl native only for ARCH_SET_FS / ARCH_GET_FS (TLS set-up by libc); other codes (ARCH_SET_GS,
//              ARCH_GET_CPUID, ARCH_MAP_VDSO_*, ...) go to the table's class if that is ptrace, else to the sentry.
// Some syscalls must never run on the host for a task (NEVER_NATIVE_SYSCALLS): a class list that makes one of them
// native is refused, so a slip in the table cannot open a way to the host.
// Every architecture other than x86_64 (i386 via int 0x80, and x32 syscall numbers with bit 30 set) kills the
// process: the table and the sentry speak x86_64 only, and a second syscall ABI would bypass every rule above.
import { SeccompFilter } from './libseccomp.js';
import {
  ARCH_GET_FS,
  ARCH_SET_FS,
  CLONE_NS_FLAGS,
  ENOSYS,
  EPERM,
  MAP_ANONYMOUS,
  SCMP_ACT,
  SCMP_CMP,
  SCMP_FLTATR,
  TRACE_DATA,
} from './constants.js';

/** Syscall numbers (x86_64) by class, as the sentry's syscall table lists them. */
export interface SyscallClasses {
  emulated: number[];
  native: number[];
  ptrace: number[];
}

export interface TaskFilterOptions {
  /**
   * Action for a syscall made under another architecture (i386, x32); default SCMP_ACT.KILL_PROCESS. Only actions
   * that stop the call are accepted (KILL_PROCESS, KILL_THREAD, TRAP, errno(n)): ALLOW or LOG would run every i386
   * syscall on the host, and NOTIFY or TRACE would hand the sentry numbers from a table it does not speak.
   */
  badArchAction?: number;
}

/** x86_64 numbers of the syscalls with argument rules (<asm/unistd_64.h>). */
export const ARG_CHECKED_SYSCALLS = { mmap: 9, clone: 56, arch_prctl: 158, clone3: 435 } as const;

/**
 * Syscalls the host must never run for a task, whatever the sentry's table says: buildTaskFilter refuses a class
 * list that makes one of them native (SECCOMP_RET_ALLOW), or ptrace-class unless `ptraceOk` (the tracer could
 * resume the call on the host). A mistake in the table then fails at build time instead of opening a hole.
 * x86_64 numbers (<asm/unistd_64.h>); the test checks each against libseccomp's name table.
 */
export const NEVER_NATIVE_SYSCALLS: Readonly<Record<string, { nr: number; why: string; ptraceOk?: true }>> = {
  // Reach other processes: the host pid, memory or registers of a task the sentry owns, or of the sentry itself.
  ptrace: { nr: 101, why: 'would trace other tasks (the sentry must be their only tracer)' },
  process_vm_readv: { nr: 310, why: 'reads another process\'s memory by host pid' },
  process_vm_writev: { nr: 311, why: 'writes another process\'s memory by host pid' },
  process_madvise: { nr: 440, why: 'acts on another process\'s memory through a pidfd' },
  pidfd_open: { nr: 434, why: 'makes a host pidfd' },
  pidfd_getfd: { nr: 438, why: 'steals a host fd from another process' },
  kcmp: { nr: 312, why: 'compares kernel objects of other processes' },
  move_pages: { nr: 279, why: 'moves pages of another process by pid' },
  migrate_pages: { nr: 256, why: 'moves pages of another process by pid' },
  // Change what the filter itself sees or what the task may do to the host.
  seccomp: { nr: 317, why: 'a task filter installed natively could hide calls from the sentry or add a listener' },
  personality: { nr: 135, why: 'READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE and friends change the image the sentry laid out' },
  prctl: { nr: 157, why: 'PR_SET_SECCOMP, PR_SET_PTRACER, PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE loosen the sentry\'s hold on the task' },
  modify_ldt: { nr: 154, why: 'the sentry does not model the LDT; 32-bit segments (i386-ABI calls are killed anyway) and a history of kernel bugs' },
  clone: { nr: 56, why: 'CLONE_UNTRACED would start a task the sentry does not trace', ptraceOk: true },
  unshare: { nr: 272, why: 'makes host namespaces the sentry does not model (a user namespace gives capabilities)' },
  setns: { nr: 308, why: 'joins host namespaces' },
  execve: { nr: 59, why: 'would run a host file; the sentry loads images from its own VFS', ptraceOk: true },
  execveat: { nr: 322, why: 'as execve', ptraceOk: true },
  // Name a host resource: a task holds no host fds and sees the sandbox's files, sockets and IPC, never the host's.
  open: { nr: 2, why: 'opens a host file' },
  openat: { nr: 257, why: 'opens a host file' },
  openat2: { nr: 437, why: 'opens a host file' },
  creat: { nr: 85, why: 'creates a host file' },
  socket: { nr: 41, why: 'a host socket: the host network instead of netstack' },
  socketpair: { nr: 53, why: 'host sockets (and SCM_RIGHTS between tasks behind the sentry\'s back)' },
  shmget: { nr: 29, why: 'SysV shared memory of the host IPC namespace' },
  shmat: { nr: 30, why: 'maps SysV shared memory of the host IPC namespace' },
  semget: { nr: 64, why: 'SysV semaphores of the host IPC namespace' },
  msgget: { nr: 68, why: 'SysV message queues of the host IPC namespace' },
  mq_open: { nr: 240, why: 'POSIX message queues of the host' },
  // Kernel interfaces with a large attack surface or host-wide effect.
  userfaultfd: { nr: 323, why: 'host fd; a known kernel exploitation aid' },
  io_uring_setup: { nr: 425, why: 'io_uring runs syscalls the filter never sees' },
  io_uring_enter: { nr: 426, why: 'io_uring runs syscalls the filter never sees' },
  io_uring_register: { nr: 427, why: 'io_uring runs syscalls the filter never sees' },
  bpf: { nr: 321, why: 'loads programs into the host kernel' },
  perf_event_open: { nr: 298, why: 'host performance counters; a frequent kernel attack surface' },
  kexec_load: { nr: 246, why: 'replaces the host kernel' },
  kexec_file_load: { nr: 320, why: 'replaces the host kernel' },
  init_module: { nr: 175, why: 'loads host kernel modules' },
  finit_module: { nr: 313, why: 'loads host kernel modules' },
  delete_module: { nr: 176, why: 'unloads host kernel modules' },
  keyctl: { nr: 250, why: 'host kernel keyrings are not namespaced' },
  add_key: { nr: 248, why: 'host kernel keyrings are not namespaced' },
  request_key: { nr: 249, why: 'host kernel keyrings are not namespaced' },
  mount: { nr: 165, why: 'host mounts' },
  umount2: { nr: 166, why: 'host mounts' },
  pivot_root: { nr: 155, why: 'host mounts' },
  open_tree: { nr: 428, why: 'host mounts (new mount API)' },
  move_mount: { nr: 429, why: 'host mounts (new mount API)' },
  fsopen: { nr: 430, why: 'host mounts (new mount API)' },
  fsconfig: { nr: 431, why: 'host mounts (new mount API)' },
  fsmount: { nr: 432, why: 'host mounts (new mount API)' },
  fspick: { nr: 433, why: 'host mounts (new mount API)' },
  mount_setattr: { nr: 442, why: 'host mounts (new mount API)' },
  swapon: { nr: 167, why: 'host-wide' },
  swapoff: { nr: 168, why: 'host-wide' },
  acct: { nr: 163, why: 'host-wide process accounting to a host file' },
  syslog: { nr: 103, why: 'reads the host kernel log' },
  sethostname: { nr: 170, why: 'the sandbox\'s hostname is the sentry\'s' },
  setdomainname: { nr: 171, why: 'the sandbox\'s domain name is the sentry\'s' },
  open_by_handle_at: { nr: 304, why: 'opens host files by handle, outside any root' },
  reboot: { nr: 169, why: 'host-wide' },
  iopl: { nr: 172, why: 'host I/O ports' },
  ioperm: { nr: 173, why: 'host I/O ports' },
  clock_settime: { nr: 227, why: 'host clock' },
  settimeofday: { nr: 164, why: 'host clock' },
  adjtimex: { nr: 159, why: 'host clock' },
  clock_adjtime: { nr: 305, why: 'host clock' },
};

/** Largest syscall number accepted in a class list; x86_64 has fewer than 512 (the x32 range starts at 1 << 30). */
const MAX_SYSCALL_NR = 1023;

type ClassName = keyof SyscallClasses;

function classify(classes: SyscallClasses): Map<number, ClassName> {
  const byNr = new Map<number, ClassName>();
  for (const cls of ['emulated', 'native', 'ptrace'] as const) {
    for (const nr of classes[cls]) {
      if (!Number.isInteger(nr) || nr < 0 || nr > MAX_SYSCALL_NR) {
        throw new RangeError(`buildTaskFilter: ${cls} lists ${nr}, not an x86_64 syscall number (0..${MAX_SYSCALL_NR})`);
      }
      const prev = byNr.get(nr);
      if (prev && prev !== cls) {
        throw new RangeError(`buildTaskFilter: syscall ${nr} is listed both as ${prev} and as ${cls}`);
      }
      byNr.set(nr, cls);
    }
  }
  for (const [name, rule] of Object.entries(NEVER_NATIVE_SYSCALLS)) {
    const cls = byNr.get(rule.nr);
    if (cls === 'native' || (cls === 'ptrace' && !rule.ptraceOk)) {
      throw new RangeError(`buildTaskFilter: ${name} (${rule.nr}) must not be ${cls}: ${rule.why}`);
    }
  }
  return byNr;
}

function actionFor(cls: ClassName | undefined): number {
  switch (cls) {
    case 'native':
      return SCMP_ACT.ALLOW;
    case 'ptrace':
      return SCMP_ACT.trace(TRACE_DATA.PTRACE_CLASS);
    default:
      return SCMP_ACT.NOTIFY;
  }
}

/**
 * Builds the application task filter and returns it as BPF (struct sock_filter[]), ready for
 * seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, ...).
 */
export function buildTaskFilter(classes: SyscallClasses, opts: TaskFilterOptions = {}): Buffer {
  const badArch = (opts.badArchAction ?? SCMP_ACT.KILL_PROCESS) >>> 0;
  const stopsTheCall =
    badArch === SCMP_ACT.KILL_PROCESS || badArch === SCMP_ACT.KILL_THREAD || badArch === SCMP_ACT.TRAP ||
    (badArch & 0xffff0000) === SCMP_ACT.errno(0);
  if (!stopsTheCall) {
    throw new RangeError(`buildTaskFilter: badArchAction 0x${badArch.toString(16)} would let another syscall ABI past the filter`);
  }
  const byNr = classify(classes);
  const filter = new SeccompFilter(SCMP_ACT.NOTIFY);
  try {
    // seccomp_init adds the native arch (x86_64) only; libseccomp then routes syscall numbers >= 0x40000000 (x32)
    // to the bad-arch action too, since x32 is not in the filter.
    filter.setAttr(SCMP_FLTATR.ACT_BADARCH, badArch);
    // The installer sets NO_NEW_PRIVS itself before seccomp(2); exporting does not use this attribute.
    filter.setAttr(SCMP_FLTATR.CTL_NNP, 1);
    // Every application syscall runs this program: a binary search on the syscall number (optimization level 2)
    // reaches any of the ~350 rules in about nine comparisons instead of walking a list.
    filter.setAttr(SCMP_FLTATR.CTL_OPTIMIZE, 2);

    const { mmap, clone, arch_prctl, clone3 } = ARG_CHECKED_SYSCALLS;
    for (const [nr, cls] of byNr) {
      if (nr === mmap || nr === clone || nr === arch_prctl || nr === clone3) continue;
      // The default action is NOTIFY already; libseccomp refuses a rule equal to the default.
      if (cls === 'emulated') continue;
      filter.addRule(actionFor(cls), nr);
    }

    // mmap(addr, length, prot, flags, fd, offset): flags is argument 3. The two rules cover every flags value.
    filter.addRule(SCMP_ACT.ALLOW, mmap, [
      { arg: 3, op: SCMP_CMP.MASKED_EQ, datumA: BigInt(MAP_ANONYMOUS), datumB: BigInt(MAP_ANONYMOUS) },
    ]);
    filter.addRule(SCMP_ACT.trace(TRACE_DATA.FILE_MMAP), mmap, [
      { arg: 3, op: SCMP_CMP.MASKED_EQ, datumA: BigInt(MAP_ANONYMOUS), datumB: 0n },
    ]);

    // clone(flags, stack, parent_tid, child_tid, tls) on x86_64: flags is argument 0. One EPERM rule per namespace
    // bit (rules with the same action are OR-ed) and one rule for "no namespace bit", so the rules partition flags.
    let nsMask = 0;
    for (const bit of Object.values(CLONE_NS_FLAGS)) {
      nsMask |= bit;
      filter.addRule(SCMP_ACT.errno(EPERM), clone, [
        { arg: 0, op: SCMP_CMP.MASKED_EQ, datumA: BigInt(bit), datumB: BigInt(bit) },
      ]);
    }
    const cloneAction = actionFor(byNr.get(clone));
    if (cloneAction !== SCMP_ACT.NOTIFY) {
      filter.addRule(cloneAction, clone, [
        { arg: 0, op: SCMP_CMP.MASKED_EQ, datumA: BigInt(nsMask >>> 0), datumB: 0n },
      ]);
    }

    filter.addRule(SCMP_ACT.errno(ENOSYS), clone3);

    filter.addRule(SCMP_ACT.ALLOW, arch_prctl, [{ arg: 0, op: SCMP_CMP.EQ, datumA: BigInt(ARCH_SET_FS) }]);
    filter.addRule(SCMP_ACT.ALLOW, arch_prctl, [{ arg: 0, op: SCMP_CMP.EQ, datumA: BigInt(ARCH_GET_FS) }]);
    if (byNr.get(arch_prctl) === 'ptrace') {
      // Remaining codes: every value but the two above. libseccomp takes one comparison per argument in a rule, so
      // "below ARCH_SET_FS" and "above ARCH_GET_FS" (the two codes are adjacent: 0x1002, 0x1003).
      filter.addRule(SCMP_ACT.trace(TRACE_DATA.PTRACE_CLASS), arch_prctl, [
        { arg: 0, op: SCMP_CMP.LT, datumA: BigInt(ARCH_SET_FS) },
      ]);
      filter.addRule(SCMP_ACT.trace(TRACE_DATA.PTRACE_CLASS), arch_prctl, [
        { arg: 0, op: SCMP_CMP.GT, datumA: BigInt(ARCH_GET_FS) },
      ]);
    }

    return filter.exportBpf();
  } finally {
    filter.release();
  }
}


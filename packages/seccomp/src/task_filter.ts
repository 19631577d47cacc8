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
//              otherwise the class the table gives clone (the sentry sees the new task via PTRACE_O_TRACECLONE);
//   clone3     ENOSYS: its flags are in memory, which BPF cannot read; glibc then falls back to clone (design.md);
//   arch_prctl native only for ARCH_SET_FS / ARCH_GET_FS (TLS set-up by libc); other codes (ARCH_SET_GS,
//              ARCH_GET_CPUID, ARCH_MAP_VDSO_*, ...) go to the table's class if that is ptrace, else to the sentry.
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
  /** Action for a syscall made under another architecture; default SCMP_ACT.KILL_PROCESS. */
  badArchAction?: number;
}

/** x86_64 numbers of the syscalls with argument rules (<asm/unistd_64.h>). */
export const ARG_CHECKED_SYSCALLS = { mmap: 9, clone: 56, arch_prctl: 158, clone3: 435 } as const;

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
  const byNr = classify(classes);
  const filter = new SeccompFilter(SCMP_ACT.NOTIFY);
  try {
    // seccomp_init adds the native arch (x86_64) only; libseccomp then routes syscall numbers >= 0x40000000 (x32)
    // to the bad-arch action too, since x32 is not in the filter.
    filter.setAttr(SCMP_FLTATR.ACT_BADARCH, opts.badArchAction ?? SCMP_ACT.KILL_PROCESS);
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


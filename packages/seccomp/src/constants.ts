// Constants from seccomp.h (libseccomp 2.5), <linux/seccomp.h>, <linux/audit.h> and the x86_64 uapi headers that
// the policies use. Values are ABI and never change.

/** Filter actions (seccomp.h SCMP_ACT_*; the kernel's SECCOMP_RET_* with the data in the low 16 bits). */
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  NOTIFY: 0x7fc00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
  errno: (e: number): number => (0x00050000 | (e & 0xffff)) >>> 0,
  trace: (data: number): number => (0x7ff00000 | (data & 0xffff)) >>> 0,
} as const;

/** Comparison operators (enum scmp_compare). */
export const SCMP_CMP = {
  NE: 1,
  LT: 2,
  LE: 3,
  EQ: 4,
  GE: 5,
  GT: 6,
  MASKED_EQ: 7,
} as const;

/** Filter attributes (enum scmp_filter_attr). */
export const SCMP_FLTATR = {
  ACT_DEFAULT: 1,
  ACT_BADARCH: 2,
  CTL_NNP: 3,
  CTL_TSYNC: 4,
  API_TSKIP: 5,
  CTL_LOG: 6,
  CTL_SSB: 7,
  CTL_OPTIMIZE: 8,
  API_SYSRAWRC: 9,
} as const;

/** Architecture tokens (AUDIT_ARCH_*; SCMP_ARCH_X32 is libseccomp's own token). */
export const SCMP_ARCH = {
  NATIVE: 0,
  X86_64: 0xc000003e,
  X86: 0x40000003,
  X32: 0x4000003e,
} as const;

/** seccomp(2) flags for SECCOMP_SET_MODE_FILTER, for the code that installs an exported program. */
export const SECCOMP_FILTER_FLAG = {
  TSYNC: 1,
  LOG: 2,
  SPEC_ALLOW: 4,
  NEW_LISTENER: 8,
  TSYNC_ESRCH: 16,
  WAIT_KILLABLE_RECV: 32,
} as const;

/** clone(2) namespace flags the task filter refuses (a task never makes namespaces the sentry does not know). */
export const CLONE_NS_FLAGS = {
  CLONE_NEWNS: 0x00020000,
  CLONE_NEWCGROUP: 0x02000000,
  CLONE_NEWUTS: 0x04000000,
  CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
} as const;

export const MAP_ANONYMOUS = 0x20;
export const ARCH_SET_GS = 0x1001;
export const ARCH_SET_FS = 0x1002;
export const ARCH_GET_FS = 0x1003;
export const ARCH_GET_GS = 0x1004;

export const EPERM = 1;
export const ENOSYS = 38;

/**
 * The 16-bit data of a SECCOMP_RET_TRACE, which the tracer reads with PTRACE_GETEVENTMSG at the
 * PTRACE_EVENT_SECCOMP stop: it says why the filter sent the call to the tracer.
 */
export const TRACE_DATA = {
  /** The syscall's class is ptrace (it needs the task's registers or a new image, e.g. execve). */
  PTRACE_CLASS: 1,
  /** mmap without MAP_ANONYMOUS: the sentry maps anonymous memory and fills it with the file's bytes. */
  FILE_MMAP: 2,
} as const;

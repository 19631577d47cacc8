// Public API of @tsvisor/seccomp: seccomp-bpf policies built with libseccomp (through koffi), exported as BPF.
export { SeccompError, SeccompFilter, apiLevel, resolveSyscallName } from './libseccomp.js';
export type { ArgCmp } from './libseccomp.js';
export {
  SCMP_ACT,
  SCMP_CMP,
  SCMP_FLTATR,
  SCMP_ARCH,
  SECCOMP_FILTER_FLAG,
  CLONE_NS_FLAGS,
  MAP_ANONYMOUS,
  ARCH_SET_FS,
  ARCH_GET_FS,
  ARCH_SET_GS,
  ARCH_GET_GS,
  TRACE_DATA,
} from './constants.js';
export { buildTaskFilter, ARG_CHECKED_SYSCALLS, NEVER_NATIVE_SYSCALLS } from './task_filter.js';
export type { SyscallClasses, TaskFilterOptions } from './task_filter.js';
export { buildSelfFilter, installSelfFilter, selfAllowList } from './self_filter.js';
export type { SelfFilterKind, SelfFilterOptions } from './self_filter.js';

// The one signature every syscall handler has: the calling task, its six raw register arguments, and a result.
// A handler returns the non-negative result (number or bigint, e.g. an address) or throws SyscallError(errno).
import type { SyscallContext } from '../kernel/context.js';

/** rdi, rsi, rdx, r10, r8, r9 as unsigned 64-bit values. */
export type SyscallArgs = readonly [bigint, bigint, bigint, bigint, bigint, bigint];

export type SyscallResult = number | bigint;

export type SyscallHandler<T extends SyscallContext = SyscallContext> = (
  task: T,
  args: SyscallArgs,
) => SyscallResult | Promise<SyscallResult>;

/**
 * How the platform routes a syscall (design.md, "The platform"):
 *  - emulated: seccomp user notification, answered by the sentry; the host never runs it.
 *  - native:   SECCOMP_RET_ALLOW; only touches the task's own address space or threads.
 *  - ptrace:   SECCOMP_RET_TRACE; the sentry must act on the task itself (execve, file-backed mmap).
 */
export type SyscallClass = 'emulated' | 'native' | 'ptrace';

/** How much of Linux's behaviour the handler gives (like gVisor's linux64.go support levels). */
export type SupportLevel = 'full' | 'partial' | 'unimplemented';

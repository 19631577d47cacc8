// Address-space constants of x86_64 Linux that the loader matches, and the default placement of a new image.
import type { AddressLayout } from './types.js';

export const PAGE_SIZE = 4096n;

/** TASK_SIZE on x86_64 with 4-level paging (arch/x86/include/asm/page_64_types.h): the user address-space end. */
export const TASK_SIZE = 0x7ffffffff000n;

/** Linux's default vm.mmap_min_addr: a fixed mapping below it fails, so an image there cannot be loaded. */
export const MMAP_MIN_ADDR = 0x10000n;

/** Linux's MAX_ARG_STRLEN (include/uapi/linux/binfmts.h): one argv/envp string, NUL included, at most 32 pages. */
export const MAX_ARG_STRLEN = 32 * 4096;

/** ARG_MAX (include/uapi/linux/limits.h, 32 pages): argv+envp may always take this much, however small the stack. */
export const ARG_MAX = 32 * 4096;

/** _STK_LIM / 4 * 3 (fs/exec.c, bprm_stack_limits): the cap on argv+envp whatever the stack rlimit. */
export const MAX_ARG_TOTAL = 6 * 1024 * 1024;

/**
 * Where a new image goes when the caller gives no layout. The values are what Linux picks with randomization off
 * (`setarch -R`): PIE programs at ELF_ET_DYN_BASE (2/3 of TASK_SIZE, page-aligned), the interpreter and other
 * "loaders" (ET_DYN without PT_INTERP, e.g. static-PIE) in the mmap region below the stack, an 8 MiB stack (the
 * default RLIMIT_STACK) ending at the top of the address space.
 */
export const DEFAULT_LAYOUT: AddressLayout = {
  pieBase: 0x555555554000n,
  interpBase: 0x7ffff7dc0000n,
  stackTop: 0x7ffffffff000n,
  stackSize: 8n * 1024n * 1024n,
};

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

export function pageDown(v: bigint): bigint {
  return v & ~(PAGE_SIZE - 1n);
}

export function pageUp(v: bigint): bigint {
  return (v + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
}

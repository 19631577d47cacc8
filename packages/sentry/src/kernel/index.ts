// Public API of the kernel: the Kernel that runs a sandbox's tasks, and the syscall table `runsc` can print.
export { Kernel, sandboxTid, type KernelOptions, type InitOptions, type ExitResult } from './kernel.js';
export { syscallTable, syscallName, taskFilter, type SyscallEntry } from '../syscalls/table.js';
export type { ProcessInfo, ProcessTable, ProcessMapping } from './context.js';

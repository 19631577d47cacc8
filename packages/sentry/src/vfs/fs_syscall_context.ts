// What file syscalls need from the calling task beyond SyscallContext: its fd table and its file-system context.
// The kernel's Task implements this; with CLONE_FILES / CLONE_FS it shares them (same objects), otherwise it uses
// fdTable.fork() / fsContext.fork(); on execve it calls fdTable.onExec().
import type { SyscallContext } from '../kernel/context.js';
import type { FdTable } from './fd_table.js';
import type { FsContext } from './fs_context.js';

export interface FsSyscallContext extends SyscallContext {
  readonly fdTable: FdTable;
  readonly fsContext: FsContext;
  /**
   * Queues signal `signo` for the calling task (SIGPIPE when a write finds no reader: pipe(7); the kernel decides
   * delivery, the handler still returns EPIPE).
   */
  sendSignalToSelf(signo: number): void;
  /**
   * Optional: installs `mask` as the task's signal mask until the returned function restores the old one (ppoll(2),
   * pselect6(2)). Without it those calls run with the task's current mask.
   */
  swapSignalMask?(mask: bigint): () => void;
}

// The contracts between the kernel (tasks, processes, signals) and the parts that serve syscalls for a task
// (VFS, pipes, sockets). The kernel's Task implements SyscallContext; file-system and socket code depend only on
// these interfaces, never on the Task class, so each side can grow on its own.

/** Access to the calling task's address space (process_vm_readv/writev, /proc/PID/mem for read-only pages). */
export interface TaskMemory {
  /** Reads exactly `length` bytes at `addr`; throws SyscallError(EFAULT) if any byte is unmapped. */
  read(addr: bigint, length: number): Buffer;
  /** Writes all of `data` at `addr`; throws SyscallError(EFAULT) if any byte is unmapped. */
  write(addr: bigint, data: Uint8Array): void;
  /** Reads a NUL-terminated string of at most `max` bytes (PATH_MAX by default); ENAMETOOLONG past it. */
  readCString(addr: bigint, max?: number): string;
  /** Reads an iovec array (struct iovec[count]) into {base, length} pairs; EINVAL if count > IOV_MAX. */
  readIovecs(addr: bigint, count: number): Array<{ base: bigint; length: number }>;
  readU32(addr: bigint): number;
  readU64(addr: bigint): bigint;
  writeU32(addr: bigint, value: number): void;
  writeU64(addr: bigint, value: bigint): void;
}

/** Credentials as the application sees them (the sandbox's own ids, not the host's). */
export interface Credentials {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  groups: number[];
}

/**
 * Lets a blocking call wait without stalling other tasks, and end early when a signal is delivered to the task:
 * `wait` resolves when `ready()` becomes true (re-checked whenever `subscribe`'s callback fires), and rejects with
 * SyscallError(ERESTARTSYS) if a signal interrupts it; the dispatcher then answers EINTR or restarts the call per
 * SA_RESTART (signal(7)).
 */
export interface Blocker {
  wait(ready: () => boolean, subscribe: (wake: () => void) => () => void, timeoutMs?: number): Promise<void>;
}

/** What a syscall handler receives besides its raw arguments. */
export interface SyscallContext {
  /** The sandbox's thread id of the calling task (as gettid returns it). */
  readonly tid: number;
  /** The sandbox's process id (thread group id). */
  readonly pid: number;
  readonly memory: TaskMemory;
  readonly creds: Credentials;
  readonly blocker: Blocker;
}

/** One mapping of a process's address space, as /proc/PID/maps lists it. */
export interface ProcessMapping {
  start: bigint;
  end: bigint;
  /** "r-xp" style: read, write, execute, private/shared. */
  perms: string;
  offset: bigint;
  /** Path, "[stack]", "[heap]", "[vdso]", or '' for anonymous memory. */
  name: string;
}

/** What /proc shows about one process (thread group); a snapshot, taken when a /proc file is opened. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** The command name (comm, at most 15 bytes). */
  comm: string;
  /** argv as the process was started (/proc/PID/cmdline). */
  argv: string[];
  /** Run state letter as in /proc/PID/stat: R, S, D, Z, T. */
  state: string;
  creds: Credentials;
  /** Thread ids, the leader first. */
  threads: number[];
  /** Start time in milliseconds since the sandbox booted. */
  startTimeMs: number;
  /** Path of the executable (/proc/PID/exe), if known. */
  exe: string | null;
  /** Resident memory in KiB, if known. */
  rssKb?: number;
  /** Address-space mappings, if known (/proc/PID/maps; empty when the kernel cannot say). */
  maps?: ProcessMapping[];
  /** The environment the process was started with (/proc/PID/environ), if known. */
  env?: string[];
}

/** The kernel's process list as file systems (/proc) see it. Implemented by the kernel. */
export interface ProcessTable {
  /** Live process ids (thread-group ids), ascending. */
  pids(): number[];
  process(pid: number): ProcessInfo | undefined;
  /** Milliseconds since the sandbox booted (/proc/uptime). */
  uptimeMs(): number;
  /** The sandbox's hostname (/proc/sys/kernel/hostname); the host's when absent. */
  hostname?(): string;
}

// Tasks (threads) and thread groups (processes) as the sandbox sees them. Each Task is one host thread in the
// task pid namespace, so its sandbox tid is its tid in that namespace; the sentry maps host tid <-> sandbox tid.
// A ThreadGroup owns what POSIX gives a process: parent/children, exit status, process group and session,
// rlimits, the program break; fd tables and fs contexts belong to tasks and may be shared (CLONE_FILES, CLONE_FS).
import type { FdTable } from '../vfs/fd_table.js';
import type { FsContext } from '../vfs/fs_context.js';
import type { FsSyscallContext } from '../vfs/fs_syscall_context.js';
import { tgkill } from '@tsvisor/native';
import { TaskBlocker } from './blocker.js';
import type { Credentials } from './context.js';
import { HostTaskMemory } from './task_memory.js';
import type { Kernel } from './kernel.js';
import type { ProgramBreak } from '../mm/brk.js';
import { addTicks, threadTicks, type CpuTicks } from './cpu_time.js';

/** Resource limits (getrlimit(2)): [soft, hard], RLIM_INFINITY = 2^64 - 1. */
export const RLIM_INFINITY = (1n << 64n) - 1n;
export type Rlimits = Map<number, [bigint, bigint]>;

export function defaultRlimits(): Rlimits {
  const inf: [bigint, bigint] = [RLIM_INFINITY, RLIM_INFINITY];
  return new Map<number, [bigint, bigint]>([
    [0, inf], // RLIMIT_CPU
    [1, inf], // RLIMIT_FSIZE
    [2, inf], // RLIMIT_DATA
    [3, [8n << 20n, RLIM_INFINITY]], // RLIMIT_STACK
    [4, [0n, RLIM_INFINITY]], // RLIMIT_CORE
    [5, inf], // RLIMIT_RSS
    [6, [63707n, 63707n]], // RLIMIT_NPROC
    [7, [1024n, 1048576n]], // RLIMIT_NOFILE
    [8, [8n << 20n, 8n << 20n]], // RLIMIT_MEMLOCK
    [9, inf], // RLIMIT_AS
    [10, inf], // RLIMIT_LOCKS
    [11, [63707n, 63707n]], // RLIMIT_SIGPENDING
    [12, [819200n, 819200n]], // RLIMIT_MSGQUEUE
    [13, [0n, 0n]], // RLIMIT_NICE
    [14, [0n, 0n]], // RLIMIT_RTPRIO
    [15, inf], // RLIMIT_RTTIME
  ]);
}

export class ThreadGroup {
  readonly tasks = new Set<Task>();
  readonly children = new Set<ThreadGroup>();
  /** The wait(2) status once every thread has exited (a zombie until the parent reaps it). */
  exitStatus: number | null = null;
  /** Callbacks waiting for a child's state change (wait4, waitid). */
  readonly childWaiters = new Set<() => void>();
  /** Process name for /proc/PID/comm and ps (the basename of the executable, 15 bytes at most). */
  comm = '';
  argv: string[] = [];
  exePath = '';
  rlimits: Rlimits;
  /** Signal sent to the parent at exit (SIGCHLD, or clone's low byte). */
  exitSignal = 17;
  /** execve has run at least once since fork (setpgid on a child fails with EACCES after, setpgid(2)). */
  execed = false;
  startTimeMs = Date.now();
  /** The program break of the address space (set by execve; copied by fork, shared by threads). */
  brk: ProgramBreak | null = null;
  /** Whether the application itself asked for SA_NOCLDWAIT on SIGCHLD (the host always has it: ptrace_syscalls.ts). */
  appNoCldWait = false;
  /** personality(2) value (PER_LINUX; inherited by fork, kept by the emulated execve). */
  personality = 0;

  constructor(
    /** Sandbox pid (thread group id). */
    readonly tgid: number,
    /** Host tgid (in the sentry's pid namespace). */
    readonly hostTgid: number,
    public parent: ThreadGroup | null,
    public pgid: number,
    public sid: number,
    rlimits?: Rlimits,
  ) {
    this.rlimits = rlimits ? new Map([...rlimits].map(([k, v]) => [k, [...v] as [bigint, bigint]])) : defaultRlimits();
  }

  get leader(): Task | undefined {
    for (const t of this.tasks) if (t.tid === this.tgid) return t;
    return undefined;
  }

  get alive(): boolean {
    return this.exitStatus === null;
  }

  /** CPU time of this group's exited threads, and of its waited-for children (getrusage(2), times(2)). */
  readonly exitedTicks: CpuTicks = { user: 0, system: 0 };
  readonly childTicks: CpuTicks = { user: 0, system: 0 };
  /** PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented here instead of to init (prctl(2)). */
  childSubreaper = false;
  /** Job control (signal(7)): the stop signal while the group is stopped, 0 otherwise. */
  stopSignal = 0;
  /** A stop, or a continue, the parent has not collected with WUNTRACED / WCONTINUED yet. */
  stopToReport = false;
  continueToReport = false;

  /** Callbacks waiting for one of this group's threads to exit (execve ending the other threads). */
  readonly threadExitWaiters = new Set<() => void>();

  /** CPU time of the group itself: its living threads now, plus the exited ones. */
  selfTicks(): CpuTicks {
    const total = { ...this.exitedTicks };
    for (const t of this.tasks) {
      const now = threadTicks(t.hostTid);
      if (now) addTicks(total, now);
    }
    return total;
  }

  notifyChildWaiters(): void {
    for (const w of [...this.childWaiters]) w();
  }
}

export class Task implements FsSyscallContext {
  readonly blocker = new TaskBlocker();
  readonly memory: HostTaskMemory;
  /** Set once the host thread is gone (its wait status consumed). */
  exited = false;
  /** clone flags of a clone/fork/vfork this task is in the middle of (seen at its seccomp stop). */
  pendingCloneFlags: bigint | null = null;
  /** The clone in progress was a vfork (CLONE_VFORK): the parent waits for the child's execve or exit. */
  pendingVfork = false;
  /** For a vfork child: the parent held stopped until this task execs or exits (vfork(2)). */
  vforkParent: Task | null = null;
  /** Ids of this task's notifications not answered yet (a blocked call; at most one in practice). */
  readonly pendingNotifications = new Set<bigint>();
  /**
   * Whether the sentry answered this task's latest emulated call with ERESTARTSYS itself (a blocking call a signal
   * ended), as opposed to the host interrupting the call before the sentry received it (Kernel.onSignalStop).
   */
  answeredRestart = false;
  /** The pending PTRACE_EVENT_EXIT status, for /proc and logs. */
  exitCode: number | null = null;
  /** Name from PR_SET_NAME (per thread); defaults to the group's comm. */
  name: string | null = null;
  /** PR_SET_PDEATHSIG: signal sent to this thread when its parent exits (cleared by fork and set-id execve). */
  pdeathSignal = 0;
  /** Set when execve in another thread ends this one: at its next stop it runs exit(2). */
  exiting = false;
  /** A fatal signal the sentry killed this task for (reported instead of the host's SIGKILL). */
  killedBySignal = 0;
  /** The kernel this task belongs to (set right after construction). */
  kernel!: Kernel;

  constructor(
    readonly tid: number,
    readonly hostTid: number,
    readonly tg: ThreadGroup,
    public fdTable: FdTable,
    public fsContext: FsContext,
    public creds: Credentials,
  ) {
    this.memory = new HostTaskMemory(hostTid);
    tg.tasks.add(this);
  }

  get pid(): number {
    return this.tg.tgid;
  }

  /** Raises `signo` on this very thread on the host; the host delivers it when the current call returns. */
  sendSignalToSelf(signo: number): void {
    try {
      tgkill(this.tg.hostTgid, this.hostTid, signo);
    } catch {
      // The thread is already gone: nothing to deliver to.
    }
  }
}

/** Sandbox pid <-> task and host tid <-> task. Sandbox ids are allocated by the host's pid namespace. */
export class PidTable {
  private readonly bySandboxTid = new Map<number, Task>();
  private readonly byHostTid = new Map<number, Task>();
  /** Thread groups by sandbox tgid, kept until reaped (zombies included). */
  readonly groups = new Map<number, ThreadGroup>();

  add(task: Task): void {
    this.bySandboxTid.set(task.tid, task);
    this.byHostTid.set(task.hostTid, task);
    this.groups.set(task.tg.tgid, task.tg);
  }

  /** The host thread is gone; its group stays listed until reaped. */
  removeTask(task: Task): void {
    if (this.bySandboxTid.get(task.tid) === task) this.bySandboxTid.delete(task.tid);
    if (this.byHostTid.get(task.hostTid) === task) this.byHostTid.delete(task.hostTid);
  }

  removeGroup(tg: ThreadGroup): void {
    // The host reaps exited tasks at once (SA_NOCLDWAIT), so after a pid wrap-around a new process may hold the
    // pid of a zombie its parent has not waited for yet: never drop an entry that is not this group's.
    if (this.groups.get(tg.tgid) === tg) this.groups.delete(tg.tgid);
  }

  byTid(tid: number): Task | undefined {
    return this.bySandboxTid.get(tid);
  }

  byHost(hostTid: number): Task | undefined {
    return this.byHostTid.get(hostTid);
  }

  group(tgid: number): ThreadGroup | undefined {
    return this.groups.get(tgid);
  }

  hostTids(): number[] {
    return [...this.byHostTid.keys()];
  }

  tasks(): Task[] {
    return [...this.bySandboxTid.values()];
  }

  get size(): number {
    return this.bySandboxTid.size;
  }
}

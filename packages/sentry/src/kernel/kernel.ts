// The kernel: creates the init task, answers emulated syscalls from the seccomp listener, and follows every task
// through its ptrace stops (fork/clone, execve, file-backed mmap, signals, exit). See design.md "The platform".
//
// Threads of control: everything runs on the Node main thread, which is the ptrace tracer of every task.
// Notifications arrive through the event loop (notifWatch); ptrace stops are collected with waitpid on SIGCHLD.
// Handlers may be asynchronous: a blocked read() waits in its Blocker while other tasks go on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  closeFd,
  NotificationBuffer,
  notifSend,
  notifUnwatch,
  notifWatch,
  type NotifWatch,
  PTRACE_EVENT,
  PTRACE_EVENT_CLONE,
  PTRACE_EVENT_EXEC,
  PTRACE_EVENT_EXIT,
  PTRACE_EVENT_FORK,
  PTRACE_EVENT_SECCOMP,
  PTRACE_EVENT_STOP,
  PTRACE_EVENT_VFORK,
  ptraceCont,
  ptraceGetEventMsg,
  ptraceInterrupt,
  ptraceListen,
  Registers,
  runToSyscallStop,
  spawnTask,
  tgkill,
  waitTid,
  WIFEXITED,
  WIFSIGNALED,
  WIFSTOPPED,
  WSTOPSIG,
} from '@tsvisor/native';
import type { FileDescription } from '../vfs/file_description.js';
import { FdTable } from '../vfs/fd_table.js';
import { FsContext } from '../vfs/fs_context.js';
import type { MountNamespace, VirtualDentry } from '../vfs/mount.js';
import type { LoadedImage, LoadExecutable, ExecutableSource } from '../loader/types.js';
import { DEFAULT_LAYOUT } from '../loader/layout.js';
import { STUB_ELF, STUB_SYSCALL_INSN } from '../platform/stub.js';
import { applyImage } from '../mm/image.js';
import { isSpecialMapping, readHostMaps } from '../mm/host_maps.js';
import { loadExecutable } from '../loader/loader.js';
import { VfsExecutableSource } from '../vfs/executable_source.js';
import { NO_PROCESSES, ProcFs, type ProcFsSource } from '../fsimpl/proc.js';
import { STUB_BASE, STUB_END } from '../platform/stub.js';
import { ProgramBreak } from '../mm/brk.js';
import { SYSCALL_NAMES } from '../syscalls/numbers.js';
import { syscallTable, taskFilter } from '../syscalls/table.js';
import type { Credentials, ProcessInfo, ProcessMapping } from './context.js';
import { Errno, SyscallError } from './syscall_error.js';
import {
  defaultAction,
  pendingHandledSignal,
  readHostSignalState,
  runsHandler,
  SIGCHLD,
  SIGCONT,
  SIGKILL,
  SIGSTOP,
  SIGTSTP,
  SIGTTIN,
  SIGTTOU,
} from './signals.js';
import { PidTable, Task, ThreadGroup } from './task.js';
import { addTicks, threadTicks } from './cpu_time.js';
import { handlePtraceSyscall } from './ptrace_syscalls.js';

export interface KernelOptions {
  hostname: string;
  /** The sandbox's mount namespace (root file system and mounts) from the VFS. */
  rootFs: MountNamespace;
  logger: Logger;
  /** The ELF loader; loader/loader.ts when absent. The platform executes the plan it returns. */
  loadExecutable?: LoadExecutable;
  /** Opens executables for the loader in a task's fs context; the VFS (executable_source.ts) when absent. */
  executableSource?: (task: Task) => ExecutableSource;
  /** Empty directory the tasks are chrooted into (created and removed by the kernel when absent). */
  emptyRoot?: string;
}

export interface InitOptions {
  argv: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  /** stdin, stdout, stderr of init (fds 0, 1, 2). */
  stdio: [FileDescription, FileDescription, FileDescription];
  /** Supplementary groups; none when absent. */
  groups?: number[];
}

export type ExitResult = { exitCode: number } | { signal: number };

const TRACE = process.env.TSVISOR_TRACE_FILE;
/** Debugging aid: TSVISOR_TRACE_FILE=path appends every notification and ptrace stop, synchronously. */
function trace(line: string): void {
  if (TRACE) fs.appendFileSync(TRACE, `${(performance.now() * 1000).toFixed(0)} ${line}\n`);
}

export class Kernel {
  readonly pids = new PidTable();
  readonly hostname: string;
  readonly log: Logger;
  readonly mounts: MountNamespace;
  readonly loadExecutable: LoadExecutable;
  readonly executableSource: (task: Task) => ExecutableSource;
  private listenerFd = -1;
  private watch: NotifWatch | null = null;
  private readonly notif = new NotificationBuffer();
  private readonly onSigchld = (): void => this.collectStops();
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly unknownLogged = new Set<number>();
  /**
   * Host tids of tasks already handed to onTaskGone whose zombie the host has not reported yet (a native helper saw
   * them at their exit stop and continued them): reaped by collectStops and finish so none stays a zombie.
   */
  private readonly unreaped = new Set<number>();
  private emptyRoot: string;
  private ownsEmptyRoot = false;
  private initGroup: ThreadGroup | null = null;
  private initDone: ((r: ExitResult) => void) | null = null;
  readonly bootTime = Date.now();

  constructor(opts: KernelOptions) {
    this.hostname = opts.hostname;
    this.log = opts.logger;
    this.mounts = opts.rootFs;
    this.loadExecutable = opts.loadExecutable ?? loadExecutable;
    this.executableSource = opts.executableSource ?? ((task: Task) => new VfsExecutableSource(task));
    this.emptyRoot = opts.emptyRoot ?? '';
    // Every proc mount that has no process source yet shows this kernel's processes.
    for (const m of this.mounts.mounts()) {
      if (m.fs instanceof ProcFs && m.fs.source === NO_PROCESSES) m.fs.source = this.procSource;
    }
  }

  /** Starts init and resolves with its exit status once it has exited (the whole sandbox then goes with it). */
  async runInit(opts: InitOptions): Promise<ExitResult> {
    if (this.initGroup) throw new Error('runInit: init already started');
    if (!this.emptyRoot) {
      this.emptyRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-empty-'));
      // Read-only even for its owner: tasks run as an unprivileged host uid (65534 by default, native task.c)
      // without capabilities, and nothing may ever be created in their root, whatever call might one day reach
      // the host.
      fs.chmodSync(this.emptyRoot, 0o555);
      this.ownsEmptyRoot = true;
    }
    const creds: Credentials = {
      uid: opts.uid,
      gid: opts.gid,
      euid: opts.uid,
      egid: opts.gid,
      groups: opts.groups ?? [],
    };
    const fdTable = new FdTable();
    opts.stdio.forEach((f, i) => fdTable.installAt(i, f, false));
    const root = this.mounts.rootLocation;
    const fsContext = new FsContext(this.mounts, root, root);

    const spawned = spawnTask(this.emptyRoot, taskFilter(), STUB_ELF);
    this.listenerFd = spawned.listenerFd;
    const tg = new ThreadGroup(1, spawned.pid, null, 1, 1);
    const task = new Task(1, spawned.pid, tg, fdTable, fsContext, creds);
    task.kernel = this;
    this.pids.add(task);
    this.initGroup = tg;
    const done = new Promise<ExitResult>((resolve) => (this.initDone = resolve));

    this.watch = notifWatch(this.listenerFd, () => this.drainNotifications());
    process.on('SIGCHLD', this.onSigchld);
    // SIGCHLD can coalesce with Node's own children; a slow poll makes sure no stop is ever left unseen. It also
    // catches signals the host raised by itself (a native timer's SIGALRM, a signal from the task to itself) for
    // a thread that waits in an emulated call, whose wait only a fatal signal ends.
    this.pollTimer = setInterval(() => {
      this.collectStops();
      this.interruptForPendingSignals();
    }, 50);
    this.pollTimer.unref();

    try {
      // The stub is in its PTRACE_EVENT_EXEC stop: finish that execveat, then exec the real init over it.
      runToSyscallStop(task.hostTid);
      if (opts.cwd && opts.cwd !== '/') {
        const { chdirPath } = await import('../vfs/operations.js');
        await chdirPath(task, opts.cwd);
      }
      await this.execInto(task, opts.argv[0] ?? '', opts.argv, opts.env);
      ptraceCont(task.hostTid, 0);
    } catch (e) {
      this.reportLostStatus(task, e);
      this.killAll();
      this.finish();
      throw e;
    }
    return done;
  }

  /** Loads `file` for `task` (at a syscall-exit stop) and replaces its image. Throws SyscallError on failure,
   * before anything of the old image is touched when the failure is the loader's. */
  async loadImage(task: Task, file: string, argv: string[], envp: string[]): Promise<LoadedImage> {
    // The vDSO stays where the host put it when the stub was exec'ed (it cannot be re-created from user space),
    // so the new stack and interpreter go below it.
    const maps = readHostMaps(task.hostTid);
    const vdso = maps.find((m) => m.name === '[vdso]')?.start;
    const kernelLow = maps.filter((m) => isSpecialMapping(m) && m.name !== '[vsyscall]').reduce((lo, m) => (m.start < lo ? m.start : lo), DEFAULT_LAYOUT.stackTop);
    const stackTop = (kernelLow - 0x10000n) & ~0xfffn;
    const layout = {
      ...DEFAULT_LAYOUT,
      stackTop,
      interpBase: (stackTop - DEFAULT_LAYOUT.stackSize - 0x4000000n) & ~0xfffn,
    };
    return this.loadExecutable(this.executableSource(task), file, argv, envp, {
      layout,
      random16: Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(16))),
      ...(vdso !== undefined ? { vdsoBase: vdso } : {}),
      uid: task.creds.uid,
      gid: task.creds.gid,
      euid: task.creds.euid,
      egid: task.creds.egid,
    });
  }

  /** Replaces the image of `task` (at a syscall-exit stop) with `image` and does execve's bookkeeping. */
  commitImage(task: Task, image: LoadedImage): void {
    const state = readHostSignalState(task.hostTid);
    const caught: number[] = [];
    if (state) for (let s = 1; s <= 64; s++) if ((state.caught >> BigInt(s - 1)) & 1n) caught.push(s);
    const ignoredSigchld = state ? ((state.ignored >> BigInt(SIGCHLD - 1)) & 1n) === 1n : false;
    const held = applyImage(task.hostTid, task.memory, image, caught, ignoredSigchld);
    task.tg.appNoCldWait = false;
    task.fdTable.onExec();
    const tg = task.tg;
    tg.argv = image.argv;
    tg.exePath = image.execPath;
    tg.comm = path.posix.basename(image.execPath).slice(0, 15);
    tg.execed = true;
    tg.brk = new ProgramBreak(image.brkStart);
    task.name = null;
    this.releaseVforkParent(task);
    for (const sig of held) task.sendSignalToSelf(sig);
  }

  private async execInto(task: Task, file: string, argv: string[], envp: string[]): Promise<void> {
    const image = await this.loadImage(task, file, argv, envp);
    this.commitImage(task, image);
  }

  // ---- emulated syscalls -------------------------------------------------------------------------------------

  private drainNotifications(): void {
    if (this.listenerFd < 0) return;
    for (;;) {
      let n;
      try {
        // No spinning for the next call (notifRecv's spinNs): measured with a getppid loop, 5-50 us of spinning
        // gained nothing over the event loop's wake-up (about 8 us per call either way, C floor 4.4 us).
        n = this.notif.recv(this.listenerFd);
      } catch (e) {
        this.log.error({ err: e }, 'seccomp listener failed');
        return;
      }
      if (!n) return;
      this.dispatch(n.id, n.pid, n.nr, n.args);
    }
  }

  private answer(id: bigint, value: bigint, error: number): void {
    if (TRACE) trace(`answer ${id} ${value} ${error}`);
    if (this.listenerFd < 0) return;
    notifSend(this.listenerFd, id, value, error);
  }

  private dispatch(id: bigint, hostTid: number, nr: number, args: readonly bigint[]): void {
    const task = this.pids.byHost(hostTid);
    if (TRACE) trace(`notif ${id} host=${hostTid} tid=${task?.tid} ${SYSCALL_NAMES.get(nr) ?? nr} ${args.slice(0, 3).map((a) => BigInt.asIntN(64, a)).join(' ')}`);
    if (!task) {
      // Only tasks the kernel registered can run; an unknown tid is a thread whose clone event is still queued.
      this.collectStops();
      const again = this.pids.byHost(hostTid);
      if (!again) {
        this.log.warn({ hostTid, nr }, 'syscall from an unknown task');
        this.answer(id, 0n, -Errno.ESRCH);
        return;
      }
      return this.dispatch(id, hostTid, nr, args);
    }
    const entry = syscallTable.get(nr);
    const handler = entry?.handler;
    if (!handler || entry.class !== 'emulated') {
      if (!this.unknownLogged.has(nr)) {
        this.unknownLogged.add(nr);
        this.log.debug({ syscall: SYSCALL_NAMES.get(nr) ?? nr }, 'unimplemented syscall: ENOSYS');
      }
      this.answer(id, 0n, -Errno.ENOSYS);
      return;
    }
    task.pendingNotifications.add(id);
    task.answeredRestart = false;
    const ok = (r: number | bigint): void => {
      task.pendingNotifications.delete(id);
      this.answer(id, BigInt(r), 0);
    };
    const bad = (e: unknown): void => {
      task.pendingNotifications.delete(id);
      if (e instanceof SyscallError) {
        task.answeredRestart = e.errno === Errno.ERESTARTSYS;
        this.answer(id, 0n, -e.errno);
        return;
      }
      this.log.error({ err: e, syscall: entry.name, tid: task.tid }, 'syscall handler failed: answering EIO');
      this.answer(id, 0n, -Errno.EIO);
    };
    try {
      const r = handler(task, args as unknown as readonly [bigint, bigint, bigint, bigint, bigint, bigint]);
      if (typeof r === 'object' && r !== null && 'then' in r) (r as Promise<number | bigint>).then(ok, bad);
      else ok(r as number | bigint);
    } catch (e) {
      bad(e);
    }
  }

  // ---- ptrace stops --------------------------------------------------------------------------------------------

  /** Drains the pending wait statuses of every known task. */
  collectStops(): void {
    for (const hostTid of [...this.unreaped]) this.reapGone(hostTid, false);
    for (const hostTid of this.pids.hostTids()) {
      for (;;) {
        let status: number;
        try {
          status = waitTid(hostTid);
        } catch {
          break; // ECHILD: already reaped
        }
        if (status === -1) break;
        this.onStatus(hostTid, status);
        if (!this.pids.byHost(hostTid)) break;
      }
    }
  }

  /** Collects the end of a task the kernel no longer follows; `block` waits for it (teardown). */
  private reapGone(hostTid: number, block: boolean): void {
    for (;;) {
      let st: number;
      try {
        st = waitTid(hostTid, block);
      } catch {
        this.unreaped.delete(hostTid); // ECHILD: reaped
        return;
      }
      if (st === -1) return;
      if (WIFEXITED(st) || WIFSIGNALED(st)) {
        this.unreaped.delete(hostTid);
        return;
      }
      try {
        ptraceCont(hostTid, 0);
      } catch {
        // gone between the stop and the request
      }
    }
  }

  private onStatus(hostTid: number, status: number): void {
    const task = this.pids.byHost(hostTid);
    if (TRACE) trace(`status host=${hostTid} tid=${task?.tid} st=0x${status.toString(16)}`);
    if (!task) return;
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      this.onTaskGone(task, status);
      return;
    }
    if (!WIFSTOPPED(status)) return;
    const event = PTRACE_EVENT(status);
    const sig = WSTOPSIG(status);
    if (task.exiting && event !== PTRACE_EVENT_EXIT) {
      try {
        this.exitAtStop(task, status);
      } catch (e) {
        this.reportLostStatus(task, e);
      }
      return;
    }
    try {
      switch (event) {
        case PTRACE_EVENT_SECCOMP:
          void handlePtraceSyscall(this, task);
          return;
        case PTRACE_EVENT_FORK:
        case PTRACE_EVENT_VFORK:
        case PTRACE_EVENT_CLONE:
          // A vfork parent stays in this stop until its child execs or exits (releaseVforkParent).
          if (!this.onNewChild(task, ptraceGetEventMsg(hostTid), event)) ptraceCont(hostTid, 0);
          return;
        case PTRACE_EVENT_EXIT: {
          // This stop was reported to us alone: whatever fails here, the task must be continued to its end, or
          // it would sit in the stop for ever (SIGKILL does not end an exit stop) and a later wait would hang.
          try {
            task.exitCode = ptraceGetEventMsg(hostTid);
            // Last chance to read the thread's CPU time: at its exit stop it still has its /proc entry.
            const ticks = threadTicks(hostTid);
            if (ticks) addTicks(task.tg.exitedTicks, ticks);
            task.blocker.interrupt();
          } finally {
            ptraceCont(hostTid, 0);
          }
          return;
        }
        case PTRACE_EVENT_EXEC:
          ptraceCont(hostTid, 0);
          return;
        case PTRACE_EVENT_STOP:
          // A group-stop (SIGSTOP and friends) stays a stop, per ptrace(2) "Group-stop"; anything else resumes.
          if (sig === SIGSTOP || sig === SIGTSTP || sig === SIGTTIN || sig === SIGTTOU) {
            this.onGroupStop(task.tg, sig);
            ptraceListen(hostTid);
          } else {
            if (task.tg.stopSignal) this.onGroupContinue(task.tg);
            ptraceCont(hostTid, 0);
          }
          return;
        case 0:
          this.onSignalStop(task, sig);
          return;
        default:
          ptraceCont(hostTid, 0);
      }
    } catch (e) {
      // ESRCH: the task was killed between the stop and our request; its exit status follows.
      if ((e as { code?: string }).code !== 'ESRCH') this.log.error({ err: e, tid: task.tid }, 'ptrace stop handling failed');
    }
  }

  /** Job control: the parent's wait4(WUNTRACED) and waitid(WSTOPPED) report it (wait(2)). */
  private onGroupStop(tg: ThreadGroup, sig: number): void {
    if (tg.stopSignal === sig) return;
    tg.stopSignal = sig;
    tg.stopToReport = true;
    tg.continueToReport = false;
    tg.parent?.notifyChildWaiters();
  }

  private onGroupContinue(tg: ThreadGroup): void {
    tg.stopSignal = 0;
    tg.stopToReport = false;
    tg.continueToReport = true;
    tg.parent?.notifyChildWaiters();
  }

  /** A signal is about to be delivered to `task` by the host. */
  private onSignalStop(task: Task, sig: number): void {
    const tg = task.tg;
    this.restartUnreceivedCall(task);
    if (sig === SIGCONT && tg.stopSignal) this.onGroupContinue(tg);
    // The host never lets a pid-namespace init die of a signal it has no handler for, not even a fault; Linux
    // kills a container's init for an unhandled synchronous fault (force_sig), so the sentry does it here.
    if (tg.tgid === 1 && (defaultAction(sig) === 'core' || defaultAction(sig) === 'term')) {
      const state = readHostSignalState(task.hostTid);
      const handled = state ? runsHandler(state, sig) : false;
      const fault = sig === 4 || sig === 7 || sig === 8 || sig === 11 || sig === 5 || sig === 31;
      if (!handled && fault) {
        task.killedBySignal = sig;
        tgkill(tg.hostTgid, task.hostTid, SIGKILL);
        ptraceCont(task.hostTid, 0);
        return;
      }
    }
    ptraceCont(task.hostTid, sig);
  }

  /**
   * A signal that reaches a task waiting for the sentry to receive its emulated call ends that wait with ERESTARTSYS
   * (seccomp(2): with WAIT_KILLABLE_RECV only a received notification ignores non-fatal signals), and a handler
   * without SA_RESTART would then turn any call into EINTR, even pipe(2) or close(2), which Linux never interrupts.
   * The call had not started, so Linux's behaviour is that of a signal arriving just before it: the handler runs and
   * the call is made. ERESTARTNOINTR asks the host for exactly that (signal(7) "Interruption of system calls").
   * A call the sentry itself ended with ERESTARTSYS (a blocking read, wait4, ...) keeps SA_RESTART semantics.
   */
  private restartUnreceivedCall(task: Task): void {
    if (task.answeredRestart) return;
    const regs = Registers.of(task.hostTid);
    if (regs.get('rax') !== BigInt.asUintN(64, BigInt(-Errno.ERESTARTSYS))) return;
    regs.set('rax', BigInt(-Errno.ERESTARTNOINTR));
    regs.store(task.hostTid);
  }

  /** Registers the new task; returns true when the parent must stay stopped (vfork). */
  private onNewChild(parent: Task, childHostTid: number, event: number): boolean {
    const flags = parent.pendingCloneFlags ?? (event === PTRACE_EVENT_FORK || event === PTRACE_EVENT_VFORK ? 17n : 0n);
    const vfork = parent.pendingVfork;
    parent.pendingCloneFlags = null;
    parent.pendingVfork = false;
    const CLONE_VM = 0x100n;
    const CLONE_FS = 0x200n;
    const CLONE_FILES = 0x400n;
    const CLONE_PARENT = 0x8000n;
    const CLONE_THREAD = 0x10000n;
    const childTid = sandboxTid(childHostTid);
    const ptg = parent.tg;
    let tg: ThreadGroup;
    if (flags & CLONE_THREAD) {
      tg = ptg;
    } else {
      const parentGroup = flags & CLONE_PARENT ? ptg.parent : ptg;
      tg = new ThreadGroup(childTid, childHostTid, parentGroup, ptg.pgid, ptg.sid, ptg.rlimits);
      tg.exitSignal = Number(flags & 0xffn);
      tg.comm = ptg.comm;
      tg.argv = ptg.argv;
      tg.exePath = ptg.exePath;
      tg.execed = false;
      tg.brk = ptg.brk ? new ProgramBreak(ptg.brk.start, ptg.brk.current) : null;
      tg.personality = ptg.personality;
      tg.appNoCldWait = ptg.appNoCldWait;
      parentGroup?.children.add(tg);
    }
    const fdTable = flags & CLONE_FILES ? parent.fdTable : parent.fdTable.fork();
    const fsContext = flags & CLONE_FS ? parent.fsContext : parent.fsContext.fork();
    const child = new Task(childTid, childHostTid, tg, fdTable, fsContext, { ...parent.creds, groups: [...parent.creds.groups] });
    child.kernel = this;
    void CLONE_VM;
    this.pids.add(child);
    if (vfork) child.vforkParent = parent;
    // The child starts in a PTRACE_EVENT_STOP (auto-attach); wait for it so it never runs before it is known.
    for (;;) {
      let st: number;
      try {
        st = waitTid(childHostTid, true);
      } catch {
        child.vforkParent = null;
        return false;
      }
      if (WIFEXITED(st) || WIFSIGNALED(st)) {
        child.vforkParent = null;
        this.onTaskGone(child, st);
        return false;
      }
      if (WIFSTOPPED(st)) {
        ptraceCont(childHostTid, 0);
        return vfork;
      }
    }
  }

  /** The vfork child has exec'ed or exited: its parent resumes (vfork(2)). */
  releaseVforkParent(child: Task): void {
    const parent = child.vforkParent;
    if (!parent) return;
    child.vforkParent = null;
    if (parent.exited) return;
    try {
      ptraceCont(parent.hostTid, 0);
    } catch {
      // killed meanwhile
    }
  }

  /**
   * Native ptrace helpers that wait for a task consume its exit status when it dies meanwhile; they throw ESRCH with
   * `waitStatus` set. This hands that status to the normal exit path, so no death goes unnoticed.
   */
  reportLostStatus(task: Task, e: unknown): boolean {
    const status = (e as { waitStatus?: number }).waitStatus;
    if (typeof status !== 'number') return false;
    // Seen at its exit stop and continued (ptrace.c run_to_syscall_stop): its zombie is still to be collected.
    if ((e as { exitStopped?: boolean }).exitStopped && !task.exited) {
      if (TRACE) trace(`exit-stopped host=${task.hostTid} tid=${task.tid} st=0x${status.toString(16)}`);
      this.unreaped.add(task.hostTid);
    }
    this.onTaskGone(task, status);
    return true;
  }

  private onTaskGone(task: Task, status: number): void {
    if (task.exited) return;
    task.exited = true;
    this.releaseVforkParent(task);
    task.blocker.interrupt();
    task.memory.release(); // its host tid may be recycled: no late write may land in another process
    this.pids.removeTask(task);
    const tg = task.tg;
    tg.tasks.delete(task);
    for (const w of [...tg.threadExitWaiters]) w();
    // The group ends with its last thread (the host reports a traced leader only after all its threads).
    if (tg.tasks.size > 0) return;
    // The last thread: the process is now a zombie until its parent reaps it.
    const killed = task.killedBySignal;
    tg.exitStatus = killed ? killed : status;
    const fds = new Set<FdTable>();
    fds.add(task.fdTable);
    for (const f of fds) {
      if (![...this.pids.tasks()].some((t) => t.fdTable === f)) f.closeAll();
    }
    // Orphans go to the nearest living subreaper ancestor, else init (prctl(2) PR_SET_CHILD_SUBREAPER,
    // pid_namespaces(7)); init's own children are killed with it by the host. Children that asked for a signal
    // when their parent dies get it (PR_SET_PDEATHSIG).
    const init = this.initGroup;
    let reaper: ThreadGroup | null = tg.parent;
    while (reaper && !(reaper.childSubreaper && reaper.alive)) reaper = reaper.parent;
    const newParent = reaper ?? (init && init !== tg ? init : null);
    for (const child of tg.children) {
      child.parent = newParent;
      if (newParent) newParent.children.add(child);
      for (const t of child.tasks) {
        if (t.pdeathSignal && child.alive) {
          try {
            tgkill(child.hostTgid, t.hostTid, t.pdeathSignal);
          } catch {
            // gone
          }
          this.interruptForSignal(child, t.pdeathSignal);
        }
      }
      if (!child.alive) newParent?.notifyChildWaiters();
    }
    tg.children.clear();
    const parent = tg.parent;
    if (parent) {
      parent.notifyChildWaiters();
      // SIGCHLD itself is sent by the host to the real parent; a blocked emulated call must end for its handler.
      this.interruptForSignal(parent, SIGCHLD);
    } else {
      // No parent in the sandbox (init, or an orphan of init): nobody waits for it.
      this.pids.removeGroup(tg);
    }
    if (tg === this.initGroup) {
      const st = tg.exitStatus;
      const result: ExitResult = WIFSIGNALED(st) || killed ? { signal: killed || st & 0x7f } : { exitCode: (st >> 8) & 0xff };
      this.log.debug({ result }, 'init exited');
      this.finish();
      this.initDone?.(result);
    }
  }

  /**
   * Ends every thread of `keep`'s group but `keep` (execve(2): "All threads other than the calling thread are
   * destroyed"), and resolves once they are gone. A thread waiting for an emulated call is answered EINTR first
   * (its wait is killable only); then each thread is stopped and made to run exit(2).
   */
  async endOtherThreads(keep: Task): Promise<void> {
    const tg = keep.tg;
    const others = [...tg.tasks].filter((t) => t !== keep);
    if (others.length === 0) return;
    const gone = new Promise<void>((resolve) => {
      const check = (): void => {
        if (tg.tasks.size <= 1) {
          tg.threadExitWaiters.delete(check);
          resolve();
        }
      };
      tg.threadExitWaiters.add(check);
      check();
    });
    for (const t of others) {
      t.exiting = true;
      for (const id of [...t.pendingNotifications]) {
        t.pendingNotifications.delete(id);
        this.answer(id, 0n, -Errno.EINTR);
      }
      try {
        ptraceInterrupt(t.hostTid);
      } catch {
        // already gone
      }
    }
    await gone;
  }

  /** A thread marked `exiting` is at a stop: make it leave with exit(2) instead of resuming. */
  private exitAtStop(task: Task, status: number): void {
    const regs = Registers.of(task.hostTid);
    if (PTRACE_EVENT(status) === PTRACE_EVENT_SECCOMP) {
      // Inside a syscall entry: turn this very call into exit(0) (the filter lets exit run natively).
      regs.set('orig_rax', 60n);
      regs.set('rdi', 0n);
    } else {
      // In user mode: run exit(0) through the stub's syscall instruction.
      regs.set('rip', STUB_SYSCALL_INSN);
      regs.set('rax', 60n);
      regs.set('rdi', 0n);
    }
    regs.store(task.hostTid);
    ptraceCont(task.hostTid, 0);
  }

  /** Ends blocked emulated calls of `tg` that `sig` will interrupt with a handler (signal(7)). */
  interruptForSignal(tg: ThreadGroup, sig: number): void {
    for (const t of tg.tasks) {
      if (!t.blocker.waiting) continue;
      const state = readHostSignalState(t.hostTid);
      if (state && runsHandler(state, sig)) {
        t.blocker.interrupt();
        return;
      }
    }
  }

  /** Ends the emulated waits of threads that have a handled signal pending on the host. */
  private interruptForPendingSignals(): void {
    for (const t of this.pids.tasks()) {
      if (!t.blocker.waiting) continue;
      const state = readHostSignalState(t.hostTid);
      if (state && pendingHandledSignal(state) !== 0) t.blocker.interrupt();
    }
  }

  /** Sends `sig` to every task of the sandbox (runsc kill). */
  kill(sig: number): void {
    for (const tg of this.pids.groups.values()) {
      if (!tg.alive) continue;
      try {
        process.kill(tg.hostTgid, sig);
      } catch {
        // already gone
      }
      this.interruptForSignal(tg, sig);
    }
  }

  /** Stops every task (runsc pause): SIGSTOP from outside the namespace reaches init too. */
  pause(): void {
    for (const tg of this.pids.groups.values()) {
      if (!tg.alive) continue;
      try {
        process.kill(tg.hostTgid, SIGSTOP);
      } catch {
        // gone
      }
    }
  }

  /** Continues every task stopped by pause (runsc resume). */
  resume(): void {
    for (const tg of this.pids.groups.values()) {
      if (!tg.alive) continue;
      try {
        process.kill(tg.hostTgid, SIGCONT);
      } catch {
        // gone
      }
    }
  }

  private killAll(): void {
    for (const tg of this.pids.groups.values()) {
      try {
        process.kill(tg.hostTgid, SIGKILL);
      } catch {
        // already gone
      }
    }
  }

  private finish(): void {
    if (this.watch) notifUnwatch(this.watch);
    this.watch = null;
    process.off('SIGCHLD', this.onSigchld);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    if (this.listenerFd >= 0) closeFd(this.listenerFd);
    this.listenerFd = -1;
    this.killAll();
    // Reap what the host killed with init so no zombie stays behind; a killed tracee may still report its
    // PTRACE_EVENT_EXIT stop and wait there for us. A blocking wait only ever follows a resume: a task may sit in
    // a stop that was already reported (a vfork parent held at its fork stop, a group-stop, a stop whose handler
    // has not finished), and waiting for it without continuing it first would block for ever (nothing new can be
    // reported, and SIGKILL does not end an exit stop). Continuing a task that runs fails with ESRCH, harmlessly.
    for (const hostTid of [...this.pids.hostTids(), ...this.unreaped]) {
      try {
        ptraceCont(hostTid, 0);
      } catch {
        // running (its next stop or its exit is reported to the wait) or gone
      }
      this.reapGone(hostTid, true);
    }
    if (this.ownsEmptyRoot) {
      try {
        fs.rmdirSync(this.emptyRoot);
      } catch {
        // still in use by a dying task; left for the system's tmp cleaning
      }
    }
  }

  /** Every process of the sandbox, for `runsc ps` (zombies included). */
  processes(): ProcessInfo[] {
    return this.processIds()
      .map((pid) => this.process(pid))
      .filter((p): p is ProcessInfo => p !== undefined);
  }

  /** What /proc shows (fsimpl/proc.ts ProcFsSource): set procFs.source = kernel.procSource. */
  readonly procSource: ProcFsSource = {
    pids: () => this.processIds(),
    process: (pid) => this.process(pid),
    uptimeMs: () => this.uptimeMs(),
    fsState: (pid) => this.fsState(pid),
  };

  processIds(): number[] {
    return [...this.pids.groups.keys()].sort((a, b) => a - b);
  }

  process(pid: number): ProcessInfo | undefined {
    const tg = this.pids.group(pid);
    if (!tg) return undefined;
    const leader = tg.leader ?? [...tg.tasks][0];
    const threads = [...tg.tasks].map((t) => t.tid).sort((a, b) => (a === pid ? -1 : b === pid ? 1 : a - b));
    let maps: ProcessMapping[] = [];
    if (leader && tg.alive) {
      try {
        maps = readHostMaps(leader.hostTid)
          .filter((m) => !(m.start >= STUB_BASE && m.end <= STUB_END))
          .map((m) => ({ start: m.start, end: m.end, perms: m.perms, offset: 0n, name: m.name }));
      } catch {
        // the task is exiting
      }
    }
    return {
      pid: tg.tgid,
      ppid: tg.parent?.tgid ?? 0,
      pgid: tg.pgid,
      sid: tg.sid,
      comm: tg.comm,
      argv: tg.argv,
      state: tg.alive ? (leader?.blocker.waiting ? 'S' : 'R') : 'Z',
      creds: leader ? { ...leader.creds, groups: [...leader.creds.groups] } : { uid: 0, gid: 0, euid: 0, egid: 0, groups: [] },
      threads,
      startTimeMs: tg.startTimeMs - this.bootTime,
      exe: tg.exePath || null,
      maps,
    };
  }

  uptimeMs(): number {
    return Date.now() - this.bootTime;
  }

  fsState(pid: number): { fdTable: FdTable; fsContext: FsContext } | undefined {
    const t = this.pids.group(pid)?.leader;
    return t ? { fdTable: t.fdTable, fsContext: t.fsContext } : undefined;
  }

  /** Registers of a stopped task, for handlers of the ptrace class. */
  regs(task: Task): Registers {
    return Registers.of(task.hostTid);
  }
}

/** The tid of a host thread inside the task pid namespace (the last NSpid field, proc(5)). */
export function sandboxTid(hostTid: number): number {
  const text = fs.readFileSync(`/proc/${hostTid}/status`, 'utf8');
  const m = /^NSpid:\s*(.*)$/m.exec(text);
  const ids = m ? m[1]!.trim().split(/\s+/) : [];
  const last = Number(ids[ids.length - 1]);
  if (!Number.isInteger(last) || last <= 0) throw new Error(`no NSpid for host tid ${hostTid}`);
  return last;
}

export type { VirtualDentry };

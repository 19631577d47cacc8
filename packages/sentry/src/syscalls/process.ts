// Process syscalls answered by the sentry: wait4(2)/waitid(2) on the sandbox's process tree, kill(2)/tgkill(2)/
// tkill(2) by sandbox pid, getppid(2), process groups and sessions (setpgid(2), setsid(2)). fork/clone/execve are
// of the ptrace class (kernel/ptrace_syscalls.ts); exit/exit_group run natively and the kernel sees the exit.
import { tgkill as hostTgkill } from '@tsvisor/native';
import { Errno, fail } from '../kernel/syscall_error.js';
import { SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, validSignal } from '../kernel/signals.js';
import type { Task, ThreadGroup } from '../kernel/task.js';
import { addTicks, type CpuTicks, writeTimeval } from '../kernel/cpu_time.js';
import type { SyscallName } from './numbers.js';
import type { SyscallHandler } from './types.js';
import { savedOf } from './identity.js';

type H = SyscallHandler<Task>;

const i32 = (a: bigint): number => Number(BigInt.asIntN(32, a));
const INT_MIN = -0x80000000;

const WNOHANG = 1;
const WUNTRACED = 2;
const WEXITED = 4;
const WCONTINUED = 8;
const WNOWAIT = 0x01000000;
const __WNOTHREAD = 0x20000000;
const __WALL = 0x40000000;
const __WCLONE = 0x80000000;

const P_ALL = 0;
const P_PID = 1;
const P_PGID = 2;

/** Which children a wait call selects (wait4(2) pid argument). */
type Selector = (child: ThreadGroup) => boolean;

function selectorFor(task: Task, pid: number): Selector {
  if (pid < -1) return (c) => c.pgid === -pid;
  if (pid === -1) return () => true;
  if (pid === 0) return (c) => c.pgid === task.tg.pgid;
  return (c) => c.tgid === pid;
}

/** What a wait call found: an exited child (reaped unless WNOWAIT), or a stop / continue report. */
interface WaitFound {
  child: ThreadGroup;
  kind: 'exited' | 'stopped' | 'continued';
}

/**
 * Waits for a child matching `select` that has exited, or (WUNTRACED / WCONTINUED) stopped or continued and not
 * been reported yet; null with WNOHANG when none is ready.
 */
async function waitChild(task: Task, select: Selector, options: number, want: { exited: boolean }): Promise<WaitFound | null> {
  const tg = task.tg;
  const find = (): WaitFound | null => {
    for (const c of tg.children) {
      if (!select(c)) continue;
      if (!c.alive && want.exited) return { child: c, kind: 'exited' };
      if (c.alive && options & WUNTRACED && c.stopToReport) return { child: c, kind: 'stopped' };
      if (c.alive && options & WCONTINUED && c.continueToReport) return { child: c, kind: 'continued' };
    }
    return null;
  };
  const any = (): boolean => [...tg.children].some(select);
  for (;;) {
    if (!any()) fail(Errno.ECHILD);
    const z = find();
    if (z || options & WNOHANG) return z;
    await task.blocker.wait(
      () => find() !== null || !any(),
      (wake) => {
        tg.childWaiters.add(wake);
        return () => tg.childWaiters.delete(wake);
      },
    );
  }
}

/** Marks a stop or continue report as collected (not for WNOWAIT). */
function consume(found: WaitFound): void {
  if (found.kind === 'stopped') found.child.stopToReport = false;
  if (found.kind === 'continued') found.child.continueToReport = false;
}

function reap(task: Task, child: ThreadGroup): void {
  // getrusage(2) RUSAGE_CHILDREN: waited-for children and their own waited-for children.
  addTicks(task.tg.childTicks, child.exitedTicks);
  addTicks(task.tg.childTicks, child.childTicks);
  task.tg.children.delete(child);
  task.kernel.pids.removeGroup(child);
}

/** struct rusage (144 bytes) with the user and system time of `ticks`; other fields are not kept (zero). */
export function rusageOf(ticks: CpuTicks): Buffer {
  const b = Buffer.alloc(144);
  writeTimeval(b, 0, ticks.user);
  writeTimeval(b, 16, ticks.system);
  return b;
}

function writeRusage(task: Task, addr: bigint, child?: ThreadGroup): void {
  if (addr === 0n) return;
  const ticks = child ? { user: child.exitedTicks.user + child.childTicks.user, system: child.exitedTicks.system + child.childTicks.system } : { user: 0, system: 0 };
  task.memory.write(addr, rusageOf(ticks));
}

const wait4: H = async (task, [pidArg, statusAddr, optArg, rusageAddr]) => {
  const options = i32(optArg);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) fail(Errno.EINVAL, 'options');
  const pid = i32(pidArg);
  if (pid === INT_MIN) fail(Errno.ESRCH, '-INT_MIN is not a process group'); // kernel/exit.c kernel_wait4
  const found = await waitChild(task, selectorFor(task, pid), options, { exited: true });
  if (!found) return 0;
  const { child } = found;
  // wait(2) status words: exited/killed as the host gave them, stopped (sig << 8) | 0x7f, continued 0xffff.
  const status =
    found.kind === 'exited' ? child.exitStatus! : found.kind === 'stopped' ? (child.stopSignal << 8) | 0x7f : 0xffff;
  if (statusAddr !== 0n) task.memory.writeU32(statusAddr, status);
  writeRusage(task, rusageAddr, found.kind === 'exited' ? child : undefined);
  if (found.kind === 'exited') reap(task, child);
  else consume(found);
  return child.tgid;
};

const CLD_EXITED = 1;
const CLD_KILLED = 2;
const CLD_DUMPED = 3;
const CLD_STOPPED = 5;
const CLD_CONTINUED = 6;
const WSTOPPED = WUNTRACED;

const waitid: H = async (task, [idtype, id, infop, optArg, rusageAddr]) => {
  const options = i32(optArg);
  // Checked in kernel_waitid's order (kernel/exit.c): unknown option bits, no event asked for, then the id.
  if (options & ~(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL)) {
    fail(Errno.EINVAL, 'options');
  }
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) fail(Errno.EINVAL, 'waitid needs WEXITED, WSTOPPED or WCONTINUED');
  const type = i32(idtype);
  const want = i32(id);
  let select: Selector;
  if (type === P_ALL) select = () => true;
  else if (type === P_PID && want > 0) select = (c) => c.tgid === want;
  else if (type === P_PGID && want >= 0) select = (c) => c.pgid === (want === 0 ? task.tg.pgid : want);
  else fail(Errno.EINVAL, `idtype ${type} with id ${want}`);
  const found = await waitChild(task, select, options, { exited: (options & WEXITED) !== 0 });
  // siginfo_t (128 bytes): si_signo, si_errno, si_code, then si_pid, si_uid, si_status (sigaction(2)).
  const info = Buffer.alloc(128);
  if (found) {
    const { child } = found;
    let code: number;
    let status: number;
    if (found.kind === 'exited') {
      const st = child.exitStatus!;
      const sig = st & 0x7f;
      code = sig === 0 ? CLD_EXITED : st & 0x80 ? CLD_DUMPED : CLD_KILLED;
      status = sig === 0 ? (st >> 8) & 0xff : sig;
    } else if (found.kind === 'stopped') {
      code = CLD_STOPPED;
      status = child.stopSignal;
    } else {
      code = CLD_CONTINUED;
      status = SIGCONT;
    }
    info.writeInt32LE(SIGCHLD, 0);
    info.writeInt32LE(code, 8);
    info.writeInt32LE(child.tgid, 16);
    info.writeInt32LE(child.leader?.creds.uid ?? 0, 20);
    info.writeInt32LE(status, 24);
  }
  if (infop !== 0n) task.memory.write(infop, info);
  writeRusage(task, rusageAddr, found?.kind === 'exited' ? found.child : undefined);
  if (found && !(options & WNOWAIT)) {
    if (found.kind === 'exited') reap(task, found.child);
    else consume(found);
  }
  return 0;
};

/**
 * kill(2) permission (kernel/signal.c kill_ok_by_cred): root, or the sender's real or effective uid equals the
 * target's real or saved uid (sandbox ids). The target's effective uid does not count: a root process that only
 * lowered its effective uid stays out of that user's reach.
 */
function mayKill(task: Task, target: ThreadGroup): boolean {
  const c = task.creds;
  if (c.euid === 0) return true;
  const owner = target.leader ?? [...target.tasks][0];
  if (!owner) return false;
  const t = owner.creds;
  const suid = savedOf(owner).suid;
  return c.uid === t.uid || c.euid === t.uid || c.uid === suid || c.euid === suid;
}

/** Sends `sig` to a process on the host and ends a blocked emulated call that the signal's handler interrupts. */
function signalGroup(task: Task, target: ThreadGroup, sig: number): void {
  // Inside a pid namespace, init gets only the signals it has a handler for, SIGKILL and SIGSTOP included
  // (pid_namespaces(7)); the host applies that rule only to senders inside the namespace, and the sentry is not.
  if (target.tgid === 1 && (sig === SIGKILL || sig === SIGSTOP)) return;
  if (sig === 0 || !target.alive) return;
  try {
    process.kill(target.hostTgid, sig);
  } catch {
    return;
  }
  task.kernel.interruptForSignal(target, sig);
}

const kill: H = (task, [pidArg, sigArg]) => {
  const pid = i32(pidArg);
  const sig = i32(sigArg);
  if (sig !== 0 && !validSignal(sig)) fail(Errno.EINVAL, `signal ${sig}`);
  const groups = [...task.kernel.pids.groups.values()].filter((g) => g.alive);
  let targets: ThreadGroup[];
  if (pid > 0) targets = groups.filter((g) => g.tgid === pid);
  else if (pid === 0) targets = groups.filter((g) => g.pgid === task.tg.pgid);
  else if (pid === -1) targets = groups.filter((g) => g.tgid !== 1 && g !== task.tg);
  else targets = groups.filter((g) => g.pgid === -pid);
  if (targets.length === 0) fail(Errno.ESRCH);
  const allowed = targets.filter((g) => mayKill(task, g));
  if (allowed.length === 0) fail(Errno.EPERM);
  // kill(-1) includes the caller itself on Linux (kill(2)) except init.
  if (pid === -1 && task.tg.tgid !== 1) allowed.push(task.tg);
  for (const g of allowed) signalGroup(task, g, sig);
  return 0;
};

function signalThread(task: Task, tgid: number | null, tid: number, sig: number): number {
  if (sig !== 0 && !validSignal(sig)) fail(Errno.EINVAL, `signal ${sig}`);
  if (tid <= 0 || (tgid !== null && tgid <= 0)) fail(Errno.EINVAL, 'tid');
  const t = task.kernel.pids.byTid(tid);
  if (!t || (tgid !== null && t.tg.tgid !== tgid)) fail(Errno.ESRCH);
  if (!mayKill(task, t.tg)) fail(Errno.EPERM);
  if (sig === 0) return 0;
  if (t.tg.tgid === 1 && (sig === SIGKILL || sig === SIGSTOP)) return 0;
  try {
    hostTgkill(t.tg.hostTgid, t.hostTid, sig);
  } catch {
    fail(Errno.ESRCH);
  }
  task.kernel.interruptForSignal(t.tg, sig);
  return 0;
}

const tgkill: H = (task, [tgid, tid, sig]) => signalThread(task, i32(tgid), i32(tid), i32(sig));
const tkill: H = (task, [tid, sig]) => signalThread(task, null, i32(tid), i32(sig));

/**
 * rt_sigqueueinfo(2)/rt_tgsigqueueinfo(2). Partial: the signal is delivered, its siginfo payload (si_value) is
 * not (the host delivers it as from kill). Like Linux, a caller may forge si_code >= 0 only for itself.
 */
const SI_TKILL = -6;
function checkQueueInfo(task: Task, targetTgid: number, infoAddr: bigint): void {
  const code = task.memory.read(infoAddr, 12).readInt32LE(8);
  if ((code >= 0 || code === SI_TKILL) && targetTgid !== task.tg.tgid) fail(Errno.EPERM, 'si_code reserved for the kernel');
}
const rt_sigqueueinfo: H = (task, [pid, sig, info]) => {
  checkQueueInfo(task, i32(pid), info);
  return kill(task, [pid, sig, 0n, 0n, 0n, 0n]);
};
const rt_tgsigqueueinfo: H = (task, [tgid, tid, sig, info]) => {
  checkQueueInfo(task, i32(tgid), info);
  return signalThread(task, i32(tgid), i32(tid), i32(sig));
};

const getppid: H = (task) => task.tg.parent?.tgid ?? 0;

function groupOf(task: Task, pid: number): ThreadGroup {
  if (pid === 0) return task.tg;
  const g = task.kernel.pids.group(pid);
  if (!g || !g.alive) fail(Errno.ESRCH);
  return g;
}

const getpgid: H = (task, [pid]) => groupOf(task, i32(pid)).pgid;
const getpgrp: H = (task) => task.tg.pgid;
const getsid: H = (task, [pid]) => groupOf(task, i32(pid)).sid;

/** setpgid(2): a process may move itself or a child that has not exec'ed, within its session. */
const setpgid: H = (task, [pidArg, pgidArg]) => {
  // kernel/sys.c: pid 0 is the caller, pgid 0 is pid; then a negative pgid is EINVAL.
  const pid = i32(pidArg) || task.tg.tgid;
  const pgid = i32(pgidArg) || pid;
  if (pgid < 0) fail(Errno.EINVAL);
  const target = groupOf(task, pid);
  if (target !== task.tg) {
    if (target.parent !== task.tg) fail(Errno.ESRCH);
    if (target.execed) fail(Errno.EACCES);
    if (target.sid !== task.tg.sid) fail(Errno.EPERM);
  }
  if (target.sid === target.tgid) fail(Errno.EPERM, 'a session leader cannot change its group');
  if (pgid !== target.tgid) {
    const exists = [...task.kernel.pids.groups.values()].some((g) => g.pgid === pgid && g.sid === task.tg.sid);
    if (!exists) fail(Errno.EPERM);
  }
  target.pgid = pgid;
  return 0;
};

const setsid: H = (task) => {
  const tg = task.tg;
  if ([...task.kernel.pids.groups.values()].some((g) => g.pgid === tg.tgid)) fail(Errno.EPERM);
  tg.sid = tg.tgid;
  tg.pgid = tg.tgid;
  return tg.tgid;
};

export const processSyscalls: Partial<Record<SyscallName, H>> = {
  wait4,
  waitid,
  kill,
  tgkill,
  tkill,
  rt_sigqueueinfo,
  rt_tgsigqueueinfo,
  getppid,
  getpgid,
  getpgrp,
  getsid,
  setpgid,
  setsid,
};

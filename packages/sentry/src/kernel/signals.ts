// Signal numbers and default actions (signal(7), x86_64), and the host's view of a task's signal state.
// Dispositions and masks live in the host kernel: rt_sigaction and rt_sigprocmask run natively (design.md), so
// the sentry reads them from /proc/<tid>/status when it must decide whether a signal interrupts an emulated call.
import fs from 'node:fs';

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTKFLT = 16;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGVTALRM = 26;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGIO = 29;
export const SIGPWR = 30;
export const SIGSYS = 31;
export const SIGRTMIN = 32;
export const NSIG = 64;

export type DefaultAction = 'term' | 'core' | 'ignore' | 'stop' | 'continue';

/** signal(7) "Standard signals" table; real-time signals terminate by default. */
export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return 'ignore';
    case SIGCONT:
      return 'continue';
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return 'stop';
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return 'core';
    default:
      return 'term';
  }
}

export function validSignal(sig: number): boolean {
  return Number.isInteger(sig) && sig >= 1 && sig <= NSIG;
}

const bit = (sig: number): bigint => 1n << BigInt(sig - 1);

/** The host's signal state of one thread, from /proc/<tid>/status (proc(5): SigPnd, ShdPnd, SigBlk, SigIgn, SigCgt). */
export interface HostSignalState {
  /** Pending for this thread (SigPnd) or its whole process (ShdPnd). */
  pending: bigint;
  blocked: bigint;
  ignored: bigint;
  caught: bigint;
}

export function readHostSignalState(hostTid: number): HostSignalState | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${hostTid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string): bigint => {
    const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(text);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  };
  return {
    pending: field('SigPnd') | field('ShdPnd'),
    blocked: field('SigBlk'),
    ignored: field('SigIgn'),
    caught: field('SigCgt'),
  };
}

/**
 * Whether delivering `sig` to a thread in this state runs a handler (so a blocked emulated call must end with
 * EINTR or be restarted, signal(7) "Interruption of system calls and library functions by signal handlers").
 */
export function runsHandler(state: HostSignalState, sig: number): boolean {
  const b = bit(sig);
  return (state.blocked & b) === 0n && (state.caught & b) !== 0n;
}

/** A pending signal that will run a handler as soon as the thread returns to user mode, or 0. */
export function pendingHandledSignal(state: HostSignalState): number {
  const ready = state.pending & ~state.blocked & state.caught;
  if (ready === 0n) return 0;
  for (let s = 1; s <= NSIG; s++) if (ready & bit(s)) return s;
  return 0;
}

export function isBlocked(state: HostSignalState, sig: number): boolean {
  return (state.blocked & bit(sig)) !== 0n;
}

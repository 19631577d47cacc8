// Capabilities of every thread of this process (see caps.c): restricting them all, and reading them.
import { addon } from './index.js';

/** Capability numbers (linux/capability.h) of the ones tsvisor's components keep or test. */
export const Capability = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  NET_ADMIN: 12,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  MKNOD: 27,
} as const;

/** The mask (bit N = capability N) holding `caps`. */
export function capabilityMask(...caps: number[]): bigint {
  return caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
}

/** One thread's capability sets, as its /proc/self/task/TID/status shows them. */
export interface ThreadCapabilities {
  tid: number;
  inheritable: bigint;
  permitted: bigint;
  effective: bigint;
  bounding: bigint;
  ambient: bigint;
}

interface CapsAddon {
  restrictThreadCapabilities(taskDirFd: number, keep: bigint): number;
  threadCapabilities(taskDirFd: number): ThreadCapabilities[];
}
// Read at call time: index.ts re-exports this module, so at import time the addon binding is not initialised yet.
const c = (): CapsAddon => addon as unknown as CapsAddon;

/**
 * Makes every thread of this process keep at most `keep` in its permitted, effective and bounding sets, and nothing
 * in its inheritable and ambient sets. `taskDirFd` is /proc/self/task opened as a directory (open it before
 * leaving /proc behind, close it after: it leads to every process's /proc entry). Each thread changes itself in a
 * handler of signal 32 (glibc's SIGCANCEL; see caps.c); the result is checked in every thread's status. Returns
 * the number of threads it had to change; throws (naming the thread and step) if any still holds more. Not
 * reversible. Call from one thread at a time.
 */
export function restrictThreadCapabilities(taskDirFd: number, keep: bigint): number {
  return c().restrictThreadCapabilities(taskDirFd, keep);
}

/** The capability sets of every thread of this process, read through `taskDirFd` (/proc/self/task). */
export function threadCapabilities(taskDirFd: number): ThreadCapabilities[] {
  return c().threadCapabilities(taskDirFd);
}

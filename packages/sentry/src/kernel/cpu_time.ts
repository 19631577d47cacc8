// CPU time of tasks, from the host's accounting (/proc/<tid>/stat utime and stime, in USER_HZ = 100 ticks per
// second: proc(5)), kept per thread group the way getrusage(2) and times(2) report it: the group's own threads,
// living and exited, and its waited-for children (with their own waited-for children).
import fs from 'node:fs';

export const TICKS_PER_SECOND = 100;

export interface CpuTicks {
  user: number;
  system: number;
}

export function threadTicks(hostTid: number): CpuTicks | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${hostTid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces and parentheses) start at the state, field 3.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), system: Number(f[12]) };
}

export function addTicks(into: CpuTicks, more: CpuTicks): void {
  into.user += more.user;
  into.system += more.system;
}

/** struct timeval of `ticks`. */
export function writeTimeval(b: Buffer, offset: number, ticks: number): void {
  const usec = BigInt(ticks) * BigInt(1_000_000 / TICKS_PER_SECOND);
  b.writeBigInt64LE(usec / 1_000_000n, offset);
  b.writeBigInt64LE(usec % 1_000_000n, offset + 8);
}

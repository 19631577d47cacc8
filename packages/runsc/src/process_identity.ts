// Identifies a host process by (pid, start time) so a recycled pid is never mistaken for the process we
// recorded: the start time is field 22 of /proc/<pid>/stat (proc(5)), in clock ticks since boot, and a new
// process with the same pid has a later one.
import fs from 'node:fs';

/** The process's start time from /proc/<pid>/stat, or undefined if no such process exists. */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')': split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is therefore rest[19]. A zombie (state Z) has exited: not alive.
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return rest[19];
}

/** True if `pid` is alive and, when `startTime` is given, is the same process that had that start time. */
export function isSameProcessAlive(pid: number, startTime?: string): boolean {
  const now = processStartTime(pid);
  if (now === undefined) return false;
  return startTime === undefined || startTime === now;
}

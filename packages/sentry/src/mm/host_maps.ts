// The host's view of a task's address space (/proc/PID/maps, proc(5)). The platform uses it when execve replaces
// the image: every mapping goes except the stub page and the kernel's special mappings ([vdso], [vvar], ...).
import fs from 'node:fs';

export interface HostMapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
}

export function readHostMaps(hostPid: number): HostMapping[] {
  const text = fs.readFileSync(`/proc/${hostPid}/maps`, 'utf8');
  const out: HostMapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3]!, name: m[4]!.trim() });
  }
  return out;
}

/** Kernel-provided mappings that survive an emulated execve (they cannot be re-created from user space). */
export function isSpecialMapping(m: HostMapping): boolean {
  return /^\[(vdso|vvar|vvar_vclock|vsyscall)\]$/.test(m.name);
}

// Another process's memory (see memory.c): process_vm_readv/writev, and /proc/PID/mem for read-only pages.
import { addon } from './index.js';

interface MemoryAddon {
  readMemory(pid: number, addr: bigint, out: Uint8Array): number;
  writeMemory(pid: number, addr: bigint, data: Uint8Array): number;
  writeMemoryForce(pid: number, addr: bigint, data: Uint8Array): number;
}
// index.ts loads the addon and re-exports this module, so the binding is read at call time, not at import
// time (the import cycle would otherwise see it uninitialised).
const m = new Proxy({} as MemoryAddon, { get: (_t, key) => (addon as unknown as Record<string | symbol, unknown>)[key] });

/** Reads into `out`; returns the bytes read (short at the first unmapped page). */
export const readMemory = (pid: number, addr: bigint, out: Uint8Array): number => m.readMemory(pid, addr, out);
/** Writes `data` honouring page protections; returns the bytes written (short at the first unwritable page). */
export const writeMemory = (pid: number, addr: bigint, data: Uint8Array): number => m.writeMemory(pid, addr, data);
/** Writes through /proc/PID/mem, which also writes read-only pages; returns the bytes written. */
export const writeMemoryForce = (pid: number, addr: bigint, data: Uint8Array): number =>
  m.writeMemoryForce(pid, addr, data);

// The program break (brk(2)), kept by the sentry: the host's own brk area begins after the stub, not after the
// program the sentry loaded, and moving it (prctl PR_SET_MM) would need CAP_SYS_RESOURCE in the task. So brk is of
// the ptrace class: at its seccomp stop the sentry grows the heap with an injected anonymous mmap
// (MAP_FIXED_NOREPLACE, so it never clobbers another mapping) or shrinks it with munmap.
import { inject, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from './image.js';
import { SyscallError } from '../kernel/syscall_error.js';

const MAP_FIXED_NOREPLACE = 0x100000;
const NR_MMAP = 9;
const NR_MUNMAP = 11;
/** Largest heap the sentry lets brk reach (RLIMIT_DATA is infinite by default; this bounds address use). */
const MAX_HEAP = 1n << 40n;

const pageUp = (v: bigint): bigint => (v + 0xfffn) & ~0xfffn;

export class ProgramBreak {
  /** Start (page-aligned end of the loaded image) and current break. */
  constructor(
    public start: bigint,
    public current: bigint = start,
  ) {}

  /**
   * brk(addr) for the task `hostTid` stopped in a syscall-exit stop: returns the new break, or the unchanged one
   * when `addr` is out of range or the memory is not available (brk(2): the kernel call returns the old break).
   */
  move(hostTid: number, addr: bigint, heldSignals: number[]): bigint {
    if (addr < this.start || addr - this.start > MAX_HEAP) return this.current;
    const oldEnd = pageUp(this.current);
    const newEnd = pageUp(addr);
    try {
      if (newEnd > oldEnd) {
        const flags = BigInt(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
        const at = inject(hostTid, NR_MMAP, [oldEnd, newEnd - oldEnd, BigInt(PROT_READ | PROT_WRITE), flags, -1n, 0n], heldSignals);
        if (at !== oldEnd) return this.current;
      } else if (newEnd < oldEnd) {
        inject(hostTid, NR_MUNMAP, [newEnd, oldEnd - newEnd], heldSignals);
      }
    } catch (e) {
      if (e instanceof SyscallError) return this.current;
      throw e;
    }
    this.current = addr;
    return addr;
  }
}

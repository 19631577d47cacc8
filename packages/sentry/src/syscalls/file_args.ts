// Decoding of the raw register arguments the file syscalls share: fds and flags are C ints (the low 32 bits,
// signed), counts are size_t clamped like Linux's MAX_RW_COUNT, offsets are signed 64-bit loff_t.
import { MAX_RW_COUNT } from '../vfs/constants.js';

/** A C `int` argument (fd, dirfd, flags): the low 32 bits, sign-extended. */
export function intArg(a: bigint): number {
  return Number(BigInt.asIntN(32, a));
}

/** A C `unsigned int` / mode_t argument. */
export function u32Arg(a: bigint): number {
  return Number(a & 0xffffffffn);
}

/** A byte count (size_t), clamped to MAX_RW_COUNT as read(2)/write(2) do ("transfer at most 0x7ffff000 bytes"). */
export function countArg(a: bigint): number {
  return a > BigInt(MAX_RW_COUNT) ? MAX_RW_COUNT : Number(a);
}

/** A file offset or length (loff_t / off_t): signed 64-bit. */
export function offArg(a: bigint): bigint {
  return BigInt.asIntN(64, a);
}

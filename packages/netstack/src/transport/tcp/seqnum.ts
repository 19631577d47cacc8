// Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4: "all arithmetic dealing with sequence numbers must be
// performed modulo 2**32"). Values are unsigned 32-bit numbers kept in JS numbers; comparisons use the signed
// 32-bit difference, valid while the two values are less than 2^31 apart.

/** a + n mod 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** a - b as a signed 32-bit integer (how far a is ahead of b). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLT(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLE(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGT(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGE(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** start <= x < end, modulo 2^32. */
export function seqInRange(x: number, start: number, end: number): boolean {
  return ((x - start) >>> 0) < ((end - start) >>> 0);
}

export function seqMax(a: number, b: number): number {
  return seqGT(a, b) ? a : b;
}
export function seqMin(a: number, b: number): number {
  return seqLT(a, b) ? a : b;
}

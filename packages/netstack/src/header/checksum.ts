// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit big-endian words.
// Sums are kept unfolded in a JavaScript number (exact up to 2^53) and folded only when a 16-bit value is needed,
// so a checksum over several pieces (pseudo-header, header, payload) is just the sum of their partial sums.

/** Folds a running sum into 16 bits with end-around carry (RFC 1071 section 4.1). */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Adds the 16-bit big-endian words of bytes[offset, offset+length) to `initial` and returns the unfolded sum.
 * `offset` is taken as the position of an even byte: a trailing odd byte is padded with zero (RFC 1071 4.1).
 * To continue a sum across pieces, every piece but the last must have even length.
 */
export function sumBytes(bytes: Uint8Array, offset = 0, length = bytes.length - offset, initial = 0): number {
  let sum = initial;
  // Never read past the array: a lying length field in a malformed packet must not turn the sum into NaN.
  const end = Math.min(offset + length, bytes.length);
  let i = offset;
  // Unrolled by 8 bytes: about twice as fast as the plain loop in V8 for MTU-sized payloads.
  const end8 = end - 7;
  for (; i < end8; i += 8) {
    sum += ((bytes[i] << 8) | bytes[i + 1]) + ((bytes[i + 2] << 8) | bytes[i + 3])
      + ((bytes[i + 4] << 8) | bytes[i + 5]) + ((bytes[i + 6] << 8) | bytes[i + 7]);
  }
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  // Keep the sum small enough that callers may keep adding without losing precision.
  if (sum > 0x3fffffffff) sum = foldChecksum(sum);
  return sum;
}

/** The checksum field value for a region whose sum (including any pseudo-header) is `sum`: ~fold(sum). */
export function finishChecksum(sum: number): number {
  return ~foldChecksum(sum) & 0xffff;
}

/** The Internet checksum of bytes[offset, offset+length) plus `initial`. */
export function internetChecksum(bytes: Uint8Array, offset = 0, length = bytes.length - offset, initial = 0): number {
  return finishChecksum(sumBytes(bytes, offset, length, initial));
}

/**
 * Incremental update of a checksum field when one 16-bit word changes from `oldWord` to `newWord`
 * (RFC 1624 equation 3: HC' = ~(~HC + ~m + m')). Avoids the -0 problem of RFC 1141's form.
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldChecksum(sum) & 0xffff;
}

/** Incremental update when a 32-bit value (e.g. an IPv4 address) changes: two 16-bit updates. */
export function updateChecksum32(checksum: number, oldValue: number, newValue: number): number {
  const sum = (~checksum & 0xffff)
    + (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff)
    + ((newValue >>> 16) & 0xffff) + (newValue & 0xffff);
  return ~foldChecksum(sum) & 0xffff;
}

/**
 * Incremental update when bytes change: the caller passes the old and new contents of an even-aligned region
 * (same length, even offset relative to the checksummed data).
 */
export function updateChecksumBytes(checksum: number, oldBytes: Uint8Array, newBytes: Uint8Array): number {
  // ~old words add as (0xffff - word) each: sum(~m) = n*0xffff - sum(m).
  const words = Math.ceil(oldBytes.length / 2);
  const sum = (~checksum & 0xffff) + words * 0xffff - sumBytes(oldBytes) + sumBytes(newBytes);
  return ~foldChecksum(sum) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (RFC 768, RFC 793 section 3.1): addresses, zero, protocol, upper-layer length. */
export function pseudoHeaderSumV4(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return sumBytes(src, 0, 4) + sumBytes(dst, 0, 4) + protocol + length;
}

/** Sum of the IPv6 pseudo-header (RFC 8200 section 8.1): addresses, 32-bit length, next header. */
export function pseudoHeaderSumV6(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return sumBytes(src, 0, 16) + sumBytes(dst, 0, 16) + Math.floor(length / 0x10000) + (length & 0xffff) + protocol;
}

/** IPv4 pseudo-header sum with the addresses as unsigned 32-bit numbers (host view of the big-endian value). */
export function pseudoHeaderSumV4Numbers(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

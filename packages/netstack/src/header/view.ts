// Base of every header view: a window [offset, offset+length) over a Uint8Array, read through one DataView.
// A view is built once per packet (or re-pointed with reset() to avoid even that allocation in hot paths) and
// reads fields in place; nothing is copied or allocated per field.

export class HeaderView {
  /** The underlying bytes (usually a whole frame buffer). */
  bytes: Uint8Array;
  /** DataView over the same memory as `bytes` (offsets are relative to bytes[0]). */
  view: DataView;
  /** Where this header starts in `bytes`. */
  offset: number;
  /** How many bytes from `offset` belong to this header and what follows it (its packet). */
  length: number;

  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
    this.length = clampLength(bytes, offset, length);
  }

  /** Re-points the view at another packet; the DataView is reused when the bytes are the same object. */
  reset(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.offset = offset;
    this.length = clampLength(bytes, offset, length);
    return this;
  }

  /** The bytes [offset+from, offset+to) of this view, sharing memory (no copy). */
  slice(from: number, to: number = this.length): Uint8Array {
    return this.bytes.subarray(this.offset + from, this.offset + to);
  }
}

/** A window never extends past the bytes it views, so a lying length cannot make a getter read out of range. */
function clampLength(bytes: Uint8Array, offset: number, length: number): number {
  if (!(offset >= 0) || offset > bytes.length) return 0;
  if (!(length >= 0)) return 0;
  return Math.min(length, bytes.length - offset);
}

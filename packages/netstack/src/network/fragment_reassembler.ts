// Reassembly of IPv4 (RFC 791 section 3.2, RFC 815) and IPv6 (RFC 8200 section 4.5) fragments, shared by both.
//
// Fragment payloads are copied into per-datagram lists (the link may reuse its receive buffers). Against
// resource exhaustion (the FragmentSmack / SegmentSmack class of attacks) the reassembler:
//  - drops a whole datagram when a fragment partially overlaps another (RFC 5722 for IPv6; Linux applies the same
//    rule to IPv4 since 4.19) and ignores exact duplicates;
//  - refuses datagrams larger than 65535 bytes and more than MAX_FRAGMENTS_PER_DATAGRAM pieces;
//  - bounds the memory held in all incomplete datagrams (like net.ipv4.ipfrag_high_thresh, 4 MiB), evicting the
//    oldest when over the limit. Each fragment is charged its payload plus FRAGMENT_OVERHEAD for its bookkeeping,
//    as Linux charges an skb's truesize rather than its data length: otherwise empty last fragments (offset > 0,
//    MF=0, no data) with fresh ids would hold datagrams open at no charge and grow the table without bound;
//  - expires incomplete datagrams after a timeout (ipfrag_time: 30 s for IPv4, 60 s for IPv6 per RFC 8200).

import type { Clock, Timer } from '../stack/clock.js';

export const MAX_REASSEMBLED_SIZE = 65535;
export const MAX_FRAGMENTS_PER_DATAGRAM = 256;
export const DEFAULT_REASSEMBLY_MEMORY_LIMIT = 4 << 20;
/** Bytes charged per held fragment beyond its payload: the piece, its copy's object, and its datagram's entry. */
export const FRAGMENT_OVERHEAD = 256;

interface Piece {
  first: number;
  last: number; // inclusive
  data: Uint8Array;
}

interface Pending {
  key: string;
  pieces: Piece[];
  /** Total payload length, known once the fragment with MF=0 arrived (-1 before). */
  total: number;
  bytes: number;
  /** What this datagram is charged against the memory limit (payload plus FRAGMENT_OVERHEAD per piece). */
  charged: number;
  timer: Timer;
  /** The unfragmentable/first-fragment header bytes, kept to build an ICMP time-exceeded message. */
  firstFragmentHeader: Uint8Array | undefined;
}

export type FragmentResult =
  | { kind: 'incomplete' }
  | { kind: 'complete'; payload: Uint8Array; firstFragmentHeader: Uint8Array | undefined }
  | { kind: 'error'; reason: 'overlap' | 'too-big' | 'too-many-fragments' | 'bad-length' | 'memory-limit' };

const INCOMPLETE: FragmentResult = { kind: 'incomplete' };

export interface ReassemblerOptions {
  clock: Clock;
  timeoutMs: number;
  memoryLimit?: number;
  /** Called when an incomplete datagram expires (the stack sends ICMP time exceeded if offset 0 arrived). */
  onTimeout?: (firstFragmentHeader: Uint8Array | undefined) => void;
}

export class FragmentReassembler {
  private readonly pending = new Map<string, Pending>(); // insertion order = age order
  private memory = 0;
  readonly memoryLimit: number;
  /** Counters: expired datagrams and datagrams dropped for the reasons of FragmentResult 'error'. */
  timeouts = 0;
  dropped = 0;

  constructor(private readonly opts: ReassemblerOptions) {
    this.memoryLimit = opts.memoryLimit ?? DEFAULT_REASSEMBLY_MEMORY_LIMIT;
  }

  get memoryInUse(): number {
    return this.memory;
  }
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Adds one fragment. `offset` is the payload byte offset, `more` the MF flag, `payload` the fragment data
   * (copied). `header` is the datagram header to return with offset 0 (unfragmentable part for IPv6).
   */
  add(key: string, offset: number, more: boolean, payload: Uint8Array, header?: Uint8Array): FragmentResult {
    const len = payload.length;
    // RFC 791/8200: every fragment but the last carries a multiple of 8 bytes.
    if ((more && (len === 0 || len % 8 !== 0)) || offset + len > MAX_REASSEMBLED_SIZE) {
      this.drop(key);
      this.dropped++;
      return { kind: 'error', reason: offset + len > MAX_REASSEMBLED_SIZE ? 'too-big' : 'bad-length' };
    }
    let p = this.pending.get(key);
    if (!p) {
      const timer = this.opts.clock.afterFunc(this.opts.timeoutMs, () => this.expire(key));
      p = { key, pieces: [], total: -1, bytes: 0, charged: 0, timer, firstFragmentHeader: undefined };
      this.pending.set(key, p);
    }
    const first = offset;
    const last = offset + len - 1;
    if (!more) {
      // A second "last fragment" that disagrees about the total length is corrupt.
      if ((p.total >= 0 && p.total !== offset + len) || p.pieces.some((x) => x.last >= offset + len)) {
        return this.fail(key, 'overlap');
      }
      p.total = offset + len;
    } else if (p.total >= 0 && last >= p.total) {
      return this.fail(key, 'overlap');
    }
    // Insert sorted by offset; exact duplicates are ignored, any other overlap kills the datagram.
    let at = p.pieces.length;
    for (let i = 0; i < p.pieces.length; i++) {
      const q = p.pieces[i]!;
      if (q.first === first && q.last === last) return INCOMPLETE;
      if (first <= q.last && q.first <= last) return this.fail(key, 'overlap');
      if (q.first > first) {
        at = i;
        break;
      }
    }
    if (p.pieces.length >= MAX_FRAGMENTS_PER_DATAGRAM) return this.fail(key, 'too-many-fragments');
    p.pieces.splice(at, 0, { first, last, data: payload.slice() });
    p.bytes += len;
    p.charged += len + FRAGMENT_OVERHEAD;
    this.memory += len + FRAGMENT_OVERHEAD;
    if (offset === 0 && header) p.firstFragmentHeader = header.slice();
    while (this.memory > this.memoryLimit && this.pending.size > 0) {
      const oldest = this.pending.keys().next().value as string;
      this.drop(oldest);
      this.dropped++;
      if (oldest === key) return { kind: 'error', reason: 'memory-limit' };
    }
    if (p.total < 0 || p.bytes !== p.total || p.pieces[0]!.first !== 0) return INCOMPLETE;
    // Non-overlapping pieces whose lengths sum to the total and that start at 0 cover the datagram exactly.
    const out = new Uint8Array(p.total);
    for (const q of p.pieces) out.set(q.data, q.first);
    const hdr = p.firstFragmentHeader;
    this.drop(key);
    return { kind: 'complete', payload: out, firstFragmentHeader: hdr };
  }

  private fail(key: string, reason: 'overlap' | 'too-many-fragments'): FragmentResult {
    this.drop(key);
    this.dropped++;
    return { kind: 'error', reason };
  }

  private drop(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    p.timer.stop();
    this.memory -= p.charged;
    this.pending.delete(key);
  }

  private expire(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    const hdr = p.pieces[0]?.first === 0 ? p.firstFragmentHeader : undefined;
    this.drop(key);
    this.timeouts++;
    this.opts.onTimeout?.(hdr);
  }

  /** Drops everything (NIC removed, stack closed). */
  clear(): void {
    for (const k of [...this.pending.keys()]) this.drop(k);
  }
}

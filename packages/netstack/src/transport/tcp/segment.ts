// One received segment's fields, parsed once and handed through the state machine. A single instance per
// protocol is reused for every segment (processing is synchronous), so the receive path allocates nothing here.

import { TCP_FLAG_FIN, TCP_FLAG_SYN, TcpHeader, TcpOptions, tcpChecksumValid, validateTcpSegment } from '../../header/tcp.js';
import type { Address } from '../../stack/address.js';

export class InboundSegment {
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  srcPort = 0;
  dstPort = 0;
  payload: Uint8Array = new Uint8Array(0);
  readonly options = new TcpOptions();
  private readonly header = new TcpHeader(new Uint8Array(20));

  /** Sequence space the segment occupies: payload plus one each for SYN and FIN (RFC 9293 3.4 SEG.LEN). */
  get seqLength(): number {
    return this.payload.length + (this.flags & TCP_FLAG_SYN ? 1 : 0) + (this.flags & TCP_FLAG_FIN ? 1 : 0);
  }

  has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  /**
   * Parse bytes[offset, offset+length). Returns an error reason ('malformed', 'checksum') or null on success.
   * `verifyChecksum` is false when the link already verified it (checksum offload).
   */
  parse(
    src: Address,
    dst: Address,
    bytes: Uint8Array,
    offset: number,
    length: number,
    verifyChecksum: boolean,
  ): 'malformed' | 'checksum' | null {
    if (validateTcpSegment(bytes, offset, length) !== null) return 'malformed';
    if (verifyChecksum && !tcpChecksumValid(src.bytes, dst.bytes, bytes, offset, length)) return 'checksum';
    const h = this.header.reset(bytes, offset, length);
    if (!h.parseOptions(this.options)) return 'malformed';
    this.seq = h.seq();
    this.ack = h.ack();
    this.flags = h.flags();
    this.window = h.window();
    this.srcPort = h.srcPort();
    this.dstPort = h.dstPort();
    this.payload = h.payload();
    return null;
  }
}

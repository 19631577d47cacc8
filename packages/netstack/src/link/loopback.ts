// The loopback link: every packet written is received by the same stack, on a later turn of the event loop
// (so a reply sent from inside the receive path cannot recurse). No link header, no resolution, and checksums
// count as verified (Linux's lo does the same: CHECKSUM_UNNECESSARY on loopback, net/core/dev.c dev_loopback_xmit).
import type { PacketBuffer } from '../buffer/packet_buffer.js';
import { ARPHRD_LOOPBACK, LinkCapability, type LinkDispatcher, type LinkEndpoint } from './link_endpoint.js';

/** Linux's default lo MTU (drivers/net/loopback.c: 64 KiB). */
export const LOOPBACK_MTU = 65536;

export class LoopbackEndpoint implements LinkEndpoint {
  readonly mtu: number;
  readonly maxHeaderLength = 0;
  readonly linkAddress = new Uint8Array(0);
  readonly capabilities = LinkCapability.LOOPBACK | LinkCapability.RX_CHECKSUM_OFFLOAD | LinkCapability.TX_CHECKSUM_OFFLOAD;
  readonly gsoMaxSize = 0;
  readonly arpHardwareType = ARPHRD_LOOPBACK;
  private dispatcher: LinkDispatcher | null = null;
  private queue: PacketBuffer[] = [];
  private spare: PacketBuffer[] = [];
  private scheduled = false;
  private closed = false;
  /** Bound once so scheduling a flush allocates nothing. */
  private readonly flushBound = (): void => this.flush();

  constructor(mtu = LOOPBACK_MTU) {
    this.mtu = mtu;
  }

  attach(dispatcher: LinkDispatcher | null): void { this.dispatcher = dispatcher; }
  isAttached(): boolean { return this.dispatcher !== null; }

  writePackets(batch: PacketBuffer[]): number {
    if (this.closed) return 0;
    // Borrowed packets (from a receive ring) are copied: delivery happens after the ring has moved on.
    for (const pkt of batch) this.queue.push(pkt.retain());
    if (!this.scheduled && this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
    return batch.length;
  }

  private flush(): void {
    this.scheduled = false;
    // Swap queues so packets written while delivering go to the next turn.
    const q = this.queue;
    this.queue = this.spare;
    this.spare = q;
    const d = this.dispatcher;
    try {
      for (let i = 0; i < q.length; i++) {
        const pkt = q[i];
        if (!d || this.closed) continue;
        // The packet turns around: forget the sender's header offsets except where the network header starts.
        pkt.linkHeader = -1;
        pkt.networkHeader = pkt.head;
        pkt.transportHeader = -1;
        pkt.checksumValidated = true;
        pkt.remoteLinkAddress = null;
        pkt.borrowed = false;
        d.deliverNetworkPacket(pkt.networkProtocol, pkt);
      }
    } finally {
      // The stack's NIC contains exceptions itself; this only keeps a dispatcher that throws from leaving the
      // delivered packets in the spare queue, where the next flush would deliver them again.
      q.length = 0;
    }
    d?.deliverBatchEnd?.();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }
}

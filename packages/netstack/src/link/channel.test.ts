import { describe, expect, it } from 'vitest';
import { PacketBuffer, PacketType } from '../buffer/packet_buffer.js';
import { ETHERTYPE_IPV4, ETHERNET_BROADCAST, EthernetHeader } from '../header/ethernet.js';
import { ChannelEndpoint, createChannelPair, type ChannelImpairments } from './channel.js';
import { LoopbackEndpoint } from './loopback.js';
import { FifoQdisc } from './qdisc.js';
import { LinkCapability, type LinkDispatcher } from './link_endpoint.js';

/** A dispatcher that records what it receives (copies, since delivered packets may be borrowed). */
class Recorder implements LinkDispatcher {
  got: { protocol: number; data: number[]; type: number; from: number[] | null }[] = [];
  batches = 0;
  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    this.got.push({ protocol, data: Array.from(pkt.data()), type: pkt.packetType, from: pkt.remoteLinkAddress ? Array.from(pkt.remoteLinkAddress) : null });
  }
  deliverBatchEnd(): void { this.batches++; }
}

function packet(n: number, dst: Uint8Array | null = null): PacketBuffer {
  const p = PacketBuffer.fromPayload(Uint8Array.of(0x45, n, n + 1), 16);
  p.networkProtocol = ETHERTYPE_IPV4;
  p.remoteLinkAddress = dst;
  return p;
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('channel endpoint', () => {
  it('frames packets in Ethernet and queues them for readOutbound', () => {
    const ep = new ChannelEndpoint({ linkAddress: Uint8Array.of(2, 0, 0, 0, 0, 1) });
    expect(ep.capabilities & LinkCapability.RESOLUTION_REQUIRED).toBeTruthy();
    expect(ep.writePackets([packet(1, Uint8Array.of(2, 0, 0, 0, 0, 2))])).toBe(1);
    const f = ep.readOutbound()!;
    const eth = new EthernetHeader(f.bytes);
    expect(Array.from(eth.destination())).toEqual([2, 0, 0, 0, 0, 2]);
    expect(Array.from(eth.source())).toEqual([2, 0, 0, 0, 0, 1]);
    expect(eth.etherType()).toBe(ETHERTYPE_IPV4);
    expect(Array.from(eth.payload())).toEqual([0x45, 1, 2]);
    expect(ep.readOutbound()).toBeNull();
  });

  it('parses injected frames, classifies them and drops runts', () => {
    const ep = new ChannelEndpoint({ linkAddress: Uint8Array.of(2, 0, 0, 0, 0, 1) });
    const rec = new Recorder();
    ep.attach(rec);
    const frame = new Uint8Array(17);
    new EthernetHeader(frame).encode({ destination: ETHERNET_BROADCAST, source: Uint8Array.of(2, 0, 0, 0, 0, 9), etherType: ETHERTYPE_IPV4 });
    expect(ep.injectInbound(frame)).toBe(true);
    frame.set([2, 0, 0, 0, 0, 1]);
    expect(ep.injectInbound(frame)).toBe(true);
    frame.set([2, 0, 0, 0, 0, 7]);
    expect(ep.injectInbound(frame)).toBe(true);
    expect(ep.injectInbound(frame.subarray(0, 13))).toBe(false);
    frame[12] = 0x05; // 802.3 length, not an EtherType
    expect(ep.injectInbound(frame)).toBe(false);
    expect(rec.got.map((g) => g.type)).toEqual([PacketType.BROADCAST, PacketType.HOST, PacketType.OTHERHOST]);
    expect(rec.got[0].from).toEqual([2, 0, 0, 0, 0, 9]);
    expect(rec.got[0].data).toEqual([0, 0, 0]);
  });

  it('connects a pair on a later turn, batching one turn into one delivery', async () => {
    const pair = createChannelPair();
    const rec = new Recorder();
    pair.b.attach(rec);
    pair.a.writePackets([packet(1, pair.b.linkAddress), packet(2, pair.b.linkAddress)]);
    expect(rec.got.length).toBe(0);
    await turn();
    expect(rec.got.map((g) => g.data[1])).toEqual([1, 2]);
    expect(rec.batches).toBe(1);
    pair.close();
  });

  async function runImpaired(imp: ChannelImpairments): Promise<number[]> {
    const pair = createChannelPair(imp);
    const rec = new Recorder();
    pair.b.attach(rec);
    for (let i = 0; i < 200; i++) pair.a.writePackets([packet(i & 0xff)]);
    pair.releaseHeld();
    await sleep((imp.delayMs ?? 0) + (imp.jitterMs ?? 0) + 20);
    pair.close();
    return rec.got.map((g) => g.data[1]);
  }

  it('applies loss, duplication and reordering deterministically from the seed', async () => {
    const imp = { seed: 42, loss: 0.1, duplicate: 0.05, reorder: 0.1 };
    const one = await runImpaired(imp);
    const two = await runImpaired(imp);
    expect(one).toEqual(two);
    expect(one.length).toBeLessThan(200 + 20);
    expect(one.length).toBeGreaterThan(150);
    const lost = 200 - new Set(one).size;
    expect(lost).toBeGreaterThan(5);
    expect(one.some((v, i) => i > 0 && v < one[i - 1])).toBe(true); // reordered
    expect(one.some((v, i) => i > 0 && v === one[i - 1])).toBe(true); // duplicated
    const other = await runImpaired({ ...imp, seed: 43 });
    expect(other).not.toEqual(one);
  });

  it('delays frames and lets a filter drop chosen ones', async () => {
    const got = await runImpaired({ delayMs: 5, filter: (f) => f.bytes[15] % 2 === 0 });
    expect(got.length).toBe(100);
    expect(got.every((v) => v % 2 === 0)).toBe(true);
  });
});

describe('loopback endpoint', () => {
  it('returns written packets to its own dispatcher on a later turn with checksums validated', async () => {
    const lo = new LoopbackEndpoint();
    const seen: boolean[] = [];
    const rec = new Recorder();
    lo.attach({
      deliverNetworkPacket: (p, pkt) => { seen.push(pkt.checksumValidated); rec.deliverNetworkPacket(p, pkt); },
      deliverBatchEnd: () => rec.deliverBatchEnd(),
    });
    expect(lo.writePackets([packet(5), packet(6)])).toBe(2);
    expect(rec.got.length).toBe(0);
    await turn();
    expect(rec.got.map((g) => [g.protocol, g.data[1]])).toEqual([[ETHERTYPE_IPV4, 5], [ETHERTYPE_IPV4, 6]]);
    expect(seen).toEqual([true, true]);
    expect(rec.batches).toBe(1);
    lo.close();
    expect(lo.writePackets([packet(7)])).toBe(0);
  });
});

describe('fifo qdisc', () => {
  it('turns many single writes in one turn into batched link writes', async () => {
    const ep = new ChannelEndpoint();
    const sizes: number[] = [];
    const orig = ep.writePackets.bind(ep);
    ep.writePackets = (b) => { sizes.push(b.length); return orig(b); };
    const q = new FifoQdisc(ep, { batchSize: 4, limit: 8 });
    for (let i = 0; i < 10; i++) q.writePackets([packet(i)]);
    expect(sizes).toEqual([]);
    await Promise.resolve();
    expect(sizes).toEqual([4, 4]);
    expect(q.stats).toMatchObject({ queued: 8, sent: 8, dropped: 2, batches: 2 });
    expect(ep.outboundLength).toBe(8);
    expect(q.mtu).toBe(ep.mtu);
  });

  it('keeps a copy of borrowed packets, whose receive slot is reused before the flush', async () => {
    const ep = new ChannelEndpoint();
    const q = new FifoQdisc(ep);
    const ring = new Uint8Array(64);
    const p = new PacketBuffer(ring, 20, 23);
    ring.set([0x45, 7, 7], 20);
    p.borrowed = true;
    p.networkProtocol = ETHERTYPE_IPV4;
    q.writePackets([p]);
    ring.fill(0); // the next receive batch lands in the same slot
    p.head = p.tail = 0;
    await Promise.resolve();
    expect(Array.from(ep.readOutbound()!.bytes.subarray(14))).toEqual([0x45, 7, 7]);
  });
});

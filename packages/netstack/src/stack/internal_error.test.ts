// Containment of exceptions from the stack's own code on packet paths (internal_error.ts): a protocol handler that
// throws for one packet must cost that packet only. Each case below let the exception escape before the change:
// out of injectInbound to the caller, or (for the loopback link, local delivery, channel pairs and the qdisc) out
// of a setImmediate / microtask as an uncaught exception, with the rest of the batch never delivered.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PacketBuffer } from '../buffer/packet_buffer.js';
import { IPv4Header, IPPROTO_UDP, IPV4_FLAG_MORE_FRAGMENTS } from '../header/ipv4.js';
import { ChannelEndpoint, createChannelPair } from '../link/channel.js';
import { LoopbackEndpoint } from '../link/loopback.js';
import { FifoQdisc } from '../link/qdisc.js';
import { arpProtocol } from '../network/arp/arp.js';
import { IPV4_REASSEMBLY_TIMEOUT_MS, ipv4Protocol } from '../network/ipv4/ipv4.js';
import { Address, EtherType } from './address.js';
import { ManualClock } from './clock.js';
import { setInternalErrorLogger, type InternalErrorLogger } from './internal_error.js';
import type { NetworkProtocol } from './network_protocol.js';
import { Stack } from './stack.js';
import { formatStats } from './stats.js';
import { TcpipErrors } from './tcpip_error.js';
import type { TransportProtocol } from './transport_protocol.js';

/** IEEE 802 "local experimental" EtherType 1: no real protocol uses it. */
const EXPERIMENTAL_ETHERTYPE = 0x88b5;
/** RFC 3692 experimental IP protocol number. */
const EXPERIMENTAL_IPPROTO = 253;
/** The first payload byte that makes the test protocols throw. */
const POISON = 0xee;

/** A network protocol whose handler records each packet's first byte, and throws (a "bug") on POISON. */
function throwingNetworkProtocol(received: number[]): NetworkProtocol {
  return {
    etherType: EXPERIMENTAL_ETHERTYPE,
    family: undefined,
    newEndpoint: () => ({
      handlePacket(pkt: PacketBuffer): void {
        const tag = pkt.buf[pkt.head];
        if (tag === POISON) throw new TypeError('test: network handler bug');
        received.push(tag);
      },
      close(): void {},
    }),
  };
}

/** A transport protocol with no endpoints; its unknown-destination handler records or throws like the above. */
function throwingTransportProtocol(received: number[]): TransportProtocol {
  return {
    number: EXPERIMENTAL_IPPROTO,
    minimumPacketSize: 1,
    sourcePort: () => 0,
    destinationPort: () => 0,
    newEndpoint: () => TcpipErrors.notSupported,
    handleUnknownDestinationPacket(_info, pkt) {
      const tag = pkt.buf[pkt.transportHeader];
      if (tag === POISON) throw new RangeError('test: transport handler bug');
      received.push(tag);
      return 'handled';
    },
  };
}

function frame(tag: number): Uint8Array {
  return Uint8Array.of(tag, 0, 0, 0);
}

function outgoing(tag: number, etherType = EXPERIMENTAL_ETHERTYPE): PacketBuffer {
  const pkt = PacketBuffer.fromPayload(frame(tag));
  pkt.networkProtocol = etherType;
  return pkt;
}

const US = Address.parse('10.7.0.1');
const PEER = Address.parse('10.7.0.2');

/** An IPv4 packet PEER -> US carrying the experimental protocol with `tag` as its first payload byte. */
function ipv4Frame(tag: number, protocol = EXPERIMENTAL_IPPROTO): Uint8Array {
  const b = new Uint8Array(24);
  new IPv4Header(b, 0).encode({ totalLength: b.length, protocol, src: PEER.bytes, dst: US.bytes, ttl: 64 });
  b.set(frame(tag), 20);
  return b;
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

let logged: string[] = [];
beforeEach(() => {
  logged = [];
  const logger = { error: (_obj: object, msg: string) => void logged.push(msg) } as unknown as InternalErrorLogger;
  setInternalErrorLogger(logger);
});
afterEach(() => setInternalErrorLogger(null));

function networkStack(received: number[]): Stack {
  return new Stack({ networkProtocols: [() => throwingNetworkProtocol(received)], transportProtocols: [], clock: new ManualClock() });
}

describe('receive path containment', () => {
  it('channel link: a network handler that throws drops that packet only, counted and logged', () => {
    const received: number[] = [];
    const stack = networkStack(received);
    const link = new ChannelEndpoint({ ethernet: false });
    expect(stack.createNIC(1, link)).toBeUndefined();
    expect(link.injectInbound(frame(1), EXPERIMENTAL_ETHERTYPE)).toBe(true);
    expect(link.injectInbound(frame(POISON), EXPERIMENTAL_ETHERTYPE)).toBe(true);
    expect(link.injectInbound(frame(2), EXPERIMENTAL_ETHERTYPE)).toBe(true);
    link.endInboundBatch();
    expect(received).toEqual([1, 2]);
    expect(stack.stats.internalErrors.receive).toBe(1);
    expect(stack.nic(1)!.stats.rxDropped).toBe(1);
    expect(formatStats(stack.stats)).toContain('internalErrors.receive 1');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('nic1 receive (EtherType 0x88b5)');
    expect(logged[0]).toContain('TypeError: test: network handler bug');
    stack.close();
  });

  it('logs each distinct error once but counts every occurrence', () => {
    const received: number[] = [];
    const stack = networkStack(received);
    const link = new ChannelEndpoint({ ethernet: false });
    stack.createNIC(1, link);
    for (let i = 0; i < 5; i++) {
      link.injectInbound(frame(POISON), EXPERIMENTAL_ETHERTYPE);
      link.injectInbound(frame(i), EXPERIMENTAL_ETHERTYPE);
    }
    expect(received).toEqual([0, 1, 2, 3, 4]);
    expect(stack.stats.internalErrors.receive).toBe(5);
    expect(logged).toHaveLength(1);
    stack.close();
  });

  it('channel pair: frames crossing on a later turn keep flowing past a throwing handler', async () => {
    const received: number[] = [];
    const stack = networkStack(received);
    const pair = createChannelPair({}, { ethernet: false });
    stack.createNIC(1, pair.a);
    // The other end is a bare link with no stack: writes cross to pair.a on the next turn, in one batch.
    expect(pair.b.writePackets([outgoing(1), outgoing(POISON), outgoing(2)])).toBe(3);
    await nextTurn();
    expect(received).toEqual([1, 2]);
    expect(stack.stats.internalErrors.receive).toBe(1);
    stack.close();
    pair.close();
  });

  it('a transport handler that throws under IPv4 drops that packet only', () => {
    const received: number[] = [];
    const stack = new Stack({
      networkProtocols: [ipv4Protocol()],
      transportProtocols: [() => throwingTransportProtocol(received)],
      clock: new ManualClock(),
    });
    const link = new ChannelEndpoint({ ethernet: false, capabilities: 0 });
    stack.createNIC(1, link);
    stack.addAddress(1, `${US}/24`);
    for (const tag of [1, POISON, 2]) expect(link.injectInbound(ipv4Frame(tag), EtherType.IPV4)).toBe(true);
    expect(received).toEqual([1, 2]);
    expect(stack.stats.internalErrors.receive).toBe(1);
    expect(stack.stats.ip.packetsReceived).toBe(3);
    expect(logged[0]).toContain('RangeError: test: transport handler bug');
    // The stack is not left in a bad state: an ordinary packet for an unregistered protocol is still handled.
    expect(link.injectInbound(ipv4Frame(3, IPPROTO_UDP), EtherType.IPV4)).toBe(true);
    expect(stack.stats.internalErrors.receive).toBe(1);
    stack.close();
  });

  it('a batch-end hook that throws is contained at the batch end', () => {
    const received: number[] = [];
    const stack = networkStack(received);
    const link = new ChannelEndpoint({ ethernet: false });
    stack.createNIC(1, link);
    let calls = 0;
    stack.onBatchEnd(() => {
      calls++;
      if (calls === 1) throw new Error('test: batch-end hook bug');
    });
    link.injectInbound(frame(1), EXPERIMENTAL_ETHERTYPE);
    link.endInboundBatch();
    link.injectInbound(frame(2), EXPERIMENTAL_ETHERTYPE);
    link.endInboundBatch();
    expect(calls).toBe(2);
    expect(received).toEqual([1, 2]);
    expect(stack.stats.internalErrors.receive).toBe(1);
    expect(logged[0]).toContain('batch-end hook');
    stack.close();
  });

  it('a batch-end hook that throws costs the hooks after it nothing (link batch end and local delivery)', async () => {
    const received: number[] = [];
    const stack = networkStack(received);
    const link = new ChannelEndpoint({ ethernet: false });
    stack.createNIC(1, link);
    let later = 0;
    stack.onBatchEnd(() => { throw new Error('test: batch-end hook bug, every batch'); });
    stack.onBatchEnd(() => void later++);
    link.injectInbound(frame(1), EXPERIMENTAL_ETHERTYPE);
    link.endInboundBatch();
    expect(later).toBe(1);
    stack.deliverLocal(1, EXPERIMENTAL_ETHERTYPE, outgoing(2));
    await nextTurn();
    expect(received).toEqual([1, 2]);
    expect(later).toBe(2);
    // Called directly (the TCP worker pool does, after draining its rings), no exception leaves it either.
    stack.flushBatch();
    expect(later).toBe(3);
    expect(stack.stats.internalErrors.receive).toBe(3);
    expect(logged).toHaveLength(1);
    stack.close();
  });

  it('loopback link: delivery on a later turn goes on past a throwing handler, and nothing is delivered twice', async () => {
    const received: number[] = [];
    const stack = networkStack(received);
    const lo = new LoopbackEndpoint();
    stack.createNIC(1, lo);
    expect(lo.writePackets([outgoing(1), outgoing(POISON), outgoing(2)])).toBe(3);
    await nextTurn();
    expect(received).toEqual([1, 2]);
    expect(stack.stats.internalErrors.receive).toBe(1);
    lo.writePackets([outgoing(3)]);
    await nextTurn();
    await nextTurn();
    expect(received).toEqual([1, 2, 3]);
    stack.close();
  });

  it('local delivery (Stack.deliverLocal): the drain goes on past a throwing handler', async () => {
    const received: number[] = [];
    const stack = networkStack(received);
    stack.createNIC(1, new ChannelEndpoint({ ethernet: false }));
    let hookCalls = 0;
    stack.onBatchEnd(() => {
      hookCalls++;
    });
    for (const tag of [1, POISON, 2]) stack.deliverLocal(1, EXPERIMENTAL_ETHERTYPE, outgoing(tag));
    await nextTurn();
    expect(received).toEqual([1, 2]);
    expect(hookCalls).toBe(1);
    expect(stack.stats.internalErrors.receive).toBe(1);
    stack.deliverLocal(1, EXPERIMENTAL_ETHERTYPE, outgoing(3));
    await nextTurn();
    expect(received).toEqual([1, 2, 3]);
    expect(hookCalls).toBe(2);
    stack.close();
  });
});

describe('local delivery after Stack.close()', () => {
  it('what was queued for local delivery is dropped, and no batch-end hook runs for the closed stack', async () => {
    const received: number[] = [];
    const stack = networkStack(received);
    stack.createNIC(1, new ChannelEndpoint({ ethernet: false }));
    let hookCalls = 0;
    stack.onBatchEnd(() => void hookCalls++);
    stack.deliverLocal(1, EXPERIMENTAL_ETHERTYPE, outgoing(1));
    stack.close();
    await nextTurn();
    expect(received).toEqual([]);
    expect(hookCalls).toBe(0);
    expect(stack.stats.nic.rxPackets).toBe(0);
  });
});

describe('deferred transmit containment (FifoQdisc flush)', () => {
  it('a link that throws during a qdisc flush loses that flush only, counted in the stack', async () => {
    const received: number[] = [];
    const stack = networkStack(received);
    const lower = new ChannelEndpoint({ ethernet: false });
    const wire: number[] = [];
    lower.onOutbound = (f) => {
      if (f.bytes[0] === POISON) throw new Error('test: link driver bug');
      wire.push(f.bytes[0]);
    };
    const qdisc = new FifoQdisc(lower);
    stack.createNIC(1, qdisc);
    expect(qdisc.writePackets([outgoing(1), outgoing(POISON), outgoing(2)])).toBe(3);
    await nextTurn();
    // The first frame left before the throw; the rest of that flush is dropped, not retried later. The qdisc
    // cannot know how much of the batch the link sent before throwing, so the whole batch counts as dropped.
    expect(wire).toEqual([1]);
    expect(qdisc.stats.errors).toBe(1);
    expect(qdisc.stats.dropped).toBe(3);
    expect(stack.stats.internalErrors.transmit).toBe(1);
    expect(stack.nic(1)!.stats.txErrors).toBe(3);
    expect(stack.stats.nic.txErrors).toBe(3);
    expect(logged[0]).toContain('nic1 deferred transmit');
    expect(qdisc.writePackets([outgoing(3)])).toBe(1);
    await nextTurn();
    expect(wire).toEqual([1, 3]);
    expect(stack.stats.internalErrors.transmit).toBe(1);
    stack.close();
  });

  it('a NIC write whose link throws does not keep the packet', () => {
    const stack = networkStack([]);
    const link = new ChannelEndpoint({ ethernet: false });
    link.onOutbound = () => {
      throw new Error('test: synchronous link bug');
    };
    stack.createNIC(1, link);
    const nic = stack.nic(1)!;
    // A synchronous send has a caller, so the exception goes to it; the NIC's reusable batch must not hold on.
    expect(() => nic.writeWithLinkAddress(outgoing(1), EXPERIMENTAL_ETHERTYPE, new Uint8Array(0))).toThrow('synchronous link bug');
    expect((nic as unknown as { single: PacketBuffer[] }).single).toHaveLength(0);
    stack.close();
  });
});

describe('a logger that throws', () => {
  it('does not undo the containment: the packet is still dropped and counted, and receive goes on', () => {
    setInternalErrorLogger({ error: () => { throw new Error('test: logger destination closed'); } } as unknown as InternalErrorLogger);
    const received: number[] = [];
    const stack = networkStack(received);
    const link = new ChannelEndpoint({ ethernet: false });
    stack.createNIC(1, link);
    for (const tag of [1, POISON, 2]) expect(link.injectInbound(frame(tag), EXPERIMENTAL_ETHERTYPE)).toBe(true);
    expect(received).toEqual([1, 2]);
    expect(stack.stats.internalErrors.receive).toBe(1);
    stack.close();
  });
});

describe('deferred transmit containment when reporting fails too', () => {
  it('a qdisc flush whose failure report throws (a logger that throws) still keeps it inside the microtask', async () => {
    const lower = new ChannelEndpoint({ ethernet: false });
    lower.onOutbound = () => { throw new Error('test: link driver bug'); };
    const qdisc = new FifoQdisc(lower);
    qdisc.attach({
      deliverNetworkPacket() { /* nothing received here */ },
      transmitFailed() { throw new Error('test: the report throws as well'); },
    });
    expect(qdisc.writePackets([outgoing(1), outgoing(2)])).toBe(2);
    await nextTurn();
    expect(qdisc.stats).toMatchObject({ errors: 1, dropped: 2 });
    expect(logged.some((m) => m.includes('test: the report throws as well'))).toBe(true);
    // The qdisc still works.
    const wire: number[] = [];
    lower.onOutbound = (f) => void wire.push(f.bytes[0]);
    expect(qdisc.writePackets([outgoing(3)])).toBe(1);
    await nextTurn();
    expect(wire).toEqual([3]);
    qdisc.close();
  });
});

describe('timer-driven transmit containment', () => {
  it('a packet waiting for ARP whose failure handling throws does not stop the other waiters', () => {
    const clock = new ManualClock();
    const stack = new Stack({ networkProtocols: [ipv4Protocol(), arpProtocol()], transportProtocols: [], clock });
    const link = new ChannelEndpoint({ ethernet: true });
    link.onOutbound = () => {}; // ARP requests go nowhere: resolution fails after the probes
    stack.createNIC(1, link);
    stack.addAddress(1, `${US}/24`);
    const nic = stack.nic(1)!;
    const failed: number[] = [];
    for (const tag of [1, POISON, 2]) {
      const pkt = PacketBuffer.fromPayload(ipv4Frame(tag).subarray(20), 64);
      const err = nic.writeNetworkPacket(pkt, EtherType.IPV4, 4, PEER, false, () => {
        if (tag === POISON) throw new Error('test: resolution-failure handler bug');
        failed.push(tag);
      });
      expect(err).toBeUndefined(); // queued behind resolution
    }
    // The neighbour cache's timer gives up (RFC 4861 7.3.3 / RFC 826 retries) and calls every waiter.
    clock.advance(60_000);
    expect(failed).toEqual([1, 2]);
    expect(stack.stats.neighbor.resolutionsFailed).toBe(1);
    expect(stack.stats.internalErrors.transmit).toBe(1);
    expect(logged[0]).toContain('nic1 send after address resolution');
    stack.close();
  });

  it('an IPv4 reassembly timeout whose Time Exceeded send throws is contained, and the next one is sent', () => {
    const clock = new ManualClock();
    const stack = new Stack({ networkProtocols: [ipv4Protocol()], transportProtocols: [], clock });
    const link = new ChannelEndpoint({ ethernet: false });
    let throwOnSend = true;
    const sent: Uint8Array[] = [];
    link.onOutbound = (f) => {
      if (throwOnSend) throw new Error('test: link bug while sending Time Exceeded');
      sent.push(f.bytes);
    };
    stack.createNIC(1, link);
    stack.addAddress(1, `${US}/24`);
    /** The first fragment (offset 0, more fragments) of datagram `id`: its reassembly can only time out. */
    const firstFragment = (id: number): Uint8Array => {
      const b = new Uint8Array(20 + 16);
      new IPv4Header(b, 0).encode({
        totalLength: b.length, protocol: IPPROTO_UDP, src: PEER.bytes, dst: US.bytes, ttl: 64, id, flags: IPV4_FLAG_MORE_FRAGMENTS,
      });
      return b;
    };
    link.injectInbound(firstFragment(1), EtherType.IPV4);
    clock.advance(IPV4_REASSEMBLY_TIMEOUT_MS + 1);
    expect(stack.stats.ip.reassemblyTimeouts).toBe(1);
    expect(stack.stats.internalErrors.transmit).toBe(1);
    expect(logged[0]).toContain('IPv4 reassembly timeout');
    throwOnSend = false;
    link.injectInbound(firstFragment(2), EtherType.IPV4);
    clock.advance(IPV4_REASSEMBLY_TIMEOUT_MS + 1);
    expect(stack.stats.ip.reassemblyTimeouts).toBe(2);
    expect(sent).toHaveLength(1); // ICMP Time Exceeded (reassembly) to the peer
    expect(stack.stats.internalErrors.transmit).toBe(1);
    stack.close();
  });
});

// Protocol behaviours checked by watching the segments on the wire between two stacks (channel link filter) and,
// where timing matters, driving a ManualClock.

import { afterEach, describe, expect, it } from 'vitest';
import { IPv4Header } from '../../header/ipv4.js';
import {
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TcpHeader,
  TcpOptions,
  tcpChecksum,
  tcpOptionsLength,
  writeTcpHeader,
} from '../../header/tcp.js';
import type { ChannelFrame } from '../../link/channel.js';
import type { Address } from '../../stack/address.js';
import { ManualClock } from '../../stack/clock.js';
import { ShutdownFlags } from '../../stack/endpoint.js';
import { NetworkReceiveInfo } from '../../stack/transport_protocol.js';
import { TcpipErrors, isTcpipError } from '../../stack/tcpip_error.js';
import { ALL_EVENTS, EventMask } from '../../waiter/waiter_queue.js';
import { TcpEndpoint, TcpState } from './endpoint.js';
import { createTcpStackPair, type TcpStackPair } from './stack-pair.js';

interface Seen {
  from: 'a' | 'b';
  at: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  len: number;
  sack: number[];
  dropped: boolean;
  /** IPv4 TTL and TOS of the packet. */
  ttl: number;
  tos: number;
  /** The segment carries the timestamps option. */
  ts: boolean;
}

let pair: TcpStackPair | undefined;
afterEach(() => {
  pair?.close();
  pair = undefined;
});

const turn = () => new Promise<void>((r) => setImmediate(r));
async function settle(n = 6): Promise<void> {
  for (let i = 0; i < n; i++) await turn();
}

/** A pair whose wire is recorded in `log`; `drop(seg)` decides losses. */
function watchedPair(opts: { clock?: ManualClock; drop?: (s: Seen) => boolean } = {}) {
  const log: Seen[] = [];
  const clock = opts.clock;
  const o = new TcpOptions();
  const p = createTcpStackPair({
    clock,
    impairments: {
      filter: (frame: ChannelFrame, from) => {
        const ip = frame.bytes;
        const ihl = (ip[0]! & 0xf) * 4;
        const h = new TcpHeader(ip, ihl, ip.length - ihl);
        h.parseOptions(o);
        const sack: number[] = [];
        for (let i = 0; i < o.sackBlockCount * 2; i++) sack.push(o.sackBlocks[i]!);
        const s: Seen = {
          from, at: clock ? clock.nowMs() : performance.now(), seq: h.seq(), ack: h.ack(), flags: h.flags(),
          window: h.window(), len: h.payloadLength(), sack, dropped: false, ttl: ip[8]!, tos: ip[1]!,
          ts: o.hasTimestamp,
        };
        s.dropped = opts.drop?.(s) ?? false;
        log.push(s);
        return !s.dropped;
      },
    },
  });
  pair = p;
  return { p, log };
}

async function connect(p: TcpStackPair, clock?: ManualClock, setupListener?: (l: TcpEndpoint) => void) {
  const listener = p.tcpB.createEndpoint(4);
  setupListener?.(listener);
  listener.bind({ address: p.addrB, port: 80 });
  listener.listen(8);
  const client = p.tcpA.createEndpoint(4);
  expect(client.connect({ address: p.addrB, port: 80 })).toBe(TcpipErrors.connectStarted);
  for (let i = 0; i < 20 && listener.acceptQueueLength === 0; i++) {
    await turn();
    clock?.advance(1);
  }
  const acc = listener.accept();
  if (isTcpipError(acc)) throw new Error(`accept: ${acc}`);
  expect(client.state).toBe(TcpState.ESTABLISHED);
  return { client, server: acc.endpoint as TcpEndpoint, listener };
}

/** Builds a bare IPv4+TCP packet from `src` to `dst` for injection into a stack. */
function forge(
  src: Address,
  dst: Address,
  f: {
    sport: number; dport: number; seq: number; ack: number; flags: number; window?: number; ts?: [number, number];
    payload?: Uint8Array; mss?: number; windowScale?: number;
  },
): Uint8Array {
  const opts = f.ts || f.mss !== undefined || f.windowScale !== undefined
    ? { timestamp: !!f.ts, tsVal: f.ts?.[0], tsEcr: f.ts?.[1], mss: f.mss, windowScale: f.windowScale }
    : undefined;
  const payload = f.payload ?? new Uint8Array(0);
  const tcp = new Uint8Array(20 + (opts ? tcpOptionsLength(opts) : 0) + payload.length);
  const hlen = writeTcpHeader(tcp, 0, { srcPort: f.sport, dstPort: f.dport, seq: f.seq, ack: f.ack, flags: f.flags, window: f.window ?? 1000 }, opts);
  tcp.set(payload, hlen);
  const sum = tcpChecksum(src.bytes, dst.bytes, tcp, 0, tcp.length);
  tcp[16] = sum >>> 8;
  tcp[17] = sum & 0xff;
  const pkt = new Uint8Array(20 + tcp.length);
  new IPv4Header(pkt, 0, 20).encode({ totalLength: pkt.length, protocol: 6, src: src.bytes, dst: dst.bytes, ttl: 64 });
  pkt.set(tcp, 20);
  return pkt;
}

function inject(p: TcpStackPair, bytes: Uint8Array): void {
  p.channel.b.injectInbound(bytes, 0x0800);
  p.channel.b.endInboundBatch();
}

/** The first 8 bytes of a TCP header as an ICMP error quotes them: ports and the sequence number. */
function quotedTcpHeader(seq: number): Uint8Array {
  const q = new Uint8Array(8);
  new DataView(q.buffer).setUint32(4, seq);
  return q;
}

describe('TCP behaviour on the wire', () => {
  it('recovers a single loss with SACK fast recovery, before any RTO', async () => {
    const clock = new ManualClock();
    let dataSegs = 0;
    let droppedSeq = -1;
    const { p, log } = watchedPair({
      clock,
      drop: (s) => {
        if (s.from !== 'a' || s.len === 0) return false;
        dataSegs++;
        if (dataSegs === 3) {
          droppedSeq = s.seq;
          return true;
        }
        return false;
      },
    });
    const { client, server } = await connect(p, clock);
    const data = new Uint8Array(20 * 1448).fill(7);
    expect(client.write(data)).toBe(data.length);
    await settle(20);
    // Without advancing the clock, no timer can have fired: the repair must come from SACK-driven recovery.
    const sacks = log.filter((s) => s.from === 'b' && s.sack.length > 0);
    expect(sacks.length).toBeGreaterThan(0);
    // The first SACK block starts right after the hole: the receiver reported the segment after the lost one.
    expect(sacks[0]!.ack).toBe(droppedSeq);
    expect(sacks[0]!.sack[0]).toBe((droppedSeq + 1448) >>> 0);
    const retx = log.filter((s) => s.from === 'a' && s.seq === droppedSeq && s.len > 0);
    expect(retx.length).toBe(2);
    expect(retx[1]!.dropped).toBe(false);
    expect(p.tcpA.stats.fastRecoveries).toBe(1);
    expect(p.tcpA.stats.timeouts).toBe(0);
    const buf = new Uint8Array(data.length);
    const r = server.read(buf);
    expect(isTcpipError(r) ? r : r.count).toBe(data.length);
  });

  it('carries data across the 2^32 wrap of sequence numbers and timestamps, with losses repaired', async () => {
    const clock = new ManualClock();
    let dataSegs = 0;
    const { p } = watchedPair({
      clock,
      drop: (s) => s.from === 'a' && s.len > 0 && (++dataSegs === 2 || dataSegs === 5 || dataSegs === 40),
    });
    // Both ISNs a few segments below 2^32, both timestamp clocks 10 ms below 2^32 (RFC 9293 3.4, RFC 7323 5.2).
    for (const tcp of [p.tcpA, p.tcpB]) {
      tcp.generateIsn = () => 0xffffffff - 3000;
      tcp.timestampOffset = () => 0xffffffff - 10;
    }
    const { client, server } = await connect(p, clock);
    expect(client.sndNxt).toBe(0xffffffff - 2999);
    const data = new Uint8Array(150_000).map((_, i) => (i * 7) & 0xff);
    let written = 0;
    const got: number[] = [];
    const buf = new Uint8Array(65536);
    for (let i = 0; i < 2000 && got.length < data.length; i++) {
      if (written < data.length) {
        const n = client.write(data.subarray(written));
        if (!isTcpipError(n)) written += n;
      }
      const r = server.read(buf);
      if (!isTcpipError(r)) for (let k = 0; k < r.count; k++) got.push(buf[k]!);
      clock.advance(2);
      await settle(2);
    }
    expect(got.length).toBe(data.length);
    expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
    expect(client.sndUna).toBe((0xffffffff - 2999 + data.length) >>> 0); // wrapped
    expect(clock.nowMs()).toBeGreaterThan(11); // the timestamp clocks wrapped during the transfer
    expect(p.tcpB.stats.pawsRejected).toBe(0);
    expect(client.totalRetransmits).toBeGreaterThanOrEqual(3);
  });

  it('backs off the retransmission timer exponentially (RFC 6298 5.5)', async () => {
    const clock = new ManualClock();
    let blackhole = false;
    const { p, log } = watchedPair({ clock, drop: (s) => blackhole && s.from === 'a' });
    const { client } = await connect(p, clock);
    blackhole = true;
    client.write(new Uint8Array(100));
    await settle();
    for (let t = 0; t < 30_000; t += 50) {
      clock.advance(50);
      await Promise.resolve();
    }
    const sends = log.filter((s) => s.from === 'a' && s.len === 100).map((s) => s.at);
    expect(sends.length).toBeGreaterThanOrEqual(6);
    const gaps = sends.slice(1).map((t, i) => t - sends[i]!);
    // The first timeout is the 200 ms floor (the handshake RTT was ~0); each next one doubles.
    expect(gaps[0]).toBeGreaterThanOrEqual(200);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]! / gaps[i - 1]!).toBeCloseTo(2, 0);
    expect(p.tcpA.stats.timeouts).toBe(gaps.length);
  });

  it('slow-starts out of an RTO instead of resending one segment per round trip (RFC 5681 3.1)', async () => {
    const clock = new ManualClock();
    let blackhole = false;
    const { p } = watchedPair({ clock, drop: (s) => blackhole && s.from === 'a' });
    const { client, server } = await connect(p, clock);
    client.setSockOptInt('noDelay', 1);
    // Warm up so cwnd covers the whole burst below, which is then lost entirely.
    const warm = new Uint8Array(400 * 1448);
    client.write(warm);
    for (let i = 0; i < 40; i++) {
      await settle(2);
      server.read(warm);
    }
    expect(client.cc.cwnd).toBeGreaterThan(100 * 1448);
    blackhole = true;
    const total = 80 * 1448;
    client.write(new Uint8Array(total));
    await settle();
    blackhole = false;
    clock.advance(250); // the first RTO fires and resends from SND.UNA with cwnd = 1 segment
    expect(p.tcpA.stats.timeouts).toBe(1);
    let rounds = 0;
    let got = 0;
    const buf = new Uint8Array(total);
    while (got < total && rounds < 100) {
      rounds++;
      await settle(2); // one round trip on the channel
      const r = server.read(buf);
      if (!isTcpipError(r)) got += r.count;
    }
    expect(got).toBe(total);
    // Slow start doubles per round trip: the 80 lost segments need about log2(80) rounds, not 80.
    expect(rounds).toBeLessThan(20);
    expect(client.cc.cwnd).toBeGreaterThan(20 * 1448);
    expect(p.tcpA.stats.timeouts).toBe(1);
  });

  it('probes a zero window with backing-off probes and resumes when the reader drains', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock });
    const { client, server } = await connect(p, clock, (l) => l.setSockOptInt('receiveBufferSize', 8192));
    expect(server.receiveBuffer.capacity).toBe(16384);
    const data = new Uint8Array(40_000).map((_, i) => i & 0xff);
    let written = 0;
    written += client.write(data) as number;
    for (let i = 0; i < 20; i++) {
      clock.advance(20);
      await settle(2);
    }
    expect(client.sndWnd).toBe(0);
    for (let t = 0; t < 20_000; t += 50) {
      clock.advance(50);
      await settle(2);
    }
    const probeSegs = log.filter((s) => s.from === 'a' && s.len === 0 && s.seq === ((client.sndUna - 1) >>> 0));
    const probes = probeSegs.map((s) => s.at);
    expect(probes.length).toBeGreaterThanOrEqual(3);
    expect(probeSegs.every((s) => s.ts)).toBe(true); // RFC 7323 3.2: timestamps on every non-RST segment
    const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]! * 1.5);
    expect(client.state).toBe(TcpState.ESTABLISHED);
    // Drain the receiver: the window opens and the rest arrives.
    const got: number[] = [];
    const buf = new Uint8Array(65536);
    for (let i = 0; i < 200 && got.length < data.length; i++) {
      const r = server.read(buf);
      if (!isTcpipError(r)) for (let k = 0; k < r.count; k++) got.push(buf[k]!);
      if (written < data.length) {
        const n = client.write(data.subarray(written));
        if (!isTcpipError(n)) written += n;
      }
      clock.advance(5);
      await settle(2);
    }
    expect(got.length).toBe(data.length);
    expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
  });

  it('gives up a closed socket whose peer holds a zero window forever, while answering probes (orphan limit)', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock });
    const { client, server } = await connect(p, clock, (l) => l.setSockOptInt('receiveBufferSize', 8192));
    client.write(new Uint8Array(40_000));
    for (let i = 0; i < 20; i++) {
      clock.advance(20);
      await settle(2);
    }
    expect(client.sndWnd).toBe(0);
    client.close(); // unsent data stays queued behind the zero window; the server never reads
    for (let t = 0; t < 400_000 && client.state !== TcpState.CLOSED; t += 500) {
      clock.advance(500);
      await settle(2);
    }
    expect(client.state).toBe(TcpState.CLOSED);
    expect(log.some((s) => s.from === 'a' && (s.flags & TCP_FLAG_RST) !== 0)).toBe(true);
    const probes = log.filter((s) => s.from === 'a' && s.len === 0 && (s.flags & TCP_FLAG_RST) === 0);
    expect(probes.length).toBeGreaterThanOrEqual(3); // it did probe, and the server answered each probe
    expect(server.state).not.toBe(TcpState.ESTABLISHED);
  });

  it('holds TIME_WAIT for 2*MSL on the active closer, then closes', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock });
    const { client, server } = await connect(p, clock);
    client.close();
    await settle();
    expect(client.state).toBe(TcpState.FIN_WAIT2);
    expect(server.state).toBe(TcpState.CLOSE_WAIT);
    expect(server.read(new Uint8Array(1))).toBe(TcpipErrors.closedForReceive);
    server.close();
    await settle();
    expect(server.state).toBe(TcpState.CLOSED);
    expect(client.state).toBe(TcpState.TIME_WAIT);
    expect(log.filter((s) => s.flags & TCP_FLAG_FIN).length).toBe(2);
    clock.advance(59_000);
    expect(client.state).toBe(TcpState.TIME_WAIT);
    clock.advance(1_001);
    expect(client.state).toBe(TcpState.CLOSED);
  });

  it('holds at most maxTimeWait connections in TIME_WAIT and closes the rest at once, still ACKing the FIN', async () => {
    const clock = new ManualClock();
    const { p } = watchedPair({ clock });
    p.tcpA.settings.maxTimeWait = 2;
    const closers: TcpEndpoint[] = [];
    for (let i = 0; i < 3; i++) {
      const { client, server, listener } = await connect(p, clock);
      client.close();
      await settle();
      server.close();
      await settle();
      listener.close();
      expect(server.state).toBe(TcpState.CLOSED); // the last ACK arrived, also for the overflowing one
      closers.push(client);
    }
    expect(closers.map((c) => c.state)).toEqual([TcpState.TIME_WAIT, TcpState.TIME_WAIT, TcpState.CLOSED]);
    expect(p.tcpA.stats.timeWaitOverflows).toBe(1);
    expect(p.tcpA.timeWaitCount).toBe(2);
    clock.advance(60_001);
    expect(closers.map((c) => c.state)).toEqual([TcpState.CLOSED, TcpState.CLOSED, TcpState.CLOSED]);
    expect(p.tcpA.timeWaitCount).toBe(0);
  });

  it('lets a new SYN for the same 4-tuple end TIME_WAIT early (RFC 6191)', async () => {
    const { p } = watchedPair();
    const listener = p.tcpA.createEndpoint(4);
    listener.bind({ address: p.addrA, port: 7000 });
    listener.listen(4);
    const connectOnce = async () => {
      const c = p.tcpB.createEndpoint(4);
      c.setSockOptInt('reuseAddress', 1);
      expect(c.bind({ address: p.addrB, port: 40000 })).toBeUndefined();
      expect(c.connect({ address: p.addrA, port: 7000 })).toBe(TcpipErrors.connectStarted);
      await settle(4);
      expect(c.state).toBe(TcpState.ESTABLISHED);
      const acc = listener.accept();
      if (isTcpipError(acc)) throw new Error(String(acc));
      return { c, s: acc.endpoint as TcpEndpoint };
    };
    const first = await connectOnce();
    // The server (listener side, stack a) closes first, so the TIME_WAIT is on the listener's host.
    first.s.close();
    await settle();
    first.c.close();
    await settle();
    expect(first.s.state).toBe(TcpState.TIME_WAIT);
    const second = await connectOnce();
    expect(first.s.state).toBe(TcpState.CLOSED);
    expect(second.s.state).toBe(TcpState.ESTABLISHED);
  });

  it('closes simultaneously through CLOSING into TIME_WAIT on both sides (RFC 9293 3.6, figure 13)', async () => {
    const { p, log } = watchedPair();
    const { client, server } = await connect(p);
    const states: number[][] = [];
    const watch = () => states.push([client.state, server.state]);
    client.waiterQueue.subscribe(ALL_EVENTS, watch);
    client.close();
    server.close();
    expect([client.state, server.state]).toEqual([TcpState.FIN_WAIT1, TcpState.FIN_WAIT1]);
    await settle(10);
    expect([client.state, server.state]).toEqual([TcpState.TIME_WAIT, TcpState.TIME_WAIT]);
    // Each side's FIN crossed the other's: both were in CLOSING before the final ACKs.
    expect(states.some(([c]) => c === TcpState.CLOSING)).toBe(true);
    expect(log.filter((s) => s.flags & TCP_FLAG_FIN).length).toBe(2);
  });

  it('opens simultaneously when both sides connect to each other (RFC 9293 3.5)', async () => {
    const { p, log } = watchedPair();
    const a = p.tcpA.createEndpoint(4);
    const b = p.tcpB.createEndpoint(4);
    expect(a.bind({ address: p.addrA, port: 5000 })).toBeUndefined();
    expect(b.bind({ address: p.addrB, port: 6000 })).toBeUndefined();
    expect(a.connect({ address: p.addrB, port: 6000 })).toBe(TcpipErrors.connectStarted);
    expect(b.connect({ address: p.addrA, port: 5000 })).toBe(TcpipErrors.connectStarted);
    await settle(10);
    expect(a.state).toBe(TcpState.ESTABLISHED);
    expect(b.state).toBe(TcpState.ESTABLISHED);
    // Each side sent a bare SYN and then a SYN-ACK.
    for (const side of ['a', 'b'] as const) {
      const flags = log.filter((s) => s.from === side).map((s) => s.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK));
      expect(flags.slice(0, 2)).toEqual([TCP_FLAG_SYN, TCP_FLAG_SYN | TCP_FLAG_ACK]);
    }
    expect(a.write(new Uint8Array([1, 2, 3]))).toBe(3);
    await settle();
    const r = b.read(new Uint8Array(10));
    expect(isTcpipError(r) ? r : r.count).toBe(3);
  });

  it('answers an in-window RST or a SYN with a challenge ACK and resets only on an exact RST (RFC 5961)', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock });
    const { client, server } = await connect(p, clock);
    const cport = client.localPortNumber;
    const base = { sport: cport, dport: 80, ack: 0 };
    // RST inside the window but not at RCV.NXT.
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: (server.rcvNxt + 100) >>> 0, flags: TCP_FLAG_RST }));
    await settle();
    expect(server.state).toBe(TcpState.ESTABLISHED);
    expect(p.tcpB.stats.challengeAcks).toBe(1);
    const challenge = log.filter((s) => s.from === 'b').at(-1)!;
    expect(challenge.flags).toBe(TCP_FLAG_ACK);
    expect(challenge.ack).toBe(server.rcvNxt);
    // A second one within 500 ms gets no challenge ACK (per-connection limit, Linux's tcp_invalid_ratelimit): an
    // off-path attacker cannot drain the stack-wide budget through one connection and read it back (CVE-2016-5696).
    const sentBefore = log.filter((s) => s.from === 'b').length;
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: (server.rcvNxt + 200) >>> 0, flags: TCP_FLAG_RST }));
    await settle();
    expect(server.state).toBe(TcpState.ESTABLISHED);
    expect(p.tcpB.stats.challengeAcks).toBe(1);
    expect(p.tcpB.stats.challengeAcksSkipped).toBe(1);
    expect(log.filter((s) => s.from === 'b').length).toBe(sentBefore);
    clock.advance(500);
    // A SYN on an established connection.
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: 12345, flags: TCP_FLAG_SYN }));
    await settle();
    expect(server.state).toBe(TcpState.ESTABLISHED);
    expect(p.tcpB.stats.challengeAcks).toBe(2);
    // RST exactly at RCV.NXT resets.
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: server.rcvNxt, flags: TCP_FLAG_RST }));
    await settle();
    expect(server.state).toBe(TcpState.CLOSED);
    expect(server.read(new Uint8Array(4))).toBe(TcpipErrors.connectionReset);
    expect(server.readiness(EventMask.IN) & EventMask.HUP).toBeTruthy();
  });

  it('rate-limits ACKs for dropped segments without data to one per 500 ms per connection (no ACK loops)', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock });
    const { client, server } = await connect(p, clock);
    clock.advance(1000);
    const fromB = () => log.filter((s) => s.from === 'b').length;
    const base = { sport: client.localPortNumber, dport: 80, ack: server.sndNxt, flags: TCP_FLAG_ACK };
    const before = fromB();
    // Pure ACKs far outside the receive window: the first is answered (RFC 9293 3.10.7.4), the rest are not.
    for (let i = 0; i < 10; i++) inject(p, forge(p.addrA, p.addrB, { ...base, seq: (server.rcvNxt + 0x40000000 + i) >>> 0 }));
    await settle();
    expect(fromB()).toBe(before + 1);
    expect(p.tcpB.stats.outOfWindowAcksSkipped).toBe(9);
    // Out-of-window data is always ACKed: it cannot be part of an ACK loop.
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: (server.rcvNxt - 5000) >>> 0, payload: new Uint8Array(10) }));
    await settle();
    expect(fromB()).toBe(before + 2);
    clock.advance(500);
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: (server.rcvNxt + 0x40000000) >>> 0 }));
    await settle();
    expect(fromB()).toBe(before + 3);
    expect(server.state).toBe(TcpState.ESTABLISHED);
  });

  it('drops an old duplicate by its timestamp (RFC 7323 5 PAWS) and ACKs it', async () => {
    const { p, log } = watchedPair();
    const { client, server } = await connect(p);
    // A real segment first, so the server's TS.Recent is the client's current clock.
    client.write(new Uint8Array([1]));
    await settle();
    expect(server.read(new Uint8Array(4))).toEqual({ count: 1, total: 1 });
    const before = p.tcpB.stats.pawsRejected;
    const sentBefore = log.filter((s) => s.from === 'b').length;
    // Same connection, in-window sequence number, but a timestamp from 1000 ms in the past.
    const tsVal = ((server as unknown as { tsRecent: number }).tsRecent - 1000) >>> 0;
    inject(p, forge(p.addrA, p.addrB, {
      sport: client.localPortNumber, dport: 80, seq: server.rcvNxt, ack: server.sndNxt, flags: TCP_FLAG_ACK,
      ts: [tsVal, 0], payload: new Uint8Array([9, 9, 9]),
    }));
    await settle();
    expect(p.tcpB.stats.pawsRejected).toBe(before + 1);
    expect(server.read(new Uint8Array(4))).toBe(TcpipErrors.wouldBlock); // the data was not accepted
    expect(log.filter((s) => s.from === 'b').length).toBe(sentBefore + 1); // but ACKed (RFC 7323 5.3 R1)
  });

  it('takes no TS.Recent from a blind in-window RST or an ACK of unsent data (PAWS must not lock out the peer)', async () => {
    const { p } = watchedPair();
    const { client, server } = await connect(p);
    const tsRecent = () => (server as unknown as { tsRecent: number }).tsRecent;
    const before = tsRecent();
    const future = (before + 0x40000000) >>> 0;
    const base = { sport: client.localPortNumber, dport: 80 };
    // RFC 5961 3.2: an in-window RST that is not at RCV.NXT only earns a challenge ACK...
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: (server.rcvNxt + 100) >>> 0, ack: 0, flags: TCP_FLAG_RST, ts: [future, 0] }));
    // ...and RFC 5961 5.2: an ACK of data never sent is dropped (with an ACK).
    inject(p, forge(p.addrA, p.addrB, {
      ...base, seq: server.rcvNxt, ack: (server.sndNxt + 5000) >>> 0, flags: TCP_FLAG_ACK, ts: [future, 0],
      payload: new Uint8Array([7]),
    }));
    await settle();
    expect(server.state).toBe(TcpState.ESTABLISHED);
    expect(tsRecent()).toBe(before);
    // The real peer's next segment, with its own (older than `future`) clock, is still accepted.
    const pawsBefore = p.tcpB.stats.pawsRejected;
    client.write(new Uint8Array([1, 2, 3]));
    await settle();
    expect(server.read(new Uint8Array(8))).toEqual({ count: 3, total: 3 });
    expect(p.tcpB.stats.pawsRejected).toBe(pawsBefore);
  });

  it('clamps a peer MSS of 1 to 64 bytes and a window scale to 14 (no segment storm, no overflow)', async () => {
    // Stack A never opened this connection: keep its RSTs for our SYN-ACK and data off the wire.
    const { p, log } = watchedPair({ drop: (s) => s.from === 'a' && (s.flags & TCP_FLAG_RST) !== 0 });
    const listener = p.tcpB.createEndpoint(4);
    listener.bind({ address: p.addrB, port: 80 });
    listener.listen(8);
    const base = { sport: 40000, dport: 80 };
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: 1000, ack: 0, flags: TCP_FLAG_SYN, mss: 1, windowScale: 14 }));
    await settle();
    const synAck = log.find((s) => s.from === 'b' && s.flags === (TCP_FLAG_SYN | TCP_FLAG_ACK))!;
    expect(synAck.ack).toBe(1001);
    inject(p, forge(p.addrA, p.addrB, { ...base, seq: 1001, ack: (synAck.seq + 1) >>> 0, flags: TCP_FLAG_ACK, window: 0xffff }));
    await settle();
    const acc = listener.accept();
    if (isTcpipError(acc)) throw new Error(String(acc));
    const server = acc.endpoint as TcpEndpoint;
    expect(server.sndMss).toBe(64);
    expect(server.windowScaleSend).toBe(14);
    expect(server.sndWnd).toBe(0xffff * 2 ** 14);
    expect(server.write(new Uint8Array(2000))).toBe(2000);
    await settle();
    const data = log.filter((s) => s.from === 'b' && s.len > 0);
    expect(data.length).toBeGreaterThan(0);
    expect(Math.max(...data.map((s) => s.len))).toBe(64);
  });

  it('answers segments for unknown connections with RST per RFC 9293 3.10.7.1', async () => {
    const { p, log } = watchedPair();
    inject(p, forge(p.addrA, p.addrB, { sport: 1234, dport: 4321, seq: 1000, ack: 777, flags: TCP_FLAG_ACK }));
    inject(p, forge(p.addrA, p.addrB, { sport: 1234, dport: 4321, seq: 2000, ack: 0, flags: TCP_FLAG_SYN }));
    inject(p, forge(p.addrA, p.addrB, { sport: 1234, dport: 4321, seq: 3000, ack: 0, flags: TCP_FLAG_RST }));
    await settle();
    const rsts = log.filter((s) => s.from === 'b');
    expect(rsts.length).toBe(2);
    // With ACK: <SEQ=SEG.ACK><CTL=RST>. Without: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    expect([rsts[0]!.seq, rsts[0]!.flags]).toEqual([777, TCP_FLAG_RST]);
    expect([rsts[1]!.seq, rsts[1]!.ack, rsts[1]!.flags]).toEqual([0, 2001, TCP_FLAG_RST | TCP_FLAG_ACK]);
  });

  it('limits the accept queue to the backlog and completes waiting handshakes after accept()', async () => {
    const clock = new ManualClock();
    const { p } = watchedPair({ clock });
    const listener = p.tcpB.createEndpoint(4);
    listener.bind({ address: p.addrB, port: 80 });
    listener.listen(1); // Linux admits backlog + 1 = 2 connections to the accept queue
    const clients = [0, 1, 2].map(() => p.tcpA.createEndpoint(4));
    for (const c of clients) c.connect({ address: p.addrB, port: 80 });
    for (let i = 0; i < 10; i++) {
      await turn();
      clock.advance(1);
    }
    expect(listener.acceptQueueLength).toBe(2);
    expect(listener.synQueueLength).toBe(1); // its ACK was dropped: the child waits in SYN-RECEIVED
    expect(p.tcpB.stats.listenOverflows).toBe(1);
    expect(isTcpipError(listener.accept())).toBe(false);
    // The SYN-ACK retransmission (1 s initial RTO) re-elicits the ACK, which now fits.
    for (let t = 0; t < 1500; t += 50) {
      clock.advance(50);
      await settle(2);
    }
    expect(listener.acceptQueueLength).toBe(2);
    expect(clients.every((c) => c.state === TcpState.ESTABLISHED)).toBe(true);
  });

  it('falls back to SYN cookies when the SYN queue is full, and cookie connections work', async () => {
    const { p, log } = watchedPair({ drop: (s) => s.from === 'b' && (s.flags & TCP_FLAG_SYN) !== 0 && s.ack >= 5000 && s.ack < 6000 });
    const listener = p.tcpB.createEndpoint(4);
    listener.setSockOptInt('sendBufferSize', 300_000);
    listener.bind({ address: p.addrB, port: 80 });
    listener.listen(1);
    // Flood: 20 SYNs from ports that never answer (their SYN-ACKs are dropped on the wire).
    for (let i = 0; i < 20; i++) inject(p, forge(p.addrA, p.addrB, { sport: 20000 + i, dport: 80, seq: 4999 + i, ack: 0, flags: TCP_FLAG_SYN }));
    await settle();
    expect(listener.synQueueLength).toBe(8);
    expect(p.tcpB.stats.synCookiesSent).toBe(12);
    const client = p.tcpA.createEndpoint(4);
    client.connect({ address: p.addrB, port: 80 });
    await settle();
    expect(client.state).toBe(TcpState.ESTABLISHED);
    expect(p.tcpB.stats.synCookiesAccepted).toBe(1);
    const acc = listener.accept();
    if (isTcpipError(acc)) throw new Error(String(acc));
    const server = acc.endpoint as TcpEndpoint;
    // Window scale, SACK and timestamps survived the stateless handshake inside the echoed timestamp.
    expect(server.timestampsEnabled && server.sackOk).toBe(true);
    expect(server.windowScaleSend).toBe(client.windowScaleReceive);
    expect(server.windowScaleReceive).toBe(client.windowScaleSend);
    expect(server.sndMss).toBe(client.sndMss);
    // The listener's socket options carry over to the cookie child as to any accepted socket.
    expect(server.sendBuffer.capacity).toBe(listener.sendBuffer.capacity);
    expect(server.sendBuffer.capacity).not.toBe(p.tcpB.settings.sendBufferSize);
    const payload = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    let sent = 0;
    const got: Uint8Array[] = [];
    let gotLen = 0;
    const buf = new Uint8Array(65536);
    for (let i = 0; i < 200 && gotLen < payload.length; i++) {
      if (sent < payload.length) {
        const n = client.write(payload.subarray(sent));
        if (!isTcpipError(n)) sent += n;
      }
      await settle(2);
      const r = server.read(buf);
      if (!isTcpipError(r)) { got.push(buf.slice(0, r.count)); gotLen += r.count; }
    }
    expect(Buffer.concat(got).equals(Buffer.from(payload))).toBe(true);
    expect(log.some((s) => s.from === 'b' && s.flags === (TCP_FLAG_SYN | TCP_FLAG_ACK))).toBe(true);
  });

  it('checks no SYN cookie in an ACK to a listener that has not sent cookies lately (blind ACK floods)', async () => {
    const { p, log } = watchedPair();
    const listener = p.tcpB.createEndpoint(4);
    listener.bind({ address: p.addrB, port: 80 });
    listener.listen(8);
    for (let i = 0; i < 50; i++) {
      inject(p, forge(p.addrA, p.addrB, { sport: 30000 + i, dport: 80, seq: 1000 + i, ack: 0x10000000 + i * 77777, flags: TCP_FLAG_ACK }));
    }
    await settle();
    expect(p.tcpB.stats.synCookiesFailed).toBe(0); // not even tried: no cookie can be outstanding
    expect(p.tcpB.stats.synCookiesAccepted).toBe(0);
    expect(listener.acceptQueueLength).toBe(0);
    // Each stray ACK still gets its RST (RFC 9293 3.10.7.2).
    expect(log.filter((s) => s.from === 'b' && (s.flags & TCP_FLAG_RST) !== 0).length).toBe(50);
  });

  it('gives up a keepalive-probed connection whose peer vanished (tcp(7) TCP_KEEPCNT)', async () => {
    const clock = new ManualClock();
    let blackhole = false;
    const { p, log } = watchedPair({ clock, drop: (s) => blackhole && s.from === 'b' });
    const { client } = await connect(p, clock);
    client.setSockOptInt('keepAlive', 1);
    client.setSockOptInt('keepAliveIdle', 10);
    client.setSockOptInt('keepAliveInterval', 2);
    client.setSockOptInt('keepAliveCount', 3);
    blackhole = true;
    for (let t = 0; t < 20_000; t += 500) {
      clock.advance(500);
      await settle(1);
    }
    const probes = log.filter((s) => s.from === 'a' && s.flags === TCP_FLAG_ACK && s.len === 0 && s.seq === ((client.sndNxt - 1) >>> 0));
    expect(probes.length).toBe(3);
    expect(probes.every((s) => s.ts)).toBe(true); // RFC 7323 3.2
    expect(probes[0]!.at).toBeGreaterThanOrEqual(10_000);
    expect(client.state).toBe(TcpState.CLOSED);
    expect(client.lastError()).toBe(TcpipErrors.timeout);
  });

  it('sends one new segment as a tail loss probe, not everything the peer window allows (RFC 8985 7.3)', async () => {
    const clock = new ManualClock();
    let ackHole = false;
    const { p, log } = watchedPair({ clock, drop: (s) => ackHole && s.from === 'b' });
    const { client, server } = await connect(p, clock);
    client.write(new Uint8Array(10));
    await settle();
    clock.advance(20);
    await settle();
    server.read(new Uint8Array(10));
    ackHole = true; // from now on no ACK reaches the sender
    expect(client.write(new Uint8Array(40 * 1448))).toBe(40 * 1448);
    await settle();
    const burst = log.filter((s) => s.from === 'a' && s.len > 0).length;
    expect(burst).toBeLessThan(40); // cwnd-limited: data is left for the probe to take from
    for (let t = 0; t < 150 && p.tcpA.stats.tailLossProbes === 0; t += 5) {
      clock.advance(5);
      await settle(3);
    }
    expect(p.tcpA.stats.tailLossProbes).toBe(1);
    expect(p.tcpA.stats.timeouts).toBe(0);
    expect(log.filter((s) => s.from === 'a' && s.len > 0).length).toBe(burst + 1);
  });

  it('repairs a tail loss with a tail loss probe instead of an RTO (RFC 8985 7)', async () => {
    const clock = new ManualClock();
    let dataSegs = 0;
    const { p, log } = watchedPair({
      clock,
      drop: (s) => {
        if (s.from !== 'a' || s.len === 0) return false;
        dataSegs++;
        return dataSegs === 5 || dataSegs === 6; // the last two segments of the burst, first transmission only
      },
    });
    const { client, server } = await connect(p, clock);
    // Give the connection an RTT estimate of about 20 ms so the probe timeout (2*SRTT) is well below the RTO.
    client.write(new Uint8Array(10));
    await settle();
    clock.advance(20);
    await settle();
    server.read(new Uint8Array(10));
    dataSegs = 0;
    log.length = 0;
    expect(client.write(new Uint8Array(6 * 1448).fill(1))).toBe(6 * 1448);
    await settle();
    const sentAt = clock.nowMs();
    for (let t = 0; t < 150 && client.sndUna !== client.sndNxt; t += 5) {
      clock.advance(5);
      await settle(3);
    }
    expect(client.sndUna).toBe(client.sndNxt);
    expect(p.tcpA.stats.tailLossProbes).toBeGreaterThanOrEqual(1);
    expect(p.tcpA.stats.timeouts).toBe(0);
    const probe = log.find((s) => s.from === 'a' && s.len > 0 && !s.dropped && s.at > sentAt)!;
    expect(probe.at - sentAt).toBeLessThan(client.rtt.rto());
    const buf = new Uint8Array(10 * 1448);
    const r = server.read(buf);
    expect(isTcpipError(r) ? r : r.count).toBe(6 * 1448);
  });

  it('ACKs the first segments at once (quick-ACK mode), then delays the ACK of a lone segment (RFC 9293 3.8.6.3)', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock });
    const { client } = await connect(p, clock);
    client.setSockOptInt('noDelay', 1);
    await settle();
    for (let i = 0; i < 16; i++) {
      log.length = 0;
      client.write(new Uint8Array(10));
      await settle();
      expect(log.filter((s) => s.from === 'b').length).toBe(1); // immediate ACK
      clock.advance(1);
    }
    log.length = 0;
    client.write(new Uint8Array(100));
    await settle();
    const t0 = clock.nowMs();
    expect(log.filter((s) => s.from === 'b').length).toBe(0);
    clock.advance(39);
    await settle();
    expect(log.filter((s) => s.from === 'b').length).toBe(0);
    clock.advance(2);
    await settle();
    const acks = log.filter((s) => s.from === 'b');
    expect(acks.length).toBe(1);
    expect(acks[0]!.at - t0).toBeGreaterThanOrEqual(40);
    expect(acks[0]!.ack).toBe(client.sndNxt);
  });

  it('resets on close with SO_LINGER 0 and on close with unread data (RFC 9293 3.10.4, RFC 2525 2.17)', async () => {
    const { p, log } = watchedPair();
    let { client, server } = await connect(p);
    expect(client.setSockOpt({ kind: 'linger', enabled: true, seconds: 0 })).toBeUndefined();
    client.close();
    await settle();
    expect(log.some((s) => s.from === 'a' && (s.flags & TCP_FLAG_RST) !== 0)).toBe(true);
    expect(server.read(new Uint8Array(4))).toBe(TcpipErrors.connectionReset);
    pair!.close();
    ({ client, server } = await connect(watchedPair().p));
    client.write(new Uint8Array([1, 2, 3]));
    await settle();
    server.close(); // three bytes never read
    await settle();
    expect(client.state).toBe(TcpState.CLOSED);
    expect(client.read(new Uint8Array(4))).toBe(TcpipErrors.connectionReset);
  });

  it('survives thousands of random segments aimed at a live connection and a listener', async () => {
    const { p } = watchedPair();
    const { client, server } = await connect(p);
    let x = 99;
    const rand = () => {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      return x;
    };
    const iterations = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 3000);
    for (let i = 0; i < iterations; i++) {
      const near = rand() & 1;
      const optLen = (rand() % 11) * 4;
      const payload = rand() % 64;
      const tcpLen = 20 + optLen + payload;
      const tcp = new Uint8Array(tcpLen);
      for (let k = 0; k < tcpLen; k++) tcp[k] = rand() & 0xff;
      // Half aim at the live connection with nearby sequence numbers, half at the listener port.
      const dport = 80;
      const sport = near ? client.localPortNumber : 1024 + (rand() % 60000);
      writeTcpHeader(tcp, 0, {
        srcPort: sport,
        dstPort: dport,
        seq: near ? (server.rcvNxt + (rand() % 4096) - 2048) >>> 0 : rand(),
        ack: near ? (server.sndNxt + (rand() % 4096) - 2048) >>> 0 : rand(),
        flags: rand() & 0xff & ~(near ? TCP_FLAG_RST : 0),
        window: rand() & 0xffff,
      });
      tcp[12] = (((20 + optLen) >>> 2) << 4) | (tcp[12]! & 0x0f);
      const sum = tcpChecksum(p.addrA.bytes, p.addrB.bytes, tcp, 0, tcpLen);
      tcp[16] = sum >>> 8;
      tcp[17] = sum & 0xff;
      const pkt = new Uint8Array(20 + tcpLen);
      new IPv4Header(pkt, 0, 20).encode({ totalLength: 20 + tcpLen, protocol: 6, src: p.addrA.bytes, dst: p.addrB.bytes, ttl: 64 });
      pkt.set(tcp, 20);
      p.channel.b.injectInbound(pkt, 0x0800);
      if (i % 100 === 99) {
        p.channel.b.endInboundBatch();
        await turn();
      }
    }
    await settle();
    // The stack still works: a fresh connection carries data.
    const c2 = p.tcpA.createEndpoint(4);
    c2.connect({ address: p.addrB, port: 80 });
    await settle(10);
    expect(c2.state).toBe(TcpState.ESTABLISHED);
    expect(c2.write(new Uint8Array([42]))).toBe(1);
    await settle();
    // Every injected segment reached TCP: parsed and processed, or counted malformed (random option bytes).
    const st = p.tcpB.stats;
    expect(st.segmentsReceived + st.malformedSegments).toBeGreaterThanOrEqual(iterations);
    expect(st.segmentsReceived).toBeGreaterThan(iterations / 20);
  });

  it('stops every connection timer when the stack closes', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock, drop: (s) => s.from === 'a' && s.len > 0 });
    const { client } = await connect(p, clock);
    client.write(new Uint8Array(500)); // lost on the wire: the RTO timer is armed
    await settle();
    const before = p.tcpA.stats.segmentsSent;
    let hup = 0;
    client.waiterQueue.subscribe(EventMask.HUP, () => hup++);
    p.a.close();
    expect(client.state).toBe(TcpState.CLOSED);
    expect(hup).toBe(1);
    clock.advance(60_000);
    await settle();
    expect(p.tcpA.stats.segmentsSent).toBe(before); // no retransmission was even attempted
    expect(log.filter((s) => s.from === 'a' && s.len > 0).length).toBe(1);
  });

  it('holds partial segments while TCP_CORK is set and flushes on uncork (tcp(7))', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock });
    const { client } = await connect(p, clock);
    client.setSockOptInt('noDelay', 1); // cork wins over nodelay for partial segments
    client.setSockOptInt('cork', 1);
    client.write(new Uint8Array(100));
    await settle();
    expect(log.filter((s) => s.from === 'a' && s.len > 0).length).toBe(0);
    client.write(new Uint8Array(1448 * 2)); // two full segments go out; 100 bytes stay behind
    await settle();
    expect(log.filter((s) => s.from === 'a' && s.len > 0).map((s) => s.len)).toEqual([1448, 1448]);
    client.setSockOptInt('cork', 0);
    await settle();
    expect(log.filter((s) => s.from === 'a' && s.len > 0).map((s) => s.len)).toEqual([1448, 1448, 100]);
  });

  it('selects congestion control per socket with TCP_CONGESTION and rejects unknown names', async () => {
    const { p } = watchedPair();
    const { client } = await connect(p);
    const cc = client.getSockOpt('congestionControl');
    expect(isTcpipError(cc) ? cc : cc.name).toBe('cubic');
    expect(client.setSockOpt({ kind: 'congestionControl', name: 'reno' })).toBeUndefined();
    expect(client.setSockOpt({ kind: 'congestionControl', name: 'bbr9' })).toBe(TcpipErrors.noSuchFile);
    const e = p.tcpA.createEndpoint(4);
    expect(e.setSockOpt({ kind: 'congestionControl', name: 'reno' })).toBeUndefined();
    const got = e.getSockOpt('congestionControl');
    expect(isTcpipError(got) ? got : got.name).toBe('reno');
  });

  it('honours SO_RCVLOWAT for readability and TCP_WINDOW_CLAMP for the advertised window', async () => {
    const { p } = watchedPair();
    const { client, server } = await connect(p, undefined, (l) => {
      // Inherited by accepted connections, and applied from the SYN-ACK on (the window never shrinks).
      expect(l.setSockOptInt('windowClamp', 20_000)).toBeUndefined();
    });
    expect(server.getSockOptInt('windowClamp')).toBe(20_000);
    expect(server.setSockOptInt('receiveLowWatermark', 1000)).toBeUndefined();
    client.setSockOptInt('noDelay', 1);
    client.write(new Uint8Array(500));
    await settle();
    expect(server.readiness(EventMask.IN)).toBe(0);
    expect(server.getSockOptInt('receiveQueueSize')).toBe(500);
    client.write(new Uint8Array(600));
    await settle();
    expect(server.readiness(EventMask.IN) & EventMask.IN).toBeTruthy();
    // The next ACK announces at most the clamp.
    client.write(new Uint8Array(100));
    await settle();
    await new Promise((r) => setTimeout(r, 60)); // delayed ACK
    expect(client.sndWnd).toBeLessThanOrEqual(20_000);
    expect(client.sndWnd).toBeGreaterThan(10_000);
  });

  it('shrinks segments after an ICMP "packet too big" (RFC 1191 path MTU discovery)', async () => {
    const { p, log } = watchedPair();
    const { client, server } = await connect(p);
    client.handleError(
      { kind: 'packetTooBig', mtu: 1000, icmpType: 3, icmpCode: 4, reporter: p.addrB },
      new NetworkReceiveInfo(),
      quotedTcpHeader(client.sndNxt),
    );
    expect(client.sndMss).toBe(1000 - 20 - 20 - 12);
    client.write(new Uint8Array(10_000));
    await settle(10);
    const sizes = log.filter((s) => s.from === 'a' && s.len > 0).map((s) => s.len);
    expect(Math.max(...sizes)).toBe(948);
    const r = server.read(new Uint8Array(20_000));
    expect(isTcpipError(r) ? r : r.count).toBe(10_000);
  });

  it('ignores ICMP errors quoting a sequence number not in flight (RFC 5927 4.1: blind ICMP attacks)', async () => {
    const { p } = watchedPair();
    const { client } = await connect(p);
    const mss = client.sndMss;
    const outside = (client.sndNxt + 100_000) >>> 0;
    client.handleError(
      { kind: 'packetTooBig', mtu: 576, icmpType: 3, icmpCode: 4, reporter: p.addrB },
      new NetworkReceiveInfo(),
      quotedTcpHeader(outside),
    );
    expect(client.sndMss).toBe(mss);
    expect(p.tcpA.stats.outOfWindowIcmps).toBe(1);
    // A connection attempt survives a forged port unreachable with a wrong sequence number, and only a hard error
    // quoting its SYN's sequence number aborts it (RFC 1122 4.2.3.9).
    const attempt = p.tcpA.createEndpoint(4);
    expect(attempt.connect({ address: p.addrB, port: 81 })).toBe(TcpipErrors.connectStarted);
    const unreachable = { kind: 'portUnreachable', mtu: 0, icmpType: 3, icmpCode: 3, reporter: p.addrB } as const;
    attempt.handleError(unreachable, new NetworkReceiveInfo(), quotedTcpHeader((attempt.sndUna + 7777) >>> 0));
    expect(attempt.state).toBe(TcpState.SYN_SENT);
    attempt.handleError(unreachable, new NetworkReceiveInfo(), quotedTcpHeader(attempt.sndUna));
    expect(attempt.state).toBe(TcpState.CLOSED);
    attempt.close();
  });

  it('resets a closed connection whose data is still unsent when the SO_LINGER time runs out', async () => {
    const clock = new ManualClock();
    let blackhole = false;
    const { p, log } = watchedPair({ clock, drop: (s) => blackhole && s.from === 'a' && (s.flags & TCP_FLAG_RST) === 0 });
    const { client } = await connect(p, clock);
    client.setSockOpt({ kind: 'linger', enabled: true, seconds: 2 });
    blackhole = true;
    client.write(new Uint8Array(1000));
    await settle();
    client.close();
    clock.advance(1900);
    await settle();
    expect(client.state).toBe(TcpState.FIN_WAIT1);
    clock.advance(200);
    await settle();
    expect(client.state).toBe(TcpState.CLOSED);
    expect(log.some((s) => s.from === 'a' && (s.flags & TCP_FLAG_RST) !== 0)).toBe(true);
  });

  it('sends the tail of a response behind a full segment at once (Minshall variant of Nagle, as Linux)', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock });
    const { client } = await connect(p, clock);
    // Exhaust quick-ACK mode on the receiver so its ACKs are delayed, then write 1.5 segments in one call.
    for (let i = 0; i < 16; i++) {
      client.write(new Uint8Array(1448));
      await settle();
      clock.advance(1);
    }
    log.length = 0;
    client.write(new Uint8Array(1448 + 500));
    await settle();
    // Both segments leave without waiting for an ACK (plain Nagle would hold the 500 bytes behind the first).
    expect(log.filter((s) => s.from === 'a' && s.len > 0).map((s) => s.len)).toEqual([1448, 500]);
    clock.advance(50);
    await settle();
    // A lone small segment whose ACK the receiver delays holds the next small write until that ACK.
    log.length = 0;
    client.write(new Uint8Array(500));
    await settle();
    client.write(new Uint8Array(10));
    await settle();
    expect(log.filter((s) => s.from === 'a' && s.len > 0).map((s) => s.len)).toEqual([500]);
    clock.advance(50); // the delayed ACK releases it
    await settle();
    expect(log.filter((s) => s.from === 'a' && s.len > 0).map((s) => s.len)).toEqual([500, 10]);
  });

  it('sends with the IP_TTL and IP_TOS of the socket', async () => {
    const { p, log } = watchedPair();
    const { client } = await connect(p);
    expect(log.at(-1)!.ttl).toBe(64);
    expect(client.setSockOptInt('ttl', 7)).toBeUndefined();
    expect(client.setSockOptInt('tos', 0x10)).toBeUndefined();
    client.write(new Uint8Array(5));
    await settle();
    const seg = log.filter((s) => s.from === 'a' && s.len === 5).at(-1)!;
    expect([seg.ttl, seg.tos]).toEqual([7, 0x10]);
  });

  it('gives up a connect after TCP_SYNCNT retransmissions with backoff (ETIMEDOUT)', async () => {
    const clock = new ManualClock();
    const { p, log } = watchedPair({ clock, drop: (s) => s.from === 'a' });
    const client = p.tcpA.createEndpoint(4);
    expect(client.setSockOptInt('synCount', 3)).toBeUndefined();
    client.connect({ address: p.addrB, port: 80 });
    for (let t = 0; t < 20_000; t += 100) {
      clock.advance(100);
      await Promise.resolve();
    }
    const syns = log.filter((s) => s.from === 'a' && s.flags === TCP_FLAG_SYN).map((s) => s.at);
    // Initial SYN plus three retransmissions at 1, 2 and 4 s intervals (RFC 6298 2.1 and 5.5), then 8 s to give up.
    expect(syns.slice(1).map((t, i) => t - syns[i]!)).toEqual([1000, 2000, 4000]);
    expect(client.state).toBe(TcpState.CLOSED);
    expect(client.lastError()).toBe(TcpipErrors.timeout);
  });

  it('coalesces small writes with Nagle and sends them at once with TCP_NODELAY', async () => {
    const { p, log } = watchedPair();
    const { client } = await connect(p);
    for (let i = 0; i < 10; i++) client.write(new Uint8Array([i]));
    await settle(10);
    const nagled = log.filter((s) => s.from === 'a' && s.len > 0).length;
    expect(nagled).toBe(1); // all ten bytes in one segment (written in one turn)
    log.length = 0;
    client.setSockOptInt('noDelay', 1);
    client.write(new Uint8Array([1]));
    await Promise.resolve();
    client.write(new Uint8Array([2]));
    await settle(10);
    expect(log.filter((s) => s.from === 'a' && s.len > 0).length).toBe(2);
    client.shutdown(ShutdownFlags.WRITE);
  });
});

// WorkerTcpHost on its own: route choice from a RouteSnapshot (as Stack.findRoute), path MTU, and the FRAME records
// its routes write into TO_STACK (wire.ts).

import { describe, expect, it } from 'vitest';
import { GsoType, PacketBuffer } from '../buffer/packet_buffer.js';
import { SharedFrameRing } from '../buffer/shared_ring.js';
import { Address } from '../stack/address.js';
import { ManualClock } from '../stack/clock.js';
import { TcpipErrors, isTcpipError } from '../stack/tcpip_error.js';
import type { TcpRoute } from '../transport/tcp/host.js';
import { FRAME_HEADER, FrameFlags, ToStack, readU32, type RouteSnapshot } from './wire.js';
import { WorkerTcpHost } from './worker_tcp_host.js';

const SNAPSHOT: RouteSnapshot = {
  nics: [
    { id: 1, mtu: 65536, linkHeaderLength: 0, gsoMaxSize: 0, addresses: ['127.0.0.1/8', '::1/128'] },
    { id: 2, mtu: 1500, linkHeaderLength: 14, gsoMaxSize: 65536, addresses: ['10.0.0.2/24', '192.168.5.2/24', 'fd00::2/64'] },
  ],
  routes: [
    { destination: '127.0.0.0/8', nic: 1 },
    { destination: '10.0.0.0/24', nic: 2 },
    { destination: '192.168.5.0/24', nic: 2 },
    { destination: '0.0.0.0/0', nic: 2, gateway: '192.168.5.1' },
    { destination: 'fd00::/64', nic: 2 },
  ],
};

const A = (s: string) => Address.parse(s);

function route(host: WorkerTcpHost, nic: number, local: string | undefined, remote: string): TcpRoute {
  const r = host.findRoute(nic, local === undefined ? undefined : A(local), A(remote));
  if (isTcpipError(r)) throw new Error(`no route: ${r.code}`);
  return r;
}

describe('WorkerTcpHost', () => {
  it('picks routes as Stack.findRoute does: local delivery, longest prefix, source address, errors', () => {
    const host = new WorkerTcpHost(SharedFrameRing.create(4096), SNAPSHOT, new ManualClock());
    // Local: the whole loopback subnet and the NICs' own addresses.
    const lo = route(host, 0, undefined, '127.0.0.5');
    expect([lo.isLocal, lo.nic, lo.localAddress.toString(), lo.maxPayload]).toEqual([true, 1, '127.0.0.5', 65536 - 20]);
    expect(route(host, 0, undefined, '10.0.0.2').isLocal).toBe(true);
    expect(host.isLocalAddress(A('127.9.9.9'))).toBe(true);
    expect(host.isLocalAddress(A('10.0.0.3'))).toBe(false);
    // On-link, and the default route: the source is the address on the gateway's subnet.
    const onLink = route(host, 0, undefined, '10.0.0.9');
    expect([onLink.isLocal, onLink.nic, onLink.localAddress.toString(), onLink.maxPayload]).toEqual([false, 2, '10.0.0.2', 1480]);
    expect(onLink.maxHeaderLength).toBeGreaterThanOrEqual(FRAME_HEADER);
    expect(route(host, 0, undefined, '8.8.8.8').localAddress.toString()).toBe('192.168.5.2');
    const v6 = route(host, 0, undefined, 'fd00::9');
    expect([v6.family, v6.localAddress.toString(), v6.maxPayload]).toEqual([6, 'fd00::2', 1460]);
    // Errors.
    expect(host.findRoute(0, undefined, A('2001:db8::1'))).toBe(TcpipErrors.noRoute);
    expect(host.findRoute(1, undefined, A('10.0.0.9'))).toBe(TcpipErrors.noRoute); // bound to the loopback NIC
    expect(host.findRoute(0, A('10.0.0.77'), A('10.0.0.9'))).toBe(TcpipErrors.badLocalAddress);
    expect(host.findRoute(0, A('fd00::2'), A('10.0.0.9'))).toBe(TcpipErrors.badLocalAddress);
    expect(host.findRoute(0, undefined, A('224.0.0.1'))).toBe(TcpipErrors.networkUnreachable);
    expect(host.gsoMaxSize(2)).toBe(65536);
    expect(host.gsoMaxSize(9)).toBe(0);
    // A route to a NIC the snapshot does not list.
    host.setRoutes({ nics: SNAPSHOT.nics, routes: [{ destination: '172.16.0.0/12', nic: 7 }] });
    expect(host.findRoute(0, undefined, A('172.16.1.1'))).toBe(TcpipErrors.networkUnreachable);
    // A malformed snapshot throws and leaves the current one.
    expect(() => host.setRoutes({ nics: [{ id: -1 }], routes: [] } as unknown as RouteSnapshot)).toThrow(/EINVAL/);
    expect(host.findRoute(0, undefined, A('172.16.1.1'))).toBe(TcpipErrors.networkUnreachable);
  });

  it('path MTU: lowered by updatePathMtu (never raised, never under the family minimum), forgotten after 10 minutes', () => {
    const clock = new ManualClock();
    const host = new WorkerTcpHost(SharedFrameRing.create(4096), SNAPSHOT, clock);
    const r = route(host, 0, undefined, '10.0.0.9');
    expect(r.maxPayload).toBe(1480);
    host.updatePathMtu(A('10.0.0.9'), 1200);
    expect(r.maxPayload).toBe(1180); // the live route follows the table
    host.updatePathMtu(A('10.0.0.9'), 1400);
    expect(r.maxPayload).toBe(1180);
    host.updatePathMtu(A('10.0.0.9'), 40);
    expect(r.maxPayload).toBe(1180);
    host.updatePathMtu(A('fd00::9'), 1000); // under IPv6's 1280
    expect(host.pathMtu(A('fd00::9'))).toBeUndefined();
    clock.advance(10 * 60 * 1000);
    expect(r.maxPayload).toBe(1480);
    // A new snapshot with a smaller link MTU reaches the live route.
    host.setRoutes({ nics: SNAPSHOT.nics.map((n) => (n.id === 2 ? { ...n, mtu: 1400 } : n)), routes: SNAPSHOT.routes });
    expect(r.maxPayload).toBe(1380);
  });

  it('writes FRAME records (header fields, GSO, DF), refuses DF segments over the path MTU, drops when the ring is full', () => {
    const ring = SharedFrameRing.create(8192);
    const host = new WorkerTcpHost(ring, SNAPSHOT, new ManualClock());
    const r = route(host, 0, undefined, '10.0.0.9');
    const seg = (n: number) => {
      const pkt = r.allocatePacket ? r.allocatePacket(n) : PacketBuffer.allocate(n, r.maxHeaderLength);
      pkt.buf.fill(0xab, pkt.head, pkt.tail);
      pkt.transportHeader = pkt.head;
      return pkt;
    };
    expect(r.writePacket(seg(100), { protocol: 6, ttl: 7, tos: 0x10, dontFragment: true })).toBeUndefined();
    let f = ring.peek()!;
    expect(f.meta).toBe(ToStack.FRAME);
    expect(f.length).toBe(FRAME_HEADER + 100);
    const b = f.bytes.subarray(f.offset, f.offset + f.length);
    expect([b[0], b[1], b[2], b[3], readU32(b, 4)]).toEqual([4, FrameFlags.DONT_FRAGMENT, 7, 0x10, 2]);
    expect(Address.fromBytes(b.slice(8, 12)).toString()).toBe('10.0.0.2');
    expect(Address.fromBytes(b.slice(24, 28)).toString()).toBe('10.0.0.9');
    expect(b.subarray(FRAME_HEADER).every((x) => x === 0xab)).toBe(true);
    ring.release();
    // A GSO super-segment.
    const big = seg(4000);
    big.gso = { type: GsoType.TCPV4, size: 1448, needsChecksum: true };
    expect(r.writePacket(big, { protocol: 6, ttl: 0, tos: 0, dontFragment: true })).toBeUndefined();
    f = ring.peek()!;
    const g = f.bytes.subarray(f.offset, f.offset + f.length);
    expect(g[1]).toBe(FrameFlags.DONT_FRAGMENT | FrameFlags.HAS_GSO | FrameFlags.NEEDS_CHECKSUM);
    expect([g[40], g[42]! | (g[43]! << 8)]).toEqual([GsoType.TCPV4, 1448]);
    ring.release();
    // DF and over the MTU without GSO: messageTooLong, nothing written.
    expect(r.writePacket(seg(1481), { protocol: 6, ttl: 0, tos: 0, dontFragment: true })).toBe(TcpipErrors.messageTooLong);
    expect(host.stats.framesOverMtu).toBe(1);
    // Fill the ring: the rest is dropped and counted, never an error TCP would act on.
    for (let i = 0; i < 20; i++) expect(r.writePacket(seg(1000), { protocol: 6, ttl: 0, tos: 0, dontFragment: true })).toBeUndefined();
    expect(host.stats.framesDropped).toBeGreaterThan(10);
    expect(host.stats.framesSent + host.stats.framesDropped).toBe(22);
  });
});

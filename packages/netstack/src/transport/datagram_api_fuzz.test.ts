// Hostile syscall arguments: random sequences of socket calls with random (often invalid) arguments on UDP, ping
// and raw endpoints must return values or TcpipErrors, never throw, and leave the stack working.
import { describe, expect, it } from 'vitest';
import { createChannelPair } from '../link/channel.js';
import { arpProtocol } from '../network/arp/arp.js';
import { ipv4Protocol } from '../network/ipv4/ipv4.js';
import { ipv6Protocol } from '../network/ipv6/ipv6.js';
import { Address } from '../stack/address.js';
import type { Endpoint, IntSockOpt } from '../stack/endpoint.js';
import { Stack } from '../stack/stack.js';
import { TcpipError } from '../stack/tcpip_error.js';
import { WaiterQueue } from '../waiter/waiter_queue.js';
import { icmpv4Protocol, icmpv6Protocol } from './icmp/icmp.js';
import { rawEndpointFactory } from './raw/raw.js';
import { udpProtocol } from './udp/udp.js';

const ITERATIONS = Number(process.env.TSVISOR_FUZZ_ITERATIONS ?? 5000);

const ADDRS = ['0.0.0.0', '10.8.0.1', '10.8.0.2', '10.8.0.255', '255.255.255.255', '127.0.0.1', '239.1.1.1', '8.8.8.8', '::', '::1', 'fd08::1', 'fd08::2', 'ff02::1', 'ff15::9', '::ffff:10.8.0.2', 'fe80::1'];
const PORTS = [0, 1, 7, 53, 65535, 65536, -1, 1.5, Number.NaN, 40000];
const OPTS: IntSockOpt[] = ['reuseAddress', 'reusePort', 'broadcast', 'receiveBufferSize', 'sendBufferSize', 'ttl', 'tos', 'v6Only', 'multicastTtl', 'multicastLoop', 'bindToDevice', 'headerIncluded', 'receiveErrors', 'ipv6HopLimit', 'mtu', 'receiveQueueSize', 'noDelay'];
const VALUES = [0, 1, -1, 255, 256, 1 << 30, -(1 << 30), 0.5, Number.NaN, 7];

describe('datagram endpoints under random calls', () => {
  it(`never throw over ${ITERATIONS} calls`, async () => {
    const link = createChannelPair();
    const mk = () =>
      new Stack({
        networkProtocols: [ipv4Protocol(), ipv6Protocol(), arpProtocol()],
        transportProtocols: [udpProtocol(), icmpv4Protocol(), icmpv6Protocol()],
        rawFactory: rawEndpointFactory,
      });
    const a = mk();
    const b = mk();
    a.createNIC(1, link.a);
    b.createNIC(1, link.b);
    a.addAddress(1, '10.8.0.1/24');
    b.addAddress(1, '10.8.0.2/24');
    a.addAddress(1, 'fd08::1/64');
    b.addAddress(1, 'fd08::2/64');
    let x = 99;
    const r = (n: number) => {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      return x % n;
    };
    const pick = <T>(xs: readonly T[]) => xs[r(xs.length)]!;
    const eps: Endpoint[] = [];
    const make = (): Endpoint | TcpipError => {
      const s = pick([a, b]);
      const fam = pick([4, 6] as const);
      switch (r(5)) {
        case 0: return s.socket(fam, 2, 0, new WaiterQueue());
        case 1: return s.socket(fam, 2, fam === 4 ? 1 : 58, new WaiterQueue());
        case 2: return s.socket(fam, 3, pick([1, 17, 58, 255, 0, 300]), new WaiterQueue());
        case 3: return s.socket(fam, pick([1, 2, 3, 5]), pick([0, 6, 17, 1]), new WaiterQueue());
        default: return s.socket(fam, 2, 17, new WaiterQueue());
      }
    };
    const buf = new Uint8Array(2000);
    for (let i = 0; i < ITERATIONS; i++) {
      if (eps.length < 3 || r(10) === 0) {
        const e = make();
        if (!(e instanceof TcpipError)) eps.push(e);
        continue;
      }
      const ep = pick(eps);
      const addr = { address: Address.parse(pick(ADDRS)), port: pick(PORTS), nic: pick([undefined, 0, 1, 9]) };
      const data = buf.subarray(0, pick([0, 1, 8, 100, 1500, 2000]));
      if (data.length > 0) data[0] = pick([8, 128, 0x45, 0x60, 0]);
      switch (r(12)) {
        case 0: ep.bind(addr); break;
        case 1: ep.connect(addr); break;
        case 2: ep.disconnect(); break;
        case 3: ep.write(data, { to: r(2) ? addr : undefined, ttl: r(2) ? pick(VALUES) : undefined, sourceAddress: r(4) === 0 ? Address.parse(pick(ADDRS)) : undefined }); break;
        case 4: ep.read(buf, { peek: r(2) === 0, needRemoteAddress: true, errorQueue: r(3) === 0 }); break;
        case 5: ep.shutdown(r(4)); break;
        case 6: ep.setSockOptInt(pick(OPTS), pick(VALUES)); break;
        case 7: ep.getSockOptInt(pick(OPTS)); break;
        case 8: ep.setSockOpt({ kind: pick(['addMembership', 'dropMembership'] as const), group: Address.parse(pick(ADDRS)), nic: pick([0, 1, 5]) }); break;
        case 9: ep.readiness(0xffff); ep.getLocalAddress(); ep.getRemoteAddress(); ep.lastError(); break;
        case 10: ep.listen(5); ep.accept(); break;
        default:
          if (r(8) === 0) {
            ep.close();
            eps.splice(eps.indexOf(ep), 1);
          }
      }
      if (i % 200 === 0) await new Promise((res) => setImmediate(res));
    }
    for (const e of eps) e.close();
    // Out-of-range per-message TTLs are refused rather than truncated into the header.
    const t = a.socket(4, 2, 0, new WaiterQueue()) as Endpoint;
    expect(t.write(Uint8Array.of(1), { to: { address: Address.parse('10.8.0.2'), port: 9 }, ttl: 256 })).toMatchObject({ code: 'InvalidOptionValue' });
    expect(t.write(Uint8Array.of(1), { to: { address: Address.parse('10.8.0.2'), port: 9 }, tos: -3 })).toMatchObject({ code: 'InvalidOptionValue' });
    // Still working afterwards: a fresh pair of sockets exchanges a datagram.
    const s = b.socket(4, 2, 0, new WaiterQueue()) as Endpoint;
    expect(s.bind({ address: Address.parse('0.0.0.0'), port: 31000 })).toBeUndefined();
    const c = a.socket(4, 2, 0, new WaiterQueue()) as Endpoint;
    expect(c.write(Uint8Array.of(1), { to: { address: Address.parse('10.8.0.2'), port: 31000 } })).toBe(1);
    let got: unknown = TcpipError;
    for (let i = 0; i < 100; i++) {
      await new Promise((res) => setImmediate(res));
      got = s.read(buf);
      if (!(got instanceof TcpipError)) break;
    }
    expect(got).toMatchObject({ count: 1 });
    a.close();
    b.close();
    link.close();
  });
});

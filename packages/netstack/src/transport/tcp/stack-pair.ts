// Two Stacks joined by an in-memory channel link (link/channel.ts), each with IPv4, IPv6 and TCP: the fixture
// TCP's tests use, also handy for embedding experiments. Both stacks have 10.0.0.1 / 10.0.0.2 on a /24 and
// fd00::1 / fd00::2 on a /64; addrA/addrB are the pair of the chosen family (default 4).

import { ChannelPair, type ChannelImpairments, type ChannelOptions } from '../../link/channel.js';
import { ipv4Protocol } from '../../network/ipv4/ipv4.js';
import { ipv6Protocol } from '../../network/ipv6/ipv6.js';
import { Address } from '../../stack/address.js';
import type { Clock } from '../../stack/clock.js';
import { Stack } from '../../stack/stack.js';
import { TcpProtocol, tcpProtocol, type TcpSettings } from './protocol.js';

export interface TcpStackPair {
  channel: ChannelPair;
  a: Stack;
  b: Stack;
  tcpA: TcpProtocol;
  tcpB: TcpProtocol;
  addrA: Address;
  addrB: Address;
  close(): void;
}

export function createTcpStackPair(opts: {
  impairments?: ChannelImpairments;
  link?: ChannelOptions;
  tcp?: Partial<TcpSettings>;
  tcpB?: Partial<TcpSettings>;
  clock?: Clock;
  family?: 4 | 6;
} = {}): TcpStackPair {
  const v6 = opts.family === 6;
  const channel = new ChannelPair(opts.impairments ?? {}, { ethernet: false, ...opts.link });
  const mk = (settings: Partial<TcpSettings>) =>
    new Stack({ networkProtocols: [ipv4Protocol(), ipv6Protocol()], transportProtocols: [tcpProtocol(settings)], clock: opts.clock });
  const a = mk(opts.tcp ?? {});
  const b = mk(opts.tcpB ?? opts.tcp ?? {});
  const pairs = [[a, channel.a, '10.0.0.1/24', 'fd00::1/64'], [b, channel.b, '10.0.0.2/24', 'fd00::2/64']] as const;
  for (const [s, link, addr4, addr6] of pairs) {
    const err = s.createNIC(1, link) ?? s.addAddress(1, addr4) ?? s.addAddress(1, addr6);
    if (err) throw new Error(`stack setup failed: ${err}`);
  }
  return {
    channel,
    a,
    b,
    tcpA: a.transportProtocol(6) as TcpProtocol,
    tcpB: b.transportProtocol(6) as TcpProtocol,
    addrA: Address.parse(v6 ? 'fd00::1' : '10.0.0.1'),
    addrB: Address.parse(v6 ? 'fd00::2' : '10.0.0.2'),
    close: () => {
      a.close();
      b.close();
      channel.close();
    },
  };
}

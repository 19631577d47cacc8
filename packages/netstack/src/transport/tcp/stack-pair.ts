// Two Stacks joined by an in-memory channel link (link/channel.ts), each with IPv4 and TCP: the fixture TCP's
// tests use, also handy for embedding experiments. Addresses are 10.0.0.1 (a) and 10.0.0.2 (b) on a /24.

import { ChannelPair, type ChannelImpairments, type ChannelOptions } from '../../link/channel.js';
import { ipv4Protocol } from '../../network/ipv4/ipv4.js';
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
} = {}): TcpStackPair {
  const channel = new ChannelPair(opts.impairments ?? {}, { ethernet: false, ...opts.link });
  const mk = (settings: Partial<TcpSettings>) =>
    new Stack({ networkProtocols: [ipv4Protocol()], transportProtocols: [tcpProtocol(settings)], clock: opts.clock });
  const a = mk(opts.tcp ?? {});
  const b = mk(opts.tcpB ?? opts.tcp ?? {});
  for (const [s, link, addr] of [[a, channel.a, '10.0.0.1/24'], [b, channel.b, '10.0.0.2/24']] as const) {
    const err = s.createNIC(1, link) ?? s.addAddress(1, addr);
    if (err) throw new Error(`stack setup failed: ${err}`);
  }
  return {
    channel,
    a,
    b,
    tcpA: a.transportProtocol(6) as TcpProtocol,
    tcpB: b.transportProtocol(6) as TcpProtocol,
    addrA: Address.parse('10.0.0.1'),
    addrB: Address.parse('10.0.0.2'),
    close: () => {
      a.close();
      b.close();
      channel.close();
    },
  };
}

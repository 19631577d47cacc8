// A Stack with every protocol this package implements, as the tool and the sentry use it: IPv4, IPv6, ARP,
// TCP, UDP, ICMP echo sockets for both families, and raw sockets.

import { arpProtocol } from '../network/arp/arp.js';
import { ipv4Protocol, type IPv4ProtocolOptions } from '../network/ipv4/ipv4.js';
import { ipv6Protocol, type IPv6ProtocolOptions } from '../network/ipv6/ipv6.js';
import type { Clock } from '../stack/clock.js';
import { Stack } from '../stack/stack.js';
import { icmpv4Protocol, icmpv6Protocol } from '../transport/icmp/icmp.js';
import { rawEndpointFactory } from '../transport/raw/raw.js';
import { tcpProtocol, type TcpSettings } from '../transport/tcp/protocol.js';
import { udpProtocol } from '../transport/udp/udp.js';

export interface DefaultStackOptions {
  clock?: Clock;
  forwarding?: { v4?: boolean; v6?: boolean };
  tcp?: Partial<TcpSettings>;
  ipv4?: IPv4ProtocolOptions;
  ipv6?: IPv6ProtocolOptions;
  /** Allow raw sockets (default true; the sentry enables them only for CAP_NET_RAW holders per socket). */
  raw?: boolean;
}

export function createDefaultStack(opts: DefaultStackOptions = {}): Stack {
  return new Stack({
    networkProtocols: [ipv4Protocol(opts.ipv4), ipv6Protocol(opts.ipv6), arpProtocol()],
    transportProtocols: [tcpProtocol(opts.tcp), udpProtocol(), icmpv4Protocol(), icmpv6Protocol()],
    rawFactory: opts.raw === false ? undefined : rawEndpointFactory,
    clock: opts.clock,
    forwarding: opts.forwarding,
  });
}

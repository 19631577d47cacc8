// Round trips for every header codec (build -> parse gives the same fields, checksums verify) and the malformed
// inputs each validator must reject.
import { describe, expect, it } from 'vitest';
import {
  finishChecksum, internetChecksum, sumBytes, updateChecksum16, updateChecksum32, updateChecksumBytes,
  pseudoHeaderSumV4, pseudoHeaderSumV6,
} from './checksum.js';
import { EthernetHeader, ETHERNET_HEADER_SIZE, ETHERTYPE_ARP, ETHERNET_BROADCAST, ipv4MulticastMac, ipv6MulticastMac } from './ethernet.js';
import { ArpPacket, ARP_OP_REQUEST, ARP_SIZE } from './arp.js';
import {
  IPv4Header, IPPROTO_UDP, IPPROTO_TCP, IPV4_FLAG_MORE_FRAGMENTS, IPV4_FLAG_DONT_FRAGMENT, forEachIPv4Option,
  IPV4_OPTION_ROUTER_ALERT, IPPROTO_HOPOPTS, IPPROTO_FRAGMENT, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_ICMPV6,
} from './ipv4.js';
import {
  IPv6Header, IPv6ExtensionWalker, IPv6FragmentHeader, IPV6_HEADER_SIZE, forEachIPv6Option, solicitedNodeAddress,
  linkLocalFromMac,
} from './ipv6.js';
import { ICMPv4Header, ICMPV4_ECHO, ICMPV4_FRAG_NEEDED, ICMPV4_DEST_UNREACHABLE } from './icmpv4.js';
import {
  ICMPv6Header, ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_SOLICIT, ICMPV6_NEIGHBOR_ADVERT, ICMPV6_ROUTER_ADVERT,
  ICMPV6_ROUTER_SOLICIT, NDP_OPT_SOURCE_LLA, NDP_OPT_TARGET_LLA, NDP_OPT_PREFIX_INFO, NDP_OPT_MTU, NDP_NA_SOLICITED,
  NDP_NA_OVERRIDE, NdpPrefixInfo, forEachNdpOption, ndpLinkLayerAddress, writeNdpLinkLayerOption, ndpMtuOption,
  NDP_PREFIX_ON_LINK, NDP_PREFIX_AUTONOMOUS, ICMPV6_MLD_REPORT,
} from './icmpv6.js';
import { UDPHeader, UDP_HEADER_SIZE } from './udp.js';
import { formatAddress, parseIPv4, parseIPv6, parseMac, formatMac } from './address_text.js';

const MAC_A = Uint8Array.of(0x02, 0, 0, 0, 0, 0x0a);
const MAC_B = Uint8Array.of(0x02, 0, 0, 0, 0, 0x0b);
const IP_A = parseIPv4('10.0.0.1')!;
const IP_B = parseIPv4('10.0.0.2')!;
const IP6_A = parseIPv6('fd00::1')!;
const IP6_B = parseIPv6('fd00::2')!;

describe('checksum', () => {
  it('matches the RFC 1071 section 3 worked example', () => {
    // Words 0001 f203 f4f5 f6f7 sum (with carries folded) to ddf2; the checksum is its complement.
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(finishChecksum(sumBytes(b))).toBe(~0xddf2 & 0xffff);
  });

  it('pads an odd trailing byte with zero and sums in pieces', () => {
    const b = Uint8Array.of(1, 2, 3, 4, 5);
    expect(internetChecksum(b)).toBe(internetChecksum(Uint8Array.of(1, 2, 3, 4, 5, 0)));
    expect(finishChecksum(sumBytes(b, 2, 3, sumBytes(b, 0, 2)))).toBe(internetChecksum(b));
  });

  it('updates incrementally exactly as a full recomputation would (RFC 1624)', () => {
    const b = new Uint8Array(64);
    for (let i = 0; i < b.length; i++) b[i] = (i * 37 + 11) & 0xff;
    const c0 = internetChecksum(b);
    const old16 = (b[10] << 8) | b[11];
    b[10] = 0xab; b[11] = 0xcd;
    expect(updateChecksum16(c0, old16, 0xabcd)).toBe(internetChecksum(b));
    const c1 = internetChecksum(b);
    const old32 = ((b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23]) >>> 0;
    b.set([192, 168, 1, 77], 20);
    expect(updateChecksum32(c1, old32, 0xc0a8014d)).toBe(internetChecksum(b));
    const c2 = internetChecksum(b);
    const oldBytes = b.slice(30, 36);
    const newBytes = Uint8Array.of(9, 8, 7, 6, 5, 4);
    b.set(newBytes, 30);
    expect(updateChecksumBytes(c2, oldBytes, newBytes)).toBe(internetChecksum(b));
  });

  it('computes pseudo-header sums from the address bytes', () => {
    const manual = Uint8Array.of(...IP_A, ...IP_B, 0, 17, 0, 12);
    expect(finishChecksum(pseudoHeaderSumV4(IP_A, IP_B, 17, 12))).toBe(internetChecksum(manual));
    const manual6 = Uint8Array.of(...IP6_A, ...IP6_B, 0, 1, 0, 2, 0, 0, 0, 58);
    expect(finishChecksum(pseudoHeaderSumV6(IP6_A, IP6_B, 58, 0x10002))).toBe(internetChecksum(manual6));
  });
});

describe('address text', () => {
  it('parses and formats IPv4, IPv6 and MACs', () => {
    expect(formatAddress(parseIPv4('192.168.0.255')!)).toBe('192.168.0.255');
    expect(parseIPv4('1.2.3')).toBeNull();
    expect(parseIPv4('1.2.3.256')).toBeNull();
    expect(formatAddress(parseIPv6('fe80::1:2')!)).toBe('fe80::1:2');
    expect(formatAddress(parseIPv6('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatAddress(parseIPv6('::ffff:10.0.0.1')!)).toBe('::ffff:a00:1');
    expect(parseIPv6('1::2::3')).toBeNull();
    expect(parseIPv6('12345::')).toBeNull();
    expect(formatMac(parseMac('02:00:00:00:00:0a')!)).toBe('02:00:00:00:00:0a');
    expect(parseMac('02:00:00:00:00')).toBeNull();
  });
});

describe('ethernet and arp', () => {
  it('round-trips an ARP request in an Ethernet frame', () => {
    const frame = new Uint8Array(ETHERNET_HEADER_SIZE + ARP_SIZE);
    const eth = new EthernetHeader(frame);
    eth.encode({ destination: ETHERNET_BROADCAST, source: MAC_A, etherType: ETHERTYPE_ARP });
    const arp = new ArpPacket(frame, ETHERNET_HEADER_SIZE);
    arp.encode({ op: ARP_OP_REQUEST, senderMac: MAC_A, senderIp: IP_A, targetMac: new Uint8Array(6), targetIp: IP_B });

    const e2 = new EthernetHeader(frame);
    expect(e2.isValid()).toBe(true);
    expect(e2.destination()).toEqual(ETHERNET_BROADCAST);
    expect(e2.source()).toEqual(MAC_A);
    expect(e2.etherType()).toBe(ETHERTYPE_ARP);
    const a2 = new ArpPacket(e2.payload());
    expect(a2.isValid()).toBe(true);
    expect(a2.op()).toBe(ARP_OP_REQUEST);
    expect(a2.senderHardwareAddress()).toEqual(MAC_A);
    expect(a2.senderProtocolAddress()).toEqual(IP_A);
    expect(a2.targetProtocolAddress()).toEqual(IP_B);

    expect(new EthernetHeader(frame, 0, 13).isValid()).toBe(false);
    expect(new ArpPacket(frame, ETHERNET_HEADER_SIZE, ARP_SIZE - 1).isValid()).toBe(false);
    frame[ETHERNET_HEADER_SIZE + 4] = 8; // hardware address size not 6
    expect(a2.isValid()).toBe(false);
  });

  it('maps multicast groups to Ethernet addresses (RFC 1112 6.4, RFC 2464 7)', () => {
    expect(formatMac(ipv4MulticastMac(parseIPv4('224.129.2.3')!))).toBe('01:00:5e:01:02:03');
    expect(formatMac(ipv6MulticastMac(parseIPv6('ff02::1:ff00:2')!))).toBe('33:33:ff:00:00:02');
  });
});

describe('ipv4', () => {
  it('round-trips fields, options and the header checksum', () => {
    const b = new Uint8Array(100);
    const h = new IPv4Header(b);
    const hlen = h.encode({
      totalLength: 60, protocol: IPPROTO_UDP, src: IP_A, dst: IP_B, ttl: 64, id: 0x1234, tos: 0x10,
      flags: IPV4_FLAG_MORE_FRAGMENTS, fragmentOffset: 1480, options: Uint8Array.of(IPV4_OPTION_ROUTER_ALERT, 4, 0, 0, 1),
    });
    expect(hlen).toBe(28);
    const p = new IPv4Header(b, 0, 60);
    expect(p.invalidReason()).toBeNull();
    expect(p.isChecksumValid()).toBe(true);
    expect(p.headerLength()).toBe(28);
    expect(p.totalLength()).toBe(60);
    expect(p.id()).toBe(0x1234);
    expect(p.tos()).toBe(0x10);
    expect(p.moreFragments()).toBe(true);
    expect(p.dontFragment()).toBe(false);
    expect(p.fragmentOffset()).toBe(1480);
    expect(p.isFragment()).toBe(true);
    expect(p.ttl()).toBe(64);
    expect(p.protocol()).toBe(IPPROTO_UDP);
    expect(p.sourceAddress()).toEqual(IP_A);
    expect(p.destinationAddressNumber()).toBe(0x0a000002);
    expect(p.payload().length).toBe(32);
    const seen: number[] = [];
    expect(forEachIPv4Option(p, (o) => seen.push(o.type, o.length))).toBe(2);
    expect(seen).toEqual([IPV4_OPTION_ROUTER_ALERT, 4, 1, 1]);
    p.decrementTtl();
    expect(p.ttl()).toBe(63);
    expect(p.isChecksumValid()).toBe(true);
    expect(p.checksum()).toBe(p.computeChecksum());
    b[8] = 7;
    expect(p.isChecksumValid()).toBe(false);
  });

  it('rejects every bad length', () => {
    const b = new Uint8Array(40);
    const h = new IPv4Header(b);
    h.encode({ totalLength: 40, protocol: IPPROTO_TCP, src: IP_A, dst: IP_B, ttl: 1, flags: IPV4_FLAG_DONT_FRAGMENT });
    expect(h.invalidReason()).toBeNull();
    expect(new IPv4Header(b, 0, 19).invalidReason()).toBe('short');
    expect(new IPv4Header(b, 0, 39).invalidReason()).toBe('total-length');
    b[0] = 0x44; expect(h.invalidReason()).toBe('header-length');
    b[0] = 0x65; expect(h.invalidReason()).toBe('version');
    b[0] = 0x46; b[2] = 0; b[3] = 22; expect(h.invalidReason()).toBe('total-length'); // total < header length
    b[3] = 40; b.set([7, 9, 4], 20); expect(h.invalidReason()).toBe('options'); // option runs past the header
    b.set([7, 1, 0, 0], 20); expect(h.invalidReason()).toBe('options'); // option length < 2
    b.set([1, 1, 0, 0], 20); expect(h.invalidReason()).toBeNull();
    expect(() => new IPv4Header(new Uint8Array(80)).encode({ totalLength: 80, protocol: 6, src: IP_A, dst: IP_B, ttl: 1, options: new Uint8Array(41) })).toThrow(/40/);
  });
});

describe('ipv6', () => {
  function buildChain(): Uint8Array {
    // IPv6 | hop-by-hop (8, router alert) | routing (8) | fragment (8) | dest opts (16, PadN) | ICMPv6 (8)
    const b = new Uint8Array(IPV6_HEADER_SIZE + 8 + 8 + 8 + 16 + 8);
    const h = new IPv6Header(b);
    h.encode({ payloadLength: b.length - IPV6_HEADER_SIZE, nextHeader: IPPROTO_HOPOPTS, hopLimit: 255, src: IP6_A, dst: IP6_B, trafficClass: 0xb8, flowLabel: 0xabcde });
    let o = IPV6_HEADER_SIZE;
    b.set([IPPROTO_ROUTING, 0, 5, 2, 0, 0, 1, 0], o); o += 8; // router alert option, then PadN(0)
    b.set([IPPROTO_FRAGMENT, 0, 0, 0, 0, 0, 0, 0], o); o += 8;
    new IPv6FragmentHeader(b, o).encode({ nextHeader: IPPROTO_DSTOPTS, fragmentOffset: 2048, moreFragments: true, identification: 0xdeadbeef }); o += 8;
    b.set([IPPROTO_ICMPV6, 1, 1, 12], o); o += 16;
    b[o] = ICMPV6_ECHO_REQUEST;
    return b;
  }

  it('round-trips the fixed header', () => {
    const b = buildChain();
    const h = new IPv6Header(b);
    expect(h.invalidReason()).toBeNull();
    expect(h.trafficClass()).toBe(0xb8);
    expect(h.flowLabel()).toBe(0xabcde);
    expect(h.hopLimit()).toBe(255);
    expect(h.sourceAddress()).toEqual(IP6_A);
    expect(h.destinationAddress()).toEqual(IP6_B);
    expect(h.payload().length).toBe(48);
  });

  it('walks the extension header chain to the upper-layer protocol', () => {
    const b = buildChain();
    const w = new IPv6ExtensionWalker().start(new IPv6Header(b));
    const types: number[] = [];
    while (w.next()) types.push(w.headerType, w.headerLength);
    expect(w.error).toBeNull();
    expect(types).toEqual([IPPROTO_HOPOPTS, 8, IPPROTO_ROUTING, 8, IPPROTO_FRAGMENT, 8, IPPROTO_DSTOPTS, 16]);
    expect(w.upperProtocol).toBe(IPPROTO_ICMPV6);
    expect(w.upperOffset).toBe(80);
    expect(w.fragmentOffset).toBe(2048);
    expect(w.moreFragments).toBe(true);
    expect(w.fragmentId).toBe(0xdeadbeef);
    const opts: number[] = [];
    forEachIPv6Option(b, IPV6_HEADER_SIZE + 2, 6, (t, _o, l) => { opts.push(t, l); });
    expect(opts).toEqual([5, 2]);
  });

  it('reports truncation, misplaced hop-by-hop and bad options with a pointer', () => {
    const b = buildChain();
    expect(new IPv6Header(b, 0, 39).invalidReason()).toBe('short');
    expect(new IPv6Header(b, 0, 80).invalidReason()).toBe('payload-length');
    const short = b.slice();
    short[5] = 30; // payload ends inside the destination options header
    const w = new IPv6ExtensionWalker();
    expect(w.start(new IPv6Header(short)).walkAll()).toBe(false);
    expect(w.error).toBe('truncated');
    expect(w.pointer).toBe(64);
    const hbh = b.slice();
    hbh[IPV6_HEADER_SIZE + 8] = IPPROTO_HOPOPTS; // routing header names hop-by-hop next
    expect(w.start(new IPv6Header(hbh)).walkAll()).toBe(false);
    expect(w.error).toBe('hop-by-hop-not-first');
    expect(w.pointer).toBe(IPV6_HEADER_SIZE + 8);
    const badopt = b.slice();
    badopt[IPV6_HEADER_SIZE + 3] = 9; // router alert option length runs past the header
    expect(w.start(new IPv6Header(badopt)).walkAll()).toBe(false);
    expect(w.error).toBe('bad-option');
  });

  it('derives solicited-node and link-local addresses', () => {
    expect(formatAddress(solicitedNodeAddress(parseIPv6('fd00::12:3456')!))).toBe('ff02::1:ff12:3456');
    expect(formatAddress(linkLocalFromMac(parseMac('52:54:00:12:34:56')!))).toBe('fe80::5054:ff:fe12:3456');
  });
});

describe('icmpv4', () => {
  it('round-trips echo and fragmentation-needed with checksums', () => {
    const b = new Uint8Array(16);
    const h = new ICMPv4Header(b);
    h.encode({ type: ICMPV4_ECHO, code: 0 });
    h.setIdent(0x4242); h.setSequence(7);
    b.set([1, 2, 3, 4, 5, 6, 7, 8], 8);
    h.updateChecksum();
    const p = new ICMPv4Header(b);
    expect(p.isValid()).toBe(true);
    expect(p.isChecksumValid()).toBe(true);
    expect([p.type(), p.code(), p.ident(), p.sequence()]).toEqual([ICMPV4_ECHO, 0, 0x4242, 7]);
    expect(internetChecksum(b)).toBe(0);
    h.encode({ type: ICMPV4_DEST_UNREACHABLE, code: ICMPV4_FRAG_NEEDED });
    h.setMtu(1400); h.updateChecksum();
    expect(p.mtu()).toBe(1400);
    expect(p.isChecksumValid()).toBe(true);
    expect(new ICMPv4Header(b, 0, 7).isValid()).toBe(false);
  });
});

describe('icmpv6 and ndp', () => {
  const pseudo = (len: number) => pseudoHeaderSumV6(IP6_A, IP6_B, IPPROTO_ICMPV6, len);

  it('round-trips echo with the pseudo-header checksum', () => {
    const b = new Uint8Array(12);
    const h = new ICMPv6Header(b);
    h.encode({ type: ICMPV6_ECHO_REQUEST, code: 0 });
    h.setIdent(1); h.setSequence(2); b.set([9, 9, 9, 9], 8);
    h.updateChecksum(pseudo(12));
    expect(h.isChecksumValid(pseudo(12))).toBe(true);
    expect(h.isChecksumValid(pseudo(13))).toBe(false);
    expect([h.ident(), h.sequence()]).toEqual([1, 2]);
  });

  it('round-trips NS and NA with link-layer address options', () => {
    const b = new Uint8Array(32);
    const ns = new ICMPv6Header(b);
    ns.encode({ type: ICMPV6_NEIGHBOR_SOLICIT, code: 0 });
    ns.setTargetAddress(IP6_B);
    writeNdpLinkLayerOption(b, 24, NDP_OPT_SOURCE_LLA, MAC_A);
    ns.updateChecksum(pseudo(32));
    const p = new ICMPv6Header(b);
    expect(p.isValid()).toBe(true);
    expect(p.isChecksumValid(pseudo(32))).toBe(true);
    expect(p.targetAddress()).toEqual(IP6_B);
    const found: Array<[number, Uint8Array]> = [];
    forEachNdpOption(b, p.ndpOptionsOffset(), 8, (t, o) => { found.push([t, ndpLinkLayerAddress(b, o)]); });
    expect(found).toEqual([[NDP_OPT_SOURCE_LLA, MAC_A]]);

    ns.encode({ type: ICMPV6_NEIGHBOR_ADVERT, code: 0 });
    ns.setNaFlags(NDP_NA_SOLICITED | NDP_NA_OVERRIDE);
    ns.setTargetAddress(IP6_A);
    writeNdpLinkLayerOption(b, 24, NDP_OPT_TARGET_LLA, MAC_B);
    expect(p.naFlags()).toBe(NDP_NA_SOLICITED | NDP_NA_OVERRIDE);
    expect(p.ndpOptions()).toEqual(Uint8Array.of(NDP_OPT_TARGET_LLA, 1, ...MAC_B));
    b[25] = 0; // zero-length option: RFC 4861 4.6 says discard
    expect(p.isValid()).toBe(false);
    b[25] = 2; // runs past the message
    expect(p.isValid()).toBe(false);
    expect(new ICMPv6Header(b, 0, 23).isValid()).toBe(false);
  });

  it('round-trips an MLD report and rejects a short one', () => {
    const b = new Uint8Array(24);
    const h = new ICMPv6Header(b);
    h.encode({ type: ICMPV6_MLD_REPORT, code: 0 });
    h.setMld(0, parseIPv6('ff02::1:ff00:1')!);
    h.updateChecksum(pseudo(24));
    expect(h.isValid()).toBe(true);
    expect(h.isChecksumValid(pseudo(24))).toBe(true);
    expect(formatAddress(h.mldMulticastAddress())).toBe('ff02::1:ff00:1');
    expect(new ICMPv6Header(b, 0, 23).isValid()).toBe(false);
  });

  it('round-trips RS and RA with prefix information and MTU options', () => {
    const rs = new Uint8Array(16);
    const r = new ICMPv6Header(rs);
    r.encode({ type: ICMPV6_ROUTER_SOLICIT, code: 0 });
    writeNdpLinkLayerOption(rs, 8, NDP_OPT_SOURCE_LLA, MAC_A);
    expect(r.isValid()).toBe(true);

    const b = new Uint8Array(16 + 32 + 8);
    const ra = new ICMPv6Header(b);
    ra.encode({ type: ICMPV6_ROUTER_ADVERT, code: 0 });
    ra.setRa({ curHopLimit: 64, flags: 0x40, routerLifetime: 1800, reachableTime: 30000, retransTimer: 1000 });
    new NdpPrefixInfo(b, 16).encode({ prefixLength: 64, flags: NDP_PREFIX_ON_LINK | NDP_PREFIX_AUTONOMOUS, validLifetime: 86400, preferredLifetime: 14400, prefix: parseIPv6('fd00:1::')! });
    b.set([NDP_OPT_MTU, 1, 0, 0, 0, 0, 0x05, 0xdc], 48);
    ra.updateChecksum(pseudo(b.length));
    const p = new ICMPv6Header(b);
    expect(p.isValid()).toBe(true);
    expect(p.isChecksumValid(pseudo(b.length))).toBe(true);
    expect([p.raCurHopLimit(), p.raFlags(), p.raRouterLifetime(), p.raReachableTime(), p.raRetransTimer()]).toEqual([64, 0x40, 1800, 30000, 1000]);
    const kinds: number[] = [];
    let mtu = 0;
    let prefix: NdpPrefixInfo | null = null;
    forEachNdpOption(b, p.ndpOptionsOffset(), b.length - 16, (t, o, l) => {
      kinds.push(t);
      if (t === NDP_OPT_MTU) mtu = ndpMtuOption(b, o);
      if (t === NDP_OPT_PREFIX_INFO) prefix = new NdpPrefixInfo(b, o, l);
    });
    expect(kinds).toEqual([NDP_OPT_PREFIX_INFO, NDP_OPT_MTU]);
    expect(mtu).toBe(1500);
    const pi = prefix as unknown as NdpPrefixInfo;
    expect(pi.isValid()).toBe(true);
    expect([pi.prefixLength(), pi.onLink(), pi.autonomous(), pi.validLifetime(), pi.preferredLifetime()]).toEqual([64, true, true, 86400, 14400]);
    expect(formatAddress(pi.prefix())).toBe('fd00:1::');
  });
});

describe('udp', () => {
  it('round-trips with IPv4 and IPv6 checksums, and sends a zero sum as 0xffff', () => {
    const b = new Uint8Array(UDP_HEADER_SIZE + 5);
    const u = new UDPHeader(b);
    u.encode({ sourcePort: 5353, destinationPort: 53, length: b.length });
    b.set([104, 101, 108, 108, 111], 8);
    const p4 = pseudoHeaderSumV4(IP_A, IP_B, IPPROTO_UDP, b.length);
    u.updateChecksum(p4);
    expect(u.isValid()).toBe(true);
    expect(u.isChecksumValid(p4)).toBe(true);
    expect([u.sourcePort(), u.destinationPort(), u.udpLength()]).toEqual([5353, 53, 13]);
    expect(new TextDecoder().decode(u.payload())).toBe('hello');
    const p6 = pseudoHeaderSumV6(IP6_A, IP6_B, IPPROTO_UDP, b.length);
    u.updateChecksum(p6);
    expect(u.isChecksumValid(p6)).toBe(true);
    u.setChecksum(0);
    expect(u.isChecksumValid(p6, false)).toBe(false);
    // Find a payload whose checksum computes to 0, which must go out as 0xffff (RFC 768).
    u.setChecksum(0);
    b[12] = 0;
    const withZero = finishChecksum(sumBytes(b, 0, b.length, p4));
    // Adjust bytes 10-11 so the ones' complement sum becomes 0xffff (checksum 0).
    const need = (0xffff - (~withZero & 0xffff) + ((b[10] << 8) | b[11]));
    const folded = need > 0xffff ? (need & 0xffff) + 1 : need;
    b[10] = folded >> 8; b[11] = folded & 0xff;
    expect(finishChecksum(sumBytes(b, 0, b.length, p4))).toBe(0);
    expect(u.computeChecksum(p4)).toBe(0xffff);
    u.updateChecksum(p4);
    expect(u.isChecksumValid(p4)).toBe(true);
    u.setLength(7); expect(u.isValid()).toBe(false);
    u.setLength(14); expect(u.isValid()).toBe(false);
    expect(new UDPHeader(b, 0, 7).isValid()).toBe(false);
  });
});

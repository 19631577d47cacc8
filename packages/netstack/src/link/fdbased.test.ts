// The fdbased link against a real Linux peer: a network namespace and veth pair created here (names carry the
// pid; removed in afterAll). The endpoint opens the root-namespace end; the kernel in the namespace owns the
// other end with an address. A small responder built from the header views answers ARP and ICMP echo, so
// `busybox ping` in the namespace succeeds only if frames arrive at the endpoint and the frames it sends are right.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interfaceIndex, packetOpen } from '@tsvisor/native';
import { FdBasedEndpoint } from './fdbased.js';
import { LinkCapability, type LinkDispatcher } from './link_endpoint.js';
import { GsoType, PacketBuffer } from '../buffer/packet_buffer.js';
import { ArpPacket, ARP_OP_REPLY, ARP_OP_REQUEST, ARP_SIZE } from '../header/arp.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../header/ethernet.js';
import { IPv4Header, IPPROTO_ICMP, IPPROTO_UDP } from '../header/ipv4.js';
import { ICMPv4Header, ICMPV4_ECHO, ICMPV4_ECHO_REPLY } from '../header/icmpv4.js';
import { UDPHeader } from '../header/udp.js';
import { parseIPv4 } from '../header/address_text.js';
import { foldChecksum, sumBytes } from '../header/checksum.js';
import { parseIpAddrJson, parseIpRouteJson, readHostDevice, readHostDevices, readHostRoutes } from './host_netdev.js';

const run = promisify(execFile);
const NS = `tsvf${process.pid}`;
const OURS = `fa${process.pid}`.slice(0, 15);
const THEIRS = `fb${process.pid}`.slice(0, 15);
const NET = `10.251.${process.pid % 250}`;
const OUR_IP = parseIPv4(`${NET}.1`)!;
const THEIR_IP = parseIPv4(`${NET}.2`)!;
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Answers ARP requests for OUR_IP and ICMP echo requests to it; counts what it saw. */
class Responder implements LinkDispatcher {
  arpRequests = 0;
  echoRequests = 0;
  batches = 0;
  validated = 0;
  udpPayloadBytes = 0;
  constructor(private readonly ep: FdBasedEndpoint) {}

  /** Deliveries not yet followed by deliverBatchEnd (must end at 0: every batch is closed). */
  open = 0;

  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    this.open++;
    if (protocol === ETHERTYPE_ARP) this.onArp(pkt);
    else if (protocol === ETHERTYPE_IPV4) this.onIPv4(pkt);
  }
  deliverBatchEnd(): void { this.batches++; this.open = 0; }

  private onArp(pkt: PacketBuffer): void {
    const arp = new ArpPacket(pkt.buf, pkt.head, pkt.size);
    if (!arp.isValid() || arp.op() !== ARP_OP_REQUEST || !equal(arp.targetProtocolAddress(), OUR_IP)) return;
    this.arpRequests++;
    const out = PacketBuffer.allocate(ARP_SIZE, this.ep.maxHeaderLength);
    new ArpPacket(out.buf, out.head).encode({
      op: ARP_OP_REPLY, senderMac: this.ep.linkAddress, senderIp: OUR_IP,
      targetMac: arp.senderHardwareAddress(), targetIp: arp.senderProtocolAddress(),
    });
    out.networkProtocol = ETHERTYPE_ARP;
    out.remoteLinkAddress = Uint8Array.from(pkt.remoteLinkAddress!);
    expect(this.ep.writePackets([out])).toBe(1);
  }

  private onIPv4(pkt: PacketBuffer): void {
    const ip = new IPv4Header(pkt.buf, pkt.head, pkt.size);
    if (!ip.isValid() || !equal(ip.destinationAddress(), OUR_IP)) return;
    if (pkt.checksumValidated) this.validated++;
    if (ip.protocol() === IPPROTO_UDP) {
      const u = new UDPHeader(pkt.buf, pkt.head + ip.headerLength(), ip.payloadLength());
      if (u.isValid()) this.udpPayloadBytes += u.udpLength() - 8;
      return;
    }
    if (ip.protocol() !== IPPROTO_ICMP || !ip.isChecksumValid()) return;
    const icmp = new ICMPv4Header(pkt.buf, pkt.head + ip.headerLength(), ip.payloadLength());
    if (!icmp.isValid() || icmp.type() !== ICMPV4_ECHO || !icmp.isChecksumValid()) return;
    this.echoRequests++;
    // Reply: the same ICMP body with type 0, in a fresh packet (the received one is borrowed).
    const body = icmp.slice(0);
    const out = PacketBuffer.allocate(20 + body.length, this.ep.maxHeaderLength);
    const reply = new ICMPv4Header(out.buf, out.head + 20, body.length);
    out.buf.set(body, out.head + 20);
    reply.setType(ICMPV4_ECHO_REPLY);
    reply.updateChecksum();
    new IPv4Header(out.buf, out.head).encode({ totalLength: 20 + body.length, protocol: IPPROTO_ICMP, src: OUR_IP, dst: ip.sourceAddress(), ttl: 64 });
    out.networkProtocol = ETHERTYPE_IPV4;
    out.remoteLinkAddress = Uint8Array.from(pkt.remoteLinkAddress!);
    expect(this.ep.writePackets([out])).toBe(1);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

describe('fdbased link over a veth into a network namespace', () => {
  beforeAll(() => {
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS);
    sh('ip', 'link', 'set', THEIRS, 'netns', NS);
    sh('ip', '-n', NS, 'addr', 'add', `${NET}.2/24`, 'dev', THEIRS);
    sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', NS, 'link', 'set', THEIRS, 'up');
    sh('sysctl', '-qw', `net.ipv6.conf.${OURS}.disable_ipv6=1`);
    sh('ip', 'link', 'set', OURS, 'up');
  });

  afterAll(() => {
    try { sh('ip', 'link', 'del', OURS); } catch { /* gone with the namespace */ }
    try { sh('ip', 'netns', 'del', NS); } catch { /* never created */ }
  });

  const variants = [
    { gso: true, adopt: false, rxRing: false }, { gso: false, adopt: false, rxRing: false },
    { gso: true, adopt: true, rxRing: false }, { gso: true, adopt: false, rxRing: true },
    { gso: false, adopt: false, rxRing: true }, { gso: false, adopt: true, rxRing: true },
  ];
  for (const { gso, adopt, rxRing } of variants) {
    it(`answers ARP and ping from the namespace's kernel (gso=${gso}${adopt ? ', adopted socket' : ''}${rxRing ? ', mmap ring' : ''})`, async () => {
      const ep = adopt
        ? FdBasedEndpoint.open({ fd: packetOpen(interfaceIndex(OURS), { vnetHdr: gso }), ifname: OURS, gso, rxRing })
        : FdBasedEndpoint.open({ ifname: OURS, gso, rxRing });
      try {
        const dev = readHostDevice(OURS);
        expect(ep.linkAddress).toEqual(dev.mac);
        expect(ep.mtu).toBe(1500);
        expect(Boolean(ep.capabilities & LinkCapability.GSO)).toBe(gso);
        const r = new Responder(ep);
        ep.attach(r);
        sh('ip', '-n', NS, 'neigh', 'flush', 'dev', THEIRS);
        const { stdout } = await run('ip', ['netns', 'exec', NS, 'busybox', 'ping', '-c', '3', '-i', '0.2', '-w', '5', `${NET}.1`]);
        expect(stdout).toMatch(/, 3 packets received/);
        expect(r.arpRequests).toBeGreaterThanOrEqual(1);
        expect(r.echoRequests).toBe(3);
        expect(r.batches).toBeGreaterThanOrEqual(1);
        expect(r.open).toBe(0);
        expect(ep.stats.txPackets).toBeGreaterThanOrEqual(4);
        const neigh = sh('ip', '-n', NS, '-j', 'neigh', 'show', `${NET}.1`);
        expect(neigh).toContain(Array.from(ep.linkAddress, (x) => x.toString(16).padStart(2, '0')).join(':'));
      } finally {
        ep.close();
      }
    });
  }

  it('sends a UDP GSO super-packet that the kernel segments into MSS-sized datagrams', async () => {
    const ep = FdBasedEndpoint.open({ ifname: OURS, gso: true });
    const port = 20000 + (process.pid % 20000);
    try {
      const r = new Responder(ep);
      ep.attach(r);
      // Learn the namespace's MAC (and let it learn ours) with one ping first.
      await run('ip', ['netns', 'exec', NS, 'busybox', 'ping', '-c', '1', '-w', '3', `${NET}.1`]);
      const theirMac = parseMacText(JSON.parse(sh('ip', '-n', NS, '-j', 'link', 'show', THEIRS))[0].address);
      const listener = run('ip', ['netns', 'exec', NS, 'timeout', '3', 'nc', '-u', '-l', '-W', '4', '-p', String(port)], { encoding: 'buffer' } as never);
      await new Promise((res) => setTimeout(res, 300));
      const segment = 1000;
      const payload = new Uint8Array(4 * segment).map((_, i) => 0x41 + (i % 26));
      const pkt = PacketBuffer.fromPayload(payload, 64);
      pkt.transportHeader = pkt.prepend(8);
      const udp = new UDPHeader(pkt.buf, pkt.transportHeader, 8 + payload.length);
      udp.encode({ sourcePort: 5555, destinationPort: port, length: 8 + payload.length });
      pkt.networkHeader = pkt.prepend(20);
      const ip = new IPv4Header(pkt.buf, pkt.networkHeader);
      ip.encode({ totalLength: 28 + payload.length, protocol: IPPROTO_UDP, src: OUR_IP, dst: THEIR_IP, ttl: 64 });
      // Partial checksum: the pseudo-header sum only (with the super-packet's length), as Linux's
      // udp4_hwcsum leaves it; the kernel rewrites length and checksum per segment.
      udp.setChecksum(foldChecksum(ip.pseudoHeaderSum(IPPROTO_UDP, 8 + payload.length)));
      pkt.networkProtocol = ETHERTYPE_IPV4;
      pkt.transportProtocol = IPPROTO_UDP;
      pkt.remoteLinkAddress = theirMac;
      pkt.gso = { type: GsoType.UDP_L4, size: segment, needsChecksum: true };
      expect(ep.writePackets([pkt])).toBe(1);
      const out = await listener.catch((e: { stdout: Buffer }) => e);
      expect((out.stdout as Buffer).length).toBe(4 * segment);
      expect(Buffer.from(out.stdout as Buffer).equals(Buffer.from(payload))).toBe(true);
    } finally {
      ep.close();
    }
  });

  // A GSO super-packet forwarded by the namespace's kernel into a tun device (which has no offloads) is segmented
  // and checksummed in software (validate_xmit_skb, skb_checksum_help), so the frames read from the tun show
  // whether the partial checksum and virtio_net_hdr offsets we sent are the ones Linux finishes correctly, as a
  // real NIC would. (Across the veth alone the receiver trusts CHECKSUM_PARTIAL and would never notice.)
  const offloadCases = [
    { proto: 'tcp', segments: 3, gso: true }, { proto: 'udp', segments: 3, gso: true },
    { proto: 'tcp', segments: 1, gso: false }, // checksum offload alone (NEEDS_CSUM, no segmentation)
  ] as const;
  for (const { proto, segments, gso: segment } of offloadCases) {
    it(`${proto} ${segment ? 'GSO: segments' : 'checksum offload: a packet'} forwarded to a tun come${segment ? '' : 's'} out with correct checksums`, async () => {
      const tun = `tt${process.pid}`.slice(0, 15);
      const far = `10.247.${process.pid % 250}`;
      const mss = 1000;
      const reader = spawn('ip', ['netns', 'exec', NS, '/usr/bin/python3', '-c', TUN_READER, tun, String(segments)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      reader.stdout.on('data', (d) => (out += d));
      reader.stderr.on('data', (d) => (err += d));
      const exited = new Promise<number>((resolve) => reader.on('exit', (code) => resolve(code ?? -1)));
      const ep = FdBasedEndpoint.open({ ifname: OURS, gso: true });
      try {
        for (let i = 0; i < 50 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
        expect(out, err).toContain('ready');
        sh('ip', '-n', NS, 'link', 'set', tun, 'up');
        sh('ip', '-n', NS, 'route', 'replace', `${far}.0/24`, 'dev', tun);
        sh('ip', 'netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
        ep.attach(new Responder(ep));
        await run('ip', ['netns', 'exec', NS, 'busybox', 'ping', '-c', '1', '-w', '3', `${NET}.1`]);
        const theirMac = parseMacText(JSON.parse(sh('ip', '-n', NS, '-j', 'link', 'show', THEIRS))[0].address);
        const payload = new Uint8Array(segments * mss).map((_, i) => (i * 7 + 3) & 0xff);
        const thLen = proto === 'tcp' ? 20 : 8;
        const pkt = PacketBuffer.fromPayload(payload, 64);
        pkt.transportHeader = pkt.prepend(thLen);
        const t = pkt.transportHeader;
        const b = pkt.buf;
        const dst = parseIPv4(`${far}.9`)!;
        if (proto === 'tcp') {
          b.set([0x13, 0x88, 0x00, 0x50, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0], t); // seq 4096, ACK|PSH
        } else {
          new UDPHeader(b, t, 8 + payload.length).encode({ sourcePort: 5000, destinationPort: 9, length: 8 + payload.length });
        }
        pkt.networkHeader = pkt.prepend(20);
        const ip = new IPv4Header(b, pkt.networkHeader);
        ip.encode({ totalLength: 20 + thLen + payload.length, protocol: proto === 'tcp' ? 6 : IPPROTO_UDP, src: OUR_IP, dst, ttl: 64, flags: 0x4000 });
        // Partial checksum: the folded pseudo-header sum over the whole super-packet's transport length, as Linux's
        // own CHECKSUM_PARTIAL packets carry it (tcp_v4_send_check / udp4_hwcsum); the kernel fixes the length per segment.
        const partial = foldChecksum(ip.pseudoHeaderSum(proto === 'tcp' ? 6 : IPPROTO_UDP, thLen + payload.length));
        const csumAt = t + (proto === 'tcp' ? 16 : 6);
        b[csumAt] = partial >> 8;
        b[csumAt + 1] = partial & 0xff;
        pkt.networkProtocol = ETHERTYPE_IPV4;
        pkt.transportProtocol = proto === 'tcp' ? 6 : IPPROTO_UDP;
        pkt.remoteLinkAddress = theirMac;
        pkt.gso = segment
          ? { type: proto === 'tcp' ? GsoType.TCPV4 : GsoType.UDP_L4, size: mss, needsChecksum: true }
          : { type: GsoType.NONE, size: 0, needsChecksum: true };
        expect(ep.writePackets([pkt])).toBe(1);
        expect(await exited, err).toBe(0);
        const frames = out.split('\n').filter((l) => /^[0-9a-f]+$/.test(l)).map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
        expect(frames.length).toBe(segments);
        const got = new Uint8Array(payload.length);
        let at = 0;
        for (const f of frames) {
          const h = new IPv4Header(f);
          expect(h.isValid()).toBe(true);
          expect(h.isChecksumValid()).toBe(true);
          const seg = h.payload();
          expect(seg.length).toBe(thLen + mss);
          // The segment's transport checksum, verified over the pseudo-header, header and data.
          expect(foldChecksum(sumBytes(seg, 0, seg.length, h.pseudoHeaderSum(h.protocol(), seg.length)))).toBe(0xffff);
          got.set(seg.subarray(thLen), at);
          at += mss;
        }
        expect(Buffer.from(got).equals(Buffer.from(payload))).toBe(true);
      } finally {
        ep.close();
        reader.kill();
        try { sh('ip', '-n', NS, 'route', 'del', `${far}.0/24`); } catch { /* went with the tun */ }
      }
    });
  }

  it('reports the device going away as errors instead of spinning or throwing', async () => {
    const name = `fz${process.pid}`.slice(0, 15);
    sh('ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`.slice(0, 15));
    sh('ip', 'link', 'set', name, 'up');
    const ep = FdBasedEndpoint.open({ ifname: name, gso: true });
    ep.attach({ deliverNetworkPacket() { /* nothing arrives on a deleted device */ } });
    try {
      sh('ip', 'link', 'del', name);
      await new Promise((r) => setTimeout(r, 300));
      expect(ep.stats.rxErrors).toBeLessThanOrEqual(1);
      if (ep.stats.rxErrors === 1) expect(ep.stats.lastRxErrno).toBe(100); // ENETDOWN
      const p = PacketBuffer.allocate(20, ep.maxHeaderLength);
      p.networkProtocol = ETHERTYPE_IPV4;
      expect(ep.writePackets([p])).toBe(0);
      expect(ep.stats.txErrors).toBe(1);
      expect([6, 100]).toContain(ep.stats.lastTxErrno); // ENXIO or ENETDOWN
    } finally {
      ep.close();
      try { sh('ip', 'link', 'del', name); } catch { /* already gone */ }
    }
  });

  it('with GSO, refuses a super-packet whose frame would pass 65535 bytes before it reaches the socket', () => {
    // The kernel takes a packet-socket frame of at most 65535 bytes with its Ethernet header and answers ENOBUFS
    // beyond (f3b6556): the link says so in gsoMaxSize, and one byte more is counted oversized, not a send error.
    const ep = FdBasedEndpoint.open({ ifname: OURS, gso: true });
    try {
      expect(ep.gsoMaxSize).toBe(65535 - 14);
      const big = PacketBuffer.allocate(ep.gsoMaxSize + 1, ep.maxHeaderLength);
      big.networkProtocol = ETHERTYPE_IPV4;
      big.remoteLinkAddress = new Uint8Array(6).fill(0xff);
      big.networkHeader = big.head;
      big.transportHeader = big.head + 20;
      big.transportProtocol = 6;
      big.buf[big.transportHeader + 12] = 0x50;
      big.gso = { type: GsoType.TCPV4, size: 1448, needsChecksum: true };
      expect(ep.writePackets([big])).toBe(0);
      expect(ep.stats.txOversized).toBe(1);
      expect(ep.stats.txErrors).toBe(0);
    } finally {
      ep.close();
    }
  });

  it('refuses frames larger than the MTU without GSO, and reads device and route data with ip -j', () => {
    const ep = FdBasedEndpoint.open({ ifname: OURS, gso: false });
    try {
      const big = PacketBuffer.allocate(1501, ep.maxHeaderLength);
      big.networkProtocol = ETHERTYPE_IPV4;
      big.remoteLinkAddress = new Uint8Array(6).fill(0xff);
      expect(ep.writePackets([big])).toBe(0);
      expect(ep.stats.txOversized).toBe(1);
    } finally {
      ep.close();
    }
    const devs = parseIpAddrJson(JSON.parse(sh('ip', '-n', NS, '-j', 'addr', 'show')));
    const theirs = devs.find((d) => d.name === THEIRS)!;
    expect(theirs.addresses.find((a) => a.family === 4)).toMatchObject({ address: THEIR_IP, prefixLength: 24 });
    expect(theirs.up).toBe(true);
    expect(devs.find((d) => d.name === 'lo')!.linkType).toBe('loopback');
    sh('ip', '-n', NS, 'route', 'add', 'default', 'via', `${NET}.1`);
    const routes = parseIpRouteJson(JSON.parse(sh('ip', '-n', NS, '-j', '-4', 'route', 'show', 'table', 'main')), 4);
    expect(routes.find((r) => r.prefixLength === 0)).toMatchObject({ gateway: OUR_IP, device: THEIRS });
    expect(routes.find((r) => r.prefixLength === 24)).toMatchObject({ destination: parseIPv4(`${NET}.0`), gateway: null });
    // The same through the readers, by namespace name and by path (as an OCI config gives it).
    const byName = readHostDevice(THEIRS, NS);
    expect(byName.addresses[0].address).toEqual(THEIR_IP);
    expect(readHostDevices(`/var/run/netns/${NS}`).map((d) => d.name).sort()).toEqual(['lo', THEIRS].sort());
    expect(readHostRoutes(NS).find((r) => r.family === 4 && r.prefixLength === 0)?.gateway).toEqual(OUR_IP);
    expect(() => readHostDevices(`nons${process.pid}`)).toThrow(/EHOSTNETDEV|ip failed/);
    expect(() => parseIpAddrJson({})).toThrow(/EHOSTNETDEV|array/);
    expect(() => parseIpRouteJson([{ dst: 'bogus/99', dev: 'x' }], 4)).toThrow(/unparsable/);
  });
});

/** Creates a tun device (no offloads: IFF_TUN | IFF_NO_PI), prints "ready", then prints each of N packets in hex. */
const TUN_READER = `
import fcntl, os, select, struct, sys, time
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', sys.argv[1].encode(), 0x0001 | 0x1000))
print('ready', flush=True)
want, got, deadline = int(sys.argv[2]), 0, time.time() + 8
while got < want and time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    p = os.read(fd, 65536)
    if p[0] >> 4 == 4 and p[9] in (6, 17):
        print(p.hex(), flush=True)
        got += 1
sys.exit(0 if got == want else 1)
`;

function parseMacText(s: string): Uint8Array {
  return Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));
}

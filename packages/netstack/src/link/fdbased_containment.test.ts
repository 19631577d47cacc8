// The fdbased link's receive loop survives a protocol handler that throws (stack/internal_error.ts): frames are
// sent across a veth pair the test creates (names carry the pid; no addresses, IPv6 off; removed in afterAll)
// from a second fdbased endpoint on the far end, and the stack on the near end must deliver the frames after the
// one its handler threw on, from inside the uv_poll callback, in both receive modes (recvmmsg and the mmap ring).
// Before the containment the exception left the native poll callback as an uncaught exception and the rest of
// the batch was lost. No namespace: the sender needs a packet socket on the far end, which a process can only
// open in its own namespace; a veth pair without addresses carries nothing but the frames sent here.
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PacketBuffer } from '../buffer/packet_buffer.js';
import { ManualClock } from '../stack/clock.js';
import { setInternalErrorLogger, type InternalErrorLogger } from '../stack/internal_error.js';
import { Stack } from '../stack/stack.js';
import { FdBasedEndpoint } from './fdbased.js';

const NEAR = `xa${process.pid}`.slice(0, 15);
const FAR = `xb${process.pid}`.slice(0, 15);
/** IEEE 802 "local experimental" EtherType 1. */
const EXPERIMENTAL_ETHERTYPE = 0x88b5;
const POISON = 0xee;
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe('fdbased receive loop containment over a veth pair', () => {
  beforeAll(() => {
    sh('ip', 'link', 'add', NEAR, 'type', 'veth', 'peer', 'name', FAR);
    for (const dev of [NEAR, FAR]) {
      sh('sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`);
      sh('ip', 'link', 'set', dev, 'up');
    }
  });
  afterAll(() => {
    try { sh('ip', 'link', 'del', NEAR); } catch { /* never created */ }
  });

  let logged: string[] = [];
  beforeEach(() => {
    logged = [];
    setInternalErrorLogger({ error: (_o: object, msg: string) => void logged.push(msg) } as unknown as InternalErrorLogger);
  });
  afterEach(() => setInternalErrorLogger(null));

  for (const rxRing of [false, true]) {
    it(`delivers the frames after one whose handler threw (${rxRing ? 'mmap ring' : 'recvmmsg'})`, async () => {
      const received: number[] = [];
      const stack = new Stack({
        networkProtocols: [() => ({
          etherType: EXPERIMENTAL_ETHERTYPE,
          family: undefined,
          newEndpoint: () => ({
            handlePacket(pkt: PacketBuffer): void {
              const tag = pkt.buf[pkt.head];
              if (tag === POISON) throw new TypeError('test: handler bug on a received frame');
              received.push(tag);
            },
            close(): void {},
          }),
        })],
        transportProtocols: [],
        clock: new ManualClock(),
      });
      const near = FdBasedEndpoint.open({ ifname: NEAR, gso: false, rxRing });
      const far = FdBasedEndpoint.open({ ifname: FAR, gso: false });
      try {
        expect(stack.createNIC(1, near)).toBeUndefined();
        const frames = [1, POISON, 2, 3].map((tag) => {
          const pkt = PacketBuffer.fromPayload(Uint8Array.of(tag, 0, 0, 0), far.maxHeaderLength);
          pkt.networkProtocol = EXPERIMENTAL_ETHERTYPE;
          pkt.remoteLinkAddress = near.linkAddress;
          return pkt;
        });
        expect(far.writePackets(frames)).toBe(4);
        await until(() => received.length >= 3);
        expect(received).toEqual([1, 2, 3]);
        expect(stack.stats.internalErrors.receive).toBe(1);
        expect(logged).toHaveLength(1);
        // The loop is still running: a later wake-up delivers too.
        const later = PacketBuffer.fromPayload(Uint8Array.of(4, 0, 0, 0), far.maxHeaderLength);
        later.networkProtocol = EXPERIMENTAL_ETHERTYPE;
        later.remoteLinkAddress = near.linkAddress;
        expect(far.writePackets([later])).toBe(1);
        await until(() => received.length >= 4);
        expect(received).toEqual([1, 2, 3, 4]);
        expect(stack.stats.internalErrors.receive).toBe(1);
      } finally {
        stack.close();
        far.close();
      }
    });
  }
});

import { afterEach, describe, expect, it } from 'vitest';
import { Address } from './address.js';
import { ManualClock } from './clock.js';
import { setInternalErrorLogger, type InternalErrorLogger } from './internal_error.js';
import { NeighborCache } from './neighbor_cache.js';
import { newStackStats } from './stats.js';

const MAC1 = Uint8Array.of(2, 0, 0, 0, 0, 1);
const MAC2 = Uint8Array.of(2, 0, 0, 0, 0, 2);

function setup() {
  const clock = new ManualClock();
  const solicits: { target: string; unicast: boolean }[] = [];
  const stats = newStackStats();
  const cache = new NeighborCache(clock, { solicit: (t, l) => solicits.push({ target: t.toString(), unicast: l !== undefined }) }, stats);
  return { clock, solicits, stats, cache };
}

describe('NeighborCache (RFC 4861 7.3 states)', () => {
  it('queues while INCOMPLETE and flushes on confirmation', () => {
    const { cache, solicits } = setup();
    const a = Address.parse('10.0.0.2');
    const got: (Uint8Array | undefined)[] = [];
    expect(cache.resolve(a, (l) => got.push(l))).toBeUndefined();
    expect(cache.resolve(a, (l) => got.push(l))).toBeUndefined();
    expect(solicits).toEqual([{ target: '10.0.0.2', unicast: false }]);
    cache.handleConfirmation(a, MAC1, true);
    expect(got).toEqual([MAC1, MAC1]);
    expect(cache.get(a)?.state).toBe('reachable');
    expect(cache.resolve(a, () => {})).toEqual(MAC1);
  });

  it('goes REACHABLE -> STALE -> DELAY -> PROBE and is deleted after unanswered probes', () => {
    const { cache, clock, solicits } = setup();
    const a = Address.parse('fe80::2');
    cache.resolve(a, () => {});
    cache.handleConfirmation(a, MAC1, true);
    clock.advance(30_000);
    expect(cache.get(a)?.state).toBe('stale');
    expect(cache.resolve(a, () => {})).toEqual(MAC1); // usable while stale
    expect(cache.get(a)?.state).toBe('delay');
    clock.advance(5000);
    expect(cache.get(a)?.state).toBe('probe');
    expect(solicits.at(-1)).toEqual({ target: 'fe80::2', unicast: true });
    clock.advance(3000);
    expect(cache.get(a)).toBeUndefined();
  });

  it('fails resolution after the multicast probes and fails fast for a while', () => {
    const { cache, clock, stats } = setup();
    const a = Address.parse('10.0.0.9');
    const got: (Uint8Array | undefined)[] = [];
    cache.resolve(a, (l) => got.push(l));
    clock.advance(3000);
    expect(got).toEqual([undefined]);
    expect(stats.neighbor.resolutionsFailed).toBe(1);
    cache.resolve(a, (l) => got.push(l));
    expect(got).toEqual([undefined, undefined]);
    clock.advance(3000);
    expect(cache.get(a)).toBeUndefined();
  });

  it('an override advertisement with a new link address replaces it; a non-override one only marks STALE', () => {
    const { cache } = setup();
    const a = Address.parse('fd00::5');
    cache.resolve(a, () => {});
    cache.handleConfirmation(a, MAC1, true);
    cache.handleConfirmation(a, MAC2, false, false);
    expect(cache.get(a)?.link).toEqual(MAC1);
    expect(cache.get(a)?.state).toBe('stale');
    cache.handleConfirmation(a, MAC2, true, true);
    expect(cache.get(a)?.link).toEqual(MAC2);
    expect(cache.get(a)?.state).toBe('reachable');
  });

  it('bounds the queue of an unresolved neighbour', () => {
    const { cache, stats } = setup();
    const a = Address.parse('10.0.0.3');
    const dropped: number[] = [];
    for (let i = 0; i < 40; i++) cache.resolve(a, (l) => l === undefined && dropped.push(i));
    expect(dropped.length).toBe(8);
    expect(stats.neighbor.queuedPacketsDropped).toBe(8);
  });

  it('stays within maxEntries when every entry is still resolving, failing the new resolution instead', () => {
    const clock = new ManualClock();
    const stats = newStackStats();
    let solicits = 0;
    const cache = new NeighborCache(clock, { solicit: () => { solicits++; } }, stats, { maxEntries: 4 });
    const failed: number[] = [];
    for (let i = 0; i < 100; i++) cache.resolve(Address.parse(`10.0.${i >> 8}.${i & 0xff}`), (l) => { if (!l) failed.push(i); });
    expect(cache.all().length).toBe(4);
    expect(failed).toEqual(Array.from({ length: 96 }, (_, i) => i + 4));
    expect(stats.neighbor.tableOverflows).toBe(96);
    expect(solicits).toBe(4);
    // Once they fail and expire, there is room again.
    clock.advance(10_000);
    expect(cache.resolve(Address.parse('10.1.0.1'), () => {})).toBeUndefined();
    expect(cache.get(Address.parse('10.1.0.1'))?.state).toBe('incomplete');
  });

  describe('a solicitation that throws (a bug in ARP/NDP or the link below)', () => {
    const logged: string[] = [];
    const logger = { error: (_o: object, msg: string) => void logged.push(msg) } as unknown as InternalErrorLogger;
    afterEach(() => setInternalErrorLogger(null));

    /** A cache whose resolver throws on the solicitations numbered in `failing` (1-based). */
    function throwingSetup(failing: number[]) {
      setInternalErrorLogger(logger);
      logged.length = 0;
      const clock = new ManualClock();
      const stats = newStackStats();
      let n = 0;
      const cache = new NeighborCache(clock, {
        solicit: () => {
          if (failing.includes(++n)) throw new Error('test: solicitation bug');
        },
      }, stats);
      return { clock, stats, cache, solicits: () => n };
    }

    it('on a retry timer: the retries go on and resolution still fails on time, releasing its waiters', () => {
      const { cache, clock, stats, solicits } = throwingSetup([2]);
      const a = Address.parse('10.0.0.2');
      const got: (Uint8Array | undefined)[] = [];
      cache.resolve(a, (l) => got.push(l));
      clock.advance(1000); // the second solicitation throws inside the timer callback
      expect(cache.get(a)?.state).toBe('incomplete');
      clock.advance(2000);
      expect(solicits()).toBe(3);
      expect(cache.get(a)?.state).toBe('unreachable');
      expect(got).toEqual([undefined]);
      expect(stats.neighbor.resolutionsFailed).toBe(1);
      expect(stats.internalErrors.transmit).toBe(1);
      expect(logged).toHaveLength(1);
    });

    it('on the first solicitation: the caller sees no exception and a late answer still resolves', () => {
      const { cache, clock, stats } = throwingSetup([1]);
      const a = Address.parse('10.0.0.2');
      const got: (Uint8Array | undefined)[] = [];
      expect(cache.resolve(a, (l) => got.push(l))).toBeUndefined();
      clock.advance(1000); // the retry goes out
      cache.handleConfirmation(a, MAC1, true);
      expect(got).toEqual([MAC1]);
      expect(stats.internalErrors.transmit).toBe(1);
    });

    it('while probing a STALE neighbour: the entry is still deleted after the unicast probes', () => {
      const { cache, clock, stats } = throwingSetup([2, 3]);
      const a = Address.parse('fe80::2');
      cache.resolve(a, () => {});
      cache.handleConfirmation(a, MAC1, true);
      clock.advance(30_000);
      cache.resolve(a, () => {}); // STALE -> DELAY
      clock.advance(5000); // DELAY -> PROBE: solicitation 2 throws; then 3 throws on the retry timer
      clock.advance(3000);
      expect(cache.get(a)).toBeUndefined();
      expect(stats.internalErrors.transmit).toBe(2);
    });
  });
});

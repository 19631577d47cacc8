// SystemClock's timers are the last-resort containment for a timer callback that throws (clock.ts): before it, the
// exception left setTimeout as an uncaught exception, which ends the process (vitest reports it as an unhandled
// error and fails the run).
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, SystemClock } from './clock.js';
import { setInternalErrorLogger, type InternalErrorLogger } from './internal_error.js';

const logged: string[] = [];
afterEach(() => setInternalErrorLogger(null));

describe('SystemClock timers', () => {
  it('a callback that throws is logged once per message and later timers still fire', async () => {
    logged.length = 0;
    setInternalErrorLogger({ error: (_o: object, msg: string) => void logged.push(msg) } as unknown as InternalErrorLogger);
    const clock = new SystemClock();
    const fired: number[] = [];
    clock.afterFunc(1, () => { throw new Error('test: timer callback bug'); });
    clock.afterFunc(2, () => { throw new Error('test: timer callback bug'); });
    const t = clock.afterFunc(3, () => fired.push(1));
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toEqual([1]);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('test: timer callback bug');
    // The timer that fired can be re-armed as before.
    t.reset(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toEqual([1, 1]);
  });

  it('ManualClock lets the exception through to advance() (tests see their bugs)', () => {
    const clock = new ManualClock();
    clock.afterFunc(1, () => { throw new Error('test: visible'); });
    expect(() => clock.advance(1)).toThrow('test: visible');
  });
});

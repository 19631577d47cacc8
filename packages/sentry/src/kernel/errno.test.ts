import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { Errno, errnoName } from './errno.js';

describe('errno table', () => {
  it('agrees with the host libc for every errno Node knows', () => {
    for (const [name, value] of Object.entries(constants.errno)) {
      if (name in Errno) expect(Errno[name as keyof typeof Errno], name).toBe(value);
    }
  });
  it('names values', () => {
    expect(errnoName(2)).toBe('ENOENT');
    expect(errnoName(99999)).toBe('errno 99999');
  });
});

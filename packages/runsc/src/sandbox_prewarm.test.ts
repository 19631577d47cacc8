import { describe, expect, it } from 'vitest';
import { startsSandbox } from './sandbox_prewarm.js';

describe('startsSandbox', () => {
  it('is true for run, create and do, past global flags and their values', () => {
    expect(startsSandbox(['run', '--bundle', 'b', 'id'])).toBe(true);
    expect(startsSandbox(['--root', '/run/x', '--log', 'create', 'create', '--bundle', 'b', 'id'])).toBe(true);
    expect(startsSandbox(['--debug', '--network=none', 'do', '--', 'ls'])).toBe(true);
  });

  it('is false for other commands, help, version, and a flag value that looks like a command', () => {
    expect(startsSandbox(['state', 'id'])).toBe(false);
    expect(startsSandbox(['--root', 'run', 'state', 'id'])).toBe(false);
    expect(startsSandbox(['run', '--help'])).toBe(false);
    expect(startsSandbox(['--version'])).toBe(false);
    expect(startsSandbox([])).toBe(false);
  });
});

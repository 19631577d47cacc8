import { describe, expect, it } from 'vitest';
import { DEFAULT_PATH } from './default_spec.js';
import { doSpec } from './run_commands.js';

describe('runsc do spec', () => {
  it('passes the caller environment, cwd and command through', () => {
    const spec = doSpec(['/bin/env'], { HOME: '/root', LANG: 'C.UTF-8', PATH: '/usr/bin' }, '/srv');
    expect(spec.process?.args).toEqual(['/bin/env']);
    expect(spec.process?.cwd).toBe('/srv');
    expect(spec.process?.env).toEqual(['PATH=/usr/bin', 'HOME=/root', 'LANG=C.UTF-8']);
  });

  it('gives PATH a default when the caller has none', () => {
    expect(doSpec(['x'], { TERM: 'xterm' }).process?.env).toEqual([`PATH=${DEFAULT_PATH}`, 'TERM=xterm']);
  });

  it('serves the host root under a memory overlay, never writable through to the host', () => {
    const spec = doSpec(['x'], {});
    expect(spec.root?.path).toBe('/');
    expect(spec.mounts?.map((m) => m.destination)).toContain('/proc');
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runHooks } from './oci_hooks.js';
import { validateOciConfig } from './oci_config.js';
import { defaultSpec } from './default_spec.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-hooks-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('runHooks', () => {
  it('runs hooks in order with the state on stdin, execv-style args and only the given env', async () => {
    const out = path.join(dir, 'out');
    const hooks = {
      createRuntime: [
        { path: '/bin/sh', args: ['sh', '-c', `cat > ${out}.1; echo "$0 $1 [$FOO] [$HOME]" >> ${out}.1`, 'first'], env: ['FOO=bar'] },
        { path: '/bin/sh', args: ['sh', '-c', `test -s ${out}.1 && echo second > ${out}.2`] },
      ],
    };
    await runHooks('createRuntime', hooks, { id: 'c1', status: 'creating' });
    expect(fs.readFileSync(`${out}.1`, 'utf8')).toBe('{"id":"c1","status":"creating"}first  [bar] []\n');
    expect(fs.readFileSync(`${out}.2`, 'utf8')).toBe('second\n');
  });

  it('fails on a non-zero exit (naming the hook and its stderr) and skips the rest', async () => {
    const hooks = {
      poststart: [
        { path: '/bin/sh', args: ['sh', '-c', 'echo broken >&2; exit 3'] },
        { path: '/bin/sh', args: ['sh', '-c', `touch ${dir}/ran`] },
      ],
    };
    await expect(runHooks('poststart', hooks, {})).rejects.toThrow('poststart hook /bin/sh exited with 3: broken');
    expect(fs.existsSync(path.join(dir, 'ran'))).toBe(false);
  });

  it('kills a hook past its timeout, and reports a missing program', async () => {
    const started = Date.now();
    await expect(runHooks('prestart', { prestart: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] }, {})).rejects.toThrow(
      'prestart hook /bin/sleep timed out after 1 s',
    );
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(runHooks('poststop', { poststop: [{ path: '/no/such/hook' }] }, {})).rejects.toThrow(/poststop hook \/no\/such\/hook: cannot run/);
  });

  it('is validated by the config schema', () => {
    const spec = { ...defaultSpec(), hooks: { poststart: [{ path: 'relative', timeout: 0 }] } };
    expect(validateOciConfig(spec)).toEqual([
      'hooks.poststart[0].path: must be an absolute path (starting with "/") (got "relative")',
      'hooks.poststart[0].timeout: must be a number of seconds greater than zero (got 0)',
    ]);
  });
});

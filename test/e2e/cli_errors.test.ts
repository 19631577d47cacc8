// Bad input to the runsc CLI: each case is a clear message on stderr, a non-zero exit, and nothing left behind in
// the state root. These need no running sandbox.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, busyboxBundle, repoRoot, runsc, runscAsync, tempDir } from './runsc_cli.js';

let work: string;
let root: string;
beforeAll(assertBuilt);
beforeEach(() => {
  work = tempDir('cli');
  root = path.join(work, 'state');
});
afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function stateRootEntries(): string[] {
  return fs.existsSync(root) ? fs.readdirSync(root) : [];
}

describe('runsc spec', () => {
  it("writes runc's default config and refuses to overwrite it", () => {
    const bundle = path.join(work, 'b');
    fs.mkdirSync(bundle);
    expect(runsc(['spec', '--bundle', bundle]).status).toBe(0);
    const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    expect(config.process).toMatchObject({ terminal: true, args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } });
    expect(config.root).toEqual({ path: 'rootfs', readonly: true });
    const again = runsc(['spec'], { cwd: bundle });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('exists');
  });

  it('writes a rootless variant with a user namespace and no network namespace', () => {
    expect(runsc(['spec', '--rootless', '--bundle', work]).status).toBe(0);
    const config = JSON.parse(fs.readFileSync(path.join(work, 'config.json'), 'utf8'));
    const types = config.linux.namespaces.map((n: { type: string }) => n.type);
    expect(types).toContain('user');
    expect(types).not.toContain('network');
    expect(config.linux.uidMappings).toEqual([{ containerID: 0, hostID: process.getuid!(), size: 1 }]);
  });
});

describe('bad input', () => {
  it('missing bundle', () => {
    const result = runsc(['--root', root, 'create', '--bundle', path.join(work, 'nope'), 'c1']);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`runsc: bundle ${path.join(work, 'nope')} does not exist\n`);
    expect(stateRootEntries()).toEqual([]);
  });

  it('invalid config.json names the bad field', () => {
    const bundle = busyboxBundle(path.join(work, 'b'), (s) => (s.process.args = []));
    for (const command of ['create', 'run']) {
      const result = runsc(['--root', root, command, '--bundle', bundle, 'c1']);
      expect(result.status).toBe(1);
      expect(result.stderr).toBe('runsc: config.json: process.args: must be a non-empty array of strings (got [])\n');
    }
    fs.writeFileSync(path.join(bundle, 'config.json'), '{not json');
    expect(runsc(['--root', root, 'create', '--bundle', bundle, 'c1']).stderr).toMatch(/^runsc: config.json: not valid JSON/);
    expect(stateRootEntries()).toEqual([]);
  });

  it('unknown id for state, start, kill, delete, ps', () => {
    for (const args of [['state', 'x'], ['start', 'x'], ['kill', 'x', 'KILL'], ['delete', 'x'], ['ps', 'x']]) {
      const result = runsc(['--root', root, ...args]);
      expect(result.status, args.join(' ')).toBe(1);
      expect(result.stderr).toBe(`runsc: container x does not exist (in ${root})\n`);
    }
    // runc delete --force of a missing container succeeds, so cleanup can be unconditional.
    expect(runsc(['--root', root, 'delete', '--force', 'x']).status).toBe(0);
    expect(stateRootEntries()).toEqual([]);
  });

  it('invalid id, unknown signal, unknown command, unknown flag', () => {
    const bundle = busyboxBundle(path.join(work, 'b'));
    expect(runsc(['--root', root, 'create', '--bundle', bundle, '../evil']).stderr).toMatch(/^runsc: invalid container id/);
    expect(runsc(['--root', root, 'kill', 'x', 'SIGNOPE']).stderr).toBe('runsc: unknown signal "SIGNOPE"\n');
    const unknown = runsc(['--root', root, 'frobnicate']);
    expect([unknown.status, unknown.stderr]).toEqual([1, expect.stringContaining('frobnicate')]);
    expect(runsc(['--root', root, 'list', '--bogus']).status).toBe(1);
    expect(stateRootEntries()).toEqual([]);
  });

  it('accepts runc global flags and writes errors to --log in runc json format', () => {
    const log = path.join(work, 'log.json');
    const result = runsc(['--root', root, '--log', log, '--log-format', 'json', '--systemd-cgroup', 'state', 'gone']);
    expect(result.status).toBe(1);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ level: 'error', msg: `container gone does not exist (in ${root})`, code: 'ENOCONTAINER' });
    expect(lines.at(-1).time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('list of an empty or missing root', () => {
    expect(runsc(['--root', root, 'list', '--format', 'json']).stdout).toBe('[]\n');
    expect(runsc(['--root', root, 'list']).stdout).toBe('ID PID STATUS BUNDLE CREATED OWNER\n');
  });
});

describe('state store under concurrent runsc processes', () => {
  it('serialises read-modify-write across processes: no update is lost', async () => {
    const store = path.join(repoRoot, 'packages/runsc/dist/state_store.js');
    const script = `
      const { StateStore } = await import(${JSON.stringify(store)});
      const s = new StateStore(${JSON.stringify(root)});
      for (let i = 0; i < 25; i++) s.update('c', (st) => ({ ...st, pid: st.pid + 1 }));
    `;
    fs.mkdirSync(path.join(root, 'c'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'c', 'state.json'),
      JSON.stringify({ ociVersion: '1.2.0', id: 'c', status: 'stopped', pid: 0, bundle: '/', rootfs: '/', created: '', owner: '', controlSocket: '' }),
    );
    const { spawn } = await import('node:child_process');
    const writers = Array.from({ length: 6 }, () => new Promise<number | null>((resolve) => {
      spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' }).on('close', resolve);
    }));
    expect(await Promise.all(writers)).toEqual(Array(6).fill(0));
    const state = JSON.parse(fs.readFileSync(path.join(root, 'c', 'state.json'), 'utf8'));
    expect(state.pid).toBe(150);
    expect(fs.readdirSync(path.join(root, 'c'))).toEqual(['state.json']);
    // And runsc itself reads it while it is being hammered.
    const reads = await Promise.all([runscAsync(['--root', root, 'state', 'c']), runscAsync(['--root', root, 'list', '-q'])]);
    expect(JSON.parse(reads[0]!.stdout)).toMatchObject({ id: 'c', status: 'stopped', pid: 0 });
    expect(reads[1]!.stdout).toBe('c\n');
  });
});

// What Docker and containerd read or change about runsc: runsc install (daemon.json) and runsc features.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { assertBuilt, runsc, runscBin, tempDir } from './runsc_cli.js';

let work: string;
beforeAll(assertBuilt);
beforeEach(() => {
  work = tempDir('install');
});
afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

it('adds the runtime, keeps other settings, passes runtime args after --', () => {
  const file = path.join(work, 'daemon.json');
  fs.writeFileSync(file, JSON.stringify({ 'log-level': 'debug', runtimes: { other: { path: '/usr/bin/other' } } }));
  const result = runsc(['install', '--config-file', file, '--runtime', 'tsvisor', '--', '--network=host']);
  expect(result.status).toBe(0);
  expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
    'log-level': 'debug',
    runtimes: {
      other: { path: '/usr/bin/other' },
      tsvisor: { path: fs.realpathSync(runscBin), runtimeArgs: ['--network=host'] },
    },
  });
  expect(fs.readdirSync(work)).toEqual(['daemon.json']);
});

it('creates a missing daemon.json and refuses a malformed one without touching it', () => {
  const fresh = path.join(work, 'docker', 'daemon.json');
  expect(runsc(['install', '--config-file', fresh]).status).toBe(0);
  expect(JSON.parse(fs.readFileSync(fresh, 'utf8')).runtimes.runsc.path).toBe(fs.realpathSync(runscBin));
  const bad = path.join(work, 'bad.json');
  fs.writeFileSync(bad, '{"runtimes": [');
  const result = runsc(['install', '--config-file', bad]);
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(/^runsc: .*bad.json: not valid JSON/);
  expect(fs.readFileSync(bad, 'utf8')).toBe('{"runtimes": [');
});

it('features prints the runtime-spec features structure', () => {
  const result = runsc(['features']);
  expect(result.status).toBe(0);
  const features = JSON.parse(result.stdout);
  expect(features).toMatchObject({ ociVersionMin: '1.0.0', ociVersionMax: '1.2.0' });
  expect(features.hooks).toContain('createRuntime');
  expect(features.linux.namespaces).toContain('pid');
});

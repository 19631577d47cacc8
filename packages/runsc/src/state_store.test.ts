import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from './state_lock.js';
import { processStartTime } from './process_identity.js';
import { RuntimeError } from './runtime_error.js';
import { StateStore, type ContainerState } from './state_store.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-state-'));
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function sampleState(id: string, extra: Partial<ContainerState> = {}): ContainerState {
  return {
    ociVersion: '1.2.0',
    id,
    status: 'created',
    pid: 0,
    bundle: '/b',
    rootfs: '/b/rootfs',
    created: new Date(0).toISOString(),
    owner: 'root',
    controlSocket: '/x',
    ...extra,
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as RuntimeError).code;
  }
  return undefined;
}

describe('StateStore', () => {
  it('claims an id once: a second claim is EEXIST', () => {
    const store = new StateStore(root);
    store.claim('c1');
    expect(codeOf(() => store.claim('c1'))).toBe('EEXIST');
  });

  it('refuses ids that are not one safe path component', () => {
    const store = new StateStore(root);
    for (const id of ['..', '.hidden', 'a/b', '', 'x y']) expect(codeOf(() => store.claim(id))).toBe('EBADID');
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('writes atomically: the content round-trips and no temporary file is left', () => {
    const store = new StateStore(root);
    store.claim('c1');
    store.write(sampleState('c1', { pid: 42 }));
    store.write(sampleState('c1', { pid: 43, status: 'running' }));
    expect(store.read('c1')).toMatchObject({ pid: 43, status: 'running' });
    expect(fs.readdirSync(path.join(root, 'c1'))).toEqual(['state.json']);
  });

  it('reports an unknown id as ENOCONTAINER for read, lock and update', () => {
    const store = new StateStore(root);
    expect(codeOf(() => store.read('nope'))).toBe('ENOCONTAINER');
    expect(codeOf(() => store.lock('nope'))).toBe('ENOCONTAINER');
    expect(codeOf(() => store.update('nope', (s) => s))).toBe('ENOCONTAINER');
  });

  it('lists containers with state and removes them completely', () => {
    const store = new StateStore(root);
    for (const id of ['b', 'a']) {
      store.claim(id);
      store.write(sampleState(id));
    }
    store.claim('half'); // claimed but no state yet: not listed
    expect(store.list()).toEqual(['a', 'b']);
    store.remove('a');
    store.remove('half');
    store.remove('missing'); // no error
    expect(store.list()).toEqual(['b']);
    expect(fs.readdirSync(root)).toEqual(['b']);
  });

  it('update holds the lock: a concurrent holder makes it wait, then it proceeds', () => {
    const store = new StateStore(root);
    store.claim('c1');
    store.write(sampleState('c1'));
    const held = store.lock('c1');
    expect(codeOf(() => store.lock('c1', 50))).toBe('ELOCKED');
    held.release();
    expect(store.update('c1', (s) => ({ ...s, pid: 7 })).pid).toBe(7);
    expect(fs.readdirSync(path.join(root, 'c1'))).toEqual(['state.json']);
  });
});

describe('acquireLock', () => {
  it('waits for a live holder in another process and times out with ELOCKED', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const lockFile = path.join(root, 'lock');
      fs.writeFileSync(lockFile, `${child.pid} ${processStartTime(child.pid!)}\n`);
      const started = Date.now();
      expect(codeOf(() => acquireLock(lockFile, 150))).toBe('ELOCKED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('breaks a lock whose holder died (or whose pid was recycled)', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    const lockFile = path.join(root, 'lock');
    fs.writeFileSync(lockFile, `${child.pid} 12345\n`);
    const held = acquireLock(lockFile, 1000);
    expect(fs.readFileSync(lockFile, 'utf8')).toBe(`${process.pid} ${processStartTime(process.pid)}\n`);
    held.release();
    expect(fs.existsSync(lockFile)).toBe(false);
    // Our own pid with a start time that is not ours: a recycled pid, so the lock is stale too.
    fs.writeFileSync(lockFile, `${process.pid} 1\n`);
    acquireLock(lockFile, 1000).release();
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { currentStatus, runcStateView } from './container_status.js';
import { processStartTime } from './process_identity.js';
import type { ContainerState } from './state_store.js';

const base: ContainerState = {
  ociVersion: '1.2.0',
  id: 'c1',
  status: 'running',
  pid: process.pid,
  bundle: '/b',
  rootfs: '/b/rootfs',
  created: '2026-01-01T00:00:00.000Z',
  owner: 'root',
  controlSocket: '/b/control.sock',
};

describe('container status', () => {
  it('trusts state.json while the recorded sentry lives', () => {
    const state = { ...base, sentryStartTime: processStartTime(process.pid)! };
    expect(currentStatus(state)).toBe('running');
    expect(runcStateView(state)).toEqual({
      ociVersion: '1.2.0',
      id: 'c1',
      pid: process.pid,
      status: 'running',
      bundle: '/b',
      rootfs: '/b/rootfs',
      created: '2026-01-01T00:00:00.000Z',
      owner: 'root',
    });
  });

  it('is stopped (pid 0 in the view) once the sentry is gone, or its pid was reused', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    expect(runcStateView({ ...base, pid: child.pid! })).toMatchObject({ status: 'stopped', pid: 0 });
    expect(currentStatus({ ...base, sentryStartTime: '1' })).toBe('stopped');
  });

  it('shows annotations only when there are some', () => {
    expect(runcStateView({ ...base, status: 'stopped', annotations: { a: 'b' } }).annotations).toEqual({ a: 'b' });
    expect(runcStateView({ ...base, status: 'stopped', annotations: {} })).not.toHaveProperty('annotations');
  });
});

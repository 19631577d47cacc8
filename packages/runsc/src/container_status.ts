// A container's current status and the runc-compatible view of its state. state.json records what runsc last
// did; whether the sandbox still lives is read from the host: when the sentry process is gone (or its pid now
// belongs to another process), the container is stopped, whatever state.json says.
import { isSameProcessAlive } from './process_identity.js';
import type { ContainerState, ContainerStatus } from './state_store.js';

export function currentStatus(state: ContainerState): ContainerStatus {
  if (state.status === 'stopped') return 'stopped';
  if (state.pid > 0 && !isSameProcessAlive(state.pid, state.sentryStartTime)) return 'stopped';
  return state.status;
}

/** What `runc state` prints (runtime-spec runtime.md "State", plus runc's rootfs/created/owner). */
export interface RuncStateView {
  ociVersion: string;
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function runcStateView(state: ContainerState): RuncStateView {
  const status = currentStatus(state);
  const view: RuncStateView = {
    ociVersion: state.ociVersion,
    id: state.id,
    // runtime.md: pid is REQUIRED when the status is created or running; runc reports 0 once stopped.
    pid: status === 'stopped' ? 0 : state.pid,
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    owner: state.owner,
  };
  if (state.annotations && Object.keys(state.annotations).length > 0) view.annotations = state.annotations;
  return view;
}

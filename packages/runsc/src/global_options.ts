// The flags every runsc command accepts: runc's global flags (so Docker, Podman and containerd can call runsc as
// they call runc) and gVisor's sandbox flags.
import type { LogFormat, NetworkMode } from '@tsvisor/sentry/boot';

export interface GlobalOptions {
  /** State root (runc --root). */
  root: string;
  /** Log file for runsc's own messages (runc --log); stderr if absent. */
  log?: string;
  logFormat: LogFormat;
  debug: boolean;
  /** gVisor --debug-log: where the sentry writes its log. */
  debugLog?: string;
  /** Accepted for runc compatibility; tsvisor puts no host processes in cgroups of its own. */
  systemdCgroup: boolean;
  network: NetworkMode;
  gso: boolean;
  platform: string;
  overlay2: string;
}

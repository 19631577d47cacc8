// A new application task: a host process in a new pid namespace, traced by the calling thread, chrooted into an
// empty directory, with no host fds, running as an unprivileged host uid, under the task seccomp filter, having
// exec'ed the stub (see task.c).
import { addon } from './index.js';

export interface SpawnedTask {
  /** Host pid (in the sentry's pid namespace); inside the task's namespace it is 1. */
  pid: number;
  /** The seccomp user-notification listener of the task's filter (close-on-exec, in the sentry). */
  listenerFd: number;
}

/**
 * The host credentials a task runs with. They are not the sandbox's identity (getuid and friends are answered by
 * the sentry from the OCI spec): they bound what the host kernel lets the task process do if anything slipped
 * past the filter. Both must be non-zero.
 */
export interface TaskHostIdentity {
  uid: number;
  gid: number;
}

/** nobody:nogroup. Shared with other sandboxes and host daemons running as nobody; a per-sandbox id is better. */
export const DEFAULT_TASK_HOST_IDENTITY: Readonly<TaskHostIdentity> = Object.freeze({ uid: 65534, gid: 65534 });

interface TaskAddon {
  spawnTask(root: string, filter: Uint8Array, stub: Uint8Array, uid: number, gid: number): SpawnedTask;
}

/**
 * Creates a task and leaves it in the PTRACE_EVENT_EXEC stop of the stub. `filter` is struct sock_filter[] and
 * must return SECCOMP_RET_TRACE for execveat (the stub is exec'ed with it; the tracer takes the listener fd at
 * that stop). `root` must be an empty directory the host identity can search. Must be called from the thread that
 * will trace the task, by a process with CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID and CAP_SYS_PTRACE (root).
 * Throws TypeError when the identity is 0 or not an id.
 */
export function spawnTask(
  root: string,
  filter: Uint8Array,
  stub: Uint8Array,
  hostIdentity: Readonly<TaskHostIdentity> = DEFAULT_TASK_HOST_IDENTITY,
): SpawnedTask {
  // The addon would truncate a fraction; an id that is not a whole number is a caller's mistake.
  if (!Number.isInteger(hostIdentity.uid) || !Number.isInteger(hostIdentity.gid)) {
    throw new TypeError(`spawnTask: host uid and gid must be integers, got ${hostIdentity.uid}:${hostIdentity.gid}`);
  }
  return (addon as unknown as TaskAddon).spawnTask(root, filter, stub, hostIdentity.uid, hostIdentity.gid);
}

// A new application task: a host process in a new pid namespace, traced by the calling thread, chrooted into an
// empty directory, with no host fds, under the task seccomp filter, having exec'ed the stub (see task.c).
import { addon } from './index.js';

export interface SpawnedTask {
  /** Host pid (in the sentry's pid namespace); inside the task's namespace it is 1. */
  pid: number;
  /** The seccomp user-notification listener of the task's filter (close-on-exec, in the sentry). */
  listenerFd: number;
}

interface TaskAddon {
  spawnTask(root: string, filter: Uint8Array, stub: Uint8Array): SpawnedTask;
}

/**
 * Creates a task and leaves it in the PTRACE_EVENT_EXEC stop of the stub. `filter` is struct sock_filter[] and
 * must return SECCOMP_RET_TRACE for execveat (the stub is exec'ed with it; the tracer takes the listener fd at
 * that stop). `root` must be an empty directory. Must be called from the thread that will trace the task.
 */
export function spawnTask(root: string, filter: Uint8Array, stub: Uint8Array): SpawnedTask {
  return (addon as unknown as TaskAddon).spawnTask(root, filter, stub);
}

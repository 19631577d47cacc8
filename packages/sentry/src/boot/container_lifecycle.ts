// The container's lifecycle inside the sentry (runtime-spec runtime.md "Lifecycle"): created after boot, running
// once `start` runs the init process, stopped when init ends. The sentry process itself exits with init's status,
// which containerd's shim and conmon read as the container's exit status.
import type { ControlContainerStatus, ExitStatus, ProcessSummary } from './control_protocol.js';

/** Runs the container's init process; supplied by the boot code that owns the Kernel. */
export interface InitLauncher {
  /** Starts init; the promise settles with how it ended. */
  run(): Promise<ExitStatus>;
  /** Delivers `signal` to init, or with `all` to every task of the container. */
  signal(signal: number, all: boolean): void;
  /** The container's processes (pids as the container sees them). */
  processes(): ProcessSummary[];
  /** Stops every task of the container / continues them. */
  pause(): void;
  resume(): void;
}

export class LifecycleError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

// signal(7): signals whose default action is to ignore. Sent before start, they change nothing, as they would
// not kill a process waiting to exec.
const IGNORED_BY_DEFAULT = new Set([17 /* SIGCHLD */, 18 /* SIGCONT */, 23 /* SIGURG */, 28 /* SIGWINCH */]);

export class ContainerLifecycle {
  #status: ControlContainerStatus = 'created';
  #exit: ExitStatus | undefined;
  readonly #waiters: Array<(status: ExitStatus) => void> = [];
  readonly #launcher: InitLauncher;

  constructor(launcher: InitLauncher) {
    this.#launcher = launcher;
  }

  status(): ControlContainerStatus {
    return this.#status;
  }

  exitStatus(): ExitStatus | undefined {
    return this.#exit;
  }

  /** runtime.md "start": runs the user-specified program; an error unless the container is created. */
  start(): void {
    if (this.#status !== 'created') {
      throw new LifecycleError('EBADSTATE', `cannot start a container that is ${this.#status}`);
    }
    this.#status = 'running';
    let running: Promise<ExitStatus>;
    try {
      running = this.#launcher.run();
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (status) => this.#finish(status),
      // Init could not be run (e.g. exec failed before the app started): report it as a shell does for a
      // command that cannot be executed (exit 127 is "command not found", sh(1p)).
      () => this.#finish({ exitCode: 127 }),
    );
  }

  /** runtime.md "kill": only a created or running container can be signalled. */
  kill(signal: number, all: boolean): void {
    if (this.#status === 'running' || this.#status === 'paused') {
      this.#launcher.signal(signal, all);
      return;
    }
    if (this.#status === 'created') {
      // Nothing has run yet: a terminating signal ends the container as it would end a process about to exec.
      if (!IGNORED_BY_DEFAULT.has(signal)) this.#finish({ signal });
      return;
    }
    throw new LifecycleError('EBADSTATE', `cannot signal a container that is ${this.#status}`);
  }

  /** runc pause: only a running container can be paused. */
  pause(): void {
    if (this.#status !== 'running') throw new LifecycleError('EBADSTATE', `cannot pause a container that is ${this.#status}`);
    this.#launcher.pause();
    this.#status = 'paused';
  }

  /** runc resume: only a paused container can be resumed. */
  resume(): void {
    if (this.#status !== 'paused') throw new LifecycleError('EBADSTATE', `cannot resume a container that is ${this.#status}`);
    this.#launcher.resume();
    this.#status = 'running';
  }

  processes(): ProcessSummary[] {
    return this.#status === 'running' || this.#status === 'paused' ? this.#launcher.processes() : [];
  }

  /** Resolves with init's exit status once the container has stopped. */
  wait(): Promise<ExitStatus> {
    if (this.#exit) return Promise.resolve(this.#exit);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #finish(status: ExitStatus): void {
    if (this.#exit) return;
    this.#exit = status;
    this.#status = 'stopped';
    for (const resolve of this.#waiters.splice(0)) resolve(status);
  }
}

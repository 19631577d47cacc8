// create, start, kill and delete (runtime-spec runtime.md "Operations", with runc's command-line behaviour).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { currentStatus, runcStateView } from './container_status.js';
import { runHooks } from './oci_hooks.js';
import { controlRequest } from './control_client.js';
import type { GlobalOptions } from './global_options.js';
import { loadBundle } from './oci_config.js';
import { OCI_VERSION, type OciSpec } from './oci_spec.js';
import { isSameProcessAlive } from './process_identity.js';
import { RuntimeError } from './runtime_error.js';
import { launchSandbox, type LaunchedSandbox } from './sandbox_launcher.js';
import { StateStore, type ContainerState } from './state_store.js';

export interface CreateRequest {
  id: string;
  global: GlobalOptions;
  logger: Logger;
  /** Either a bundle directory (read and validated here) or an already-built spec (runsc do). */
  bundle: string;
  spec?: { spec: OciSpec; rootfs: string };
  pidFile?: string;
  /** runc --console-socket: where to send the pty master of a terminal container. */
  consoleSocket?: string;
  overlay2?: string;
  stdio?: [number, number, number];
}

/** Writes the pid file as runc does: to a temp file renamed into place, so a reader never sees it half-written. */
function writePidFile(pidFile: string, pid: number): void {
  const target = path.resolve(pidFile);
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}`);
  fs.writeFileSync(temp, String(pid), { mode: 0o644 });
  fs.renameSync(temp, target);
}

function ownerName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '');
  }
}

/**
 * runsc create: validates the bundle first (a bad config leaves nothing in the state root), claims the id,
 * boots the sandbox and records it as created. On any failure the container directory is removed again.
 */
export async function createContainer(request: CreateRequest): Promise<{ state: ContainerState; sandbox: LaunchedSandbox }> {
  const store = new StateStore(request.global.root);
  store.containerDir(request.id); // validates the id before anything else
  const loaded = request.spec
    ? { bundle: path.resolve(request.bundle), spec: request.spec.spec, rootfs: request.spec.rootfs }
    : loadBundle(request.bundle);
  if (request.consoleSocket !== undefined && loaded.spec.process?.terminal) {
    // Docker/containerd with -t wait for a pty master on this socket; failing now beats leaving them hanging.
    throw new RuntimeError('ENOTSUP', 'process.terminal with --console-socket: terminals are not supported by tsvisor yet');
  }
  const dir = store.claim(request.id);
  let sandbox: LaunchedSandbox | undefined;
  try {
    const base: ContainerState = {
      ociVersion: OCI_VERSION,
      id: request.id,
      status: 'creating',
      pid: 0,
      bundle: loaded.bundle,
      rootfs: loaded.rootfs,
      created: new Date().toISOString(),
      owner: ownerName(),
      controlSocket: path.join(dir, 'control.sock'),
    };
    if (loaded.spec.annotations) base.annotations = loaded.spec.annotations;
    store.withLock(request.id, () => store.write(base));
    const launchOptions: Parameters<typeof launchSandbox>[0] = {
      id: request.id,
      stateDir: dir,
      spec: loaded.spec,
      bundle: loaded.bundle,
      rootfs: loaded.rootfs,
      global: request.global,
      stdio: request.stdio ?? [0, 1, 2],
    };
    if (request.overlay2 !== undefined) launchOptions.overlay2 = request.overlay2;
    sandbox = await launchSandbox(launchOptions);
    const launched = sandbox;
    const state = store.update(request.id, (s) => ({
      ...s,
      status: 'created',
      pid: launched.sentryPid,
      sentryStartTime: launched.sentryStartTime,
      goferPid: launched.goferPid,
      goferStartTime: launched.goferStartTime,
      controlSocket: launched.controlSocket,
    }));
    // runtime.md "Lifecycle" steps 4-6: prestart (deprecated) and createRuntime, then createContainer, with the
    // state as it is while creating; a failure ends the creation (the catch below removes the container).
    const creating = { ...runcStateView(state), status: 'creating' as const };
    for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) await runHooks(kind, loaded.spec.hooks, creating);
    if (request.pidFile !== undefined) writePidFile(request.pidFile, launched.sentryPid);
    request.logger.info({ id: request.id, pid: launched.sentryPid }, 'container created');
    return { state, sandbox };
  } catch (err) {
    if (sandbox) killSandbox({ pid: sandbox.sentryPid, sentryStartTime: sandbox.sentryStartTime, goferPid: sandbox.goferPid, goferStartTime: sandbox.goferStartTime });
    store.remove(request.id);
    throw err;
  }
}

/** The hooks of the spec frozen at create (the bundle's config.json may have changed since). */
function frozenHooks(store: StateStore, id: string): Record<string, unknown> | undefined {
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(store.containerDir(id), 'config.json'), 'utf8')) as OciSpec;
    return spec.hooks;
  } catch {
    return undefined;
  }
}

/** Reads the container's state and checks its current status is one of `allowed`. */
function stateIn(store: StateStore, id: string, allowed: string[], action: string): ContainerState {
  const state = store.read(id);
  const status = currentStatus(state);
  if (!allowed.includes(status)) {
    throw new RuntimeError('EBADSTATE', `cannot ${action} container ${id}: it is ${status}`);
  }
  return { ...state, status };
}

/** runsc start: runs the user program of a created container. */
export async function startContainer(global: GlobalOptions, id: string, logger?: Logger): Promise<void> {
  const store = new StateStore(global.root);
  const held = store.lock(id);
  let running: ContainerState;
  try {
    const state = stateIn(store, id, ['created'], 'start');
    const hooks = frozenHooks(store, id);
    try {
      await runHooks('startContainer', hooks, runcStateView(state));
    } catch (err) {
      // runtime.md: a failed startContainer hook stops the container; it is left for delete.
      killSandbox(state);
      throw err;
    }
    await controlRequest(state.controlSocket, { op: 'start' });
    running = { ...state, status: 'running' };
    store.write(running);
  } finally {
    held.release();
  }
  // runtime.md: poststart hooks run after the user program started; their failure is only a warning.
  await runHooks('poststart', frozenHooks(store, id), runcStateView(running)).catch((err: Error) =>
    logger?.warn({ id }, err.message),
  );
}

/** runsc kill: forwards a signal to the container's init (or all its processes). */
export async function killContainer(global: GlobalOptions, id: string, signal: number, all: boolean): Promise<void> {
  const store = new StateStore(global.root);
  const state = stateIn(store, id, ['created', 'running', 'paused'], 'signal');
  await controlRequest(state.controlSocket, { op: 'kill', signal, all });
}

/** runsc pause / resume: freezes or thaws every process of the container (runc pause, resume). */
export async function pauseContainer(global: GlobalOptions, id: string, pause: boolean): Promise<void> {
  const store = new StateStore(global.root);
  const held = store.lock(id);
  try {
    const state = stateIn(store, id, [pause ? 'running' : 'paused'], pause ? 'pause' : 'resume');
    await controlRequest(state.controlSocket, { op: pause ? 'pause' : 'resume' });
    store.write({ ...state, status: pause ? 'paused' : 'running' });
  } finally {
    held.release();
  }
}

interface SandboxPids {
  pid: number;
  sentryStartTime?: string | undefined;
  goferPid?: number | undefined;
  goferStartTime?: string | undefined;
}

/** SIGKILLs the sandbox processes that are still the ones we started (checked by start time, not pid alone). */
function killSandbox(pids: SandboxPids): void {
  const targets: Array<[number | undefined, string | undefined]> = [
    [pids.pid, pids.sentryStartTime],
    [pids.goferPid, pids.goferStartTime],
  ];
  for (const [pid, startTime] of targets) {
    if (pid !== undefined && pid > 0 && isSameProcessAlive(pid, startTime)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
  }
}

async function waitGone(pid: number, startTime: string | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isSameProcessAlive(pid, startTime)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/**
 * runsc delete: removes a stopped or created container (runc also deletes a created one, killing its init);
 * a running one only with --force, after SIGKILLing the sandbox. With --force a missing container is not an
 * error, as in runc, so cleanup scripts can call it blindly.
 */
export async function deleteContainer(global: GlobalOptions, id: string, force: boolean, logger?: Logger): Promise<void> {
  const store = new StateStore(global.root);
  let held;
  let hooks: Record<string, unknown> | undefined;
  let view: object;
  try {
    held = store.lock(id);
  } catch (err) {
    if (force && err instanceof RuntimeError && err.code === 'ENOCONTAINER') return;
    throw err;
  }
  try {
    let state: ContainerState;
    try {
      state = store.read(id);
    } catch (err) {
      if (force && err instanceof RuntimeError && err.code === 'ENOCONTAINER') return;
      throw err;
    }
    const status = currentStatus(state);
    if ((status === 'running' || status === 'paused') && !force) {
      throw new RuntimeError('EBADSTATE', `cannot delete container ${id} that is ${status}: stop it first or use --force`);
    }
    killSandbox(state);
    if (state.pid > 0 && !(await waitGone(state.pid, state.sentryStartTime, 5_000))) {
      throw new RuntimeError('ESANDBOX', `the sandbox of container ${id} (pid ${state.pid}) did not exit after SIGKILL`);
    }
    hooks = frozenHooks(store, id);
    view = { ...runcStateView(state), status: 'stopped' as const, pid: 0 };
  } finally {
    held.release();
  }
  store.remove(id);
  // runtime.md: poststop hooks run after the container is deleted; their failure is only a warning.
  await runHooks('poststop', hooks, view).catch((err: Error) => logger?.warn({ id }, err.message));
}

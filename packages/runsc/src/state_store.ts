// The container state root: <root>/<id>/state.json per container (runtime-spec runtime.md "State"), plus the
// files the sandbox needs beside it (control.sock, the frozen config.json, the lock). runsc keeps no memory
// between calls, so this directory is the whole truth; every change goes through write-temp + fsync + rename so
// a reader sees the old or the new state.json, never a torn one, even across a crash.
import fs from 'node:fs';
import path from 'node:path';
import { acquireLock, type HeldLock } from './state_lock.js';
import { RuntimeError } from './runtime_error.js';

export const DEFAULT_STATE_ROOT = '/run/tsvisor';

/** runtime.md: the status values a runtime reports. */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

/** What state.json holds: runc's state fields, then the ones runsc needs to find the sandbox again. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** The sentry's pid (what the pid-file holds); 0 before it exists. */
  pid: number;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** /proc/<pid>/stat start time of the sentry, so a recycled pid is never taken for it. */
  sentryStartTime?: string;
  goferPid?: number;
  goferStartTime?: string;
  controlSocket: string;
}

// runc's rule for container ids (letters, digits and _ + - . only), so an id is always one safe path component;
// a leading "." is refused too, as hidden names in the root are runsc's own (removal in progress).
const ID_PATTERN = /^[A-Za-z0-9_+.-]+$/;

export function assertValidId(id: string): void {
  if (!ID_PATTERN.test(id) || id.startsWith('.') || id.length > 1024) {
    throw new RuntimeError('EBADID', `invalid container id ${JSON.stringify(id)}: use letters, digits, "_", "+", "-", "."`);
  }
}

export class StateStore {
  readonly root: string;

  constructor(root: string = DEFAULT_STATE_ROOT) {
    this.root = path.resolve(root);
  }

  containerDir(id: string): string {
    assertValidId(id);
    return path.join(this.root, id);
  }

  statePath(id: string): string {
    return path.join(this.containerDir(id), 'state.json');
  }

  /**
   * Claims `id` for a new container by creating its directory: mkdir(2) is atomic, so of two concurrent creates
   * with one id exactly one succeeds and the other gets EEXIST.
   */
  claim(id: string): string {
    const dir = this.containerDir(id);
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new RuntimeError('EEXIST', `container ${id} already exists (in ${this.root})`);
      }
      throw err;
    }
    return dir;
  }

  exists(id: string): boolean {
    return fs.existsSync(this.statePath(id));
  }

  read(id: string): ContainerState {
    let text: string;
    try {
      text = fs.readFileSync(this.statePath(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new RuntimeError('ENOCONTAINER', `container ${id} does not exist (in ${this.root})`);
      }
      throw err;
    }
    try {
      return JSON.parse(text) as ContainerState;
    } catch (err) {
      throw new RuntimeError('EBADSTATE', `state of container ${id} is corrupt: ${(err as Error).message}`);
    }
  }

  /** Writes state.json atomically: temp file, fsync, rename over, fsync the directory (rename(2), fsync(2)). */
  write(state: ContainerState): void {
    const dir = this.containerDir(state.id);
    const target = path.join(dir, 'state.json');
    const temp = path.join(dir, `.state.json.${process.pid}.${Math.random().toString(36).slice(2)}`);
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(state)}\n`);
      fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(temp, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    try {
      fs.renameSync(temp, target);
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw err;
    }
    // The rename is durable only once the directory entry is: fsync the directory too.
    const dirFd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  }

  /** Takes the container's lock; ENOCONTAINER if the container directory does not exist (or vanished). */
  lock(id: string, timeoutMs?: number): HeldLock {
    try {
      return acquireLock(path.join(this.containerDir(id), 'lock'), timeoutMs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new RuntimeError('ENOCONTAINER', `container ${id} does not exist (in ${this.root})`);
      }
      throw err;
    }
  }

  /** Runs `fn` holding the container's lock. */
  withLock<T>(id: string, fn: () => T): T {
    const held = this.lock(id);
    try {
      return fn();
    } finally {
      held.release();
    }
  }

  /** Read-modify-write of state.json under the lock. */
  update(id: string, change: (state: ContainerState) => ContainerState): ContainerState {
    return this.withLock(id, () => {
      const next = change(this.read(id));
      this.write(next);
      return next;
    });
  }

  /**
   * Removes the container's directory. It is first renamed to a hidden name, which is atomic: a concurrent
   * reader sees the container either whole or gone, and a new create with the same id may proceed at once.
   */
  remove(id: string): void {
    const dir = this.containerDir(id);
    const doomed = path.join(this.root, `.deleted-${id}-${process.pid}-${Date.now()}`);
    try {
      fs.renameSync(dir, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    fs.rmSync(doomed, { recursive: true, force: true });
  }

  /** Ids of all containers with a state.json, sorted. */
  list(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((name) => ID_PATTERN.test(name) && !name.startsWith('.') && this.exists(name)).sort();
  }
}

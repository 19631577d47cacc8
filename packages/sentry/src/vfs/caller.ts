// Which task is calling into the VFS. File-system nodes do not take the caller as an argument, but a few answer
// differently per caller (/proc/self, /proc/thread-self); the file syscalls and the executable source run their
// work inside runAsCaller, and those nodes read currentCaller(). AsyncLocalStorage keeps the right caller across
// the awaits of many tasks' syscalls interleaved on one event loop.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface FsCaller {
  readonly pid: number;
  readonly tid: number;
}

const storage = new AsyncLocalStorage<FsCaller>();

export function runAsCaller<T>(caller: FsCaller, fn: () => T): T {
  return storage.run(caller, fn);
}

export function currentCaller(): FsCaller | undefined {
  return storage.getStore();
}

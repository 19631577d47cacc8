// A TCP worker thread's entry point (design.md "Netstack": threading): runs one TcpWorkerCore over the rings in
// workerData (a TcpWorkerData, wire.ts) until the stack thread closes TO_WORKER. The stack side starts it with
// new Worker(new URL('./tcp_worker.js', import.meta.url), { workerData }).

import { isMainThread, workerData } from 'node:worker_threads';
import { TcpWorkerCore } from './tcp_worker_core.js';
import type { TcpWorkerData } from './wire.js';

if (isMainThread) {
  throw new Error('tcp_worker.js is a worker_threads entry point; load it with new Worker(...)');
}

const core = new TcpWorkerCore(workerData as TcpWorkerData);
await core.run();
// The stack thread closed the ring: nothing keeps the thread alive any more (timers are unref'd), so it exits.

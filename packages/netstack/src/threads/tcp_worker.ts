// A TCP worker thread's entry point (design.md "Netstack": threading): runs one TcpWorkerCore over the rings in
// workerData (a TcpWorkerData, wire.ts) until the stack thread closes TO_WORKER. The stack side starts it with
// new Worker(new URL('./tcp_worker.js', import.meta.url), { workerData }).

import { isMainThread, workerData } from 'node:worker_threads';
import { SharedFrameRing } from '../buffer/shared_ring.js';
import { TcpWorkerCore } from './tcp_worker_core.js';
import { REPLY_CONTROL_BYTES, REPLY_EXITED, REPLY_SEQ, type TcpWorkerData } from './wire.js';

if (isMainThread) {
  throw new Error('tcp_worker.js is a worker_threads entry point; load it with new Worker(...)');
}

const data = workerData as TcpWorkerData;
// However the thread ends, a stack thread blocked in a control call or waiting for ring room learns it at once
// (wire.ts REPLY_EXITED): the worker's 'exit' runs even after an uncaught exception.
process.on('exit', () => {
  const ctl = new Int32Array(data.reply, 0, REPLY_CONTROL_BYTES / 4);
  Atomics.store(ctl, REPLY_EXITED, 1);
  Atomics.notify(ctl, REPLY_SEQ);
  SharedFrameRing.attach(data.toWorker).close();
});

const core = new TcpWorkerCore(data);
await core.run();
// The stack thread closed the ring: nothing keeps the thread alive any more (timers are unref'd), so it exits.

// Child process for self_filter.test.ts: confines itself with installSelfFilter (the package's code, transpiled by
// the test), after warming up libuv's thread pool so that TSYNC has threads to sync, then reports what it can do.
// argv: MODULE_DIR KIND MODE SCRATCH_DIR ; MODE is "errno" (outside calls fail with EPERM) or "kill" (outside calls kill).
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

const [moduleDir, kind, mode, scratch] = process.argv.slice(2);
const { installSelfFilter, SCMP_ACT } = await import(path.join(moduleDir, 'index.js'));
const out = {};
const file = path.join(scratch, 'f');
fs.writeFileSync(file, 'before');
await fs.promises.readFile(file); // starts the libuv thread pool before the filter exists

installSelfFilter(kind, mode === 'errno' ? { defaultAction: SCMP_ACT.errno(1) } : {});
out.installed = true;

// What a confined component still does: files it already knows, timers, threads, sockets.
out.read = (await fs.promises.readFile(file, 'utf8')) === 'before';
await new Promise((r) => setTimeout(r, 5));
out.timer = true;
const w = new Worker('require("node:worker_threads").parentPort.postMessage(6 * 7)', { eval: true });
out.worker = await new Promise((r) => w.once('message', r));
await w.terminate();
const srv = net.createServer((s) => s.end('pong'));
await new Promise((r) => srv.listen(0, '127.0.0.1', r));
out.tcp = await new Promise((r) => {
  let got = '';
  net.connect(srv.address().port, '127.0.0.1').on('data', (d) => (got += d)).on('end', () => r(got));
});
srv.close();

// Outside the list: utimensat(2) on a thread-pool thread (confined only by TSYNC), then setgid(2). Without TSYNC
// the second also shows it: glibc's setgid runs on every thread, the unconfined ones succeed, and glibc aborts.
const errCode = async (f) => {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return e.code;
  }
};
out.utimes = await errCode(() => fs.promises.utimes(file, 1, 1));
out.spawn = spawnSync('/bin/true').error?.code ?? 'ok'; // fork: clone without CLONE_THREAD
out.setgid = await errCode(() => process.setgid(0));
console.log(JSON.stringify(out));

// restrictThreadCapabilities in a real Node process with all its threads (V8 platform workers, the libuv pool,
// Node's SIGUSR1 watchdog that blocks every other signal, and a worker_threads Worker): afterwards every thread
// holds only the kept set, and calls gated by a dropped capability fail on the main thread, in the Worker and in
// a Worker started later, while one gated by a kept capability (chown, CAP_CHOWN) still works. The child runs in
// its own mount and UTS namespaces, so if the drop ever failed, its mount would not touch the host.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Capability, capabilityMask } from './caps.js';

const addonPath = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'build', 'Release', 'tsvisor_native.node');
const isRoot = process.getuid?.() === 0;

const CHILD = `
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
const [addonPath, dir, keepText] = process.argv.slice(2);
const N = createRequire(import.meta.url)(addonPath);
// What a thread may still do: mount(2) needs CAP_SYS_ADMIN, a char device CAP_MKNOD, chown CAP_CHOWN.
const probe = \`
  const N = require(workerData.addonPath);
  const dir = workerData?.dir;
  const out = {};
  const attempt = (name, fn) => { try { fn(); out[name] = 'ok'; } catch (e) { out[name] = e.code; } };
  attempt('mount', () => N.mount('none', dir + '/mnt', 'tmpfs', 0, null));
  attempt('mknodChr', () => N.mknod(dir + '/dev-' + Math.random(), 0o20600, 0x103));
  attempt('chown', () => require('fs').chownSync(dir + '/file', 1234, 1234));
  require('worker_threads').parentPort.postMessage(out);
\`;
function inWorker() {
  return new Promise((resolve, reject) => {
    const w = new Worker('const { workerData } = require("worker_threads");' + probe, { eval: true, workerData: { addonPath, dir } });
    w.once('message', (m) => { resolve(m); w.terminate(); });
    w.once('error', reject);
  });
}
// A Worker alive during the drop, waiting for its turn.
const early = new Worker('const { workerData, parentPort } = require("worker_threads"); parentPort.once("message", () => {' + probe + '});', { eval: true, workerData: { addonPath, dir } });
await new Promise((r) => early.once('online', r));
await fs.promises.readFile('/etc/hostname'); // the libuv pool exists
const taskDir = fs.openSync('/proc/self/task', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
const changed = N.restrictThreadCapabilities(taskDir, BigInt(keepText));
const threads = N.threadCapabilities(taskDir).map((t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, String(v)])));
fs.closeSync(taskDir);
const main = {};
const attempt = (name, fn) => { try { fn(); main[name] = 'ok'; } catch (e) { main[name] = e.code; } };
attempt('mount', () => N.mount('none', dir + '/mnt', 'tmpfs', 0, null));
attempt('mknodChr', () => N.mknod(dir + '/dev-main', 0o20600, 0x103));
attempt('chown', () => fs.chownSync(dir + '/file', 1234, 1234));
const earlyResult = await new Promise((resolve) => { early.once('message', resolve); early.postMessage('go'); });
early.terminate();
const late = await inWorker();
const pool = await fs.promises.chown(dir + '/file', 4321, 4321).then(() => 'ok', (e) => e.code);
process.stdout.write(JSON.stringify({ changed, threads, main, pool, early: earlyResult, late }) + '\\n');
`;

describe.skipIf(!isRoot)('restrictThreadCapabilities', () => {
  it('leaves every thread only the kept capabilities; dropped ones fail on every thread, kept ones work', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-caps-'));
    try {
      fs.mkdirSync(path.join(dir, 'mnt'));
      fs.writeFileSync(path.join(dir, 'file'), '');
      fs.writeFileSync(path.join(dir, 'child.mjs'), CHILD);
      const keep = capabilityMask(Capability.CHOWN, Capability.DAC_OVERRIDE, Capability.FOWNER, Capability.FSETID);
      const r = spawnSync(
        'unshare',
        ['--mount', '--uts', '--propagation', 'private', '--', process.execPath, path.join(dir, 'child.mjs'), addonPath, dir, String(keep)],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout) as {
        changed: number;
        threads: Record<string, string>[];
        main: Record<string, string>;
        pool: string;
        early: Record<string, string>;
        late: Record<string, string>;
      };
      // main, V8's platform threads, libuv's pool, the watchdog, the Worker and its own helper threads
      expect(out.threads.length).toBeGreaterThanOrEqual(8);
      expect(out.changed).toBe(out.threads.length);
      for (const t of out.threads) {
        expect(BigInt(t.permitted!), `thread ${t.tid}`).toBe(keep);
        expect(BigInt(t.effective!), `thread ${t.tid}`).toBe(keep);
        expect(BigInt(t.bounding!), `thread ${t.tid}`).toBe(keep);
        expect(BigInt(t.inheritable!)).toBe(0n);
        expect(BigInt(t.ambient!)).toBe(0n);
      }
      const expected = { mount: 'EPERM', mknodChr: 'EPERM', chown: 'ok' };
      expect(out.main).toEqual(expected);
      expect(out.early).toEqual(expected);
      expect(out.late).toEqual(expected);
      expect(out.pool).toBe('ok');
      expect(fs.statSync(path.join(dir, 'file')).uid).toBe(4321);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a descriptor that is not a task directory, changing nothing', () => {
    const r = spawnSync(
      process.execPath,
      ['-e', `const N = require(${JSON.stringify(addonPath)}); try { N.restrictThreadCapabilities(-1, 0n); } catch (e) { console.log(e.code); } console.log(require('fs').readFileSync('/proc/self/status', 'utf8').match(/CapEff:\\s+(\\w+)/)[1]);`],
      { encoding: 'utf8' },
    );
    const [code, eff] = r.stdout.trim().split('\n');
    expect(code).toBe('EBADF');
    expect(eff).toBe(fs.readFileSync('/proc/self/status', 'utf8').match(/CapEff:\s+(\w+)/)![1]);
  });
});

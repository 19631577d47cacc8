// The gofer as launchSandbox starts it: `unshare ... -- node gofer/main.js` with TSVISOR_GOFER_NS=1, one Node
// process, no wrapper. Its namespaces must hold from its first thread on (a mount namespace entered later would
// leave the libuv pool behind, see gofer/src/confine.ts). Runs the built CLI (npx tsc -b first).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSpec } from './default_spec.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const runscBin = path.join(repo, 'bin/runsc');

describe('launchSandbox', () => {
  let work: string;
  let stateRoot: string;
  const id = `launcher-${process.pid}`;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-launcher-'));
    stateRoot = path.join(work, 'state');
    const rootfs = path.join(work, 'bundle/rootfs');
    fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
    for (const dir of ['proc', 'dev', 'tmp', 'sys']) fs.mkdirSync(path.join(rootfs, dir));
    const spec = defaultSpec();
    spec.process!.terminal = false;
    spec.process!.args = ['/bin/busybox', 'true'];
    fs.writeFileSync(path.join(work, 'bundle/config.json'), JSON.stringify(spec));
  });

  afterAll(() => {
    spawnSync(runscBin, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('starts the gofer as one process whose every thread is in its own mount, network and IPC namespaces', () => {
    // The sandbox inherits runsc's stderr and outlives it: a file, not a pipe spawnSync would wait on.
    const errFile = path.join(work, 'create.err');
    const errFd = fs.openSync(errFile, 'w');
    const created = spawnSync(runscBin, ['--root', stateRoot, 'create', '--bundle', path.join(work, 'bundle'), id], {
      stdio: ['ignore', 'ignore', errFd],
      timeout: 30_000,
    });
    fs.closeSync(errFd);
    expect(fs.readFileSync(errFile, 'utf8')).toBe('');
    expect(created.status).toBe(0);
    const state = JSON.parse(fs.readFileSync(path.join(stateRoot, id, 'state.json'), 'utf8')) as { goferPid: number };
    const pid = state.goferPid;
    // No wrapper: the recorded pid is the Node process serving 9P itself (unshare exec'd it).
    expect(fs.readlinkSync(`/proc/${pid}/exe`)).toBe(fs.realpathSync(process.execPath));
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(path.join(repo, 'packages/gofer/dist/main.js'));
    for (const ns of ['mnt', 'net', 'ipc']) {
      const perThread = new Set(fs.readdirSync(`/proc/${pid}/task`).map((t) => fs.readlinkSync(`/proc/${pid}/task/${t}/ns/${ns}`)));
      expect(perThread.size, ns).toBe(1);
      expect([...perThread][0], ns).not.toBe(fs.readlinkSync(`/proc/self/ns/${ns}`));
    }
    // It found itself already in them and confined itself rather than re-executing: its root is the scaffold
    // holding only the served rootfs (no bind mounts in this spec), nothing of the host.
    expect(fs.readdirSync(`/proc/${pid}/root`)).toEqual(['root']);
    expect(fs.readdirSync(`/proc/${pid}/root/root`).sort()).toEqual(['bin', 'dev', 'proc', 'sys', 'tmp']);
  });
});

// The host identity of a sandbox's tasks, seen from both sides: inside, the application has the identity the OCI
// spec gives it (answered by the sentry); on the host, every task process runs as nobody:nogroup with no groups,
// whatever the spec says, so nothing that got past the filter could act as host root.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, busyboxBundle, runsc, runscBin, tempDir } from './runsc_cli.js';

let work: string;
let root: string;
beforeAll(assertBuilt);
beforeEach(() => {
  work = tempDir('host-identity');
  root = path.join(work, 'state');
});
afterEach(() => {
  for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) runsc(['--root', root, 'delete', '--force', id]);
  fs.rmSync(work, { recursive: true, force: true });
});

/** Host pids of every descendant of `pid` (proc(5) /proc/PID/task/TID/children). */
function descendants(pid: number): number[] {
  const children = fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/** The Uid:, Gid: and Groups: lines of a host process's status, whitespace normalized. */
function hostIds(pid: number): string {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return ['Uid', 'Gid', 'Groups']
    .map((name) => `${name}: ${status.match(new RegExp(`^${name}:(.*)$`, 'm'))![1]!.trim().split(/\s+/).join(' ')}`)
    .join('\n');
}

describe('task host identity', () => {
  it('tasks run as host nobody while the application keeps the OCI spec identity', async () => {
    const bundle = busyboxBundle(path.join(work, 'bundle'), (s) => {
      s.process.args = ['sh', '-c', 'id -u; id -g; sleep 30 & read line; echo "got $line"'];
      s.process.terminal = false;
      s.process.user = { uid: 1234, gid: 2345 };
    });
    const child = spawn(runscBin, ['--root', root, 'run', '--bundle', bundle, 'ids1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const deadline = Date.now() + 20_000;
      while (out.split('\n').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(out, err).toBe('1234\n2345\n');
      // The sentry and gofer are runsc's children; the tasks (sh and the background sleep) are the sentry's.
      const sentry = Number(JSON.parse(runsc(['--root', root, 'state', 'ids1']).stdout).pid);
      let tasks: number[] = [];
      while (tasks.length < 2 && Date.now() < deadline) {
        tasks = descendants(sentry);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(tasks.length).toBeGreaterThanOrEqual(2);
      for (const pid of tasks) {
        expect(hostIds(pid), `host pid ${pid}`).toBe('Uid: 65534 65534 65534 65534\nGid: 65534 65534 65534 65534\nGroups: ');
      }
      child.stdin!.end('hello\n');
      expect(await closed).toBe(0);
      expect(out).toBe('1234\n2345\ngot hello\n');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

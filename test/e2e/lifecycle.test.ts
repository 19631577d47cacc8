// The OCI lifecycle through the built CLI with a real sandbox (gofer + sentry + kernel) over a busybox-static
// bundle: create/state/start/kill/delete/list, the pid-file, run's and do's exit codes, and stdio pass-through.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, busyboxBundle, runsc, runscBin, runscDetached, tempDir } from './runsc_cli.js';

let work: string;
let root: string;
beforeAll(assertBuilt);
beforeEach(() => {
  work = tempDir('life');
  root = path.join(work, 'state');
});
afterEach(() => {
  for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) runsc(['--root', root, 'delete', '--force', id]);
  fs.rmSync(work, { recursive: true, force: true });
});

function bundleWith(args: string[]): string {
  return busyboxBundle(path.join(work, 'bundle'), (s) => {
    s.process.args = args;
    s.process.terminal = false;
  });
}

function state(id: string): Record<string, any> {
  const result = runsc(['--root', root, 'state', id]);
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

/** Run states (proc(5) /proc/PID/stat field 3) of the host processes that are children of `pid`. */
function childStates(pid: number): string[] {
  const children = fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean),
  );
  expect(children.length).toBeGreaterThan(0);
  return children.map((child) => {
    const stat = fs.readFileSync(`/proc/${child}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  });
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('runsc run', () => {
  it('passes stdio through and exits with the application exit code', () => {
    const bundle = bundleWith(['sh', '-c', 'read line; echo "got $line"; echo err >&2; exit 7']);
    const result = runsc(['--root', root, 'run', '--bundle', bundle, 'r1'], { input: 'hello\n' });
    expect(result.stdout).toBe('got hello\n');
    expect(result.stderr).toBe('err\n');
    expect(result.status).toBe(7);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('exits 128+N when the application dies by signal N', async () => {
    const bundle = bundleWith(['sleep', '100']);
    const running = new Promise<number | null>((resolve) => {
      spawn(runscBin, ['--root', root, 'run', '--bundle', bundle, 'r2'], { stdio: 'ignore' }).on('close', resolve);
    });
    await until(() => runsc(['--root', root, 'state', 'r2']).stdout.includes('"running"'));
    expect(runsc(['--root', root, 'kill', 'r2', 'KILL']).status).toBe(0);
    expect(await running).toBe(137);
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

describe('a state root as long as Docker\'s', () => {
  it('works although the control socket path is longer than a unix socket path may be', () => {
    const longRoot = path.join(work, 'var/run/docker/runtime-runsc/moby');
    const id = 'f'.repeat(64);
    const bundle = bundleWith(['sh', '-c', 'exit 9']);
    expect(Buffer.byteLength(path.join(longRoot, id, 'control.sock'))).toBeGreaterThan(107);
    const result = runsc(['--root', longRoot, 'run', '--bundle', bundle, id]);
    expect([result.status, result.stderr]).toEqual([9, '']);
    expect(fs.readdirSync(longRoot)).toEqual([]);
  });
});

describe('signals to runsc run', () => {
  it('are forwarded to the container, which decides what they mean', async () => {
    const bundle = bundleWith(['sh', '-c', 'trap "exit 42" TERM; while true; do sleep 0.1; done']);
    const child = spawn(runscBin, ['--root', root, 'run', '--bundle', bundle, 'f1'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until(() => runsc(['--root', root, 'state', 'f1']).stdout.includes('"running"'));
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the trap be installed
    child.kill('SIGTERM');
    expect(await exited).toBe(42);
  });
});

describe('a hung sandbox', () => {
  it('is killed when it cannot take a forwarded SIGTERM, so runsc run still ends', async () => {
    const child = spawn(runscBin, ['--root', root, 'run', '--bundle', bundleWith(['sleep', '100']), 'hung1'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until(() => runsc(['--root', root, 'state', 'hung1']).stdout.includes('"running"'));
    const sentryPid = state('hung1').pid as number;
    process.kill(sentryPid, 'SIGSTOP'); // the sentry can no longer answer its control socket
    child.kill('SIGTERM');
    expect(await exited).toBe(137);
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

describe('runsc do', () => {
  it('runs a host command over a read-only root with a memory overlay', () => {
    const marker = path.join(work, 'written-by-do');
    const result = spawnSync(runscBin,
      ['--network=none', 'do', '--', '/bin/sh', '-c', `echo in-sandbox; echo x > ${marker} && test -s ${marker} && echo written; exit 3`], { encoding: 'utf8' });
    expect(result.stdout).toBe('in-sandbox\nwritten\n');
    expect(result.status).toBe(3);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('create / start / kill / delete', () => {
  it('follows the OCI lifecycle: create (pid-file), state, list, start, kill, delete', async () => {
    const bundle = bundleWith(['sh', '-c', 'trap "exit 42" TERM; while true; do sleep 0.1; done']);
    const pidFile = path.join(work, 'pid');
    const create = runscDetached(['--root', root, 'create', '--bundle', bundle, '--pid-file', pidFile, 'c1'], work);
    expect(create.status, create.stderr).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(state('c1')).toMatchObject({ id: 'c1', status: 'created', pid, bundle });
    expect(JSON.parse(runsc(['--root', root, 'list', '--format', 'json']).stdout)).toMatchObject([{ id: 'c1', status: 'created' }]);

    const duplicate = runsc(['--root', root, 'create', '--bundle', bundle, 'c1']);
    expect([duplicate.status, duplicate.stderr]).toEqual([1, `runsc: container c1 already exists (in ${root})\n`]);

    expect(runsc(['--root', root, 'start', 'c1']).status).toBe(0);
    expect(state('c1').status).toBe('running');
    const again = runsc(['--root', root, 'start', 'c1']);
    expect(again.stderr).toBe('runsc: cannot start container c1: it is running\n');

    const refused = runsc(['--root', root, 'delete', 'c1']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/cannot delete container c1 that is running/);
    expect(state('c1').status).toBe('running');

    await new Promise((resolve) => setTimeout(resolve, 300)); // let the trap be installed
    expect(runsc(['--root', root, 'kill', 'c1', 'TERM']).status).toBe(0);
    await until(() => state('c1').status === 'stopped');
    expect(state('c1').pid).toBe(0);
    expect(runsc(['--root', root, 'kill', 'c1', 'KILL']).status).toBe(1);
    expect(runsc(['--root', root, 'delete', 'c1']).status).toBe(0);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('ps lists the processes; pause and resume; delete --force kills a running container', async () => {
    const bundle = bundleWith(['sleep', '100']);
    expect(runscDetached(['--root', root, 'run', '--detach', '--bundle', bundle, 'c2'], work).status).toBe(0);
    const pid = state('c2').pid as number;
    expect(runsc(['--root', root, 'ps', 'c2']).stdout).toMatch(/^UID +PID +PPID +CMD\n0 +1 +0 +\S*sleep 100\n$/);
    expect(runsc(['--root', root, 'ps', '--format', 'json', 'c2']).stdout).toBe('[1]\n');
    expect(runsc(['--root', root, 'pause', 'c2']).status).toBe(0);
    expect(state('c2').status).toBe('paused');
    // The application's host process (the sentry's child) is stopped: T, or t as a traced stop (proc(5)).
    expect(childStates(pid).every((st) => st === 'T' || st === 't')).toBe(true);
    expect(runsc(['--root', root, 'pause', 'c2']).stderr).toBe('runsc: cannot pause container c2: it is paused\n');
    expect(runsc(['--root', root, 'delete', 'c2']).stderr).toMatch(/cannot delete container c2 that is paused/);
    expect(runsc(['--root', root, 'resume', 'c2']).status).toBe(0);
    expect(state('c2').status).toBe('running');
    await until(() => childStates(pid).every((st) => st === 'S' || st === 'R'));
    expect(runsc(['--root', root, 'delete', '--force', 'c2']).status).toBe(0);
    expect(fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')).toBe(false);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('a created container can be deleted without starting it', () => {
    const bundle = bundleWith(['true']);
    expect(runscDetached(['--root', root, 'create', '--bundle', bundle, 'c3'], work).status).toBe(0);
    expect(runsc(['--root', root, 'delete', 'c3']).status).toBe(0);
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

describe('OCI hooks', () => {
  it('runs createRuntime, poststart and poststop with the state on stdin', () => {
    const log = path.join(work, 'hooks.log');
    const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `{ echo ${name}; cat; echo; } >> ${log}`] });
    const bundle = busyboxBundle(path.join(work, 'bundle'), (s) => {
      s.process.args = ['true'];
      s.process.terminal = false;
      s.hooks = { createRuntime: [hook('createRuntime')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    });
    expect(runsc(['--root', root, 'run', '--bundle', bundle, 'h1']).status).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.filter((_, i) => i % 2 === 0)).toEqual(['createRuntime', 'poststart', 'poststop']);
    const states = lines.filter((_, i) => i % 2 === 1).map((l) => JSON.parse(l));
    expect(states.map((s) => [s.id, s.status])).toEqual([['h1', 'creating'], ['h1', 'running'], ['h1', 'stopped']]);
    expect(states[0].pid).toBeGreaterThan(0);
  });

  it('a failing createRuntime hook fails create and leaves nothing behind', () => {
    const bundle = busyboxBundle(path.join(work, 'bundle'), (s) => {
      s.process.terminal = false;
      s.hooks = { createRuntime: [{ path: '/bin/false' }] };
    });
    const result = runscDetached(['--root', root, 'create', '--bundle', bundle, 'h2'], work);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('runsc: createRuntime hook /bin/false exited with 1\n');
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

describe('as containerd-shim and conmon see it', () => {
  it('the pid-file process exits with the container status, reaped by the caller as subreaper', () => {
    // A subreaper (prctl PR_SET_CHILD_SUBREAPER, as the shim is) inherits the sentry once runsc create exits.
    const bundle = bundleWith(['sh', '-c', 'exit 42']);
    const pidFile = path.join(work, 'pid');
    const script = `
import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
runsc, root, bundle, pid_file = sys.argv[1:5]
devnull = open(os.devnull, 'w')
subprocess.run([runsc, '--root', root, 'create', '--bundle', bundle, '--pid-file', pid_file, 's1'], check=True, stdout=devnull, stderr=devnull, stdin=subprocess.DEVNULL)
pid = int(open(pid_file).read())
subprocess.run([runsc, '--root', root, 'start', 's1'], check=True)
while True:
    reaped, status = os.waitpid(-1, 0)
    if reaped == pid:
        print(os.waitstatus_to_exitcode(status))
        break
`;
    const result = spawnSync('python3', ['-c', script, runscBin, root, bundle, pidFile], { encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('42\n');
    expect(JSON.parse(runsc(['--root', root, 'state', 's1']).stdout)).toMatchObject({ status: 'stopped', pid: 0 });
    expect(runsc(['--root', root, 'delete', 's1']).status).toBe(0);
  });
});

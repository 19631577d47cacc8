// The kernel end to end with real programs: static busybox runs as init under the seccomp filter, its files
// served from the sentry's VFS (a tmpfs holding a copy of the host's /bin/busybox), its output written through
// the stdio FileDescriptions. Differential: exit codes and output must match what Linux gives natively.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostFile } from '../fsimpl/host_file.js';
import { Tmpfs } from '../fsimpl/tmpfs.js';
import { makeTestTask } from '../syscalls/fs_test_task.js';
import { AT_FDCWD, O_CREAT, O_RDONLY, O_WRONLY } from '../vfs/constants.js';
import { FileDescription } from '../vfs/file_description.js';
import { MountNamespace } from '../vfs/mount.js';
import { lookupAt, mkdirAt, openAt } from '../vfs/operations.js';
import { createDevfs } from '../fsimpl/dev.js';
import { NO_PROCESSES, ProcFs } from '../fsimpl/proc.js';
import { Kernel, type ExitResult } from './kernel.js';
import { Errno } from './syscall_error.js';

const BUSYBOX = '/bin/busybox';
/** A native reference run that hangs (a broken test program) fails its test instead of blocking the whole worker. */
const NATIVE_TIMEOUT_MS = 20_000;
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-kernel-test-'));
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

/** A tmpfs root holding copies of host files at the same paths (symlinks followed; directories created). */
async function rootWith(paths: string[]): Promise<MountNamespace> {
  const mounts = new MountNamespace(new Tmpfs());
  const setup = makeTestTask(mounts);
  const made = new Set<string>(['/']);
  for (const p of paths) {
    let dir = '';
    for (const part of path.dirname(p).split('/').filter(Boolean)) {
      dir += `/${part}`;
      if (made.has(dir)) continue;
      await mkdirAt(setup, AT_FDCWD, dir, 0o755);
      made.add(dir);
    }
    const f = await openAt(setup, AT_FDCWD, p, O_CREAT | O_WRONLY, 0o755);
    await f.write(fs.readFileSync(p));
  }
  // /dev (null, zero, ...): shells redirect background jobs' stdin from /dev/null.
  await mkdirAt(setup, AT_FDCWD, '/dev', 0o755);
  mounts.mount(await lookupAt(setup, AT_FDCWD, '/dev', { follow: true }), createDevfs(), 'devtmpfs');
  // /proc, whose processes the Kernel plugs in when it is created.
  await mkdirAt(setup, AT_FDCWD, '/proc', 0o555);
  mounts.mount(await lookupAt(setup, AT_FDCWD, '/proc', { follow: true }), new ProcFs(NO_PROCESSES, () => mounts), 'proc');
  return mounts;
}

const rootWithBusybox = (): Promise<MountNamespace> => rootWith([BUSYBOX]);

/** The dynamic executable and every library ldd lists for it, plus its PT_INTERP. */
function withLibraries(exe: string): string[] {
  const out = execFileSync('ldd', [exe], { encoding: 'utf8' });
  const libs = [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
  return [exe, ...new Set(libs)];
}

interface RunResult {
  result: ExitResult;
  stdout: string;
  stderr: string;
}

async function runSandboxed(
  argv: string[],
  env: string[] = ['PATH=/bin'],
  root: () => Promise<MountNamespace> = rootWithBusybox,
  whileRunning?: (kernel: Kernel) => void,
): Promise<RunResult> {
  const mounts = await root();
  const outPath = path.join(work, `out-${Math.random()}`);
  const errPath = path.join(work, `err-${Math.random()}`);
  const inFd = fs.openSync('/dev/null', 'r');
  const outFd = fs.openSync(outPath, 'w+');
  const errFd = fs.openSync(errPath, 'w+');
  const stdio: [FileDescription, FileDescription, FileDescription] = [
    new FileDescription(new HostFile(inFd), O_RDONLY, null),
    new FileDescription(new HostFile(outFd), O_WRONLY, null),
    new FileDescription(new HostFile(errFd), O_WRONLY, null),
  ];
  const kernel = new Kernel({
    hostname: 'sandbox',
    rootFs: mounts,
    logger: pino({ level: process.env.TSVISOR_TEST_LOG ?? 'silent' }),
  });
  const running = kernel.runInit({ argv, env, cwd: '/', uid: 0, gid: 0, stdio });
  whileRunning?.(kernel);
  const result = await running;
  // Let queued host writes finish before reading the files back.
  await new Promise((r) => setTimeout(r, 20));
  const stdout = fs.readFileSync(outPath, 'utf8');
  const stderr = fs.readFileSync(errPath, 'utf8');
  for (const fd of [inFd, outFd, errFd]) fs.closeSync(fd);
  return { result, stdout, stderr };
}

function runNative(argv: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: '/bin' } });
  return { status: r.status, stdout: r.stdout };
}

describe('Kernel with static busybox as init', () => {
  it('runs `busybox true` and `busybox false` with their exit codes', async () => {
    expect((await runSandboxed([BUSYBOX, 'true'])).result).toEqual({ exitCode: 0 });
    expect((await runSandboxed([BUSYBOX, 'false'])).result).toEqual({ exitCode: 1 });
  });

  it('echo hi writes through the stdio file descriptions, like natively', async () => {
    const r = await runSandboxed([BUSYBOX, 'echo', 'hi']);
    expect(r.result).toEqual({ exitCode: 0 });
    expect(r.stdout).toBe(runNative([BUSYBOX, 'echo', 'hi']).stdout);
    expect(r.stdout).toBe('hi\n');
  });

  it("sh -c 'exit 7' exits 7", async () => {
    const r = await runSandboxed([BUSYBOX, 'sh', '-c', 'exit 7']);
    expect(r.result).toEqual({ exitCode: 7 });
  });

  it('a missing init program rejects with ENOENT and leaves no task behind', async () => {
    let hostPid = 0;
    const run = runSandboxed(['/bin/nonexistent'], [], rootWithBusybox, (k) => {
      hostPid = k.pids.group(1)!.hostTgid;
    });
    await expect(run).rejects.toMatchObject({ errno: Errno.ENOENT });
    expect(hostPid).toBeGreaterThan(0);
    expect(fs.existsSync(`/proc/${hostPid}`)).toBe(false);
  });

  it('uname answers the sandbox hostname and release 4.4.0', async () => {
    const r = await runSandboxed([BUSYBOX, 'uname', '-snrm']);
    expect(r.stdout).toBe('Linux sandbox 4.4.0 x86_64\n');
  });
});

describe('processes: fork, exec, wait, pipes, signals', () => {
  const sh = (script: string) => runSandboxed([BUSYBOX, 'sh', '-c', script]);
  const native = (script: string) => runNative([BUSYBOX, 'sh', '-c', script]);

  it("a pipeline between two exec'ed children", async () => {
    const script = `${BUSYBOX} echo abc | ${BUSYBOX} tr a x`;
    const r = await sh(script);
    expect(r.stdout).toBe('xbc\n');
    expect(r.stdout).toBe(native(script).stdout);
    expect(r.result).toEqual({ exitCode: 0 });
  });

  it("wait4 reports a child's exit code and death by signal", async () => {
    const script = `${BUSYBOX} sh -c 'exit 3'; echo $?; ${BUSYBOX} sh -c 'kill -TERM $$'; echo $?`;
    const r = await sh(script);
    expect(r.stdout).toBe('3\n143\n');
    expect(r.stdout).toBe(native(script).stdout);
  });

  it('exited children leave no zombie on the host once the sentry has their status', async () => {
    let zombies = -1;
    let checked: Promise<void> = Promise.resolve();
    const r = await runSandboxed(
      [BUSYBOX, 'sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do ${BUSYBOX} true; done; ${BUSYBOX} sleep 1`],
      ['PATH=/bin'],
      rootWithBusybox,
      (kernel) => {
        checked = new Promise((resolve) =>
          setTimeout(() => {
            const init = kernel.pids.group(1)!.hostTgid;
            zombies = 0;
            for (const d of fs.readdirSync('/proc')) {
              if (!/^\d+$/.test(d)) continue;
              try {
                const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
                const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
                if (f[0] === 'Z' && Number(f[1]) === init) zombies++;
              } catch {
                // gone
              }
            }
            resolve();
          }, 700),
        );
      },
    );
    await checked;
    expect(r.result).toEqual({ exitCode: 0 });
    expect(zombies).toBe(0);
  });

  it('Kernel.kill (runsc kill) interrupts init blocked in wait4 and its trap handler runs', async () => {
    const script = `trap 'echo got TERM; exit 3' TERM; ${BUSYBOX} sleep 5 & wait; echo not reached`;
    const r = await runSandboxed([BUSYBOX, 'sh', '-c', script], ['PATH=/bin'], rootWithBusybox, (kernel) => {
      setTimeout(() => kernel.kill(15), 400);
    });
    expect(r.stdout).toBe('got TERM\n');
    expect(r.result).toEqual({ exitCode: 3 });
  });

  it('/proc shows the kernel\'s processes (init\'s cmdline, a child\'s name and parent)', async () => {
    const script = `${BUSYBOX} cat /proc/1/cmdline | ${BUSYBOX} tr '\\0' ' '; echo; ${BUSYBOX} sh -c 'grep -E "^(Name|PPid)" /proc/$$/status'; true`;
    const r = await sh(script);
    expect(r.stdout).toBe(`${BUSYBOX} sh -c ${script} \nName:\tbusybox\nPPid:\t1\n`);
  });

  it('Kernel.pause stops every task and resume continues them', async () => {
    const states: string[] = [];
    const hostState = (pid: number): string => {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
    };
    const r = await runSandboxed([BUSYBOX, 'sh', '-c', `${BUSYBOX} sleep 0.6; echo done`], ['PATH=/bin'], rootWithBusybox, (k) => {
      setTimeout(() => {
        k.pause();
        setTimeout(() => {
          for (const g of k.pids.groups.values()) states.push(hostState(g.hostTgid));
          k.resume();
        }, 150);
      }, 150);
    });
    expect(states.length).toBe(2);
    for (const s of states) expect(s).toMatch(/^[tT]$/);
    expect(r.stdout).toBe('done\n');
    expect(r.result).toEqual({ exitCode: 0 });
  });

  it('init is pid 1 with parent 0, its child sees ppid 1', async () => {
    // The trailing `true` keeps sh from exec'ing its last command in place (then it would still be pid 1).
    const r = await sh(`echo $$ $PPID; ${BUSYBOX} sh -c 'echo $PPID'; true`);
    expect(r.stdout).toBe('1 0\n1\n');
  });

  it('subshells and command substitution', async () => {
    const script = 'x=$(echo inner); (echo "$x"; exit 4); echo $?';
    const r = await sh(script);
    expect(r.stdout).toBe('inner\n4\n');
    expect(r.stdout).toBe(native(script).stdout);
  });
});

// Differential: small C programs (testdata/*.c, compiled here with gcc) print what they observe of processes,
// signals, threads, exec and memory; the sandbox must print the same and exit with the same code.
describe('differential C programs', () => {
  const programs = ['wait_status', 'signal_interrupt', 'threads_exec', 'memory', 'identity', 'job_control', 'fexecve', 'threaded_exec', 'misc_sys', 'vfork', 'timer_interrupt', 'wait_stopped', 'orphans', 'cpu_time', 'hostile_args', 'setreuid_drop', 'kill_permission'];
  let bins: Map<string, string>;
  beforeAll(() => {
    bins = new Map();
    const here = path.dirname(new URL(import.meta.url).pathname);
    for (const p of programs) {
      const out = path.join(work, p);
      execFileSync('gcc', ['-O1', '-pthread', '-o', out, path.join(here, 'testdata', `${p}.c`)]);
      bins.set(p, out);
    }
  });

  for (const p of programs) {
    it(`${p} behaves as natively`, async () => {
      const exe = bins.get(p)!;
      const native = spawnSync(exe, [], { encoding: 'utf8', env: {}, timeout: NATIVE_TIMEOUT_MS });
      const r = await runSandboxed([exe], [], () => rootWith(withLibraries(exe)));
      expect(r.stdout).toBe(native.stdout);
      expect(r.result).toEqual({ exitCode: native.status });
    });
  }
});

describe('init dying of a signal', () => {
  it('a fault in init ends the sandbox with { signal: SIGSEGV } (the host alone would not kill a namespace init)', async () => {
    const src = path.join(work, 'segv.c');
    const exe = path.join(work, 'segv');
    fs.writeFileSync(src, 'int main(void) { *(volatile int *)0 = 1; return 0; }\n');
    execFileSync('gcc', ['-O0', '-o', exe, src]);
    const r = await runSandboxed([exe], [], () => rootWith(withLibraries(exe)));
    expect(r.result).toEqual({ signal: 11 });
  });
});

describe('micro-benchmark', () => {
  it('getppid (emulated, answered from JavaScript) and getpid (native) per-call cost', async () => {
    const exe = path.join(work, 'getppid_loop');
    const here = path.dirname(new URL(import.meta.url).pathname);
    execFileSync('gcc', ['-O2', '-o', exe, path.join(here, 'testdata', 'getppid_loop.c')]);
    const n = '20000';
    const native = spawnSync(exe, [n], { encoding: 'utf8', timeout: NATIVE_TIMEOUT_MS });
    const r = await runSandboxed([exe, n], [], () => rootWith(withLibraries(exe)));
    expect(r.stdout).toBe('20000 calls\n');
    expect(r.result).toEqual({ exitCode: 0 });
    console.log(`native:  ${native.stderr.trim()}\nsandbox: ${r.stderr.trim()}`);
  });
});

describe('dynamic executables (PT_INTERP, file-backed mmap)', () => {
  it('runs /bin/ls with its shared libraries and lists the root like Linux does', async () => {
    const files = withLibraries('/bin/ls');
    const r = await runSandboxed(['/bin/ls', '/'], [], () => rootWith(files));
    expect(r.stderr).toBe('');
    expect(r.result).toEqual({ exitCode: 0 });
    const top = [...new Set([...files.map((f) => f.split('/')[1]!), 'dev', 'proc'])].sort();
    expect(r.stdout).toBe(top.map((d) => `${d}\n`).join(''));
  });

  it('bash runs loops, arithmetic, functions, pipes into ls and exit statuses like natively', async () => {
    const files = [...new Set([...withLibraries('/bin/bash'), ...withLibraries('/bin/ls')])];
    const script = 'f() { echo "f:$1"; }; for i in 1 2 3; do f $((i * i)); done; /bin/ls / | while read d; do echo "<$d>"; done; (exit 9); echo "st=$?"; echo $BASH_VERSION | cut -c1 2>/dev/null; exit 4';
    const r = await runSandboxed(['/bin/bash', '-c', script], ['PATH=/bin'], () => rootWith(files));
    const top = [...new Set([...files.map((f) => f.split('/')[1]!), 'dev', 'proc'])].sort();
    expect(r.stdout).toBe(`f:1\nf:4\nf:9\n${top.map((d) => `<${d}>\n`).join('')}st=9\n`);
    expect(r.result).toEqual({ exitCode: 4 });
  });

  it('ls of a missing path fails with exit code 2 and the message Linux gives', async () => {
    const files = withLibraries('/bin/ls');
    const r = await runSandboxed(['/bin/ls', '/nonexistent'], [], () => rootWith(files));
    expect(r.result).toEqual({ exitCode: 2 });
    const native = spawnSync('/bin/ls', ['/nonexistent'], { encoding: 'utf8', env: {} });
    expect(r.stderr).toBe(native.stderr);
  });
});

/** Compiles testdata/<name>.c into the work directory (static: no libraries needed in the sandbox root). */
function buildTestdata(name: string, opts: { static?: boolean } = {}): string {
  const exe = path.join(work, name);
  const src = path.join(path.dirname(new URL(import.meta.url).pathname), 'testdata', `${name}.c`);
  execFileSync('gcc', [...(opts.static ? ['-static'] : []), '-O1', '-o', exe, src]);
  return exe;
}

/** Live host pids in the pid namespace of `hostPid` (the sandbox's), with their TracerPid from /proc/PID/status. */
function hostTasksInNamespaceOf(hostPid: number): { pid: number; tracer: number }[] {
  let ns: string;
  try {
    ns = fs.readlinkSync(`/proc/${hostPid}/ns/pid`);
  } catch {
    return [];
  }
  const found: { pid: number; tracer: number }[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readlinkSync(`/proc/${d}/ns/pid`) !== ns) continue;
      const status = fs.readFileSync(`/proc/${d}/status`, 'utf8');
      if (/State:\s+[ZX]/.test(status)) continue; // exited: a zombie is no longer traced
      found.push({ pid: Number(d), tracer: Number(/TracerPid:\s+(\d+)/.exec(status)?.[1]) });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

describe('hostile programs', () => {
  it('a program that replaces the stub page to turn an injected syscall into clone(CLONE_UNTRACED) is killed, and no task ever runs untraced', async () => {
    const exe = buildTestdata('stub_hijack', { static: true });
    const untraced: number[] = [];
    let timer: NodeJS.Timeout | undefined;
    const r = await runSandboxed([exe], [], () => rootWith([exe]), (k) => {
      timer = setInterval(() => {
        const init = [...k.pids.groups.values()].find((g) => g.tgid === 1);
        if (!init) return;
        for (const t of hostTasksInNamespaceOf(init.hostTgid)) if (t.tracer === 0) untraced.push(t.pid);
      }, 5);
    });
    clearInterval(timer);
    expect(untraced).toEqual([]);
    expect(r.stdout).toBe('');
    expect(r.result).toEqual({ signal: 9 });
  });
  it('clone(CLONE_PIDFD) is refused: from the host, every task holds no fd and its root is an empty read-only directory', async () => {
    const exe = buildTestdata('clone_pidfd', { static: true });
    const seen: { pid: number; fds: string[]; root: string[]; rootWritable: boolean }[] = [];
    const r = await runSandboxed([exe], [], () => rootWith([exe]), (k) => {
      setTimeout(() => {
        const init = [...k.pids.groups.values()].find((g) => g.tgid === 1)!;
        for (const t of hostTasksInNamespaceOf(init.hostTgid)) {
          const root = `/proc/${t.pid}/root`;
          seen.push({ pid: t.pid, fds: fs.readdirSync(`/proc/${t.pid}/fd`), root: fs.readdirSync(root), rootWritable: (fs.statSync(root).mode & 0o222) !== 0 });
        }
      }, 150);
    });
    expect(seen.length).toBeGreaterThan(0);
    for (const t of seen) expect(t).toEqual({ pid: t.pid, fds: [], root: [], rootWritable: false });
    expect(r.stdout).toBe('clone refused\n');
    expect(r.result).toEqual({ exitCode: 0 });
  });
  it('rt_sigaction(SIGCHLD) with bits above 31 set (Linux reads an int) still leaves no zombie on the host', async () => {
    const exe = buildTestdata('sigchld_high_bits', { static: true });
    const native = spawnSync(exe, [], { encoding: 'utf8', env: {}, timeout: NATIVE_TIMEOUT_MS });
    let zombies = -1;
    const r = await runSandboxed([exe], [], () => rootWith([exe]), (k) => {
      setTimeout(() => {
        const init = [...k.pids.groups.values()].find((g) => g.tgid === 1)!;
        const ns = fs.readlinkSync(`/proc/${init.hostTgid}/ns/pid`);
        zombies = 0;
        for (const d of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
          try {
            if (fs.readlinkSync(`/proc/${d}/ns/pid`) !== ns) continue;
            if (/State:\s+Z/.test(fs.readFileSync(`/proc/${d}/status`, 'utf8'))) zombies++;
          } catch {
            // gone meanwhile
          }
        }
      }, 250);
    });
    expect(zombies).toBe(0);
    expect(r.stdout).toBe(native.stdout);
    expect(r.result).toEqual({ exitCode: 0 });
  });
  it('a program inside sees only its own processes in /proc and cannot signal a host pid', async () => {
    const host = process.pid;
    const script = `ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; echo; cat /proc/${host}/status 2>/dev/null || echo no-${host}; kill -0 ${host} 2>/dev/null || echo kill-${host}-refused; true`;
    const r = await runSandboxed([BUSYBOX, 'sh', '-c', script]);
    const [pids, ...rest] = r.stdout.split('\n');
    const seen = pids!.trim().split(' ').map(Number);
    expect(seen).toContain(1);
    for (const pid of seen) expect(pid).toBeLessThan(10); // init, its pipeline children: none of the host's
    expect(rest.join('\n')).toBe(`no-${host}\nkill-${host}-refused\n`);
    expect(r.result).toEqual({ exitCode: 0 });
  });
  it('mmap of /dev/zero (1 TiB, MAP_NORESERVE) and /dev/urandom answer as natively without reading the device', async () => {
    const exe = buildTestdata('mmap_devices');
    const native = spawnSync(exe, [], { encoding: 'utf8', env: {}, timeout: NATIVE_TIMEOUT_MS });
    const r = await runSandboxed([exe], [], () => rootWith(withLibraries(exe)));
    expect(r.stdout).toBe(native.stdout);
    expect(r.result).toEqual({ exitCode: 0 });
  }, 20000);
  it('signals without a handler do not kill the sandbox init from inside, as for a pid namespace init on Linux', async () => {
    // pid_namespaces(7): init gets only signals it has a handler for (SIGKILL and SIGSTOP too, from inside).
    const r = await runSandboxed([BUSYBOX, 'sh', '-c', 'kill -TERM 1; kill -USR1 1; kill -KILL 1; echo alive; trap "echo got HUP" HUP; kill -HUP 1; true']);
    expect(r.stdout).toBe('alive\ngot HUP\n');
    expect(r.result).toEqual({ exitCode: 0 });
  });
});

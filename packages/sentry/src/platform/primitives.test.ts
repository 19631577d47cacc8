import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as N from '@tsvisor/native';
import { STUB_ELF, STUB_SYSCALL_INSN } from './stub.js';
import { taskFilter } from '../syscalls/table.js';

function bpf(insns: Array<[number, number, number, number]>): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, jt, jf, k], i) => {
    b.writeUInt16LE(code, i * 8);
    b.writeUInt8(jt, i * 8 + 2);
    b.writeUInt8(jf, i * 8 + 3);
    b.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return b;
}

// The platform primitives end to end, below the kernel: a task made by spawnTask holds no host fds and sits in a
// chroot, injected syscalls run in it, and a syscall its filter routes to user notification is answered from
// JavaScript (getppid answered with 42, 100k times; the time per call is printed as the micro-benchmark).
describe('platform primitives', () => {
  it('spawns a fd-less task, injects mmap, and answers a getppid loop from JavaScript', async () => {
    const filter = bpf([
      [0x20, 0, 0, 4],
      [0x15, 1, 0, 0xc000003e],
      [0x06, 0, 0, 0x80000000],
      [0x20, 0, 0, 0],
      [0x15, 0, 1, 322],
      [0x06, 0, 0, 0x7ff00000],
      [0x15, 0, 1, 110],
      [0x06, 0, 0, 0x7fc00000],
      [0x06, 0, 0, 0x7fff0000],
    ]);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-root-'));
    const t = N.spawnTask(root, filter, STUB_ELF);
    expect(fs.readdirSync(`/proc/${t.pid}/fd`)).toEqual([]);
    expect(fs.readlinkSync(`/proc/${t.pid}/root`)).toBe(root);
    expect(fs.readFileSync(`/proc/${t.pid}/status`, 'utf8')).toMatch(/CapEff:\s+0+\n/);
    expect(fs.readFileSync(`/proc/${t.pid}/status`, 'utf8')).toMatch(/CapPrm:\s+0+\n/);
    expect(fs.readFileSync(`/proc/${t.pid}/status`, 'utf8')).toMatch(/NoNewPrivs:\s+1\n/);
    expect(fs.readFileSync(`/proc/${t.pid}/status`, 'utf8')).toMatch(/NSpid:\s+\d+\s+1\n/);
    expect(fs.readFileSync(`/proc/${t.pid}/maps`, 'utf8')).toMatch(/^00010000-00011000 r-xp .*tsvisor-stub/);
    const r = N.runToSyscallStop(t.pid);
    expect(r.value).toBe(0n); // execveat returned 0
    const m = N.injectSyscall(t.pid, STUB_SYSCALL_INSN, 9, [0n, 4096n, 7n, 0x22n, BigInt.asUintN(64, -1n), 0n]);
    expect(m.value > 0n && m.value < 1n << 47n).toBe(true);
    const N_ITER = 20000;
    const code = Buffer.from([0x41, 0xbc, 0, 0, 0, 0, 0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05, 0x41, 0xff, 0xcc, 0x75, 0xf4, 0x89, 0xc7, 0xb8, 0xe7, 0, 0, 0, 0x0f, 0x05]);
    code.writeUInt32LE(N_ITER, 2);
    expect(N.writeMemory(t.pid, m.value, code)).toBe(code.length);
    const regs = N.Registers.of(t.pid);
    regs.set('rip', m.value);
    regs.store(t.pid);
    const nb = new N.NotificationBuffer();
    let count = 0;
    const done = new Promise<number>((resolve) => {
      const onChld = () => {
        for (;;) {
          const st = N.waitTid(t.pid);
          if (st === -1) return;
          if (N.WIFEXITED(st)) { process.off('SIGCHLD', onChld); resolve(N.WEXITSTATUS(st)); return; }
          if (N.WIFSTOPPED(st)) N.ptraceCont(t.pid, 0);
        }
      };
      process.on('SIGCHLD', onChld);
    });
    const w = N.notifWatch(t.listenerFd, () => {
      for (;;) {
        const n = nb.recv(t.listenerFd);
        if (!n) return;
        count++;
        N.notifSend(t.listenerFd, n.id, 42n, 0);
      }
    });
    const t0 = process.hrtime.bigint();
    N.ptraceCont(t.pid, 0);
    const code2 = await done;
    const t1 = process.hrtime.bigint();
    N.notifUnwatch(w);
    console.log(`getppid answered from JS: ${(Number(t1 - t0) / 1000 / N_ITER).toFixed(2)} us/call`);
    expect(code2).toBe(42);
    expect(count).toBe(N_ITER);
    N.closeFd(t.listenerFd);
    fs.rmdirSync(root);
  });
});

describe('spawnTask failures', () => {
  it('names the failing set-up step (a missing empty root fails chroot)', () => {
    const filter = Buffer.alloc(8);
    filter.writeUInt16LE(0x06, 0); // ret ALLOW
    filter.writeUInt32LE(0x7fff0000, 4);
    expect(() => N.spawnTask('/nonexistent-tsvisor-root', filter, STUB_ELF)).toThrow(/chroot/);
  });

  it('gives up on a task that never reaches its seccomp stop, and reaps it (a killed tracee stops at its exit)', () => {
    // execveat goes to user notification, which nobody answers: the child sleeps until spawnTask's 5 s deadline.
    const filter = bpf([
      [0x20, 0, 0, 0],
      [0x15, 0, 1, 322],
      [0x06, 0, 0, 0x7fc00000],
      [0x06, 0, 0, 0x7fff0000],
    ]);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-root-'));
    try {
      const t0 = Date.now();
      expect(() => N.spawnTask(root, filter, STUB_ELF)).toThrow(/seccomp stop/);
      expect(Date.now() - t0).toBeLessThan(8000);
      // Reaped: no child of ours is left, stopped or zombie.
      const mine = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
        try {
          return fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(process.pid) && fs.readlinkSync(`/proc/${d}/root`) === root;
        } catch {
          return false;
        }
      });
      expect(mine).toEqual([]);
    } finally {
      fs.rmdirSync(root);
    }
  }, 15000);

  it('rejects a filter that is not whole struct sock_filter entries', () => {
    expect(() => N.spawnTask('/tmp', Buffer.alloc(7), STUB_ELF)).toThrow(TypeError);
  });
});

// A sentry stand-in in its own Node process: it makes two tasks under the real task filter, one spinning natively
// and one blocked in an emulated call (getppid) that nobody answers, prints their host pids and waits. Plain
// JavaScript on the raw addon, so it runs without the TypeScript tool chain.
const SENTRY_STAND_IN = `
import { createRequire } from 'node:module';
import fs from 'node:fs';
const N = createRequire(import.meta.url)(process.argv[2]);
const [root, filterPath, stubPath, insn] = process.argv.slice(3);
const pids = [];
for (const code of [[0xeb, 0xfe], [0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]]) {
  const t = N.spawnTask(root, fs.readFileSync(filterPath), fs.readFileSync(stubPath), 65534, 65534);
  N.runToSyscallStop(t.pid);
  const m = N.injectSyscall(t.pid, BigInt(insn), 9, [0n, 4096n, 7n, 0x22n, 0xffffffffffffffffn, 0n]);
  N.writeMemory(t.pid, m.value, Buffer.from(code));
  const regs = Buffer.alloc(27 * 8);
  N.ptraceGetRegs(t.pid, regs);
  regs.writeBigUInt64LE(m.value, 16 * 8);
  N.ptraceSetRegs(t.pid, regs);
  N.ptraceCont(t.pid, 0);
  pids.push(t.pid);
}
process.stdout.write(JSON.stringify(pids) + '\\n');
setInterval(() => {}, 1000);
`;

/** Whether host process `pid` still runs (a zombie has ended). */
function running(pid: number): boolean {
  try {
    return !/State:\s+[ZX]/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('the sentry dying', () => {
  it('a SIGKILLed sentry leaves no task alive (one spinning natively, one waiting on a user notification)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-death-'));
    const root = path.join(dir, 'root');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(dir, 'filter'), taskFilter());
    fs.writeFileSync(path.join(dir, 'stub'), STUB_ELF);
    fs.writeFileSync(path.join(dir, 'sentry.mjs'), SENTRY_STAND_IN);
    const addonPath = path.join(path.dirname(new URL(import.meta.resolve('@tsvisor/native')).pathname), '..', 'build', 'Release', 'tsvisor_native.node');
    const sentry = spawn(process.execPath, [path.join(dir, 'sentry.mjs'), addonPath, root, path.join(dir, 'filter'), path.join(dir, 'stub'), String(STUB_SYSCALL_INSN)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pids = await new Promise<number[]>((resolve, reject) => {
      let out = '';
      sentry.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out) as number[]);
      });
      sentry.on('exit', (code) => reject(new Error(`stand-in exited ${code}`)));
    });
    try {
      expect(pids.length).toBe(2);
      await new Promise((r) => setTimeout(r, 100));
      for (const pid of pids) expect(running(pid)).toBe(true);
      const exited = new Promise((r) => sentry.on('exit', r));
      sentry.kill('SIGKILL');
      await exited;
      const deadline = Date.now() + 2000;
      while (pids.some(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(pids.filter(running)).toEqual([]);
    } finally {
      sentry.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// waitTid(tid, true) on a task whose stop was already reported: the stub sits in its PTRACE_EVENT_EXEC stop, which
// spawnTask consumed. A plain blocking waitpid never returns there (nothing new can be reported) and the sentry's
// event loop stops for good; the bounded wait continues such a task after half a second, so the wait returns the
// stub's next stop (the exit stop of its exit_group(127)). Run in its own process, killed if it hangs.
const WAIT_ON_REPORTED_STOP = `
import { createRequire } from 'node:module';
import fs from 'node:fs';
const N = createRequire(import.meta.url)(process.argv[2]);
const [root, filterPath, stubPath] = process.argv.slice(3);
const t = N.spawnTask(root, fs.readFileSync(filterPath), fs.readFileSync(stubPath), 65534, 65534);
const t0 = Date.now();
const first = N.waitTid(t.pid, true);
const ms = Date.now() - t0;
N.ptraceCont(t.pid, 0);
const last = N.waitTid(t.pid, true);
process.stdout.write(JSON.stringify({ first, ms, last }) + '\\n');
`;

describe('blocking waits', () => {
  it('waitTid(tid, true) on a task in an already reported stop continues it instead of blocking for ever', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-wait-'));
    try {
      const root = path.join(dir, 'root');
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(dir, 'filter'), taskFilter());
      fs.writeFileSync(path.join(dir, 'stub'), STUB_ELF);
      fs.writeFileSync(path.join(dir, 'wait.mjs'), WAIT_ON_REPORTED_STOP);
      const addonPath = path.join(path.dirname(new URL(import.meta.resolve('@tsvisor/native')).pathname), '..', 'build', 'Release', 'tsvisor_native.node');
      const r = spawnSync(process.execPath, [path.join(dir, 'wait.mjs'), addonPath, root, path.join(dir, 'filter'), path.join(dir, 'stub')], {
        encoding: 'utf8',
        timeout: 10_000,
        killSignal: 'SIGKILL',
      });
      expect(r.signal).toBeNull(); // not killed by the timeout: the wait returned
      const { first, ms, last } = JSON.parse(r.stdout) as { first: number; ms: number; last: number };
      expect(N.WIFSTOPPED(first) && N.PTRACE_EVENT(first) === N.PTRACE_EVENT_EXIT).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(400);
      expect(N.WIFEXITED(last) && N.WEXITSTATUS(last)).toBe(127);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 15000);
});

/** The Uid:, Gid: and Groups: lines of a host process's status (proc(5)), as the host sees it. */
function hostIds(pid: number): { uid: string; gid: string; groups: string } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = (name: string) => status.match(new RegExp(`^${name}:\\t?(.*)$`, 'm'))![1]!.trim().split(/\s+/).join(' ');
  return { uid: line('Uid'), gid: line('Gid'), groups: line('Groups') };
}

/** SIGKILLs a task spawnTask made and reaps it (a killed tracee still stops at PTRACE_EVENT_EXIT). */
function killTask(t: N.SpawnedTask): void {
  process.kill(t.pid, 'SIGKILL');
  for (;;) {
    const st = N.waitTid(t.pid, true);
    if (st === -1 || N.WIFEXITED(st) || N.WIFSIGNALED(st)) break;
    N.ptraceCont(t.pid, 0);
  }
  N.closeFd(t.listenerFd);
}

// Tasks are host processes: if anything ever got past the filter, the host kernel would judge it by the task's host
// credentials. They are an unprivileged uid/gid with no groups (not the sentry's root), and the task is not
// dumpable, so a host process of the same uid cannot read its memory either. The sentry (root, CAP_SYS_PTRACE)
// still reads and writes it, injects syscalls (the first describe above) and holds its listener.
describe('the task host identity', () => {
  // ALLOW everything but execveat, which must stop for the tracer (spawnTask takes the listener there).
  const allowAll = bpf([
    [0x20, 0, 0, 4],
    [0x15, 1, 0, 0xc000003e],
    [0x06, 0, 0, 0x80000000],
    [0x20, 0, 0, 0],
    [0x15, 0, 1, 322],
    [0x06, 0, 0, 0x7ff00000],
    [0x06, 0, 0, 0x7fff0000],
  ]);

  it('is nobody:nogroup by default, without groups or capabilities, and not dumpable', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-root-'));
    const t = N.spawnTask(root, taskFilter(), STUB_ELF);
    try {
      expect(hostIds(t.pid)).toEqual({ uid: '65534 65534 65534 65534', gid: '65534 65534 65534 65534', groups: '' });
      const status = fs.readFileSync(`/proc/${t.pid}/status`, 'utf8');
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(status).toMatch(new RegExp(`${set}:\\s+0+\\n`));
      // Not dumpable: the kernel makes its /proc files root's (proc(5)) and refuses a same-uid reader.
      expect(fs.statSync(`/proc/${t.pid}/mem`).uid).toBe(0);
      const peek = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', `/proc/${t.pid}/environ`], { encoding: 'utf8' });
      expect(peek.status).not.toBe(0);
      expect(peek.stderr).toMatch(/Permission denied/);
      // The sentry still reads and writes its memory, through process_vm_readv and through /proc/PID/mem.
      const text = Buffer.alloc(16);
      expect(N.readMemory(t.pid, 0x10000n, text)).toBe(16);
      expect(text.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
      expect(N.writeMemoryForce(t.pid, 0x10000n, text)).toBe(16);
    } finally {
      killTask(t);
      fs.rmdirSync(root);
    }
  });

  it('takes the identity it is given, and keeps its parent-death signal across the uid change', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-root-'));
    const t = N.spawnTask(root, allowAll, STUB_ELF, { uid: 70000, gid: 70001 });
    try {
      expect(hostIds(t.pid)).toEqual({ uid: '70000 70000 70000 70000', gid: '70001 70001 70001 70001', groups: '' });
      N.runToSyscallStop(t.pid);
      const page = N.injectSyscall(t.pid, STUB_SYSCALL_INSN, 9, [0n, 4096n, 3n, 0x22n, BigInt.asUintN(64, -1n), 0n]).value;
      // prctl(2) asked inside the task: PR_GET_PDEATHSIG (2) stores the signal at the address; PR_GET_DUMPABLE (3).
      expect(N.injectSyscall(t.pid, STUB_SYSCALL_INSN, 157, [2n, page, 0n, 0n, 0n, 0n]).value).toBe(0n);
      const sig = Buffer.alloc(4);
      N.readMemory(t.pid, page, sig);
      expect(sig.readInt32LE(0)).toBe(9); // SIGKILL
      expect(N.injectSyscall(t.pid, STUB_SYSCALL_INSN, 157, [3n, 0n, 0n, 0n, 0n, 0n]).value).toBe(0n);
    } finally {
      killTask(t);
      fs.rmdirSync(root);
    }
  });

  it('refuses host root and ids that are not ids, before making any process', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-root-'));
    try {
      for (const id of [{ uid: 0, gid: 65534 }, { uid: 65534, gid: 0 }, { uid: -1, gid: 1 }, { uid: 2 ** 32 - 1, gid: 1 }, { uid: 1.5, gid: 1 }]) {
        expect(() => N.spawnTask(root, allowAll, STUB_ELF, id), JSON.stringify(id)).toThrow(TypeError);
      }
    } finally {
      fs.rmdirSync(root);
    }
  });
});

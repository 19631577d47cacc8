// The self filters are checked in real Node processes: the package's sources are transpiled into a temp dir, a
// child node confines itself with installSelfFilter and reports what still works and what is refused.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSelfFilter, selfAllowList } from './self_filter.js';
import { CLONE_NS_FLAGS, SCMP_ACT } from './constants.js';
import { AUDIT_ARCH_X86_64, evalSeccomp } from './testdata/bpf_eval.js';
import { SeccompProbe } from './testdata/seccomp_probe.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoNodeModules = path.resolve(here, '../../../node_modules');
let dir: string;
let moduleDir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-self-filter-'));
  moduleDir = path.join(dir, 'seccomp');
  fs.mkdirSync(moduleDir);
  fs.symlinkSync(repoNodeModules, path.join(dir, 'node_modules')); // so the transpiled code finds koffi
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  for (const f of fs.readdirSync(here)) {
    if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
    const js = ts.transpileModule(fs.readFileSync(path.join(here, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    fs.writeFileSync(path.join(moduleDir, f.replace(/\.ts$/, '.js')), js);
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function runChild(kind: 'sentry' | 'gofer', mode: 'errno' | 'kill') {
  const scratch = fs.mkdtempSync(path.join(dir, `scratch-${kind}-${mode}-`));
  const r = spawnSync(process.execPath, [path.join(here, 'testdata', 'self_filter_child.mjs'), moduleDir, kind, mode, scratch], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('self filters', () => {
  it('keep a confined sentry working (files, timers, worker threads, TCP) and refuse the rest on every thread', () => {
    const r = runChild('sentry', 'errno');
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      installed: true,
      read: true,
      timer: true,
      worker: 42,
      tcp: 'pong',
      utimes: 'EPERM', // made on a libuv pool thread that existed before the filter: TSYNC confined it
      spawn: 'EPERM', // threads yes (the worker above), processes no
      setgid: 'EPERM',
    });
  });

  it('let the gofer change file metadata but not identities', () => {
    const r = runChild('gofer', 'errno');
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.utimes).toBe('ok');
    expect(out.setgid).toBe('EPERM');
    expect(out.worker).toBe(42);
  });

  it('kill the whole process by default on a call outside the list', () => {
    const r = runChild('sentry', 'kill');
    expect(r.signal).toBe('SIGSYS');
    expect(r.stdout).toBe('');
  });

  it('export BPF that allows the listed calls and refuses others (probe process)', () => {
    const probe = new SeccompProbe();
    try {
      const bpf = buildSelfFilter('sentry', { defaultAction: SCMP_ACT.errno(1), extra: ['wait4'] });
      const res = probe.run(bpf, ['getpid=39', 'setuid=105,0', 'mount=165,0,0,0,0,0', 'clone3=435,BUF,88']);
      expect(res.end).toEqual({ exit: 0 });
      expect(res.results.get('getpid')).toBeGreaterThan(0n);
      expect(res.results.get('setuid')).toBe(-1n);
      expect(res.results.get('mount')).toBe(-1n);
      expect(res.results.get('clone3')).toBe(-38n);
    } finally {
      probe.dispose();
    }
  });

  it('allow clone for threads (or forks with allowFork) but never with a namespace flag', () => {
    const clone = 56;
    const thread = 0x003d0f00n; // glibc pthread_create: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
    const verdict = (bpf: Buffer, flags: bigint): number => evalSeccomp(bpf, { nr: clone, arch: AUDIT_ARCH_X86_64, args: [flags] }) >>> 0;
    const refuse = SCMP_ACT.errno(1) >>> 0;
    const threadsOnly = buildSelfFilter('sentry', { defaultAction: SCMP_ACT.errno(1) });
    const withFork = buildSelfFilter('sentry', { defaultAction: SCMP_ACT.errno(1), allowFork: true });
    expect(verdict(threadsOnly, thread)).toBe(SCMP_ACT.ALLOW);
    expect(verdict(threadsOnly, 17n /* SIGCHLD: fork */)).toBe(refuse);
    expect(verdict(withFork, 17n)).toBe(SCMP_ACT.ALLOW);
    for (const [name, bit] of Object.entries(CLONE_NS_FLAGS)) {
      expect(verdict(threadsOnly, thread | BigInt(bit)), name).toBe(refuse);
      expect(verdict(withFork, 17n | BigInt(bit)), name).toBe(refuse);
    }
  });

  it('give a reason for every entry and reject unknown names', () => {
    for (const kind of ['sentry', 'gofer'] as const) {
      for (const [name, why] of Object.entries(selfAllowList(kind))) expect(why.length, name).toBeGreaterThan(2);
    }
    expect(() => buildSelfFilter('sentry', { extra: ['no_such_syscall'] })).toThrow(/unknown syscall name/);
  });
});

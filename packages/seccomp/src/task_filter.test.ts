// The task filter is checked by what a real process under it may do (see testdata/seccomp_probe.c): the probe's
// parent answers notifications with NOTIFIED and skips traced calls with TRACED + data, so each outcome shows the
// class the filter gave the call; allowed calls really run on the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskFilter, NEVER_NATIVE_SYSCALLS } from './task_filter.js';
import { resolveSyscallName } from './libseccomp.js';
import { CLONE_NS_FLAGS, TRACE_DATA } from './constants.js';
import { NOTIFIED, SeccompProbe, TRACED } from './testdata/seccomp_probe.js';

// x86_64 numbers (<asm/unistd_64.h>).
const NR = {
  read: 0, write: 1, open: 2, mmap: 9, munmap: 11, getpid: 39, clone: 56, execve: 59, exit: 60, uname: 63,
  arch_prctl: 158, gettid: 186, exit_group: 231, clone3: 435,
};
const EPERM = -1n;
const ENOSYS = -38n;
const SIGSYS = 31;

let probe: SeccompProbe;
beforeAll(() => {
  probe = new SeccompProbe();
});
afterAll(() => probe?.dispose());

// write and exit_group are native so the probe can report; the rest as the sentry's table would have them.
const classes = {
  emulated: [NR.read, NR.open],
  native: [NR.write, NR.getpid, NR.gettid, NR.munmap, NR.exit, NR.exit_group, NR.mmap, NR.arch_prctl],
  ptrace: [NR.execve],
};

describe('buildTaskFilter', () => {
  it('exports a BPF program (8-byte instructions)', () => {
    const bpf = buildTaskFilter(classes);
    expect(bpf.length).toBeGreaterThan(8);
    expect(bpf.length % 8).toBe(0);
  });

  it('runs native calls on the host, notifies emulated and unlisted ones, traces the ptrace class', () => {
    const { results, end } = probe.run(buildTaskFilter(classes), [
      `getpid=${NR.getpid}`,
      `gettid=${NR.gettid}`,
      `read=${NR.read},0,BUF,16`,
      `open=${NR.open},BUF,0`,
      `uname=${NR.uname},BUF`,
      `unknown=999`,
      `execve=${NR.execve},BUF,0,0`,
    ]);
    expect(end).toEqual({ exit: 0 });
    const pid = results.get('getpid')!;
    expect(pid).toBeGreaterThan(0n);
    expect(pid).not.toBe(NOTIFIED);
    expect(results.get('gettid')).toBe(pid);
    expect(results.get('read')).toBe(NOTIFIED);
    expect(results.get('open')).toBe(NOTIFIED);
    expect(results.get('uname')).toBe(NOTIFIED);
    expect(results.get('unknown')).toBe(NOTIFIED);
    expect(results.get('execve')).toBe(TRACED + BigInt(TRACE_DATA.PTRACE_CLASS));
  });

  it('allows anonymous mmap natively and sends file-backed mmap to the tracer', () => {
    const { results, end } = probe.run(buildTaskFilter(classes), [
      `anon=${NR.mmap},0,4096,3,0x22,-1,0`, // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
      `anonfd=${NR.mmap},0,4096,3,0x22,FD,0`, // fd is ignored with MAP_ANONYMOUS
      `anonshared=${NR.mmap},0,4096,3,0x21,-1,0`, // MAP_SHARED|MAP_ANONYMOUS
      `file=${NR.mmap},0,4096,1,2,FD,0`, // PROT_READ, MAP_PRIVATE of a host fd
      `fileshared=${NR.mmap},0,4096,1,1,FD,0`,
    ]);
    expect(end).toEqual({ exit: 0 });
    for (const k of ['anon', 'anonfd', 'anonshared']) {
      const addr = results.get(k)!;
      expect(addr, k).toBeGreaterThan(0x10000n); // a real mapping address, not an errno or a notification
      expect(addr % 4096n, k).toBe(0n);
    }
    expect(results.get('file')).toBe(TRACED + BigInt(TRACE_DATA.FILE_MMAP));
    expect(results.get('fileshared')).toBe(TRACED + BigInt(TRACE_DATA.FILE_MMAP));
  });

  it('refuses clone with any namespace flag (EPERM) and answers clone3 with ENOSYS', () => {
    const specs = Object.entries(CLONE_NS_FLAGS).map(([name, bit]) => `${name}=${NR.clone},${bit | 17},0,0,0,0`);
    specs.push(`clone3=${NR.clone3},BUF,88`);
    specs.push(`plainclone=${NR.clone},17,0,0,0,0`); // SIGCHLD only: a fork
    const { results, end } = probe.run(buildTaskFilter(classes), specs);
    expect(end).toEqual({ exit: 0 });
    for (const name of Object.keys(CLONE_NS_FLAGS)) expect(results.get(name), name).toBe(EPERM);
    expect(results.get('clone3')).toBe(ENOSYS);
    // clone is not in any class list here, so a namespace-free clone is emulated (notified).
    expect(results.get('plainclone')).toBe(NOTIFIED);
  });

  it('gives a namespace-free clone the class the table gives clone', () => {
    const traced = probe.run(buildTaskFilter({ ...classes, ptrace: [NR.execve, NR.clone] }), [
      `fork=${NR.clone},17,0,0,0,0`,
      `newnet=${NR.clone},${CLONE_NS_FLAGS.CLONE_NEWNET | 17},0,0,0,0`,
    ]);
    expect(traced.results.get('fork')).toBe(TRACED + BigInt(TRACE_DATA.PTRACE_CLASS));
    expect(traced.results.get('newnet')).toBe(EPERM);
    // A native clone is refused: CLONE_UNTRACED would give a task the sentry does not trace.
    expect(() => buildTaskFilter({ ...classes, native: [...classes.native, NR.clone] })).toThrow(/clone \(56\) must not be native/);
  });

  it('runs arch_prctl natively only for ARCH_SET_FS/ARCH_GET_FS', () => {
    const specs = [
      `getfs=${NR.arch_prctl},0x1003,BUF`,
      `getgs=${NR.arch_prctl},0x1004,BUF`,
      `setgs=${NR.arch_prctl},0x1001,0`,
      `cpuid=${NR.arch_prctl},0x1011,0`,
    ];
    const emulated = probe.run(buildTaskFilter(classes), specs);
    expect(emulated.results.get('getfs')).toBe(0n);
    expect(emulated.results.get('getgs')).toBe(NOTIFIED);
    expect(emulated.results.get('setgs')).toBe(NOTIFIED);
    expect(emulated.results.get('cpuid')).toBe(NOTIFIED);
    const withoutArchPrctl = classes.native.filter((n) => n !== NR.arch_prctl);
    const traced = probe.run(
      buildTaskFilter({ ...classes, native: withoutArchPrctl, ptrace: [NR.execve, NR.arch_prctl] }),
      specs,
    );
    expect(traced.results.get('getfs')).toBe(0n);
    expect(traced.results.get('getgs')).toBe(TRACED + BigInt(TRACE_DATA.PTRACE_CLASS));
    expect(traced.results.get('setgs')).toBe(TRACED + BigInt(TRACE_DATA.PTRACE_CLASS));
    expect(traced.results.get('cpuid')).toBe(TRACED + BigInt(TRACE_DATA.PTRACE_CLASS));
  });

  it('kills the process for x32 syscall numbers and for the i386 ABI (int 0x80)', () => {
    const x32 = probe.run(buildTaskFilter(classes), [`before=${NR.getpid}`, `x32=${0x40000000 + NR.getpid}`]);
    expect(x32.results.get('before')).toBeGreaterThan(0n);
    expect(x32.results.has('x32')).toBe(false);
    expect(x32.end).toEqual({ signal: SIGSYS });
    const i386 = probe.run(buildTaskFilter(classes), [`i386=i386:20`]); // i386 getpid
    expect(i386.results.has('i386')).toBe(false);
    expect(i386.end).toEqual({ signal: SIGSYS });
  });

  it('refuses to make a host-reaching syscall native (or ptrace-class, where the tracer could resume it)', () => {
    const empty = { emulated: [], native: [], ptrace: [] };
    for (const [name, rule] of Object.entries(NEVER_NATIVE_SYSCALLS)) {
      expect(resolveSyscallName(name), name).toBe(rule.nr); // the hard-coded number is the one libseccomp knows
      expect(() => buildTaskFilter({ ...empty, native: [rule.nr] }), name).toThrow(`${name} (${rule.nr}) must not be native`);
      if (rule.ptraceOk) expect(buildTaskFilter({ ...empty, ptrace: [rule.nr] }).length, name).toBeGreaterThan(0);
      else expect(() => buildTaskFilter({ ...empty, ptrace: [rule.nr] }), name).toThrow(`${name} (${rule.nr}) must not be ptrace`);
    }
    // The brief's list in design.md terms: none of these may ever run on the host for a task.
    for (const name of ['ptrace', 'process_vm_readv', 'process_vm_writev', 'personality', 'seccomp', 'userfaultfd',
      'io_uring_setup', 'bpf', 'perf_event_open', 'kexec_load', 'keyctl', 'add_key', 'unshare', 'setns']) {
      expect(NEVER_NATIVE_SYSCALLS[name], name).toBeDefined();
    }
    // Emulated, they build and are notified like any other emulated call.
    const { results, end } = probe.run(buildTaskFilter({ ...classes, emulated: [...classes.emulated, 101, 310, 135] }), [
      `ptrace=101,0,0,0,0`,
      `vmread=310,1,BUF,1,BUF,1,0`,
      `personality=135,0xffffffff`,
    ]);
    expect(end).toEqual({ exit: 0 });
    for (const k of ['ptrace', 'vmread', 'personality']) expect(results.get(k), k).toBe(NOTIFIED);
  });

  it('rejects malformed class lists with a clear error', () => {
    expect(() => buildTaskFilter({ emulated: [1], native: [1], ptrace: [] })).toThrow(/both as emulated and as native/);
    expect(() => buildTaskFilter({ emulated: [-1], native: [], ptrace: [] })).toThrow(/not an x86_64 syscall number/);
    expect(() => buildTaskFilter({ emulated: [], native: [0x40000000], ptrace: [] })).toThrow(RangeError);
    expect(() => buildTaskFilter({ emulated: [], native: [1.5], ptrace: [] })).toThrow(RangeError);
  });
});

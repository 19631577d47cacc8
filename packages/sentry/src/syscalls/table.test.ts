import { describe, expect, it } from 'vitest';
import { SYSCALL_NUMBERS, type SyscallName } from './numbers.js';
import { syscallTable, taskFilter } from './table.js';

const cls = (name: SyscallName): string => syscallTable.get(SYSCALL_NUMBERS[name])!.class;

describe('syscall table', () => {
  it('lists every x86_64 syscall once, each native or ptrace entry with its reason', () => {
    expect(syscallTable.size).toBe(Object.keys(SYSCALL_NUMBERS).length);
    for (const e of syscallTable.values()) {
      expect(SYSCALL_NUMBERS[e.name]).toBe(e.nr);
      if (e.class !== 'emulated') expect(e.note.length, e.name).toBeGreaterThan(5);
      if (e.class === 'emulated' && e.support !== 'unimplemented') expect(e.handler, e.name).toBeTypeOf('function');
    }
  });

  it('never lets the host run a call that names a host resource or reaches another process', () => {
    const mustNotBeNative: SyscallName[] = [
      'open', 'openat', 'read', 'write', 'ioctl', 'socket', 'connect', 'kill', 'tgkill', 'ptrace',
      'process_vm_readv', 'process_vm_writev', 'mount', 'umount2', 'unshare', 'setns', 'pidfd_open', 'pidfd_getfd',
      'chroot', 'pivot_root', 'seccomp', 'bpf', 'perf_event_open', 'keyctl', 'add_key', 'userfaultfd', 'wait4',
      'prctl', 'execve', 'execveat', 'clone3', 'io_uring_setup', 'memfd_create', 'uname', 'getppid', 'setuid',
    ];
    for (const n of mustNotBeNative) expect(cls(n), n).not.toBe('native');
    for (const n of ['execve', 'execveat', 'clone', 'fork', 'vfork', 'brk', 'rt_sigaction'] as SyscallName[]) {
      expect(cls(n), n).toBe('ptrace');
    }
  });

  it('builds the task filter as struct sock_filter[]', () => {
    const bpf = taskFilter();
    expect(bpf.length % 8).toBe(0);
    expect(bpf.length / 8).toBeGreaterThan(20);
    expect(bpf.length / 8).toBeLessThanOrEqual(4096);
  });
});

// Allow-lists with which the sentry and the gofer confine themselves once set up (design.md: install with TSYNC so
// libuv's thread-pool threads and V8's helper threads are confined too, not only the calling thread).
//
// The lists come from what Node 20 / libuv / V8 / glibc really call (strace -f of a node process doing file I/O,
// timers, worker threads, TCP and unix sockets, koffi calls), plus what each component does on top. STATUS: a start.
// They are not yet narrowed by arguments (clone flags, socket families, ioctl requests, prctl options); each entry
// says why it is there, so that narrowing can proceed entry by entry.
//
// Caution for whoever installs these: seccomp filters are inherited by children and the strictest verdict of all
// filters wins (KILL > ERRNO > USER_NOTIF > TRACE > ALLOW). An application task forked by a confined sentry would
// carry this filter too and be killed or refused on its first call outside this list, before its own USER_NOTIF
// filter is consulted. Tasks must therefore be created by a process forked before the sentry confines itself.
import { SeccompFilter, resolveSyscallName } from './libseccomp.js';
import { CLONE_NS_FLAGS, ENOSYS, SCMP_ACT, SCMP_CMP, SCMP_FLTATR } from './constants.js';

/** clone(2)'s CLONE_THREAD: the new task shares the thread group, i.e. it is a thread, not a process. */
const CLONE_THREAD = 0x00010000n;

/** Syscall name -> why the process needs it. */
type AllowList = Record<string, string>;

/** What every Node.js process needs to run its event loop, threads and JIT. */
const NODE_RUNTIME: AllowList = {
  // memory: V8's heap and JIT, glibc malloc, thread stacks; pkey_* is V8's code-space write protection
  mmap: 'V8 heap, JIT, malloc, thread stacks',
  munmap: 'V8 heap, malloc',
  mprotect: 'V8 JIT W^X flips, guard pages',
  madvise: 'V8 and malloc release memory',
  mremap: 'glibc realloc of large blocks',
  brk: 'glibc malloc',
  pkey_alloc: 'V8 probes memory protection keys at start',
  pkey_free: 'V8 memory protection keys',
  pkey_mprotect: 'V8 memory protection keys',
  membarrier: 'V8 flushes instruction caches across threads',
  // threads and synchronisation
  futex: 'every lock and condition variable',
  set_robust_list: 'glibc thread start',
  rseq: 'glibc thread start (restartable sequences)',
  set_tid_address: 'glibc thread start',
  gettid: 'glibc, V8 thread ids',
  getpid: 'Node process.pid, libuv',
  getppid: 'process.ppid',
  sched_yield: 'V8 spin locks',
  sched_getaffinity: 'libuv counts CPUs for the thread pool',
  exit: 'thread exit',
  exit_group: 'process exit',
  // signals
  rt_sigaction: 'Node installs SIGINT/SIGTERM/SIGPIPE handlers',
  rt_sigprocmask: 'libuv and glibc block signals around thread creation',
  rt_sigreturn: 'return from a signal handler',
  sigaltstack: 'V8 stack-overflow handling',
  tgkill: 'V8 and libuv signal their own threads',
  // event loop
  epoll_create1: 'libuv event loop',
  epoll_ctl: 'libuv event loop',
  epoll_pwait: 'libuv event loop',
  epoll_wait: 'libuv event loop (older libuv)',
  eventfd2: 'libuv async handles (thread pool wake-ups)',
  pipe2: 'libuv signal pipe',
  poll: 'libuv uv_try_write checks',
  ppoll: 'libuv',
  // descriptors
  read: 'fds', write: 'fds', readv: 'fds', writev: 'fds', pread64: 'fs.read with position',
  pwrite64: 'fs.write with position', close: 'fds', lseek: 'fds',
  fcntl: 'O_NONBLOCK, FD_CLOEXEC', ioctl: 'FIONBIO/FIOCLEX, tty size; seccomp notification ioctls in the sentry',
  dup: 'libuv', dup2: 'libuv', dup3: 'libuv',
  fsync: 'Node fsyncs stdout/stderr at exit when they are files or pipes ("Failed to sync <stdout>")',
  fdatasync: 'fs.fdatasync on log files',
  // reading its own code (ESM imports are loaded lazily) and /proc/self
  openat: 'module loading, /proc/self', newfstatat: 'module resolution', fstat: 'module loading', statx: 'fs.stat',
  readlink: 'module resolution (realpath)', readlinkat: 'realpath', getdents64: 'readdir', getcwd: 'process.cwd',
  access: 'module resolution', faccessat2: 'fs.access',
  // sockets: control socket, 9P, netstack's host links
  socket: 'net', socketpair: 'IPC', bind: 'net', listen: 'net', accept4: 'net', connect: 'net',
  getsockname: 'net', getpeername: 'net', getsockopt: 'net', setsockopt: 'net', shutdown: 'net',
  sendmsg: 'SCM_RIGHTS, 9P', recvmsg: 'SCM_RIGHTS, 9P', sendto: 'net', recvfrom: 'net',
  sendmmsg: 'batched packets', recvmmsg: 'batched packets',
  // time, identity, limits
  clock_gettime: 'when the vDSO is not used', clock_nanosleep: 'sleeps', nanosleep: 'sleeps',
  gettimeofday: 'when the vDSO is not used', getrandom: 'crypto, V8 hash seeds',
  uname: 'os.release', sysinfo: 'os.totalmem', prlimit64: 'Node raises RLIMIT_NOFILE at start',
  getrlimit: 'glibc', getuid: 'process.getuid', geteuid: 'glibc', getgid: 'process.getgid', getegid: 'glibc',
  capget: 'Node checks capabilities at start',
  prctl: 'thread names (PR_SET_NAME)',
};

/** The sentry's own work on top of Node: tracing and serving its tasks. */
const SENTRY_EXTRA: AllowList = {
  ptrace: 'the platform: PTRACE_SEIZE/CONT/GETREGS/SETREGS on tasks',
  process_vm_readv: 'reads task memory for emulated syscalls',
  process_vm_writev: 'writes task memory for emulated syscalls',
  wait4: 'task exits and ptrace stops',
  waitid: 'task exits and ptrace stops',
  kill: 'signals to tasks (they run in the sandbox pid namespace)',
  pidfd_open: 'task handles', pidfd_getfd: 'takes fds out of tasks', pidfd_send_signal: 'signals to tasks',
  memfd_create: 'MAP_SHARED file mappings shared with tasks; BPF export',
  ftruncate: 'memfd sizing',
};

/** The gofer serves the container's files: the file-system calls on top of Node's. */
const GOFER_EXTRA: AllowList = {
  openat2: 'RESOLVE_BENEATH opens under the rootfs',
  mkdirat: 'Tmkdir', mknodat: 'Tmknod', unlinkat: 'Tunlinkat', renameat2: 'Trenameat', linkat: 'Tlink',
  symlinkat: 'Tsymlink', fchmod: 'Tsetattr', fchmodat: 'Tsetattr', fchown: 'Tsetattr', fchownat: 'Tsetattr',
  utimensat: 'Tsetattr times', ftruncate: 'Tsetattr size', fallocate: 'Tfallocate', statfs: 'Tstatfs', fstatfs: 'Tstatfs', fchdir: 'path walks relative to a dir fd',
  fgetxattr: 'Txattrwalk', flistxattr: 'Txattrwalk', fsetxattr: 'Txattrcreate', fremovexattr: 'Tremovexattr',
  flock: 'Tlock', copy_file_range: 'copy-up', sendfile: 'reads into sockets',
  // libuv implements Node's path-based fs calls with the old non-*at syscalls (strace of the gofer on Node 20)
  mkdir: 'Tmkdir (fs.mkdir)', rmdir: 'Tunlinkat AT_REMOVEDIR, Tremove (fs.rmdir)', symlink: 'Tsymlink (fs.symlink)',
  link: 'Tlink (fs.link)', rename: 'Trenameat, Trename (fs.rename)', unlink: 'Tunlinkat, Tremove (fs.unlink)',
  lchown: 'owner of created files, Tsetattr uid/gid (fs.lchown)', chown: 'fs.chown',
  chmod: 'Tsetattr mode (fs.chmod)', truncate: 'Tsetattr size on an unopened fid (fs.truncate)',
};

export type SelfFilterKind = 'sentry' | 'gofer';

export interface SelfFilterOptions {
  /** Verdict for a syscall outside the list; default SCMP_ACT.KILL_PROCESS. SCMP_ACT.errno(EPERM) or LOG to debug. */
  defaultAction?: number;
  /** More syscalls to allow (names), e.g. from a component that is not built yet. */
  extra?: string[];
  /**
   * Allow clone(2) without CLONE_THREAD (fork, child_process). Default false: a confined component makes threads
   * only, since a forked child would inherit this filter (see the caution at the top of this file).
   */
  allowFork?: boolean;
}

/** The allow-list of `kind`: name -> reason. */
export function selfAllowList(kind: SelfFilterKind): AllowList {
  return { ...NODE_RUNTIME, ...(kind === 'sentry' ? SENTRY_EXTRA : GOFER_EXTRA) };
}

function build(kind: SelfFilterKind, opts: SelfFilterOptions): SeccompFilter {
  const filter = new SeccompFilter(opts.defaultAction ?? SCMP_ACT.KILL_PROCESS);
  try {
    filter.setAttr(SCMP_FLTATR.ACT_BADARCH, SCMP_ACT.KILL_PROCESS);
    filter.setAttr(SCMP_FLTATR.CTL_NNP, 1);
    // Without TSYNC, only the calling thread would be confined (seccomp(2)); libuv's pool would stay free.
    filter.setAttr(SCMP_FLTATR.CTL_TSYNC, 1);
    const names = [...Object.keys(selfAllowList(kind)), ...(opts.extra ?? [])];
    for (const name of names) {
      const nr = resolveSyscallName(name);
      if (nr === undefined) throw new RangeError(`buildSelfFilter: unknown syscall name "${name}"`);
      filter.addRule(SCMP_ACT.ALLOW, nr);
    }
    // pthread_create (worker_threads, the libuv pool, V8's platform threads) after clone3 answered ENOSYS: only
    // with CLONE_THREAD unless forking is allowed, and never with a namespace flag (a thread may have its own
    // network, UTS, IPC or mount namespace; the components make none). clone's flags are argument 0 on x86_64.
    const clone = resolveSyscallName('clone')!;
    const nsMask = BigInt(Object.values(CLONE_NS_FLAGS).reduce((m, bit) => m | bit, 0) >>> 0);
    const mustBeThread = opts.allowFork ? 0n : CLONE_THREAD;
    filter.addRule(SCMP_ACT.ALLOW, clone, [{ arg: 0, op: SCMP_CMP.MASKED_EQ, datumA: mustBeThread | nsMask, datumB: mustBeThread }]);
    // glibc tries clone3 first for new threads; ENOSYS makes it fall back to clone, whose flags BPF can see.
    const clone3 = resolveSyscallName('clone3');
    if (clone3 !== undefined && !names.includes('clone3')) filter.addRule(SCMP_ACT.errno(ENOSYS), clone3);
    return filter;
  } catch (err) {
    filter.release();
    throw err;
  }
}

/**
 * The self-confinement filter of the sentry or the gofer as BPF. Install it with
 * seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, ...) after prctl(PR_SET_NO_NEW_PRIVS).
 */
export function buildSelfFilter(kind: SelfFilterKind, opts: SelfFilterOptions = {}): Buffer {
  const filter = build(kind, opts);
  try {
    return filter.exportBpf();
  } finally {
    filter.release();
  }
}

/**
 * Confines the calling process with its self filter through libseccomp's seccomp_load (NO_NEW_PRIVS and TSYNC set),
 * so every existing thread is confined. Irreversible; fails with SeccompError if a thread could not be synced.
 */
export function installSelfFilter(kind: SelfFilterKind, opts: SelfFilterOptions = {}): void {
  const filter = build(kind, opts);
  try {
    filter.loadIntoSelf();
  } finally {
    filter.release();
  }
}

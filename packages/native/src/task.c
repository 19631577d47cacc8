/* task: the fork-to-exec path of a new application task (design.md, "The platform").
 *
 * spawnTask(root, filter, stub) makes a host process that
 *   - lives in a new pid namespace (so host tids inside it are the sandbox's tids),
 *   - is attached with PTRACE_SEIZE by the calling thread before it runs any code of its own,
 *   - dies with the sentry (PR_SET_PDEATHSIG SIGKILL, PTRACE_O_EXITKILL),
 *   - is chrooted into an empty directory, holds no host file descriptors and no capabilities,
 *   - runs as an unprivileged host identity (uid/gid given by the caller, no supplementary groups) and is not
 *     dumpable, so no host process but a privileged one (the sentry) can trace it or read its memory,
 *   - runs under the task seccomp filter (given as BPF bytes) with a user-notification listener,
 *   - has exec'ed the stub (ELF bytes, from a memfd: no host path) and is left in the PTRACE_EVENT_EXEC stop.
 *
 * How the listener fd reaches the sentry: the child installs the filter (the listener gets the lowest free fd,
 * which is 1 since only the stub memfd at fd 0 is open) and then calls execveat(0, "", ..., AT_EMPTY_PATH). The
 * filter must return SECCOMP_RET_TRACE for execveat (the sentry's table puts execve/execveat in the ptrace class),
 * so the child stops in a seccomp stop; the parent takes fd 1 with pidfd_getfd(2) and lets the exec run. Both
 * fds are close-on-exec (the listener is created O_CLOEXEC by the kernel), so the stub starts with no fds.
 *
 * The host identity: the task's emulated credentials (getuid and friends, answered by the sentry from the OCI spec)
 * are unrelated to its host uid, which is a plain unprivileged one (65534 by default). The order in the child is
 * what keeps the sentry's powers over it: PTRACE_SEIZE happens while the child is still root (a tracer stays
 * attached across the child's own credential change); the sentry is root with CAP_SYS_PTRACE, which is what
 * pidfd_getfd, process_vm_readv/writev and /proc/PID/mem check (ptrace(2), "Ptrace access mode checking"), so a
 * non-dumpable task is still open to it. The uid change must come before the filter (the filter would send
 * setresuid to the listener nobody reads yet) and uses raw syscalls: glibc's setresuid would try to signal the
 * threads of the parent it still believes exist (the child of a multithreaded process has one thread).
 * commit_creds() clears the parent-death signal and the dumpable flag when the effective ids change (prctl(2),
 * PR_SET_PDEATHSIG), so PR_SET_PDEATHSIG is set again afterwards. execve would make the task dumpable again, but
 * not when the executed file is unreadable to it (the kernel's would_dump(); proc(5), /proc/PID/ ownership): the
 * stub memfd is mode 0111, executable and unreadable for the task, so the task stays non-dumpable for life (the
 * sentry's execve is emulated by injection, never a host exec, and prctl is emulated).
 *
 * Everything runs synchronously on the calling thread, which becomes the tracer: every later ptrace request for
 * this task must come from the same thread (ptrace(2): "the tracer" is a thread). */
#include "napi_util.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

/* The options every task is traced with; new children inherit them (ptrace(2), PTRACE_O_TRACECLONE). */
#define TSV_PTRACE_OPTIONS                                                                                \
  (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |              \
   PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL)

/* The listener's fd number in the child: fd 0 is the stub memfd, everything else is closed. */
#define CHILD_STUB_FD 0
#define CHILD_LISTENER_FD 1

/* Everything the child needs, prepared before clone: after clone the child may not allocate (the parent is
 * multithreaded; only async-signal-safe work is allowed until exec). */
struct child_plan {
  int stub_fd;
  int go_fd;
  int go_write_fd;
  const char *root;
  uid_t uid;
  gid_t gid;
  struct sock_fprog prog;
  char *const *argv;
  char *const *envp;
};

static void child_fail(int step) {
  /* Exit codes 100+step tell the parent which step failed (only visible if the parent waits on it). */
  syscall(SYS_exit_group, 100 + step);
}

static void child_main(const struct child_plan *p) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_fail(1);
  /* Our copy of the write end goes first: if the sentry died before PR_SET_PDEATHSIG took effect, the read below
   * then ends with EOF instead of blocking forever in an orphan nobody traces. */
  close(p->go_write_fd);
  /* Wait until the parent has attached: nothing of ours may run untraced. */
  char go;
  ssize_t r;
  do r = read(p->go_fd, &go, 1); while (r < 0 && errno == EINTR);
  if (r != 1) child_fail(2);
  /* Node blocks no signals on the main thread but ignores SIGPIPE; exec keeps ignored dispositions, so reset
   * every disposition and the mask to the defaults a new Linux process expects. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < 65; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    sigaction(s, &dfl, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (p->stub_fd != CHILD_STUB_FD && dup3(p->stub_fd, CHILD_STUB_FD, O_CLOEXEC) < 0) child_fail(3);
  if (syscall(SYS_close_range, CHILD_STUB_FD + 1, ~0U, 0) < 0) child_fail(4);
  if (chroot(p->root) < 0) child_fail(5);
  if (chdir("/") < 0) child_fail(6);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(7);
  /* Host root no more: no supplementary groups, then the gid (while CAP_SETGID is still held), then the uid. With
   * every uid non-zero the kernel clears the permitted and effective capabilities (capabilities(7), "Effect of
   * user ID changes on capabilities"). */
  if (syscall(SYS_setgroups, 0, NULL) < 0) child_fail(11);
  if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0) child_fail(12);
  if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0) child_fail(13);
  /* The credential change cleared the parent-death signal. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_fail(14);
  /* No capability is left, including the inheritable set, which the uid change keeps: everything the task may
   * do natively is about its own address space. With no_new_privs, execve cannot give any back. */
  struct __user_cap_header_struct caph = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct capd[2];
  memset(capd, 0, sizeof capd);
  if (syscall(SYS_capset, &caph, capd) < 0) child_fail(10);
  long lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                     SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &p->prog);
  if (lfd != CHILD_LISTENER_FD) child_fail(8);
  syscall(SYS_execveat, CHILD_STUB_FD, "", p->argv, p->envp, AT_EMPTY_PATH);
  child_fail(9);
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *b = buf;
  while (len > 0) {
    ssize_t w = write(fd, b, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    b += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Waits for the next stop or exit of `pid`, giving up after `deadline_ms`. Returns 0 with *status set, or -errno. */
static int wait_stop(pid_t pid, int *status, int deadline_ms) {
  struct timespec start, now, nap = {0, 100000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    pid_t w = waitpid(pid, status, __WALL | WNOHANG);
    if (w == pid) return 0;
    if (w < 0 && errno != EINTR) return -errno;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (ms > deadline_ms) return -ETIMEDOUT;
    nanosleep(&nap, NULL);
  }
}

static void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  int st;
  /* A killed tracee still stops at PTRACE_EVENT_EXIT (PTRACE_O_TRACEEXIT) and waits there for us: continue it,
   * or this loop would wait forever with the event loop blocked. */
  for (;;) {
    pid_t w = waitpid(pid, &st, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w != pid || WIFEXITED(st) || WIFSIGNALED(st)) return;
    if (WIFSTOPPED(st)) ptrace(PTRACE_CONT, pid, 0, 0);
  }
}

/* spawnTask(root: string, filter: Buffer, stub: Buffer, uid: number, gid: number) -> { pid, listenerFd } */
static napi_value js_spawn_task(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (tsv_args(env, info, argv, 5) < 5) return tsv_throw_type(env, "spawnTask(root, filter, stub, uid, gid)");
  char *root;
  void *filter, *stub;
  size_t filter_len, stub_len;
  int64_t uid, gid;
  if (!tsv_arg_i64(env, argv[3], &uid) || !tsv_arg_i64(env, argv[4], &gid)) return NULL;
  /* 0 would leave the task host root; (uid_t)-1 means "unchanged" to setresuid(2). */
  if (uid < 1 || uid > 0xfffffffeLL || gid < 1 || gid > 0xfffffffeLL)
    return tsv_throw_type(env, "spawnTask: the task's host uid and gid must be unprivileged ids (1 to 4294967294)");
  if (!tsv_arg_string(env, argv[0], &root)) return NULL;
  if (!tsv_arg_buffer(env, argv[1], &filter, &filter_len) || !tsv_arg_buffer(env, argv[2], &stub, &stub_len)) {
    free(root);
    return NULL;
  }
  if (filter_len == 0 || filter_len % sizeof(struct sock_filter) != 0 ||
      filter_len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    free(root);
    return tsv_throw_type(env, "filter must be a non-empty array of struct sock_filter (8 bytes each, at most 4096)");
  }
  /* The filter bytes live in a JS buffer that cannot move during this synchronous call; the child gets a copy of
   * the address space anyway. */
  int stub_fd = -1, go[2] = {-1, -1}, listener = -1, pidfd = -1;
  long pid = 0;
  const char *failed = NULL;
  int err = 0;
  stub_fd = memfd_create("tsvisor-stub", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (stub_fd < 0) { failed = "memfd_create"; err = errno; goto out; }
  /* Executable but unreadable for the task's uid, which keeps the task non-dumpable after the exec (header). */
  if (fchmod(stub_fd, 0111) < 0) { failed = "fchmod(stub)"; err = errno; goto out; }
  if (write_all(stub_fd, stub, stub_len) < 0) { failed = "write(stub)"; err = errno; goto out; }
  fcntl(stub_fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
  if (pipe2(go, O_CLOEXEC) < 0) { failed = "pipe2"; err = errno; goto out; }

  static char stub_name[] = "tsvisor-stub";
  char *const child_argv[] = {stub_name, NULL};
  char *const child_envp[] = {NULL};
  struct child_plan plan = {
      .stub_fd = stub_fd,
      .go_fd = go[0],
      .go_write_fd = go[1],
      .root = root,
      .uid = (uid_t)uid,
      .gid = (gid_t)gid,
      .prog = {.len = (unsigned short)(filter_len / sizeof(struct sock_filter)), .filter = filter},
      .argv = child_argv,
      .envp = child_envp,
  };
  /* Raw clone without CLONE_VM behaves like fork, with a new pid namespace (the sentry runs as root). */
  pid = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid < 0) { failed = "clone"; err = errno; goto out; }
  if (pid == 0) {
    child_main(&plan);
    syscall(SYS_exit_group, 127);
  }
  if (ptrace(PTRACE_SEIZE, (pid_t)pid, 0, (void *)(long)TSV_PTRACE_OPTIONS) < 0) {
    failed = "ptrace(PTRACE_SEIZE)"; err = errno; kill_and_reap((pid_t)pid); goto out;
  }
  if (write_all(go[1], "g", 1) < 0) { failed = "write(go)"; err = errno; kill_and_reap((pid_t)pid); goto out; }

  int status;
  int w;
  /* First stop: the seccomp stop of execveat. */
  for (;;) {
    if ((w = wait_stop((pid_t)pid, &status, 5000)) < 0) {
      failed = "waitpid(seccomp stop)"; err = -w; kill_and_reap((pid_t)pid); goto out;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      /* The child failed a set-up step (exit code 100 + step) or was killed. */
      static const char *const steps[] = {
          "task set-up: child killed before exec",          "task set-up: prctl(PR_SET_PDEATHSIG)",
          "task set-up: waiting for the tracer",            "task set-up: dup3(stub)",
          "task set-up: close_range",                       "task set-up: chroot (is the empty root a directory?)",
          "task set-up: chdir(/)",                          "task set-up: prctl(PR_SET_NO_NEW_PRIVS)",
          "task set-up: seccomp (is the filter valid BPF?)", "task set-up: execveat(stub)",
          "task set-up: capset",                            "task set-up: setgroups",
          "task set-up: setresgid",                         "task set-up: setresuid",
          "task set-up: prctl(PR_SET_PDEATHSIG) after the uid change",
      };
      int code = WIFEXITED(status) ? WEXITSTATUS(status) - 100 : 0;
      failed = code >= 1 && code <= 14 ? steps[code] : steps[0];
      err = code == 8 ? EINVAL : code == 5 ? ENOENT : code >= 11 && code <= 13 ? EPERM : ECHILD;
      goto out;
    }
    if (WIFSTOPPED(status) && (status >> 8) == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) break;
    /* Any other stop (a signal from outside): suppress it and go on. */
    ptrace(PTRACE_CONT, (pid_t)pid, 0, 0);
  }
  pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) { failed = "pidfd_open"; err = errno; kill_and_reap((pid_t)pid); goto out; }
  listener = (int)syscall(SYS_pidfd_getfd, pidfd, CHILD_LISTENER_FD, 0);
  if (listener < 0) { failed = "pidfd_getfd"; err = errno; kill_and_reap((pid_t)pid); goto out; }
  if (ptrace(PTRACE_CONT, (pid_t)pid, 0, 0) < 0) {
    failed = "ptrace(PTRACE_CONT)"; err = errno; kill_and_reap((pid_t)pid); goto out;
  }
  /* Second stop: PTRACE_EVENT_EXEC, the stub is loaded and has not run an instruction. */
  for (;;) {
    if ((w = wait_stop((pid_t)pid, &status, 5000)) < 0) {
      failed = "waitpid(exec stop)"; err = -w; kill_and_reap((pid_t)pid); goto out;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      /* execve(2) fails EAGAIN when the task's uid is over RLIMIT_NPROC (checked at exec since Linux 3.1). */
      failed = "execveat(stub) (is the task uid over RLIMIT_NPROC?)"; err = ENOEXEC; goto out;
    }
    if (WIFSTOPPED(status) && (status >> 8) == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) break;
    ptrace(PTRACE_CONT, (pid_t)pid, 0, 0);
  }

out:
  free(root);
  if (stub_fd >= 0) close(stub_fd);
  if (go[0] >= 0) close(go[0]);
  if (go[1] >= 0) close(go[1]);
  if (pidfd >= 0) close(pidfd);
  if (failed) {
    if (listener >= 0) close(listener);
    return tsv_throw_errno(env, failed, err);
  }
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "pid", tsv_i32(env, (int32_t)pid));
  napi_set_named_property(env, result, "listenerFd", tsv_i32(env, listener));
  return result;
}


napi_status tsv_register_task(napi_env env, napi_value exports) {
  return tsv_export(env, exports, "spawnTask", js_spawn_task);
}

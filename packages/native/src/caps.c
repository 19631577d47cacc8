/* caps: shrinking the capabilities of EVERY thread of this process (the gofer drops what serving files does not
 * need once its mounts are made).
 *
 * Capabilities are per thread (capabilities(7): "Thread capability sets"): capset(2) and PR_CAPBSET_DROP act on
 * the calling thread only, and Linux has nothing like seccomp's TSYNC for them. A Node process has threads our
 * code never runs on (V8's platform workers, libuv's pool, Node's SIGUSR1 watchdog), so each one must be made to
 * drop its own capabilities: we signal every thread listed in /proc/self/task and the signal handler does it.
 *
 * The signal is 32, which glibc reserves as SIGCANCEL for pthread_cancel(3) and installs a handler for only when
 * pthread_cancel is first used (Node never does; until then its disposition is SIG_DFL). It is the one signal
 * every thread has unblocked: glibc strips 32 and 33 from every mask set through it (pthread_sigmask(3)), and
 * Node's SIGUSR1 watchdog thread blocks every other signal. glibc's sigaction refuses it (EINVAL), so the handler
 * is installed with the raw rt_sigaction(2), which on x86-64 needs our own sa_restorer (rt_sigreturn). The old
 * disposition is restored afterwards; first SIG_IGN discards any instance still pending (signal(7)), which under
 * SIG_DFL would terminate the process.
 *
 * The handler only applies the change; completion is judged from outside, by reading every thread's
 * /proc/self/task/TID/status (through a directory fd the caller opened before leaving /proc behind: the gofer calls
 * this after pivot_root, where /proc is gone). Threads created meanwhile inherit their creator's sets (a dropped
 * creator gives a dropped thread); one created by a thread not yet reached is found on the next round. */
#include "napi_util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define TSV_CAPS_SIGNAL 32
#define TSV_SA_RESTORER 0x04000000UL

/* The kernel's struct sigaction for rt_sigaction(2) on x86-64 (not glibc's layout). */
struct kernel_sigaction {
  uintptr_t handler; /* a handler's address, or SIG_DFL / SIG_IGN */
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

/* rt_sigreturn(2) trampoline: the signal frame's return address (x86-64 requires SA_RESTORER). */
void tsv_caps_restore_rt(void) __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".globl tsv_caps_restore_rt\n"
        ".hidden tsv_caps_restore_rt\n"
        ".type tsv_caps_restore_rt,@function\n"
        "tsv_caps_restore_rt:\n"
        "  mov $15, %rax\n"
        "  syscall\n"
        "  hlt\n");

/* What the handler applies, set before any signal is sent. */
static uint64_t g_keep;
static int g_last_cap;
static pid_t g_pid;
static atomic_int g_armed;
/* The first error a thread met (errno), and which step: 1 bounding set, 2 ambient, 3 capget, 4 capset. */
static atomic_int g_error;
static atomic_int g_error_step;

/* Runs on the thread being changed: only raw system calls (async-signal-safe). Returns 0 or step<<16 | errno. */
static int restrict_calling_thread(void) {
  /* Bounding set first: PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set, which capset removes. Only caps
   * still present are dropped, so a thread reached twice does not fail for want of CAP_SETPCAP. */
  for (int c = 0; c <= g_last_cap; c++) {
    if ((g_keep >> c) & 1) continue;
    long present = syscall(SYS_prctl, PR_CAPBSET_READ, c, 0, 0, 0);
    if (present > 0 && syscall(SYS_prctl, PR_CAPBSET_DROP, c, 0, 0, 0) < 0) return 1 << 16 | errno;
  }
  if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return 2 << 16 | errno;
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return 3 << 16 | errno;
  /* Keep at most `keep`: a capability the thread does not hold cannot be added (capset(2) EPERM). */
  for (int i = 0; i < 2; i++) {
    uint32_t keep = (uint32_t)(g_keep >> (32 * i));
    d[i].permitted &= keep;
    d[i].effective = d[i].permitted;
    d[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &h, d) < 0) return 4 << 16 | errno;
  return 0;
}

static void on_caps_signal(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  /* SI_TKILL from our own process: sent by tgkill below, not by anyone else. */
  if (atomic_load(&g_armed) && si->si_code == SI_TKILL && si->si_pid == g_pid) {
    int r = restrict_calling_thread();
    int none = 0;
    if (r != 0 && atomic_compare_exchange_strong(&g_error, &none, r & 0xffff)) atomic_store(&g_error_step, r >> 16);
  }
  errno = saved;
}

/* The capability sets of one thread, from the Cap* lines of its status file (proc(5)). */
struct thread_caps {
  int tid;
  uint64_t inh, prm, eff, bnd, amb;
};

static int read_thread_caps(int task_dir, int tid, struct thread_caps *out) {
  char name[32], buf[4096];
  snprintf(name, sizeof name, "%d/status", tid);
  int fd = openat(task_dir, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = 0, r;
  while (n < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
  close(fd);
  if (n <= 0) return -ESRCH;
  buf[n] = 0;
  struct { const char *key; uint64_t *field; } keys[] = {
      {"\nCapInh:", &out->inh}, {"\nCapPrm:", &out->prm}, {"\nCapEff:", &out->eff},
      {"\nCapBnd:", &out->bnd}, {"\nCapAmb:", &out->amb},
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    char *at = strstr(buf, keys[i].key);
    if (!at) return -ENODATA;
    *keys[i].field = strtoull(at + strlen(keys[i].key), NULL, 16);
  }
  out->tid = tid;
  return 0;
}

/* Lists the tids in the task directory; returns the count (at most max) or -errno. */
static int list_threads(int task_dir, int *tids, int max) {
  int fd = openat(task_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  DIR *d = fdopendir(fd);
  if (!d) { int e = errno; close(fd); return -e; }
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < max) {
    int tid = atoi(e->d_name);
    if (tid > 0) tids[n++] = tid;
  }
  closedir(d);
  return n;
}

static bool complies(const struct thread_caps *c, uint64_t keep) {
  return (c->prm & ~keep) == 0 && (c->eff & ~keep) == 0 && (c->bnd & ~keep) == 0 && c->inh == 0 && c->amb == 0;
}

static int last_cap(void) {
  /* The highest capability this kernel knows: PR_CAPBSET_READ fails EINVAL past it (/proc may be gone). */
  int c = 0;
  while (c < 63 && syscall(SYS_prctl, PR_CAPBSET_READ, c + 1, 0, 0, 0) >= 0) c++;
  return c;
}

#define MAX_THREADS 1024

/* restrictThreadCapabilities(taskDirFd: number, keep: bigint) -> number of threads changed. Throws if a thread
 * still holds anything outside `keep` after the rounds. */
static napi_value js_restrict_thread_capabilities(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "restrictThreadCapabilities(taskDirFd, keep)");
  int32_t task_dir;
  uint64_t keep;
  if (!tsv_arg_i32(env, argv[0], &task_dir) || !tsv_arg_u64(env, argv[1], &keep)) return NULL;
  g_keep = keep;
  g_last_cap = last_cap();
  g_pid = getpid();
  atomic_store(&g_error, 0);
  atomic_store(&g_error_step, 0);

  struct kernel_sigaction act = {
      .handler = (uintptr_t)on_caps_signal,
      .flags = SA_SIGINFO | SA_RESTART | TSV_SA_RESTORER,
      .restorer = tsv_caps_restore_rt,
      .mask = ~0ULL,
  };
  struct kernel_sigaction old;
  if (syscall(SYS_rt_sigaction, TSV_CAPS_SIGNAL, &act, &old, 8) < 0) return tsv_throw_errno(env, "rt_sigaction", errno);
  atomic_store(&g_armed, 1);

  static int tids[MAX_THREADS];
  int changed = 0, failed_tid = 0, err = 0;
  const char *failed = NULL;
  for (int round = 0; round < 5 && !failed; round++) {
    int n = list_threads(task_dir, tids, MAX_THREADS);
    if (n < 0) { failed = "reading the thread list (/proc/self/task)"; err = -n; break; }
    if (n == MAX_THREADS) { failed = "too many threads"; err = E2BIG; break; }
    int pending = 0;
    for (int i = 0; i < n; i++) {
      struct thread_caps c;
      int r = read_thread_caps(task_dir, tids[i], &c);
      if (r == -ENOENT || r == -ESRCH) { tids[i] = 0; continue; } /* exited */
      if (r < 0) { failed = "reading a thread's status"; err = -r; failed_tid = tids[i]; break; }
      if (complies(&c, keep)) { tids[i] = 0; continue; }
      if (syscall(SYS_tgkill, g_pid, tids[i], TSV_CAPS_SIGNAL) < 0) {
        if (errno == ESRCH) { tids[i] = 0; continue; }
        failed = "tgkill"; err = errno; failed_tid = tids[i]; break;
      }
      pending++;
      changed++;
    }
    if (failed || pending == 0) break;
    /* Wait until every signalled thread complies (a thread runs its handler when it next returns to user space;
     * blocked in a system call, it is interrupted and the call restarted), for up to a second per round. */
    struct timespec start, now, nap = {0, 200000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      if (atomic_load(&g_error)) break;
      int left = 0;
      for (int i = 0; i < n; i++) {
        if (!tids[i]) continue;
        struct thread_caps c;
        int r = read_thread_caps(task_dir, tids[i], &c);
        if (r < 0 || complies(&c, keep)) tids[i] = 0;
        else left++;
      }
      if (!left) break;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > 1000) break;
      nanosleep(&nap, NULL);
    }
    if (atomic_load(&g_error)) {
      static const char *const steps[] = {"", "PR_CAPBSET_DROP", "PR_CAP_AMBIENT_CLEAR_ALL", "capget", "capset"};
      int step = atomic_load(&g_error_step);
      failed = step >= 1 && step <= 4 ? steps[step] : "restricting a thread";
      err = atomic_load(&g_error);
    }
  }
  atomic_store(&g_armed, 0);
  /* SIG_IGN discards instances still pending for slow threads before the old disposition (SIG_DFL: terminate)
   * comes back. */
  struct kernel_sigaction ign = {.handler = (uintptr_t)SIG_IGN, .flags = TSV_SA_RESTORER,
                                 .restorer = tsv_caps_restore_rt};
  syscall(SYS_rt_sigaction, TSV_CAPS_SIGNAL, &ign, NULL, 8);
  syscall(SYS_rt_sigaction, TSV_CAPS_SIGNAL, &old, NULL, 8);

  if (!failed) {
    /* The final word: every thread listed now complies. */
    int n = list_threads(task_dir, tids, MAX_THREADS);
    if (n < 0) { failed = "reading the thread list (/proc/self/task)"; err = -n; }
    for (int i = 0; i < n && !failed; i++) {
      struct thread_caps c;
      int r = read_thread_caps(task_dir, tids[i], &c);
      if (r == -ENOENT || r == -ESRCH) continue;
      if (r < 0) { failed = "reading a thread's status"; err = -r; failed_tid = tids[i]; }
      else if (!complies(&c, keep)) { failed = "a thread kept capabilities outside the set"; err = EPERM; failed_tid = tids[i]; }
    }
  }
  if (failed) {
    char msg[160];
    if (failed_tid) snprintf(msg, sizeof msg, "restrictThreadCapabilities: %s (thread %d)", failed, failed_tid);
    else snprintf(msg, sizeof msg, "restrictThreadCapabilities: %s", failed);
    return tsv_throw_errno(env, msg, err);
  }
  return tsv_i32(env, changed);
}

/* threadCapabilities(taskDirFd: number) -> [{ tid, inheritable, permitted, effective, bounding, ambient }] */
static napi_value js_thread_capabilities(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "threadCapabilities(taskDirFd)");
  int32_t task_dir;
  if (!tsv_arg_i32(env, argv[0], &task_dir)) return NULL;
  static int tids[MAX_THREADS];
  int n = list_threads(task_dir, tids, MAX_THREADS);
  if (n < 0) return tsv_throw_errno(env, "threadCapabilities: reading the thread list", -n);
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t out = 0;
  for (int i = 0; i < n; i++) {
    struct thread_caps c;
    int r = read_thread_caps(task_dir, tids[i], &c);
    if (r == -ENOENT || r == -ESRCH) continue;
    if (r < 0) return tsv_throw_errno(env, "threadCapabilities: reading a thread's status", -r);
    napi_value o;
    napi_create_object(env, &o);
    napi_set_named_property(env, o, "tid", tsv_i32(env, c.tid));
    napi_set_named_property(env, o, "inheritable", tsv_bigint_u64(env, c.inh));
    napi_set_named_property(env, o, "permitted", tsv_bigint_u64(env, c.prm));
    napi_set_named_property(env, o, "effective", tsv_bigint_u64(env, c.eff));
    napi_set_named_property(env, o, "bounding", tsv_bigint_u64(env, c.bnd));
    napi_set_named_property(env, o, "ambient", tsv_bigint_u64(env, c.amb));
    napi_set_element(env, arr, out++, o);
  }
  return arr;
}

napi_status tsv_register_caps(napi_env env, napi_value exports) {
  napi_status s = tsv_export(env, exports, "restrictThreadCapabilities", js_restrict_thread_capabilities);
  if (s != napi_ok) return s;
  return tsv_export(env, exports, "threadCapabilities", js_thread_capabilities);
}

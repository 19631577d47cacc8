/* ptrace: requests on traced tasks, waitpid for their stops, and syscall injection.
 *
 * Every request must come from the thread that attached (ptrace(2): the tracer is a thread), which in the sentry
 * is the JavaScript main thread: all functions here are synchronous. waitpid is always for one tid with __WALL,
 * never -1, so children Node itself spawned (libuv reaps those) are never touched.
 *
 * Syscall injection (injectSyscall) runs a system call inside a task that sits in a syscall-exit stop: it points
 * %rip at a `syscall` instruction in the task, loads the number and arguments, and lets the task run exactly
 * that instruction with PTRACE_SYSCALL (entry stop, exit stop), then restores the registers. Signals that arrive
 * meanwhile are not delivered (that would run a handler in the middle); they are returned so the caller can
 * re-raise them afterwards. */
#include "napi_util.h"
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#define TSV_PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#define MAX_SUPPRESSED 16
/* A synchronous fault re-raised on every return to user mode (say, rseq memory gone) would loop forever if we kept
 * suppressing it; past this many signal stops in one wait the task is reported as stuck (EFAULT). */
#define MAX_SIGNAL_STOPS 64

static bool arg_tid(napi_env env, napi_value v, pid_t *tid) {
  int32_t t;
  if (!tsv_arg_i32(env, v, &t)) return false;
  if (t <= 0) { tsv_throw_type(env, "tid must be positive"); return false; }
  *tid = t;
  return true;
}

/* Throws ESRCH with `waitStatus` set when the task exited while we waited for it: either its exit status was
 * consumed, or (`exitStopped` true) it was seen at its PTRACE_EVENT_EXIT stop, continued, and `waitStatus` is the
 * status it exits with; its exit is then still to be reaped by a later waitpid. */
static napi_value throw_exited(napi_env env, int status, bool exit_stopped) {
  tsv_throw_errno(env, "task exited during ptrace operation", ESRCH);
  napi_value exc;
  napi_get_and_clear_last_exception(env, &exc);
  napi_set_named_property(env, exc, "waitStatus", tsv_i32(env, status));
  napi_value b;
  napi_get_boolean(env, exit_stopped, &b);
  napi_set_named_property(env, exc, "exitStopped", b);
  napi_throw(env, exc);
  return NULL;
}

static napi_value simple_request(napi_env env, napi_callback_info info, enum __ptrace_request req, const char *name) {
  napi_value argv[2];
  size_t argc = tsv_args(env, info, argv, 2);
  pid_t tid;
  int32_t data = 0;
  if (argc < 1 || !arg_tid(env, argv[0], &tid)) return argc < 1 ? tsv_throw_type(env, "expected (tid, sig?)") : NULL;
  if (argc >= 2 && !tsv_arg_i32(env, argv[1], &data)) return NULL;
  if (ptrace(req, tid, 0, (void *)(long)data) < 0) return tsv_throw_errno(env, name, errno);
  return tsv_undefined(env);
}

static napi_value js_cont(napi_env env, napi_callback_info info) {
  return simple_request(env, info, PTRACE_CONT, "ptrace(PTRACE_CONT)");
}
static napi_value js_syscall(napi_env env, napi_callback_info info) {
  return simple_request(env, info, PTRACE_SYSCALL, "ptrace(PTRACE_SYSCALL)");
}
static napi_value js_detach(napi_env env, napi_callback_info info) {
  return simple_request(env, info, PTRACE_DETACH, "ptrace(PTRACE_DETACH)");
}
static napi_value js_interrupt(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pid_t tid;
  if (tsv_args(env, info, argv, 1) < 1 || !arg_tid(env, argv[0], &tid)) return NULL;
  if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_INTERRUPT)", errno);
  return tsv_undefined(env);
}
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pid_t tid;
  if (tsv_args(env, info, argv, 1) < 1 || !arg_tid(env, argv[0], &tid)) return NULL;
  if (ptrace(PTRACE_LISTEN, tid, 0, 0) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_LISTEN)", errno);
  return tsv_undefined(env);
}

static napi_value js_get_event_msg(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pid_t tid;
  if (tsv_args(env, info, argv, 1) < 1 || !arg_tid(env, argv[0], &tid)) return NULL;
  unsigned long msg = 0;
  if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_GETEVENTMSG)", errno);
  return tsv_i64(env, (int64_t)msg);
}

/* A ptrace request that reads or writes one block through a caller's buffer of at least `min` bytes. */
static napi_value ptrace_block(napi_env env, napi_callback_info info, enum __ptrace_request request, size_t min,
                               const char *usage, const char *too_small, const char *call) {
  napi_value argv[2];
  pid_t tid;
  void *buf;
  size_t len;
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, usage);
  if (!arg_tid(env, argv[0], &tid) || !tsv_arg_buffer(env, argv[1], &buf, &len)) return NULL;
  if (len < min) return tsv_throw_type(env, too_small);
  if (ptrace(request, tid, 0, buf) < 0) return tsv_throw_errno(env, call, errno);
  return tsv_undefined(env);
}

/* getRegs(tid, out: Buffer of sizeof(struct user_regs_struct) = 216 bytes) */
static napi_value js_get_regs(napi_env env, napi_callback_info info) {
  return ptrace_block(env, info, PTRACE_GETREGS, sizeof(struct user_regs_struct), "getRegs(tid, out)",
                      "out must hold 216 bytes", "ptrace(PTRACE_GETREGS)");
}

static napi_value js_set_regs(napi_env env, napi_callback_info info) {
  return ptrace_block(env, info, PTRACE_SETREGS, sizeof(struct user_regs_struct), "setRegs(tid, regs)",
                      "regs must hold 216 bytes", "ptrace(PTRACE_SETREGS)");
}

/* getSiginfo(tid, out: Buffer of 128 bytes) */
static napi_value js_get_siginfo(napi_env env, napi_callback_info info) {
  return ptrace_block(env, info, PTRACE_GETSIGINFO, sizeof(siginfo_t), "getSiginfo(tid, out)",
                      "out must hold 128 bytes", "ptrace(PTRACE_GETSIGINFO)");
}

/* Whether `tid` is in a ptrace stop (proc(5) /proc/PID/stat state 't'). */
static bool in_trace_stop(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
  FILE *f = fopen(path, "re");
  if (!f) return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *close = strrchr(buf, ')'); /* the comm field may hold spaces and parentheses */
  return close && close[1] == ' ' && close[2] == 't';
}

/* A blocking wait for `tid` that cannot hang on a stop nobody can report: a task may sit in a ptrace stop that was
 * already reported (and not resumed), or whose wake-up by SIGKILL was lost (a SIGKILL that reaches a task at its
 * exit stop during a ptrace request on it); waitpid would then block for ever with the event loop stopped. Polls
 * (yielding first, then short sleeps growing to 1 ms); once the task has been seen in such a stop for LOST_STOP_MS it is continued, and
 * if even that fails, -EDEADLK is returned. Returns the pid, or -errno. */
#define LOST_STOP_MS 500
static int wait_bounded(pid_t tid, int *status) {
  long nap_ns = 20000, stuck_ns = 0;
  for (int spins = 0;; spins++) {
    pid_t r = waitpid(tid, status, __WALL | WNOHANG);
    if (r == tid) return r;
    if (r < 0 && errno != EINTR) return -errno;
    if (spins < 64) {
      /* Most stops come within microseconds (a new child's first stop): yield the CPU to the task first. */
      sched_yield();
      continue;
    }
    struct timespec nap = {0, nap_ns};
    nanosleep(&nap, NULL);
    if (nap_ns < 1000000) nap_ns *= 2;
    if (!in_trace_stop(tid)) {
      stuck_ns = 0;
      continue;
    }
    stuck_ns += nap_ns;
    if (stuck_ns < (long)LOST_STOP_MS * 1000000) continue;
    r = waitpid(tid, status, __WALL | WNOHANG); /* seen stopped first, so a reportable stop shows now */
    if (r == tid) return r;
    if (ptrace(PTRACE_CONT, tid, 0, 0) < 0) return -EDEADLK;
    stuck_ns = 0;
  }
}

/* waitTid(tid, block) -> the raw wait status, or -1 if `block` is false and there is nothing to report. A blocking
 * wait throws EDEADLK for a task stuck in a stop that cannot be reported (wait_bounded). */
static napi_value js_wait_tid(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  pid_t tid;
  bool block = false;
  size_t argc = tsv_args(env, info, argv, 2);
  if (argc < 1 || !arg_tid(env, argv[0], &tid)) return argc < 1 ? tsv_throw_type(env, "waitTid(tid, block?)") : NULL;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &block);
  int status;
  if (block) {
    int r = wait_bounded(tid, &status);
    if (r < 0) return tsv_throw_errno(env, r == -EDEADLK ? "waitpid: the task is stuck in a stop nobody can report" : "waitpid", -r);
    return tsv_i32(env, status);
  }
  pid_t r;
  do r = waitpid(tid, &status, __WALL | WNOHANG); while (r < 0 && errno == EINTR);
  if (r < 0) return tsv_throw_errno(env, "waitpid", errno);
  if (r == 0) return tsv_i32(env, -1);
  return tsv_i32(env, status);
}

static napi_value js_tgkill(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t tgid, tid, sig;
  if (tsv_args(env, info, argv, 3) < 3) return tsv_throw_type(env, "tgkill(tgid, tid, sig)");
  if (!tsv_arg_i32(env, argv[0], &tgid) || !tsv_arg_i32(env, argv[1], &tid) || !tsv_arg_i32(env, argv[2], &sig))
    return NULL;
  if (tgid <= 0 || tid <= 0) return tsv_throw_type(env, "tgid and tid must be positive");
  if (syscall(SYS_tgkill, tgid, tid, sig) < 0) return tsv_throw_errno(env, "tgkill", errno);
  return tsv_undefined(env);
}

#define RUN_HOSTILE (-2) /* run_to_syscall_stop: the task entered a traced syscall and was killed */
#define RUN_EXIT_STOP (-3) /* run_to_syscall_stop: the task reached its exit stop and was continued to its end */

/* Resumes with PTRACE_SYSCALL until the next syscall stop (SIGTRAP|0x80, PTRACE_O_TRACESYSGOOD). Signal-delivery
 * stops and group-stops on the way are suppressed and their signals collected. Returns 0, or -1 with *status
 * set if the task died, RUN_EXIT_STOP with *status set if it is dying (see there), RUN_HOSTILE if it was killed for a seccomp stop that `seccomp_ok` does not allow, or
 * -errno. */
static int run_to_syscall_stop(pid_t tid, bool seccomp_ok, int *sigs, int *nsigs, int *status) {
  int sig = 0, signal_stops = 0;
  for (;;) {
    if (ptrace(PTRACE_SYSCALL, tid, 0, (void *)(long)sig) < 0) return -errno;
    sig = 0;
    pid_t r;
    do r = waitpid(tid, status, __WALL); while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    if (WIFEXITED(*status) || WIFSIGNALED(*status)) return -1;
    if (!WIFSTOPPED(*status)) continue;
    int stopsig = WSTOPSIG(*status);
    int event = *status >> 16;
    if (stopsig == (SIGTRAP | 0x80)) return 0;
    if (event == PTRACE_EVENT_EXIT) {
      /* Killed on the way (SIGKILL, another thread's exit_group). This stop has now been reported to us and to
       * nobody else: leaving the task in it would leave it stopped for ever (SIGKILL does not end an exit stop,
       * and every later waitpid for it would block, since nothing new can be reported). So it is continued to
       * its end here, and the exit status it will have (the event message, ptrace(2) PTRACE_EVENT_EXIT) is what
       * the caller gets; its zombie is reported to the next waiter. */
      unsigned long msg = 0;
      if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0) *status = (int)msg;
      else *status = SIGKILL;
      ptrace(PTRACE_CONT, tid, 0, 0);
      return RUN_EXIT_STOP;
    }
    if (event == PTRACE_EVENT_SECCOMP && !seccomp_ok) {
      /* The task entered a syscall its filter sends to the tracer (clone, execve, ...) that is not the one we
       * are driving: it must have run code other than what we meant (say, it replaced the stub's syscall
       * instruction that injection uses). Resuming would run that call on the host unchecked (a
       * clone(CLONE_UNTRACED) would start an untraced task), so the task is killed. `seccomp_ok` is set only
       * between the checked entry stop of an injected call and its exit (the seccomp stop follows the entry
       * stop, kernel/entry/common.c syscall_trace_enter). */
      syscall(SYS_tkill, tid, SIGKILL);
      return RUN_HOSTILE;
    }
    if (++signal_stops > MAX_SIGNAL_STOPS) return -EFAULT;
    if (event != 0) continue; /* other events (group-stop): resume */
    if (*nsigs < MAX_SUPPRESSED) sigs[(*nsigs)++] = stopsig;
  }
}

static napi_value syscall_result(napi_env env, int64_t value, const int *sigs, int nsigs) {
  napi_value result, arr;
  napi_create_object(env, &result);
  napi_create_bigint_int64(env, value, &arr);
  napi_set_named_property(env, result, "value", arr);
  napi_create_array_with_length(env, (size_t)nsigs, &arr);
  for (int i = 0; i < nsigs; i++) napi_set_element(env, arr, (uint32_t)i, tsv_i32(env, sigs[i]));
  napi_set_named_property(env, result, "signals", arr);
  return result;
}

/* runToSyscallStop(tid) -> { value: rax (bigint), signals: number[] }: from a seccomp stop or an event stop taken
 * inside a syscall, finishes that syscall and stops at its exit. */
static napi_value js_run_to_syscall_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pid_t tid;
  if (tsv_args(env, info, argv, 1) < 1 || !arg_tid(env, argv[0], &tid)) return NULL;
  int sigs[MAX_SUPPRESSED], nsigs = 0, status = 0;
  int r = run_to_syscall_stop(tid, false, sigs, &nsigs, &status);
  if (r == -1 || r == RUN_EXIT_STOP) return throw_exited(env, status, r == RUN_EXIT_STOP);
  if (r == RUN_HOSTILE) return tsv_throw_errno(env, "runToSyscallStop: the task entered a traced syscall (killed)", ESRCH);
  if (r < 0) return tsv_throw_errno(env, "runToSyscallStop", -r);
  struct user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_GETREGS)", errno);
  return syscall_result(env, (int64_t)regs.rax, sigs, nsigs);
}

/* injectSyscall(tid, insnAddr, nr, args: bigint[6]) -> { value, signals }: the task must be in a syscall-exit stop;
 * it is left in the exit stop of the injected call with its registers as they were before. */
static napi_value js_inject_syscall(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (tsv_args(env, info, argv, 4) < 4) return tsv_throw_type(env, "injectSyscall(tid, insnAddr, nr, args)");
  pid_t tid;
  uint64_t insn;
  int32_t nr;
  if (!arg_tid(env, argv[0], &tid) || !tsv_arg_u64(env, argv[1], &insn) || !tsv_arg_i32(env, argv[2], &nr)) return NULL;
  uint64_t a[6] = {0};
  uint32_t n = 0;
  napi_get_array_length(env, argv[3], &n);
  if (n > 6) return tsv_throw_type(env, "at most 6 syscall arguments");
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, argv[3], i, &e);
    if (!tsv_arg_u64(env, e, &a[i])) return NULL;
  }
  struct user_regs_struct saved, regs;
  if (ptrace(PTRACE_GETREGS, tid, 0, &saved) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_GETREGS)", errno);
  regs = saved;
  regs.rip = insn;
  regs.rax = (unsigned long long)(long long)nr;
  regs.orig_rax = (unsigned long long)-1LL;
  regs.rdi = a[0];
  regs.rsi = a[1];
  regs.rdx = a[2];
  regs.r10 = a[3];
  regs.r8 = a[4];
  regs.r9 = a[5];
  if (ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_SETREGS)", errno);
  int sigs[MAX_SUPPRESSED], nsigs = 0, status = 0;
  int r = run_to_syscall_stop(tid, false, sigs, &nsigs, &status); /* entry */
  if (r == 0) {
    /* The entry stop must be the injected call at the instruction we chose: another thread of the task may have
     * rewritten or remapped the stub page, and then this thread runs the application's code with our registers.
     * Anything else is hostile; the task is killed rather than resumed into a call we did not mean. */
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_GETREGS)", errno);
    if (regs.orig_rax != (unsigned long long)(long long)nr || regs.rip != insn + 2) {
      syscall(SYS_tkill, tid, SIGKILL);
      return tsv_throw_errno(env, "injectSyscall: the task ran another syscall than the injected one (killed)", ESRCH);
    }
    r = run_to_syscall_stop(tid, true, sigs, &nsigs, &status); /* exit (a traced injected call stops in seccomp) */
  }
  if (r == -1 || r == RUN_EXIT_STOP) return throw_exited(env, status, r == RUN_EXIT_STOP);
  if (r == RUN_HOSTILE) return tsv_throw_errno(env, "injectSyscall: the task entered a traced syscall (killed)", ESRCH);
  if (r < 0) return tsv_throw_errno(env, "injectSyscall", -r);
  if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_GETREGS)", errno);
  if (ptrace(PTRACE_SETREGS, tid, 0, &saved) < 0) return tsv_throw_errno(env, "ptrace(PTRACE_SETREGS)", errno);
  return syscall_result(env, (int64_t)regs.rax, sigs, nsigs);
}

/* getRseq(tid) -> { address: bigint, size, signature, flags } (address 0n when none is registered). */
static napi_value js_get_rseq(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  pid_t tid;
  if (tsv_args(env, info, argv, 1) < 1 || !arg_tid(env, argv[0], &tid)) return NULL;
  struct {
    uint64_t ptr;
    uint32_t size, sig, flags, pad;
  } conf = {0};
  if (ptrace(TSV_PTRACE_GET_RSEQ_CONFIGURATION, tid, (void *)sizeof conf, &conf) < 0)
    return tsv_throw_errno(env, "ptrace(PTRACE_GET_RSEQ_CONFIGURATION)", errno);
  napi_value r;
  napi_create_object(env, &r);
  napi_set_named_property(env, r, "address", tsv_bigint_u64(env, conf.ptr));
  napi_set_named_property(env, r, "size", tsv_i64(env, conf.size));
  napi_set_named_property(env, r, "signature", tsv_i64(env, conf.sig));
  napi_set_named_property(env, r, "flags", tsv_i64(env, conf.flags));
  return r;
}

napi_status tsv_register_ptrace(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = tsv_export(env, exports, "ptraceCont", js_cont)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceSyscall", js_syscall)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceDetach", js_detach)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceInterrupt", js_interrupt)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceListen", js_listen)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceGetEventMsg", js_get_event_msg)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceGetRegs", js_get_regs)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceSetRegs", js_set_regs)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceGetSiginfo", js_get_siginfo)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "waitTid", js_wait_tid)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "tgkill", js_tgkill)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "runToSyscallStop", js_run_to_syscall_stop)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "injectSyscall", js_inject_syscall)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "ptraceGetRseq", js_get_rseq)) != napi_ok) return s;
  return napi_ok;
}

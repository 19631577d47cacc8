/* Hostile arguments to process, signal and limit calls: each answer (errno) must be Linux's. Differential. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Above any pid_max (at most 4194304): no process has it, natively or in the sandbox. */
#define NO_PID 0x3fffffff

static void report(const char *what, long r) {
  printf("%s: %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

int main(void) {
  siginfo_t si;
  struct rlimit rl;
  report("wait4(INT_MIN)", syscall(SYS_wait4, INT_MIN, 0L, WNOHANG, 0L));
  report("wait4(-1, bad options)", syscall(SYS_wait4, -1, 0L, 0x100, 0L));
  report("wait4(-1) no child", syscall(SYS_wait4, -1, 0L, WNOHANG, 0L));
  report("waitid(P_PID, 0)", syscall(SYS_waitid, P_PID, 0L, &si, WEXITED | WNOHANG, 0L));
  report("waitid(P_PGID, -1)", syscall(SYS_waitid, P_PGID, -1L, &si, WEXITED | WNOHANG, 0L));
  report("waitid(bad options)", syscall(SYS_waitid, P_ALL, 0L, &si, WEXITED | 0x100, 0L));
  report("waitid(bad idtype)", syscall(SYS_waitid, 7, 0L, &si, WEXITED, 0L));
  report("kill(INT_MIN, 0)", syscall(SYS_kill, INT_MIN, 0));
  report("kill(self, 65)", syscall(SYS_kill, getpid(), 65));
  report("kill(self, -1)", syscall(SYS_kill, getpid(), -1));
  report("kill(no such pid, 0)", syscall(SYS_kill, NO_PID, 0));
  report("tgkill(-1, 1, 0)", syscall(SYS_tgkill, -1, 1, 0));
  report("tgkill(1, 0, 0)", syscall(SYS_tgkill, 1, 0, 0));
  report("tkill(INT_MIN, 0)", syscall(SYS_tkill, INT_MIN, 0));
  static const int sigs[] = {0, 1, 31, 32, 33, 64, 65, -1};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "rt_sigaction(%d)", sigs[i]);
    report(name, syscall(SYS_rt_sigaction, sigs[i], 0L, 0L, 8L));
  }
  report("rt_sigaction(SIGKILL, act)", syscall(SYS_rt_sigaction, SIGKILL, (void *)&si, 0L, 8L));
  report("rt_sigaction(SIGUSR1, bad act)", syscall(SYS_rt_sigaction, SIGUSR1, (void *)8L, 0L, 8L));
  report("rt_sigaction(SIGUSR1, sigsetsize 4)", syscall(SYS_rt_sigaction, SIGUSR1, 0L, 0L, 4L));
  report("prlimit(no such pid)", syscall(SYS_prlimit64, NO_PID, RLIMIT_NOFILE, 0L, &rl));
  report("prlimit(self, 16)", syscall(SYS_prlimit64, 0, 16, 0L, &rl));
  report("prlimit(self, -1)", syscall(SYS_prlimit64, 0, -1, 0L, &rl));
  report("prlimit(self, bad old)", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0L, (void *)8L));
  report("getrlimit(bad)", syscall(SYS_getrlimit, RLIMIT_NOFILE, (void *)8L));
  report("arch_prctl(0x9999)", syscall(SYS_arch_prctl, 0x9999, 0L));
  report("setpgid(-1, 0)", syscall(SYS_setpgid, -1, 0));
  report("getpgid(-5)", syscall(SYS_getpgid, -5));
  report("getsid(no such pid)", syscall(SYS_getsid, NO_PID));
  return 0;
}

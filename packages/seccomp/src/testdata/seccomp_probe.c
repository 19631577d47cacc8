// seccomp_probe: installs a BPF program in a child and reports, for each syscall given on the command line, which
// way the filter sent it. The parent is both the user-notification supervisor and the ptrace tracer of the child:
//   - a notified syscall (SECCOMP_RET_USER_NOTIF) is answered with the value 1516 (NOTIFIED_RET), never run;
//   - a traced syscall (SECCOMP_RET_TRACE) is skipped at the PTRACE_EVENT_SECCOMP stop and returns
//     TRACED_BASE + the filter's 16-bit data (read with PTRACE_GETEVENTMSG);
//   - an allowed syscall runs on the host and returns what the host says;
//   - SECCOMP_RET_ERRNO(e) returns -e; SECCOMP_RET_KILL_PROCESS kills the child with SIGSYS.
// Usage: seccomp_probe FILTER.bpf FILE LABEL=NR[,ARG...]...
//   ARG is a number (strtoull base 0), FD (a read-only fd of FILE, opened before the filter), or BUF (a pointer to
//   a 64 KiB buffer). NR prefixed with "i386:" is made through int $0x80 (the i386 syscall ABI).
// Output: one line "LABEL RET" per syscall (RET is the raw signed return value), then "EXIT n" or "SIGNAL n".
// Used by filter tests only (packages/seccomp/src/*.test.ts).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOTIFIED_RET 1516
#define TRACED_BASE 0x7000

struct shared {
  volatile int seized;    // parent -> child: tracer attached
  volatile int listener;  // child -> parent: listener fd number (or -errno), valid when installed != 0
  volatile int installed;
  volatile int go;        // parent -> child: listener fd taken
};

static long raw_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
  long ret;
  register long r10 __asm__("r10") = a3;
  register long r8 __asm__("r8") = a4;
  register long r9 __asm__("r9") = a5;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

static long raw_int80(long nr, long a0, long a1, long a2) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1), "d"(a2) : "memory");
  return ret;
}

static void child_write(const char *s) { raw_syscall6(SYS_write, 1, (long)s, (long)strlen(s), 0, 0, 0); }

static void pause_cpu(void) { __builtin_ia32_pause(); }

static int run_child(struct shared *sh, const char *bpf_path, const char *file, int argc, char **argv) {
  static char buf[65536];
  int fd = open(file, O_RDONLY);
  int bfd = open(bpf_path, O_RDONLY);
  if (fd < 0 || bfd < 0) { perror("open"); return 2; }
  static struct sock_filter insns[4096];
  ssize_t n = read(bfd, insns, sizeof insns);
  close(bfd);
  if (n <= 0 || n % 8) { fprintf(stderr, "bad bpf file\n"); return 2; }
  struct sock_fprog prog = { .len = (unsigned short)(n / 8), .filter = insns };
  while (!sh->seized) pause_cpu();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("prctl"); return 2; }
  long l = raw_syscall6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, (long)&prog, 0, 0, 0);
  sh->listener = (int)l;
  sh->installed = 1;
  if (l < 0) return 3;
  while (!sh->go) pause_cpu();
  for (int i = 0; i < argc; i++) {
    char spec[256];
    snprintf(spec, sizeof spec, "%s", argv[i]);
    char *eq = strchr(spec, '=');
    if (!eq) { child_write("bad spec\n"); raw_syscall6(SYS_exit_group, 2, 0, 0, 0, 0, 0); }
    *eq = 0;
    char *rest = eq + 1;
    int i386 = 0;
    if (strncmp(rest, "i386:", 5) == 0) { i386 = 1; rest += 5; }
    long a[7] = {0};
    int k = 0;
    for (char *tok = strtok(rest, ","); tok && k < 7; tok = strtok(NULL, ","), k++) {
      if (strcmp(tok, "FD") == 0) a[k] = fd;
      else if (strcmp(tok, "BUF") == 0) a[k] = (long)buf;
      else a[k] = (long)strtoull(tok, NULL, 0);
    }
    long ret = i386 ? raw_int80(a[0], a[1], a[2], a[3]) : raw_syscall6(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    // A clone/fork that really ran: the new child leaves at once so only the original reports.
    if (ret == 0 && !i386 && (a[0] == SYS_clone || a[0] == SYS_fork || a[0] == SYS_vfork))
      raw_syscall6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
    char line[320];
    snprintf(line, sizeof line, "%s %ld\n", spec, ret);
    child_write(line);
  }
  raw_syscall6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s FILTER.bpf FILE LABEL=NR[,ARG...]...\n", argv[0]); return 2; }
  setvbuf(stdout, NULL, _IONBF, 0);
  struct shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) { perror("mmap"); return 2; }
  pid_t child = fork();
  if (child < 0) { perror("fork"); return 2; }
  if (child == 0) _exit(run_child(sh, argv[1], argv[2], argc - 3, argv + 3));

  if (ptrace(PTRACE_SEIZE, child, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL)) { perror("ptrace seize"); return 2; }
  sh->seized = 1;
  int status;
  while (!sh->installed) {
    if (waitpid(child, &status, WNOHANG) == child) {  // the child failed before installing
      printf("EXIT %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      return 1;
    }
    pause_cpu();
  }
  if (sh->listener < 0) { fprintf(stderr, "seccomp install: %s\n", strerror(-sh->listener)); waitpid(child, &status, 0); return 1; }
  int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  int listener = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, sh->listener, 0);
  if (listener < 0) { perror("pidfd_getfd"); kill(child, SIGKILL); return 2; }
  sh->go = 1;

  for (;;) {
    pid_t w = waitpid(child, &status, WNOHANG | __WALL);
    if (w == child) {
      if (WIFEXITED(status)) { printf("EXIT %d\n", WEXITSTATUS(status)); return 0; }
      if (WIFSIGNALED(status)) { printf("SIGNAL %d\n", WTERMSIG(status)); return 0; }
      if (WIFSTOPPED(status)) {
        int sig = 0;
        if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
          unsigned long data = 0;
          ptrace(PTRACE_GETEVENTMSG, child, 0, &data);
          struct user_regs_struct regs;
          ptrace(PTRACE_GETREGS, child, 0, &regs);
          regs.orig_rax = (unsigned long long)-1;  // skip the syscall
          regs.rax = TRACED_BASE + data;
          ptrace(PTRACE_SETREGS, child, 0, &regs);
        } else if (status >> 16 == 0) {
          sig = WSTOPSIG(status);  // signal-delivery stop: deliver it
        }
        ptrace(PTRACE_CONT, child, 0, sig);
      }
      continue;
    }
    struct pollfd pfd = { .fd = listener, .events = POLLIN };
    if (poll(&pfd, 1, 5) > 0 && (pfd.revents & POLLIN)) {
      struct seccomp_notif req;
      memset(&req, 0, sizeof req);
      if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
        struct seccomp_notif_resp resp = { .id = req.id, .val = NOTIFIED_RET, .error = 0, .flags = 0 };
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
      }
    }
  }
}

/* wait4 with WUNTRACED / WCONTINUED and waitid with WSTOPPED / WCONTINUED report job-control changes (wait(2)). */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t c = fork();
  if (c == 0) {
    for (;;) pause();
  }
  int st;
  kill(c, SIGSTOP);
  pid_t r = waitpid(c, &st, WUNTRACED);
  printf("stopped: pid ok %d WIFSTOPPED %d sig %d\n", r == c, WIFSTOPPED(st), WSTOPSIG(st));
  printf("again with WNOHANG: %d\n", (int)waitpid(c, &st, WUNTRACED | WNOHANG));
  kill(c, SIGCONT);
  r = waitpid(c, &st, WCONTINUED);
  printf("continued: pid ok %d WIFCONTINUED %d\n", r == c, WIFCONTINUED(st));
  /* SIGSTOP, not SIGTSTP: Linux discards SIGTSTP/SIGTTIN/SIGTTOU for a process in an orphaned process group
     (kernel/signal.c, POSIX "orphaned process group"), which this program's group is when the test runner was
     started in the background: waitid below then waits forever. */
  kill(c, SIGSTOP);
  siginfo_t si = {0};
  waitid(P_PID, c, &si, WSTOPPED);
  printf("waitid stopped: code %d status %d\n", si.si_code, si.si_status);
  kill(c, SIGCONT);
  si.si_code = 0;
  waitid(P_PID, c, &si, WCONTINUED);
  printf("waitid continued: code %d status %d\n", si.si_code, si.si_status);
  kill(c, SIGKILL);
  waitpid(c, &st, 0);
  printf("killed %d\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  return 0;
}

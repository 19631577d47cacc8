/* wait4/waitid status encoding, WNOHANG, ECHILD, getppid in children. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t me = getpid();
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      if (getppid() != me) _exit(99);
      _exit(10 + i);
    }
  }
  for (int i = 2; i >= 0; i--) {
    int st;
    pid_t r = waitpid(kids[i], &st, 0);
    printf("child %d: same pid %d exited %d code %d\n", i, r == kids[i], WIFEXITED(st), WEXITSTATUS(st));
  }
  int p[2];
  pipe(p);
  pid_t blocked = fork();
  if (blocked == 0) {
    char c;
    close(p[1]);
    read(p[0], &c, 1);
    _exit(0);
  }
  close(p[0]);
  int st;
  printf("WNOHANG on a running child: %d\n", (int)waitpid(blocked, &st, WNOHANG));
  kill(blocked, SIGKILL);
  waitpid(blocked, &st, 0);
  printf("killed: signaled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
  pid_t c2 = fork();
  if (c2 == 0) _exit(42);
  siginfo_t si = {0};
  waitid(P_PID, c2, &si, WEXITED);
  printf("waitid: signo %d code %d status %d pid ok %d\n", si.si_signo, si.si_code, si.si_status, si.si_pid == c2);
  errno = 0;
  int none = (int)wait(&st);
  int echild = errno == ECHILD;
  printf("no children: %d errno ECHILD %d\n", none, echild);
  return 3;
}

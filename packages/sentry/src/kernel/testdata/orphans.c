/* PR_SET_CHILD_SUBREAPER and PR_SET_PDEATHSIG: an orphan goes to the subreaper, which can wait for it; a child
 * that asked for SIGUSR1 at its parent's death gets it. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { got = s; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  int r;
  prctl(PR_GET_CHILD_SUBREAPER, &r);
  printf("subreaper %d\n", r);
  int p[2];
  pipe(p);
  pid_t mid = fork();
  if (mid == 0) {
    pid_t grand = fork();
    if (grand == 0) {
      signal(SIGUSR1, on_usr1);
      prctl(PR_SET_PDEATHSIG, SIGUSR1);
      int s;
      prctl(PR_GET_PDEATHSIG, &s);
      write(p[1], "g", 1);
      while (!got) pause();
      _exit(got == SIGUSR1 ? 7 : 9); /* reported through the exit code: the output order stays fixed */
    }
    char b;
    read(p[0], &b, 1);
    _exit(0);
  }
  int st, st2;
  waitpid(mid, &st, 0);
  pid_t w = wait(&st2);
  printf("middle exited %d\n", WEXITSTATUS(st));
  printf("reaped orphan %d exit %d (7: its PDEATHSIG arrived)\n", w > 0, WEXITSTATUS(st2));
  return 0;
}

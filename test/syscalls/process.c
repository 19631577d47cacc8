/* fork/pipe/wait4/kill/execve/exit codes/getpid/getppid relations. argv[1]: path of this binary (for execve). */
#include "check.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "child-exec") == 0) {
    printf("exec'd with %s\n", argv[2]);
    return 42;
  }
  int p[2];
  CHECK("pipe", pipe(p));
  pid_t me = getpid();
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "ppid-matches=%d", getppid() == me);
    write(p[1], msg, n);
    _exit(3);
  }
  close(p[1]);
  char buf[64] = {0};
  CHECK("read pipe", read(p[0], buf, sizeof buf - 1));
  printf("child says: %s\n", buf);
  CHECK("read pipe eof", read(p[0], buf, sizeof buf));
  int st;
  CHECK("wait4 is child", wait4(c, &st, 0, NULL) == c ? 0 : -1);
  printf("exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));
  CHECK("wait4 no child", wait4(-1, &st, 0, NULL));

  c = fork();
  if (c == 0) { pause(); _exit(0); }
  CHECK("kill", kill(c, SIGTERM));
  waitpid(c, &st, 0);
  printf("signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
  CHECK("kill gone", kill(c, 0));

  c = fork();
  if (c == 0) {
    char *args[] = {argv[0], "child-exec", "an-arg", NULL};
    execv(argv[0], args);
    _exit(99);
  }
  waitpid(c, &st, 0);
  printf("exec child code=%d\n", WEXITSTATUS(st));
  CHECK("execve missing", execl("/nonexistent/prog", "x", NULL));

  /* SIGPIPE: writing to a pipe whose reader is gone. */
  CHECK("pipe2", pipe(p));
  close(p[0]);
  signal(SIGPIPE, SIG_IGN);
  CHECK("write broken pipe", write(p[1], "x", 1));
  return 5;
}

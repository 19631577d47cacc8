/* A signal with a handler ends a blocked read with EINTR, or restarts it with SA_RESTART (signal(7)). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { got = s; }

static void run(int restart) {
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    close(p[1]);
    char buf[8];
    /* tell the parent we are about to block */
    ssize_t n = read(p[0], buf, sizeof buf);
    printf("restart=%d: read returned %zd errno %s handler ran %d\n", restart, n, n < 0 ? strerror(errno) : "-", got == SIGUSR1);
    _exit(0);
  }
  close(p[0]);
  usleep(200000);
  kill(c, SIGUSR1);
  usleep(100000);
  write(p[1], "x", 1);
  int st;
  waitpid(c, &st, 0);
  close(p[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, SIG_IGN); /* the child may be gone when the parent writes */
  run(0);
  run(1);
  /* Default action of SIGTERM kills; an ignored signal does nothing. */
  pid_t c = fork();
  if (c == 0) {
    signal(SIGUSR2, SIG_IGN);
    raise(SIGUSR2);
    pause();
    _exit(0);
  }
  usleep(100000);
  kill(c, SIGTERM);
  int st;
  waitpid(c, &st, 0);
  printf("SIGTERM: signaled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
  return 0;
}

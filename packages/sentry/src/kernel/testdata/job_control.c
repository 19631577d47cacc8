/* SIGSTOP holds a process (its handler does not run) until SIGCONT (signal(7) "Stopping and continuing"). */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int out;
static void on_usr1(int s) {
  (void)s;
  write(out, "u", 1);
}

static int ready(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, ms);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    out = p[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    write(out, "r", 1);
    for (;;) pause();
  }
  char b;
  read(p[0], &b, 1);
  printf("child ready %c\n", b);
  kill(c, SIGSTOP);
  usleep(100000);
  kill(c, SIGUSR1);
  printf("while stopped, handler output: %d\n", ready(p[0], 300));
  kill(c, SIGCONT);
  printf("after SIGCONT, handler output: %d\n", ready(p[0], 3000));
  read(p[0], &b, 1);
  printf("got %c\n", b);
  kill(c, SIGKILL);
  int st;
  waitpid(c, &st, 0);
  printf("killed %d\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  return 0;
}

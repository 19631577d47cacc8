/* vfork(2): the parent resumes only after the child has exec'ed or exited; posix_spawn uses the same path. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile int order;

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    printf("spawned %s\n", argv[1]);
    return 8;
  }
  int p[2];
  pipe2(p, O_NONBLOCK); /* the parent's read below must not wait: the data is there only if vfork held it */
  pid_t c = vfork();
  if (c == 0) {
    usleep(200000); /* the parent must still be waiting after this */
    write(p[1], "c", 1);
    _exit(4);
  }
  /* If the parent ran before the child exited, the pipe would still be empty. */
  char b = 0;
  close(p[1]);
  int n = read(p[0], &b, 1);
  int st;
  waitpid(c, &st, 0);
  printf("vfork: child wrote first %d, exit %d\n", n == 1 && b == 'c', WEXITSTATUS(st));
  pid_t s;
  char *args[] = {argv[0], "via-posix_spawn", NULL};
  int r = posix_spawn(&s, argv[0], NULL, NULL, args, environ);
  waitpid(s, &st, 0);
  printf("posix_spawn %d exit %d\n", r, WEXITSTATUS(st));
  return 0;
}

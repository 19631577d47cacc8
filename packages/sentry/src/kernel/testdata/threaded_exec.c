/* execve from a process with other threads, some blocked (in a native sleep, in an emulated read): they are
 * destroyed and the new image runs alone (execve(2)). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int p[2];
static void *sleeper(void *a) { (void)a; for (;;) sleep(10); }
static void *reader(void *a) { (void)a; char b; read(p[0], &b, 1); return NULL; }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    printf("new image, argv[1]=%s\n", argv[1]);
    return 6;
  }
  pid_t c = fork();
  if (c == 0) {
    pipe(p);
    pthread_t a, b;
    pthread_create(&a, NULL, sleeper, NULL);
    pthread_create(&b, NULL, reader, NULL);
    usleep(200000);
    execl(argv[0], argv[0], "after-threads", (char *)NULL);
    _exit(99);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child exit %d\n", WEXITSTATUS(st));
  return 0;
}

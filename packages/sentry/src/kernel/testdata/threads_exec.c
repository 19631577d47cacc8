/* Threads (clone with CLONE_THREAD), then execve of this program with a handler and a cloexec fd to drop. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *work(void *arg) {
  long n = (long)arg, s = 0;
  for (long i = 0; i <= n * 1000; i++) s += i;
  int other = syscall(SYS_gettid) != getpid();
  return (void *)(s + other);
}

static void on_usr1(int s) { (void)s; }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    struct sigaction si;
    sigaction(SIGUSR2, NULL, &si);
    printf("after exec: argv[1]=%s usr1 default %d usr2 ignored %d fd 5 open %d fd 6 open %d\n", argv[1],
           sa.sa_handler == SIG_DFL, si.sa_handler == SIG_IGN, fcntl(5, F_GETFD) >= 0, fcntl(6, F_GETFD) >= 0);
    return 5;
  }
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, work, (void *)(i + 1));
  long total = 0;
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(t[i], &r);
    total += (long)r;
  }
  printf("threads total %ld\n", total);
  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, SIG_IGN);
  int a = open("/", O_RDONLY | O_CLOEXEC), b = open("/", O_RDONLY);
  dup2(a, 5);
  fcntl(5, F_SETFD, FD_CLOEXEC);
  dup2(b, 6);
  pid_t c = fork();
  if (c == 0) {
    execl("/proc/self/exe", argv[0], "again", (char *)NULL);
    execl(argv[0], argv[0], "again", (char *)NULL);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  printf("exec child exit %d\n", WEXITSTATUS(st));
  return 0;
}

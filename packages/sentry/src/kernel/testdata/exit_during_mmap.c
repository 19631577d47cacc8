/* Kills threads in the middle of syscalls the sentry drives by ptrace: each of ROUNDS children starts a thread that
 * maps a file page after page (file-backed mmap is a ptrace-class call: the sentry resumes the thread with
 * PTRACE_SYSCALL and waits for its syscall-exit stop), and ends itself with exit_group after a short while, which
 * SIGKILLs that thread wherever it is: sometimes between the sentry's resume and the stop it waits for. The parent
 * reaps every child; a thread left in its exit stop would keep its child from ever being reported (a hang).
 * Prints "reaped N". */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 60

static int fd;

static void *mapper(void *arg) {
  (void)arg;
  for (;;) {
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) munmap(p, 4096);
  }
  return NULL;
}

int main(int argc, char **argv) {
  fd = open(argc > 1 ? argv[1] : "/exit_during_mmap", O_RDONLY);
  if (fd < 0) {
    perror("open");
    return 1;
  }
  int reaped = 0;
  for (int i = 0; i < ROUNDS; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      pthread_t t;
      pthread_create(&t, NULL, mapper, NULL);
      struct timespec d = {0, 200000 + (i % 10) * 100000};
      nanosleep(&d, NULL);
      _exit(3); /* exit_group: kills the mapper wherever it is */
    }
    int st;
    if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3) reaped++;
  }
  printf("reaped %d\n", reaped);
  return reaped == ROUNDS ? 0 : 1;
}

/* execveat relative to a directory fd, and fexecve (execveat with AT_EMPTY_PATH). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    printf("exec'ed with %s\n", argv[1]);
    return 0;
  }
  char dir[4096], base[4096];
  strcpy(dir, argv[0]);
  char *slash = strrchr(dir, '/');
  strcpy(base, slash + 1);
  *slash = 0;
  for (int mode = 0; mode < 2; mode++) {
    pid_t c = fork();
    if (c == 0) {
      char *args[] = {argv[0], mode ? "fexecve" : "dirfd", NULL};
      if (mode == 0) {
        int d = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY);
        syscall(SYS_execveat, d, base, args, environ, 0);
      } else {
        int f = open(argv[0], O_RDONLY);
        syscall(SYS_execveat, f, "", args, environ, AT_EMPTY_PATH);
      }
      _exit(99);
    }
    int st;
    waitpid(c, &st, 0);
    printf("mode %d exit %d\n", mode, WEXITSTATUS(st));
  }
  int bad = syscall(SYS_execveat, AT_FDCWD, "/nonexistent", argv, environ, 0);
  printf("missing: %d\n", bad);
  return 0;
}

/* kill(2) permission (kernel/signal.c kill_ok_by_cred): the sender's real or effective uid must equal the
 * target's real or saved uid; the target's effective uid does not count. A root process that only lowered its
 * effective uid stays out of reach of that user. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  int ready[2], done[2];
  if (pipe(ready) < 0 || pipe(done) < 0) return 2;
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    char c;
    if (setresuid(1000, 1000, 1000) < 0) _exit(3);
    if (read(ready[0], &c, 1) != 1) _exit(4);
    int r = kill(parent, 0);
    printf("kill(root with euid 1000): %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
    fflush(stdout);
    if (write(done[1], "d", 1) != 1) _exit(5);
    _exit(0);
  }
  if (seteuid(1000) < 0) return 6;
  if (write(ready[1], "r", 1) != 1) return 7;
  char c;
  if (read(done[0], &c, 1) != 1) return 8;
  if (seteuid(0) < 0) return 9;
  int st;
  waitpid(child, &st, 0);
  printf("child exit %d\n", WEXITSTATUS(st));
  return 0;
}

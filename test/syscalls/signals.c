/* A signal handler without SA_RESTART must not turn calls that Linux never interrupts (pipe, close) into EINTR:
 * children exiting send SIGCHLD while the parent makes such calls. Run without and with SA_RESTART. */
#include "check.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_chld(int s) { (void)s; }

static void run(int restart) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGCHLD, &sa, NULL);
  int eintr = 0, calls = 0;
  for (int k = 0; k < 100; k++) {
    if (fork() == 0) _exit(0);
    for (int i = 0; i < 50; i++) {
      int p[2];
      calls++;
      if (pipe(p) < 0) {
        if (errno == EINTR) eintr++;
      } else if (close(p[0]) < 0 || close(p[1]) < 0) {
        if (errno == EINTR) eintr++;
      }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
  }
  while (waitpid(-1, NULL, 0) > 0) {}
  printf("%s: EINTR from pipe/close %d of %d\n", restart ? "SA_RESTART" : "no SA_RESTART", eintr, calls);
}

int main(void) {
  run(0);
  run(1);
  return 0;
}

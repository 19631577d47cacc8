/* A native interval timer's SIGALRM ends a read blocked in the sentry with EINTR (no SA_RESTART), and a restart
 * with SA_RESTART keeps waiting until data arrives. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;
static void on_alrm(int s) { (void)s; alarms++; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alrm;
  sigaction(SIGALRM, &sa, NULL);
  int p[2];
  pipe(p);
  struct itimerval it = {.it_value = {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  char b;
  ssize_t n = read(p[0], &b, 1);
  printf("read %zd %s alarms %d\n", n, n < 0 ? strerror(errno) : "", (int)alarms);
  return 0;
}

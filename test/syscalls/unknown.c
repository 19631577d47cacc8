/* Syscall numbers no kernel has: both Linux and the sentry answer ENOSYS, and the program goes on. */
#include "check.h"
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  CHECK("syscall 999", syscall(999, 1, 2, 3));
  CHECK("syscall 1023", syscall(1023));
  CHECK("syscall -1", syscall(-1));
  CHECK("getpid still works", getpid() > 0 ? 0 : -1);
  return 0;
}

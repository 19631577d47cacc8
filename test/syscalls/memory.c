/* brk, anonymous mmap, file-backed mmap (private), mprotect, munmap, uname fields that are deterministic,
 * clock_gettime monotonicity. argv[1]: scratch directory. */
#include "check.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  void *b0 = sbrk(0);
  CHECK("sbrk grow", sbrk(1 << 20) == b0 ? 0 : -1);
  memset(b0, 7, 1 << 20);
  printf("brk byte: %d\n", ((unsigned char *)b0)[12345]);
  char *a = mmap(NULL, 1 << 22, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK("mmap anon", a == MAP_FAILED ? -1 : 0);
  printf("anon zero: %d\n", a[4000000]);
  a[0] = 1;
  CHECK("mprotect", mprotect(a, 4096, PROT_READ));
  CHECK("munmap", munmap(a, 1 << 22));
  CHECK("chdir", chdir(dir));
  int fd = open("mapped", O_CREAT | O_RDWR | O_TRUNC, 0644);
  char line[100];
  for (int i = 0; i < 1000; i++) { int n = snprintf(line, sizeof line, "line %04d\n", i); write(fd, line, n); }
  char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
  CHECK("mmap file", m == MAP_FAILED ? -1 : 0);
  if (m != MAP_FAILED) printf("file map at 4096: %.10s", m);
  CHECK("mmap bad fd", (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 99, 0) == -1 ? -1 : 0);
  CHECK("close", close(fd));
  struct utsname u;
  CHECK("uname", uname(&u));
  printf("sysname=%s machine=%s\n", u.sysname, u.machine);
  struct timespec t1, t2;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  clock_gettime(CLOCK_MONOTONIC, &t2);
  printf("monotonic: %d\n", t2.tv_sec > t1.tv_sec || (t2.tv_sec == t1.tv_sec && t2.tv_nsec >= t1.tv_nsec));
  return 0;
}

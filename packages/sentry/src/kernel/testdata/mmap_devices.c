/* mmap of devices: /dev/zero gives zero-filled memory of any length (zero(4); nothing to read ahead), a 1 TiB
 * MAP_NORESERVE mapping included; /dev/urandom cannot be mapped (ENODEV). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
  int z = open("/dev/zero", O_RDONLY);
  size_t big = 1UL << 40;
  unsigned char *p = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, z, 0);
  if (p == MAP_FAILED) {
    printf("zero: %s\n", strerror(errno));
  } else {
    printf("zero: %d %d %d\n", p[0], p[big / 2], p[big - 1]);
    munmap(p, big);
  }
  int u = open("/dev/urandom", O_RDONLY);
  void *q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, u, 0);
  printf("urandom: %s\n", q == MAP_FAILED ? strerror(errno) : "mapped");
  return 0;
}

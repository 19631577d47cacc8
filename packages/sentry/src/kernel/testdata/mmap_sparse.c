/* Maps 1 GiB of the large sparse file /sparse, from offset 512 MiB, and checks what the mapping holds: the
 * markers the test wrote into the file (one in the first fill chunk, one in a later chunk, one in the last page)
 * and zeros elsewhere (holes). Prints "ok" or the first mismatch. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1UL << 20)

static int expect(const char *m, unsigned long at, const char *want) {
  if (memcmp(m + at, want, strlen(want)) != 0) {
    printf("mismatch at +%lu: %.16s\n", at, m + at);
    return 1;
  }
  return 0;
}

int main(void) {
  unsigned long len = 1024 * MIB;
  int fd = open("/sparse", O_RDONLY);
  if (fd < 0) {
    perror("open");
    return 1;
  }
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 512 * MIB);
  if (m == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  int bad = 0;
  bad |= expect(m, 5, "first-chunk");
  bad |= expect(m, 300 * MIB + 7, "later-chunk");
  bad |= expect(m, len - 16, "last-page");
  for (unsigned long at = 4096; at < len - 4096; at += 97 * MIB + 4096) {
    if (m[at] != 0) {
      printf("not zero at +%lu\n", at);
      bad = 1;
    }
    m[at] = 1; /* private and writable */
  }
  if (munmap(m, len) != 0) {
    perror("munmap");
    return 1;
  }
  if (!bad) printf("ok\n");
  return bad;
}

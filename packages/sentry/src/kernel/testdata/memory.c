/* brk growth and shrink, a file-backed mmap of this very program, mprotect, mremap. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char *b0 = sbrk(0);
  char *b1 = sbrk(1 << 20);
  memset(b1, 7, 1 << 20);
  char *b2 = sbrk(0);
  printf("sbrk grew by %ld, old break returned %d, bytes %d\n", (long)(b2 - b0), b1 == b0, b1[12345]);
  sbrk(-(1 << 19));
  printf("shrunk by %ld\n", (long)(b2 - (char *)sbrk(0)));
  int fd = open(argv[0], O_RDONLY);
  struct stat st;
  fstat(fd, &st);
  unsigned char *m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  unsigned char head[4];
  pread(fd, head, 4, 0);
  printf("file map ok %d magic match %d\n", m != MAP_FAILED, memcmp(m, head, 4) == 0 && m[1] == 'E');
  unsigned char *off = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
  unsigned char page1[16];
  pread(fd, page1, 16, 4096);
  printf("offset map match %d\n", memcmp(off, page1, 16) == 0);
  char *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  strcpy(a, "anon");
  mprotect(a, 8192, PROT_READ);
  a = mremap(a, 8192, 1 << 20, MREMAP_MAYMOVE);
  printf("anon %s\n", a);
  void *bad = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0);
  printf("bad fd map failed %d\n", bad == MAP_FAILED);
  return 0;
}

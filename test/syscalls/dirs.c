/* getdents64 over a directory the program fills itself: names and types, sorted (order is fs-specific). */
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent64 { unsigned long long d_ino; long long d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; };

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  CHECK("chdir", chdir(dir));
  CHECK("mkdir", mkdir("top", 0755));
  char name[64];
  for (int i = 0; i < 40; i++) { snprintf(name, sizeof name, "top/file%02d", i); close(open(name, O_CREAT | O_WRONLY, 0600)); }
  CHECK("mkdir sub", mkdir("top/sub", 0755));
  CHECK("symlink", symlink("file00", "top/link"));
  int fd = open("top", O_RDONLY | O_DIRECTORY);
  CHECK("open dir", fd >= 0 ? 0 : -1);
  char *names[128]; int n = 0;
  char buf[512]; /* small on purpose: several getdents64 calls */
  for (;;) {
    long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (r <= 0) { CHECK("getdents64 end", r); break; }
    for (long off = 0; off < r;) {
      struct linux_dirent64 *d = (void *)(buf + off);
      char *s = malloc(300);
      snprintf(s, 300, "%s type=%d", d->d_name, d->d_type);
      names[n++] = s;
      off += d->d_reclen;
    }
  }
  qsort(names, n, sizeof names[0], cmp);
  for (int i = 0; i < n; i++) printf("%s\n", names[i]);
  CHECK("getdents64 on file", syscall(SYS_getdents64, open("top/file00", O_RDONLY), buf, sizeof buf));
  CHECK("getdents64 tiny buf", syscall(SYS_getdents64, open("top", O_RDONLY), buf, 8));
  return 0;
}

/* copy_file_range and sendfile between files, with and without offset pointers, and into stdout (a pipe or a
 * regular file, as the harness chooses). argv[1]: scratch directory. */
#include "check.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  char buf[256];
  CHECK("chdir", chdir(dir));
  int a = open("a", O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK("write a", write(a, "0123456789abcdefghij\n", 21));
  int b = open("b", O_CREAT | O_RDWR | O_TRUNC, 0644);
  loff_t in = 2, out = 0;
  CHECK("copy_file_range offsets", copy_file_range(a, &in, b, &out, 8, 0));
  printf("offsets now in=%lld out=%lld\n", (long long)in, (long long)out);
  CHECK("a offset unchanged", lseek(a, 0, SEEK_CUR));
  CHECK("lseek a", lseek(a, 10, SEEK_SET));
  CHECK("copy_file_range file offsets", copy_file_range(a, NULL, b, NULL, 5, 0));
  CHECK("a offset advanced", lseek(a, 0, SEEK_CUR));
  CHECK("b offset advanced", lseek(b, 0, SEEK_CUR));
  memset(buf, 0, sizeof buf);
  CHECK("pread b", pread(b, buf, sizeof buf - 1, 0));
  printf("b: %s\n", buf);
  CHECK("copy_file_range bad flags", copy_file_range(a, NULL, b, NULL, 5, 1));
  int p[2];
  CHECK("pipe", pipe(p));
  CHECK("copy_file_range to pipe", copy_file_range(a, NULL, p[1], NULL, 5, 0));
  off_t off = 0;
  CHECK("sendfile to pipe", sendfile(p[1], a, &off, 4));
  memset(buf, 0, sizeof buf);
  CHECK("read pipe", read(p[0], buf, sizeof buf - 1));
  printf("pipe: %s\n", buf);
  fflush(stdout);
  /* Into stdout with the file's own offsets: what coreutils cat does. */
  CHECK("lseek a 0", lseek(a, 0, SEEK_SET));
  long r = copy_file_range(a, NULL, 1, NULL, 21, 0);
  if (r < 0) printf("copy to stdout: -1 %s\n", strerrorname_np(errno));
  fflush(stdout);
  return 0;
}

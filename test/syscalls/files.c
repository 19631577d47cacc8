/* open/read/write/lseek/pread/pwrite/stat/fstat/lstat/readlink/unlink/rename/mkdir/rmdir/getcwd/chdir/dup on files
 * the program makes itself in a scratch directory (argv[1]). */
#include "check.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show_stat(const char *label, const struct stat *st) {
  printf("%s: size=%lld mode=%o nlink=%lu\n", label, (long long)st->st_size, st->st_mode, (unsigned long)st->st_nlink);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  char buf[256];
  umask(022);
  CHECK("chdir", chdir(dir));
  CHECK("mkdir", mkdir("d", 0755));
  CHECK("mkdir again", mkdir("d", 0755));
  int fd = open("d/f", O_CREAT | O_RDWR | O_EXCL, 0644);
  CHECK("open create", fd >= 0 ? 0 : -1);
  CHECK("open excl again", open("d/f", O_CREAT | O_EXCL | O_RDWR, 0644));
  CHECK("write", write(fd, "hello, world\n", 13));
  CHECK("lseek cur", lseek(fd, 0, SEEK_CUR));
  CHECK("lseek set", lseek(fd, 7, SEEK_SET));
  memset(buf, 0, sizeof buf);
  CHECK("read", read(fd, buf, sizeof buf));
  printf("data: %s", buf);
  CHECK("read eof", read(fd, buf, sizeof buf));
  CHECK("pwrite", pwrite(fd, "HELLO", 5, 0));
  memset(buf, 0, sizeof buf);
  CHECK("pread", pread(fd, buf, 5, 0));
  printf("pdata: %s\n", buf);
  CHECK("lseek end", lseek(fd, 0, SEEK_END));
  CHECK("lseek hole", lseek(fd, 100, SEEK_END));
  CHECK("write after hole", write(fd, "x", 1));
  struct stat st;
  CHECK("fstat", fstat(fd, &st));
  show_stat("fstat", &st);
  CHECK("lseek bad whence", lseek(fd, 0, 42));
  int fd2 = dup(fd);
  CHECK("dup gives next", fd2 == fd + 1 ? 0 : -1);
  CHECK("dup2", dup2(fd, 10));
  CHECK("close 10", close(10));
  CHECK("close 10 again", close(10));
  CHECK("close fd2", close(fd2));
  CHECK("close", close(fd));
  CHECK("symlink", symlink("f", "d/l"));
  memset(buf, 0, sizeof buf);
  CHECK("readlink", readlink("d/l", buf, sizeof buf));
  printf("link: %s\n", buf);
  CHECK("readlink notlink", readlink("d/f", buf, sizeof buf));
  CHECK("stat via link", stat("d/l", &st));
  show_stat("stat", &st);
  CHECK("lstat link", lstat("d/l", &st));
  printf("lstat: islnk=%d size=%lld\n", S_ISLNK(st.st_mode), (long long)st.st_size);
  CHECK("stat missing", stat("d/missing", &st));
  CHECK("stat notdir", stat("d/f/x", &st));
  CHECK("open dir wronly", open("d", O_WRONLY));
  CHECK("rename", rename("d/f", "d/g"));
  CHECK("stat old", stat("d/f", &st));
  CHECK("stat new", stat("d/g", &st));
  show_stat("stat new", &st);
  CHECK("rmdir nonempty", rmdir("d"));
  CHECK("unlink l", unlink("d/l"));
  CHECK("unlink g", unlink("d/g"));
  CHECK("unlink missing", unlink("d/g"));
  CHECK("chdir d", chdir("d"));
  char *cwd = getcwd(buf, sizeof buf);
  printf("cwd ends with /d: %d\n", cwd && strlen(cwd) >= 2 && strcmp(cwd + strlen(cwd) - 2, "/d") == 0);
  CHECK("chdir ..", chdir(".."));
  CHECK("rmdir", rmdir("d"));
  CHECK("read bad fd", read(77, buf, 1));
  CHECK("write bad buf", syscall(SYS_write, 1, (void *)1, 10));
  return 0;
}

/* Hostile arguments to the file system calls: offsets near 2^63, huge and negative counts, iovec limits, bad fds,
 * unknown flag bits, over-long paths, zero-sized buffers, '..' above the root. Each result is Linux's errno. */
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  char buf[4096];
  CHECK("chdir", chdir(dir));
  int fd = open("f", O_CREAT | O_RDWR, 0644);
  CHECK("open", fd >= 0 ? 0 : -1);
  CHECK("write", write(fd, "abcdef", 6));
  /* lseek near the limits */
  CHECK("lseek neg", lseek(fd, -1, SEEK_SET));
  CHECK("lseek min end", lseek(fd, INT64_MIN, SEEK_END));
  CHECK("lseek whence 5", lseek(fd, 0, 5));
  CHECK("lseek whence -1", lseek(fd, 0, -1));
  CHECK("lseek data", lseek(fd, 2, SEEK_DATA));
  CHECK("lseek hole", lseek(fd, 2, SEEK_HOLE));
  CHECK("lseek data past", lseek(fd, 6, SEEK_DATA));
  CHECK("lseek reset", lseek(fd, 0, SEEK_SET));
  /* positioned I/O near the limits */
  CHECK("pread neg", pread(fd, buf, 1, -1));
  CHECK("pread max", pread(fd, buf, 1, INT64_MAX));
  CHECK("pwrite neg", pwrite(fd, "x", 1, -1));
  CHECK("pwrite max", pwrite(fd, "x", 1, INT64_MAX));
  CHECK("pwrite max-1 2", pwrite(fd, "xy", 2, INT64_MAX - 1));
  CHECK("pwrite 0 at neg", pwrite(fd, "x", 0, -5));
  CHECK("pread 0 at neg", pread(fd, buf, 0, -5));
  CHECK("ftruncate neg", ftruncate(fd, -1));
  CHECK("ftruncate 0 len", ftruncate(fd, 6));
  CHECK("fallocate neg off", fallocate(fd, 0, -1, 10));
  CHECK("fallocate zero len", fallocate(fd, 0, 0, 0));
  CHECK("fallocate overflow", fallocate(fd, 0, INT64_MAX - 5, 10));
  CHECK("fallocate bad mode", fallocate(fd, 0x1000, 0, 10));
  CHECK("truncate neg", truncate("f", -1));
  /* counts */
  CHECK("write 0 NULL", write(fd, NULL, 0));
  CHECK("read 0 NULL", read(fd, NULL, 0));
  CHECK("write bad buf", write(fd, (void *)1, 10));
  CHECK("lseek back", lseek(fd, 0, SEEK_SET));
  CHECK("read bad buf", read(fd, (void *)1, 10));
  /* iovecs */
  struct iovec iov[2] = {{buf, 3}, {buf + 3, 3}};
  CHECK("readv neg", readv(fd, iov, -1));
  CHECK("readv 1025", readv(fd, iov, 1025));
  CHECK("readv 0", readv(fd, iov, 0));
  struct iovec big[2] = {{buf, SSIZE_MAX}, {buf, SSIZE_MAX}};
  struct iovec neg[1] = {{buf, (size_t)-1}};
  CHECK("writev neglen", writev(fd, neg, 1));
  CHECK("preadv -1 off", preadv(fd, iov, 2, -1));
  CHECK("preadv2 -1 off", syscall(SYS_preadv2, fd, iov, 2, -1L, 0L, 0));
  CHECK("preadv2 bad flags", syscall(SYS_preadv2, fd, iov, 2, 0L, 0L, 0x1000));
  /* fds */
  CHECK("read fd -1", read(-1, buf, 1));
  CHECK("read fd huge", read(1 << 30, buf, 1));
  CHECK("close -1", close(-1));
  CHECK("dup2 huge", dup2(fd, 1 << 30));
  CHECK("dup2 neg", dup2(fd, -1));
  CHECK("dup3 same", dup3(fd, fd, 0));
  CHECK("dup3 bad flags", dup3(fd, 100, 1));
  CHECK("fcntl dupfd huge", fcntl(fd, F_DUPFD, 1 << 30));
  CHECK("fcntl dupfd neg", fcntl(fd, F_DUPFD, -1));
  CHECK("fcntl bad cmd", fcntl(fd, 9999));
  /* flags */
  CHECK("openat bad dirfd", openat(12345, "f", O_RDONLY));
  CHECK("openat bad dirfd abs", openat(12345, "/", O_RDONLY) >= 0 ? 0 : -1);
  CHECK("open unknown bits", open("f", O_RDONLY | 0x40000000) >= 0 ? 0 : -1);
  CHECK("open tmpfile rdonly", open(".", O_TMPFILE | O_RDONLY, 0600));
  CHECK("open creat dir", open("newdir/", O_CREAT | O_RDWR, 0600));
  CHECK("open dir wr", open(".", O_RDWR));
  CHECK("open directory on file", open("f", O_DIRECTORY));
  CHECK("open f/", open("f/", O_RDONLY));
  CHECK("open trunc rdonly", open("f", O_RDONLY | O_TRUNC) >= 0 ? 0 : -1);
  CHECK("fstatat bad flags", fstatat(AT_FDCWD, "f", (struct stat *)buf, 0x8000000));
  CHECK("unlinkat bad flags", unlinkat(AT_FDCWD, "f", 0x1));
  CHECK("renameat2 bad flags", syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "g", 0x100));
  CHECK("renameat2 exch+noreplace", syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "g", 3));
  CHECK("renameat2 noreplace missing", syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "g", 1));
  CHECK("linkat bad flags", linkat(AT_FDCWD, "f", AT_FDCWD, "h", 0x1));
  CHECK("faccessat bad mode", faccessat(AT_FDCWD, "f", 0x100, 0));
  CHECK("faccessat bad flags", syscall(SYS_faccessat2, AT_FDCWD, "f", 0, 0x1));
  CHECK("fchmodat bad flags", syscall(SYS_fchmodat, AT_FDCWD, "f", 0644, 0x1));
  /* The syscall has no flags argument: a stray AT_SYMLINK_NOFOLLOW bit in the fourth register changes nothing. */
  CHECK("fchmodat stray 4th arg", syscall(SYS_fchmodat, AT_FDCWD, "f", 0644, AT_SYMLINK_NOFOLLOW));
  CHECK("utimensat bad flags", utimensat(AT_FDCWD, "f", NULL, 0x1));
  CHECK("mkdir mode bits", mkdir("m", 07777));
  struct stat st;
  CHECK("stat m", stat("m", &st));
  printf("m mode %o\n", st.st_mode);
  CHECK("chmod high bits", chmod("f", 0177777));
  CHECK("stat f", stat("f", &st));
  printf("f mode %o\n", st.st_mode);
  CHECK("mknod bad type", mknod("n", 0170000 | 0644, 0));
  /* paths */
  char *longp = malloc(PATH_MAX + 10);
  memset(longp, 'a', PATH_MAX + 9);
  longp[PATH_MAX + 9] = 0;
  CHECK("open long path", open(longp, O_RDONLY));
  longp[PATH_MAX] = 0;
  CHECK("open PATH_MAX path", open(longp, O_RDONLY));
  longp[PATH_MAX - 1] = 0;
  CHECK("open PATH_MAX-1 path", open(longp, O_RDONLY));
  longp[NAME_MAX + 1] = 0;
  CHECK("open long name", open(longp, O_RDONLY));
  CHECK("mkdir long name", mkdir(longp, 0755));
  longp[NAME_MAX] = 0;
  CHECK("mkdir NAME_MAX", mkdir(longp, 0755));
  CHECK("rmdir NAME_MAX", rmdir(longp));
  CHECK("open empty", open("", O_RDONLY));
  CHECK("open NULL", open(NULL, O_RDONLY));
  CHECK("open bad ptr", open((char *)1, O_RDONLY));
  /* readlink */
  CHECK("symlink", symlink("f", "l"));
  CHECK("readlink size 0", readlink("l", buf, 0));
  CHECK("readlink size 1", readlink("l", buf, 1));
  CHECK("readlink size neg", syscall(SYS_readlink, "l", buf, -1));
  CHECK("readlink not link", readlink("f", buf, sizeof buf));
  CHECK("symlink empty", symlink("", "e"));
  CHECK("symlink loop a", symlink("la", "lb"));
  CHECK("symlink loop b", symlink("lb", "la"));
  CHECK("open loop", open("la", O_RDONLY));
  CHECK("open nofollow", open("l", O_RDONLY | O_NOFOLLOW));
  CHECK("stat loop", stat("la/x", &st));
  /* getdents */
  int d = open(".", O_RDONLY | O_DIRECTORY);
  CHECK("getdents64 0", syscall(SYS_getdents64, d, buf, 0));
  CHECK("getdents64 1", syscall(SYS_getdents64, d, buf, 1));
  CHECK("getdents64 neg", syscall(SYS_getdents64, d, buf, -1));
  CHECK("getdents64 bad buf", syscall(SYS_getdents64, d, (void *)1, 4096));
  CHECK("getdents64 file", syscall(SYS_getdents64, fd, buf, sizeof buf));
  CHECK("read dir", read(d, buf, 10));
  CHECK("lseek dir neg", lseek(d, -1, SEEK_SET));
  /* .. above the root */
  CHECK("chdir root", chdir("/"));
  CHECK("chdir ..", chdir("../../.."));
  CHECK("getcwd", getcwd(buf, sizeof buf) ? 0 : -1);
  printf("cwd %s\n", buf);
  CHECK("getcwd size 0", syscall(SYS_getcwd, buf, 0));
  CHECK("getcwd size 1", syscall(SYS_getcwd, buf, 1));
  CHECK("getcwd size 2", syscall(SYS_getcwd, buf, 2));
  /* pipes */
  int p[2];
  CHECK("pipe2 bad flags", pipe2(p, 0x1));
  CHECK("pipe", pipe(p));
  CHECK("fcntl setpipe huge", fcntl(p[1], F_SETPIPE_SZ, 1 << 30));
  CHECK("fcntl setpipe neg", fcntl(p[1], F_SETPIPE_SZ, -1));
  CHECK("fcntl getpipe", fcntl(p[1], F_GETPIPE_SZ));
  CHECK("lseek pipe", lseek(p[0], 0, SEEK_SET));
  CHECK("pread pipe", pread(p[0], buf, 1, 0));
  return 0;
}

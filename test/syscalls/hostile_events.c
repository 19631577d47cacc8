/* Hostile arguments to poll/select/epoll/eventfd/xattr calls: huge counts, bad flags, short buffers, overflow. */
#include "check.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char buf[256];
  CHECK("chdir", chdir(argv[1]));
  struct pollfd p[1] = {{0, POLLIN, 0}};
  CHECK("poll huge nfds", poll(p, 1 << 30, 0));
  CHECK("poll neg timeout 0 nfds", poll(NULL, 0, 0));
  CHECK("ppoll bad sigsetsize", syscall(SYS_ppoll, p, 1, NULL, NULL, 1));
  int ep = epoll_create1(0);
  CHECK("epoll_create1 bad flags", epoll_create1(1));
  CHECK("epoll_create 0", epoll_create(0));
  struct epoll_event ev[4];
  CHECK("epoll_wait 0 max", epoll_wait(ep, ev, 0, 0));
  CHECK("epoll_wait neg max", epoll_wait(ep, ev, -1, 0));
  CHECK("epoll_wait huge max", epoll_wait(ep, ev, 0x7fffffff, 0));
  CHECK("epoll_ctl self", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev[0]));
  int f = open("f", O_CREAT | O_RDWR, 0644);
  ev[0].events = EPOLLIN;
  CHECK("epoll_ctl regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev[0]));
  CHECK("eventfd bad flags", eventfd(0, 0x1));
  int e = eventfd(0, EFD_NONBLOCK);
  unsigned long long v = ~0ULL;
  CHECK("eventfd write max", write(e, &v, 8));
  v = 1;
  CHECK("eventfd write short", write(e, &v, 4));
  CHECK("eventfd read short", read(e, &v, 4));
  CHECK("eventfd read empty", read(e, &v, 8));
  v = 0xfffffffffffffffeULL;
  CHECK("eventfd write max-1", write(e, &v, 8));
  v = 1;
  CHECK("eventfd write overflow nb", write(e, &v, 8));
  fd_set s; FD_ZERO(&s); FD_SET(0, &s);
  CHECK("select neg nfds", select(-1, &s, NULL, NULL, NULL));
  CHECK("select huge nfds", syscall(SYS_select, 1 << 20, &s, NULL, NULL, &(struct timeval){0, 0}));
  CHECK("setxattr big", setxattr("f", "user.x", malloc(70000), 70000, 0));
  CHECK("setxattr long name", setxattr("f", "user.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "v", 1, 0));
  CHECK("setxattr bad ns", setxattr("f", "bogus.x", "v", 1, 0));
  CHECK("setxattr bad flags", setxattr("f", "user.x", "v", 1, 4));
  CHECK("getxattr size 0 missing", getxattr("f", "user.nope", NULL, 0));
  CHECK("setxattr ok", setxattr("f", "user.x", "vv", 2, 0));
  CHECK("getxattr size 0", getxattr("f", "user.x", NULL, 0));
  CHECK("getxattr size 1", getxattr("f", "user.x", buf, 1));
  CHECK("listxattr size 0", listxattr("f", NULL, 0));
  CHECK("listxattr size 1", listxattr("f", buf, 1));
  return 0;
}

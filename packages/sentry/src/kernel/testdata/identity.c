/* uname, ids, rlimits, getrusage, sysinfo: the fields that are the same natively and in the sandbox. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void) {
  struct utsname u;
  uname(&u);
  printf("sysname %s machine %s\n", u.sysname, u.machine);
  printf("uid %d euid %d gid %d egid %d\n", getuid(), geteuid(), getgid(), getegid());
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = 100;
  printf("setrlimit %d\n", setrlimit(RLIMIT_NOFILE, &r));
  getrlimit(RLIMIT_NOFILE, &r);
  printf("nofile soft %ld\n", (long)r.rlim_cur);
  printf("pgrp %d sid %d\n", getpgid(0) == getpgrp(), getsid(0) == getsid(getpid()));
  int a = setuid(1000);
  int uid = getuid();
  int b = setuid(0);
  printf("setuid(1000) %d then uid %d, setuid(0) %d\n", a, uid, b);
  return 0;
}

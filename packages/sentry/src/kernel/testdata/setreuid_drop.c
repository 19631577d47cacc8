/* Dropping root with setreuid/setregid (setreuid(2)): setting the real id, or an effective id other than the old
 * real id, also sets the saved id, so the process can never get root back. Run as root. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(const char *what, int r) {
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  getresuid(&ru, &eu, &su);
  getresgid(&rg, &eg, &sg);
  printf("%s: %d %s uid %u %u %u gid %u %u %u\n", what, r, r < 0 ? strerrorname_np(errno) : "", ru, eu, su, rg, eg, sg);
}

int main(void) {
  show("setregid(100, 100)", setregid(100, 100));
  show("setegid(0)", setegid(0));
  show("setreuid(-1, 1000)", setreuid(-1, 1000));
  show("seteuid(0)", seteuid(0));
  show("setreuid(1000, -1)", setreuid(1000, -1));
  show("setuid(0)", setuid(0));
  show("setreuid(0, 0)", setreuid(0, 0));
  show("setreuid(1000, 1000)", setreuid(1000, 1000));
  show("setuid(-1)", setuid(-1));
  show("setuid(0) after the drop", setuid(0));
  show("seteuid(0) after the drop", seteuid(0));
  return 0;
}

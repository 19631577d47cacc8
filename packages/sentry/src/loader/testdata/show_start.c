// Prints what a program sees at start (argv, one env var, auxv values), for loader_exec.test.ts.
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  printf("FOO=%s\n", getenv("FOO") ? getenv("FOO") : "(unset)");
  printf("execfn=%s\n", (const char *)getauxval(AT_EXECFN));
  printf("platform=%s\n", (const char *)getauxval(AT_PLATFORM));
  printf("pagesz=%lu\n", getauxval(AT_PAGESZ));
  const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
  printf("random=");
  for (int i = 0; i < 16; i++) printf("%02x", r[i]);
  printf("\nuid=%lu\n", getauxval(AT_UID));
  return 0;
}

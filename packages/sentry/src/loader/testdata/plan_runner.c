// plan_runner: executes a loader plan in this very process, the way the platform does in a task: map each region
// anonymous and writable at its fixed address, copy the bytes, mprotect to the final protection, then set %rsp and
// jump to the entry point. Proves that a LoadedImage really starts the program. Test-only
// (packages/sentry/src/loader/loader_exec.test.ts); link it static at an address no plan uses.
// Plan file (little-endian u64 fields): "TSVPLAN1", entry, sp, count, then count regions of
//   start, length, prot, data_addr, data_len, data bytes.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static uint64_t take(const unsigned char **p) {
  uint64_t v;
  memcpy(&v, *p, 8);
  *p += 8;
  return v;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: plan_runner PLAN\n"); return 98; }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) { perror("plan"); return 98; }
  unsigned char *buf = malloc(st.st_size);
  if (!buf || read(fd, buf, st.st_size) != st.st_size) { perror("read plan"); return 98; }
  close(fd);
  if (memcmp(buf, "TSVPLAN1", 8) != 0) { fprintf(stderr, "bad plan magic\n"); return 98; }
  const unsigned char *p = buf + 8;
  uint64_t entry = take(&p), sp = take(&p), count = take(&p);
  for (uint64_t i = 0; i < count; i++) {
    uint64_t start = take(&p), length = take(&p), prot = take(&p), data_addr = take(&p), data_len = take(&p);
    void *m = mmap((void *)start, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m != (void *)start) { fprintf(stderr, "map %#lx+%#lx failed\n", (unsigned long)start, (unsigned long)length); return 99; }
    memcpy((void *)data_addr, p, data_len);
    p += data_len;
    if (mprotect(m, length, (int)prot) != 0) { perror("mprotect"); return 99; }
  }
  fflush(NULL);
  // The ABI's initial state: %rsp at argc, %rdx = 0 (no rtld_fini to register).
  __asm__ volatile("mov %0, %%rsp\n\txor %%edx, %%edx\n\tjmp *%1\n" : : "r"(sp), "r"(entry) : "memory");
  __builtin_unreachable();
}

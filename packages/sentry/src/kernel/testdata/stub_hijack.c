/* A hostile program: it replaces the stub page (where the sentry injects syscalls) with its own code, which makes
 * a clone(CLONE_UNTRACED) instead of the injected call, and then asks for a heap (brk), which the sentry grows
 * by injection. The sentry must notice that the task ran a syscall other than the one it injected and kill the
 * task: never let a ptrace-class call (clone, execve) run on the host unchecked. Prints "survived" otherwise. */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STUB_BASE 0x10000UL
#define STUB_SYSCALL_OFFSET 0x82 /* platform/stub.ts: STUB_SYSCALL_INSN - STUB_BASE */

int main(void) {
  static const unsigned char code[] = {
      0xb8, 0x38, 0x00, 0x00, 0x00, /* mov eax, 56 (clone) */
      0xbf, 0x11, 0x00, 0x80, 0x00, /* mov edi, CLONE_UNTRACED | SIGCHLD */
      0x31, 0xf6,                   /* xor esi, esi (same stack: the child only spins) */
      0x31, 0xd2,                   /* xor edx, edx */
      0x45, 0x31, 0xd2,             /* xor r10d, r10d */
      0x45, 0x31, 0xc0,             /* xor r8d, r8d */
      0x0f, 0x05,                   /* syscall */
      0xeb, 0xfe,                   /* jmp . (the untraced child spins here) */
  };
  unsigned char *p = mmap((void *)STUB_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 2;
  memset(p, 0xcc, 4096);
  memcpy(p + STUB_SYSCALL_OFFSET, code, sizeof code);
  long cur = syscall(SYS_brk, 0L);
  syscall(SYS_brk, cur + 0x100000L);
  static const char msg[] = "survived\n";
  write(1, msg, sizeof msg - 1);
  return 0;
}

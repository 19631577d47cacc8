/* memory: another process's memory, for syscall arguments and results.
 *
 * process_vm_readv/writev (process_vm_readv(2)) is the fast path; it honours page protections, so writing a
 * read-only page (loading an image, filling a PROT_READ file mapping) fails there, while a write through
 * /proc/PID/mem succeeds the way ptrace's POKEDATA does (proc(5)). writeMemoryForce uses the latter. */
#include "napi_util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

/* Copies between the caller's buffer and the task's memory with process_vm_readv/writev: the count moved, short at
 * the first inaccessible page (0 if none); `usage` names the JavaScript call in its TypeError. */
static napi_value transfer_memory(napi_env env, napi_callback_info info, bool write, const char *usage) {
  napi_value argv[3];
  if (tsv_args(env, info, argv, 3) < 3) return tsv_throw_type(env, usage);
  int32_t pid;
  uint64_t addr;
  void *buf;
  size_t len;
  if (!tsv_arg_i32(env, argv[0], &pid) || !tsv_arg_u64(env, argv[1], &addr) || !tsv_arg_buffer(env, argv[2], &buf, &len))
    return NULL;
  if (len == 0) return tsv_i32(env, 0);
  struct iovec local = {.iov_base = buf, .iov_len = len};
  struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
  ssize_t r = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0) : process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (r < 0) {
    if (errno == EFAULT) return tsv_i32(env, 0);
    return tsv_throw_errno(env, write ? "process_vm_writev" : "process_vm_readv", errno);
  }
  return tsv_i64(env, r);
}

/* readMemory(pid, addr, out: Buffer) -> bytes read (short at the first unreadable page; 0 if none). */
static napi_value js_read_memory(napi_env env, napi_callback_info info) {
  return transfer_memory(env, info, false, "readMemory(pid, addr, out)");
}

/* writeMemory(pid, addr, data) -> bytes written (short at the first unwritable page; 0 if none). */
static napi_value js_write_memory(napi_env env, napi_callback_info info) {
  return transfer_memory(env, info, true, "writeMemory(pid, addr, data)");
}

/* writeMemoryForce(pid, addr, data) -> bytes written, through /proc/PID/mem (ignores page protections). */
static napi_value js_write_memory_force(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (tsv_args(env, info, argv, 3) < 3) return tsv_throw_type(env, "writeMemoryForce(pid, addr, data)");
  int32_t pid;
  uint64_t addr;
  void *buf;
  size_t len;
  if (!tsv_arg_i32(env, argv[0], &pid) || !tsv_arg_u64(env, argv[1], &addr) || !tsv_arg_buffer(env, argv[2], &buf, &len))
    return NULL;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mem", pid);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return tsv_throw_errno(env, "open(/proc/PID/mem)", errno);
  size_t done = 0;
  while (done < len) {
    ssize_t w = pwrite(fd, (char *)buf + done, len - done, (off_t)(addr + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EIO || errno == EFAULT) break;
      int err = errno;
      close(fd);
      return tsv_throw_errno(env, "pwrite(/proc/PID/mem)", err);
    }
    if (w == 0) break;
    done += (size_t)w;
  }
  close(fd);
  return tsv_i64(env, (int64_t)done);
}

napi_status tsv_register_memory(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = tsv_export(env, exports, "readMemory", js_read_memory)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "writeMemory", js_write_memory)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "writeMemoryForce", js_write_memory_force)) != napi_ok) return s;
  return napi_ok;
}

/* mount: namespace and mount plumbing for the gofer and runsc: unshare(2), mount(2), umount2(2), pivot_root(2),
 * chroot(2), setns(2), sethostname(2), mount_setattr(2), plus what the gofer needs and Node's fs lacks: an O_PATH open and mknod(2). Each wrapper
 * throws an errno error naming the call; none retries or interprets the flags, which the TypeScript side owns. */
#include "napi_util.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A string argument that may be null/undefined (mount's source, fstype and data may be NULL). */
static bool arg_opt_string(napi_env env, napi_value v, char **out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) { *out = NULL; return true; }
  return tsv_arg_string(env, v, out);
}

/* unshare(flags) */
static napi_value js_unshare(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "unshare(flags)");
  int32_t flags;
  if (!tsv_arg_i32(env, argv[0], &flags)) return NULL;
  if (unshare(flags) < 0) return tsv_throw_errno(env, "unshare", errno);
  return tsv_undefined(env);
}

/* mount(source|null, target, fstype|null, flags, data|null) */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = tsv_args(env, info, argv, 5);
  if (argc < 4) return tsv_throw_type(env, "mount(source, target, fstype, flags, data?)");
  char *src = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  int64_t flags;
  napi_value ret = NULL;
  if (!arg_opt_string(env, argv[0], &src)) goto out;
  if (!tsv_arg_string(env, argv[1], &target)) goto out;
  if (!arg_opt_string(env, argv[2], &fstype)) goto out;
  if (!tsv_arg_i64(env, argv[3], &flags)) goto out;
  if (argc >= 5 && !arg_opt_string(env, argv[4], &data)) goto out;
  if (mount(src, target, fstype, (unsigned long)flags, data) < 0) {
    ret = tsv_throw_errno(env, "mount", errno);
    goto out;
  }
  ret = tsv_undefined(env);
out:
  free(src); free(target); free(fstype); free(data);
  return ret;
}

/* umount2(target, flags) */
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = tsv_args(env, info, argv, 2);
  if (argc < 1) return tsv_throw_type(env, "umount2(target, flags?)");
  char *target;
  int32_t flags = 0;
  if (!tsv_arg_string(env, argv[0], &target)) return NULL;
  if (argc >= 2 && !tsv_arg_i32(env, argv[1], &flags)) { free(target); return NULL; }
  int r = umount2(target, flags), err = errno;
  free(target);
  if (r < 0) return tsv_throw_errno(env, "umount2", err);
  return tsv_undefined(env);
}

/* Two-path calls: pivotRoot(newRoot, putOld). glibc has no wrapper for pivot_root, hence syscall(2). */
static napi_value js_pivot_root(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "pivotRoot(newRoot, putOld)");
  char *new_root, *put_old;
  if (!tsv_arg_string(env, argv[0], &new_root)) return NULL;
  if (!tsv_arg_string(env, argv[1], &put_old)) { free(new_root); return NULL; }
  long r = syscall(SYS_pivot_root, new_root, put_old);
  int err = errno;
  free(new_root); free(put_old);
  if (r < 0) return tsv_throw_errno(env, "pivot_root", err);
  return tsv_undefined(env);
}

/* One-path calls: chroot(path), chdir is in Node already. */
static napi_value js_chroot(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "chroot(path)");
  char *path;
  if (!tsv_arg_string(env, argv[0], &path)) return NULL;
  int r = chroot(path), err = errno;
  free(path);
  if (r < 0) return tsv_throw_errno(env, "chroot", err);
  return tsv_undefined(env);
}

/* setns(fd, nstype) */
static napi_value js_setns(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "setns(fd, nstype)");
  int32_t fd, nstype;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_i32(env, argv[1], &nstype)) return NULL;
  if (setns(fd, nstype) < 0) return tsv_throw_errno(env, "setns", errno);
  return tsv_undefined(env);
}

/* sethostname(name) */
static napi_value js_sethostname(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "sethostname(name)");
  char *name;
  if (!tsv_arg_string(env, argv[0], &name)) return NULL;
  int r = sethostname(name, strlen(name)), err = errno;
  free(name);
  if (r < 0) return tsv_throw_errno(env, "sethostname", err);
  return tsv_undefined(env);
}

/* mknod(path, mode, dev): mknod(2) relative to the cwd. The gofer uses it for FIFOs and socket nodes, which Node's
 * fs cannot create; which types to allow is the caller's decision. */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = tsv_args(env, info, argv, 3);
  if (argc < 2) return tsv_throw_type(env, "mknod(path, mode, dev?)");
  char *path;
  int64_t mode, dev = 0;
  if (!tsv_arg_string(env, argv[0], &path)) return NULL;
  if (!tsv_arg_i64(env, argv[1], &mode) || (argc >= 3 && !tsv_arg_i64(env, argv[2], &dev))) { free(path); return NULL; }
  int r = mknodat(AT_FDCWD, path, (mode_t)mode, (dev_t)dev), err = errno;
  free(path);
  if (r < 0) return tsv_throw_errno(env, "mknod", err);
  return tsv_undefined(env);
}

/* openPath(path, extraFlags) -> fd opened O_PATH|O_CLOEXEC (open(2) "O_PATH"): a handle on a directory or file
 * that survives the path becoming unreachable, usable as /proc/self/fd/N for bind mounts. */
static napi_value js_open_path(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = tsv_args(env, info, argv, 2);
  if (argc < 1) return tsv_throw_type(env, "openPath(path, flags?)");
  char *path;
  int32_t extra = 0;
  if (!tsv_arg_string(env, argv[0], &path)) return NULL;
  if (argc >= 2 && !tsv_arg_i32(env, argv[1], &extra)) { free(path); return NULL; }
  int fd = open(path, O_PATH | O_CLOEXEC | extra), err = errno;
  free(path);
  if (fd < 0) return tsv_throw_errno(env, "open", err);
  return tsv_i32(env, fd);
}

/* struct mount_attr of mount_setattr(2) (linux/mount.h), declared here because <linux/mount.h> and <sys/mount.h>
 * clash on older glibc. */
struct tsv_mount_attr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

/* mountSetattr(path, attrSet, attrClr, recursive): mount_setattr(2) on the mount at `path` (not following a final
 * symlink), with AT_RECURSIVE for the whole subtree. Unlike MS_REMOUNT|MS_BIND, it can change every submount at
 * once (Linux 5.12+). */
static napi_value js_mount_setattr(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (tsv_args(env, info, argv, 4) < 4) return tsv_throw_type(env, "mountSetattr(path, attrSet, attrClr, recursive)");
  char *path;
  int64_t set, clr;
  bool recursive;
  if (!tsv_arg_string(env, argv[0], &path)) return NULL;
  if (!tsv_arg_i64(env, argv[1], &set) || !tsv_arg_i64(env, argv[2], &clr) ||
      napi_get_value_bool(env, argv[3], &recursive) != napi_ok) {
    free(path);
    return tsv_throw_type(env, "mountSetattr(path: string, attrSet: number, attrClr: number, recursive: boolean)");
  }
  struct tsv_mount_attr attr = { .attr_set = (uint64_t)set, .attr_clr = (uint64_t)clr };
  unsigned int flags = AT_SYMLINK_NOFOLLOW | (recursive ? 0x8000 /* AT_RECURSIVE */ : 0);
  long r = syscall(442 /* SYS_mount_setattr on x86_64 */, AT_FDCWD, path, flags, &attr, sizeof attr);
  int err = errno;
  free(path);
  if (r < 0) return tsv_throw_errno(env, "mount_setattr", err);
  return tsv_undefined(env);
}

napi_status tsv_register_mount(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = tsv_export(env, exports, "unshare", js_unshare)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "mount", js_mount)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "umount2", js_umount2)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "pivotRoot", js_pivot_root)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "chroot", js_chroot)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "setns", js_setns)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "sethostname", js_sethostname)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "openPath", js_open_path)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "mknod", js_mknod)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "mountSetattr", js_mount_setattr)) != napi_ok) return s;
  return napi_ok;
}

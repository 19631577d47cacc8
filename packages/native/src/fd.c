/* fd: host file descriptor plumbing the sentry, gofer and runsc need and Node lacks: socketpair, memfd,
 * SCM_RIGHTS passing (unix(7) "Ancillary messages"), dup with a minimum, clearing FD_CLOEXEC. */
#include "napi_util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* SCM_RIGHTS carries at most SCM_MAX_FD (253) descriptors per message (unix(7)). */
#define TSV_MAX_PASS_FDS 253

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return tsv_throw_errno(env, "socketpair", errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, tsv_i32(env, sv[0]));
  napi_set_element(env, arr, 1, tsv_i32(env, sv[1]));
  return arr;
}

static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = tsv_args(env, info, argv, 2);
  if (argc < 1) return tsv_throw_type(env, "memfdCreate(name, flags?)");
  char *name;
  if (!tsv_arg_string(env, argv[0], &name)) return NULL;
  int32_t flags = MFD_CLOEXEC;
  if (argc >= 2 && !tsv_arg_i32(env, argv[1], &flags)) { free(name); return NULL; }
  int fd = memfd_create(name, (unsigned)flags);
  int err = errno;
  free(name);
  if (fd < 0) return tsv_throw_errno(env, "memfd_create", err);
  return tsv_i32(env, fd);
}

static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "closeFd(fd)");
  int32_t fd;
  if (!tsv_arg_i32(env, argv[0], &fd)) return NULL;
  /* close(2): on Linux the fd is released even on EINTR, so never retry. */
  if (close(fd) < 0 && errno != EINTR) return tsv_throw_errno(env, "close", errno);
  return tsv_undefined(env);
}

/* sendFds(sock, fds[], data?) -> bytes sent. At least one data byte is always sent: a message with only
 * ancillary data is not delivered on SOCK_STREAM. */
static napi_value js_send_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = tsv_args(env, info, argv, 3);
  if (argc < 2) return tsv_throw_type(env, "sendFds(sock, fds, data?)");
  int32_t sock;
  if (!tsv_arg_i32(env, argv[0], &sock)) return NULL;
  bool is_array;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return tsv_throw_type(env, "fds must be an array");
  uint32_t n;
  napi_get_array_length(env, argv[1], &n);
  if (n > TSV_MAX_PASS_FDS) return tsv_throw_type(env, "at most 253 fds per message (SCM_MAX_FD)");
  int fds[TSV_MAX_PASS_FDS];
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, argv[1], i, &e);
    if (!tsv_arg_i32(env, e, &fds[i])) return NULL;
  }
  char one = 0;
  void *data = &one;
  size_t len = 1;
  if (argc >= 3) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t != napi_undefined) {
      if (!tsv_arg_buffer(env, argv[2], &data, &len)) return NULL;
      if (len == 0) { data = &one; len = 1; }
    }
  }
  struct iovec iov = {.iov_base = data, .iov_len = len};
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * TSV_MAX_PASS_FDS)]; } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (n > 0) {
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  }
  ssize_t r;
  do r = sendmsg(sock, &msg, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
  if (r < 0) return tsv_throw_errno(env, "sendmsg", errno);
  return tsv_i32(env, (int32_t)r);
}

/* recvFds(sock, maxFds, maxBytes?) -> { fds: number[], data: Buffer } ; data is empty at end of stream.
 * Received fds get FD_CLOEXEC (MSG_CMSG_CLOEXEC) so they never leak into children by accident. */
static napi_value js_recv_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = tsv_args(env, info, argv, 3);
  if (argc < 2) return tsv_throw_type(env, "recvFds(sock, maxFds, maxBytes?)");
  int32_t sock, max_fds, max_bytes = 4096;
  if (!tsv_arg_i32(env, argv[0], &sock) || !tsv_arg_i32(env, argv[1], &max_fds)) return NULL;
  if (argc >= 3 && !tsv_arg_i32(env, argv[2], &max_bytes)) return NULL;
  if (max_fds < 0 || max_fds > TSV_MAX_PASS_FDS) return tsv_throw_type(env, "maxFds must be 0..253");
  if (max_bytes < 1 || max_bytes > (1 << 20)) return tsv_throw_type(env, "maxBytes must be 1..1048576");
  char *data = malloc((size_t)max_bytes);
  if (!data) return tsv_throw_errno(env, "malloc", ENOMEM);
  struct iovec iov = {.iov_base = data, .iov_len = (size_t)max_bytes};
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * TSV_MAX_PASS_FDS)]; } ctl;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)(max_fds > 0 ? max_fds : 1))};
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); while (r < 0 && errno == EINTR);
  if (r < 0) { int err = errno; free(data); return tsv_throw_errno(env, "recvmsg", err); }
  napi_value fds_arr;
  napi_create_array(env, &fds_arr);
  uint32_t k = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *p = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < cnt; i++) {
      int fd;
      memcpy(&fd, p + i, sizeof fd);
      napi_set_element(env, fds_arr, k++, tsv_i32(env, fd));
    }
  }
  napi_value buf, result;
  void *dst;
  napi_create_buffer_copy(env, (size_t)r, data, &dst, &buf);
  free(data);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "fds", fds_arr);
  napi_set_named_property(env, result, "data", buf);
  napi_value trunc;
  napi_get_boolean(env, (msg.msg_flags & MSG_CTRUNC) != 0, &trunc);
  napi_set_named_property(env, result, "truncated", trunc);
  return result;
}

static napi_value js_dup_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = tsv_args(env, info, argv, 3);
  if (argc < 1) return tsv_throw_type(env, "dupFd(fd, min?, cloexec?)");
  int32_t fd, min = 0;
  if (!tsv_arg_i32(env, argv[0], &fd)) return NULL;
  if (argc >= 2) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t != napi_undefined && !tsv_arg_i32(env, argv[1], &min)) return NULL;
  }
  bool cloexec = true;
  if (argc >= 3) napi_get_value_bool(env, argv[2], &cloexec);
  int r = fcntl(fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, min);
  if (r < 0) return tsv_throw_errno(env, "fcntl(F_DUPFD)", errno);
  return tsv_i32(env, r);
}

static napi_value js_set_cloexec(napi_env env, napi_callback_info info, bool on) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "expected (fd)");
  int32_t fd;
  if (!tsv_arg_i32(env, argv[0], &fd)) return NULL;
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0) return tsv_throw_errno(env, "fcntl(F_GETFD)", errno);
  fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
  if (fcntl(fd, F_SETFD, fl) < 0) return tsv_throw_errno(env, "fcntl(F_SETFD)", errno);
  return tsv_undefined(env);
}
static napi_value js_clear_cloexec(napi_env env, napi_callback_info info) { return js_set_cloexec(env, info, false); }
static napi_value js_set_cloexec_on(napi_env env, napi_callback_info info) { return js_set_cloexec(env, info, true); }

static napi_value js_set_nonblock(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "setNonBlocking(fd, on)");
  int32_t fd;
  bool on;
  if (!tsv_arg_i32(env, argv[0], &fd)) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) return tsv_throw_type(env, "on must be a boolean");
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return tsv_throw_errno(env, "fcntl(F_GETFL)", errno);
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, fl) < 0) return tsv_throw_errno(env, "fcntl(F_SETFL)", errno);
  return tsv_undefined(env);
}

napi_status tsv_register_fd(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = tsv_export(env, exports, "socketpair", js_socketpair)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "memfdCreate", js_memfd_create)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "closeFd", js_close_fd)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "sendFds", js_send_fds)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "recvFds", js_recv_fds)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "dupFd", js_dup_fd)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "clearCloexec", js_clear_cloexec)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "setCloexec", js_set_cloexec_on)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "setNonBlocking", js_set_nonblock)) != napi_ok) return s;
  return napi_ok;
}

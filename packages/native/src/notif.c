/* notif: seccomp user notification (seccomp_unotify(2)) on the listener fd of a task filter.
 *
 * Readiness: notifWatch puts the listener in the Node event loop (uv_poll, POLLIN) and calls a JavaScript callback
 * when notifications are pending; the callback drains them with notifRecv, which never blocks (it polls the fd
 * first). Answers (notifSend) may come later and in any order: a task blocked in read() on an empty pipe is
 * answered when data arrives, while others are answered at once. */
#include "napi_util.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <uv.h>

#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

static int64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* notifRecv(fd, out: Buffer >= 80 bytes, spinNs = 0) -> true with struct seccomp_notif in `out`, false if none is
 * pending (or the one pending was withdrawn because its task died: ENOENT). With spinNs > 0 it keeps polling that
 * long before giving up: a task that was just answered usually makes its next call within microseconds, and
 * catching it here saves a trip through the event loop. */
static napi_value js_notif_recv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = tsv_args(env, info, argv, 3);
  if (argc < 2) return tsv_throw_type(env, "notifRecv(fd, out, spinNs?)");
  int32_t fd;
  void *buf;
  size_t len;
  int32_t spin = 0;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_buffer(env, argv[1], &buf, &len)) return NULL;
  if (argc >= 3 && !tsv_arg_i32(env, argv[2], &spin)) return NULL;
  if (len < sizeof(struct seccomp_notif)) return tsv_throw_type(env, "out must hold struct seccomp_notif (80 bytes)");
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int pr;
  int64_t deadline = spin > 0 ? mono_ns() + spin : 0;
  for (;;) {
    do pr = poll(&p, 1, 0); while (pr < 0 && errno == EINTR);
    if (pr != 0 || spin <= 0 || mono_ns() >= deadline) break;
  }
  if (pr < 0) return tsv_throw_errno(env, "poll(listener)", errno);
  napi_value res;
  if (pr == 0 || !(p.revents & POLLIN)) {
    napi_get_boolean(env, false, &res);
    return res;
  }
  /* The kernel requires the buffer zeroed (seccomp_unotify(2): "the fields must be zero"). */
  memset(buf, 0, sizeof(struct seccomp_notif));
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf) < 0) {
    if (errno == ENOENT || errno == EINTR) {
      napi_get_boolean(env, false, &res);
      return res;
    }
    return tsv_throw_errno(env, "ioctl(SECCOMP_IOCTL_NOTIF_RECV)", errno);
  }
  napi_get_boolean(env, true, &res);
  return res;
}

/* notifSend(fd, id, val, error, flags) -> 0, or ENOENT if the task is gone or its call was interrupted (the
 * answer is then simply dropped; it is not an error of the sentry). */
static napi_value js_notif_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (tsv_args(env, info, argv, 5) < 5) return tsv_throw_type(env, "notifSend(fd, id, val, error, flags)");
  int32_t fd, error, flags;
  uint64_t id;
  int64_t val;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_u64(env, argv[1], &id) || !tsv_arg_i64(env, argv[2], &val) ||
      !tsv_arg_i32(env, argv[3], &error) || !tsv_arg_i32(env, argv[4], &flags))
    return NULL;
  struct seccomp_notif_resp resp = {.id = id, .val = val, .error = error, .flags = (uint32_t)flags};
  int r;
  do r = ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp); while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == ENOENT) return tsv_i32(env, ENOENT);
    return tsv_throw_errno(env, "ioctl(SECCOMP_IOCTL_NOTIF_SEND)", errno);
  }
  return tsv_i32(env, 0);
}

static napi_value js_notif_id_valid(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "notifIdValid(fd, id)");
  int32_t fd;
  uint64_t id;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_u64(env, argv[1], &id)) return NULL;
  napi_value res;
  napi_get_boolean(env, ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0, &res);
  return res;
}

/* notifAddFd(fd, id, srcFd, targetFd (-1: lowest free), cloexec, send) -> the fd number in the task. With `send`
 * the new fd is also the answer to the notification (SECCOMP_ADDFD_FLAG_SEND), atomically. */
static napi_value js_notif_addfd(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (tsv_args(env, info, argv, 6) < 6) return tsv_throw_type(env, "notifAddFd(fd, id, srcFd, targetFd, cloexec, send)");
  int32_t fd, src, target;
  uint64_t id;
  bool cloexec, send;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_u64(env, argv[1], &id) || !tsv_arg_i32(env, argv[2], &src) ||
      !tsv_arg_i32(env, argv[3], &target))
    return NULL;
  napi_get_value_bool(env, argv[4], &cloexec);
  napi_get_value_bool(env, argv[5], &send);
  struct seccomp_notif_addfd a = {.id = id, .srcfd = (uint32_t)src, .newfd = 0, .newfd_flags = cloexec ? O_CLOEXEC : 0};
  if (target >= 0) {
    a.flags |= SECCOMP_ADDFD_FLAG_SETFD;
    a.newfd = (uint32_t)target;
  }
  if (send) a.flags |= SECCOMP_ADDFD_FLAG_SEND;
  int r = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
  if (r < 0) return tsv_throw_errno(env, "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)", errno);
  return tsv_i32(env, r);
}

/* A listener in the event loop. */
struct watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  bool closed;
};

static void on_closed(uv_handle_t *h) {
  struct watch *w = h->data;
  free(w);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  struct watch *w = p->data;
  if (w->closed) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, result, st;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv); /* make_callback needs an object receiver */
  napi_create_int32(env, status, &st);
  /* make_callback runs the microtask queue afterwards, so promise continuations of handlers run promptly. */
  napi_make_callback(env, w->async, recv, cb, 1, &st, &result);
  bool pending;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static void watch_finalize(napi_env env, void *data, void *hint) {
  /* The JS handle was collected: the poll was stopped by notifUnwatch or is stopped now. */
  struct watch *w = data;
  if (!w->closed) {
    w->closed = true;
    uv_poll_stop(&w->poll);
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->async);
    uv_close((uv_handle_t *)&w->poll, on_closed);
  }
}

/* notifWatch(fd, callback(status)) -> handle; callback runs on the main thread when the fd is readable. The
 * handle keeps the event loop alive until notifUnwatch(handle). */
static napi_value js_notif_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "notifWatch(fd, callback)");
  int32_t fd;
  if (!tsv_arg_i32(env, argv[0], &fd)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return tsv_throw_type(env, "callback must be a function");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return tsv_throw_type(env, "no event loop");
  struct watch *w = calloc(1, sizeof *w);
  if (!w) return tsv_throw_errno(env, "calloc", ENOMEM);
  w->env = env;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) { free(w); return tsv_throw_errno(env, "uv_poll_init", -r); }
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_value name;
  napi_create_string_utf8(env, "tsvisor:seccomp-notif", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->async);
  r = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (r < 0) {
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->async);
    w->closed = true;
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return tsv_throw_errno(env, "uv_poll_start", -r);
  }
  napi_value handle;
  napi_create_external(env, w, NULL, NULL, &handle);
  return handle;
}

static napi_value js_notif_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "notifUnwatch(handle)");
  struct watch *w;
  if (napi_get_value_external(env, argv[0], (void **)&w) != napi_ok) return tsv_throw_type(env, "not a watch handle");
  watch_finalize(env, w, NULL);
  return tsv_undefined(env);
}

napi_status tsv_register_notif(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = tsv_export(env, exports, "notifRecv", js_notif_recv)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "notifSend", js_notif_send)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "notifIdValid", js_notif_id_valid)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "notifAddFd", js_notif_addfd)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "notifWatch", js_notif_watch)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "notifUnwatch", js_notif_unwatch)) != napi_ok) return s;
  return napi_ok;
}

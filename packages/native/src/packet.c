/* packet: AF_PACKET sockets for netstack's fdbased link endpoint (packet(7)).
 *
 * One raw socket bound to one device carries every frame of that device. Frames move in batches: recvmmsg(2)
 * into slots of a caller-owned buffer (one copy, kernel to JavaScript memory), sendmmsg(2) straight from the
 * caller's packet buffers (one copy, JavaScript memory to kernel). Readiness comes from a uv_poll handle on the
 * caller's event loop, so no thread is needed and the receive path runs where the stack runs.
 *
 * With PACKET_VNET_HDR each frame is preceded by a struct virtio_net_hdr (linux/virtio_net.h) that carries
 * segmentation and checksum offload state both ways: the kernel hands over GRO-merged super-packets and accepts
 * GSO super-packets, so one syscall moves up to 64 KiB of TCP. Without it, PACKET_AUXDATA reports whether a
 * frame's checksum is still partial (a frame from a local stack with TX checksum offload). */
#include "napi_util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* Most frames moved per call; the caller's batch is capped to this. */
#define TSV_PACKET_MAX_BATCH 256
/* Per-slot receive info written for the caller: length, sll_pkttype, status bits. */
#define TSV_RX_INFO_INTS 3
#define TSV_RX_TRUNCATED 1
#define TSV_RX_CSUM_NOT_READY 2
#define TSV_RX_CSUM_VALID 4

/* packetOpen(ifindex, vnetHdr, rcvbuf, sndbuf) -> fd. The socket is opened with protocol 0 (receives nothing)
 * and bound to (ETH_P_ALL, ifindex), so it never sees frames of other devices in between (packet(7) "bind"). */
static napi_value js_packet_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = tsv_args(env, info, argv, 4);
  if (argc < 2) return tsv_throw_type(env, "packetOpen(ifindex, vnetHdr, rcvbuf?, sndbuf?)");
  int32_t ifindex, rcvbuf = 0, sndbuf = 0;
  bool vnet;
  if (!tsv_arg_i32(env, argv[0], &ifindex)) return NULL;
  if (napi_get_value_bool(env, argv[1], &vnet) != napi_ok) return tsv_throw_type(env, "vnetHdr must be a boolean");
  if (argc >= 3 && !tsv_arg_i32(env, argv[2], &rcvbuf)) return NULL;
  if (argc >= 4 && !tsv_arg_i32(env, argv[3], &sndbuf)) return NULL;

  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return tsv_throw_errno(env, "socket(AF_PACKET)", errno);
  int one = 1;
  const char *failed = NULL;
  if (vnet) {
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) failed = "setsockopt(PACKET_VNET_HDR)";
  } else {
    if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) failed = "setsockopt(PACKET_AUXDATA)";
  }
  /* Our own transmissions would otherwise come back as PACKET_OUTGOING copies (Linux >= 4.20; older kernels
   * fail with ENOPROTOOPT and the receive path filters them by sll_pkttype instead). */
  if (!failed) (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  /* Skip the device queueing discipline on send (packet(7) PACKET_QDISC_BYPASS): the stack queues already. */
  if (!failed) (void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  if (!failed && rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  if (!failed && sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  if (!failed) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) failed = "bind(AF_PACKET)";
  }
  if (failed) {
    int err = errno;
    close(fd);
    return tsv_throw_errno(env, failed, err);
  }
  return tsv_i32(env, fd);
}

/* packetRecvBatch(fd, buf, slotSize, maxSlots, info: Int32Array) -> count (0 if nothing is waiting).
 * Frame i lands at buf[i*slotSize]; info[3i..3i+2] = length, sll_pkttype, status bits (TSV_RX_*). Never blocks
 * (MSG_DONTWAIT). Returns -errno on a receive error other than EAGAIN, so the hot path never throws. */
static napi_value js_packet_recv_batch(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (tsv_args(env, info, argv, 5) < 5) return tsv_throw_type(env, "packetRecvBatch(fd, buf, slotSize, maxSlots, info)");
  int32_t fd, slot_size, max_slots;
  void *buf, *infov;
  size_t buf_len, info_len;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_buffer(env, argv[1], &buf, &buf_len)
      || !tsv_arg_i32(env, argv[2], &slot_size) || !tsv_arg_i32(env, argv[3], &max_slots)
      || !tsv_arg_buffer(env, argv[4], &infov, &info_len)) return NULL;
  if (slot_size <= 0 || max_slots <= 0) return tsv_throw_type(env, "slotSize and maxSlots must be positive");
  if (max_slots > TSV_PACKET_MAX_BATCH) max_slots = TSV_PACKET_MAX_BATCH;
  if ((size_t)max_slots * (size_t)slot_size > buf_len) max_slots = (int32_t)(buf_len / (size_t)slot_size);
  if ((size_t)max_slots * TSV_RX_INFO_INTS * sizeof(int32_t) > info_len) {
    max_slots = (int32_t)(info_len / (TSV_RX_INFO_INTS * sizeof(int32_t)));
  }
  if (max_slots <= 0) return tsv_throw_type(env, "buffer or info too small for one slot");

  struct mmsghdr msgs[TSV_PACKET_MAX_BATCH];
  struct iovec iov[TSV_PACKET_MAX_BATCH];
  struct sockaddr_ll addrs[TSV_PACKET_MAX_BATCH];
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))]; } cbuf[TSV_PACKET_MAX_BATCH];
  for (int i = 0; i < max_slots; i++) {
    iov[i].iov_base = (char *)buf + (size_t)i * (size_t)slot_size;
    iov[i].iov_len = (size_t)slot_size;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &addrs[i];
    msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    msgs[i].msg_hdr.msg_control = cbuf[i].buf;
    msgs[i].msg_hdr.msg_controllen = sizeof cbuf[i].buf;
  }
  int n;
  do n = recvmmsg(fd, msgs, (unsigned)max_slots, MSG_DONTWAIT | MSG_TRUNC, NULL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return tsv_i32(env, (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno);
  int32_t *out = infov;
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &msgs[i].msg_hdr;
    int32_t status = 0;
    /* With MSG_TRUNC, msg_len is the frame's real length even when the slot was too small (packet(7)). */
    if ((h->msg_flags & MSG_TRUNC) || msgs[i].msg_len > (unsigned)slot_size) status |= TSV_RX_TRUNCATED;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
      if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
        struct tpacket_auxdata aux;
        memcpy(&aux, CMSG_DATA(c), sizeof aux);
        if (aux.tp_status & TP_STATUS_CSUMNOTREADY) status |= TSV_RX_CSUM_NOT_READY;
        if (aux.tp_status & TP_STATUS_CSUM_VALID) status |= TSV_RX_CSUM_VALID;
      }
    }
    out[i * TSV_RX_INFO_INTS] = (int32_t)msgs[i].msg_len;
    out[i * TSV_RX_INFO_INTS + 1] = addrs[i].sll_pkttype;
    out[i * TSV_RX_INFO_INTS + 2] = status;
  }
  return tsv_i32(env, n);
}

/* packetSendBatch(fd, bufs: Uint8Array[], ranges: Int32Array, count) -> frames sent, or -errno if none could be.
 * Frame i is bufs[i][ranges[2i], ranges[2i+1]). The socket is blocking, so a full device queue waits rather than
 * drops; a short count means an error stopped the batch part way (sendmmsg(2) RETURN VALUE). */
static napi_value js_packet_send_batch(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (tsv_args(env, info, argv, 4) < 4) return tsv_throw_type(env, "packetSendBatch(fd, bufs, ranges, count)");
  int32_t fd, count;
  void *rangesv;
  size_t ranges_len;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_buffer(env, argv[2], &rangesv, &ranges_len)
      || !tsv_arg_i32(env, argv[3], &count)) return NULL;
  if (count < 0 || (size_t)count * 2 * sizeof(int32_t) > ranges_len) return tsv_throw_type(env, "ranges holds fewer than count pairs");
  if (count > TSV_PACKET_MAX_BATCH) count = TSV_PACKET_MAX_BATCH;
  const int32_t *ranges = rangesv;
  struct mmsghdr msgs[TSV_PACKET_MAX_BATCH];
  struct iovec iov[TSV_PACKET_MAX_BATCH];
  for (int i = 0; i < count; i++) {
    napi_value el;
    napi_typedarray_type type;
    size_t length, offset;
    void *data;
    if (napi_get_element(env, argv[1], (uint32_t)i, &el) != napi_ok
        || napi_get_typedarray_info(env, el, &type, &length, &data, NULL, &offset) != napi_ok
        || type != napi_uint8_array) {
      return tsv_throw_type(env, "bufs must be an array of Uint8Array");
    }
    int32_t start = ranges[2 * i], end = ranges[2 * i + 1];
    if (start < 0 || end < start || (size_t)end > length) return tsv_throw_type(env, "frame range outside its buffer");
    iov[i].iov_base = (char *)data + start;
    iov[i].iov_len = (size_t)(end - start);
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int sent = 0;
  while (sent < count) {
    int n = sendmmsg(fd, msgs + sent, (unsigned)(count - sent), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (sent == 0) return tsv_i32(env, -errno);
      break;
    }
    sent += n;
  }
  return tsv_i32(env, sent);
}

/* packetWaitReadable(fd, timeoutMs) -> true if readable, false on timeout. Blocks the calling thread in poll(2):
 * for a worker that owns the socket, the alternative to packetPollStart. */
static napi_value js_packet_wait_readable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "packetWaitReadable(fd, timeoutMs)");
  int32_t fd, timeout;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_i32(env, argv[1], &timeout)) return NULL;
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int n;
  do n = poll(&p, 1, timeout);
  while (n < 0 && errno == EINTR);
  if (n < 0) return tsv_throw_errno(env, "poll", errno);
  napi_value r;
  napi_get_boolean(env, n > 0, &r);
  return r;
}

static void packet_ring_finalize(napi_env env, void *data, void *hint) {
  munmap(data, (size_t)(uintptr_t)hint);
}

/* packetRxRing(fd, frameSize, framesPerBlock, blockCount) -> [ArrayBuffer, blockSize]: switches the socket to a
 * TPACKET_V2 receive ring (packet(7) PACKET_RX_RING; Documentation/networking/packet_mmap.rst) and maps it. The
 * kernel copies each frame into the next free slot as it arrives (in the sender's softirq context, not in a
 * receive syscall) and sets its tp_status to TP_STATUS_USER; the caller reads it in place and hands the slot back
 * by storing TP_STATUS_KERNEL. Per-frame status (V2, not V3's blocks) so a lone frame is visible at once instead
 * of after a block-retire timeout. Must come after packetOpen (PACKET_VNET_HDR is already set then). The mapping
 * is released when the ArrayBuffer is collected. */
static napi_value js_packet_rx_ring(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (tsv_args(env, info, argv, 4) < 4) return tsv_throw_type(env, "packetRxRing(fd, frameSize, framesPerBlock, blockCount)");
  int32_t fd, frame_size, per_block, blocks;
  if (!tsv_arg_i32(env, argv[0], &fd) || !tsv_arg_i32(env, argv[1], &frame_size)
      || !tsv_arg_i32(env, argv[2], &per_block) || !tsv_arg_i32(env, argv[3], &blocks)) return NULL;
  if (frame_size < (int32_t)TPACKET2_HDRLEN || frame_size % TPACKET_ALIGNMENT != 0 || per_block < 1 || blocks < 1
      || (int64_t)frame_size * per_block * blocks > (1LL << 30)) {
    return tsv_throw_type(env, "frameSize must be a multiple of 16 above the frame header; the ring at most 1 GiB");
  }
  long page = sysconf(_SC_PAGESIZE);
  size_t block_size = ((size_t)frame_size * (size_t)per_block + (size_t)page - 1) & ~((size_t)page - 1);
  int version = TPACKET_V2;
  if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return tsv_throw_errno(env, "setsockopt(PACKET_VERSION)", errno);
  struct tpacket_req req = {
    .tp_block_size = (unsigned)block_size, .tp_block_nr = (unsigned)blocks,
    .tp_frame_size = (unsigned)frame_size, .tp_frame_nr = (unsigned)(per_block * blocks),
  };
  if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return tsv_throw_errno(env, "setsockopt(PACKET_RX_RING)", errno);
  size_t len = block_size * (size_t)blocks;
  void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return tsv_throw_errno(env, "mmap(PACKET_RX_RING)", errno);
  napi_value ab, arr;
  if (napi_create_external_arraybuffer(env, map, len, packet_ring_finalize, (void *)(uintptr_t)len, &ab) != napi_ok) {
    munmap(map, len);
    return tsv_throw_type(env, "external ArrayBuffers are not allowed in this runtime");
  }
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, ab);
  napi_set_element(env, arr, 1, tsv_i64(env, (int64_t)block_size));
  return arr;
}

/* A uv_poll watching a packet socket for readability on the caller's event loop. */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  /* Set while an environment-teardown hook is registered (napi_add_async_cleanup_hook). */
  napi_async_cleanup_hook_handle cleanup;
  bool stopped;
  /* Owners of this struct: the open uv handle and the JavaScript handle object. Freed when both are gone, so a
   * second packetPollStop on the same handle reads valid memory (and sees `stopped`). */
  int owners;
} tsv_packet_poll;

static void packet_poll_release(tsv_packet_poll *p) {
  if (--p->owners == 0) free(p);
}

static void packet_poll_closed(uv_handle_t *h) { packet_poll_release(h->data); }

static void packet_poll_ready(uv_poll_t *h, int status, int events) {
  tsv_packet_poll *p = h->data;
  if (p->stopped) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, result, arg;
  napi_get_reference_value(env, p->callback, &cb);
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  napi_create_int32(env, status, &arg);
  /* napi_make_callback (not napi_call_function): runs queued microtasks when it returns, as any libuv-driven
   * callback in Node does, so work the stack defers with queueMicrotask (the qdisc flush) happens now. */
  if (napi_make_callback(env, p->async, recv, cb, 1, &arg, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

/* Environment teardown (a worker exiting, or the process) with the watch still active: the handle must be closed
 * before the loop is, and closing is asynchronous, hence an async cleanup hook that is released from the close
 * callback. The callback reference and async context die with the environment. */
static void packet_poll_closed_at_teardown(uv_handle_t *h) {
  tsv_packet_poll *p = h->data;
  napi_remove_async_cleanup_hook(p->cleanup);
  packet_poll_release(p);
}

static void packet_poll_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  tsv_packet_poll *p = arg;
  p->stopped = true;
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t *)&p->poll, packet_poll_closed_at_teardown);
}

static void packet_poll_finalize(napi_env env, void *data, void *hint) {
  packet_poll_release(data);
}

/* packetPollStart(fd, callback(status)) -> handle. The callback runs whenever fd is readable; it must drain the
 * socket (packetRecvBatch until 0), since the poll is level-triggered. status < 0 is a libuv error code. */
static napi_value js_packet_poll_start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "packetPollStart(fd, callback)");
  int32_t fd;
  if (!tsv_arg_i32(env, argv[0], &fd)) return NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return tsv_throw_type(env, "callback must be a function");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return tsv_throw_type(env, "no event loop");
  tsv_packet_poll *p = calloc(1, sizeof *p);
  if (!p) return tsv_throw_errno(env, "calloc", ENOMEM);
  p->env = env;
  p->poll.data = p;
  p->owners = 1; /* the uv handle; the JavaScript handle object takes the second below */
  int rc = uv_poll_init(loop, &p->poll, fd);
  if (rc < 0) { free(p); return tsv_throw_errno(env, "uv_poll_init", -rc); }
  napi_value name;
  napi_create_string_utf8(env, "tsvisor.packetPoll", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &p->callback);
  napi_async_init(env, NULL, name, &p->async);
  rc = uv_poll_start(&p->poll, UV_READABLE, packet_poll_ready);
  if (rc < 0) {
    napi_delete_reference(env, p->callback);
    napi_async_destroy(env, p->async);
    uv_close((uv_handle_t *)&p->poll, packet_poll_closed);
    return tsv_throw_errno(env, "uv_poll_start", -rc);
  }
  napi_add_async_cleanup_hook(env, packet_poll_env_cleanup, p, &p->cleanup);
  napi_value handle;
  p->owners++;
  if (napi_create_external(env, p, packet_poll_finalize, NULL, &handle) != napi_ok) {
    p->owners--;
    p->stopped = true;
    napi_remove_async_cleanup_hook(p->cleanup);
    uv_poll_stop(&p->poll);
    napi_delete_reference(env, p->callback);
    napi_async_destroy(env, p->async);
    uv_close((uv_handle_t *)&p->poll, packet_poll_closed);
    return tsv_throw_type(env, "could not create the poll handle object");
  }
  return handle;
}

/* packetPollStop(handle): stops watching and frees the poll (idempotent). Does not close the fd. */
static napi_value js_packet_poll_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "packetPollStop(handle)");
  void *data;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || !data) return tsv_throw_type(env, "not a poll handle");
  tsv_packet_poll *p = data;
  if (p->stopped) return tsv_undefined(env);
  p->stopped = true;
  napi_remove_async_cleanup_hook(p->cleanup);
  uv_poll_stop(&p->poll);
  napi_delete_reference(env, p->callback);
  napi_async_destroy(env, p->async);
  uv_close((uv_handle_t *)&p->poll, packet_poll_closed);
  return tsv_undefined(env);
}

/* packetPollRef(handle, ref): whether an active poll keeps the event loop (and so the process) alive. */
static napi_value js_packet_poll_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (tsv_args(env, info, argv, 2) < 2) return tsv_throw_type(env, "packetPollRef(handle, ref)");
  void *data;
  bool ref;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || !data) return tsv_throw_type(env, "not a poll handle");
  if (napi_get_value_bool(env, argv[1], &ref) != napi_ok) return tsv_throw_type(env, "ref must be a boolean");
  tsv_packet_poll *p = data;
  if (!p->stopped) {
    if (ref) uv_ref((uv_handle_t *)&p->poll);
    else uv_unref((uv_handle_t *)&p->poll);
  }
  return tsv_undefined(env);
}

/* packetStats(fd) -> [packets, drops] since the last call (PACKET_STATISTICS resets on read, packet(7)). */
static napi_value js_packet_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "packetStats(fd)");
  int32_t fd;
  if (!tsv_arg_i32(env, argv[0], &fd)) return NULL;
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) return tsv_throw_errno(env, "getsockopt(PACKET_STATISTICS)", errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, tsv_i64(env, st.tp_packets));
  napi_set_element(env, arr, 1, tsv_i64(env, st.tp_drops));
  return arr;
}

/* interfaceIndex(name) -> ifindex (if_nametoindex(3)); throws ENODEV if there is no such device. */
static napi_value js_interface_index(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (tsv_args(env, info, argv, 1) < 1) return tsv_throw_type(env, "interfaceIndex(name)");
  char *name;
  if (!tsv_arg_string(env, argv[0], &name)) return NULL;
  unsigned idx = if_nametoindex(name);
  int err = errno;
  free(name);
  if (idx == 0) return tsv_throw_errno(env, "if_nametoindex", err ? err : ENODEV);
  return tsv_i32(env, (int32_t)idx);
}

napi_status tsv_register_packet(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = tsv_export(env, exports, "packetOpen", js_packet_open)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "packetRecvBatch", js_packet_recv_batch)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "packetSendBatch", js_packet_send_batch)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "packetWaitReadable", js_packet_wait_readable)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "packetRxRing", js_packet_rx_ring)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "packetPollStart", js_packet_poll_start)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "packetPollStop", js_packet_poll_stop)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "packetPollRef", js_packet_poll_ref)) != napi_ok) return s;
  if ((s = tsv_export(env, exports, "packetStats", js_packet_stats)) != napi_ok) return s;
  return tsv_export(env, exports, "interfaceIndex", js_interface_index);
}

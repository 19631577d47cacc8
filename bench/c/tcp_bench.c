// One TCP client used against every server in the netstack benchmarks (the netstack tool, the kernel, slirp4netns,
// pasta), so each figure measures the server side and the path, not different clients. Also a kernel server for
// the same services (echo 7, discard 9, chargen 19; RFCs 862, 863, 864), a thread per connection.
//   tcp_bench server PORTOFFSET                      listen on 7+off, 9+off, 19+off (0.0.0.0)
//   tcp_bench download HOST PORT MAXBYTES MAXSECONDS read from chargen; prints Mbit/s
//   tcp_bench upload HOST PORT MAXBYTES MAXSECONDS   write to discard, then shut down and wait for the close;
//                                                    prints Mbit/s (the time includes draining the last bytes)
//   tcp_bench connrate HOST PORT SECONDS             connect+close in a loop; prints connections/s
//   tcp_bench rr HOST PORT SECONDS                   1-byte ping-pong against echo; prints µs per round trip
//   tcp_bench idle HOST PORT N                       open N connections, print "ready", hold them until stdin ends
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int dial(const char *host, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "bad IPv4 address %s\n", host);
    exit(2);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  return fd;
}

static char buf[1 << 16];

enum kind { ECHO, DISCARD, CHARGEN };
struct conn {
  int fd;
  enum kind kind;
};

static void *serve_conn(void *p) {
  struct conn c = *(struct conn *)p;
  free(p);
  char local[1 << 16];
  if (c.kind == CHARGEN) {
    for (size_t i = 0; i < sizeof local; i++) local[i] = 32 + (i % 95);
    while (write(c.fd, local, sizeof local) > 0) {
    }
  } else {
    ssize_t n;
    while ((n = read(c.fd, local, sizeof local)) > 0) {
      if (c.kind == ECHO && write(c.fd, local, n) != n) break;
    }
  }
  close(c.fd);
  return NULL;
}

struct listener {
  int fd;
  enum kind kind;
};

static void *accept_loop(void *p) {
  struct listener *l = p;
  for (;;) {
    int fd = accept(l->fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      die("accept");
    }
    struct conn *c = malloc(sizeof *c);
    c->fd = fd;
    c->kind = l->kind;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, serve_conn, c) != 0) {
      close(fd);
      free(c);
    }
    pthread_attr_destroy(&attr);
  }
  return NULL;
}

static int server(int off) {
  static struct listener ls[3];
  int ports[3] = {7, 9, 19};
  enum kind kinds[3] = {ECHO, DISCARD, CHARGEN};
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < 3; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(ports[i] + off)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(fd, 1024) < 0) die("listen");
    ls[i].fd = fd;
    ls[i].kind = kinds[i];
  }
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, accept_loop, &ls[i]);
  printf("ready\n");
  fflush(stdout);
  pthread_join(t[0], NULL);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: see the comment at the top of tcp_bench.c\n");
    return 2;
  }
  const char *mode = argv[1];
  if (!strcmp(mode, "server")) return server(atoi(argv[2]));
  if (argc < 5) return 2;
  const char *host = argv[2];
  int port = atoi(argv[3]);
  signal(SIGPIPE, SIG_IGN);
  if (!strcmp(mode, "download") || !strcmp(mode, "upload")) {
    long long max = atoll(argv[4]);
    double secs = argc > 5 ? atof(argv[5]) : 10;
    int fd = dial(host, port);
    double t0 = now(), end = t0 + secs;
    long long moved = 0;
    int up = !strcmp(mode, "upload");
    while (moved < max && now() < end) {
      ssize_t n = up ? write(fd, buf, sizeof buf) : read(fd, buf, sizeof buf);
      if (n <= 0) die(up ? "write" : "read (server closed early)");
      moved += n;
    }
    if (up) {
      // The bytes still queued locally are not yet moved: wait for the discard server's close after our FIN.
      shutdown(fd, SHUT_WR);
      while (read(fd, buf, sizeof buf) > 0) {
      }
    }
    double t = now() - t0;
    close(fd);
    fprintf(stderr, "%s %lld bytes in %.2f s\n", mode, moved, t);
    printf("%.1f\n", moved * 8 / t / 1e6);
    return 0;
  }
  if (!strcmp(mode, "connrate")) {
    double secs = atof(argv[4]), t0 = now(), end = t0 + secs;
    long n = 0;
    while (now() < end) {
      close(dial(host, port));
      n++;
    }
    printf("%.0f\n", n / (now() - t0));
    return 0;
  }
  if (!strcmp(mode, "rr")) {
    double secs = atof(argv[4]);
    int fd = dial(host, port), one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char c = 'x';
    long n = 0;
    double t0 = now(), end = t0 + secs;
    while (now() < end) {
      if (write(fd, &c, 1) != 1) die("write");
      if (read(fd, &c, 1) != 1) die("read");
      n++;
    }
    printf("%.2f\n", (now() - t0) * 1e6 / n);
    return 0;
  }
  if (!strcmp(mode, "idle")) {
    int n = atoi(argv[4]);
    for (int i = 0; i < n; i++) dial(host, port);
    printf("ready\n");
    fflush(stdout);
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
  }
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}

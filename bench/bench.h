/* What bench/connbench.c, bench/evloop.c and bench/burst.c share: errors,
 * the clock, medians, whole reads and writes on the driver/worker pipes,
 * and the driver's listener.  Define BENCH_PROG (the program's name, for
 * errors) before including; a program uses what it needs of these. */
#ifndef HE_BENCH_H
#define HE_BENCH_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wunused-function"

static void die(const char *what) {
    fprintf(stderr, BENCH_PROG "[%d]: %s: %s\n", (int)getpid(), what, strerror(errno));
    exit(1);
}

static void fail(const char *msg) {
    fprintf(stderr, BENCH_PROG "[%d]: %s\n", (int)getpid(), msg);
    exit(1);
}

/* Which object this process's sym comes from: proves that LD_PRELOAD took
 * effect (or did not). */
static const char *symbol_from(void *sym) {
    Dl_info di;
    return dladdr(sym, &di) && di.dli_fname ? di.dli_fname : "?";
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t tv_ns(struct timeval tv) {
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int64_t median_i64(int64_t *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_i64);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double median_dbl(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_dbl);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* read(2) or write(2) all of len bytes, across EINTR and short counts. */
static int io_full(int fd, void *buf, size_t len, int writing) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_full(int fd, void *buf, size_t len) {
    return io_full(fd, buf, len, 0);
}

static int write_full(int fd, const void *buf, size_t len) {
    return io_full(fd, (void *)buf, len, 1);
}

/* A worker process: the driver writes one-byte commands, reads results. */
struct worker {
    pid_t pid;
    int cmd;    /* write end */
    int result; /* read end */
};

/* Sends cmd, reads the worker's result (size bytes) into r. */
static int worker_ask(struct worker *w, char cmd, void *r, size_t size) {
    if (write_full(w->cmd, &cmd, 1) != 0 || read_full(w->result, r, size) != 0) {
        return -1;
    }
    return 0;
}

/* A socket made in the network namespace at path (a file `ip netns add`
 * made), for a listener on the far side of the lab's veth; the process
 * itself stays where it is (a socket keeps its namespace). */
static int socket_in_netns(const char *path, int type) {
    int here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int there = open(path, O_RDONLY | O_CLOEXEC);
    if (here < 0 || there < 0 || setns(there, CLONE_NEWNET) != 0) {
        die("setns (BENCH_LISTEN_NETNS)");
    }
    int s = socket(AF_INET, type, 0);
    if (setns(here, CLONE_NEWNET) != 0) {
        die("setns back");
    }
    close(here);
    close(there);
    return s;
}

/* The driver is the listener: 0.0.0.0:port, backlog 65535 (capped by
 * net.core.somaxconn), in this network namespace or, with
 * BENCH_LISTEN_NETNS=PATH, in that one. */
static int listener_open(int port, int nonblock) {
    int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
    const char *ns = getenv("BENCH_LISTEN_NETNS");
    int s = ns && *ns ? socket_in_netns(ns, type) : socket(AF_INET, type, 0);
    int one = 1;
    if (s < 0) {
        die("socket");
    }
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(s, (struct sockaddr *)&sin, sizeof sin) != 0) {
        die("bind");
    }
    if (listen(s, 65535) != 0) {
        die("listen");
    }
    return s;
}

/* Accepts and closes everything queued on a non-blocking listener (none:
 * s < 0), so no server work runs while a worker is being timed. */
static void listener_drain(int s) {
    for (; s >= 0;) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            return;
        }
        close(c);
    }
}

#endif

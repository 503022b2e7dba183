/* libhe concurrent-failover benchmark (bench/run, section 6): N
 * non-blocking connects at once from one epoll loop to a dead-first name.
 *
 *   burst run NAME PORT N WAIT_MS LIVE [LINGER_MS]
 *       Concurrent failover.  Resolves NAME (getaddrinfo AF_UNSPEC,
 *       SOCK_STREAM; its first address must not be LIVE, and LIVE must be
 *       one of the others), raises RLIMIT_NOFILE, then starts N
 *       non-blocking connects to the first address at once, each registered
 *       with epoll for EPOLLOUT, and runs the loop until every socket has
 *       reported (SO_ERROR) or WAIT_MS have passed since the last connect()
 *       was started.  A connected socket is checked with getpeername()
 *       (must be LIVE:PORT; an IPv4 peer of an AF_INET6 socket may appear
 *       v4-mapped), removed from epoll and kept open until the end.
 *       /proc/self/fd is sampled at most every 20 ms while the loop runs
 *       (each sample, a directory of some 3,000 entries plus
 *       /proc/self/status, takes the loop about 3 ms: every 5 ms it took
 *       110 ms of the loop's time, which showed as the program's own delay
 *       in every time-to-connected):
 *       "extra" fds are those that are neither the process's fds from
 *       before the burst nor one of its own sockets, i.e. what libhe added.
 *       After closing everything, waits LINGER_MS (default 0) and counts
 *       the extra fds and threads once more.  Prints "key value..." lines:
 *         burst src SRC first ADDR live ADDR n N nofile LIMIT wait_ms W
 *         launch_ms MS immediate I           (time to start all N; connects
 *                                            that returned 0 at once)
 *         result connected C failed F pending P
 *         failed_errno ERRNAME COUNT ...     (if any failed)
 *         ttc_ms p50 A p99 B max C min D     (if any connected; p50 and
 *                                            p99 over all N, "inf" when
 *                                            the rank is one that never
 *                                            connected; max, min: of the
 *                                            connected)
 *         peer_mismatch M errhup_events E ctl_del_errors D
 *         fds baseline B peak_extra X samples S sample_ms_total T
 *         threads baseline B peak P
 *         left_open_extra X KINDS            (extra fds once the loop ended)
 *         after_close_extra X threads T linger_ms L
 *       Time to connected is per socket: from just before its connect() to
 *       the epoll_wait() return that reported it, taken before any sampling.
 *
 *   burst serve PORT
 *       A fast listener for the burst: 0.0.0.0:PORT, backlog 65535,
 *       blocking accept()+close() loop.  Prints "ready" once listening; dies
 *       with its parent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "burst"
#include "bench.h"

/* An address as text, IPv4-mapped IPv6 shown as plain IPv4. */
static void addr_text(const struct sockaddr *sa, char *buf, size_t len) {
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            inet_ntop(AF_INET, &a->s6_addr[12], buf, (socklen_t)len);
        } else {
            inet_ntop(AF_INET6, a, buf, (socklen_t)len);
        }
    } else {
        snprintf(buf, len, "family-%d", sa->sa_family);
    }
}

static int addr_port(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    }
    if (sa->sa_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    }
    return -1;
}

/* fd-number sets: a byte per fd, sized to RLIMIT_NOFILE. */
struct fdset {
    unsigned char *m;
    long n;
};

static void fdset_init(struct fdset *s, long n) {
    s->n = n;
    s->m = calloc((size_t)n, 1);
    if (s->m == NULL) {
        die("calloc");
    }
}

static int fdset_has(const struct fdset *s, long fd) {
    return fd >= 0 && fd < s->n && s->m[fd];
}

/* Calls fn(fd, arg) for each open fd except the directory's own. */
static void fds_each(void (*fn)(long fd, void *arg), void *arg) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        die("opendir /proc/self/fd");
    }
    long self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        long fd = strtol(e->d_name, NULL, 10);
        if (fd != self) {
            fn(fd, arg);
        }
    }
    closedir(d);
}

static void mark_fd(long fd, void *arg) {
    struct fdset *s = arg;
    if (fd >= 0 && fd < s->n) {
        s->m[fd] = 1;
    }
}

struct extra_count {
    const struct fdset *base, *own;
    int n;
    /* kinds, filled when kinds != NULL */
    int socket, eventfd, epoll, pipe, other;
    int kinds;
};

static void count_extra(long fd, void *arg) {
    struct extra_count *c = arg;
    if (fdset_has(c->base, fd) || fdset_has(c->own, fd)) {
        return;
    }
    c->n++;
    if (!c->kinds) {
        return;
    }
    char path[64], link[128];
    snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
    ssize_t k = readlink(path, link, sizeof link - 1);
    link[k > 0 ? k : 0] = '\0';
    if (strncmp(link, "socket:", 7) == 0) {
        c->socket++;
    } else if (strstr(link, "eventfd")) {
        c->eventfd++;
    } else if (strstr(link, "eventpoll")) {
        c->epoll++;
    } else if (strncmp(link, "pipe:", 5) == 0) {
        c->pipe++;
    } else {
        c->other++;
    }
}

static int extra_fds(const struct fdset *base, const struct fdset *own, struct extra_count *out,
                     int kinds) {
    struct extra_count c = {.base = base, .own = own, .kinds = kinds};
    fds_each(count_extra, &c);
    if (out) {
        *out = c;
    }
    return c.n;
}

static int threads_now(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Threads: %d", &n) == 1) {
            break;
        }
    }
    fclose(f);
    return n;
}

struct conn {
    int fd;
    int state; /* 0 pending, 1 connected, 2 failed */
    int64_t t0;
    int64_t ttc;
};

/* The p-quantile (nearest rank) of n connects of which the nconn in sorted
 * connected, as ms text; the others count as slower than any, "inf". */
static void pct(char *buf, size_t len, const int64_t *sorted, int nconn, int n, double p) {
    int i = (int)(p * n + 0.999999) - 1;
    if (i < 0) {
        i = 0;
    }
    if (i >= nconn) {
        snprintf(buf, len, "inf");
    } else {
        snprintf(buf, len, "%.1f", (double)sorted[i] / 1e6);
    }
}

#define SAMPLE_EVERY_NS (20 * 1000000LL)

/* One burst: its arguments, the sockets, and what was counted. */
struct burst {
    const char *name, *port, *live;
    int n, wait_ms, linger_ms;
    long nofile;
    struct addrinfo *res;
    char first[INET6_ADDRSTRLEN];
    int ep;
    struct conn *cs;
    int64_t *ttc;
    struct epoll_event *ev;
    struct fdset base, own;
    int nbase, threads0, threads_peak, threads, peak, samples, after;
    int64_t sample_ns, tl0, tl1, next_sample;
    int connected, failed, mismatch, errhup, del_err, nttc, immediate;
    int errs[256];
    struct extra_count left;
};

/* Resolves the name: its first address must not be LIVE, and LIVE must be
 * one of the others.  Returns 0, or 1 with a message. */
static int burst_resolve(struct burst *b) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(b->name, b->port, &hints, &b->res);
    if (rc != 0) {
        fprintf(stderr, "burst: getaddrinfo(%s): %s\n", b->name, gai_strerror(rc));
        return 1;
    }
    char a[INET6_ADDRSTRLEN];
    addr_text(b->res->ai_addr, b->first, sizeof b->first);
    int live_sibling = 0;
    for (struct addrinfo *ai = b->res->ai_next; ai; ai = ai->ai_next) {
        addr_text(ai->ai_addr, a, sizeof a);
        live_sibling |= strcmp(a, b->live) == 0;
    }
    if (strcmp(b->first, b->live) == 0 || !live_sibling) {
        fprintf(stderr, "burst: %s: first address %s; want %s among the others, not first\n",
                b->name, b->first, b->live);
        return 1;
    }
    return 0;
}

/* Room for our N sockets, and for what libhe may add while racing (a dup
 * of each plus its sibling attempts); the tables sized to it. */
static void burst_setup(struct burst *b) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        die("getrlimit");
    }
    rlim_t want = (rlim_t)b->n * 4 + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            die("setrlimit");
        }
    }
    b->nofile = (long)rl.rlim_cur;
    if (b->nofile < b->n + 64) {
        fail("RLIMIT_NOFILE too low for N");
    }
    b->ep = epoll_create1(EPOLL_CLOEXEC);
    b->cs = calloc((size_t)b->n, sizeof *b->cs);
    b->ttc = calloc((size_t)b->n, sizeof *b->ttc);
    b->ev = calloc((size_t)b->n, sizeof *b->ev);
    if (b->ep < 0 || !b->cs || !b->ttc || !b->ev) {
        die("set-up");
    }
    fdset_init(&b->base, b->nofile);
    fdset_init(&b->own, b->nofile);
    fds_each(mark_fd, &b->base); /* stdio, the epoll fd, whatever libc holds */
    for (long i = 0; i < b->base.n; i++) {
        b->nbase += b->base.m[i];
    }
    b->threads0 = b->threads_peak = b->threads = threads_now();
}

static void burst_fail_conn(struct burst *b, struct conn *c, int err) {
    c->state = 2;
    b->failed++;
    b->errs[err & 255]++;
    b->own.m[c->fd] = 0;
    close(c->fd);
}

/* Starts all N connects at once. */
static void burst_launch(struct burst *b) {
    b->tl0 = now_ns();
    for (int i = 0; i < b->n; i++) {
        int s = socket(b->res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) {
            die("socket");
        }
        struct conn *c = &b->cs[i];
        c->fd = s;
        b->own.m[s] = 1;
        c->t0 = now_ns();
        if (connect(s, b->res->ai_addr, b->res->ai_addrlen) == 0) {
            b->immediate++; /* still reported through epoll, like the rest */
        } else if (errno != EINPROGRESS) {
            burst_fail_conn(b, c, errno);
            continue;
        }
        struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
        if (epoll_ctl(b->ep, EPOLL_CTL_ADD, s, &e) != 0) {
            die("epoll_ctl ADD");
        }
    }
    b->tl1 = now_ns();
}

/* Samples the extra fds and threads when due.  Returns the time after. */
static int64_t burst_sample(struct burst *b, int64_t t) {
    if (t < b->next_sample) {
        return t;
    }
    int x = extra_fds(&b->base, &b->own, NULL, 0);
    b->threads = threads_now();
    int64_t t2 = now_ns();
    b->sample_ns += t2 - t;
    b->samples++;
    b->peak = x > b->peak ? x : b->peak;
    b->threads_peak = b->threads > b->threads_peak ? b->threads : b->threads_peak;
    b->next_sample = t2 + SAMPLE_EVERY_NS;
    return t2;
}

/* One socket epoll reported at te: connected (its peer checked) or failed. */
static void burst_reap(struct burst *b, const struct epoll_event *e, int64_t te) {
    struct conn *c = &b->cs[e->data.u32];
    int err = 0;
    socklen_t len = sizeof err;
    if (e->events & (EPOLLERR | EPOLLHUP)) {
        b->errhup++;
    }
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (epoll_ctl(b->ep, EPOLL_CTL_DEL, c->fd, NULL) != 0) {
        b->del_err++;
    }
    if (err != 0) {
        burst_fail_conn(b, c, err);
        return;
    }
    c->state = 1;
    c->ttc = te - c->t0;
    b->ttc[b->nttc++] = c->ttc;
    b->connected++;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    char a[INET6_ADDRSTRLEN];
    if (getpeername(c->fd, (struct sockaddr *)&peer, &plen) != 0 ||
        (addr_text((struct sockaddr *)&peer, a, sizeof a), strcmp(a, b->live) != 0) ||
        addr_port((struct sockaddr *)&peer) != atoi(b->port)) {
        b->mismatch++;
    }
}

/* The loop, until every socket reported or WAIT_MS after the last
 * connect() started. */
static void burst_loop(struct burst *b) {
    int64_t deadline = b->tl1 + (int64_t)b->wait_ms * 1000000;
    for (;;) {
        int64_t t = burst_sample(b, now_ns());
        if (b->connected + b->failed >= b->n || t >= deadline) {
            break;
        }
        int64_t left_ms = (deadline - t) / 1000000 + 1;
        int k = epoll_wait(b->ep, b->ev, b->n, left_ms < 5 ? (int)left_ms : 5);
        int64_t te = now_ns();
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            die("epoll_wait");
        }
        for (int j = 0; j < k; j++) {
            burst_reap(b, &b->ev[j], te);
        }
    }
}

/* What libhe holds once the loop is over (pending races included); then
 * everything closed, LINGER_MS, and what is left. */
static void burst_finish(struct burst *b) {
    extra_fds(&b->base, &b->own, &b->left, 1);
    for (int i = 0; i < b->n; i++) {
        if (b->cs[i].state != 2) {
            close(b->cs[i].fd);
        }
    }
    memset(b->own.m, 0, (size_t)b->own.n);
    if (b->linger_ms > 0) {
        struct timespec ts = {b->linger_ms / 1000, (long)(b->linger_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    b->after = extra_fds(&b->base, &b->own, NULL, 0);
    b->threads = threads_now();
}

static void burst_print_times(struct burst *b) {
    if (b->failed) {
        printf("failed_errno");
        for (int e = 0; e < 256; e++) {
            if (b->errs[e]) {
                printf(" %s %d", strerrorname_np(e) ? strerrorname_np(e) : "?", b->errs[e]);
            }
        }
        printf("\n");
    }
    if (b->nttc > 0) {
        qsort(b->ttc, (size_t)b->nttc, sizeof *b->ttc, cmp_i64);
        char p50[32], p99[32];
        pct(p50, sizeof p50, b->ttc, b->nttc, b->n, 0.50);
        pct(p99, sizeof p99, b->ttc, b->nttc, b->n, 0.99);
        printf("ttc_ms p50 %s p99 %s max %.1f min %.1f\n", p50, p99, b->ttc[b->nttc - 1] / 1e6,
               b->ttc[0] / 1e6);
    }
}

static void burst_print(struct burst *b) {
    printf("burst src %s first %s live %s n %d nofile %ld wait_ms %d\n",
           symbol_from((void *)connect), b->first, b->live, b->n, b->nofile, b->wait_ms);
    printf("launch_ms %.1f immediate %d\n", (double)(b->tl1 - b->tl0) / 1e6, b->immediate);
    printf("result connected %d failed %d pending %d\n", b->connected, b->failed,
           b->n - b->connected - b->failed);
    burst_print_times(b);
    printf("peer_mismatch %d errhup_events %d ctl_del_errors %d\n", b->mismatch, b->errhup,
           b->del_err);
    printf("fds baseline %d peak_extra %d samples %d sample_ms_total %.1f\n", b->nbase, b->peak,
           b->samples, b->sample_ns / 1e6);
    printf("threads baseline %d peak %d\n", b->threads0, b->threads_peak);
    printf("left_open_extra %d socket %d eventfd %d epoll %d pipe %d other %d\n", b->left.n,
           b->left.socket, b->left.eventfd, b->left.epoll, b->left.pipe, b->left.other);
    printf("after_close_extra %d threads %d linger_ms %d\n", b->after, b->threads, b->linger_ms);
}

/* NAME PORT N WAIT_MS LIVE [LINGER_MS] */
static int burst_main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: burst run NAME PORT N WAIT_MS LIVE [LINGER_MS]\n");
        return 2;
    }
    static struct burst b;
    b.name = argv[0];
    b.port = argv[1];
    b.live = argv[4];
    b.n = atoi(argv[2]);
    b.wait_ms = atoi(argv[3]);
    b.linger_ms = argc >= 6 ? atoi(argv[5]) : 0;
    if (b.n <= 0 || b.wait_ms <= 0) {
        fail("bad N/WAIT_MS");
    }
    if (burst_resolve(&b) != 0) {
        return 1;
    }
    burst_setup(&b);
    burst_launch(&b);
    burst_loop(&b);
    burst_finish(&b);
    burst_print(&b);
    freeaddrinfo(b.res);
    return 0;
}

static int serve_main(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: burst serve PORT\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int s = listener_open(atoi(argv[0]), 0);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
            close(c);
        } else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE && errno != ENFILE) {
            die("accept");
        }
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        return burst_main(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        return serve_main(argc - 2, argv + 2);
    }
    fprintf(stderr, "usage: burst run NAME PORT N WAIT_MS LIVE [LINGER_MS]\n"
                    "       burst serve PORT\n");
    return 2;
}

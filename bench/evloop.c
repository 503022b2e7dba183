/* libhe event-loop benchmarks: non-blocking connects driven by one epoll
 * loop, the way event-driven programs (curl multi, libuv, nginx upstreams)
 * connect.  Used by bench/run, sections 5 and 6.
 *
 *   evloop loop LIB ROUNDS BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]]
 *       Overhead on the healthy path, with and without libhe side by side.
 *       Like connbench's "ab": the driver starts two worker processes of
 *       this binary, "plain" without LD_PRELOAD and "libhe" with
 *       LD_PRELOAD=LIB, and hands them a token in turn (pipes on fds 3 and
 *       4), ROUNDS rounds of BLOCK connects each (plain first in even
 *       rounds, libhe first in odd ones), after WARMUP untimed connects.
 *       The driver is the listener on 0.0.0.0:PORT; it accepts and closes
 *       everything queued between blocks, never while a side is timed.
 *
 *       A worker's block is one epoll loop keeping up to WINDOW connects in
 *       flight: socket(SOCK_NONBLOCK|SOCK_CLOEXEC), connect() (-1/EINPROGRESS
 *       expected), epoll_ctl(ADD, EPOLLOUT); when epoll_wait() reports it,
 *       getsockopt(SO_ERROR) (must be 0), epoll_ctl(DEL), close(); then the
 *       next connect takes its place.  With several connects in flight a
 *       single connect has no time of its own, so the block is timed in
 *       chunks of 16 completed connects (CLOCK_MONOTONIC; BLOCK should be a
 *       multiple of 16): the block's figure is ns per connect, its median
 *       chunk time / 16 -- robust against the odd chunk the scheduler
 *       stretched, like connbench's per-iteration medians.  With NAME,
 *       getaddrinfo(NAME, AF_INET) -- AF_UNSPEC with "unspec" -- is called
 *       once at start-up, so libhe remembers the name; ADDR "@first" then
 *       means its first IPv4 address.
 *
 *       Prints per round and a summary:
 *         round I plain_ns P libhe_ns L ratio R
 *         summary plain_ns P libhe_ns L ratio R ratio_min A ratio_p25 B
 *                 ratio_p75 C ratio_max D mean_ratio MR target T src SRC
 *         plain_symbol_from SRC
 *         immediate plain N libhe N    (connects that returned 0 at once)
 *         cpu_per_connect_ns plain_user U plain_sys S libhe_user U libhe_sys S
 *       P and L are the medians over the rounds, R the median of the
 *       per-round ratios libhe/plain, MR the ratio of the two sides' total
 *       block times (every connect, no median).
 *
 *   evloop burst NAME PORT N WAIT_MS LIVE [LINGER_MS]
 *       Concurrent failover.  Resolves NAME (getaddrinfo AF_UNSPEC,
 *       SOCK_STREAM; its first address must not be LIVE, and LIVE must be
 *       one of the others), raises RLIMIT_NOFILE, then starts N
 *       non-blocking connects to the first address at once, each registered
 *       with epoll for EPOLLOUT, and runs the loop until every socket has
 *       reported (SO_ERROR) or WAIT_MS have passed since the last connect()
 *       was started.  A connected socket is checked with getpeername()
 *       (must be LIVE:PORT; an IPv4 peer of an AF_INET6 socket may appear
 *       v4-mapped), removed from epoll and kept open until the end.
 *       /proc/self/fd is sampled at most every 5 ms while the loop runs:
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
 *   evloop serve PORT
 *       A fast listener for the burst: 0.0.0.0:PORT, backlog 65535,
 *       blocking accept()+close() loop.  Prints "ready" once listening; dies
 *       with its parent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LABEL_MAX 512

#define BENCH_PROG "evloop"
#include "bench.h"

static void fail(const char *msg) {
    fprintf(stderr, "evloop[%d]: %s\n", (int)getpid(), msg);
    exit(1);
}

/* Which object this process's connect() comes from: proves LD_PRELOAD took
 * effect (or did not). */
static const char *connect_from(void) {
    Dl_info di;
    return dladdr((void *)connect, &di) && di.dli_fname ? di.dli_fname : "?";
}

/* ------------------------------------------------------------ loop: worker */

struct target {
    struct sockaddr_in sin;
    char label[64];
};

/* ADDR PORT [NAME [unspec]], as connbench's "connect" op. */
static void target_parse(struct target *t, int argc, char **argv) {
    memset(t, 0, sizeof *t);
    if (argc < 2) {
        fail("bad target (ADDR PORT [NAME [unspec]])");
    }
    if (argc >= 3) {
        int unspec = argc >= 4 && strcmp(argv[3], "unspec") == 0;
        struct addrinfo hints = {.ai_family = unspec ? AF_UNSPEC : AF_INET,
                                 .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL, *ai;
        int rc = getaddrinfo(argv[2], NULL, &hints, &res);
        if (rc != 0) {
            fprintf(stderr, "evloop: getaddrinfo(%s): %s\n", argv[2], gai_strerror(rc));
            exit(1);
        }
        for (ai = res; ai && ai->ai_family != AF_INET;) {
            ai = ai->ai_next;
        }
        if (ai == NULL) {
            fprintf(stderr, "evloop: getaddrinfo(%s): no IPv4 address\n", argv[2]);
            exit(1);
        }
        memcpy(&t->sin, ai->ai_addr, sizeof t->sin);
        freeaddrinfo(res);
    }
    if (strcmp(argv[0], "@first") != 0 && inet_pton(AF_INET, argv[0], &t->sin.sin_addr) != 1) {
        fprintf(stderr, "evloop: bad address %s\n", argv[0]);
        exit(2);
    }
    t->sin.sin_family = AF_INET;
    t->sin.sin_port = htons((uint16_t)atoi(argv[1]));
    inet_ntop(AF_INET, &t->sin.sin_addr, t->label, sizeof t->label);
}

/* Connects per timed chunk of a block: the figure of a block is the median
 * chunk time / CHUNK, so a chunk that the scheduler or an interrupt
 * stretched counts no more than any other (as connbench's per-iteration
 * medians). */
#define CHUNK 16

struct loop {
    int ep;
    int window;
    struct epoll_event *ev;
    const struct target *t;
    long immediate; /* connects that returned 0 at once */
};

/* n connects through the epoll loop, at most lp->window in flight.  With
 * marks, marks[j] is the time the (j * CHUNK)th connect was done (marks[0]:
 * the start). */
static void loop_run(struct loop *lp, int n, int64_t *marks) {
    int started = 0, done = 0, inflight = 0;
    if (marks) {
        marks[0] = now_ns();
    }
    while (done < n) {
        while (inflight < lp->window && started < n) {
            int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (s < 0) {
                die("socket");
            }
            started++;
            if (connect(s, (const struct sockaddr *)&lp->t->sin, sizeof lp->t->sin) == 0) {
                lp->immediate++; /* connected at once: nothing to wait for */
                close(s);
                done++;
                if (marks && done % CHUNK == 0) {
                    marks[done / CHUNK] = now_ns();
                }
                continue;
            }
            if (errno != EINPROGRESS) {
                die("connect");
            }
            struct epoll_event e = {.events = EPOLLOUT, .data.fd = s};
            if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, s, &e) != 0) {
                die("epoll_ctl ADD");
            }
            inflight++;
        }
        if (inflight == 0) {
            continue;
        }
        int k = epoll_wait(lp->ep, lp->ev, lp->window, 5000);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            die("epoll_wait");
        }
        if (k == 0) {
            fail("epoll_wait: no connect completed in 5 s");
        }
        for (int i = 0; i < k; i++) {
            int s = lp->ev[i].data.fd, err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                die("getsockopt SO_ERROR");
            }
            if (err != 0) {
                errno = err;
                die("connect (SO_ERROR)");
            }
            if (epoll_ctl(lp->ep, EPOLL_CTL_DEL, s, NULL) != 0) {
                die("epoll_ctl DEL");
            }
            close(s);
            inflight--;
            done++;
            if (marks && done % CHUNK == 0) {
                marks[done / CHUNK] = now_ns();
            }
        }
    }
}

/* What a worker sends back per block. */
struct block_result {
    int64_t median_ns; /* per connect: median chunk time / CHUNK */
    int64_t elapsed_ns;
    int64_t user_ns;
    int64_t sys_ns;
    int64_t immediate;
};

/* BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]]; fds 3 (commands in) and 4
 * (results out) are set up by the driver. */
static int worker_main(int argc, char **argv) {
    if (argc < 5) {
        return 2;
    }
    int block = atoi(argv[0]), warm = atoi(argv[1]), window = atoi(argv[2]);
    struct target t;
    target_parse(&t, argc - 3, argv + 3);
    struct loop lp = {.window = window > 0 ? window : 1, .t = &t};
    lp.ep = epoll_create1(EPOLL_CLOEXEC);
    lp.ev = calloc((size_t)lp.window, sizeof *lp.ev);
    if (lp.ep < 0 || lp.ev == NULL) {
        die("epoll_create1");
    }
    int nchunks = block / CHUNK;
    if (nchunks < 1) {
        fail("BLOCK must be at least 16");
    }
    int64_t *marks = calloc((size_t)nchunks + 1, sizeof *marks);
    int64_t *chunk = calloc((size_t)nchunks, sizeof *chunk);
    if (marks == NULL || chunk == NULL) {
        die("calloc");
    }
    char label[LABEL_MAX] = {0};
    snprintf(label, sizeof label, "%s %s", t.label, connect_from());
    if (write_full(4, label, sizeof label) != 0) {
        return 1;
    }
    char cmd;
    while (read_full(3, &cmd, 1) == 0) {
        struct block_result r = {0, 0, 0, 0, 0};
        struct rusage ru0, ru1;
        if (cmd == 'w') {
            loop_run(&lp, warm, NULL);
        } else if (cmd == 'r') {
            long imm0 = lp.immediate;
            getrusage(RUSAGE_SELF, &ru0);
            int64_t t0 = now_ns();
            loop_run(&lp, block, marks);
            r.elapsed_ns = now_ns() - t0;
            for (int j = 0; j < nchunks; j++) {
                chunk[j] = marks[j + 1] - marks[j];
            }
            r.median_ns = median_i64(chunk, nchunks) / CHUNK;
            getrusage(RUSAGE_SELF, &ru1);
            r.user_ns = tv_ns(ru1.ru_utime) - tv_ns(ru0.ru_utime);
            r.sys_ns = tv_ns(ru1.ru_stime) - tv_ns(ru0.ru_stime);
            r.immediate = lp.immediate - imm0;
        } else {
            break;
        }
        if (write_full(4, &r, sizeof r) != 0) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ loop: driver */

static void spawn(struct worker *w, const char *preload, int argc, char **argv) {
    int c[2], r[2];
    if (pipe2(c, O_CLOEXEC) != 0 || pipe2(r, O_CLOEXEC) != 0) {
        die("pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        die("fork");
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Via fds >= 10 first: c[0] or r[1] may already be 3 or 4, and
         * dup2 onto itself would keep O_CLOEXEC. */
        int in = fcntl(c[0], F_DUPFD, 10), out = fcntl(r[1], F_DUPFD, 10);
        if (in < 0 || out < 0 || dup2(in, 3) < 0 || dup2(out, 4) < 0) {
            die("dup2");
        }
        close(in);
        close(out);
        if (preload) {
            setenv("LD_PRELOAD", preload, 1);
        } else {
            unsetenv("LD_PRELOAD");
        }
        char **av = calloc((size_t)argc + 3, sizeof *av);
        av[0] = "evloop";
        av[1] = "worker";
        for (int i = 0; i < argc; i++) {
            av[2 + i] = argv[i];
        }
        execv("/proc/self/exe", av);
        die("execv");
    }
    close(c[0]);
    close(r[1]);
    w->pid = pid;
    w->cmd = c[1];
    w->result = r[0];
}

/* LIB ROUNDS BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]] */
static int loop_main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr,
                "usage: evloop loop LIB ROUNDS BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]]\n");
        return 2;
    }
    const char *lib = argv[0];
    int rounds = atoi(argv[1]), block = atoi(argv[2]), warm = atoi(argv[3]);
    if (rounds <= 0 || block <= 0 || warm < 0 || atoi(argv[4]) <= 0) {
        fprintf(stderr, "evloop: bad ROUNDS/BLOCK/WARMUP/WINDOW\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lsn = listener_open(atoi(argv[6]), 1);
    /* Workers get BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]]. */
    struct worker w[2]; /* 0 plain, 1 libhe */
    spawn(&w[0], NULL, argc - 2, argv + 2);
    spawn(&w[1], lib, argc - 2, argv + 2);
    char label[2][LABEL_MAX];
    for (int k = 0; k < 2; k++) {
        if (read_full(w[k].result, label[k], sizeof label[k]) != 0) {
            fprintf(stderr, "evloop: %s worker failed to start\n", k ? "libhe" : "plain");
            return 1;
        }
        label[k][LABEL_MAX - 1] = '\0';
    }
    struct block_result r;
    for (int k = 0; k < 2; k++) {
        if (worker_ask(&w[k], 'w', &r, sizeof r) != 0) {
            fprintf(stderr, "evloop: %s worker died in warm-up\n", k ? "libhe" : "plain");
            return 1;
        }
        listener_drain(lsn);
    }
    int64_t *per[2];
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    int64_t sum[2] = {0, 0}, user[2] = {0, 0}, sys[2] = {0, 0}, imm[2] = {0, 0};
    per[0] = calloc((size_t)rounds, sizeof *per[0]);
    per[1] = calloc((size_t)rounds, sizeof *per[1]);
    if (!ratio || !per[0] || !per[1]) {
        die("calloc");
    }
    for (int i = 0; i < rounds; i++) {
        for (int j = 0; j < 2; j++) {
            int k = (i % 2) ? 1 - j : j;
            if (worker_ask(&w[k], 'r', &r, sizeof r) != 0) {
                fprintf(stderr, "evloop: %s worker died in round %d\n", k ? "libhe" : "plain", i);
                return 1;
            }
            per[k][i] = r.median_ns;
            sum[k] += r.elapsed_ns;
            user[k] += r.user_ns;
            sys[k] += r.sys_ns;
            imm[k] += r.immediate;
            listener_drain(lsn);
        }
        ratio[i] = (double)per[1][i] / (double)per[0][i];
        printf("round %d plain_ns %lld libhe_ns %lld ratio %.4f\n", i, (long long)per[0][i],
               (long long)per[1][i], ratio[i]);
    }
    for (int k = 0; k < 2; k++) {
        char q = 'q';
        write_full(w[k].cmd, &q, 1);
        close(w[k].cmd);
        waitpid(w[k].pid, NULL, 0);
    }
    double rmed = median_dbl(ratio, rounds); /* sorts ratio */
    char *src = strchr(label[1], ' ');
    *src++ = '\0';
    printf("summary plain_ns %lld libhe_ns %lld ratio %.4f ratio_min %.4f ratio_p25 %.4f "
           "ratio_p75 %.4f ratio_max %.4f mean_ratio %.4f target %s src %s\n",
           (long long)median_i64(per[0], rounds), (long long)median_i64(per[1], rounds), rmed,
           ratio[0], ratio[rounds / 4], ratio[(3 * rounds) / 4], ratio[rounds - 1],
           (double)sum[1] / (double)sum[0], label[1], src);
    printf("plain_symbol_from %s\n", strchr(label[0], ' ') + 1);
    printf("immediate plain %lld libhe %lld\n", (long long)imm[0], (long long)imm[1]);
    double n = (double)rounds * block;
    printf("cpu_per_connect_ns plain_user %.0f plain_sys %.0f libhe_user %.0f libhe_sys %.0f\n",
           user[0] / n, sys[0] / n, user[1] / n, sys[1] / n);
    return 0;
}

/* ------------------------------------------------------------ burst */

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

#define SAMPLE_EVERY_NS (5 * 1000000LL)

/* NAME PORT N WAIT_MS LIVE [LINGER_MS] */
static int burst_main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: evloop burst NAME PORT N WAIT_MS LIVE [LINGER_MS]\n");
        return 2;
    }
    const char *name = argv[0], *port = argv[1], *live = argv[4];
    int n = atoi(argv[2]), wait_ms = atoi(argv[3]), linger_ms = argc >= 6 ? atoi(argv[5]) : 0;
    if (n <= 0 || wait_ms <= 0) {
        fail("bad N/WAIT_MS");
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL, *ai;
    int rc = getaddrinfo(name, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "evloop: getaddrinfo(%s): %s\n", name, gai_strerror(rc));
        return 1;
    }
    char first[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
    addr_text(res->ai_addr, first, sizeof first);
    int live_sibling = 0;
    for (ai = res->ai_next; ai; ai = ai->ai_next) {
        addr_text(ai->ai_addr, a, sizeof a);
        live_sibling |= strcmp(a, live) == 0;
    }
    if (strcmp(first, live) == 0 || !live_sibling) {
        fprintf(stderr, "evloop: %s: first address %s; want %s among the others, not first\n", name,
                first, live);
        return 1;
    }
    /* Room for our N sockets, and for what libhe may add while racing (a
     * dup of each plus its sibling attempts). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        die("getrlimit");
    }
    rlim_t want = (rlim_t)n * 4 + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            die("setrlimit");
        }
    }
    long nofile = (long)rl.rlim_cur;
    if (nofile < n + 64) {
        fail("RLIMIT_NOFILE too low for N");
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *cs = calloc((size_t)n, sizeof *cs);
    int64_t *ttc = calloc((size_t)n, sizeof *ttc);
    struct epoll_event *ev = calloc((size_t)n, sizeof *ev);
    if (ep < 0 || !cs || !ttc || !ev) {
        die("set-up");
    }
    struct fdset base, own;
    fdset_init(&base, nofile);
    fdset_init(&own, nofile);
    fds_each(mark_fd, &base); /* stdio, the epoll fd, whatever libc holds */
    int nbase = 0;
    for (long i = 0; i < base.n; i++) {
        nbase += base.m[i];
    }
    int threads0 = threads_now(), threads_peak = threads0;
    int peak = 0, samples = 0;
    int64_t sample_ns = 0;

    /* Start all N at once. */
    int64_t tl0 = now_ns();
    int connected = 0, failed = 0, mismatch = 0, errhup = 0, del_err = 0, nttc = 0, immediate = 0;
    int errs[256] = {0};
    for (int i = 0; i < n; i++) {
        int s = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) {
            die("socket");
        }
        cs[i].fd = s;
        own.m[s] = 1;
        cs[i].t0 = now_ns();
        if (connect(s, res->ai_addr, res->ai_addrlen) == 0) {
            immediate++; /* still reported through epoll, like the rest */
        } else if (errno != EINPROGRESS) {
            cs[i].state = 2;
            failed++;
            errs[errno & 255]++;
            own.m[s] = 0;
            close(s);
            continue;
        }
        struct epoll_event e = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) != 0) {
            die("epoll_ctl ADD");
        }
    }
    int64_t tl1 = now_ns();
    int64_t deadline = tl1 + (int64_t)wait_ms * 1000000;
    int64_t next_sample = 0;
    int threads = threads0;
    struct extra_count left = {0};

    for (;;) {
        int64_t t = now_ns();
        if (t >= next_sample) {
            int x = extra_fds(&base, &own, NULL, 0);
            threads = threads_now();
            int64_t t2 = now_ns();
            sample_ns += t2 - t;
            samples++;
            peak = x > peak ? x : peak;
            threads_peak = threads > threads_peak ? threads : threads_peak;
            next_sample = t2 + SAMPLE_EVERY_NS;
            t = t2;
        }
        if (connected + failed >= n || t >= deadline) {
            break;
        }
        int64_t left_ms = (deadline - t) / 1000000 + 1;
        int k = epoll_wait(ep, ev, n, left_ms < 5 ? (int)left_ms : 5);
        int64_t te = now_ns();
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            die("epoll_wait");
        }
        for (int j = 0; j < k; j++) {
            struct conn *c = &cs[ev[j].data.u32];
            int err = 0;
            socklen_t len = sizeof err;
            if (ev[j].events & (EPOLLERR | EPOLLHUP)) {
                errhup++;
            }
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                err = errno;
            }
            if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL) != 0) {
                del_err++;
            }
            if (err == 0) {
                c->state = 1;
                c->ttc = te - c->t0;
                ttc[nttc++] = c->ttc;
                connected++;
                struct sockaddr_storage peer;
                socklen_t plen = sizeof peer;
                if (getpeername(c->fd, (struct sockaddr *)&peer, &plen) != 0 ||
                    (addr_text((struct sockaddr *)&peer, a, sizeof a), strcmp(a, live) != 0) ||
                    addr_port((struct sockaddr *)&peer) != atoi(port)) {
                    mismatch++;
                }
            } else {
                c->state = 2;
                failed++;
                errs[err & 255]++;
                own.m[c->fd] = 0;
                close(c->fd);
            }
        }
    }
    /* What libhe holds once the loop is over (pending races included). */
    extra_fds(&base, &own, &left, 1);
    int pending = n - connected - failed;
    for (int i = 0; i < n; i++) {
        if (cs[i].state != 2) {
            close(cs[i].fd);
        }
    }
    memset(own.m, 0, (size_t)own.n);
    if (linger_ms > 0) {
        struct timespec ts = {linger_ms / 1000, (long)(linger_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    int after = extra_fds(&base, &own, NULL, 0);
    threads = threads_now();

    printf("burst src %s first %s live %s n %d nofile %ld wait_ms %d\n", connect_from(), first,
           live, n, nofile, wait_ms);
    printf("launch_ms %.1f immediate %d\n", (double)(tl1 - tl0) / 1e6, immediate);
    printf("result connected %d failed %d pending %d\n", connected, failed, pending);
    if (failed) {
        printf("failed_errno");
        for (int e = 0; e < 256; e++) {
            if (errs[e]) {
                printf(" %s %d", strerrorname_np(e) ? strerrorname_np(e) : "?", errs[e]);
            }
        }
        printf("\n");
    }
    if (nttc > 0) {
        qsort(ttc, (size_t)nttc, sizeof *ttc, cmp_i64);
        char p50[32], p99[32];
        pct(p50, sizeof p50, ttc, nttc, n, 0.50);
        pct(p99, sizeof p99, ttc, nttc, n, 0.99);
        printf("ttc_ms p50 %s p99 %s max %.1f min %.1f\n", p50, p99, ttc[nttc - 1] / 1e6,
               ttc[0] / 1e6);
    }
    printf("peer_mismatch %d errhup_events %d ctl_del_errors %d\n", mismatch, errhup, del_err);
    printf("fds baseline %d peak_extra %d samples %d sample_ms_total %.1f\n", nbase, peak, samples,
           sample_ns / 1e6);
    printf("threads baseline %d peak %d\n", threads0, threads_peak);
    printf("left_open_extra %d socket %d eventfd %d epoll %d pipe %d other %d\n", left.n,
           left.socket, left.eventfd, left.epoll, left.pipe, left.other);
    printf("after_close_extra %d threads %d linger_ms %d\n", after, threads, linger_ms);
    freeaddrinfo(res);
    return 0;
}

/* ------------------------------------------------------------ serve */

static int serve_main(int argc, char **argv) {
    if (argc < 1) {
        fprintf(stderr, "usage: evloop serve PORT\n");
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
    if (argc >= 2 && strcmp(argv[1], "loop") == 0) {
        return loop_main(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "worker") == 0) {
        return worker_main(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "burst") == 0) {
        return burst_main(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        return serve_main(argc - 2, argv + 2);
    }
    fprintf(stderr, "usage: evloop loop LIB ROUNDS BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]]\n"
                    "       evloop burst NAME PORT N WAIT_MS LIVE [LINGER_MS]\n"
                    "       evloop serve PORT\n");
    return 2;
}

/* libhe event-loop benchmarks: non-blocking connects driven by one epoll
 * loop, the way event-driven programs (curl multi, libuv, nginx upstreams)
 * connect.  Used by bench/run, section 5 (section 6 is bench/burst.c).
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
 *       Prints per round and a summary, as bench/ab.h (the driver it
 *       shares with connbench.c) says, with CPU_KEY cpu_per_connect_ns;
 *       "immediate" counts the connects that returned 0 at once.
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

#define BENCH_PROG "evloop"
#include "ab.h"
#include "bench.h"

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
    snprintf(label, sizeof label, "%s %s", t.label, symbol_from((void *)connect));
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
            r.total_ns = now_ns() - t0;
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

/* LIB ROUNDS BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]] */
static int loop_main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr,
                "usage: evloop loop LIB ROUNDS BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]]\n");
        return 2;
    }
    static struct ab_run a = {.prog = "evloop"};
    a.rounds = atoi(argv[1]);
    a.block = atoi(argv[2]);
    if (a.rounds <= 0 || a.block <= 0 || atoi(argv[3]) < 0 || atoi(argv[4]) <= 0) {
        fprintf(stderr, "evloop: bad ROUNDS/BLOCK/WARMUP/WINDOW\n");
        return 2;
    }
    a.lsn = listener_open(atoi(argv[6]), 1);
    /* Workers get BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]]. */
    return ab_run_all(&a, argv[0], argc - 2, argv + 2, "cpu_per_connect_ns");
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "loop") == 0) {
        return loop_main(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "worker") == 0) {
        return worker_main(argc - 2, argv + 2);
    }
    fprintf(stderr,
            "usage: evloop loop LIB ROUNDS BLOCK WARMUP WINDOW ADDR PORT [NAME [unspec]]\n");
    return 2;
}

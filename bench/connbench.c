/* libhe micro-benchmarks: the hot paths libhe interposes on, measured with
 * and without libhe side by side.
 *
 *   connbench ab LIB ROUNDS BLOCK WARMUP OP...
 *       The A/B driver.  Starts two worker processes running OP, the same
 *       binary: "plain" without LD_PRELOAD and "libhe" with LD_PRELOAD=LIB.
 *       Both live for the whole measurement; the driver hands them a token
 *       in turn (pipes on fds 3 and 4), so they run ROUNDS rounds
 *       alternately, each round being BLOCK timed iterations by each worker
 *       (plain first in even rounds, libhe first in odd ones).  Before
 *       round 0 each does WARMUP untimed iterations (libhe initialises
 *       there).  Only a worker's own loop is timed, with CLOCK_MONOTONIC
 *       around every iteration; never the token passing.
 *
 *       For "connect", the driver is also the listener on 0.0.0.0:PORT: it
 *       accepts and closes everything queued between blocks, so no server
 *       work competes with a timed block for the CPUs.
 *
 *       Prints one line per round and a summary, as bench/ab.h (the driver
 *       it shares with evloop.c) says, with CPU_KEY cpu_per_iter_ns.
 *       A round's figure is the median of its BLOCK iteration times; P and
 *       L are the medians of those over all rounds, R the median of the
 *       per-round ratios libhe/plain.  TARGET is the address connected to
 *       (or the name resolved); SRC the object each side's connect() (or
 *       getaddrinfo()) symbol resolved to, to prove LD_PRELOAD took effect.
 *       CPU time per iteration comes from getrusage around each block.
 *
 *   OP is one of
 *       connect ADDR PORT [NAME [unspec]]
 *           socket()+connect()+close() to ADDR:PORT (blocking TCP).  With
 *           NAME, getaddrinfo(NAME, AF_INET) -- AF_UNSPEC with "unspec" --
 *           is called once at start-up (so libhe learns the name); ADDR
 *           "@first" then means the first IPv4 address it returned.
 *       gai NAME
 *           getaddrinfo(NAME, AF_UNSPEC, SOCK_STREAM)+freeaddrinfo().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "connbench"
#include "ab.h"
#include "bench.h"

/* ------------------------------------------------------------ operations */

struct op {
    int kind; /* 'c' connect, 'g' getaddrinfo */
    struct sockaddr_in sin;
    const char *name;
    struct addrinfo hints;
    char label[64];
};

static void op_parse(struct op *op, int argc, char **argv) {
    memset(op, 0, sizeof *op);
    if (argc >= 3 && strcmp(argv[0], "connect") == 0) {
        op->kind = 'c';
        if (argc >= 4) {
            int unspec = argc >= 5 && strcmp(argv[4], "unspec") == 0;
            struct addrinfo hints = {.ai_family = unspec ? AF_UNSPEC : AF_INET,
                                     .ai_socktype = SOCK_STREAM};
            struct addrinfo *res = NULL, *ai;
            int rc = getaddrinfo(argv[3], NULL, &hints, &res);
            if (rc != 0) {
                fprintf(stderr, "connbench: getaddrinfo(%s): %s\n", argv[3], gai_strerror(rc));
                exit(1);
            }
            for (ai = res; ai && ai->ai_family != AF_INET;) {
                ai = ai->ai_next;
            }
            if (ai == NULL) {
                fprintf(stderr, "connbench: getaddrinfo(%s): no IPv4 address\n", argv[3]);
                exit(1);
            }
            memcpy(&op->sin, ai->ai_addr, sizeof op->sin);
            freeaddrinfo(res);
        }
        if (strcmp(argv[1], "@first") != 0 && inet_pton(AF_INET, argv[1], &op->sin.sin_addr) != 1) {
            fprintf(stderr, "connbench: bad address %s\n", argv[1]);
            exit(2);
        }
        op->sin.sin_family = AF_INET;
        op->sin.sin_port = htons((uint16_t)atoi(argv[2]));
        inet_ntop(AF_INET, &op->sin.sin_addr, op->label, sizeof op->label);
        return;
    }
    if (argc >= 2 && strcmp(argv[0], "gai") == 0) {
        op->kind = 'g';
        op->name = argv[1];
        op->hints = (struct addrinfo){.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        snprintf(op->label, sizeof op->label, "%s", argv[1]);
        return;
    }
    fprintf(stderr, "connbench: bad OP (connect ADDR PORT [NAME [unspec]] | gai NAME)\n");
    exit(2);
}

static void op_once(const struct op *op) {
    if (op->kind == 'c') {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) {
            die("socket");
        }
        if (connect(s, (const struct sockaddr *)&op->sin, sizeof op->sin) != 0) {
            die("connect");
        }
        close(s);
        return;
    }
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(op->name, NULL, &op->hints, &res);
    if (rc != 0) {
        fprintf(stderr, "connbench: getaddrinfo(%s): %s\n", op->name, gai_strerror(rc));
        exit(1);
    }
    freeaddrinfo(res);
}

/* ------------------------------------------------------------ worker */

/* What a worker sends back per block. */

/* fds 3 (commands in) and 4 (results out) are set up by the driver. */
static int worker_main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    int block = atoi(argv[0]), warm = atoi(argv[1]);
    struct op op;
    op_parse(&op, argc - 2, argv + 2);
    int64_t *t = calloc((size_t)(block > 0 ? block : 1), sizeof *t);
    if (t == NULL) {
        die("calloc");
    }
    /* Tell the driver the label -- the target, and which object this
     * process's connect()/getaddrinfo() come from, to prove that LD_PRELOAD
     * took effect -- then serve commands. */
    char label[LABEL_MAX] = {0};
    const char *from = symbol_from(op.kind == 'c' ? (void *)connect : (void *)getaddrinfo);
    snprintf(label, sizeof label, "%s %s", op.label, from);
    if (write_full(4, label, sizeof label) != 0) {
        return 1;
    }
    char cmd;
    while (read_full(3, &cmd, 1) == 0) {
        struct block_result r = {0, 0, 0, 0, 0};
        struct rusage ru0, ru1;
        if (cmd == 'w') {
            for (int i = 0; i < warm; i++) {
                op_once(&op);
            }
        } else if (cmd == 'r') {
            getrusage(RUSAGE_SELF, &ru0);
            for (int i = 0; i < block; i++) {
                int64_t t0 = now_ns();
                op_once(&op);
                t[i] = now_ns() - t0;
                r.total_ns += t[i];
            }
            getrusage(RUSAGE_SELF, &ru1);
            r.user_ns = tv_ns(ru1.ru_utime) - tv_ns(ru0.ru_utime);
            r.sys_ns = tv_ns(ru1.ru_stime) - tv_ns(ru0.ru_stime);
            r.median_ns = median_i64(t, block);
        } else {
            break;
        }
        if (write_full(4, &r, sizeof r) != 0) {
            return 1;
        }
    }
    return 0;
}

static int ab_main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: connbench ab LIB ROUNDS BLOCK WARMUP OP...\n");
        return 2;
    }
    static struct ab_run a = {.prog = "connbench", .lsn = -1};
    a.rounds = atoi(argv[1]);
    a.block = atoi(argv[2]);
    if (a.rounds <= 0 || a.block <= 0 || atoi(argv[3]) < 0) {
        fprintf(stderr, "connbench: bad ROUNDS/BLOCK/WARMUP\n");
        return 2;
    }
    if (strcmp(argv[4], "connect") == 0 && argc >= 7) {
        a.lsn = listener_open(atoi(argv[6]), 1);
    }
    /* Workers get BLOCK WARMUP OP... */
    return ab_run_all(&a, argv[0], argc - 2, argv + 2, "cpu_per_iter_ns");
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "ab") == 0) {
        return ab_main(argc - 2, argv + 2);
    }
    if (argc >= 2 && strcmp(argv[1], "worker") == 0) {
        return worker_main(argc - 2, argv + 2);
    }
    fprintf(stderr, "usage: connbench ab LIB ROUNDS BLOCK WARMUP OP...\n"
                    "  OP: connect ADDR PORT [NAME] | gai NAME\n");
    return 2;
}

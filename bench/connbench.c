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
 *       Prints one line per round and a summary:
 *         round I plain_med_ns P libhe_med_ns L ratio R
 *         summary plain_ns P libhe_ns L ratio R ratio_min A ratio_p25 B
 *                 ratio_p75 C ratio_max D plain_mean_ns PM libhe_mean_ns LM
 *                 mean_ratio MR target TARGET src SRC
 *         plain_symbol_from SRC
 *         cpu_per_iter_ns plain_user U plain_sys S libhe_user U libhe_sys S
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

#define LABEL_MAX 512

#define BENCH_PROG "connbench"
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
struct block_result {
    int64_t median_ns;
    int64_t sum_ns;
    int64_t user_ns; /* CPU time of the block, from getrusage */
    int64_t sys_ns;
};

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
    Dl_info di;
    void *sym = op.kind == 'c' ? (void *)connect : (void *)getaddrinfo;
    const char *from = dladdr(sym, &di) && di.dli_fname ? di.dli_fname : "?";
    snprintf(label, sizeof label, "%s %s", op.label, from);
    if (write_full(4, label, sizeof label) != 0) {
        return 1;
    }
    char cmd;
    while (read_full(3, &cmd, 1) == 0) {
        struct block_result r = {0, 0, 0, 0};
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
                r.sum_ns += t[i];
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

/* ------------------------------------------------------------ driver */

static void spawn(struct worker *w, const char *preload, int block, int warm, int opc, char **opv) {
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
        char bs[16], ws[16];
        snprintf(bs, sizeof bs, "%d", block);
        snprintf(ws, sizeof ws, "%d", warm);
        char **av = calloc((size_t)opc + 5, sizeof *av);
        av[0] = "connbench";
        av[1] = "worker";
        av[2] = bs;
        av[3] = ws;
        for (int i = 0; i < opc; i++) {
            av[4 + i] = opv[i];
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

static int ab_main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: connbench ab LIB ROUNDS BLOCK WARMUP OP...\n");
        return 2;
    }
    const char *lib = argv[0];
    int rounds = atoi(argv[1]), block = atoi(argv[2]), warm = atoi(argv[3]);
    if (rounds <= 0 || block <= 0 || warm < 0) {
        fprintf(stderr, "connbench: bad ROUNDS/BLOCK/WARMUP\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lsn = -1;
    if (strcmp(argv[4], "connect") == 0 && argc >= 7) {
        lsn = listener_open(atoi(argv[6]), 1);
    }
    struct worker w[2]; /* 0 plain, 1 libhe */
    spawn(&w[0], NULL, block, warm, argc - 4, argv + 4);
    spawn(&w[1], lib, block, warm, argc - 4, argv + 4);
    char label[2][LABEL_MAX];
    for (int k = 0; k < 2; k++) {
        if (read_full(w[k].result, label[k], sizeof label[k]) != 0) {
            fprintf(stderr, "connbench: %s worker failed to start\n", k ? "libhe" : "plain");
            return 1;
        }
        label[k][LABEL_MAX - 1] = '\0';
    }
    struct block_result r;
    for (int k = 0; k < 2; k++) {
        if (worker_ask(&w[k], 'w', &r, sizeof r) != 0) {
            fprintf(stderr, "connbench: %s worker died in warm-up\n", k ? "libhe" : "plain");
            return 1;
        }
        listener_drain(lsn);
    }
    int64_t *med[2];
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    int64_t sum[2] = {0, 0}, user[2] = {0, 0}, sys[2] = {0, 0};
    med[0] = calloc((size_t)rounds, sizeof *med[0]);
    med[1] = calloc((size_t)rounds, sizeof *med[1]);
    if (!ratio || !med[0] || !med[1]) {
        die("calloc");
    }
    for (int i = 0; i < rounds; i++) {
        for (int j = 0; j < 2; j++) {
            int k = (i % 2) ? 1 - j : j;
            if (worker_ask(&w[k], 'r', &r, sizeof r) != 0) {
                fprintf(stderr, "connbench: %s worker died in round %d\n", k ? "libhe" : "plain",
                        i);
                return 1;
            }
            med[k][i] = r.median_ns;
            sum[k] += r.sum_ns;
            user[k] += r.user_ns;
            sys[k] += r.sys_ns;
            listener_drain(lsn);
        }
        ratio[i] = (double)med[1][i] / (double)med[0][i];
        printf("round %d plain_med_ns %lld libhe_med_ns %lld ratio %.4f\n", i, (long long)med[0][i],
               (long long)med[1][i], ratio[i]);
    }
    for (int k = 0; k < 2; k++) {
        char q = 'q';
        write_full(w[k].cmd, &q, 1);
        close(w[k].cmd);
        waitpid(w[k].pid, NULL, 0);
    }
    double rmed = median_dbl(ratio, rounds); /* sorts ratio */
    double mean0 = (double)sum[0] / ((double)rounds * block);
    double mean1 = (double)sum[1] / ((double)rounds * block);
    char *src = strchr(label[1], ' ');
    *src++ = '\0';
    printf("summary plain_ns %lld libhe_ns %lld ratio %.4f ratio_min %.4f ratio_p25 %.4f "
           "ratio_p75 %.4f ratio_max %.4f plain_mean_ns %.0f libhe_mean_ns %.0f "
           "mean_ratio %.4f target %s src %s\n",
           (long long)median_i64(med[0], rounds), (long long)median_i64(med[1], rounds), rmed,
           ratio[0], ratio[rounds / 4], ratio[(3 * rounds) / 4], ratio[rounds - 1], mean0, mean1,
           mean1 / mean0, label[1], src);
    printf("plain_symbol_from %s\n", strchr(label[0], ' ') + 1);
    double iters = (double)rounds * block;
    printf("cpu_per_iter_ns plain_user %.0f plain_sys %.0f libhe_user %.0f libhe_sys %.0f\n",
           user[0] / iters, sys[0] / iters, user[1] / iters, sys[1] / iters);
    return 0;
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

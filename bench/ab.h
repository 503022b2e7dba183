/* The A/B driver bench/connbench.c and bench/evloop.c share: two worker
 * processes of the calling binary, "plain" without LD_PRELOAD and "libhe"
 * with it, handed a token in turn over pipes (commands on the worker's fd
 * 3, results on its fd 4), ROUNDS rounds of one block each (plain first in
 * even rounds, libhe first in odd ones) after one untimed warm-up block.
 * The driver prints per round and a summary:
 *   round I plain_ns P libhe_ns L ratio R
 *   summary plain_ns P libhe_ns L ratio R ratio_min A ratio_p25 B ratio_p75 C
 *           ratio_max D plain_mean_ns M libhe_mean_ns M mean_ratio MR target T src SRC
 *   plain_symbol_from SRC
 *   immediate plain N libhe N
 *   CPU_KEY plain_user U plain_sys S libhe_user U libhe_sys S
 * P and L are the medians over the rounds of each block's figure, R the
 * median of the per-round ratios libhe/plain, MR the ratio of the two
 * sides' total block times. */
#ifndef HE_BENCH_AB_H
#define HE_BENCH_AB_H

#include "bench.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define LABEL_MAX 512

/* What a worker sends back for one block. */
struct block_result {
    int64_t median_ns; /* the block's figure, per operation */
    int64_t total_ns;  /* the whole block */
    int64_t user_ns;   /* CPU time of the block, from getrusage */
    int64_t sys_ns;
    int64_t immediate; /* connects that returned 0 at once (evloop) */
};

/* Starts "PROG worker ARGS..." as this binary, with LD_PRELOAD=preload or
 * none, its fds 3 and 4 the ends of w's pipes. */
static void ab_spawn(struct worker *w, const char *prog, const char *preload, int argc,
                     char **argv) {
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
        /* AB_BASE_LIB: the "plain" side runs libhe too, without its
         * history, so that the A/B measures what the history alone costs. */
        const char *base = getenv("AB_BASE_LIB");
        if (preload == NULL && base != NULL && *base != '\0') {
            setenv("HE_HISTORY", "off", 1);
            preload = base;
        }
        if (preload) {
            setenv("LD_PRELOAD", preload, 1);
        } else {
            unsetenv("LD_PRELOAD");
        }
        char **av = calloc((size_t)argc + 3, sizeof *av);
        av[0] = (char *)prog;
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

/* The two workers and what their rounds measured. */
struct ab_run {
    const char *prog;
    struct worker w[2]; /* 0 plain, 1 libhe */
    char label[2][LABEL_MAX];
    int lsn; /* the driver's listener, drained between blocks; -1: none */
    int rounds, block;
    int64_t *per[2];
    double *ratio;
    int64_t total[2], user[2], sys[2], imm[2];
};

static const char *ab_side(int k) {
    return k ? "libhe" : "plain";
}

/* Starts both workers, reads their labels ("TARGET SYMBOL-SOURCE"), runs
 * their warm-up.  Returns 0 or 1. */
static int ab_start(struct ab_run *a, const char *lib, int argc, char **argv) {
    ab_spawn(&a->w[0], a->prog, NULL, argc, argv);
    ab_spawn(&a->w[1], a->prog, lib, argc, argv);
    for (int k = 0; k < 2; k++) {
        if (read_full(a->w[k].result, a->label[k], sizeof a->label[k]) != 0) {
            fprintf(stderr, "%s: %s worker failed to start\n", a->prog, ab_side(k));
            return 1;
        }
        a->label[k][LABEL_MAX - 1] = '\0';
    }
    struct block_result r;
    for (int k = 0; k < 2; k++) {
        if (worker_ask(&a->w[k], 'w', &r, sizeof r) != 0) {
            fprintf(stderr, "%s: %s worker died in warm-up\n", a->prog, ab_side(k));
            return 1;
        }
        listener_drain(a->lsn);
    }
    a->ratio = calloc((size_t)a->rounds, sizeof *a->ratio);
    a->per[0] = calloc((size_t)a->rounds, sizeof *a->per[0]);
    a->per[1] = calloc((size_t)a->rounds, sizeof *a->per[1]);
    if (!a->ratio || !a->per[0] || !a->per[1]) {
        die("calloc");
    }
    return 0;
}

/* The rounds, then the workers told to quit.  Returns 0 or 1. */
static int ab_rounds(struct ab_run *a) {
    struct block_result r;
    for (int i = 0; i < a->rounds; i++) {
        for (int j = 0; j < 2; j++) {
            int k = (i % 2) ? 1 - j : j;
            if (worker_ask(&a->w[k], 'r', &r, sizeof r) != 0) {
                fprintf(stderr, "%s: %s worker died in round %d\n", a->prog, ab_side(k), i);
                return 1;
            }
            a->per[k][i] = r.median_ns;
            a->total[k] += r.total_ns;
            a->user[k] += r.user_ns;
            a->sys[k] += r.sys_ns;
            a->imm[k] += r.immediate;
            listener_drain(a->lsn);
        }
        a->ratio[i] = (double)a->per[1][i] / (double)a->per[0][i];
        printf("round %d plain_ns %lld libhe_ns %lld ratio %.4f\n", i, (long long)a->per[0][i],
               (long long)a->per[1][i], a->ratio[i]);
    }
    for (int k = 0; k < 2; k++) {
        char q = 'q';
        write_full(a->w[k].cmd, &q, 1);
        close(a->w[k].cmd);
        waitpid(a->w[k].pid, NULL, 0);
    }
    return 0;
}

static void ab_summary(struct ab_run *a, const char *cpu_key) {
    int rounds = a->rounds;
    double ops = (double)rounds * a->block;
    double rmed = median_dbl(a->ratio, rounds); /* sorts ratio */
    char *src = strchr(a->label[1], ' ');
    *src++ = '\0';
    printf("summary plain_ns %lld libhe_ns %lld ratio %.4f ratio_min %.4f ratio_p25 %.4f "
           "ratio_p75 %.4f ratio_max %.4f plain_mean_ns %.0f libhe_mean_ns %.0f "
           "mean_ratio %.4f target %s src %s\n",
           (long long)median_i64(a->per[0], rounds), (long long)median_i64(a->per[1], rounds), rmed,
           a->ratio[0], a->ratio[rounds / 4], a->ratio[(3 * rounds) / 4], a->ratio[rounds - 1],
           a->total[0] / ops, a->total[1] / ops, (double)a->total[1] / (double)a->total[0],
           a->label[1], src);
    printf("plain_symbol_from %s\n", strchr(a->label[0], ' ') + 1);
    printf("immediate plain %lld libhe %lld\n", (long long)a->imm[0], (long long)a->imm[1]);
    printf("%s plain_user %.0f plain_sys %.0f libhe_user %.0f libhe_sys %.0f\n", cpu_key,
           a->user[0] / ops, a->sys[0] / ops, a->user[1] / ops, a->sys[1] / ops);
}

/* The whole run: workers get argv (BLOCK WARMUP ...). */
static int ab_run_all(struct ab_run *a, const char *lib, int argc, char **argv,
                      const char *cpu_key) {
    signal(SIGPIPE, SIG_IGN);
    if (ab_start(a, lib, argc, argv) != 0 || ab_rounds(a) != 0) {
        return 1;
    }
    ab_summary(a, cpu_key);
    return 0;
}

#endif

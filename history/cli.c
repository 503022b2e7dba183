/* he-history: prints the user's connection history (he-run --history),
 * or empties it (--forget).
 *
 *   he-history [--all] [--file PATH]
 *   he-history --forget [--file PATH]
 *
 * The file is the one libhe uses: HE_HISTORY_FILE, else
 * $XDG_RUNTIME_DIR/libhe/history, else /tmp/libhe-UID/history.  Only this
 * network's entries are shown unless --all. */
#include "../shim/config.h"
#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct he_cli {
    const char *file;
    int all, forget;
    uint64_t netid;
    uint32_t now_s;
    struct he_hist_conf conf;
    int shown, other_net;
};

static const char *he_cli_outcome(unsigned o) {
    static const char *const names[] = {"-", "connected", "refused", "timed out", "unreachable"};
    return o < HE_HIST_OUTCOMES ? names[o] : "?";
}

static void he_cli_age(char *buf, size_t len, uint32_t t, uint32_t now_s) {
    if (t == 0) {
        snprintf(buf, len, "never");
    } else if (t > now_s) {
        snprintf(buf, len, "?");
    } else {
        snprintf(buf, len, "%u s ago", now_s - t);
    }
}

static void he_cli_rtt(char *buf, size_t len, const struct he_hist_entry *e, uint32_t now_s) {
    if (!he_hist_has_rtt(e, now_s)) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%.1f ms", e->srtt_us / 1000.0);
    }
}

/* What the next race makes of it. */
static void he_cli_state(char *buf, size_t len, const struct he_cli *cli,
                         const struct he_hist_entry *e) {
    enum he_hist_class c = he_hist_classify(&cli->conf, e, cli->now_s);
    if (c == HE_HIST_BAD) {
        uint32_t w = he_hist_window_s(&cli->conf, e->fails);
        snprintf(buf, len, "last (%u s more)", e->outcome_at_s + w - cli->now_s);
    } else {
        snprintf(buf, len, "%s", c == HE_HIST_GOOD ? "good" : "unknown");
    }
}

static void he_cli_print(const struct he_hist_entry *e, void *ctx) {
    struct he_cli *cli = ctx;
    if (e->netid != cli->netid) {
        cli->other_net++;
        if (!cli->all) {
            return;
        }
    }
    char addr[HE_ADDR_STRLEN + 8], port[8], rtt[32], last[32], conn[32], state[48];
    he_addr_format(&e->addr, addr, sizeof addr);
    if (e->kind == HE_HIST_PREFIX) {
        strncat(addr, e->addr.family == AF_INET ? "/24" : "/64", sizeof addr - strlen(addr) - 1);
        snprintf(port, sizeof port, "-");
    } else {
        snprintf(port, sizeof port, "%u", e->port);
    }
    he_cli_rtt(rtt, sizeof rtt, e, cli->now_s);
    he_cli_age(last, sizeof last, e->outcome_at_s, cli->now_s);
    he_cli_age(conn, sizeof conn, e->connected_at_s, cli->now_s);
    he_cli_state(state, sizeof state, cli, e);
    printf("%-42s %-5s %-11s %-17s %5u  %-10s %-12s %s%s\n", addr, port, he_cli_outcome(e->outcome),
           state, e->fails, rtt, last, conn, e->netid == cli->netid ? "" : "  (another network)");
    cli->shown++;
}

static int he_cli_usage(FILE *to, int rc) {
    fprintf(to, "Usage: he-history [--all] [--file PATH]\n"
                "       he-history --forget [--file PATH]\n"
                "Prints libhe's connection history for this user and network, or empties it.\n");
    return rc;
}

static void he_cli_warn(const char *msg) {
    fprintf(stderr, "he-history: %s\n", msg);
}

static const char *he_cli_getenv(const char *name) {
    return getenv(name);
}

static int he_cli_args(struct he_cli *cli, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0) {
            cli->all = 1;
        } else if (strcmp(argv[i], "--forget") == 0) {
            cli->forget = 1;
        } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
            cli->file = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            exit(he_cli_usage(stdout, 0));
        } else {
            fprintf(stderr, "he-history: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    struct he_config cfg;
    he_config_parse(&cfg, he_cli_getenv, he_cli_warn);
    struct he_cli cli = {.file = cfg.history_file};
    if (he_cli_args(&cli, argc, argv) != 0) {
        return he_cli_usage(stderr, 2);
    }
    char path[4096], why[256] = "";
    if (he_hist_file_path(cli.file, path, sizeof path) != 0) {
        fprintf(stderr, "he-history: the history file's name is not absolute or too long\n");
        return 1;
    }
    if (cli.forget) {
        if (he_hist_file_reset(path, why, sizeof why) != 0) {
            fprintf(stderr, "he-history: %s: %s\n", path, why);
            return 1;
        }
        printf("he-history: %s emptied\n", path);
        return 0;
    }
    void *mem;
    size_t size;
    struct he_hist_table t;
    int rc = he_hist_file_map(path, 0, &mem, &size, why, sizeof why);
    if (rc == -ENOENT) {
        printf("# %s: no history yet\n", path);
        return 0;
    }
    if (rc != 0 || he_hist_table_open(&t, mem, size) != 0) {
        fprintf(stderr, "he-history: %s: %s\n", path, why[0] ? why : "not a history file");
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    cli.now_s = he_hist_secs((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    cli.netid = he_hist_netid_now();
    cli.conf = (struct he_hist_conf){cfg.history_window_s, cfg.history_window_max_s,
                                     cfg.min_attempt_delay_ms, HE_HIST_DELAY_CEIL_MS};
    printf("# %s: %u slots\n", path, t.nslots);
    printf("%-42s %-5s %-11s %-17s %5s  %-10s %-12s %s\n", "address", "port", "last outcome",
           "next race", "fails", "srtt", "outcome at", "connected");
    he_hist_table_walk(&t, he_cli_print, &cli);
    printf("# %d shown", cli.shown);
    if (cli.other_net > 0 && !cli.all) {
        printf("; %d of other networks (--all shows them)", cli.other_net);
    }
    printf("\n");
    return 0;
}

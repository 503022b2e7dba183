/* Unit tests for the race engine (racer/race.c, racer/order.c).
 *
 * The engine is driven by a fake clock and a fake connector: time is
 * virtual (milliseconds, starting at T0 for every race) and only moves when
 * the engine waits.  Each row of the table gives the addresses the name
 * memory holds, what each address does when an attempt is started on it,
 * and what the race must do: which attempts start, in what order and when,
 * which one wins, what he_race_run returns and which attempts are
 * cancelled. */
#include "../../racer/race.h"

#include "addrs.h"

#include "he_check.h"
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1000   /* virtual clock when a race starts: deadlines are absolute */
#define ROW_MAX 8 /* addresses per row */
#define NEVER INT64_MAX
#define MAX_WAITS 1000

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static const char *fmt_addr(const struct he_addr *a, char *buf) {
    return he_addr_format(a, buf, HE_ADDR_STRLEN);
}

static int list_len(const char *const *list) {
    int n = 0;
    while (n < ROW_MAX && list[n] != NULL) {
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                  */

enum outcome_kind {
    CONNECT = 1,    /* connects after latency_ms */
    REFUSE,         /* ECONNREFUSED after latency_ms */
    NETUNREACH,     /* ENETUNREACH after latency_ms */
    HOSTUNREACH,    /* EHOSTUNREACH after latency_ms */
    TIMEDOUT,       /* ETIMEDOUT after latency_ms (the kernel gave up) */
    BLACKHOLE,      /* never completes */
    IMMEDIATE_FAIL, /* start() returns -err */
    SKIP,           /* start() returns -EAFNOSUPPORT: this socket cannot carry it */
    STOP,           /* start() returns -ENOTSUP: no sibling can be started at all */
    INSTANT,        /* start() returns 1: connected at once */
};

struct outcome {
    const char *addr;
    enum outcome_kind kind;
    int latency_ms;
    int err; /* IMMEDIATE_FAIL only */
};

/* DNS news during the race: at at_ms after T0 these addresses arrive. */
struct news_event {
    int at_ms;
    const char *addrs[ROW_MAX + 1];
};

struct race_row {
    const char *name;
    /* input */
    const char *first;
    const char *addrs[ROW_MAX + 1]; /* as the name memory holds them */
    int sock_family;
    int delay_ms;
    int max_attempts;
    int deadline_ms; /* after T0; 0 = none */
    int deadline_err;
    int intr_ms; /* wait() fails with -EINTR at this time after T0; 0 = never */
    struct outcome outcomes[ROW_MAX + 1];
    /* expected */
    int want_count;                          /* attempts he_race_init set up */
    const char *want_order[ROW_MAX + 1];     /* addresses in start() order */
    int want_start_ms[ROW_MAX];              /* after T0, one per want_order */
    int want_rc;                             /* winner index or -errno */
    const char *want_winner;                 /* NULL: none */
    const char *want_cancelled[ROW_MAX + 1]; /* cancel() calls, in call order */
    const char *want_skipped[ROW_MAX + 1];   /* attempts left SKIPPED, index order */
    enum he_attempt_state want_own;          /* attempt 0's final state */
    int want_end_ms;                         /* virtual time when he_race_run returned */
    /* news: answers arriving while the race runs (RFC 8305 §3); news_end_ms
     * is when the lookup finishes (0: no lookup at all). */
    struct news_event news[3];
    int news_end_ms;
};

/* One row per race reads better than one field per line. */
/* clang-format off */
static const struct race_row race_rows[] = {
    {
        .name = "healthy first address wins, no sibling started",
        .first = V6A,
        .addrs = {V6A, V6B, V4A, V4B},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, CONNECT, 20, 0}, {V6B, CONNECT, 1, 0},
                     {V4A, CONNECT, 1, 0}, {V4B, CONNECT, 1, 0}},
        .want_count = 4,
        .want_order = {V6A}, .want_start_ms = {0},
        .want_rc = 0, .want_winner = V6A,
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 20,
    },
    {
        .name = "RFC 8305 interleaving from IPv6: v4 first, then alternate",
        .first = V6A,
        .addrs = {V6A, V6B, V4A, V4B},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, BLACKHOLE, 0, 0}, {V6B, BLACKHOLE, 0, 0},
                     {V4A, BLACKHOLE, 0, 0}, {V4B, CONNECT, 10, 0}},
        .want_count = 4,
        .want_order = {V6A, V4A, V6B, V4B}, .want_start_ms = {0, 250, 500, 750},
        .want_rc = 3, .want_winner = V4B,
        .want_cancelled = {V4A, V6B},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 760,
    },
    {
        .name = "RFC 8305 interleaving from IPv4 with libc's IPv6-first list",
        .first = V4A,
        .addrs = {V6A, V6B, V4A, V4B, V4C},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, BLACKHOLE, 0, 0}, {V6B, BLACKHOLE, 0, 0},
                     {V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, CONNECT, 5, 0}},
        .want_count = 5,
        .want_order = {V4A, V6A, V4B, V6B, V4C},
        .want_start_ms = {0, 250, 500, 750, 1000},
        .want_rc = 4, .want_winner = V4C,
        .want_cancelled = {V6A, V4B, V6B},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 1005,
    },
    {
        .name = "AF_INET socket races IPv4 siblings only",
        .first = V4A,
        .addrs = {V6A, V4A, V6B, V4B},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, REFUSE, 30, 0}, {V4B, CONNECT, 10, 0},
                     {V6A, CONNECT, 1, 0}, {V6B, CONNECT, 1, 0}},
        .want_count = 2,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 30},
        .want_rc = 1, .want_winner = V4B,
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 40,
    },
    {
        .name = "AF_INET socket with only IPv6 siblings has nothing to race",
        .first = V4A,
        .addrs = {V4A, V6A},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, REFUSE, 10, 0}, {V6A, CONNECT, 1, 0}},
        .want_count = 1,
        .want_order = {V4A}, .want_start_ms = {0},
        .want_rc = -ECONNREFUSED,
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 10,
    },
    {
        .name = "delay 1 ms is clamped up to 10 ms",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 1, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, CONNECT, 5, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 10, 20},
        .want_rc = 2, .want_winner = V4C,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 25,
    },
    {
        .name = "delay 5000 ms is clamped down to 2000 ms",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 5000, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, CONNECT, 5, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 2000, 4000},
        .want_rc = 2, .want_winner = V4C,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 4005,
    },
    {
        .name = "deadline shortens the delay so that every attempt starts (EINPROGRESS)",
        .first = V4A,
        .addrs = {V4A, V4B, V4C, V4D},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .deadline_ms = 300, .deadline_err = EINPROGRESS,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, BLACKHOLE, 0, 0}, {V4D, BLACKHOLE, 0, 0}},
        .want_count = 4,
        .want_order = {V4A, V4B, V4C, V4D}, .want_start_ms = {0, 75, 150, 225},
        .want_rc = -EINPROGRESS,
        .want_cancelled = {V4B, V4C, V4D},
        .want_own = HE_ATTEMPT_RUNNING, .want_end_ms = 300,
    },
    {
        .name = "ETIMEDOUT deadline ends the caller's own attempt too",
        .first = V4A,
        .addrs = {V4A, V4B, V4C, V4D},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .deadline_ms = 1000, .deadline_err = ETIMEDOUT,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, BLACKHOLE, 0, 0}, {V4D, BLACKHOLE, 0, 0}},
        .want_count = 4,
        .want_order = {V4A, V4B, V4C, V4D}, .want_start_ms = {0, 250, 500, 750},
        .want_rc = -ETIMEDOUT,
        .want_cancelled = {V4A, V4B, V4C, V4D},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 1000,
    },
    {
        .name = "a deadline never shortens the delay below 10 ms",
        .first = V4A,
        .addrs = {V4A, V4B, V4C, V4D},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .deadline_ms = 20, .deadline_err = EINPROGRESS,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, BLACKHOLE, 0, 0}, {V4D, BLACKHOLE, 0, 0}},
        .want_count = 4,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 10},
        .want_rc = -EINPROGRESS,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_RUNNING, .want_end_ms = 20,
    },
    {
        .name = "a refusal starts the next attempt at once, not after the delay",
        .first = V6A,
        .addrs = {V6A, V4A},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, REFUSE, 5, 0}, {V4A, CONNECT, 30, 0}},
        .want_count = 2,
        .want_order = {V6A, V4A}, .want_start_ms = {0, 5},
        .want_rc = 1, .want_winner = V4A,
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 35,
    },
    {
        .name = "ENETUNREACH of attempt 0 skips the rest of its family",
        .first = V6A,
        .addrs = {V6A, V6B, V6C, V4A, V4B},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, NETUNREACH, 1, 0}, {V6B, CONNECT, 1, 0},
                     {V6C, CONNECT, 1, 0}, {V4A, BLACKHOLE, 0, 0},
                     {V4B, CONNECT, 10, 0}},
        .want_count = 5, /* V6A V4A V6B V4B V6C */
        .want_order = {V6A, V4A, V4B}, .want_start_ms = {0, 1, 251},
        .want_rc = 3, .want_winner = V4B,
        .want_cancelled = {V4A},
        .want_skipped = {V6B, V6C},
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 261,
    },
    {
        .name = "ENETUNREACH of an IPv4 sibling skips IPv4 but not IPv6",
        .first = V6A,
        .addrs = {V6A, V6B, V4A, V4B},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, BLACKHOLE, 0, 0}, {V4A, NETUNREACH, 5, 0},
                     {V6B, CONNECT, 10, 0}, {V4B, CONNECT, 1, 0}},
        .want_count = 4,
        .want_order = {V6A, V4A, V6B}, .want_start_ms = {0, 250, 255},
        .want_rc = 2, .want_winner = V6B,
        .want_cancelled = {V4A},
        .want_skipped = {V4B},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 265,
    },
    {
        .name = "attempt 0 failing at once with ENETUNREACH: other family starts at once",
        .first = V6A,
        .addrs = {V6A, V6B, V4A, V4B},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, IMMEDIATE_FAIL, 0, ENETUNREACH}, {V6B, CONNECT, 1, 0},
                     {V4A, BLACKHOLE, 0, 0}, {V4B, CONNECT, 10, 0}},
        .want_count = 4, /* V6A V4A V6B V4B */
        .want_order = {V6A, V4A, V4B}, .want_start_ms = {0, 0, 250},
        .want_rc = 3, .want_winner = V4B,
        .want_cancelled = {V4A},
        .want_skipped = {V6B},
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 260,
    },
    {
        .name = "a sibling failing at once with ENETUNREACH skips its family, own wins",
        .first = V4A,
        .addrs = {V6A, V6B, V4A},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, CONNECT, 400, 0}, {V6A, IMMEDIATE_FAIL, 0, ENETUNREACH},
                     {V6B, CONNECT, 1, 0}},
        .want_count = 3,
        .want_order = {V4A, V6A}, .want_start_ms = {0, 250},
        .want_rc = 0, .want_winner = V4A,
        .want_skipped = {V6B},
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 400,
    },
    {
        .name = "attempts that fail as they start cost no delay",
        .first = V4A,
        .addrs = {V4A, V4B, V4C, V4D},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, IMMEDIATE_FAIL, 0, ECONNREFUSED},
                     {V4C, IMMEDIATE_FAIL, 0, EHOSTUNREACH}, {V4D, CONNECT, 10, 0}},
        .want_count = 4,
        .want_order = {V4A, V4B, V4C, V4D}, .want_start_ms = {0, 250, 250, 250},
        .want_rc = 3, .want_winner = V4D,
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 260,
    },
    {
        .name = "a sibling this socket cannot carry is skipped without delay",
        .first = V6A,
        .addrs = {V6A, V4A, V6B},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, BLACKHOLE, 0, 0}, {V4A, SKIP, 0, 0}, {V6B, CONNECT, 10, 0}},
        .want_count = 3,
        .want_order = {V6A, V4A, V6B}, .want_start_ms = {0, 250, 250},
        .want_rc = 2, .want_winner = V6B,
        .want_skipped = {V4A},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 260,
    },
    {
        .name = "EINPROGRESS deadline after own ECONNREFUSED returns -ECONNREFUSED",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .deadline_ms = 300, .deadline_err = EINPROGRESS,
        .outcomes = {{V4A, REFUSE, 5, 0}, {V4B, BLACKHOLE, 0, 0}, {V4C, BLACKHOLE, 0, 0}},
        .want_count = 3,
        /* at 5: (300 - 5) / 2 = 147 ms until V4C */
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 5, 152},
        .want_rc = -ECONNREFUSED,
        .want_cancelled = {V4B, V4C},
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 300,
    },
    {
        .name = "ETIMEDOUT deadline after own ECONNREFUSED returns -ETIMEDOUT",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .deadline_ms = 300, .deadline_err = ETIMEDOUT,
        .outcomes = {{V4A, REFUSE, 5, 0}, {V4B, BLACKHOLE, 0, 0}, {V4C, BLACKHOLE, 0, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 5, 152},
        .want_rc = -ETIMEDOUT,
        .want_cancelled = {V4B, V4C},
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 300,
    },
    {
        .name = "all fail: the errno of attempt 0, not of the last sibling",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, REFUSE, 50, 0}, {V4B, TIMEDOUT, 10, 0},
                     {V4C, HOSTUNREACH, 5, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 50, 60},
        .want_rc = -ECONNREFUSED,
        .want_cancelled = {V4B, V4C},
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 65,
    },
    {
        .name = "all fail, attempt 0 last: its errno",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, TIMEDOUT, 3000, 0}, {V4B, REFUSE, 10, 0},
                     {V4C, HOSTUNREACH, 10, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 250, 260},
        .want_rc = -ETIMEDOUT,
        .want_cancelled = {V4B, V4C},
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 3000,
    },
    {
        .name = "max_attempts 2 with 5 addresses starts only 2",
        .first = V4A,
        .addrs = {V4A, V4B, V4C, V4D, V4E},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 2,
        .outcomes = {{V4A, CONNECT, 600, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, CONNECT, 1, 0}, {V4D, CONNECT, 1, 0}, {V4E, CONNECT, 1, 0}},
        .want_count = 2,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = 0, .want_winner = V4A,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 600,
    },
    {
        .name = "starting an attempt never cancels a running one",
        .first = V6A,
        .addrs = {V6A, V4A, V6B},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, CONNECT, 600, 0}, {V4A, CONNECT, 1000, 0},
                     {V6B, CONNECT, 1000, 0}},
        .want_count = 3,
        .want_order = {V6A, V4A, V6B}, .want_start_ms = {0, 250, 500},
        .want_rc = 0, .want_winner = V6A,
        .want_cancelled = {V4A, V6B},
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 600,
    },
    {
        .name = "slow attempt 0 (400 ms) beats a slower sibling",
        .first = V4A,
        .addrs = {V4A, V4B},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, CONNECT, 400, 0}, {V4B, CONNECT, 300, 0}},
        .want_count = 2,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = 0, .want_winner = V4A,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 400,
    },
    {
        .name = "EBADF from attempt 0 returns at once, no sibling",
        .first = V4A,
        .addrs = {V4A, V4B},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, IMMEDIATE_FAIL, 0, EBADF}, {V4B, CONNECT, 1, 0}},
        .want_count = 2,
        .want_order = {V4A}, .want_start_ms = {0},
        .want_rc = -EBADF,
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 0,
    },
    {
        .name = "EAFNOSUPPORT from attempt 0 returns at once, no sibling",
        .first = V4A,
        .addrs = {V4A, V4B},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, SKIP, 0, 0}, {V4B, CONNECT, 1, 0}},
        .want_count = 2,
        .want_order = {V4A}, .want_start_ms = {0},
        .want_rc = -EAFNOSUPPORT,
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 0,
    },
    {
        .name = "EISCONN from attempt 0 returns at once, no sibling",
        .first = V6A,
        .addrs = {V6A, V4A},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V6A, IMMEDIATE_FAIL, 0, EISCONN}, {V4A, CONNECT, 1, 0}},
        .want_count = 2,
        .want_order = {V6A}, .want_start_ms = {0},
        .want_rc = -EISCONN,
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 0,
    },
    {
        .name = "ENOTSUP from a sibling stops racing, attempt 0 still wins",
        .first = V4A,
        .addrs = {V4A, V4B, V4C, V4D},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, CONNECT, 400, 0}, {V4B, STOP, 0, 0},
                     {V4C, CONNECT, 1, 0}, {V4D, CONNECT, 1, 0}},
        .want_count = 4,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = 0, .want_winner = V4A,
        .want_skipped = {V4B, V4C, V4D},
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 400,
    },
    {
        .name = "ENOTSUP from a sibling, then attempt 0 fails: its errno",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, REFUSE, 400, 0}, {V4B, STOP, 0, 0}, {V4C, CONNECT, 1, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = -ECONNREFUSED,
        .want_skipped = {V4B, V4C},
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 400,
    },
    {
        .name = "ENOTSUP after a sibling started: the running one is left alone",
        .first = V4A,
        .addrs = {V4A, V4B, V4C, V4D},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, CONNECT, 600, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, STOP, 0, 0}, {V4D, CONNECT, 1, 0}},
        .want_count = 4,
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 250, 500},
        .want_rc = 0, .want_winner = V4A,
        .want_cancelled = {V4B},
        .want_skipped = {V4C, V4D},
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 600,
    },
    {
        .name = "EINTR from wait ends the race, siblings cancelled, not attempt 0",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .intr_ms = 300,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0},
                     {V4C, CONNECT, 1, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = -EINTR,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_RUNNING, .want_end_ms = 300,
    },
    {
        .name = "attempt 0 and a sibling connect at the same time: attempt 0 wins",
        .first = V4A,
        .addrs = {V4A, V4B},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, CONNECT, 300, 0}, {V4B, CONNECT, 50, 0}},
        .want_count = 2,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = 0, .want_winner = V4A,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 300,
    },
    {
        .name = "two siblings connect at the same time: the lower index wins",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, CONNECT, 260, 0},
                     {V4C, CONNECT, 10, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 250, 500},
        .want_rc = 1, .want_winner = V4B,
        .want_cancelled = {V4C},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 510,
    },
    {
        .name = "a sibling that connects as it starts wins at once",
        .first = V4A,
        .addrs = {V4A, V4B, V4C},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, INSTANT, 0, 0}, {V4C, CONNECT, 1, 0}},
        .want_count = 3,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = 1, .want_winner = V4B,
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 250,
    },
    {
        .name = "attempt 0 that connects as it starts wins at once",
        .first = V4A,
        .addrs = {V4A, V4B},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, INSTANT, 0, 0}, {V4B, CONNECT, 1, 0}},
        .want_count = 2,
        .want_order = {V4A}, .want_start_ms = {0},
        .want_rc = 0, .want_winner = V4A,
        .want_own = HE_ATTEMPT_WON, .want_end_ms = 0,
    },
    {
        .name = "news: a stale address is rescued by the name's new address",
        .first = V4A,
        .addrs = {V4A},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, CONNECT, 5, 0}},
        .news = {{3, {V4B}}}, .news_end_ms = 3,
        .want_count = 1,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = 1, .want_winner = V4B,
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 255,
    },
    {
        .name = "news: an answer after the attempt delay starts at once",
        .first = V4A,
        .addrs = {V4A},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, CONNECT, 5, 0}},
        .news = {{400, {V4B}}}, .news_end_ms = 400,
        .want_count = 1,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 400},
        .want_rc = 1, .want_winner = V4B,
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 405,
    },
    {
        .name = "news: an AAAA answer is interleaved ahead of a known IPv4 sibling",
        .first = V4A,
        .addrs = {V4A, V4B},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0}, {V6A, CONNECT, 5, 0}},
        .news = {{10, {V6A}}}, .news_end_ms = 60,
        .want_count = 2,
        .want_order = {V4A, V6A}, .want_start_ms = {0, 250},
        .want_rc = 1, .want_winner = V6A,
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 255,
    },
    {
        .name = "news: not waited for once every attempt has failed",
        .first = V4A,
        .addrs = {V4A},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, REFUSE, 5, 0}, {V4B, CONNECT, 5, 0}},
        .news = {{100, {V4B}}}, .news_end_ms = 100,
        .want_count = 1,
        .want_order = {V4A}, .want_start_ms = {0},
        .want_rc = -ECONNREFUSED,
        .want_own = HE_ATTEMPT_FAILED, .want_end_ms = 5,
    },
    {
        .name = "news: known and duplicate addresses add nothing; the rest keep the schedule",
        .first = V4A,
        .addrs = {V4A, V4B},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0}, {V4C, CONNECT, 5, 0}},
        .news = {{20, {V4A, V4B, V4C, V4C}}}, .news_end_ms = 20,
        .want_count = 2,
        .want_order = {V4A, V4B, V4C}, .want_start_ms = {0, 250, 500},
        .want_rc = 2, .want_winner = V4C,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 505,
    },
    {
        .name = "news: a family found unreachable stays skipped",
        .first = V4A,
        .addrs = {V4A, V6A},
        .sock_family = AF_INET6, .delay_ms = 250, .max_attempts = 16,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V6A, NETUNREACH, 1, 0}, {V6B, CONNECT, 1, 0},
                     {V4B, CONNECT, 5, 0}},
        .news = {{300, {V6B, V4B}}}, .news_end_ms = 300,
        .want_count = 2,
        .want_order = {V4A, V6A, V4B}, .want_start_ms = {0, 250, 300},
        .want_rc = 2, .want_winner = V4B,
        .want_cancelled = {V6A},
        .want_skipped = {V6B},
        .want_own = HE_ATTEMPT_CANCELLED, .want_end_ms = 305,
    },
    {
        .name = "news: an AF_INET socket takes no IPv6 answer",
        .first = V4A,
        .addrs = {V4A},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 16,
        .deadline_ms = 1000, .deadline_err = EINPROGRESS,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V6A, CONNECT, 1, 0}},
        .news = {{5, {V6A}}}, .news_end_ms = 5,
        .want_count = 1,
        .want_order = {V4A}, .want_start_ms = {0},
        .want_rc = -EINPROGRESS,
        .want_own = HE_ATTEMPT_RUNNING, .want_end_ms = 1000,
    },
    {
        .name = "news: answers stop at max_attempts",
        .first = V4A,
        .addrs = {V4A},
        .sock_family = AF_INET, .delay_ms = 250, .max_attempts = 2,
        .outcomes = {{V4A, BLACKHOLE, 0, 0}, {V4B, BLACKHOLE, 0, 0}, {V4C, CONNECT, 1, 0}},
        .deadline_ms = 1000, .deadline_err = EINPROGRESS,
        .news = {{5, {V4B, V4C}}}, .news_end_ms = 5,
        .want_count = 1,
        .want_order = {V4A, V4B}, .want_start_ms = {0, 250},
        .want_rc = -EINPROGRESS,
        .want_cancelled = {V4B},
        .want_own = HE_ATTEMPT_RUNNING, .want_end_ms = 1000,
    },
};
/* clang-format on */

#define RACE_ROWS (int)(sizeof race_rows / sizeof race_rows[0])

/* ------------------------------------------------------------------------ */
/* The fake clock and connector                                               */

struct fake {
    const struct race_row *row;
    int64_t now;
    int started[HE_RACE_MAX_ATTEMPTS];
    int running[HE_RACE_MAX_ATTEMPTS]; /* started, not finished or cancelled */
    int open[HE_RACE_MAX_ATTEMPTS];    /* has a socket: started, not cancelled */
    int64_t done_at[HE_RACE_MAX_ATTEMPTS];
    int done_err[HE_RACE_MAX_ATTEMPTS];
    int order[HE_RACE_MAX_ATTEMPTS];
    int64_t start_at[HE_RACE_MAX_ATTEMPTS];
    int norder;
    int cancelled[HE_RACE_MAX_ATTEMPTS];
    int ncancelled;
    int intr_fired;
    int waits;
    int news_next; /* index into row->news */
};

static const struct outcome *fake_outcome(const struct fake *f, const struct he_addr *a) {
    for (int i = 0; i < ROW_MAX && f->row->outcomes[i].addr != NULL; i++) {
        struct he_addr o = addr_of(f->row->outcomes[i].addr);
        if (he_addr_equal(&o, a)) {
            return &f->row->outcomes[i];
        }
    }
    char buf[HE_ADDR_STRLEN];
    ck_abort_msg("%s: no outcome for %s", f->row->name, fmt_addr(a, buf));
    return NULL;
}

static int64_t fake_now(void *ctx) {
    struct fake *f = ctx;
    return f->now;
}

static int fake_start(void *ctx, struct he_race *r, int index) {
    struct fake *f = ctx;
    ck_assert_msg(index >= 0 && index < r->count, "%s: start(%d) of %d attempts", f->row->name,
                  index, r->count);
    ck_assert_msg(!f->started[index], "%s: attempt %d started twice", f->row->name, index);
    ck_assert_msg(r->att[index].state == HE_ATTEMPT_WAITING, "%s: attempt %d started in state %s",
                  f->row->name, index, he_attempt_state_name(r->att[index].state));
    f->started[index] = 1;
    f->order[f->norder] = index;
    f->start_at[f->norder] = f->now;
    f->norder++;
    const struct outcome *o = fake_outcome(f, &r->att[index].addr);
    int err = 0;
    switch (o->kind) {
    case CONNECT:
        err = 0;
        break;
    case REFUSE:
        err = ECONNREFUSED;
        break;
    case NETUNREACH:
        err = ENETUNREACH;
        break;
    case HOSTUNREACH:
        err = EHOSTUNREACH;
        break;
    case TIMEDOUT:
        err = ETIMEDOUT;
        break;
    case BLACKHOLE:
        f->running[index] = 1;
        f->open[index] = 1;
        f->done_at[index] = NEVER;
        return 0;
    case IMMEDIATE_FAIL:
        return -o->err;
    case SKIP:
        return -EAFNOSUPPORT;
    case STOP:
        return -ENOTSUP;
    case INSTANT:
        f->open[index] = 1;
        return 1;
    }
    f->running[index] = 1;
    f->open[index] = 1;
    f->done_at[index] = f->now + o->latency_ms;
    f->done_err[index] = err;
    return 0;
}

/* Delivers the next news event or the end of the lookup if it comes before
 * target and within limit.  Returns 1 when it did. */
static int fake_news(struct fake *f, struct he_race *r, int64_t target, int64_t limit) {
    const struct race_row *row = f->row;
    const struct news_event *ev =
        f->news_next < 3 && row->news[f->news_next].at_ms > 0 ? &row->news[f->news_next] : NULL;
    int64_t at = T0 + (ev ? ev->at_ms : row->news_end_ms);
    if (at > limit || at >= target) {
        return 0;
    }
    f->now = at;
    if (ev) {
        struct he_addr a[ROW_MAX];
        int n = list_len(ev->addrs);
        for (int i = 0; i < n; i++) {
            a[i] = addr_of(ev->addrs[i]);
        }
        he_race_add(r, a, n);
        f->news_next++;
    }
    const struct news_event *more =
        f->news_next < 3 && row->news[f->news_next].at_ms > 0 ? &row->news[f->news_next] : NULL;
    if (more == NULL && f->now >= T0 + row->news_end_ms) {
        r->news_pending = 0;
    }
    return 1;
}

static enum he_wait_result fake_wait(void *ctx, struct he_race *r, int timeout_ms, int *index,
                                     int *err) {
    struct fake *f = ctx;
    ck_assert_msg(++f->waits < MAX_WAITS, "%s: %d waits, the race does not end", f->row->name,
                  f->waits);
    ck_assert_msg(timeout_ms >= -1, "%s: wait(%d)", f->row->name, timeout_ms);
    /* The engine's idea of what is running must be the connector's. */
    for (int i = 0; i < r->count; i++) {
        ck_assert_msg((r->att[i].state == HE_ATTEMPT_RUNNING) == f->running[i],
                      "%s: attempt %d is %s to the engine, %s to the connector", f->row->name, i,
                      he_attempt_state_name(r->att[i].state),
                      f->running[i] ? "running" : "not running");
    }
    /* The earliest completion; on a tie the lowest index, as poll() order. */
    int first = -1;
    for (int i = 0; i < r->count; i++) {
        if (f->running[i] && f->done_at[i] != NEVER &&
            (first < 0 || f->done_at[i] < f->done_at[first])) {
            first = i;
        }
    }
    int64_t target = first >= 0 ? f->done_at[first] : NEVER;
    int64_t limit = timeout_ms < 0 ? NEVER : f->now + timeout_ms;
    if (r->news_pending && fake_news(f, r, target, limit)) {
        return HE_WAIT_NEWS;
    }
    if (f->row->intr_ms > 0 && !f->intr_fired) {
        int64_t intr_at = T0 + f->row->intr_ms;
        if (intr_at <= limit && intr_at < target) {
            f->now = intr_at;
            f->intr_fired = 1;
            *err = EINTR;
            return HE_WAIT_ERROR;
        }
    }
    if (target != NEVER && target <= limit) {
        f->now = target;
        f->running[first] = 0;
        *index = first;
        *err = f->done_err[first];
        return HE_WAIT_DONE;
    }
    ck_assert_msg(limit != NEVER,
                  "%s: wait(-1) at %lld ms with nothing that can ever complete: "
                  "the race would hang",
                  f->row->name, (long long)(f->now - T0));
    f->now = limit;
    return HE_WAIT_TIMEOUT;
}

static void fake_cancel(void *ctx, struct he_race *r, int index) {
    struct fake *f = ctx;
    ck_assert_msg(index >= 0 && index < r->count, "%s: cancel(%d)", f->row->name, index);
    ck_assert_msg(f->open[index], "%s: cancel(%d) of an attempt without a socket", f->row->name,
                  index);
    f->running[index] = 0;
    f->open[index] = 0;
    f->cancelled[f->ncancelled++] = index;
}

/* ------------------------------------------------------------------------ */
/* The table-driven test                                                      */

START_TEST(test_race_table) {
    const struct race_row *row = &race_rows[_i];
    struct fake f;
    memset(&f, 0, sizeof f);
    f.row = row;
    f.now = T0;
    struct he_race_io io = {
        .ctx = &f,
        .now_ms = fake_now,
        .start = fake_start,
        .wait = fake_wait,
        .cancel = fake_cancel,
    };

    struct he_addr first = addr_of(row->first);
    struct he_addr addrs[ROW_MAX];
    int n = list_len(row->addrs);
    for (int i = 0; i < n; i++) {
        addrs[i] = addr_of(row->addrs[i]);
    }
    /* Poison: he_race_init must set everything it uses. */
    struct he_race *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    memset(r, 0xa5, sizeof *r);
    he_race_init(r, &first, addrs, n, row->sock_family, row->delay_ms, row->max_attempts);
    ck_assert_msg(r->count == row->want_count, "%s: %d attempts set up, want %d", row->name,
                  r->count, row->want_count);
    if (row->deadline_ms > 0) {
        he_race_set_deadline(r, T0 + row->deadline_ms, row->deadline_err);
    }
    r->news_pending = row->news_end_ms > 0;

    int rc = he_race_run(r, &io);
    char buf[HE_ADDR_STRLEN], buf2[HE_ADDR_STRLEN];

    ck_assert_msg(rc == row->want_rc, "%s: he_race_run returned %d, want %d", row->name, rc,
                  row->want_rc);
    ck_assert_msg(f.now - T0 == row->want_end_ms, "%s: returned at %lld ms, want %d", row->name,
                  (long long)(f.now - T0), row->want_end_ms);

    /* Start order and times. */
    int want_n = list_len(row->want_order);
    for (int k = 0; k < f.norder && k < want_n; k++) {
        struct he_addr want = addr_of(row->want_order[k]);
        const struct he_addr *got = &r->att[f.order[k]].addr;
        ck_assert_msg(he_addr_equal(got, &want), "%s: start #%d is %s, want %s", row->name, k,
                      fmt_addr(got, buf), row->want_order[k]);
        ck_assert_msg(f.start_at[k] - T0 == row->want_start_ms[k],
                      "%s: start #%d (%s) at %lld ms, want %d", row->name, k, row->want_order[k],
                      (long long)(f.start_at[k] - T0), row->want_start_ms[k]);
        ck_assert_msg(r->att[f.order[k]].started_ms == f.start_at[k],
                      "%s: attempt %d started_ms %lld, started at %lld", row->name, f.order[k],
                      (long long)r->att[f.order[k]].started_ms, (long long)f.start_at[k]);
    }
    ck_assert_msg(f.norder == want_n, "%s: %d attempts started, want %d", row->name, f.norder,
                  want_n);
    /* No sibling socket is left behind but the winner's ("it never leaks an fd or a socket"). */
    for (int i = 1; i < r->count; i++) {
        ck_assert_msg(!f.open[i] || i == rc, "%s: attempt %d's socket left open", row->name, i);
    }
    ck_assert_msg(f.order[0] == 0, "%s: attempt 0 must start first", row->name);

    /* Winner. */
    if (row->want_winner != NULL) {
        struct he_addr want = addr_of(row->want_winner);
        ck_assert_msg(rc >= 0 && rc < r->count, "%s: no winner index", row->name);
        ck_assert_msg(he_addr_equal(&r->att[rc].addr, &want), "%s: winner %s, want %s", row->name,
                      fmt_addr(&r->att[rc].addr, buf), row->want_winner);
        ck_assert_int_eq(r->winner, rc);
        ck_assert_msg(r->att[rc].state == HE_ATTEMPT_WON, "%s: winner in state %s", row->name,
                      he_attempt_state_name(r->att[rc].state));
    } else {
        ck_assert_msg(rc < 0, "%s: a winner (%d) where none was expected", row->name, rc);
        ck_assert_msg(r->winner == -1, "%s: r->winner %d with no winner", row->name, r->winner);
    }
    for (int i = 0; i < r->count; i++) {
        if (i != r->winner) {
            ck_assert_msg(r->att[i].state != HE_ATTEMPT_WON, "%s: attempt %d also WON", row->name,
                          i);
        }
    }

    /* Cancellations, in call order. */
    int want_c = list_len(row->want_cancelled);
    for (int k = 0; k < f.ncancelled && k < want_c; k++) {
        struct he_addr want = addr_of(row->want_cancelled[k]);
        const struct he_addr *got = &r->att[f.cancelled[k]].addr;
        ck_assert_msg(he_addr_equal(got, &want), "%s: cancel #%d is %s, want %s", row->name, k,
                      fmt_addr(got, buf), row->want_cancelled[k]);
        /* Closed: a loser (CANCELLED) or a sibling that failed (FAILED). */
        ck_assert_msg(r->att[f.cancelled[k]].state == HE_ATTEMPT_CANCELLED ||
                          r->att[f.cancelled[k]].state == HE_ATTEMPT_FAILED,
                      "%s: closed attempt %d left in state %s", row->name, f.cancelled[k],
                      he_attempt_state_name(r->att[f.cancelled[k]].state));
    }
    ck_assert_msg(f.ncancelled == want_c, "%s: %d cancellations, want %d", row->name, f.ncancelled,
                  want_c);

    /* Skipped attempts, in index order. */
    int want_s = list_len(row->want_skipped);
    int k = 0;
    for (int i = 0; i < r->count; i++) {
        if (r->att[i].state != HE_ATTEMPT_SKIPPED) {
            continue;
        }
        ck_assert_msg(k < want_s, "%s: attempt %d (%s) skipped unexpectedly", row->name, i,
                      fmt_addr(&r->att[i].addr, buf));
        struct he_addr want = addr_of(row->want_skipped[k]);
        ck_assert_msg(he_addr_equal(&r->att[i].addr, &want), "%s: skipped #%d is %s, want %s",
                      row->name, k, fmt_addr(&r->att[i].addr, buf2), row->want_skipped[k]);
        k++;
    }
    ck_assert_msg(k == want_s, "%s: %d attempts skipped, want %d", row->name, k, want_s);

    /* Attempts never started are still waiting or skipped. */
    for (int i = 0; i < r->count; i++) {
        if (!f.started[i]) {
            ck_assert_msg(r->att[i].state == HE_ATTEMPT_WAITING ||
                              r->att[i].state == HE_ATTEMPT_SKIPPED,
                          "%s: attempt %d never started but %s", row->name, i,
                          he_attempt_state_name(r->att[i].state));
        }
    }

    ck_assert_msg(r->att[0].state == row->want_own, "%s: attempt 0 is %s, want %s", row->name,
                  he_attempt_state_name(r->att[0].state), he_attempt_state_name(row->want_own));
    /* A failed attempt 0 carries the errno the connector gave it. */
    if (r->att[0].state == HE_ATTEMPT_FAILED) {
        ck_assert_msg(r->att[0].err > 0, "%s: attempt 0 FAILED with err %d", row->name,
                      r->att[0].err);
    }
    free(r);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* he_race_init alone: ordering and clamping                                  */

struct order_row {
    const char *name;
    const char *first;
    const char *addrs[ROW_MAX + 1];
    int sock_family;
    int max_attempts;
    const char *want[ROW_MAX + 1];
};

/* clang-format off */
static const struct order_row order_rows[] = {
    {"v6 first: other family first, then alternate",
     V6A, {V6A, V6B, V4A, V4B}, AF_INET6, 16, {V6A, V4A, V6B, V4B}},
    {"v4 first in a v6-first list",
     V4A, {V6A, V6B, V4A, V4B}, AF_INET6, 16, {V4A, V6A, V4B, V6B}},
    {"one family runs out, the other follows in libc order",
     V6A, {V6A, V6B, V6C, V4A}, AF_INET6, 16, {V6A, V4A, V6B, V6C}},
    {"only the other family",
     V4A, {V4A, V6A, V6B, V6C}, AF_INET6, 16, {V4A, V6A, V6B, V6C}},
    {"AF_INET: IPv6 siblings dropped",
     V4A, {V6A, V4A, V6B, V4B, V4C}, AF_INET, 16, {V4A, V4B, V4C}},
    {"first not in the list: every address is a sibling",
     V4C, {V4A, V6A, V4B}, AF_INET6, 16, {V4C, V6A, V4A, V4B}},
    {"max_attempts caps the total, attempt 0 included",
     V6A, {V6A, V6B, V4A, V4B}, AF_INET6, 3, {V6A, V4A, V6B}},
    {"max_attempts 1: attempt 0 only",
     V6A, {V6A, V6B, V4A, V4B}, AF_INET6, 1, {V6A}},
    {"max_attempts 0 is taken as 1",
     V6A, {V6A, V6B, V4A, V4B}, AF_INET6, 0, {V6A}},
    {"max_attempts negative is taken as 1",
     V4A, {V4A, V4B}, AF_INET, -5, {V4A}},
    {"empty list",
     V4A, {NULL}, AF_INET, 16, {V4A}},
};
/* clang-format on */

#define ORDER_ROWS (int)(sizeof order_rows / sizeof order_rows[0])

START_TEST(test_init_order) {
    const struct order_row *row = &order_rows[_i];
    struct he_addr first = addr_of(row->first);
    struct he_addr addrs[ROW_MAX];
    int n = list_len(row->addrs);
    for (int i = 0; i < n; i++) {
        addrs[i] = addr_of(row->addrs[i]);
    }
    struct he_race r;
    memset(&r, 0x5a, sizeof r);
    he_race_init(&r, &first, addrs, n, row->sock_family, 250, row->max_attempts);
    int want_n = list_len(row->want);
    ck_assert_msg(r.count == want_n, "%s: count %d, want %d", row->name, r.count, want_n);
    char buf[HE_ADDR_STRLEN];
    for (int i = 0; i < want_n; i++) {
        struct he_addr want = addr_of(row->want[i]);
        ck_assert_msg(he_addr_equal(&r.att[i].addr, &want), "%s: attempt %d is %s, want %s",
                      row->name, i, fmt_addr(&r.att[i].addr, buf), row->want[i]);
        ck_assert_int_eq(r.att[i].state, HE_ATTEMPT_WAITING);
        ck_assert_int_eq(r.att[i].handle, -1);
        ck_assert_int_eq(r.att[i].err, 0);
    }
    ck_assert_int_eq(r.winner, -1);
    ck_assert_int_eq(r.deadline_ms, -1);
}
END_TEST

static const struct {
    int in, want;
} delay_rows[] = {
    {-100, 10}, {0, 10},      {1, 10},      {9, 10},      {10, 10},     {11, 11},
    {250, 250}, {1999, 1999}, {2000, 2000}, {2001, 2000}, {5000, 2000}, {2147483647, 2000},
};

START_TEST(test_init_delay_clamp) {
    struct he_addr first = addr_of(V4A);
    struct he_race r;
    he_race_init(&r, &first, &first, 1, AF_INET, delay_rows[_i].in, 16);
    ck_assert_msg(r.delay_ms == delay_rows[_i].want, "delay %d -> %d, want %d", delay_rows[_i].in,
                  r.delay_ms, delay_rows[_i].want);
}
END_TEST

START_TEST(test_init_caps_at_max_attempts_limit) {
    enum { N = 100 };
    struct he_addr addrs[N];
    for (int i = 0; i < N; i++) {
        memset(&addrs[i], 0, sizeof addrs[i]);
        addrs[i].family = AF_INET;
        addrs[i].bytes[0] = 10;
        addrs[i].bytes[2] = (uint8_t)(i >> 8);
        addrs[i].bytes[3] = (uint8_t)i;
    }
    struct he_race r;
    he_race_init(&r, &addrs[0], addrs, N, AF_INET, 250, 1000);
    ck_assert_int_eq(r.count, HE_RACE_MAX_ATTEMPTS);
    for (int i = 0; i < HE_RACE_MAX_ATTEMPTS; i++) {
        ck_assert_msg(he_addr_equal(&r.att[i].addr, &addrs[i]), "attempt %d out of order", i);
    }
}
END_TEST

START_TEST(test_set_deadline) {
    struct he_addr first = addr_of(V4A);
    struct he_race r;
    he_race_init(&r, &first, &first, 1, AF_INET, 250, 16);
    ck_assert_int_eq(r.deadline_ms, -1);
    he_race_set_deadline(&r, 123456, ETIMEDOUT);
    ck_assert_int_eq(r.deadline_ms, 123456);
    ck_assert_int_eq(r.deadline_err, ETIMEDOUT);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* he_race_count_siblings                                                     */

static const struct {
    const char *name;
    const char *first;
    const char *addrs[ROW_MAX + 1];
    int sock_family;
    int want;
} sibling_rows[] = {
    {"dual stack on AF_INET6", V6A, {V6A, V6B, V4A, V4B}, AF_INET6, 3},
    {"IPv4 first on AF_INET6 carries IPv6 too", V4A, {V6A, V4A}, AF_INET6, 1},
    {"AF_INET carries IPv4 only", V4A, {V6A, V4A, V6B, V4B}, AF_INET, 1},
    {"AF_INET with only IPv6 siblings", V4A, {V4A, V6A, V6B}, AF_INET, 0},
    {"only the address itself", V4A, {V4A}, AF_INET, 0},
    {"first not in the list", V4C, {V4A, V4B}, AF_INET, 2},
    {"empty list", V4A, {NULL}, AF_INET6, 0},
    {"many, no cap applied", V4A, {V4A, V4B, V4C, V4D, V4E, V6A, V6B, V6C}, AF_INET6, 7},
};

START_TEST(test_count_siblings) {
    struct he_addr first = addr_of(sibling_rows[_i].first);
    struct he_addr addrs[ROW_MAX];
    int n = list_len(sibling_rows[_i].addrs);
    for (int i = 0; i < n; i++) {
        addrs[i] = addr_of(sibling_rows[_i].addrs[i]);
    }
    int got = he_race_count_siblings(&first, addrs, n, sibling_rows[_i].sock_family);
    ck_assert_msg(got == sibling_rows[_i].want, "%s: %d siblings, want %d", sibling_rows[_i].name,
                  got, sibling_rows[_i].want);
}
END_TEST

START_TEST(test_count_siblings_scope_differs) {
    /* fe80::1%2 and fe80::1%3 are different addresses. */
    struct he_addr a = addr_of("fe80::1"), b = addr_of("fe80::1");
    a.scope = 2;
    b.scope = 3;
    struct he_addr list[2] = {a, b};
    ck_assert_int_eq(he_race_count_siblings(&a, list, 2, AF_INET6), 1);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* he_race_network_error, he_attempt_state_name                               */

static const struct {
    int err, want;
} neterr_rows[] = {
    {ECONNREFUSED, 1},  {ENETUNREACH, 1},  {EHOSTUNREACH, 1},  {ENETDOWN, 1}, {EHOSTDOWN, 1},
    {ETIMEDOUT, 1},     {EPERM, 1},        {EADDRNOTAVAIL, 1}, {0, 0},        {EBADF, 0},
    {EINVAL, 0},        {EAFNOSUPPORT, 0}, {EISCONN, 0},       {EALREADY, 0}, {EINPROGRESS, 0},
    {EINTR, 0},         {ENOTSOCK, 0},     {EFAULT, 0},        {ENOTSUP, 0},  {EMFILE, 0},
    {-ECONNREFUSED, 0},
};

START_TEST(test_network_error) {
    ck_assert_msg(he_race_network_error(neterr_rows[_i].err) == neterr_rows[_i].want,
                  "he_race_network_error(%d) = %d, want %d", neterr_rows[_i].err,
                  he_race_network_error(neterr_rows[_i].err), neterr_rows[_i].want);
}
END_TEST

START_TEST(test_state_names) {
    ck_assert_str_eq(he_attempt_state_name(HE_ATTEMPT_WAITING), "not-started");
    ck_assert_str_eq(he_attempt_state_name(HE_ATTEMPT_RUNNING), "running");
    ck_assert_str_eq(he_attempt_state_name(HE_ATTEMPT_FAILED), "failed");
    ck_assert_str_eq(he_attempt_state_name(HE_ATTEMPT_WON), "won");
    ck_assert_str_eq(he_attempt_state_name(HE_ATTEMPT_CANCELLED), "cancelled");
    ck_assert_str_eq(he_attempt_state_name(HE_ATTEMPT_SKIPPED), "skipped");
    ck_assert_str_eq(he_attempt_state_name((enum he_attempt_state)42), "?");
    ck_assert_str_eq(he_attempt_state_name((enum he_attempt_state) - 1), "?");
}
END_TEST

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* The event-driven form (he_race_begin/advance/settle/stop), as the helper
 * thread of racer/background.c drives it: the driver moves the clock and
 * reports outcomes itself; io->wait is never called. */

struct step_fake {
    int64_t now;
    int started[HE_RACE_MAX_ATTEMPTS];
    int64_t started_at[HE_RACE_MAX_ATTEMPTS];
    int cancelled[HE_RACE_MAX_ATTEMPTS];
};

static int64_t step_now(void *ctx) {
    return ((struct step_fake *)ctx)->now;
}

static int step_start(void *ctx, struct he_race *r, int index) {
    struct step_fake *f = ctx;
    f->started[index]++;
    f->started_at[index] = f->now;
    r->att[index].handle = 100 + index;
    return 0;
}

static enum he_wait_result step_wait(void *ctx, struct he_race *r, int timeout_ms, int *index,
                                     int *err) {
    (void)ctx, (void)r, (void)timeout_ms, (void)index, (void)err;
    ck_abort_msg("the event-driven race called wait()");
    return HE_WAIT_ERROR;
}

static void step_cancel(void *ctx, struct he_race *r, int index) {
    struct step_fake *f = ctx;
    ck_assert_msg(index > 0, "the caller's attempt was cancelled");
    f->cancelled[index]++;
    r->att[index].handle = -1;
}

static void step_setup(struct he_race *r, struct step_fake *f, struct he_race_io *io) {
    struct he_addr a[3] = {addr_of(V4A), addr_of(V4B), addr_of(V4C)};
    memset(f, 0, sizeof *f);
    f->now = T0;
    he_race_init(r, &a[0], a, 3, AF_INET, 250, 16);
    *io = (struct he_race_io){f, step_now, step_start, step_wait, step_cancel};
}

START_TEST(test_stepped_schedule_and_stop) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    step_setup(&r, &f, &io);
    ck_assert_int_eq(he_race_begin(&r, &io), 1);
    ck_assert_int_eq(f.started[0], 1);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 250);
    f.now = T0 + 100;
    ck_assert_int_eq(he_race_advance(&r, &io), 1);
    ck_assert_int_eq(f.started[1], 0);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 150);
    /* RFC 8305 §5: the next attempt at the Connection Attempt Delay. */
    f.now = T0 + 250;
    ck_assert_int_eq(he_race_advance(&r, &io), 1);
    ck_assert_int_eq(f.started[1], 1);
    ck_assert_int_eq(f.started_at[1], T0 + 250);
    /* A hard failure starts the next one at once. */
    f.now = T0 + 260;
    he_race_settle(&r, &io, 1, ECONNREFUSED);
    ck_assert_int_eq(f.cancelled[1], 1);
    ck_assert_int_eq(he_race_advance(&r, &io), 1);
    ck_assert_int_eq(f.started_at[2], T0 + 260);
    ck_assert_int_eq(he_race_siblings_left(&r), 1);
    /* Stopped: the running sibling is closed, the caller's own attempt is
     * left as it is. */
    he_race_stop(&r, &io, -EINPROGRESS);
    ck_assert(r.ended);
    ck_assert_int_eq(r.result, -EINPROGRESS);
    ck_assert_int_eq(f.cancelled[2], 1);
    ck_assert_int_eq(r.att[0].state, HE_ATTEMPT_RUNNING);
    ck_assert_int_eq(he_race_siblings_left(&r), 0);
    ck_assert_int_eq(he_race_advance(&r, &io), 0);
}
END_TEST

START_TEST(test_stepped_sibling_wins) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    step_setup(&r, &f, &io);
    he_race_begin(&r, &io);
    f.now = T0 + 250;
    he_race_advance(&r, &io);
    f.now = T0 + 500;
    he_race_advance(&r, &io);
    ck_assert_int_eq(f.started[2], 1);
    f.now = T0 + 510;
    he_race_settle(&r, &io, 2, 0);
    ck_assert(r.ended);
    ck_assert_int_eq(r.result, 2);
    ck_assert_int_eq(r.winner, 2);
    ck_assert_int_eq(f.cancelled[1], 1);
    ck_assert_int_eq(f.cancelled[2], 0);
    /* The splice replaces the caller's socket: its attempt ends. */
    ck_assert_int_eq(r.att[0].state, HE_ATTEMPT_CANCELLED);
    ck_assert_int_eq(he_race_advance(&r, &io), 0);
}
END_TEST

START_TEST(test_stepped_own_wins) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    step_setup(&r, &f, &io);
    he_race_begin(&r, &io);
    f.now = T0 + 300;
    he_race_advance(&r, &io);
    he_race_settle(&r, &io, 0, 0);
    ck_assert(r.ended);
    ck_assert_int_eq(r.result, 0);
    ck_assert_int_eq(f.cancelled[1], 1);
    ck_assert_int_eq(f.started[2], 0);
}
END_TEST

/* The caller's own attempt failed and the program waits, at most 100 ms,
 * for a rescue (racer/rescue.c): the siblings still waiting are spread
 * over that bound instead of one attempt delay apart, and at the bound the
 * race ends with the caller's own errno. */
START_TEST(test_stepped_hurry) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    step_setup(&r, &f, &io);
    he_race_begin(&r, &io);
    f.now = T0 + 1;
    he_race_settle(&r, &io, 0, ECONNREFUSED);
    ck_assert_int_eq(he_race_advance(&r, &io), 1);
    ck_assert_int_eq(f.started_at[1], T0 + 1);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 250);
    f.now = T0 + 2;
    he_race_hurry(&r, f.now, T0 + 102);
    ck_assert_int_eq(r.deadline_ms, T0 + 102);
    ck_assert_int_eq(r.deadline_err, EINPROGRESS);
    /* One waiting: half of what is left. */
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 50);
    f.now = T0 + 52;
    ck_assert_int_eq(he_race_advance(&r, &io), 1);
    ck_assert_int_eq(f.started_at[2], T0 + 52);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 50);
    /* A later bound leaves the earlier one. */
    he_race_hurry(&r, f.now, T0 + 500);
    ck_assert_int_eq(r.deadline_ms, T0 + 102);
    f.now = T0 + 102;
    ck_assert_int_eq(he_race_advance(&r, &io), 0);
    ck_assert(r.ended);
    ck_assert_int_eq(r.result, -ECONNREFUSED);
    ck_assert_int_eq(f.cancelled[1], 1);
    ck_assert_int_eq(f.cancelled[2], 1);
}
END_TEST

/* Many waiting, a short bound: never closer than RFC 8305 §5's 10 ms. */
START_TEST(test_stepped_hurry_floor) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    step_setup(&r, &f, &io);
    he_race_begin(&r, &io);
    f.now = T0 + 1;
    he_race_hurry(&r, f.now, T0 + 21);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 10);
}
END_TEST

/* Banner races (HE_BANNER_PORTS): a handshake is not a win; the first
 * attempt that has received a byte is. */
static void banner_setup(struct he_race *r, struct step_fake *f, struct he_race_io *io) {
    step_setup(r, f, io);
    he_race_set_banner(r, 1000);
    ck_assert_int_eq(he_race_begin(r, io), 1);
}

/* The own attempt connects but stays silent (a listener that never
 * accepts): the sibling starts on the usual schedule and, once it speaks,
 * wins over the own attempt that connected first. */
START_TEST(test_banner_silent_own_loses_to_speaker) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    banner_setup(&r, &f, &io);
    f.now = T0 + 1;
    he_race_settle(&r, &io, 0, 0);
    ck_assert(!r.ended);
    ck_assert_int_eq(r.att[0].state, HE_ATTEMPT_SILENT);
    ck_assert_int_eq(he_race_advance(&r, &io), 1);
    ck_assert_int_eq(f.started[1], 0);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 249);
    f.now = T0 + 250;
    he_race_advance(&r, &io);
    ck_assert_int_eq(f.started_at[1], T0 + 250);
    f.now = T0 + 251;
    he_race_settle(&r, &io, 1, 0);
    ck_assert(!r.ended);
    ck_assert_int_eq(r.att[1].state, HE_ATTEMPT_SILENT);
    f.now = T0 + 252;
    he_race_settle(&r, &io, 1, 0); /* it spoke */
    ck_assert(r.ended);
    ck_assert_int_eq(r.result, 1);
    ck_assert_int_eq(r.att[0].state, HE_ATTEMPT_CANCELLED);
}
END_TEST

/* Closed (EOF) or reset before a word: a hard failure, the next attempt at
 * once, as for a refusal. */
START_TEST(test_banner_close_is_hard_failure) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    banner_setup(&r, &f, &io);
    f.now = T0 + 1;
    he_race_settle(&r, &io, 0, 0);
    f.now = T0 + 2;
    he_race_settle(&r, &io, 0, ENODATA);
    ck_assert_int_eq(r.att[0].state, HE_ATTEMPT_FAILED);
    ck_assert_int_eq(he_race_advance(&r, &io), 1);
    ck_assert_int_eq(f.started_at[1], T0 + 2);
}
END_TEST

/* Nothing speaks by the banner time: the first that connected wins. */
START_TEST(test_banner_time_first_connected_wins) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    banner_setup(&r, &f, &io);
    f.now = T0 + 250;
    he_race_advance(&r, &io);
    f.now = T0 + 260;
    he_race_settle(&r, &io, 1, 0);
    f.now = T0 + 270;
    he_race_settle(&r, &io, 0, 0);
    he_race_advance(&r, &io);
    ck_assert(!r.ended);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 230); /* the third is due at 500 */
    f.now = T0 + 500;
    he_race_advance(&r, &io);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 500); /* the banner time */
    f.now = T0 + 1000;
    ck_assert_int_eq(he_race_advance(&r, &io), 0);
    ck_assert_int_eq(r.result, 1);
    ck_assert_int_eq(f.cancelled[2], 1);
}
END_TEST

/* Past the banner time a handshake wins at once again. */
START_TEST(test_banner_late_connect_wins) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    banner_setup(&r, &f, &io);
    f.now = T0 + 1200;
    he_race_settle(&r, &io, 0, 0);
    ck_assert(r.ended);
    ck_assert_int_eq(r.result, 0);
}
END_TEST

/* Every attempt failed, the own one after connecting: the program gets its
 * own socket, connected, as without libhe. */
START_TEST(test_banner_all_closed_own_socket_stays) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    struct he_addr a[2] = {addr_of(V4A), addr_of(V4B)};
    memset(&f, 0, sizeof f);
    f.now = T0;
    he_race_init(&r, &a[0], a, 2, AF_INET, 250, 16);
    io = (struct he_race_io){&f, step_now, step_start, step_wait, step_cancel};
    he_race_set_banner(&r, 1000);
    he_race_begin(&r, &io);
    f.now = T0 + 1;
    he_race_settle(&r, &io, 0, 0);
    he_race_settle(&r, &io, 0, ENODATA);
    he_race_advance(&r, &io);
    f.now = T0 + 2;
    he_race_settle(&r, &io, 1, ECONNREFUSED);
    ck_assert_int_eq(he_race_advance(&r, &io), 0);
    ck_assert_int_eq(r.result, 0);
    ck_assert_int_eq(r.winner, 0);
}
END_TEST

/* The caller's deadline (SO_SNDTIMEO) while attempts are connected but
 * silent: connected is what the kernel would have said. */
START_TEST(test_banner_deadline_takes_silent) {
    struct he_race r;
    struct step_fake f;
    struct he_race_io io;
    step_setup(&r, &f, &io);
    he_race_set_banner(&r, 1000);
    he_race_set_deadline(&r, T0 + 100, EINPROGRESS);
    he_race_begin(&r, &io);
    f.now = T0 + 1;
    he_race_settle(&r, &io, 0, 0);
    ck_assert_int_eq(he_race_wait_ms(&r, f.now), 32); /* the deadline's spread */
    f.now = T0 + 100;
    ck_assert_int_eq(he_race_advance(&r, &io), 0);
    ck_assert_int_eq(r.result, 0);
}
END_TEST

static Suite *race_suite(void) {
    Suite *s = suite_create("race");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_race_table, 0, RACE_ROWS);
    suite_add_tcase(s, tc);

    tc = tcase_create("init");
    tcase_add_loop_test(tc, test_init_order, 0, ORDER_ROWS);
    tcase_add_loop_test(tc, test_init_delay_clamp, 0,
                        (int)(sizeof delay_rows / sizeof delay_rows[0]));
    tcase_add_test(tc, test_init_caps_at_max_attempts_limit);
    tcase_add_test(tc, test_set_deadline);
    suite_add_tcase(s, tc);

    tc = tcase_create("siblings");
    tcase_add_loop_test(tc, test_count_siblings, 0,
                        (int)(sizeof sibling_rows / sizeof sibling_rows[0]));
    tcase_add_test(tc, test_count_siblings_scope_differs);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_network_error, 0,
                        (int)(sizeof neterr_rows / sizeof neterr_rows[0]));
    tcase_add_test(tc, test_state_names);
    tcase_add_test(tc, test_stepped_schedule_and_stop);
    tcase_add_test(tc, test_stepped_sibling_wins);
    tcase_add_test(tc, test_stepped_own_wins);
    tcase_add_test(tc, test_stepped_hurry);
    tcase_add_test(tc, test_stepped_hurry_floor);
    tcase_add_test(tc, test_banner_silent_own_loses_to_speaker);
    tcase_add_test(tc, test_banner_close_is_hard_failure);
    tcase_add_test(tc, test_banner_time_first_connected_wins);
    tcase_add_test(tc, test_banner_late_connect_wins);
    tcase_add_test(tc, test_banner_all_closed_own_socket_stays);
    tcase_add_test(tc, test_banner_deadline_takes_silent);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(race_suite)

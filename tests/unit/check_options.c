/* Unit tests for socket-option capture and replay (racer/options.c).
 *
 * Real sockets, no network: socket(), setsockopt() and getsockopt() only,
 * nothing is bound or connected.  A "caller" socket gets the options a
 * program commonly sets before connect(); he_options_capture compares it
 * with a fresh socket and replays the differences on it; he_options_apply
 * replays them on a third.  Every option must then read back from the fresh
 * and the third socket exactly as from the caller's. */
#include "../../racer/options.h"

#include "he_check.h"

#include <check.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* One option as the test sets and reads it. */
struct opt {
    const char *name;
    int level, optname;
    unsigned len;
    union {
        int i;
        struct linger l;
        struct timeval tv;
        unsigned char raw[32];
    } value;
};

#define INT_OPT(lvl, nm, v)                                                                        \
    {                                                                                              \
#nm, lvl, nm, sizeof(int), {                                                               \
            .i = (v)                                                                               \
        }                                                                                          \
    }

/* In the order a program might set them.  IP_TOS comes before SO_PRIORITY
 * as in the brief: setting IP_TOS also sets the priority (ip(7)), so a
 * program that wants its own priority sets it afterwards. */
static const struct opt common_opts[] = {
    INT_OPT(IPPROTO_TCP, TCP_NODELAY, 1),
    INT_OPT(SOL_SOCKET, SO_KEEPALIVE, 1),
    INT_OPT(IPPROTO_TCP, TCP_KEEPIDLE, 77),
    INT_OPT(IPPROTO_TCP, TCP_KEEPINTVL, 13),
    INT_OPT(IPPROTO_TCP, TCP_KEEPCNT, 4),
    INT_OPT(SOL_SOCKET, SO_RCVBUF, 100000),
    INT_OPT(SOL_SOCKET, SO_SNDBUF, 150000),
    {"SO_LINGER", SOL_SOCKET, SO_LINGER, sizeof(struct linger), {.l = {1, 7}}},
    {"SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO, sizeof(struct timeval), {.tv = {3, 500000}}},
    {"SO_SNDTIMEO", SOL_SOCKET, SO_SNDTIMEO, sizeof(struct timeval), {.tv = {2, 250000}}},
    INT_OPT(IPPROTO_IP, IP_TOS, 0x10),
    INT_OPT(SOL_SOCKET, SO_PRIORITY, 3),
    INT_OPT(IPPROTO_TCP, TCP_USER_TIMEOUT, 30000),
};

static const struct opt v6_opts[] = {
    INT_OPT(IPPROTO_IPV6, IPV6_TCLASS, 0x20),
    INT_OPT(IPPROTO_IPV6, IPV6_V6ONLY, 1),
};

#define N_COMMON (int)(sizeof common_opts / sizeof common_opts[0])
#define N_V6 (int)(sizeof v6_opts / sizeof v6_opts[0])

static int tcp_socket(int family) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    ck_assert_msg(fd >= 0, "socket(%s): %s", family == AF_INET ? "AF_INET" : "AF_INET6",
                  strerror(errno));
    return fd;
}

static void set_opt(int fd, const struct opt *o) {
    ck_assert_msg(setsockopt(fd, o->level, o->optname, &o->value, o->len) == 0,
                  "setsockopt(%s): %s", o->name, strerror(errno));
}

struct readback {
    int rc; /* 0 or errno */
    socklen_t len;
    unsigned char value[32];
};

static void get_opt(int fd, const struct opt *o, struct readback *r) {
    memset(r, 0, sizeof *r);
    r->len = o->len;
    r->rc = getsockopt(fd, o->level, o->optname, r->value, &r->len) == 0 ? 0 : errno;
}

static void describe(const struct opt *o, const struct readback *r, char *buf, size_t len) {
    if (r->rc) {
        snprintf(buf, len, "error %s", strerror(r->rc));
    } else if (r->len == sizeof(int) && o->len == sizeof(int)) {
        int v;
        memcpy(&v, r->value, sizeof v);
        snprintf(buf, len, "%d", v);
    } else if (o->optname == SO_LINGER && o->level == SOL_SOCKET) {
        struct linger l;
        memcpy(&l, r->value, sizeof l);
        snprintf(buf, len, "{%d, %d}", l.l_onoff, l.l_linger);
    } else {
        struct timeval tv;
        memcpy(&tv, r->value, sizeof tv);
        snprintf(buf, len, "{%ld s, %ld us}", (long)tv.tv_sec, (long)tv.tv_usec);
    }
}

/* Compares every option of opts on fd with the caller's; appends each
 * difference to report.  Returns the number of differences. */
static int compare_all(int caller, int fd, const struct opt *opts, int n, char *report,
                       size_t len) {
    int diffs = 0;
    for (int i = 0; i < n; i++) {
        struct readback want, got;
        get_opt(caller, &opts[i], &want);
        get_opt(fd, &opts[i], &got);
        ck_assert_msg(want.rc == 0, "getsockopt(%s) on the caller's socket: %s", opts[i].name,
                      strerror(want.rc));
        if (got.rc == 0 && got.len == want.len && memcmp(got.value, want.value, want.len) == 0) {
            continue;
        }
        char w[64], g[64];
        describe(&opts[i], &want, w, sizeof w);
        describe(&opts[i], &got, g, sizeof g);
        size_t used = strlen(report);
        snprintf(report + used, len - used, " %s: %s, caller %s;", opts[i].name, g, w);
        diffs++;
    }
    return diffs;
}

/* Sets opts on a caller socket of family, captures against a fresh one,
 * applies to a third, and checks both against the caller. */
static void replay_and_compare(int family, const struct opt *const *sets, const int *counts,
                               int nsets) {
    int caller = tcp_socket(family);
    for (int s = 0; s < nsets; s++) {
        for (int i = 0; i < counts[s]; i++) {
            set_opt(caller, &sets[s][i]);
        }
    }
    int fresh = tcp_socket(family);
    struct he_options o;
    memset(&o, 0xa5, sizeof o);
    ck_assert_int_eq(he_options_capture(&o, caller, fresh), 0);
    ck_assert_int_gt(o.count, 0);
    ck_assert_int_le(o.count, HE_OPTIONS_MAX);

    int third = tcp_socket(family);
    ck_assert_int_eq(he_options_apply(&o, third), 0);

    char on_fresh[1024] = "", on_third[1024] = "";
    int diffs = 0;
    for (int s = 0; s < nsets; s++) {
        diffs += compare_all(caller, fresh, sets[s], counts[s], on_fresh, sizeof on_fresh);
        diffs += compare_all(caller, third, sets[s], counts[s], on_third, sizeof on_third);
    }
    ck_assert_msg(diffs == 0,
                  "after capture, the fresh socket differs:%s / after apply, "
                  "the third socket differs:%s",
                  on_fresh, on_third);
    close(caller);
    close(fresh);
    close(third);
}

START_TEST(test_replay_ipv4) {
    const struct opt *sets[] = {common_opts};
    const int counts[] = {N_COMMON};
    replay_and_compare(AF_INET, sets, counts, 1);
}
END_TEST

START_TEST(test_replay_ipv6) {
    const struct opt *sets[] = {common_opts, v6_opts};
    const int counts[] = {N_COMMON, N_V6};
    replay_and_compare(AF_INET6, sets, counts, 2);
}
END_TEST

/* Each option alone: a capture of exactly one difference that replays. */
static const struct opt single_opts[] = {
    INT_OPT(IPPROTO_TCP, TCP_NODELAY, 1),
    INT_OPT(SOL_SOCKET, SO_KEEPALIVE, 1),
    INT_OPT(IPPROTO_TCP, TCP_KEEPIDLE, 77),
    INT_OPT(IPPROTO_TCP, TCP_KEEPINTVL, 13),
    INT_OPT(IPPROTO_TCP, TCP_KEEPCNT, 4),
    INT_OPT(SOL_SOCKET, SO_RCVBUF, 100000),
    INT_OPT(SOL_SOCKET, SO_SNDBUF, 150000),
    {"SO_LINGER", SOL_SOCKET, SO_LINGER, sizeof(struct linger), {.l = {1, 7}}},
    {"SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO, sizeof(struct timeval), {.tv = {3, 500000}}},
    {"SO_SNDTIMEO", SOL_SOCKET, SO_SNDTIMEO, sizeof(struct timeval), {.tv = {2, 250000}}},
    INT_OPT(SOL_SOCKET, SO_PRIORITY, 3),
    INT_OPT(IPPROTO_TCP, TCP_USER_TIMEOUT, 30000),
};

START_TEST(test_single_option_ipv4) {
    const struct opt *o = &single_opts[_i];
    int caller = tcp_socket(AF_INET), fresh = tcp_socket(AF_INET), third = tcp_socket(AF_INET);
    set_opt(caller, o);
    struct he_options cap;
    ck_assert_int_eq(he_options_capture(&cap, caller, fresh), 0);
    ck_assert_msg(cap.count == 1, "%s: %d options captured, want 1", o->name, cap.count);
    ck_assert_int_eq(he_options_apply(&cap, third), 0);
    char report[256] = "";
    ck_assert_msg(compare_all(caller, fresh, o, 1, report, sizeof report) == 0, "%s", report);
    ck_assert_msg(compare_all(caller, third, o, 1, report, sizeof report) == 0, "%s", report);
    close(caller);
    close(fresh);
    close(third);
}
END_TEST

/* IP_TOS alone changes two things the table knows, IP_TOS and (through
 * the kernel) SO_PRIORITY: both must come out the same. */
START_TEST(test_tos_alone) {
    static const struct opt pair[] = {
        INT_OPT(IPPROTO_IP, IP_TOS, 0x10), INT_OPT(SOL_SOCKET, SO_PRIORITY, 0), /* compared only */
    };
    int caller = tcp_socket(AF_INET), fresh = tcp_socket(AF_INET), third = tcp_socket(AF_INET);
    set_opt(caller, &pair[0]);
    struct he_options cap;
    ck_assert_int_eq(he_options_capture(&cap, caller, fresh), 0);
    ck_assert_int_eq(he_options_apply(&cap, third), 0);
    char report[512] = "";
    ck_assert_msg(compare_all(caller, fresh, pair, 2, report, sizeof report) == 0, "%s", report);
    ck_assert_msg(compare_all(caller, third, pair, 2, report, sizeof report) == 0, "%s", report);
    close(caller);
    close(fresh);
    close(third);
}
END_TEST

/* IP_TOS then SO_PRIORITY on the caller: the replay must end with the
 * caller's priority, whatever order the table sets them in. */
START_TEST(test_tos_then_priority) {
    static const struct opt pair[] = {
        INT_OPT(IPPROTO_IP, IP_TOS, 0x10),
        INT_OPT(SOL_SOCKET, SO_PRIORITY, 3),
    };
    int caller = tcp_socket(AF_INET), fresh = tcp_socket(AF_INET), third = tcp_socket(AF_INET);
    set_opt(caller, &pair[0]);
    set_opt(caller, &pair[1]);
    struct he_options cap;
    int rc = he_options_capture(&cap, caller, fresh);
    /* -ENOTSUP (do not race) would be acceptable; a silent difference is not. */
    if (rc == 0) {
        ck_assert_int_eq(he_options_apply(&cap, third), 0);
        char report[512] = "";
        ck_assert_msg(compare_all(caller, fresh, pair, 2, report, sizeof report) == 0,
                      "capture returned 0 but the fresh socket differs:%s", report);
        ck_assert_msg(compare_all(caller, third, pair, 2, report, sizeof report) == 0,
                      "apply returned 0 but the third socket differs:%s", report);
    } else {
        ck_assert_int_eq(rc, -ENOTSUP);
    }
    close(caller);
    close(fresh);
    close(third);
}
END_TEST

START_TEST(test_unchanged_captures_nothing) {
    static const int families[] = {AF_INET, AF_INET6};
    for (int f = 0; f < 2; f++) {
        int caller = tcp_socket(families[f]), fresh = tcp_socket(families[f]);
        struct he_options o;
        memset(&o, 0xa5, sizeof o);
        ck_assert_int_eq(he_options_capture(&o, caller, fresh), 0);
        ck_assert_int_eq(o.count, 0);
        int third = tcp_socket(families[f]);
        ck_assert_int_eq(he_options_apply(&o, third), 0);
        close(caller);
        close(fresh);
        close(third);
    }
}
END_TEST

START_TEST(test_set_to_default_captures_nothing) {
    /* Setting an option to the value it already has is no difference. */
    int caller = tcp_socket(AF_INET), fresh = tcp_socket(AF_INET);
    int zero = 0;
    ck_assert_int_eq(setsockopt(caller, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero), 0);
    ck_assert_int_eq(setsockopt(caller, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero), 0);
    struct he_options o;
    ck_assert_int_eq(he_options_capture(&o, caller, fresh), 0);
    ck_assert_int_eq(o.count, 0);
    close(caller);
    close(fresh);
}
END_TEST

START_TEST(test_v6only_alone) {
    int caller = tcp_socket(AF_INET6), fresh = tcp_socket(AF_INET6), third = tcp_socket(AF_INET6);
    int fresh_v6only = -1;
    socklen_t len = sizeof fresh_v6only;
    ck_assert_int_eq(getsockopt(fresh, IPPROTO_IPV6, IPV6_V6ONLY, &fresh_v6only, &len), 0);
    /* Whatever the sysctl default is, the caller gets the other value. */
    const struct opt flip = INT_OPT(IPPROTO_IPV6, IPV6_V6ONLY, !fresh_v6only);
    set_opt(caller, &flip);
    struct he_options o;
    ck_assert_int_eq(he_options_capture(&o, caller, fresh), 0);
    ck_assert_int_eq(o.count, 1);
    ck_assert_int_eq(he_options_apply(&o, third), 0);
    char report[256] = "";
    ck_assert_msg(compare_all(caller, third, &flip, 1, report, sizeof report) == 0, "%s", report);
    close(caller);
    close(fresh);
    close(third);
}
END_TEST

START_TEST(test_apply_to_bad_fd) {
    int caller = tcp_socket(AF_INET), fresh = tcp_socket(AF_INET);
    set_opt(caller, &common_opts[0]); /* TCP_NODELAY */
    struct he_options o;
    ck_assert_int_eq(he_options_capture(&o, caller, fresh), 0);
    ck_assert_int_eq(o.count, 1);
    int dead = tcp_socket(AF_INET);
    close(dead);
    ck_assert_int_eq(he_options_apply(&o, dead), -EBADF);
    close(caller);
    close(fresh);
}
END_TEST

static Suite *options_suite(void) {
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("replay");
    tcase_add_test(tc, test_replay_ipv4);
    tcase_add_test(tc, test_replay_ipv6);
    tcase_add_loop_test(tc, test_single_option_ipv4, 0,
                        (int)(sizeof single_opts / sizeof single_opts[0]));
    tcase_add_test(tc, test_tos_alone);
    tcase_add_test(tc, test_tos_then_priority);
    tcase_add_test(tc, test_unchanged_captures_nothing);
    tcase_add_test(tc, test_set_to_default_captures_nothing);
    tcase_add_test(tc, test_v6only_alone);
    tcase_add_test(tc, test_apply_to_bad_fd);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(options_suite)

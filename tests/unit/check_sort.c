/* Unit tests for glibc-compatible destination ordering (resolver/sort.c).
 *
 * The ordering rows use a fake source lookup: each row lists, per
 * destination, the source address glibc would find and what its interface
 * says, and the order glibc 2.36 gives.  The expected orders were checked
 * against the real getaddrinfo in a network namespace set up the same way
 * (addresses from a bind-mounted /etc/hosts, a bind-mounted /etc/gai.conf). */
#include "../../resolver/sort.h"

#include "addrs.h"

#include "he_check.h"
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROW_MAX 8

/* ------------------------------------------------------------------------ */
/* Fake source lookup                                                         */

#define F_DEPRECATED 1
#define F_HOME 2
#define F_TUNNEL 4 /* the source's interface is a tunnel (rule 7) */
#define F_NOIF 8   /* the source is on no interface glibc knows of */

struct fake_src {
    const char *dst;
    const char *src; /* NULL: unusable destination */
    int prefixlen;
    int flags;
    uint32_t index; /* 0: 1 */
};

struct fake_ctx {
    const struct fake_src *rows;
    int calls;
    struct he_addr called[ROW_MAX * 2];
};

static int fake_source(void *ctx, const struct he_addr *dst, struct he_sort_src *out) {
    struct fake_ctx *fc = ctx;
    if (fc->calls < ROW_MAX * 2) {
        fc->called[fc->calls] = *dst;
    }
    fc->calls++;
    for (const struct fake_src *r = fc->rows; r && r->dst; r++) {
        struct he_addr d = addr_of(r->dst);
        if (!he_addr_equal(&d, dst)) {
            continue;
        }
        if (r->src == NULL) {
            return -ENETUNREACH;
        }
        out->ok = 1;
        out->addr = addr_of(r->src);
        if (r->flags & F_NOIF) {
            return 0;
        }
        out->prefixlen = r->prefixlen;
        out->deprecated = (r->flags & F_DEPRECATED) != 0;
        out->home = (r->flags & F_HOME) != 0;
        out->index = r->index ? r->index : 1;
        out->native = !(r->flags & F_TUNNEL);
        return 0;
    }
    return -ENETUNREACH;
}

/* ------------------------------------------------------------------------ */
/* Policies                                                                   */

/* tests/integration/lab.sh's gai.conf: glibc's default precedences written
 * out, plus dead6v6.test's first address above its second. */
static const char lab_gai_conf[] = "precedence ::1/128 50\n"
                                   "precedence ::/0 40\n"
                                   "precedence 2002::/16 30\n"
                                   "precedence ::/96 20\n"
                                   "precedence ::ffff:0:0/96 10\n"
                                   "precedence 2001:db8:1::20/128 45\n";

/* IPv4 and IPv6 at the same precedence: glibc's comparison stops being an
 * order when rule 9 has a say. */
static const char equal_gai_conf[] = "precedence ::ffff:0:0/96 40\nprecedence ::/0 40\n";

static struct he_sort_policy *policy_of(const char *text) {
    if (text == NULL) {
        return NULL;
    }
    struct he_sort_policy *p = NULL;
    ck_assert_int_eq(he_sort_policy_parse(text, strlen(text), &p), 0);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Ordering table                                                             */

struct sort_row {
    const char *name;
    const char *gai_conf; /* NULL: glibc's defaults */
    const char *dst[ROW_MAX];
    struct fake_src src[ROW_MAX + 1];
    const char *want[ROW_MAX];
    int rc;
    int per_addr; /* entries per address; 0: 1 */
};

static const struct sort_row sort_rows[] = {
    /* RFC 6724 section 10.2's examples, as glibc's tables order them. */
    {"rfc6724 rule 2: matching scope beats precedence",
     NULL,
     {"2001:db8:1::1", "198.51.100.121"},
     {{"2001:db8:1::1", "fe80::2", 64, 0, 0}, {"198.51.100.121", "198.51.100.117", 24, 0, 0}},
     {"198.51.100.121", "2001:db8:1::1"},
     0,
     1},
    {"rfc6724 rule 2: v6 source of matching scope",
     NULL,
     {"198.51.100.121", "2001:db8:1::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, 0, 0}, {"198.51.100.121", "169.254.13.78", 16, 0, 0}},
     {"2001:db8:1::1", "198.51.100.121"},
     0,
     1},
    {"rfc6724 rule 6: IPv6 (40) above IPv4 (10)",
     NULL,
     {"10.1.2.3", "2001:db8:1::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, 0, 0}, {"10.1.2.3", "10.1.2.4", 8, 0, 0}},
     {"2001:db8:1::1", "10.1.2.3"},
     0,
     1},
    {"rfc6724 rule 8: smaller scope",
     NULL,
     {"2001:db8:1::1", "fe80::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, 0, 0}, {"fe80::1", "fe80::2", 64, 0, 0}},
     {"fe80::1", "2001:db8:1::1"},
     0,
     1},
    {"rfc6724 rule 9: longest matching prefix",
     NULL,
     {"2001:db8:3ffe::1", "2001:db8:1::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, 0, 0},
      {"2001:db8:3ffe::1", "2001:db8:3f44::2", 64, 0, 0}},
     {"2001:db8:1::1", "2001:db8:3ffe::1"},
     0,
     1},
    {"rfc6724 rule 5: matching label (6to4 source)",
     NULL,
     {"2001:db8:1::1", "2002:c633:6401::1"},
     {{"2001:db8:1::1", "2002:c633:6401::2", 48, 0, 0},
      {"2002:c633:6401::1", "2002:c633:6401::2", 48, 0, 0}},
     {"2002:c633:6401::1", "2001:db8:1::1"},
     0,
     1},
    {"rfc6724 rule 6: 6to4 (30) below native (40)",
     NULL,
     {"2002:c633:6401::1", "2001:db8:1::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, 0, 0},
      {"2002:c633:6401::1", "2002:c633:6401::2", 48, 0, 0}},
     {"2001:db8:1::1", "2002:c633:6401::1"},
     0,
     1},
    /* Where glibc's RFC 3484 tables differ from RFC 6724's. */
    {"glibc: ULA (40) above IPv4 (10), unlike RFC 6724",
     NULL,
     {"198.51.100.1", "fd00::1"},
     {{"198.51.100.1", "198.51.100.2", 24, 0, 0}, {"fd00::1", "fd00::2", 64, 0, 0}},
     {"fd00::1", "198.51.100.1"},
     0,
     1},
    {"glibc: Teredo (40) above IPv4 (10), unlike RFC 6724",
     NULL,
     {"198.51.100.1", "2001:0:4136:e378::1"},
     {{"198.51.100.1", "198.51.100.2", 24, 0, 0},
      {"2001:0:4136:e378::1", "2001:0:4136:e378::2", 64, 0, 0}},
     {"2001:0:4136:e378::1", "198.51.100.1"},
     0,
     1},
    {"glibc: site-local fec0::/10 is scope 5",
     NULL,
     {"2001:db8:1::1", "fec0::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, 0, 0}, {"fec0::1", "fec0::2", 64, 0, 0}},
     {"fec0::1", "2001:db8:1::1"},
     0,
     1},
    /* Each rule alone. */
    {"rule 1: unusable last",
     NULL,
     {"2001:db8:1::1", "192.0.2.1"},
     {{"2001:db8:1::1", NULL, 0, 0, 0}, {"192.0.2.1", "192.0.2.2", 24, 0, 0}},
     {"192.0.2.1", "2001:db8:1::1"},
     0,
     1},
    {"rule 1: all unusable, precedence still orders",
     NULL,
     {"192.0.2.1", "2001:db8:1::1", "192.0.2.2"},
     {{NULL}},
     {"2001:db8:1::1", "192.0.2.1", "192.0.2.2"},
     0,
     1},
    {"rule 3: deprecated source last",
     NULL,
     {"2001:db8:1::1", "2001:db8:2::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, F_DEPRECATED, 0},
      {"2001:db8:2::1", "2001:db8:2::2", 64, 0, 0}},
     {"2001:db8:2::1", "2001:db8:1::1"},
     0,
     1},
    {"rule 4: home address first",
     NULL,
     {"2001:db8:1::1", "2001:db8:2::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, 0, 0},
      {"2001:db8:2::1", "2001:db8:2::2", 64, F_HOME, 0}},
     {"2001:db8:2::1", "2001:db8:1::1"},
     0,
     1},
    {"rule 7: native interface before a tunnel",
     NULL,
     {"2001:db8:1::1", "2001:db8:2::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, F_TUNNEL, 7},
      {"2001:db8:2::1", "2001:db8:2::2", 64, 0, 8}},
     {"2001:db8:2::1", "2001:db8:1::1"},
     0,
     1},
    {"rule 7: a source on no known interface counts as not native",
     NULL,
     {"2001:db8:1::1", "2001:db8:2::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, F_NOIF, 0},
      {"2001:db8:2::1", "2001:db8:2::2", 64, 0, 8}},
     {"2001:db8:2::1", "2001:db8:1::1"},
     0,
     1},
    {"rule 7: same interface, no difference",
     NULL,
     {"2001:db8:1::1", "2001:db8:2::1"},
     {{"2001:db8:1::1", "2001:db8:1::2", 64, 0, 3}, {"2001:db8:2::1", "2001:db8:2::2", 64, 0, 3}},
     {"2001:db8:1::1", "2001:db8:2::1"},
     0,
     1},
    /* Rule 9 as glibc does it. */
    {"rule 9 IPv4: only inside the source's subnet",
     NULL,
     {"203.0.113.1", "198.51.100.3"},
     {{"203.0.113.1", "198.51.100.1", 24, 0, 0}, {"198.51.100.3", "198.51.100.1", 24, 0, 0}},
     {"198.51.100.3", "203.0.113.1"},
     0,
     1},
    {"rule 9 IPv4: leading bits within the subnet",
     NULL,
     {"198.51.100.200", "198.51.100.3"},
     {{"198.51.100.200", "198.51.100.1", 24, 0, 0}, {"198.51.100.3", "198.51.100.1", 24, 0, 0}},
     {"198.51.100.3", "198.51.100.200"},
     0,
     1},
    {"rule 9 IPv4: prefix length 0 (no IPv6 on the host) keeps order",
     NULL,
     {"198.51.100.200", "198.51.100.3"},
     {{"198.51.100.200", "198.51.100.1", 0, F_NOIF, 0},
      {"198.51.100.3", "198.51.100.1", 0, F_NOIF, 0}},
     {"198.51.100.200", "198.51.100.3"},
     0,
     1},
    {"rule 9 IPv4: prefix length 0 still prefers the source itself",
     NULL,
     {"198.51.100.200", "198.51.100.1"},
     {{"198.51.100.200", "198.51.100.1", 0, F_NOIF, 0},
      {"198.51.100.1", "198.51.100.1", 0, F_NOIF, 0}},
     {"198.51.100.1", "198.51.100.200"},
     0,
     1},
    {"rule 9 IPv6: whole address, past the /64",
     NULL,
     {"2001:db8:1::20", "2001:db8:1::10"},
     {{"2001:db8:1::20", "2001:db8:1::1", 64, 0, 0}, {"2001:db8:1::10", "2001:db8:1::1", 64, 0, 0}},
     {"2001:db8:1::10", "2001:db8:1::20"},
     0,
     1},
    {"rule 9 is not applied across families",
     "precedence ::/0 40\nprecedence ::ffff:0:0/96 40\nlabel ::/0 1\n",
     {"198.51.100.200", "2001:db8:1::1"},
     {{"198.51.100.200", "198.51.100.1", 24, 0, 0}, {"2001:db8:1::1", "2001:db8:1::1", 64, 0, 0}},
     {"198.51.100.200", "2001:db8:1::1"},
     0,
     1},
    /* v4-mapped destinations (AF_INET6 hints with AI_V4MAPPED) are IPv6 to glibc. */
    {"mapped: 127.0.0.5 is scope 2 as IPv4",
     NULL,
     {"192.0.2.1", "127.0.0.5"},
     {{"192.0.2.1", "192.0.2.2", 24, 0, 0}, {"127.0.0.5", "127.0.0.1", 8, 0, 0}},
     {"127.0.0.5", "192.0.2.1"},
     0,
     1},
    {"mapped: ::ffff:127.0.0.5 is scope 14, rule 9 on the whole address",
     NULL,
     {"::ffff:192.0.2.1", "::ffff:127.0.0.5"},
     {{"::ffff:192.0.2.1", "::ffff:192.0.2.2", 24, 0, 0},
      {"::ffff:127.0.0.5", "::ffff:127.0.0.1", 8, 0, 0}},
     {"::ffff:192.0.2.1", "::ffff:127.0.0.5"},
     0,
     1},
    /* Rule 10. */
    {"rule 10: ties keep their order",
     NULL,
     {"2001:db8:1::3", "2001:db8:1::1", "2001:db8:1::2"},
     {{"2001:db8:1::3", "2001:db8:2::1", 64, 0, 0},
      {"2001:db8:1::1", "2001:db8:2::1", 64, 0, 0},
      {"2001:db8:1::2", "2001:db8:2::1", 64, 0, 0}},
     {"2001:db8:1::3", "2001:db8:1::1", "2001:db8:1::2"},
     0,
     1},
    {"rule 10: IPv4 ties keep their order",
     NULL,
     {"192.0.2.9", "192.0.2.7", "192.0.2.8"},
     {{"192.0.2.9", "198.51.100.1", 24, 0, 0},
      {"192.0.2.7", "198.51.100.1", 24, 0, 0},
      {"192.0.2.8", "198.51.100.1", 24, 0, 0}},
     {"192.0.2.9", "192.0.2.7", "192.0.2.8"},
     0,
     1},
    /* tests/integration/lab.sh's names. */
    {"lab: dead6v6.test without gai.conf (rule 9)",
     NULL,
     {"2001:db8:1::20", "2001:db8:1::10"},
     {{"2001:db8:1::20", "2001:db8:1::1", 64, 0, 0}, {"2001:db8:1::10", "2001:db8:1::1", 64, 0, 0}},
     {"2001:db8:1::10", "2001:db8:1::20"},
     0,
     1},
    {"lab: dead6v6.test with the lab's gai.conf keeps hosts order",
     lab_gai_conf,
     {"2001:db8:1::20", "2001:db8:1::10"},
     {{"2001:db8:1::20", "2001:db8:1::1", 64, 0, 0}, {"2001:db8:1::10", "2001:db8:1::1", 64, 0, 0}},
     {"2001:db8:1::20", "2001:db8:1::10"},
     0,
     1},
    {"lab: dead6.test",
     lab_gai_conf,
     {"198.51.100.10", "2001:db8:1::20"},
     {{"2001:db8:1::20", "2001:db8:1::1", 64, 0, 0}, {"198.51.100.10", "198.51.100.1", 32, 0, 0}},
     {"2001:db8:1::20", "198.51.100.10"},
     0,
     1},
    /* When glibc's comparison is not an order (IPv4 and IPv6 tied through
     * rule 8, rule 9 applying within a family only), it matters how many
     * entries glibc sorts; checked against glibc with a netns: */
    {"not an order: 3 entries per address, kept together",
     equal_gai_conf,
     {"2001:db8:1::20", "198.51.100.10", "2001:db8:1::10"},
     {{"2001:db8:1::20", "2001:db8:1::1", 64, 0, 2},
      {"198.51.100.10", "198.51.100.1", 24, 0, 2},
      {"2001:db8:1::10", "2001:db8:1::1", 64, 0, 2}},
     {"2001:db8:1::20", "198.51.100.10", "2001:db8:1::10"},
     0,
     3},
    {"not an order: 1 entry per address (SOCK_STREAM)",
     equal_gai_conf,
     {"2001:db8:1::10", "198.51.100.200", "2001:db8:1::3", "203.0.113.5", "2001:db8:1::20"},
     {{"2001:db8:1::10", "2001:db8:1::1", 64, 0, 2},
      {"198.51.100.200", "198.51.100.1", 24, 0, 2},
      {"2001:db8:1::3", "2001:db8:1::1", 64, 0, 2},
      {"203.0.113.5", "203.0.113.1", 25, 0, 3},
      {"2001:db8:1::20", "2001:db8:1::1", 64, 0, 2}},
     {"2001:db8:1::3", "2001:db8:1::10", "203.0.113.5", "198.51.100.200", "2001:db8:1::20"},
     0,
     1},
    {"not an order: glibc splits the 3 entries of 2001:db8:1::3",
     equal_gai_conf,
     {"2001:db8:1::10", "198.51.100.200", "2001:db8:1::3", "203.0.113.5", "2001:db8:1::20"},
     {{"2001:db8:1::10", "2001:db8:1::1", 64, 0, 2},
      {"198.51.100.200", "198.51.100.1", 24, 0, 2},
      {"2001:db8:1::3", "2001:db8:1::1", 64, 0, 2},
      {"203.0.113.5", "203.0.113.1", 25, 0, 3},
      {"2001:db8:1::20", "2001:db8:1::1", 64, 0, 2}},
     /* untouched */
     {"2001:db8:1::10", "198.51.100.200", "2001:db8:1::3", "203.0.113.5", "2001:db8:1::20"},
     HE_SORT_INEXACT,
     3},
    {"the same with default precedences is an order",
     NULL,
     {"2001:db8:1::10", "198.51.100.200", "2001:db8:1::3", "203.0.113.5", "2001:db8:1::20"},
     {{"2001:db8:1::10", "2001:db8:1::1", 64, 0, 2},
      {"198.51.100.200", "198.51.100.1", 24, 0, 2},
      {"2001:db8:1::3", "2001:db8:1::1", 64, 0, 2},
      {"203.0.113.5", "203.0.113.1", 25, 0, 3},
      {"2001:db8:1::20", "2001:db8:1::1", 64, 0, 2}},
     {"2001:db8:1::3", "2001:db8:1::10", "2001:db8:1::20", "203.0.113.5", "198.51.100.200"},
     0,
     3},
};

static int row_len(const char *const *list) {
    int n = 0;
    while (n < ROW_MAX && list[n] != NULL) {
        n++;
    }
    return n;
}

START_TEST(test_sort_table) {
    const struct sort_row *row = &sort_rows[_i];
    struct he_sort_policy *p = policy_of(row->gai_conf);
    struct he_addr a[ROW_MAX];
    int n = row_len(row->dst);
    for (int i = 0; i < n; i++) {
        a[i] = addr_of(row->dst[i]);
    }
    struct fake_ctx fc = {row->src, 0, {{0}}};
    int per_addr = row->per_addr ? row->per_addr : 1;
    int rc = he_sort_rfc6724(a, n, per_addr, p, fake_source, &fc);
    ck_assert_msg(rc == row->rc, "%s: rc %d, want %d", row->name, rc, row->rc);
    ck_assert_msg(row_len(row->want) == n, "%s: bad row", row->name);
    for (int i = 0; i < n; i++) {
        char got[HE_ADDR_STRLEN];
        struct he_addr w = addr_of(row->want[i]);
        ck_assert_msg(he_addr_equal(&a[i], &w), "%s: position %d is %s, want %s", row->name, i,
                      he_addr_format(&a[i], got, sizeof got), row->want[i]);
    }
    he_sort_policy_free(p);
}
END_TEST

START_TEST(test_sort_source_calls) {
    /* Once per address in list order, once for a run of the same address,
     * and not at all for fewer than two. */
    const char *dst[] = {"192.0.2.1", "192.0.2.1", "2001:db8::1", "192.0.2.1"};
    struct he_addr a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = addr_of(dst[i]);
    }
    struct fake_ctx fc = {NULL, 0, {{0}}};
    ck_assert_int_eq(he_sort_rfc6724(a, 4, 3, NULL, fake_source, &fc), 0);
    ck_assert_int_eq(fc.calls, 3);
    struct he_addr w0 = addr_of("192.0.2.1"), w1 = addr_of("2001:db8::1");
    ck_assert(he_addr_equal(&fc.called[0], &w0));
    ck_assert(he_addr_equal(&fc.called[1], &w1));
    ck_assert(he_addr_equal(&fc.called[2], &w0));
    fc.calls = 0;
    ck_assert_int_eq(he_sort_rfc6724(a, 1, 1, NULL, fake_source, &fc), 0);
    ck_assert_int_eq(he_sort_rfc6724(a, 0, 1, NULL, fake_source, &fc), 0);
    ck_assert_int_eq(fc.calls, 0);
    ck_assert_int_eq(he_sort_rfc6724(a, -1, 1, NULL, fake_source, &fc), -EINVAL);
    ck_assert_int_eq(he_sort_rfc6724(a, 2, 0, NULL, fake_source, &fc), -EINVAL);
    ck_assert_int_eq(he_sort_rfc6724(a, 2, HE_SORT_MAX_PER_ADDR + 1, NULL, fake_source, &fc),
                     -EINVAL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Tables and gai.conf                                                        */

struct value_row {
    const char *addr;
    int label, precedence, scope;
};

static const struct value_row default_rows[] = {
    {"::1", 0, 50, 2},
    {"2002:c000:201::1", 2, 30, 14},
    {"::192.0.2.1", 3, 20, 14},
    {"192.0.2.1", 4, 10, 14},
    {"::ffff:192.0.2.1", 4, 10, 14},
    {"127.0.0.1", 4, 10, 2},
    {"::ffff:127.0.0.1", 4, 10, 14},
    {"169.254.1.1", 4, 10, 2},
    {"10.1.2.3", 4, 10, 14},
    {"fec0::1", 5, 40, 5},
    {"fd00::1", 6, 40, 14},
    {"2001:0:4136::1", 7, 40, 14},
    {"2001:db8::1", 1, 40, 14},
    {"fe80::1", 1, 40, 2},
    {"ff02::1", 1, 40, 2},
    {"ff05::1", 1, 40, 5},
    {"ff0e::1", 1, 40, 14},
    {"64:ff9b::1", 1, 40, 14},
};

static void assert_values(const struct he_sort_policy *p, const struct value_row *r,
                          const char *what) {
    struct he_addr a = addr_of(r->addr);
    ck_assert_msg(he_sort_label(p, &a) == r->label, "%s: label of %s is %d, want %d", what, r->addr,
                  he_sort_label(p, &a), r->label);
    ck_assert_msg(he_sort_precedence(p, &a) == r->precedence, "%s: precedence of %s is %d, want %d",
                  what, r->addr, he_sort_precedence(p, &a), r->precedence);
    ck_assert_msg(he_sort_scope(p, &a) == r->scope, "%s: scope of %s is %d, want %d", what, r->addr,
                  he_sort_scope(p, &a), r->scope);
}

START_TEST(test_default_tables) {
    assert_values(NULL, &default_rows[_i], "defaults");
    /* An empty file is the defaults too. */
    struct he_sort_policy *p = policy_of("");
    assert_values(p, &default_rows[_i], "empty gai.conf");
    he_sort_policy_free(p);
}
END_TEST

struct conf_row {
    const char *name;
    const char *text;
    struct value_row values[6];
};

/* {label, precedence, scope} per address; -1 in a row means "not checked"
 * is not needed: every value is spelled out. */
static const struct conf_row conf_rows[] = {
    {"precedence replaces the whole table, ::/0 40 added",
     "precedence 2001:db8::/32 7\n",
     {{"2001:db8::1", 1, 7, 14},
      {"::1", 0, 40, 2},
      {"192.0.2.1", 4, 40, 14},
      {"2002::1", 2, 40, 14}}},
    {"a /0 line stands for the added default",
     "precedence ::/0 3\nprecedence ::1/128 9\n",
     {{"2001:db8::1", 1, 3, 14}, {"::1", 0, 9, 2}, {"192.0.2.1", 4, 3, 14}}},
    {"label replaces the label table, ::/0 1 added",
     "label ::ffff:0:0/96 9\n",
     {{"192.0.2.1", 9, 10, 14}, {"::1", 1, 50, 2}, {"2002::1", 1, 30, 14}, {"fd00::1", 1, 40, 14}}},
    {"longest prefix first, whatever the file order",
     "precedence 2001:db8::/32 5\nprecedence 2001:db8:1::/48 6\nprecedence 2001:db8:1::1/128 7\n",
     {{"2001:db8::1", 1, 5, 14}, {"2001:db8:1::2", 1, 6, 14}, {"2001:db8:1::1", 1, 7, 14}}},
    {"equal prefixes: the first line wins",
     "precedence ::ffff:0:0/96 5\nprecedence ::/0 3\nprecedence ::ffff:0:0/96 1\n",
     {{"192.0.2.1", 4, 5, 14}, {"2001:db8::1", 1, 3, 14}}},
    {"odd bit counts",
     "precedence fc00::/7 3\nlabel fe80::/10 8\n",
     {{"fd00::1", 1, 3, 14}, {"fe00::1", 1, 40, 14}, {"febf::1", 8, 40, 2}, {"fec0::1", 1, 40, 5}}},
    {"scopev4 replaces the scope table, 0/0 14 added",
     "scopev4 10.0.0.0/8 5\n",
     {{"10.1.2.3", 4, 10, 5}, {"169.254.1.1", 4, 10, 14}, {"127.0.0.1", 4, 10, 14}}},
    {"scopev4 in mapped form, Debian's example",
     "scopev4 ::ffff:169.254.0.0/112  2\nscopev4 ::ffff:127.0.0.0/104    2\n"
     "scopev4 ::ffff:0.0.0.0/96       14\nscopev4 ::ffff:10.0.0.0/104 5\n",
     {{"169.254.1.1", 4, 10, 2},
      {"127.0.0.1", 4, 10, 2},
      {"10.1.2.3", 4, 10, 5},
      {"192.0.2.1", 4, 10, 14}}},
    {"scopev4 /0 and /32, most specific first",
     "scopev4 0.0.0.0/0 3\nscopev4 192.0.2.1/32 9\n",
     {{"192.0.2.1", 4, 10, 9}, {"192.0.2.2", 4, 10, 3}}},
    {"comments, blanks, tabs, CR and extra words",
     "# a comment\n\n   \t\nprecedence\t::ffff:0:0/96   7 extra words\r\n  label ::/0 2 # "
     "trailing\n",
     {{"192.0.2.1", 2, 7, 14}, {"2001:db8::1", 2, 40, 14}}},
    {"a missing value is 0, \"::/\" is /0, \"+3\" is 3",
     "precedence ::ffff:0:0/96\nprecedence ::/ +3\n",
     {{"192.0.2.1", 4, 0, 14}, {"2001:db8::1", 1, 3, 14}}},
    {"rejected lines: defaults stay",
     "precedence ::ffff:0:0/96 0x10\n" /* not decimal */
     "precedence ::ffff:0:0/96 -1\n"   /* strtoul: ULONG_MAX > INT_MAX */
     "precedence ::ffff:0:0/96 2147483648\n"
     "precedence ::ffff:0:0/129 5\n"
     "precedence ::ffff:0:0/96x 5\n"
     "precedence ::ffff:192.0.2.1 5\n" /* no /bits: glibc reads an unset pointer */
     "precedence 192.0.2.0/24 5\n"     /* IPv4 syntax */
     "precedence ::ffff:0:0/99999999999999999999 5\n"
     "label nonsense/3 5\n"
     "scopev4 192.0.2.1 5\n"     /* no /bits: glibc crashes */
     "scopev4 2001:db8::/96 5\n" /* not v4-mapped */
     "scopev4 ::ffff:0.0.0.0/95 5\n"
     "scopev4 10.0.0.0/33 5\n"
     "scopev4 10.0.0.0/8 x\n"
     "Precedence ::ffff:0:0/96 5\n" /* commands are case-sensitive */
     "reload yes\n"
     "unknown ::/0 5\n",
     {{"192.0.2.1", 4, 10, 14}, {"2001:db8::1", 1, 40, 14}, {"169.254.1.1", 4, 10, 2}}},
    {"a NUL ends its line",
     "precedence ::ffff:0:0/96 7\0 junk\nlabel ::/0 2\n",
     {{"192.0.2.1", 2, 7, 14}}},
    {"no final newline", "precedence ::ffff:0:0/96 7", {{"192.0.2.1", 4, 7, 14}}},
};

static size_t conf_len(const struct conf_row *r) {
    /* Rows with a NUL inside spell their length out through the literal. */
    if (strcmp(r->name, "a NUL ends its line") == 0) {
        return sizeof "precedence ::ffff:0:0/96 7\0 junk\nlabel ::/0 2\n" - 1;
    }
    return strlen(r->text);
}

START_TEST(test_gai_conf) {
    const struct conf_row *row = &conf_rows[_i];
    struct he_sort_policy *p = NULL;
    ck_assert_int_eq(he_sort_policy_parse(row->text, conf_len(row), &p), 0);
    for (int i = 0; i < 6 && row->values[i].addr != NULL; i++) {
        assert_values(p, &row->values[i], row->name);
    }
    he_sort_policy_free(p);
}
END_TEST

START_TEST(test_policy_load) {
    struct he_sort_policy *p = NULL;
    ck_assert_int_eq(he_sort_policy_load("/nonexistent/gai.conf", &p), 0);
    ck_assert_ptr_nonnull(p);
    struct he_addr v4 = addr_of("192.0.2.1");
    ck_assert_int_eq(he_sort_precedence(p, &v4), 10);
    he_sort_policy_free(p);

    char path[] = "/tmp/check_sort_gai_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, lab_gai_conf, strlen(lab_gai_conf)), (ssize_t)strlen(lab_gai_conf));
    close(fd);
    ck_assert_int_eq(he_sort_policy_load(path, &p), 0);
    unlink(path);
    struct he_addr dead = addr_of("2001:db8:1::20"), live = addr_of("2001:db8:1::10");
    ck_assert_int_eq(he_sort_precedence(p, &dead), 45);
    ck_assert_int_eq(he_sort_precedence(p, &live), 40);
    ck_assert_int_eq(he_sort_precedence(p, &v4), 10);
    he_sort_policy_free(p);
    he_sort_policy_free(NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Interface addresses                                                        */

struct nl_msg {
    struct nlmsghdr h;
    struct ifaddrmsg ifa;
    char attrs[64];
};

static void nl_init(struct nl_msg *m, int family, int prefixlen, int flags, int index) {
    memset(m, 0, sizeof *m);
    m->h.nlmsg_type = RTM_NEWADDR;
    m->h.nlmsg_len = NLMSG_LENGTH(sizeof m->ifa);
    m->ifa.ifa_family = (uint8_t)family;
    m->ifa.ifa_prefixlen = (uint8_t)prefixlen;
    m->ifa.ifa_flags = (uint8_t)flags;
    m->ifa.ifa_index = (uint32_t)index;
}

static void nl_attr(struct nl_msg *m, int type, const char *addr) {
    struct he_addr a = addr_of(addr);
    size_t alen = a.family == AF_INET ? 4 : 16;
    struct rtattr *rta = (struct rtattr *)((char *)m + NLMSG_ALIGN(m->h.nlmsg_len));
    rta->rta_type = (unsigned short)type;
    rta->rta_len = (unsigned short)RTA_LENGTH(alen);
    memcpy(RTA_DATA(rta), a.bytes, alen);
    m->h.nlmsg_len = NLMSG_ALIGN(m->h.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static void assert_ifaddr(const struct he_sort_ifaddr *e, const char *addr, int prefixlen,
                          int flags, uint32_t index) {
    struct he_addr a = addr_of(addr);
    uint8_t want[16] = {0};
    if (a.family == AF_INET) {
        want[10] = want[11] = 0xff;
        memcpy(want + 12, a.bytes, 4);
    } else {
        memcpy(want, a.bytes, 16);
    }
    ck_assert_msg(memcmp(e->addr, want, 16) == 0, "address is not %s", addr);
    ck_assert_int_eq(e->prefixlen, prefixlen);
    ck_assert_int_eq(e->flags, flags);
    ck_assert_uint_eq(e->index, index);
}

START_TEST(test_ifaddr_from_nl) {
    struct nl_msg m;
    struct he_sort_ifaddr e;
    int v4 = 0, v6 = 0;

    nl_init(&m, AF_INET, 24, 0, 2);
    nl_attr(&m, IFA_ADDRESS, "198.51.100.1");
    nl_attr(&m, IFA_LOCAL, "198.51.100.1");
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 1);
    assert_ifaddr(&e, "198.51.100.1", 24, 0, 2);
    ck_assert(v4 && !v6);

    /* Point-to-point: IFA_ADDRESS is the peer, and glibc records it. */
    nl_init(&m, AF_INET, 32, 0, 3);
    nl_attr(&m, IFA_LOCAL, "10.0.0.1");
    nl_attr(&m, IFA_ADDRESS, "10.0.0.2");
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 1);
    assert_ifaddr(&e, "10.0.0.2", 32, 0, 3);

    /* IFA_LOCAL alone will do. */
    nl_init(&m, AF_INET, 8, 0, 1);
    nl_attr(&m, IFA_LOCAL, "127.0.0.1");
    v4 = 0;
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 1);
    assert_ifaddr(&e, "127.0.0.1", 8, 0, 1);
    ck_assert_msg(!v4, "127.0.0.1 is not an IPv4 address for __check_pf");
    nl_init(&m, AF_INET, 8, 0, 1);
    nl_attr(&m, IFA_ADDRESS, "127.0.0.2");
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 1);
    ck_assert_msg(v4, "127.0.0.2 is");

    nl_init(&m, AF_INET6, 128, 0, 1);
    nl_attr(&m, IFA_ADDRESS, "::1");
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 1);
    ck_assert(!v6);
    nl_init(&m, AF_INET6, 64, IFA_F_DEPRECATED, 4);
    nl_attr(&m, IFA_ADDRESS, "fe80::1");
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 1);
    assert_ifaddr(&e, "fe80::1", 64, HE_SORT_IF_DEPRECATED, 4);
    ck_assert_msg(v6, "a link-local address counts for __check_pf");
    nl_init(&m, AF_INET6, 64, IFA_F_OPTIMISTIC, 4);
    nl_attr(&m, IFA_ADDRESS, "2001:db8::1");
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 1);
    assert_ifaddr(&e, "2001:db8::1", 64, HE_SORT_IF_DEPRECATED, 4);
    nl_init(&m, AF_INET6, 64, IFA_F_HOMEADDRESS | IFA_F_TEMPORARY, 4);
    nl_attr(&m, IFA_ADDRESS, "2001:db8::2");
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 1);
    assert_ifaddr(&e, "2001:db8::2", 64, HE_SORT_IF_HOME, 4);

    /* Skipped: other families, no address, other messages. */
    nl_init(&m, AF_PACKET, 0, 0, 1);
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 0);
    nl_init(&m, AF_INET, 24, 0, 1);
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 0);
    nl_init(&m, AF_INET, 24, 0, 1);
    nl_attr(&m, IFA_ADDRESS, "192.0.2.1");
    m.h.nlmsg_type = RTM_DELADDR;
    ck_assert_int_eq(he_sort_ifaddr_from_nl(&m.h, &e, &v4, &v6), 0);
}
END_TEST

START_TEST(test_ifaddr_find) {
    struct he_sort_ifaddr v[5];
    memset(v, 0, sizeof v);
    const char *addrs[] = {"2001:db8::1", "192.0.2.1", "2001:db8::1", "::1", "2001:db8::1"};
    for (int i = 0; i < 5; i++) {
        struct he_addr a = addr_of(addrs[i]);
        if (a.family == AF_INET) {
            v[i].addr[10] = v[i].addr[11] = 0xff;
            memcpy(v[i].addr + 12, a.bytes, 4);
        } else {
            memcpy(v[i].addr, a.bytes, 16);
        }
        v[i].index = (uint32_t)i + 1;
    }
    uint8_t key[16] = {0};
    memcpy(key, addr_of("2001:db8::1").bytes, 16);
    /* Sorted (stably): ::1, ::ffff:192.0.2.1, then 2001:db8::1 as indexes
     * 1, 3, 5; glibc's bsearch halves [0, 5) at 2: index 1. */
    const struct he_sort_ifaddr *f = he_sort_ifaddr_find(v, 5, key);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->index, 1);
    memcpy(key, addr_of("2001:db8::9").bytes, 16);
    ck_assert_ptr_null(he_sort_ifaddr_find(v, 5, key));
    ck_assert_ptr_null(he_sort_ifaddr_find(v, 0, key));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* he_sort_source_udp with fake syscalls                                      */

/* Sockets are fds 100+; the fake remembers each one's family and what it
 * was connected to.  getsockname answers 198.51.100.1 / 2001:db8::1, or
 * ::ffff:198.51.100.1 on an IPv6 socket connected to IPv4. */
#define FAKE_FD0 100
static struct {
    int families[16];
    int nsockets, nclosed;
    int fail_socket_family;   /* socket() of this family fails (EAFNOSUPPORT) */
    int v6only;               /* connect of an IPv6 socket to IPv4: EAFNOSUPPORT */
    int unreachable_family;   /* connect to this family: ENETUNREACH */
    int connected_family[16]; /* family of the sockaddr connect() got */
    int connected_v4[16];     /* it was IPv4, v4-mapped or not */
    in_port_t port[16];
} fake;

static int fake_socket(int family, int type, int protocol) {
    (void)type;
    (void)protocol;
    if (family == AF_NETLINK || family == fake.fail_socket_family) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    fake.families[fake.nsockets] = family;
    return FAKE_FD0 + fake.nsockets++;
}

static int fake_connect(int fd, const struct sockaddr *sa, socklen_t len) {
    int i = fd - FAKE_FD0;
    fake.connected_family[i] = sa->sa_family;
    struct he_addr a;
    fake.connected_v4[i] = he_addr_from_sockaddr(&a, sa, len) == 0 && a.family == AF_INET;
    fake.port[i] = he_sockaddr_port(sa);
    if (fake.families[i] == AF_INET6 && sa->sa_family == AF_INET && fake.v6only) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (sa->sa_family == fake.unreachable_family) {
        errno = ENETUNREACH;
        return -1;
    }
    return 0;
}

static int fake_close(int fd) {
    (void)fd;
    fake.nclosed++;
    return 0;
}

static int fake_getsockname(int fd, struct sockaddr *sa, socklen_t *len) {
    int i = fd - FAKE_FD0;
    struct sockaddr_storage ss;
    struct he_addr src = addr_of(fake.connected_v4[i] ? "198.51.100.1" : "2001:db8::1");
    socklen_t n = he_addr_to_sockaddr(&src, fake.families[i], 0, &ss);
    memcpy(sa, &ss, n < *len ? n : *len);
    *len = n;
    return 0;
}

static const struct he_libc fake_libc = {.socket = fake_socket,
                                         .connect = fake_connect,
                                         .close = fake_close,
                                         .getsockname = fake_getsockname};

static const struct he_libc real_libc = {
    .socket = socket, .connect = connect, .close = close, .getsockname = getsockname};

static struct he_sort_sys fake_sys(void) {
    memset(&fake, 0, sizeof fake);
    struct he_sort_sys sys;
    memset(&sys, 0, sizeof sys);
    sys.libc = &fake_libc;
    sys.port = htons(443);
    return sys;
}

static void source_of(struct he_sort_sys *sys, const char *dst, int want_ok, const char *want_src) {
    struct he_addr d = addr_of(dst);
    struct he_sort_src out;
    memset(&out, 0x5a, sizeof out);
    he_sort_source_udp(sys, &d, &out);
    ck_assert_msg(out.ok == want_ok, "%s: ok %d, want %d", dst, out.ok, want_ok);
    if (want_ok) {
        struct he_addr w = addr_of(want_src);
        char got[HE_ADDR_STRLEN];
        ck_assert_msg(he_addr_equal(&out.addr, &w), "%s: source %s, want %s", dst,
                      he_addr_format(&out.addr, got, sizeof got), want_src);
        /* no netlink here: no interface information */
        ck_assert_int_eq(out.prefixlen, 0);
        ck_assert_uint_eq(out.index, HE_SORT_NO_INDEX);
        ck_assert_int_eq(out.native, 0);
    }
}

START_TEST(test_source_socket_family_carries_over) {
    /* glibc keeps one socket: IPv6 once it has met an IPv6 address, and an
     * IPv4 address after that goes through it (as ::ffff:a.b.c.d). */
    struct he_sort_sys sys = fake_sys();
    source_of(&sys, "192.0.2.1", 1, "198.51.100.1");
    source_of(&sys, "2001:db8::5", 1, "2001:db8::1");
    source_of(&sys, "192.0.2.2", 1, "198.51.100.1");
    source_of(&sys, "::ffff:192.0.2.3", 1, "::ffff:198.51.100.1");
    he_sort_sys_finish(&sys);
    ck_assert_int_eq(fake.nsockets, 4);
    ck_assert_int_eq(fake.families[0], AF_INET);
    ck_assert_int_eq(fake.families[1], AF_INET6);
    ck_assert_int_eq(fake.families[2], AF_INET6);
    ck_assert_int_eq(fake.connected_family[2], AF_INET); /* glibc passes the sockaddr_in */
    ck_assert_int_eq(fake.families[3], AF_INET6);
    ck_assert_int_eq(fake.nclosed, fake.nsockets);
    ck_assert_uint_eq(fake.port[0], htons(443));
}
END_TEST

START_TEST(test_source_v6only_falls_back_to_ipv4) {
    struct he_sort_sys sys = fake_sys();
    fake.v6only = 1;
    source_of(&sys, "2001:db8::5", 1, "2001:db8::1");
    source_of(&sys, "192.0.2.1", 1, "198.51.100.1");
    source_of(&sys, "192.0.2.2", 1, "198.51.100.1");
    source_of(&sys, "2001:db8::6", 1, "2001:db8::1");
    he_sort_sys_finish(&sys);
    /* v6, then v6 failing for IPv4 and v4 in its place, v4 again, v6. */
    int want[] = {AF_INET6, AF_INET6, AF_INET, AF_INET, AF_INET6};
    ck_assert_int_eq(fake.nsockets, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(fake.families[i], want[i]);
    }
    ck_assert_int_eq(fake.nclosed, fake.nsockets);
}
END_TEST

START_TEST(test_source_failures) {
    struct he_sort_sys sys = fake_sys();
    fake.fail_socket_family = AF_INET6; /* IPv6 disabled */
    source_of(&sys, "2001:db8::5", 0, NULL);
    source_of(&sys, "192.0.2.1", 1, "198.51.100.1");
    he_sort_sys_finish(&sys);
    ck_assert_int_eq(fake.families[0], AF_INET);

    sys = fake_sys();
    fake.unreachable_family = AF_INET6;
    source_of(&sys, "2001:db8::5", 0, NULL);
    source_of(&sys, "192.0.2.1", 1, "198.51.100.1");
    he_sort_sys_finish(&sys);
    ck_assert_int_eq(fake.families[1], AF_INET6); /* the socket stays IPv6 */
    ck_assert_int_eq(fake.nclosed, fake.nsockets);
}
END_TEST

START_TEST(test_source_real_loopback) {
    /* The real thing on 127.0.0.1: whatever the host, the source is
     * 127.0.0.1; lo is known (and native, prefix /8) when the host has an
     * IPv6 address besides ::1, unknown otherwise, as in glibc. */
    struct he_sort_sys sys;
    memset(&sys, 0, sizeof sys);
    sys.libc = &real_libc;
    struct he_addr d = addr_of("127.0.0.1");
    struct he_sort_src out;
    ck_assert_int_eq(he_sort_source_udp(&sys, &d, &out), 0);
    ck_assert_int_eq(out.ok, 1);
    ck_assert(he_addr_equal(&out.addr, &d));
    if (out.index != HE_SORT_NO_INDEX) {
        ck_assert_int_eq(out.prefixlen, 8);
        ck_assert_int_eq(out.native, 1);
        ck_assert_int_eq(out.deprecated, 0);
    } else {
        ck_assert_int_eq(out.prefixlen, 0);
    }
    he_sort_sys_finish(&sys);
    ck_assert_ptr_null(sys.ifs);
}
END_TEST

Suite *sort_suite(void);
Suite *sort_suite(void) {
    Suite *s = suite_create("sort");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_sort_table, 0, (int)(sizeof sort_rows / sizeof sort_rows[0]));
    tcase_add_test(tc, test_sort_source_calls);
    suite_add_tcase(s, tc);

    tc = tcase_create("policy");
    tcase_add_loop_test(tc, test_default_tables, 0,
                        (int)(sizeof default_rows / sizeof default_rows[0]));
    tcase_add_loop_test(tc, test_gai_conf, 0, (int)(sizeof conf_rows / sizeof conf_rows[0]));
    tcase_add_test(tc, test_policy_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("source");
    tcase_add_test(tc, test_ifaddr_from_nl);
    tcase_add_test(tc, test_ifaddr_find);
    tcase_add_test(tc, test_source_socket_family_carries_over);
    tcase_add_test(tc, test_source_v6only_falls_back_to_ipv4);
    tcase_add_test(tc, test_source_failures);
    tcase_add_test(tc, test_source_real_loopback);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(sort_suite)

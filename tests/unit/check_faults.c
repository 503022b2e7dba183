/* Unit tests for HE_FAULTS's parser (faults/spec.c) and its decisions
 * (faults/fault.c: which rule matches, the seeded chances). */
#include "../../faults/fault.h"
#include "../../faults/spec.h"

#include "addrs.h"
#include "he_check.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char warnings[80][700];
static int nwarnings;

static void collect(void *ctx, const char *msg) {
    (void)ctx;
    ck_assert_int_lt(nwarnings, 80);
    ck_assert_uint_lt(strlen(msg), sizeof warnings[0]);
    strcpy(warnings[nwarnings++], msg);
}

/* As the layer sees a literal: through a sockaddr, IPv4-mapped made IPv4. */
static struct he_addr seen_addr(const char *text) {
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(text, &ss);
    struct he_addr a;
    ck_assert_int_eq(he_addr_from_sockaddr(&a, (struct sockaddr *)&ss, len), 0);
    return a;
}

/* ------------------------------------------------------------------------ */
/* One entry: what it parses to, or the warning it gets                       */

struct entry_row {
    const char *text;
    const char *addr; /* NULL: a name, or a bad entry */
    const char *name; /* the name as kept, or NULL */
    int port;
    enum he_fault_mode mode;
    long count;
    int permyriad;
    const char *why; /* part of the warning, NULL: good */
};

static const struct entry_row entry_rows[] = {
    {"192.0.2.1=drop", "192.0.2.1", NULL, 0, HE_FAULT_DROP, 0, HE_FAULT_ALWAYS, NULL},
    {"192.0.2.1:443=refuse", "192.0.2.1", NULL, 443, HE_FAULT_REFUSE, 0, HE_FAULT_ALWAYS, NULL},
    {"2001:db8::1=unreach", "2001:db8::1", NULL, 0, HE_FAULT_UNREACH, 0, HE_FAULT_ALWAYS, NULL},
    {"[2001:db8::1]:8080=silent", "2001:db8::1", NULL, 8080, HE_FAULT_SILENT, 0, HE_FAULT_ALWAYS,
     NULL},
    {"[2001:db8::2]=close", "2001:db8::2", NULL, 0, HE_FAULT_CLOSE, 0, HE_FAULT_ALWAYS, NULL},
    {"::ffff:192.0.2.7=drop", "192.0.2.7", NULL, 0, HE_FAULT_DROP, 0, HE_FAULT_ALWAYS, NULL},
    {"DB.Example.TEST.=drop", NULL, "db.example.test", 0, HE_FAULT_DROP, 0, HE_FAULT_ALWAYS, NULL},
    {"api.test:5432=refuse*3", NULL, "api.test", 5432, HE_FAULT_REFUSE, 3, HE_FAULT_ALWAYS, NULL},
    {"localhost=drop@30%", NULL, "localhost", 0, HE_FAULT_DROP, 0, 3000, NULL},
    {"a_b-c=drop@12.5%*2", NULL, "a_b-c", 0, HE_FAULT_DROP, 2, 1250, NULL},
    {" 192.0.2.1 = refuse ", "192.0.2.1", NULL, 0, HE_FAULT_REFUSE, 0, HE_FAULT_ALWAYS, NULL},
    {"192.0.2.1=drop@0.25%", "192.0.2.1", NULL, 0, HE_FAULT_DROP, 0, 25, NULL},
    {"192.0.2.1=drop@100%", "192.0.2.1", NULL, 0, HE_FAULT_DROP, 0, HE_FAULT_ALWAYS, NULL},
    {"192.0.2.1=drop@0%", "192.0.2.1", NULL, 0, HE_FAULT_DROP, 0, 0, NULL},
    {"192.0.2.1=delay:250", "192.0.2.1", NULL, 0, HE_FAULT_DELAY, 0, HE_FAULT_ALWAYS, NULL},
    {"192.0.2.1:80=delay:600000*2@50%", "192.0.2.1", NULL, 80, HE_FAULT_DELAY, 2, 5000, NULL},
    {"192.0.2.1=delay", NULL, NULL, 0, 0, 0, 0, "delay needs :MS"},
    {"192.0.2.1=delay:", NULL, NULL, 0, 0, 0, 0, "delay needs :MS"},
    {"192.0.2.1=delay:0", NULL, NULL, 0, 0, 0, 0, "delay needs :MS"},
    {"192.0.2.1=delay:600001", NULL, NULL, 0, 0, 0, 0, "delay needs :MS"},
    {"192.0.2.1=delay:1s", NULL, NULL, 0, 0, 0, 0, "delay needs :MS"},
    {"192.0.2.1=drop:5", NULL, NULL, 0, 0, 0, 0, "only delay takes :MS"},
    {"192.0.2.1", NULL, NULL, 0, 0, 0, 0, "no '=MODE'"},
    {"192.0.2.1=", NULL, NULL, 0, 0, 0, 0, "mode is not"},
    {"192.0.2.1=dead", NULL, NULL, 0, 0, 0, 0, "mode is not"},
    {"192.0.2.1=DROP", NULL, NULL, 0, 0, 0, 0, "mode is not"},
    {"=drop", NULL, NULL, 0, 0, 0, 0, "empty target"},
    {"192.0.2.1:0=drop", NULL, NULL, 0, 0, 0, 0, "port is not"},
    {"192.0.2.1:65536=drop", NULL, NULL, 0, 0, 0, 0, "port is not"},
    {"192.0.2.1:=drop", NULL, NULL, 0, 0, 0, 0, "port is not"},
    {"192.0.2.1:80x=drop", NULL, NULL, 0, 0, 0, 0, "port is not"},
    {"192.0.2.300=drop", NULL, NULL, 0, 0, 0, 0, "not a valid address"},
    {"[192.0.2.1]=drop", NULL, NULL, 0, 0, 0, 0, "not an IPv6 address"},
    {"[2001:db8::1=drop", NULL, NULL, 0, 0, 0, 0, "without ']'"},
    {"[2001:db8::1]x=drop", NULL, NULL, 0, 0, 0, 0, "not :PORT"},
    {"2001:db8::zz=drop", NULL, NULL, 0, 0, 0, 0, "not an IPv6 address"},
    {"fe80::1%eth0=drop", NULL, NULL, 0, 0, 0, 0, "not an IPv6 address"},
    {"a..b=drop", NULL, NULL, 0, 0, 0, 0, "empty label"},
    {"a b=drop", NULL, NULL, 0, 0, 0, 0, "not an address or a host name"},
    {"192.0.2.1=drop*0", NULL, NULL, 0, 0, 0, 0, "*COUNT"},
    {"192.0.2.1=drop*", NULL, NULL, 0, 0, 0, 0, "*COUNT"},
    {"192.0.2.1=drop*-1", NULL, NULL, 0, 0, 0, 0, "*COUNT"},
    {"192.0.2.1=drop*1000000001", NULL, NULL, 0, 0, 0, 0, "*COUNT"},
    {"192.0.2.1=drop@30", NULL, NULL, 0, 0, 0, 0, "percentage"},
    {"192.0.2.1=drop@101%", NULL, NULL, 0, 0, 0, 0, "percentage"},
    {"192.0.2.1=drop@100.01%", NULL, NULL, 0, 0, 0, 0, "over 100"},
    {"192.0.2.1=drop@1.234%", NULL, NULL, 0, 0, 0, 0, "percentage"},
    {"192.0.2.1=drop@%", NULL, NULL, 0, 0, 0, 0, "percentage"},
    {"192.0.2.1=drop*2*3", NULL, NULL, 0, 0, 0, 0, "twice"},
    {"192.0.2.1=drop@1%@2%", NULL, NULL, 0, 0, 0, 0, "twice"},
};

START_TEST(test_entry) {
    const struct entry_row *row = &entry_rows[_i];
    struct he_fault_spec spec;
    nwarnings = 0;
    int bad = he_fault_parse(row->text, &spec, collect, NULL);
    if (row->why != NULL) {
        ck_assert_msg(bad == 1 && spec.n == 0, "%s: bad %d, n %d", row->text, bad, spec.n);
        ck_assert_int_eq(nwarnings, 1);
        ck_assert_msg(strstr(warnings[0], row->why) != NULL, "%s: %s", row->text, warnings[0]);
        ck_assert_msg(strncmp(warnings[0], "HE_FAULTS: entry '", 18) == 0, "%s", warnings[0]);
        return;
    }
    ck_assert_msg(bad == 0 && spec.n == 1, "%s: bad %d (%s)", row->text, bad,
                  nwarnings ? warnings[0] : "");
    const struct he_fault_rule *r = &spec.rule[0];
    if (row->addr != NULL) {
        struct he_addr want = seen_addr(row->addr);
        ck_assert(he_addr_equal(&r->addr, &want));
        ck_assert_str_eq(r->name, "");
        ck_assert_int_eq(spec.names, 0);
    } else {
        ck_assert_str_eq(r->name, row->name);
        ck_assert_int_eq(spec.names, 1);
    }
    ck_assert_int_eq(r->port, row->port);
    ck_assert_int_eq(r->mode, row->mode);
    ck_assert_int_eq(r->count, row->count);
    ck_assert_int_eq(r->permyriad, row->permyriad);
    if (r->mode == HE_FAULT_DELAY) {
        int want = strstr(row->text, "600000") != NULL ? 600000 : 250;
        ck_assert_int_eq(r->delay_ms, want);
    } else {
        ck_assert_int_eq(r->delay_ms, 0);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Whole values                                                               */

START_TEST(test_lists) {
    struct he_fault_spec spec;
    nwarnings = 0;
    ck_assert_int_eq(he_fault_parse(NULL, &spec, collect, NULL), 0);
    ck_assert_int_eq(spec.n, 0);
    ck_assert_int_eq(he_fault_parse("", &spec, collect, NULL), 0);
    ck_assert_int_eq(he_fault_parse(" , ,,", &spec, collect, NULL), 0);
    ck_assert_int_eq(spec.n, 0);
    ck_assert_int_eq(nwarnings, 0);
    /* A bad entry is left out; the others apply, in order. */
    ck_assert_int_eq(
        he_fault_parse("nonsense,192.0.2.1=refuse, db.test=drop*1 ,x=y", &spec, collect, NULL), 2);
    ck_assert_int_eq(spec.n, 2);
    ck_assert_int_eq(nwarnings, 2);
    ck_assert(strstr(warnings[0], "'nonsense'") != NULL);
    ck_assert(strstr(warnings[1], "'x=y'") != NULL);
    ck_assert_int_eq(spec.rule[0].mode, HE_FAULT_REFUSE);
    ck_assert_str_eq(spec.rule[1].name, "db.test");
    /* More than 64 entries: one warning each for the rest. */
    char big[64 * 20 + 200] = "";
    for (int i = 0; i < 66; i++) {
        char one[24];
        snprintf(one, sizeof one, "192.0.2.%d=drop,", i);
        strcat(big, one);
    }
    nwarnings = 0;
    ck_assert_int_eq(he_fault_parse(big, &spec, collect, NULL), 2);
    ck_assert_int_eq(spec.n, HE_FAULT_RULES_MAX);
    ck_assert(strstr(warnings[0], "more than 64") != NULL);
    /* A warning shows control bytes as '?' and a long entry cut. */
    nwarnings = 0;
    char longe[500];
    memset(longe, 'a', sizeof longe - 1);
    longe[sizeof longe - 1] = '\0';
    ck_assert_int_eq(he_fault_parse(longe, &spec, collect, NULL), 1);
    ck_assert(strstr(warnings[0], "...'") != NULL);
    ck_assert_int_eq(he_fault_parse("\x01\x1b=drop", &spec, collect, NULL), 1);
    ck_assert(strstr(warnings[1], "'?"
                                  "?=drop'") != NULL);
}
END_TEST

START_TEST(test_seed) {
    uint64_t s = 0;
    ck_assert_int_eq(he_fault_parse_seed("42", &s), 0);
    ck_assert_uint_eq(s, 42);
    ck_assert_int_eq(he_fault_parse_seed("0x10", &s), 0);
    ck_assert_uint_eq(s, 16);
    ck_assert_int_eq(he_fault_parse_seed("042", &s), 0);
    ck_assert_uint_eq(s, 42);
    ck_assert_int_eq(he_fault_parse_seed("09", &s), 0);
    ck_assert_uint_eq(s, 9);
    ck_assert_int_eq(he_fault_parse_seed("0X1f", &s), 0);
    ck_assert_uint_eq(s, 31);
    ck_assert_int_eq(he_fault_parse_seed("0x", &s), -EINVAL);
    ck_assert_int_eq(he_fault_parse_seed("0x-1", &s), -EINVAL);
    ck_assert_int_eq(he_fault_parse_seed("18446744073709551615", &s), 0);
    ck_assert_uint_eq(s, UINT64_MAX);
    ck_assert_int_eq(he_fault_parse_seed("18446744073709551616", &s), -EINVAL);
    ck_assert_int_eq(he_fault_parse_seed("-1", &s), -EINVAL);
    ck_assert_int_eq(he_fault_parse_seed("", &s), -EINVAL);
    ck_assert_int_eq(he_fault_parse_seed(" 1", &s), -EINVAL);
    ck_assert_int_eq(he_fault_parse_seed("12x", &s), -EINVAL);
    ck_assert_int_eq(he_fault_parse_seed(NULL, &s), -EINVAL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Decisions                                                                  */

START_TEST(test_match) {
    struct he_fault_spec spec;
    ck_assert_int_eq(he_fault_parse("192.0.2.1:80=refuse,192.0.2.1=drop,db.test=unreach,"
                                    "[2001:db8::1]:443=silent",
                                    &spec, NULL, NULL),
                     0);
    struct he_addr a = seen_addr("192.0.2.1"), b = seen_addr("192.0.2.2"),
                   c = seen_addr("2001:db8::1"), m = seen_addr("::ffff:192.0.2.1");
    ck_assert_ptr_eq(he_fault_match(&spec, &a, 80, NULL), &spec.rule[0]);
    ck_assert_ptr_eq(he_fault_match(&spec, &a, 81, NULL), &spec.rule[1]);
    ck_assert_ptr_eq(he_fault_match(&spec, &m, 81, NULL), &spec.rule[1]);
    ck_assert_ptr_null(he_fault_match(&spec, &b, 80, NULL));
    /* A name matches the addresses it was resolved to, and any address
     * the program resolved from it. */
    ck_assert_ptr_eq(he_fault_match(&spec, &b, 80, "db.test"), &spec.rule[2]);
    ck_assert_ptr_null(he_fault_match(&spec, &b, 80, "other.test"));
    spec.rule[2].resolved[0] = b;
    spec.rule[2].nresolved = 1;
    ck_assert_ptr_eq(he_fault_match(&spec, &b, 9, NULL), &spec.rule[2]);
    ck_assert_ptr_eq(he_fault_match(&spec, &c, 443, NULL), &spec.rule[3]);
    ck_assert_ptr_null(he_fault_match(&spec, &c, 80, NULL));
}
END_TEST

/* The same seed gives the same sequence; the share of faulted attempts
 * is near the chance; another seed or rule gives another sequence. */
START_TEST(test_chance) {
    int hits = 0, diff_seed = 0, diff_rule = 0;
    for (unsigned long k = 0; k < 10000; k++) {
        int h = he_fault_chance(42, 0, k, 3000);
        ck_assert_int_eq(h, he_fault_chance(42, 0, k, 3000));
        hits += h;
        diff_seed += h != he_fault_chance(43, 0, k, 3000);
        diff_rule += h != he_fault_chance(42, 1, k, 3000);
        ck_assert_int_eq(he_fault_chance(42, 0, k, HE_FAULT_ALWAYS), 1);
        ck_assert_int_eq(he_fault_chance(42, 0, k, 0), 0);
    }
    ck_assert_msg(hits > 2700 && hits < 3300, "%d of 10000 at 30%%", hits);
    ck_assert_int_gt(diff_seed, 1000);
    ck_assert_int_gt(diff_rule, 1000);
}
END_TEST

static Suite *faults_suite(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_entry, 0, (int)(sizeof entry_rows / sizeof entry_rows[0]));
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_seed);
    tcase_add_test(tc, test_match);
    tcase_add_test(tc, test_chance);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(faults_suite)

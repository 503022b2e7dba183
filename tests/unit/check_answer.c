/* Unit tests for building libc answers from addresses (resolver/answer.c).
 *
 * The getaddrinfo layout is checked against the real getaddrinfo: for a
 * numeric host glibc needs no lookup, so for one address the two must
 * agree entry by entry -- family, socket type, protocol, flags, length and
 * sockaddr bytes -- and on every error, across a table of hints and
 * services.  The results are freed with libc's freeaddrinfo, which ASan
 * checks in the asan build. */
#include "../../resolver/answer.h"

#include "addrs.h"

#include "he_check.h"
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Against glibc                                                              */

static const char *const hosts[] = {"192.0.2.1", "2001:db8::1"};

static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};

static const int socktypes[] = {
    0,
    SOCK_STREAM,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_SEQPACKET,
    SOCK_DCCP,
    SOCK_RDM,
    99,
    SOCK_STREAM | SOCK_CLOEXEC,
};

static const int protocols[] = {
    0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_UDPLITE, IPPROTO_DCCP, IPPROTO_ICMP, 255,
};

/* AI_ADDRCONFIG, AI_IDN and AI_CANONIDN are left out: what glibc does with
 * them depends on the host (its interfaces, libidn2). */
static const int flag_sets[] = {
    0,
    AI_PASSIVE,
    AI_V4MAPPED,
    AI_V4MAPPED | AI_ALL,
    AI_ALL,
    AI_NUMERICSERV,
    AI_CANONNAME,
    AI_NUMERICHOST | AI_PASSIVE,
    0x100, /* the former AI_IDN_ALLOW_UNASSIGNED: accepted and ignored */
    0x800, /* unknown: EAI_BADFLAGS */
    AI_CANONNAME | AI_V4MAPPED | AI_ALL | AI_NUMERICSERV,
};

static const char *const services[] = {
    NULL,    "",           "*",  "80",  "0",    " 80",    "+80",
    "70000", "4294967296", "-1", "80x", "http", "domain", "nosuchservice-libhe",
};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The address glibc's answer holds for a numeric host, as a name lookup
 * would give it: IPv4 as AF_INET. */
static struct he_addr host_addr(const char *host) {
    return addr_of(host);
}

static const char *show_service(const char *s) {
    return s ? s : "(null)";
}

/* Entry-by-entry equality; msg names the case. */
static void assert_same_list(const struct addrinfo *want, const struct addrinfo *got,
                             const char *msg) {
    int i = 0;
    for (; want != NULL && got != NULL; want = want->ai_next, got = got->ai_next, i++) {
        ck_assert_msg(got->ai_flags == want->ai_flags, "%s: entry %d flags %#x, want %#x", msg, i,
                      got->ai_flags, want->ai_flags);
        ck_assert_msg(got->ai_family == want->ai_family, "%s: entry %d family %d, want %d", msg, i,
                      got->ai_family, want->ai_family);
        ck_assert_msg(got->ai_socktype == want->ai_socktype, "%s: entry %d socktype %d, want %d",
                      msg, i, got->ai_socktype, want->ai_socktype);
        ck_assert_msg(got->ai_protocol == want->ai_protocol, "%s: entry %d protocol %d, want %d",
                      msg, i, got->ai_protocol, want->ai_protocol);
        ck_assert_msg(got->ai_addrlen == want->ai_addrlen, "%s: entry %d addrlen %u, want %u", msg,
                      i, got->ai_addrlen, want->ai_addrlen);
        ck_assert_msg(memcmp(got->ai_addr, want->ai_addr, want->ai_addrlen) == 0,
                      "%s: entry %d sockaddr differs", msg, i);
        if (want->ai_canonname == NULL) {
            ck_assert_msg(got->ai_canonname == NULL, "%s: entry %d has a canonname", msg, i);
        } else {
            ck_assert_msg(got->ai_canonname != NULL &&
                              strcmp(got->ai_canonname, want->ai_canonname) == 0,
                          "%s: entry %d canonname %s, want %s", msg, i,
                          got->ai_canonname ? got->ai_canonname : "NULL", want->ai_canonname);
        }
        /* The sockaddr sits right after the entry, in the same block. */
        ck_assert_msg((char *)got->ai_addr == (char *)(got + 1), "%s: entry %d not one block", msg,
                      i);
        ck_assert_msg(malloc_usable_size((void *)got) >= sizeof *got + got->ai_addrlen,
                      "%s: entry %d block too small", msg, i);
    }
    ck_assert_msg(want == NULL && got == NULL, "%s: %s has more entries (after %d)", msg,
                  want ? "glibc" : "ours", i);
}

/* Ours for the address of host, after AI_CANONNAME as the shim would do
 * it (the canonical name of a numeric host is the host). */
static int ours(const char *host, const struct addrinfo *hints, const char *service,
                struct addrinfo **res) {
    struct he_addr a = host_addr(host);
    int rc = he_answer_addrinfo(&a, 1, hints, service, res);
    if (rc == 0 && hints && (hints->ai_flags & AI_CANONNAME)) {
        ck_assert_int_eq(he_answer_canonname(*res, host), 0);
    }
    return rc;
}

static void compare_with_glibc(const char *host, const struct addrinfo *hints,
                               const char *service) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s service %s family %d socktype %#x protocol %d flags %#x", host,
             show_service(service), hints->ai_family, hints->ai_socktype, hints->ai_protocol,
             hints->ai_flags);
    struct addrinfo *want = NULL, *got = NULL;
    int want_rc = getaddrinfo(host, service, hints, &want);
    int got_rc = ours(host, hints, service, &got);
    /* glibc's numeric path says EAI_ADDRFAMILY for an address of the other
     * family; a lookup of a name with no record of the family says
     * EAI_NODATA, and that is what we stand for. */
    int expect_rc = want_rc == EAI_ADDRFAMILY ? EAI_NODATA : want_rc;
    ck_assert_msg(got_rc == expect_rc, "%s: rc %d, glibc %d", msg, got_rc, want_rc);
    if (want_rc == 0) {
        assert_same_list(want, got, msg);
        freeaddrinfo(want);
    }
    if (got_rc == 0) {
        freeaddrinfo(got); /* libc's: the blocks must be what it expects */
    } else {
        ck_assert_ptr_null(got);
    }
}

/* One loop iteration per host, family and flags; all socket types,
 * protocols and services inside. */
START_TEST(test_same_as_glibc) {
    int i = _i;
    int f = i % NELEM(flag_sets);
    i /= NELEM(flag_sets);
    int fam = i % NELEM(families);
    i /= NELEM(families);
    const char *host = hosts[i];
    for (int s = 0; s < NELEM(socktypes); s++) {
        for (int p = 0; p < NELEM(protocols); p++) {
            for (int v = 0; v < NELEM(services); v++) {
                struct addrinfo hints;
                memset(&hints, 0, sizeof hints);
                hints.ai_family = families[fam];
                hints.ai_socktype = socktypes[s];
                hints.ai_protocol = protocols[p];
                hints.ai_flags = flag_sets[f];
                compare_with_glibc(host, &hints, services[v]);
            }
        }
    }
}
END_TEST

START_TEST(test_errors_in_glibc_order) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    /* Bad flags before a bad family, a bad family before the service. */
    hints.ai_flags = 0x4000;
    hints.ai_family = 99;
    compare_with_glibc("192.0.2.1", &hints, "nosuchservice-libhe");
    hints.ai_flags = 0;
    compare_with_glibc("192.0.2.1", &hints, "nosuchservice-libhe");
    /* AI_NUMERICSERV before the socket type. */
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = 99;
    hints.ai_flags = AI_NUMERICSERV;
    compare_with_glibc("192.0.2.1", &hints, "http");
    /* The socket type before the service. */
    hints.ai_flags = 0;
    compare_with_glibc("192.0.2.1", &hints, "nosuchservice-libhe");
}
END_TEST

START_TEST(test_null_hints) {
    /* glibc's defaults are AI_V4MAPPED|AI_ADDRCONFIG, which each entry's
     * ai_flags shows; AI_ADDRCONFIG itself is the caller's to apply. */
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_V4MAPPED;
    for (int h = 0; h < NELEM(hosts); h++) {
        for (int v = 0; v < NELEM(services); v++) {
            struct addrinfo *want = NULL, *got = NULL;
            int want_rc = getaddrinfo(hosts[h], services[v], &hints, &want);
            int got_rc = ours(hosts[h], NULL, services[v], &got);
            ck_assert_int_eq(got_rc, want_rc);
            for (struct addrinfo *ai = want; ai; ai = ai->ai_next) {
                ai->ai_flags = AI_V4MAPPED | AI_ADDRCONFIG;
            }
            if (want_rc == 0) {
                assert_same_list(want, got, hosts[h]);
            }
            freeaddrinfo(want);
            freeaddrinfo(got);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Several addresses                                                          */

#define ROW_MAX 6

struct select_row {
    const char *name;
    int family, flags;
    const char *in[ROW_MAX];
    const char *want[ROW_MAX]; /* IPv4 in AF_INET6 answers written ::ffff:a.b.c.d */
};

static const struct select_row select_rows[] = {
    {"AF_UNSPEC keeps everything in order",
     AF_UNSPEC,
     0,
     {V4A, V6A, V4B, V6B},
     {V4A, V6A, V4B, V6B}},
    {"AF_UNSPEC ignores AI_V4MAPPED", AF_UNSPEC, AI_V4MAPPED | AI_ALL, {V4A, V6A}, {V4A, V6A}},
    {"AF_INET keeps IPv4", AF_INET, 0, {V6A, V4A, V6B, V4B}, {V4A, V4B}},
    {"AF_INET6 keeps IPv6", AF_INET6, 0, {V4A, V6A, V4B, V6B}, {V6A, V6B}},
    {"AF_INET6, AI_V4MAPPED with IPv6: IPv6 only", AF_INET6, AI_V4MAPPED, {V4A, V6A}, {V6A}},
    {"AF_INET6, AI_V4MAPPED without IPv6: mapped IPv4",
     AF_INET6,
     AI_V4MAPPED,
     {V4A, V4B},
     {"::ffff:" V4A, "::ffff:" V4B}},
    {"AF_INET6, AI_V4MAPPED|AI_ALL: IPv6 first, then mapped IPv4",
     AF_INET6,
     AI_V4MAPPED | AI_ALL,
     {V4A, V6A, V4B, V6B},
     {V6A, V6B, "::ffff:" V4A, "::ffff:" V4B}},
    {"AF_INET6, AI_ALL alone: IPv6 only", AF_INET6, AI_ALL, {V4A, V6A}, {V6A}},
    {"AF_INET6, AI_V4MAPPED: a v4-mapped AAAA goes with IPv6 present",
     AF_INET6,
     AI_V4MAPPED,
     {"::ffff:198.51.100.9", V6A, V4A},
     {V6A}},
    {"AF_INET6, AI_V4MAPPED|AI_ALL: a v4-mapped AAAA stays",
     AF_INET6,
     AI_V4MAPPED | AI_ALL,
     {"::ffff:198.51.100.9", V6A, V4A},
     {"::ffff:198.51.100.9", V6A, "::ffff:" V4A}},
    {"AF_INET6 without AI_V4MAPPED: a v4-mapped AAAA stays",
     AF_INET6,
     0,
     {"::ffff:198.51.100.9", V4A},
     {"::ffff:198.51.100.9"}},
    {"AF_INET6, nothing of the family", AF_INET6, 0, {V4A, V4B}, {NULL}},
};

static int list_len(const char *const *l) {
    int n = 0;
    while (n < ROW_MAX && l[n] != NULL) {
        n++;
    }
    return n;
}

START_TEST(test_select) {
    const struct select_row *row = &select_rows[_i];
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = row->family;
    hints.ai_flags = row->flags;
    hints.ai_socktype = SOCK_STREAM;
    struct he_answer_plan plan;
    ck_assert_int_eq(he_answer_plan(&hints, NULL, &plan), 0);
    struct he_addr in[ROW_MAX], out[ROW_MAX];
    int n = list_len(row->in);
    for (int i = 0; i < n; i++) {
        in[i] = addr_of(row->in[i]);
    }
    int k = he_answer_select(in, n, &plan, out);
    int want = list_len(row->want);
    ck_assert_msg(k == want, "%s: %d addresses, want %d", row->name, k, want);
    for (int i = 0; i < k; i++) {
        struct he_addr w = addr_of(row->want[i]);
        char got[HE_ADDR_STRLEN];
        ck_assert_msg(he_addr_equal(&out[i], &w), "%s: %d is %s, want %s", row->name, i,
                      he_addr_format(&out[i], got, sizeof got), row->want[i]);
    }

    /* The whole answer: the same addresses, 28-byte sockaddrs for mapped. */
    struct addrinfo *res = NULL;
    int rc = he_answer_addrinfo(in, n, &hints, "443", &res);
    if (want == 0) {
        ck_assert_int_eq(rc, EAI_NODATA);
        ck_assert_ptr_null(res);
        return;
    }
    ck_assert_int_eq(rc, 0);
    int i = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next, i++) {
        struct he_addr a;
        ck_assert_int_eq(he_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen), 0);
        ck_assert_int_eq(ai->ai_family, out[i].family);
        ck_assert_uint_eq(ai->ai_addrlen, out[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                                   : sizeof(struct sockaddr_in6));
        ck_assert_uint_eq(he_sockaddr_port(ai->ai_addr), htons(443));
        ck_assert_int_eq(ai->ai_flags, row->flags);
    }
    ck_assert_int_eq(i, k);
    freeaddrinfo(res);
}
END_TEST

START_TEST(test_build_layout) {
    /* Three addresses, no socket type: each address three times in a row,
     * TCP, UDP, raw; scope ids carried. */
    struct he_addr in[3] = {addr_of(V6A), addr_of(V4A), addr_of("fe80::1")};
    in[2].scope = 7;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    struct he_answer_plan plan;
    ck_assert_int_eq(he_answer_plan(&hints, "8080", &plan), 0);
    ck_assert_int_eq(plan.nserv, 3);
    struct addrinfo *res = NULL;
    ck_assert_int_eq(he_answer_build(in, 3, &plan, &res), 0);
    static const int st[3] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW};
    static const int pr[3] = {IPPROTO_TCP, IPPROTO_UDP, 0};
    struct addrinfo *ai = res;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++, ai = ai->ai_next) {
            ck_assert_ptr_nonnull(ai);
            struct he_addr a;
            ck_assert_int_eq(he_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen), 0);
            ck_assert(he_addr_equal(&a, &in[i]));
            ck_assert_int_eq(ai->ai_socktype, st[j]);
            ck_assert_int_eq(ai->ai_protocol, pr[j]);
            ck_assert_uint_eq(he_sockaddr_port(ai->ai_addr), htons(8080));
            ck_assert_ptr_null(ai->ai_canonname);
        }
    }
    ck_assert_ptr_null(ai);
    ck_assert_int_eq(he_answer_canonname(res, "www.example.com"), 0);
    ck_assert_str_eq(res->ai_canonname, "www.example.com");
    ck_assert_ptr_null(res->ai_next->ai_canonname);
    freeaddrinfo(res);

    ck_assert_int_eq(he_answer_build(in, 0, &plan, &res), EAI_NONAME);
    ck_assert_ptr_null(res);
    ck_assert_int_eq(he_answer_addrinfo(in, 0, NULL, NULL, &res), EAI_NONAME);
    ck_assert_int_eq(he_answer_canonname(NULL, "x"), 0);
}
END_TEST

START_TEST(test_service_names) {
    /* A service name: every protocol /etc/services lists it for, in
     * glibc's table order; the same as glibc's answer. */
    const char *names[] = {"http", "domain", "ssh", "amqp", "nosuchservice-libhe"};
    for (int i = 0; i < NELEM(names); i++) {
        for (int st = 0; st < 3; st++) {
            struct addrinfo hints;
            memset(&hints, 0, sizeof hints);
            hints.ai_socktype = st == 0 ? 0 : st == 1 ? SOCK_DGRAM : SOCK_SEQPACKET;
            compare_with_glibc("198.51.100.7", &hints, names[i]);
            compare_with_glibc("2001:db8::7", &hints, names[i]);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* hostent                                                                    */

static int is_aligned(const void *p, size_t a) {
    return (uintptr_t)p % a == 0;
}

/* What nss_dns needs for a name without CNAMEs, from an aligned buffer. */
static size_t dns_size(const char *name, int count, size_t alen) {
    size_t n = strlen(name) + 1;
    n = (n + 3) & ~(size_t)3;
    n += (size_t)count * alen;
    n = (n + sizeof(char *) - 1) & ~(sizeof(char *) - 1);
    return n + (size_t)(count + 1) * sizeof(char *) + sizeof(char *);
}

static void check_hostent(const char *name, const struct he_addr *in, int n, int family,
                          const char *const *want) {
    int count = list_len(want);
    size_t alen = family == AF_INET ? 4 : 16;
    _Alignas(16) char buf[512];
    for (size_t off = 0; off < 8; off++) {
        char *b = buf + off;
        size_t need = 0;
        /* The smallest buffer that does: every smaller one is ERANGE. */
        for (size_t len = 0; len < sizeof buf - off; len++) {
            struct hostent he;
            int rc = he_answer_hostent(name, in, n, family, &he, b, len);
            if (rc == -ERANGE) {
                continue;
            }
            ck_assert_int_eq(rc, 0);
            need = len;
            break;
        }
        ck_assert_msg(need > 0, "%s: no buffer size works", name);
        if (off == 0) {
            ck_assert_uint_eq(need, dns_size(name, count, alen));
        }
        struct hostent he;
        memset(b, 0x5a, need);
        ck_assert_int_eq(he_answer_hostent(name, in, n, family, &he, b, need), 0);
        ck_assert_str_eq(he.h_name, name);
        ck_assert_int_eq(he.h_addrtype, family);
        ck_assert_int_eq(he.h_length, (int)alen);
        ck_assert(is_aligned(he.h_addr_list, sizeof(char *)));
        ck_assert(is_aligned(he.h_aliases, sizeof(char *)));
        ck_assert_ptr_null(he.h_aliases[0]);
        int i = 0;
        for (; he.h_addr_list[i] != NULL; i++) {
            ck_assert_int_lt(i, count);
            struct he_addr w = addr_of(want[i]);
            ck_assert(is_aligned(he.h_addr_list[i], 4));
            ck_assert(memcmp(he.h_addr_list[i], w.bytes, alen) == 0);
            ck_assert(he.h_addr_list[i] >= b && he.h_addr_list[i] + alen <= b + need);
        }
        ck_assert_int_eq(i, count);
        ck_assert(he.h_name >= b && he.h_name + strlen(name) < b + need);
        ck_assert((char *)he.h_addr_list >= b && (char *)he.h_aliases + sizeof(char *) <= b + need);
    }
}

START_TEST(test_hostent) {
    struct he_addr in[5] = {addr_of(V6A), addr_of(V4A), addr_of(V4B), addr_of("::ffff:" V4C),
                            addr_of(V6B)};
    check_hostent("www.example.com", in, 5, AF_INET, (const char *const[]){V4A, V4B, NULL});
    check_hostent("a.example", in, 5, AF_INET6,
                  (const char *const[]){V6A, "::ffff:" V4C, V6B, NULL});
    check_hostent("", in, 1, AF_INET6, (const char *const[]){V6A, NULL});

    struct hostent he;
    char buf[256];
    ck_assert_int_eq(he_answer_hostent("x.example", in, 1, AF_INET, &he, buf, sizeof buf), -ENOENT);
    ck_assert_int_eq(he_answer_hostent("x.example", in, 0, AF_INET6, &he, buf, sizeof buf),
                     -ENOENT);
    ck_assert_int_eq(he_answer_hostent("x.example", in, 5, AF_UNIX, &he, buf, sizeof buf),
                     -EAFNOSUPPORT);
}
END_TEST

START_TEST(test_hostent_chain) {
    /* Measured with Debian 12's gethostbyname2_r against a DNS server
     * answering t.test CNAME canon.test, canon.test A 198.51.100.1-3, into a
     * 16-aligned buffer: 80 bytes at least; h_name at 7, addresses at 20,
     * 24, 28, h_addr_list at 32, h_aliases at 64 holding t.test. */
    struct he_addr in[3] = {addr_of("198.51.100.1"), addr_of("198.51.100.2"),
                            addr_of("198.51.100.3")};
    const char *names[] = {"t.test", "canon.test"};
    _Alignas(16) char buf[128];
    struct hostent he;
    ck_assert_int_eq(he_answer_hostent_chain(names, 2, in, 3, AF_INET, &he, buf, 79), -ERANGE);
    ck_assert_int_eq(he_answer_hostent_chain(names, 2, in, 3, AF_INET, &he, buf, 80), 0);
    ck_assert_str_eq(he.h_name, "canon.test");
    ck_assert_int_eq(he.h_name - buf, 7);
    ck_assert_int_eq((char *)he.h_addr_list - buf, 32);
    ck_assert_int_eq((char *)he.h_aliases - buf, 64);
    ck_assert_str_eq(he.h_aliases[0], "t.test");
    ck_assert_ptr_null(he.h_aliases[1]);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(he.h_addr_list[i] - buf, 20 + 4 * i);
        ck_assert(memcmp(he.h_addr_list[i], in[i].bytes, 4) == 0);
    }
    ck_assert_ptr_null(he.h_addr_list[3]);
    /* The same measured for 2 AAAA (t.test, no CNAME): 72 bytes. */
    struct he_addr v6[2] = {addr_of("2001:db8::1"), addr_of("2001:db8::2")};
    ck_assert_int_eq(he_answer_hostent("t.test", v6, 2, AF_INET6, &he, buf, 71), -ERANGE);
    ck_assert_int_eq(he_answer_hostent("t.test", v6, 2, AF_INET6, &he, buf, 72), 0);
    ck_assert_int_eq(he.h_addr_list[0] - buf, 8);
    ck_assert_int_eq(he.h_addr_list[1] - buf, 24);
    ck_assert_int_eq((char *)he.h_addr_list - buf, 40);
    ck_assert_int_eq((char *)he.h_aliases - buf, 64);
    /* Misaligned by 3: 61 bytes for t.test with three A records. */
    ck_assert_int_eq(he_answer_hostent("t.test", in, 3, AF_INET, &he, buf + 3, 60), -ERANGE);
    ck_assert_int_eq(he_answer_hostent("t.test", in, 3, AF_INET, &he, buf + 3, 61), 0);
    ck_assert_int_eq(he_answer_hostent_chain(names, 0, in, 3, AF_INET, &he, buf, 128), -EINVAL);
}
END_TEST

Suite *answer_suite(void);
Suite *answer_suite(void) {
    Suite *s = suite_create("answer");
    TCase *tc = tcase_create("glibc");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_same_as_glibc, 0,
                        NELEM(hosts) * NELEM(families) * NELEM(flag_sets));
    tcase_add_test(tc, test_errors_in_glibc_order);
    tcase_add_test(tc, test_null_hints);
    tcase_add_test(tc, test_service_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("addresses");
    tcase_add_loop_test(tc, test_select, 0, NELEM(select_rows));
    tcase_add_test(tc, test_build_layout);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostent");
    tcase_add_test(tc, test_hostent);
    tcase_add_test(tc, test_hostent_chain);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(answer_suite)

/* Unit tests for the HE_HOSTS file parser (resolver/hosts.c). */
#include "../../resolver/hosts.h"

#include "addrs.h"

#include "he_check.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static struct he_hosts *parse_len(const char *text, size_t len, struct he_hosts_stats *st) {
    struct he_hosts *h = (struct he_hosts *)0x1;
    int rc = he_hosts_parse(text, len, &h, st);
    ck_assert_msg(rc == 0, "parse: %d", rc);
    ck_assert_ptr_nonnull(h);
    return h;
}

static struct he_hosts *parse(const char *text, struct he_hosts_stats *st) {
    return parse_len(text, strlen(text), st);
}

/* Asserts that find(name, family) gives exactly want[], in order. */
static void assert_find(const struct he_hosts *h, const char *name, int family,
                        const char *const *want) {
    struct he_addr got[HE_HOSTS_MAX_ADDRS + 1];
    memset(got, 0x5a, sizeof got);
    int n = 0;
    while (want[n] != NULL) {
        n++;
    }
    int rc = he_hosts_find(h, name, family, got, HE_HOSTS_MAX_ADDRS + 1);
    ck_assert_msg(rc == n, "%s/%d: %d addresses, want %d", name, family, rc, n);
    char buf[HE_ADDR_STRLEN];
    for (int i = 0; i < n; i++) {
        struct he_addr w = addr_of(want[i]);
        ck_assert_msg(he_addr_equal(&got[i], &w), "%s: address %d is %s, want %s", name, i,
                      he_addr_format(&got[i], buf, sizeof buf), want[i]);
    }
}

#define ASSERT_FIND(h, name, family, ...)                                                          \
    assert_find((h), (name), (family), (const char *const[]){__VA_ARGS__, NULL})

static void assert_clean(const struct he_hosts_stats *st) {
    ck_assert_msg(st->bad_lines == 0, "%d bad lines, first %d (%s)", st->bad_lines,
                  st->first_bad_line, st->first_bad_why ? st->first_bad_why : "-");
    ck_assert_int_eq(st->first_bad_line, 0);
    ck_assert_ptr_null(st->first_bad_why);
    ck_assert_int_eq(st->capped_lines, 0);
    ck_assert_int_eq(st->first_capped_line, 0);
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                    */

#define MAXW 6

static const struct {
    const char *what, *text, *name;
    int family;
    const char *want[MAXW]; /* NULL-terminated */
} find_rows[] = {
    {"basic v4", "192.0.2.1 a.test\n", "a.test", AF_UNSPEC, {V4A}},
    {"basic v6", "2001:db8::a a.test\n", "a.test", AF_UNSPEC, {V6A}},
    {"no final newline", "192.0.2.1 a.test", "a.test", AF_UNSPEC, {V4A}},
    {"unknown name", "192.0.2.1 a.test\n", "b.test", AF_UNSPEC, {NULL}},
    {"prefix is not the name", "192.0.2.1 a.test\n", "a.tes", AF_UNSPEC, {NULL}},
    {"alias", "192.0.2.1 a.test b.test c\n", "c", AF_UNSPEC, {V4A}},
    {"first alias", "192.0.2.1 a.test b.test c\n", "b.test", AF_UNSPEC, {V4A}},
    {"case in query", "192.0.2.1 a.test\n", "A.TeSt", AF_UNSPEC, {V4A}},
    {"case in file", "192.0.2.1 A.TEST\n", "a.test", AF_UNSPEC, {V4A}},
    {"dot in query", "192.0.2.1 a.test\n", "a.test.", AF_UNSPEC, {V4A}},
    {"dot in file", "192.0.2.1 a.test.\n", "a.test", AF_UNSPEC, {V4A}},
    {"dot in both", "192.0.2.1 a.test.\n", "A.Test.", AF_UNSPEC, {V4A}},
    {"only one dot ignored", "192.0.2.1 a.test\n", "a.test..", AF_UNSPEC, {NULL}},
    {"empty query", "192.0.2.1 a.test\n", "", AF_UNSPEC, {NULL}},
    {"dot query", "192.0.2.1 a.test\n", ".", AF_UNSPEC, {NULL}},
    {"underscore and hyphen",
     "192.0.2.1 _srv.my-host.test\n",
     "_SRV.My-Host.test",
     AF_UNSPEC,
     {V4A}},
    {"lines accumulate",
     "192.0.2.1 a\n2001:db8::a a\n192.0.2.2 a\n",
     "a",
     AF_UNSPEC,
     {V4A, V6A, V4B}},
    {"aliases accumulate", "192.0.2.1 x a\n192.0.2.2 y a\n", "a", AF_UNSPEC, {V4A, V4B}},
    {"other names unaffected", "192.0.2.1 x a\n192.0.2.2 y a\n", "x", AF_UNSPEC, {V4A}},
    {"case across lines", "192.0.2.1 A\n192.0.2.2 a.\n", "a", AF_UNSPEC, {V4A, V4B}},
    {"duplicates removed",
     "192.0.2.1 a\n192.0.2.1 a\n192.0.2.2 a a\n192.0.2.1 b a\n",
     "a",
     AF_UNSPEC,
     {V4A, V4B}},
    {"v6 spellings are one address",
     "2001:db8::a a\n2001:DB8:0:0:0:0:0:a a\n",
     "a",
     AF_UNSPEC,
     {V6A}},
    {"mapped becomes v4", "::ffff:192.0.2.1 a\n", "a", AF_INET, {V4A}},
    {"mapped not v6", "::ffff:192.0.2.1 a\n", "a", AF_INET6, {NULL}},
    {"mapped and v4 are one", "::ffff:192.0.2.1 a\n192.0.2.1 a\n", "a", AF_UNSPEC, {V4A}},
    {"family unspec",
     "2001:db8::a a\n192.0.2.1 a\n2001:db8::b a\n",
     "a",
     AF_UNSPEC,
     {V6A, V4A, V6B}},
    {"family v4", "2001:db8::a a\n192.0.2.1 a\n2001:db8::b a\n", "a", AF_INET, {V4A}},
    {"family v6", "2001:db8::a a\n192.0.2.1 a\n2001:db8::b a\n", "a", AF_INET6, {V6A, V6B}},
    {"no v6 for a v4 name", "192.0.2.1 a\n", "a", AF_INET6, {NULL}},
    {"comment line", "# 192.0.2.1 a\n192.0.2.2 a\n", "a", AF_UNSPEC, {V4B}},
    {"comment after names", "192.0.2.1 a # b\n", "b", AF_UNSPEC, {NULL}},
    {"comment glued to a name", "192.0.2.1 a#b\n", "a", AF_UNSPEC, {V4A}},
    {"comment glued, rest unused", "192.0.2.1 a#b\n", "b", AF_UNSPEC, {NULL}},
    {"indented comment", "   \t# x\n192.0.2.1 a\n", "a", AF_UNSPEC, {V4A}},
    {"tabs and runs of blanks", "\t192.0.2.1\t \ta \t b\t\n", "b", AF_UNSPEC, {V4A}},
    {"blank lines", "\n \t \n\r\n192.0.2.1 a\n\n", "a", AF_UNSPEC, {V4A}},
    {"crlf", "192.0.2.1 a\r\n192.0.2.2 a b\r\n", "a", AF_UNSPEC, {V4A, V4B}},
    {"crlf last name", "192.0.2.1 a\r\n192.0.2.2 a b\r\n", "b", AF_UNSPEC, {V4B}},
    {"crlf no final lf", "192.0.2.1 a b\r", "b", AF_UNSPEC, {V4A}},
    {"crlf after comment", "192.0.2.1 a # c\r\n", "a", AF_UNSPEC, {V4A}},
    {"bad line adds nothing", "192.0.2.1 a\n192.0.2.2 a b!\n", "a", AF_UNSPEC, {V4A}},
    {"loopback",
     "127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
     "localhost",
     AF_UNSPEC,
     {"127.0.0.1", "::1"}},
};

START_TEST(test_find) {
    struct he_hosts_stats st;
    const char *what = find_rows[_i].what;
    struct he_hosts *h = parse(find_rows[_i].text, &st);
    if (strcmp(what, "bad line adds nothing") != 0) {
        assert_clean(&st);
    }
    assert_find(h, find_rows[_i].name, find_rows[_i].family, find_rows[_i].want);
    /* has() says whether the name is there at all, whatever its family. */
    struct he_addr any[HE_HOSTS_MAX_ADDRS];
    int n = he_hosts_find(h, find_rows[_i].name, AF_UNSPEC, any, HE_HOSTS_MAX_ADDRS);
    ck_assert_msg(he_hosts_has(h, find_rows[_i].name) == (n > 0), "%s: has() disagrees", what);
    he_hosts_free(h);
}
END_TEST

START_TEST(test_has_vs_find) {
    struct he_hosts_stats st;
    struct he_hosts *h = parse("192.0.2.1 v4only\n2001:db8::a v6only\n", &st);
    assert_clean(&st);
    ck_assert_int_eq(st.names, 2);
    struct he_addr a[4];
    ck_assert_int_eq(he_hosts_find(h, "v4only", AF_INET6, a, 4), 0);
    ck_assert_int_eq(he_hosts_has(h, "v4only"), 1); /* known name, no AAAA */
    ck_assert_int_eq(he_hosts_find(h, "v6only", AF_INET, a, 4), 0);
    ck_assert_int_eq(he_hosts_has(h, "V6ONLY."), 1);
    ck_assert_int_eq(he_hosts_find(h, "unknown", AF_INET, a, 4), 0);
    ck_assert_int_eq(he_hosts_has(h, "unknown"), 0); /* unknown name */
    ck_assert_int_eq(he_hosts_has(h, NULL), 0);
    ck_assert_int_eq(he_hosts_find(h, NULL, AF_UNSPEC, a, 4), 0);
    he_hosts_free(h);
}
END_TEST

START_TEST(test_find_arguments) {
    struct he_hosts *h = parse("192.0.2.1 a\n192.0.2.2 a\n2001:db8::a a\n", NULL);
    struct he_addr a[4];
    memset(a, 0, sizeof a);
    ck_assert_int_eq(he_hosts_find(h, "a", AF_UNIX, a, 4), -EAFNOSUPPORT);
    ck_assert_int_eq(he_hosts_find(h, "a", AF_UNSPEC, a, -1), -EINVAL);
    ck_assert_int_eq(he_hosts_find(h, "a", AF_UNSPEC, NULL, 0), 0);
    /* A short max keeps the first addresses in file order. */
    ck_assert_int_eq(he_hosts_find(h, "a", AF_UNSPEC, a, 2), 2);
    struct he_addr w = addr_of(V4B);
    ck_assert(he_addr_equal(&a[1], &w));
    ck_assert_int_eq(he_hosts_find(h, "a", AF_INET6, a, 1), 1);
    w = addr_of(V6A);
    ck_assert(he_addr_equal(&a[0], &w));
    ck_assert_int_eq(a[0].scope, 0);
    he_hosts_free(h);
    /* A NULL table holds nothing. */
    ck_assert_int_eq(he_hosts_find(NULL, "a", AF_UNSPEC, a, 4), 0);
    ck_assert_int_eq(he_hosts_has(NULL, "a"), 0);
    ck_assert_ptr_null(he_hosts_canonical(NULL, "a"));
    he_hosts_free(NULL);
}
END_TEST

START_TEST(test_canonical) {
    struct he_hosts *h = parse("192.0.2.1 Canon.Test alias\n"
                               "192.0.2.2 alias other\n"
                               "192.0.2.3 dotted.test. Alias2.\n",
                               NULL);
    ck_assert_str_eq(he_hosts_canonical(h, "canon.test"), "Canon.Test");
    ck_assert_str_eq(he_hosts_canonical(h, "ALIAS."), "Canon.Test");
    ck_assert_str_eq(he_hosts_canonical(h, "other"), "alias");
    ck_assert_str_eq(he_hosts_canonical(h, "Dotted.Test"), "dotted.test");
    ck_assert_str_eq(he_hosts_canonical(h, "alias2"), "dotted.test");
    ck_assert_ptr_null(he_hosts_canonical(h, "absent"));
    /* Still all of alias's addresses, whatever its canonical name. */
    ASSERT_FIND(h, "alias", AF_UNSPEC, V4A, V4B);
    he_hosts_free(h);
}
END_TEST

/* Names whose hashes collide (FNV-1a, 32 bits) are still told apart. */
START_TEST(test_hash_collision) {
    struct he_hosts *h =
        parse("192.0.2.1 costarring declinate\n192.0.2.2 liquid Macallums\n", NULL);
    ASSERT_FIND(h, "costarring", AF_UNSPEC, V4A);
    ASSERT_FIND(h, "LIQUID", AF_UNSPEC, V4B);
    ASSERT_FIND(h, "declinate", AF_UNSPEC, V4A);
    ASSERT_FIND(h, "macallums", AF_UNSPEC, V4B);
    ck_assert_int_eq(he_hosts_has(h, "altarage"), 0);
    he_hosts_free(h);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Bad lines                                                                  */

#define LIT(s) s, sizeof s - 1

static const struct {
    const char *what;
    const char *text;
    size_t len; /* the text may hold NUL bytes */
    int lines, bad_lines, first_bad_line;
    const char *why;
} bad_rows[] = {
    {"name first", LIT("a.test 192.0.2.1\n"), 1, 1, 1, "address does not parse"},
    {"octet too big", LIT("192.0.2.256 a\n"), 1, 1, 1, "address does not parse"},
    {"short v4", LIT("192.0.2 a\n"), 1, 1, 1, "address does not parse"},
    {"v4 with port", LIT("192.0.2.1:80 a\n"), 1, 1, 1, "address does not parse"},
    {"bad v6", LIT("2001:db8:::a a\n"), 1, 1, 1, "address does not parse"},
    {"v6 in brackets", LIT("[2001:db8::a] a\n"), 1, 1, 1, "address does not parse"},
    {"long address", LIT("2001:0db8:0000:0000:0000:0000:0000:000a:0000 a\n"), 1, 1, 1,
     "address does not parse"},
    {"scope name", LIT("fe80::1%eth0 a\n"), 1, 1, 1, "address with a scope id"},
    {"scope number", LIT("fe80::1%2 a\n"), 1, 1, 1, "address with a scope id"},
    {"no name", LIT("192.0.2.1\n"), 1, 1, 1, "no name"},
    {"no name, blanks", LIT("192.0.2.1 \t \n"), 1, 1, 1, "no name"},
    {"no name, comment", LIT("192.0.2.1 # a\n"), 1, 1, 1, "no name"},
    {"slash", LIT("192.0.2.1 a/b\n"), 1, 1, 1, "bad name"},
    {"comma", LIT("192.0.2.1 a,b\n"), 1, 1, 1, "bad name"},
    {"utf-8", LIT("192.0.2.1 \xc3\xa4.test\n"), 1, 1, 1, "bad name"},
    {"bad alias spoils the line", LIT("192.0.2.1 good.test a*b\n"), 1, 1, 1, "bad name"},
    {"lone dot", LIT("192.0.2.1 .\n"), 1, 1, 1, "bad name"},
    {"two dots", LIT("192.0.2.1 ..\n"), 1, 1, 1, "bad name"},
    {"empty label", LIT("192.0.2.1 a..b\n"), 1, 1, 1, "bad name"},
    {"leading dot", LIT("192.0.2.1 .a\n"), 1, 1, 1, "bad name"},
    {"two trailing dots", LIT("192.0.2.1 a..\n"), 1, 1, 1, "bad name"},
    {"cr inside", LIT("192.0.2.1 a\rb\n"), 1, 1, 1, "bad name"},
    {"two crs", LIT("192.0.2.1 a\r\r\n"), 1, 1, 1, "bad name"},
    {"vertical tab", LIT("192.0.2.1\va\n"), 1, 1, 1, "address does not parse"},
    {"nul in name", LIT("192.0.2.1 a\0b\n"), 1, 1, 1, "NUL byte"},
    {"nul in comment", LIT("192.0.2.1 a #\0\n"), 1, 1, 1, "NUL byte"},
    {"nul alone", LIT("\0\n"), 1, 1, 1, "NUL byte"},
    {"first bad line counted exactly",
     LIT("192.0.2.1 x\n\n# c\nbad line\n192.0.2.2 y\n192.0.2.3\n \n"), 7, 2, 4,
     "address does not parse"},
    {"every class counted",
     LIT("fe80::1%1 a\n192.0.2.1\n192.0.2.1 a/b\n1.2.3 a\n192.0.2.1 \0\n192.0.2.2 ok\n"), 6, 5, 1,
     "address with a scope id"},
};

/* Each row, followed by a good line that must still count. */
START_TEST(test_bad_lines) {
    const char *what = bad_rows[_i].what;
    size_t len = bad_rows[_i].len;
    static const char tail[] = "192.0.2.9 tail.test\n";
    char buf[256];
    ck_assert_uint_lt(len + sizeof tail, sizeof buf);
    memcpy(buf, bad_rows[_i].text, len);
    memcpy(buf + len, tail, sizeof tail - 1);
    struct he_hosts_stats st;
    struct he_hosts *h = parse_len(buf, len + sizeof tail - 1, &st);
    ck_assert_msg(st.lines == bad_rows[_i].lines + 1, "%s: %d lines", what, st.lines);
    ck_assert_msg(st.bad_lines == bad_rows[_i].bad_lines, "%s: %d bad lines", what, st.bad_lines);
    ck_assert_msg(st.first_bad_line == bad_rows[_i].first_bad_line, "%s: first bad line %d", what,
                  st.first_bad_line);
    ck_assert_ptr_nonnull(st.first_bad_why);
    ck_assert_msg(strcmp(st.first_bad_why, bad_rows[_i].why) == 0, "%s: why '%s', want '%s'", what,
                  st.first_bad_why, bad_rows[_i].why);
    ck_assert_int_eq(st.capped_lines, 0);
    ASSERT_FIND(h, "tail.test", AF_UNSPEC, "192.0.2.9");
    /* Nothing of a bad line is used: no name but the tail's and good ones. */
    ck_assert_int_eq(he_hosts_has(h, "a"), 0);
    ck_assert_int_eq(he_hosts_has(h, "good.test"), 0);
    he_hosts_free(h);
}
END_TEST

/* Builds "192.0.2.1 " then a name of n 'a's and suffix. */
static void name_line(char *buf, size_t n, const char *suffix) {
    strcpy(buf, "192.0.2.1 ");
    memset(buf + 10, 'a', n);
    strcpy(buf + 10 + n, suffix);
}

START_TEST(test_name_length) {
    char line[HE_HOSTS_NAME_MAX + 32];
    char name[HE_HOSTS_NAME_MAX + 3];
    struct he_hosts_stats st;
    struct he_hosts *h;

    static const struct {
        size_t n;
        const char *suffix;
        int bad;
    } rows[] = {
        {HE_HOSTS_NAME_MAX, "\n", 0},
        {HE_HOSTS_NAME_MAX, ".\n", 0},
        {HE_HOSTS_NAME_MAX + 1, "\n", 1},
        {HE_HOSTS_NAME_MAX + 1, ".\n", 1},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        name_line(line, rows[r].n, rows[r].suffix);
        h = parse(line, &st);
        ck_assert_int_eq(st.bad_lines, rows[r].bad);
        memset(name, 'a', rows[r].n);
        name[rows[r].n] = '\0';
        ck_assert_int_eq(he_hosts_has(h, name), !rows[r].bad);
        if (rows[r].bad) {
            ck_assert_str_eq(st.first_bad_why, "name too long");
        } else {
            ck_assert_str_eq(he_hosts_canonical(h, name), name);
        }
        he_hosts_free(h);
    }
}
END_TEST

/* A line of exactly len bytes before its line ending. */
static char *line_of(size_t len, const char *ending) {
    char *buf = malloc(len + strlen(ending) + 1);
    ck_assert_ptr_nonnull(buf);
    memset(buf, ' ', len);
    memcpy(buf, "192.0.2.1 long #", 16);
    strcpy(buf + len, ending);
    return buf;
}

START_TEST(test_line_length) {
    static const struct {
        size_t len;
        const char *ending;
        int bad;
    } rows[] = {
        {HE_HOSTS_LINE_MAX, "\n", 0},
        {HE_HOSTS_LINE_MAX, "\r\n", 0}, /* the CR is part of the line ending */
        {HE_HOSTS_LINE_MAX, "", 0},
        {HE_HOSTS_LINE_MAX + 1, "\n", 1},
        {HE_HOSTS_LINE_MAX + 1, "", 1},
        {HE_HOSTS_LINE_MAX * 4, "\n", 1},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        char *text = line_of(rows[r].len, rows[r].ending);
        struct he_hosts_stats st;
        struct he_hosts *h = parse(text, &st);
        ck_assert_int_eq(st.lines, 1);
        ck_assert_int_eq(st.bad_lines, rows[r].bad);
        ck_assert_int_eq(he_hosts_has(h, "long"), !rows[r].bad);
        if (rows[r].bad) {
            ck_assert_str_eq(st.first_bad_why, "line too long");
        }
        he_hosts_free(h);
        free(text);
    }
}
END_TEST

START_TEST(test_empty_inputs) {
    static const char *const texts[] = {"", "\n", "\n\n\n", "# only\n# comments", " \t\r\n\t"};
    static const int lines[] = {0, 1, 3, 2, 2};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct he_hosts_stats st;
        struct he_hosts *h = parse(texts[i], &st);
        assert_clean(&st);
        ck_assert_int_eq(st.lines, lines[i]);
        ck_assert_int_eq(st.names, 0);
        ck_assert_int_eq(he_hosts_has(h, "a"), 0);
        ck_assert_int_eq(he_hosts_find(h, "a", AF_UNSPEC, NULL, 0), 0);
        he_hosts_free(h);
    }
    /* No stats wanted. */
    struct he_hosts *h = parse("192.0.2.1 a\n", NULL);
    ck_assert_int_eq(he_hosts_has(h, "a"), 1);
    he_hosts_free(h);
}
END_TEST

START_TEST(test_parse_too_big) {
    struct he_hosts *h = (struct he_hosts *)0x1;
    struct he_hosts_stats st;
    memset(&st, 0x5a, sizeof st);
    char *text = calloc(1, HE_HOSTS_MAX_BYTES + 1);
    ck_assert_int_eq(he_hosts_parse(text, HE_HOSTS_MAX_BYTES + 1, &h, &st), -EFBIG);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(st.lines, 0);
    ck_assert_int_eq(st.bad_lines, 0);
    free(text);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Caps                                                                       */

START_TEST(test_address_cap) {
    /* 40 addresses for cap.test, one per line; then a repeat, which is not
     * dropped but already held; then one more shared with other.test. */
    char text[4096];
    size_t n = 0;
    for (int i = 1; i <= 40; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "192.0.2.%d cap.test\n", i);
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "192.0.2.1 cap.test\n");
    n += (size_t)snprintf(text + n, sizeof text - n, "198.51.100.1 other.test cap.test\n");
    struct he_hosts_stats st;
    struct he_hosts *h = parse(text, &st);
    ck_assert_int_eq(st.lines, 42);
    ck_assert_int_eq(st.bad_lines, 0);
    ck_assert_int_eq(st.capped_lines, 9); /* lines 33..40 and 42 */
    ck_assert_int_eq(st.first_capped_line, 33);

    struct he_addr got[HE_HOSTS_MAX_ADDRS + 8];
    ck_assert_int_eq(he_hosts_find(h, "cap.test", AF_UNSPEC, got, HE_HOSTS_MAX_ADDRS + 8),
                     HE_HOSTS_MAX_ADDRS);
    for (int i = 0; i < HE_HOSTS_MAX_ADDRS; i++) {
        char want[32];
        snprintf(want, sizeof want, "192.0.2.%d", i + 1);
        struct he_addr w = addr_of(want);
        ck_assert_msg(he_addr_equal(&got[i], &w), "address %d", i);
    }
    /* The rest of a capped line is used. */
    ASSERT_FIND(h, "other.test", AF_UNSPEC, "198.51.100.1");
    he_hosts_free(h);
}
END_TEST

/* Appends names "nK" for K in [from, to), many to a line. */
static size_t many_names(char *buf, size_t cap, int from, int to) {
    size_t n = 0;
    for (int k = from; k < to; k++) {
        if ((k - from) % 256 == 0) {
            n += (size_t)snprintf(buf + n, cap - n, "%s192.0.2.1", k == from ? "" : "\n");
        }
        n += (size_t)snprintf(buf + n, cap - n, " n%d", k);
    }
    n += (size_t)snprintf(buf + n, cap - n, "\n");
    ck_assert_uint_lt(n, cap);
    return n;
}

START_TEST(test_name_cap) {
    size_t cap = HE_HOSTS_MAX_BYTES;
    char *text = malloc(cap);
    int total = HE_HOSTS_MAX_NAMES + 1000;
    size_t n = many_names(text, cap, 0, total);
    struct he_hosts_stats st;
    struct he_hosts *h = parse_len(text, n, &st);
    ck_assert_int_eq(st.bad_lines, 0);
    ck_assert_int_eq(st.names, HE_HOSTS_MAX_NAMES);
    ck_assert_int_eq(st.first_capped_line, HE_HOSTS_MAX_NAMES / 256 + 1);
    ck_assert_int_eq(st.capped_lines, (total + 255) / 256 - HE_HOSTS_MAX_NAMES / 256);
    ck_assert_int_eq(he_hosts_has(h, "n0"), 1);
    ck_assert_int_eq(he_hosts_has(h, "N65535"), 1);
    ck_assert_int_eq(he_hosts_has(h, "n65536"), 0);
    ASSERT_FIND(h, "n12345", AF_UNSPEC, V4A);
    he_hosts_free(h);
    free(text);
}
END_TEST

/* One name on every line of a full-size file: each line costs a look at
 * at most HE_HOSTS_MAX_ADDRS addresses, so this stays fast. */
START_TEST(test_big_input_one_name) {
    size_t cap = HE_HOSTS_MAX_BYTES;
    char *text = malloc(cap);
    size_t n = 0;
    int lines = 0;
    while (n + 32 < cap) {
        n +=
            (size_t)snprintf(text + n, cap - n, "10.%d.%d.1 x\n", (lines / 256) % 256, lines % 256);
        lines++;
    }
    struct he_hosts_stats st;
    struct he_hosts *h = parse_len(text, n, &st);
    ck_assert_int_eq(st.lines, lines);
    ck_assert_int_eq(st.bad_lines, 0);
    ck_assert_int_eq(st.first_capped_line, HE_HOSTS_MAX_ADDRS + 1);
    struct he_addr a[HE_HOSTS_MAX_ADDRS];
    ck_assert_int_eq(he_hosts_find(h, "x", AF_INET, a, HE_HOSTS_MAX_ADDRS), HE_HOSTS_MAX_ADDRS);
    he_hosts_free(h);
    free(text);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Files                                                                      */

/* Writes len bytes of text to a new temporary file; returns its path. */
static char *temp_file(const char *text, size_t len) {
    char *path = strdup("/tmp/check_hosts.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
    close(fd);
    return path;
}

START_TEST(test_load) {
    const char text[] = "# test hosts\r\n192.0.2.1 a.test\r\nbad\r\n2001:db8::a a.test\r\n";
    char *path = temp_file(text, sizeof text - 1);
    struct he_hosts *h = NULL;
    struct he_hosts_stats st;
    ck_assert_int_eq(he_hosts_load(path, &h, &st), 0);
    ck_assert_int_eq(st.lines, 4);
    ck_assert_int_eq(st.bad_lines, 1);
    ck_assert_int_eq(st.first_bad_line, 3);
    ASSERT_FIND(h, "A.test.", AF_UNSPEC, V4A, V6A);
    he_hosts_free(h);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_load_errors) {
    struct he_hosts *h = (struct he_hosts *)0x1;
    struct he_hosts_stats st;
    ck_assert_int_eq(he_hosts_load("/nonexistent/libhe/hosts", &h, &st), -ENOENT);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(he_hosts_load("/tmp", &h, &st), -EISDIR);
    ck_assert_int_eq(he_hosts_load(NULL, &h, &st), -EINVAL);
    /* Only regular files are read: a device that never ends, or one that
     * is empty, is refused before any read. */
    ck_assert_int_eq(he_hosts_load("/dev/zero", &h, &st), -ENODEV);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(he_hosts_load("/dev/null", &h, &st), -ENODEV);
    ck_assert_ptr_null(h);
}
END_TEST

/* Reproducer: HE_HOSTS naming a FIFO without a writer held the program
 * forever in its first hooked call (open(2) waited for a writer).  It is
 * refused at once now; this test times out where it is not. */
START_TEST(test_load_fifo_does_not_wait) {
    char dir[] = "/tmp/check_hosts_fifo.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    struct he_hosts *h = (struct he_hosts *)0x1;
    struct he_hosts_stats st;
    int rc = he_hosts_load(path, &h, &st);
    unlink(path);
    rmdir(dir);
    ck_assert_int_eq(rc, -ENODEV);
    ck_assert_ptr_null(h);
}
END_TEST

START_TEST(test_load_size_limit) {
    /* Exactly the limit: comment lines, then one good line. */
    char *text = malloc(HE_HOSTS_MAX_BYTES + 1);
    memset(text, '#', HE_HOSTS_MAX_BYTES + 1);
    for (size_t i = 99; i < HE_HOSTS_MAX_BYTES; i += 100) {
        text[i] = '\n';
    }
    const char good[] = "192.0.2.1 a\n";
    memcpy(text + HE_HOSTS_MAX_BYTES - (sizeof good - 1), good, sizeof good - 1);
    text[HE_HOSTS_MAX_BYTES - sizeof good] = '\n';
    char *path = temp_file(text, HE_HOSTS_MAX_BYTES);
    struct he_hosts *h = NULL;
    struct he_hosts_stats st;
    ck_assert_int_eq(he_hosts_load(path, &h, &st), 0);
    ck_assert_int_eq(st.bad_lines, 0);
    ck_assert_int_eq(he_hosts_has(h, "a"), 1);
    he_hosts_free(h);
    unlink(path);
    free(path);

    /* One byte more. */
    text[HE_HOSTS_MAX_BYTES] = '\n';
    path = temp_file(text, HE_HOSTS_MAX_BYTES + 1);
    h = (struct he_hosts *)0x1;
    ck_assert_int_eq(he_hosts_load(path, &h, &st), -EFBIG);
    ck_assert_ptr_null(h);
    unlink(path);
    free(path);
    free(text);
}
END_TEST

static Suite *hosts_suite(void) {
    Suite *s = suite_create("hosts");
    TCase *tc = tcase_create("find");
    tcase_add_loop_test(tc, test_find, 0, (int)(sizeof find_rows / sizeof find_rows[0]));
    tcase_add_test(tc, test_has_vs_find);
    tcase_add_test(tc, test_find_arguments);
    tcase_add_test(tc, test_canonical);
    tcase_add_test(tc, test_hash_collision);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad");
    tcase_add_loop_test(tc, test_bad_lines, 0, (int)(sizeof bad_rows / sizeof bad_rows[0]));
    tcase_add_test(tc, test_name_length);
    tcase_add_test(tc, test_line_length);
    tcase_add_test(tc, test_empty_inputs);
    tcase_add_test(tc, test_parse_too_big);
    suite_add_tcase(s, tc);

    tc = tcase_create("bounds");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_address_cap);
    tcase_add_test(tc, test_name_cap);
    tcase_add_test(tc, test_big_input_one_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_test(tc, test_load);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_load_fifo_does_not_wait);
    tcase_add_test(tc, test_load_size_limit);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(hosts_suite)

/* libFuzzer target: the HE_HOSTS parser with hostile files.
 *
 * The input is the file.  It is parsed whole, then every line again on its
 * own: the two must agree on which lines are bad, and every name a good
 * line gives an address must hold it in the whole table unless a cap
 * stopped it.  Then the names found in the input are looked up (as written,
 * upper-cased, with a trailing dot) and the answers checked: no more than
 * asked for, families as asked, no duplicates, no mapped IPv6, the same
 * whatever the spelling, has() true exactly when an address is found. */
#include "../../resolver/hosts.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HE_FUZZ_MAX_LINES 128
#define HE_FUZZ_MAX_NAMES 32

static const uint8_t he_fuzz_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void he_fuzz_check(int ok) {
    if (!ok) {
        abort();
    }
}

static int he_fuzz_is_sep(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '#' || c == '\0';
}

/* The answers for name, checked against each other. */
static void he_fuzz_query(const struct he_hosts *h, const char *name) {
    struct he_addr all[HE_HOSTS_MAX_ADDRS + 1], v4[HE_HOSTS_MAX_ADDRS], v6[HE_HOSTS_MAX_ADDRS];
    int n = he_hosts_find(h, name, AF_UNSPEC, all, HE_HOSTS_MAX_ADDRS + 1);
    int n4 = he_hosts_find(h, name, AF_INET, v4, HE_HOSTS_MAX_ADDRS);
    int n6 = he_hosts_find(h, name, AF_INET6, v6, HE_HOSTS_MAX_ADDRS);
    he_fuzz_check(n >= 0 && n <= HE_HOSTS_MAX_ADDRS && n4 >= 0 && n6 >= 0 && n == n4 + n6);
    he_fuzz_check(he_hosts_has(h, name) == (n > 0));
    const char *canon = he_hosts_canonical(h, name);
    he_fuzz_check((canon != NULL) == (n > 0));
    if (canon != NULL) {
        he_fuzz_check(strlen(canon) <= HE_HOSTS_NAME_MAX && he_hosts_has(h, canon));
    }
    int i4 = 0, i6 = 0;
    for (int i = 0; i < n; i++) {
        const struct he_addr *a = &all[i];
        he_fuzz_check(a->scope == 0);
        if (a->family == AF_INET) {
            static const uint8_t zero[12];
            he_fuzz_check(memcmp(a->bytes + 4, zero, 12) == 0);
            he_fuzz_check(i4 < n4 && he_addr_equal(a, &v4[i4++]));
        } else {
            he_fuzz_check(a->family == AF_INET6);
            he_fuzz_check(memcmp(a->bytes, he_fuzz_v4mapped, 12) != 0);
            he_fuzz_check(i6 < n6 && he_addr_equal(a, &v6[i6++]));
        }
        for (int j = 0; j < i; j++) {
            he_fuzz_check(!he_addr_equal(a, &all[j]));
        }
    }
    struct he_addr one[1];
    int m = he_hosts_find(h, name, AF_UNSPEC, one, 1);
    he_fuzz_check(m == (n > 0) && (m == 0 || he_addr_equal(&one[0], &all[0])));
    he_fuzz_check(he_hosts_find(h, name, AF_UNSPEC, NULL, 0) == 0);

    /* Other spellings of the same name. */
    size_t len = strlen(name);
    char *alt = malloc(len + 2);
    if (alt == NULL) {
        return;
    }
    for (size_t i = 0; i <= len; i++) {
        char c = name[i];
        alt[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    struct he_addr other[HE_HOSTS_MAX_ADDRS + 1];
    for (int k = 0; k < 2; k++) {
        if (k == 1) {
            if (len > 0 && name[len - 1] == '.') {
                break;
            }
            alt[len] = '.';
            alt[len + 1] = '\0';
        }
        int o = he_hosts_find(h, alt, AF_UNSPEC, other, HE_HOSTS_MAX_ADDRS + 1);
        he_fuzz_check(o == n);
        for (int i = 0; i < n; i++) {
            he_fuzz_check(he_addr_equal(&other[i], &all[i]));
        }
    }
    free(alt);
}

/* The lines of data parsed one by one must agree with the whole parse. */
static void he_fuzz_lines(const struct he_hosts *h, const struct he_hosts_stats *st,
                          const char *data, size_t size) {
    int bad = 0, first_bad = 0, lineno = 0;
    size_t pos = 0;
    while (pos < size && lineno < HE_FUZZ_MAX_LINES) {
        const char *line = data + pos;
        const char *lf = memchr(line, '\n', size - pos);
        size_t len = lf != NULL ? (size_t)(lf - line) : size - pos;
        pos += len + (lf != NULL);
        lineno++;
        struct he_hosts *one;
        struct he_hosts_stats s1;
        if (he_hosts_parse(line, len, &one, &s1) != 0) {
            return;
        }
        he_fuzz_check(s1.lines == (len > 0) && s1.capped_lines == 0);
        if (s1.bad_lines > 0 && bad++ == 0) {
            first_bad = lineno;
        }
        /* Each name this line gave an address must hold it now. */
        struct he_addr addr;
        char name[HE_HOSTS_NAME_MAX + 2];
        size_t i = 0, names = 0;
        while (s1.bad_lines == 0 && i < len && names < HE_FUZZ_MAX_NAMES) {
            while (i < len && he_fuzz_is_sep(line[i]) && line[i] != '#') {
                i++;
            }
            if (i >= len || line[i] == '#') {
                break;
            }
            size_t start = i;
            while (i < len && !he_fuzz_is_sep(line[i])) {
                i++;
            }
            if (i - start >= sizeof name) {
                continue;
            }
            memcpy(name, line + start, i - start);
            name[i - start] = '\0';
            if (he_hosts_find(one, name, AF_UNSPEC, &addr, 1) != 1) {
                continue; /* the address field */
            }
            names++;
            struct he_addr got[HE_HOSTS_MAX_ADDRS];
            int n = he_hosts_find(h, name, AF_UNSPEC, got, HE_HOSTS_MAX_ADDRS);
            int held = 0;
            for (int k = 0; k < n; k++) {
                held |= he_addr_equal(&got[k], &addr);
            }
            he_fuzz_check(held || n == HE_HOSTS_MAX_ADDRS ||
                          (n == 0 && st->names == HE_HOSTS_MAX_NAMES));
        }
        he_hosts_free(one);
    }
    if (pos >= size) {
        he_fuzz_check(st->lines == lineno && st->bad_lines == bad &&
                      st->first_bad_line == first_bad);
    }
}

static void he_fuzz_stats(const struct he_hosts_stats *st, const char *data, size_t size) {
    int lines = 0;
    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    lines += size > 0 && data[size - 1] != '\n';
    he_fuzz_check(st->lines == lines);
    he_fuzz_check(st->bad_lines >= 0 && st->capped_lines >= 0 &&
                  st->bad_lines + st->capped_lines <= lines);
    he_fuzz_check((st->bad_lines == 0) == (st->first_bad_line == 0));
    he_fuzz_check((st->bad_lines == 0) == (st->first_bad_why == NULL));
    he_fuzz_check((st->capped_lines == 0) == (st->first_capped_line == 0));
    he_fuzz_check(st->first_bad_line >= 0 && st->first_bad_line <= lines);
    he_fuzz_check(st->first_capped_line >= 0 && st->first_capped_line <= lines);
    he_fuzz_check(st->names >= 0 && st->names <= HE_HOSTS_MAX_NAMES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    struct he_hosts *h;
    struct he_hosts_stats st;
    int rc = he_hosts_parse(text, size, &h, &st);
    if (size > HE_HOSTS_MAX_BYTES) {
        he_fuzz_check(rc == -EFBIG && h == NULL);
        return 0;
    }
    if (rc == -ENOMEM) {
        return 0;
    }
    he_fuzz_check(rc == 0 && h != NULL);
    he_fuzz_stats(&st, text, size);
    he_fuzz_lines(h, &st, text, size);

    /* Every field of the input, as a name. */
    char name[HE_HOSTS_NAME_MAX + 8];
    size_t i = 0;
    int queried = 0;
    while (i < size && queried < HE_FUZZ_MAX_NAMES) {
        while (i < size && he_fuzz_is_sep(text[i])) {
            i++;
        }
        size_t start = i;
        while (i < size && !he_fuzz_is_sep(text[i])) {
            i++;
        }
        if (i > start && i - start < sizeof name) {
            memcpy(name, text + start, i - start);
            name[i - start] = '\0';
            he_fuzz_query(h, name);
            queried++;
        }
    }
    he_fuzz_query(h, "");
    he_fuzz_query(h, ".");
    he_hosts_free(h);
    return 0;
}

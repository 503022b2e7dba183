#include "sort.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Tables                                                                     */

struct he_sort_prefix {
    uint8_t prefix[16];
    unsigned bits;
    int val;
};

/* An IPv4 scope entry, in host byte order (glibc keeps network order and
 * masks in it; the matches are the same). */
struct he_sort_scope4 {
    uint32_t addr;
    uint32_t mask;
    int scope;
};

struct he_sort_policy {
    const struct he_sort_prefix *labels;
    size_t nlabels;
    const struct he_sort_prefix *prec;
    size_t nprec;
    const struct he_sort_scope4 *scopes;
    size_t nscopes;
    /* Those of the three the policy allocated (the rest are the defaults). */
    struct he_sort_prefix *own_labels, *own_prec;
    struct he_sort_scope4 *own_scopes;
};

/* glibc's default_labels: RFC 3484's table plus fec0::/10, fc00::/7 and
 * Teredo, in glibc's order (already most specific first). */
static const struct he_sort_prefix he_sort_default_labels[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, 0},
    {{0x20, 0x02}, 16, 2},
    {{0}, 96, 3},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 4},
    {{0xfe, 0xc0}, 10, 5},
    {{0xfc}, 7, 6},
    {{0x20, 0x01, 0, 0}, 32, 7},
    {{0}, 0, 1},
};

/* glibc's default_precedence: RFC 3484's, not RFC 6724's (IPv4 is 10,
 * below every IPv6 address but ::/96; ULA and Teredo are plain 40). */
static const struct he_sort_prefix he_sort_default_prec[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, 50},
    {{0x20, 0x02}, 16, 30},
    {{0}, 96, 20},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 10},
    {{0}, 0, 40},
};

/* glibc's default_scopes: link-local and loopback are scope 2, the rest 14. */
static const struct he_sort_scope4 he_sort_default_scopes[] = {
    {0xa9fe0000u, 0xffff0000u, 2},
    {0x7f000000u, 0xff000000u, 2},
    {0, 0, 14},
};

#define HE_NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct he_sort_policy he_sort_defaults = {
    he_sort_default_labels,
    HE_NELEM(he_sort_default_labels),
    he_sort_default_prec,
    HE_NELEM(he_sort_default_prec),
    he_sort_default_scopes,
    HE_NELEM(he_sort_default_scopes),
    NULL,
    NULL,
    NULL,
};

static const struct he_sort_policy *he_sort_policy_or_default(const struct he_sort_policy *p) {
    return p ? p : &he_sort_defaults;
}

/* The 16 bytes the tables are matched against: IPv4 as ::ffff:a.b.c.d. */
static void he_sort_as_v6(const struct he_addr *a, uint8_t out[16]) {
    if (a->family == AF_INET) {
        memset(out, 0, 10);
        out[10] = 0xff;
        out[11] = 0xff;
        memcpy(out + 12, a->bytes, 4);
    } else {
        memcpy(out, a->bytes, 16);
    }
}

/* glibc's match_prefix: the first entry whose prefix matches.  The tables
 * always end in a /0 entry, so dflt is for form's sake. */
static int he_sort_match(const struct he_sort_prefix *list, size_t n, const struct he_addr *a,
                         int dflt) {
    uint8_t v6[16];
    he_sort_as_v6(a, v6);
    for (size_t i = 0; i < n; i++) {
        unsigned bits = list[i].bits;
        const uint8_t *mask = list[i].prefix;
        const uint8_t *val = v6;
        while (bits >= 8 && *mask == *val) {
            mask++;
            val++;
            bits -= 8;
        }
        if (bits == 0) {
            return list[i].val;
        }
        if (bits < 8 && (*mask & (0xff00u >> bits)) == (*val & (0xff00u >> bits))) {
            return list[i].val;
        }
    }
    return dflt;
}

int he_sort_label(const struct he_sort_policy *p, const struct he_addr *a) {
    p = he_sort_policy_or_default(p);
    return he_sort_match(p->labels, p->nlabels, a, INT_MAX);
}

int he_sort_precedence(const struct he_sort_policy *p, const struct he_addr *a) {
    p = he_sort_policy_or_default(p);
    return he_sort_match(p->prec, p->nprec, a, 0);
}

static uint32_t he_sort_v4_host(const struct he_addr *a) {
    return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 | (uint32_t)a->bytes[2] << 8 |
           a->bytes[3];
}

/* glibc's get_scope.  An AF_INET6 v4-mapped address is not special there:
 * scope 14, whatever the IPv4 address. */
int he_sort_scope(const struct he_sort_policy *p, const struct he_addr *a) {
    p = he_sort_policy_or_default(p);
    if (a->family == AF_INET) {
        uint32_t v4 = he_sort_v4_host(a);
        for (size_t i = 0; i < p->nscopes; i++) {
            if ((v4 & p->scopes[i].mask) == p->scopes[i].addr) {
                return p->scopes[i].scope;
            }
        }
        return 14;
    }
    const uint8_t *b = a->bytes;
    if (b[0] == 0xff) {
        return b[1] & 0xf; /* multicast: its scope field */
    }
    static const uint8_t loopback[16] = {[15] = 1};
    if ((b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || memcmp(b, loopback, 16) == 0) {
        return 2; /* link-local; RFC 4291 2.5.3: loopback counts as link-local */
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) {
        return 5; /* site-local */
    }
    return 14;
}

/* ------------------------------------------------------------------------ */
/* gai.conf                                                                   */

struct he_sort_prefix_list {
    struct he_sort_prefix *v;
    size_t n, cap;
    int nullbits; /* some entry is a /0 */
};

struct he_sort_scope_list {
    struct he_sort_scope4 *v;
    size_t n, cap;
    int nullbits;
};

static int he_sort_grow(void **v, size_t *cap, size_t n, size_t size) {
    if (n < *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap * 2 : 8;
    void *nv = realloc(*v, ncap * size);
    if (nv == NULL) {
        return -ENOMEM;
    }
    *v = nv;
    *cap = ncap;
    return 0;
}

/* strtoul the way gaiconf_init checks it: all of text, no ERANGE, <= max.
 * Accepts what strtoul accepts ("+3", "" as 0: glibc takes a missing
 * value for 0). */
static int he_sort_ulong(const char *text, unsigned long max, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if ((v == ULONG_MAX && errno == ERANGE) || *end != '\0' || v > max) {
        return 0;
    }
    *out = v;
    return 1;
}

/* glibc's add_prefixlist for a `label` or `precedence` line.  Returns 0 or
 * -ENOMEM; a line glibc rejects adds nothing. */
static int he_sort_add_prefix(struct he_sort_prefix_list *l, char *val1, const char *val2) {
    /* Without "/bits" glibc goes on to read *endp with endp never set
     * (undefined behaviour): Debian 12's build rejects such a line, so do
     * we. */
    char *slash = strchr(val1, '/');
    if (slash == NULL) {
        return 0;
    }
    *slash++ = '\0';
    struct he_sort_prefix e;
    unsigned long bits, val;
    if (inet_pton(AF_INET6, val1, e.prefix) != 1 || !he_sort_ulong(slash, 128, &bits) ||
        !he_sort_ulong(val2, INT_MAX, &val)) {
        return 0;
    }
    e.bits = (unsigned)bits;
    e.val = (int)val;
    if (he_sort_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) != 0) {
        return -ENOMEM;
    }
    l->v[l->n++] = e;
    l->nullbits |= bits == 0;
    return 0;
}

static int he_sort_add_scope_entry(struct he_sort_scope_list *l, uint32_t v4, unsigned long bits,
                                   unsigned long val) {
    /* bits counts from the start of ::ffff:0:0/96, as glibc keeps it */
    struct he_sort_scope4 e;
    e.mask = bits != 96 ? 0xffffffffu << (128 - bits) : 0;
    e.addr = v4 & e.mask;
    e.scope = (int)val;
    if (he_sort_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) != 0) {
        return -ENOMEM;
    }
    l->v[l->n++] = e;
    l->nullbits |= bits == 96;
    return 0;
}

/* glibc's `scopev4` line: a.b.c.d/bits or ::ffff:a.b.c.d/bits (96..128). */
static int he_sort_add_scope(struct he_sort_scope_list *l, char *val1, const char *val2) {
    /* Without "/bits" glibc dereferences an unset pointer: Debian 12's
     * getaddrinfo dies of SIGSEGV on such a file.  Skip the line. */
    char *slash = strchr(val1, '/');
    if (slash == NULL) {
        return 0;
    }
    *slash++ = '\0';
    unsigned long bits, val;
    uint8_t v6[16];
    uint8_t v4[4];
    if (inet_pton(AF_INET6, val1, v6) == 1) {
        static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
        if (memcmp(v6, mapped, 12) != 0 || !he_sort_ulong(slash, 128, &bits) || bits < 96 ||
            !he_sort_ulong(val2, INT_MAX, &val)) {
            return 0;
        }
        memcpy(v4, v6 + 12, 4);
    } else if (inet_pton(AF_INET, val1, v4) == 1) {
        if (!he_sort_ulong(slash, 32, &bits) || !he_sort_ulong(val2, INT_MAX, &val)) {
            return 0;
        }
        bits += 96;
    } else {
        return 0;
    }
    uint32_t host = (uint32_t)v4[0] << 24 | (uint32_t)v4[1] << 16 | (uint32_t)v4[2] << 8 | v4[3];
    return he_sort_add_scope_entry(l, host, bits, val);
}

/* Splits off the next whitespace-delimited token of *cp as glibc does. */
static char *he_sort_token(char **cp) {
    char *p = *cp;
    while (isspace((unsigned char)*p)) {
        p++;
    }
    char *tok = p;
    while (*p != '\0' && !isspace((unsigned char)*p)) {
        p++;
    }
    if (*p != '\0') {
        *p++ = '\0';
    }
    *cp = p;
    return tok;
}

/* One line of gai.conf (NUL-terminated, modified in place). */
static int he_sort_parse_line(char *line, struct he_sort_prefix_list *labels,
                              struct he_sort_prefix_list *prec, struct he_sort_scope_list *scopes) {
    char *hash = strchr(line, '#');
    if (hash != NULL) {
        *hash = '\0';
    }
    char *cp = line;
    char *cmd = he_sort_token(&cp);
    if (*cmd == '\0') {
        return 0;
    }
    char *val1 = he_sort_token(&cp);
    char *val2 = he_sort_token(&cp); /* the rest of the line is ignored */
    if (strcmp(cmd, "label") == 0) {
        return he_sort_add_prefix(labels, val1, val2);
    }
    if (strcmp(cmd, "precedence") == 0) {
        return he_sort_add_prefix(prec, val1, val2);
    }
    if (strcmp(cmd, "scopev4") == 0) {
        return he_sort_add_scope(scopes, val1, val2);
    }
    return 0; /* `reload` and anything else */
}

/* Stable, longest prefix first: glibc's qsort is a merge sort, so entries
 * with equal lengths keep their file order and the first one wins. */
static void he_sort_prefixes_by_bits(struct he_sort_prefix *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        struct he_sort_prefix e = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1].bits < e.bits; j--) {
            v[j] = v[j - 1];
        }
        v[j] = e;
    }
}

static void he_sort_scopes_by_mask(struct he_sort_scope4 *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        struct he_sort_scope4 e = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1].mask < e.mask; j--) {
            v[j] = v[j - 1];
        }
        v[j] = e;
    }
}

/* Adds the /0 entry glibc adds when the file has none, then sorts. */
static int he_sort_finish_prefixes(struct he_sort_prefix_list *l, int dflt) {
    if (l->n == 0) {
        return 0;
    }
    if (!l->nullbits) {
        if (he_sort_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) != 0) {
            return -ENOMEM;
        }
        memset(&l->v[l->n], 0, sizeof l->v[l->n]);
        l->v[l->n++].val = dflt;
    }
    he_sort_prefixes_by_bits(l->v, l->n);
    return 0;
}

static int he_sort_finish_scopes(struct he_sort_scope_list *l) {
    if (l->n == 0) {
        return 0;
    }
    if (!l->nullbits) {
        if (he_sort_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) != 0) {
            return -ENOMEM;
        }
        l->v[l->n++] = (struct he_sort_scope4){0, 0, 14};
    }
    he_sort_scopes_by_mask(l->v, l->n);
    return 0;
}

static int he_sort_parse_all(const char *text, size_t len, struct he_sort_prefix_list *labels,
                             struct he_sort_prefix_list *prec, struct he_sort_scope_list *scopes) {
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t linelen = end - pos;
        char *line = malloc(linelen + 1);
        if (line == NULL) {
            return -ENOMEM;
        }
        memcpy(line, text + pos, linelen);
        line[linelen] = '\0'; /* like getline's buffer: a NUL inside ends the line */
        int rc = he_sort_parse_line(line, labels, prec, scopes);
        free(line);
        if (rc != 0) {
            return rc;
        }
        pos = end + 1;
    }
    int rc = he_sort_finish_prefixes(labels, 1);
    if (rc == 0) {
        rc = he_sort_finish_prefixes(prec, 40);
    }
    if (rc == 0) {
        rc = he_sort_finish_scopes(scopes);
    }
    return rc;
}

int he_sort_policy_parse(const char *text, size_t len, struct he_sort_policy **out) {
    *out = NULL;
    struct he_sort_policy *p = malloc(sizeof *p);
    if (p == NULL) {
        return -ENOMEM;
    }
    *p = he_sort_defaults;
    struct he_sort_prefix_list labels = {0}, prec = {0};
    struct he_sort_scope_list scopes = {0};
    int rc = he_sort_parse_all(text, len, &labels, &prec, &scopes);
    if (rc != 0) {
        free(labels.v);
        free(prec.v);
        free(scopes.v);
        free(p);
        return rc;
    }
    if (labels.n > 0) {
        p->labels = p->own_labels = labels.v;
        p->nlabels = labels.n;
    } else {
        free(labels.v);
    }
    if (prec.n > 0) {
        p->prec = p->own_prec = prec.v;
        p->nprec = prec.n;
    } else {
        free(prec.v);
    }
    if (scopes.n > 0) {
        p->scopes = p->own_scopes = scopes.v;
        p->nscopes = scopes.n;
    } else {
        free(scopes.v);
    }
    *out = p;
    return 0;
}

int he_sort_policy_load(const char *path, struct he_sort_policy **out) {
    FILE *f = fopen(path, "rce");
    if (f == NULL) {
        return he_sort_policy_parse("", 0, out);
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nt = realloc(text, ncap);
            if (nt == NULL) {
                rc = -ENOMEM;
                break;
            }
            text = nt;
            cap = ncap;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break; /* end, or a read error: glibc keeps what it read */
        }
    }
    fclose(f);
    if (rc == 0) {
        rc = he_sort_policy_parse(text ? text : "", len, out);
    }
    free(text);
    return rc;
}

void he_sort_policy_free(struct he_sort_policy *p) {
    if (p == NULL) {
        return;
    }
    free(p->own_labels);
    free(p->own_prec);
    free(p->own_scopes);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* rfc3484_sort                                                               */

struct he_sort_entry {
    struct he_addr dst;
    struct he_sort_src src;
    int dst_scope, src_scope;
    int dst_label, src_label;
    int prec;
    int native; /* 0 for a source on no known interface, as glibc defaults it */
    int idx;    /* arrival order: rule 10 */
};

/* glibc's fls: the number of leading zero bits (32 for 0). */
static int he_sort_fls(uint32_t a) {
    int n = 0;
    for (uint32_t mask = 1u << 31; n < 32 && (a & mask) == 0; mask >>= 1) {
        n++;
    }
    return n;
}

/* The leading bits an IPv4 destination shares with its source, counted
 * only when both are in the source's subnet, else 0.  A prefix length of 0
 * (source on no known interface: always so on a host without IPv6) makes
 * glibc shift by 32, which x86-64 and arm64 take as a shift by 0: the
 * "subnet" is then the source address alone. */
static int he_sort_rule9_v4(const struct he_sort_entry *e) {
    uint32_t dst = he_sort_v4_host(&e->dst);
    uint32_t src = he_sort_v4_host(&e->src.addr);
    uint32_t mask = 0xffffffffu << ((32u - (unsigned)e->src.prefixlen) & 31u);
    if ((src & mask) != (dst & mask)) {
        return 0;
    }
    return he_sort_fls(dst ^ src);
}

static uint32_t he_sort_word(const struct he_addr *a, int i) {
    return (uint32_t)a->bytes[4 * i] << 24 | (uint32_t)a->bytes[4 * i + 1] << 16 |
           (uint32_t)a->bytes[4 * i + 2] << 8 | a->bytes[4 * i + 3];
}

/* Rule 9 between two usable destinations of the same family: -1 when a
 * shares the longer prefix with its source, 1 for b, 0 for a tie. */
static int he_sort_rule9(const struct he_sort_entry *a, const struct he_sort_entry *b) {
    int bit1 = 0, bit2 = 0;
    if (a->dst.family == AF_INET) {
        bit1 = he_sort_rule9_v4(a);
        bit2 = he_sort_rule9_v4(b);
    } else {
        /* glibc: the first 32-bit word where either pair differs, and the
         * leading bits each pair shares in that word. */
        int i = 0;
        while (i < 4 && he_sort_word(&a->dst, i) == he_sort_word(&a->src.addr, i) &&
               he_sort_word(&b->dst, i) == he_sort_word(&b->src.addr, i)) {
            i++;
        }
        if (i < 4) {
            bit1 = he_sort_fls(he_sort_word(&a->dst, i) ^ he_sort_word(&a->src.addr, i));
            bit2 = he_sort_fls(he_sort_word(&b->dst, i) ^ he_sort_word(&b->src.addr, i));
        }
    }
    return bit1 > bit2 ? -1 : bit1 < bit2 ? 1 : 0;
}

/* Rules 1 to 8; 0 when they do not decide. */
static int he_sort_rules_1_8(const struct he_sort_entry *a, const struct he_sort_entry *b) {
    if (a->src.ok != b->src.ok) {
        return a->src.ok ? -1 : 1; /* rule 1 */
    }
    if (a->src.ok) {
        int am = a->dst_scope == a->src_scope, bm = b->dst_scope == b->src_scope;
        if (am != bm) {
            return am ? -1 : 1; /* rule 2 */
        }
        if (!a->src.deprecated != !b->src.deprecated) {
            return a->src.deprecated ? 1 : -1; /* rule 3 */
        }
        if (!a->src.home != !b->src.home) {
            return a->src.home ? -1 : 1; /* rule 4 */
        }
        am = a->dst_label == a->src_label;
        bm = b->dst_label == b->src_label;
        if (am != bm) {
            return am ? -1 : 1; /* rule 5 */
        }
    }
    if (a->prec != b->prec) {
        return a->prec > b->prec ? -1 : 1; /* rule 6 */
    }
    /* rule 7: the same interface is the same transport */
    if (a->src.ok && a->src.index != b->src.index && !a->native != !b->native) {
        return a->native ? -1 : 1;
    }
    if (a->dst_scope != b->dst_scope) {
        return a->dst_scope < b->dst_scope ? -1 : 1; /* rule 8 */
    }
    return 0;
}

/* glibc's rfc3484_sort: never 0. */
static int he_sort_cmp(const struct he_sort_entry *a, const struct he_sort_entry *b) {
    int r = he_sort_rules_1_8(a, b);
    if (r == 0 && a->src.ok && a->dst.family == b->dst.family) {
        r = he_sort_rule9(a, b);
    }
    if (r == 0) {
        r = a->idx < b->idx ? -1 : 1; /* rule 10 */
    }
    return r;
}

/* glibc 2.36's qsort_r for these sizes: msort_with_tmp, a top-down merge
 * sort taking from the left run on cmp <= 0.  The same walk gives the same
 * result even where the comparison is not a consistent order. */
static void he_sort_msort(int *b, size_t n, int *tmp, const struct he_sort_entry *e) {
    if (n <= 1) {
        return;
    }
    size_t n1 = n / 2, n2 = n - n1;
    int *b1 = b, *b2 = b + n1;
    he_sort_msort(b1, n1, tmp, e);
    he_sort_msort(b2, n2, tmp, e);
    int *t = tmp;
    while (n1 > 0 && n2 > 0) {
        if (he_sort_cmp(&e[*b1], &e[*b2]) <= 0) {
            *t++ = *b1++;
            n1--;
        } else {
            *t++ = *b2++;
            n2--;
        }
    }
    if (n1 > 0) {
        memcpy(t, b1, n1 * sizeof *b1);
    }
    memcpy(b, tmp, (n - n2) * sizeof *b);
}

static void he_sort_lookup(struct he_sort_entry *e, const struct he_sort_entry *prev,
                           const struct he_sort_policy *p, he_sort_source_fn src, void *ctx) {
    /* glibc reuses the result of the entry before when the sockaddr is the
     * same: the socket types of one address, or a name listed twice in a row. */
    if (prev != NULL && he_addr_equal(&prev->dst, &e->dst)) {
        e->src = prev->src;
    } else {
        memset(&e->src, 0, sizeof e->src);
        e->src.index = HE_SORT_NO_INDEX;
        if (src(ctx, &e->dst, &e->src) < 0) {
            e->src.ok = 0;
        }
    }
    e->dst_scope = he_sort_scope(p, &e->dst);
    e->dst_label = he_sort_label(p, &e->dst);
    e->prec = he_sort_precedence(p, &e->dst);
    e->src_scope = e->src.ok ? he_sort_scope(p, &e->src.addr) : 0;
    e->src_label = e->src.ok ? he_sort_label(p, &e->src.addr) : 0;
    e->native = e->src.index != HE_SORT_NO_INDEX && e->src.native;
}

/* Whether the sorted entries keep each address's per_addr entries together
 * and in their order, so that a list of addresses can say it; collapses
 * order[] to address indexes if so. */
static int he_sort_collapse(int *order, int n, int per_addr) {
    for (int i = 0; i < n; i++) {
        int first = order[i * per_addr];
        if (first % per_addr != 0) {
            return 0;
        }
        for (int m = 1; m < per_addr; m++) {
            if (order[i * per_addr + m] != first + m) {
                return 0;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        order[i] = order[i * per_addr] / per_addr;
    }
    return 1;
}

int he_sort_rfc6724(struct he_addr *addrs, int n, int per_addr, const struct he_sort_policy *p,
                    he_sort_source_fn src, void *ctx) {
    if (n < 0 || per_addr < 1 || per_addr > HE_SORT_MAX_PER_ADDR) {
        return -EINVAL;
    }
    if (n < 2) {
        return 0;
    }
    /* glibc sorts its entries, per_addr of them per address in a row. */
    int ne = n * per_addr;
    struct he_sort_entry *e = malloc((size_t)ne * sizeof *e);
    int *order = malloc((size_t)ne * 2 * sizeof *order);
    if (e == NULL || order == NULL) {
        free(e);
        free(order);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        struct he_sort_entry *a = &e[i * per_addr];
        a->dst = addrs[i];
        he_sort_lookup(a, i > 0 ? &e[(i - 1) * per_addr] : NULL, p, src, ctx);
        for (int m = 0; m < per_addr; m++) {
            e[i * per_addr + m] = *a;
            e[i * per_addr + m].idx = i * per_addr + m;
        }
    }
    for (int j = 0; j < ne; j++) {
        order[j] = j;
    }
    he_sort_msort(order, (size_t)ne, order + ne, e);
    int rc = HE_SORT_INEXACT;
    if (he_sort_collapse(order, n, per_addr)) {
        for (int i = 0; i < n; i++) {
            addrs[i] = e[order[i] * per_addr].dst;
        }
        rc = 0;
    }
    free(order);
    free(e);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Interface addresses and links (glibc's __check_pf and __check_native)      */

struct he_sort_link {
    uint32_t index;
    int native;
};

struct he_sort_iftable {
    struct he_sort_ifaddr *addrs;
    size_t naddrs, cap;
    struct he_sort_link *links;
    size_t nlinks, lcap;
    int links_read;
};

int he_sort_ifaddr_from_nl(const struct nlmsghdr *h, struct he_sort_ifaddr *out, int *seen_v4,
                           int *seen_v6) {
    if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg))) {
        return 0;
    }
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) {
        return 0;
    }
    size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
    const void *local = NULL, *address = NULL;
    unsigned int len = h->nlmsg_len - NLMSG_LENGTH(sizeof *ifa);
    /* IFA_ADDRESS wins, as in glibc: on a point-to-point link that is the
     * peer's address, so the local one is not found later. */
    for (const struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len) && address == NULL;
         rta = RTA_NEXT(rta, len)) {
        if (RTA_PAYLOAD(rta) < alen) {
            continue;
        }
        if (rta->rta_type == IFA_ADDRESS) {
            address = RTA_DATA(rta);
        } else if (rta->rta_type == IFA_LOCAL) {
            local = RTA_DATA(rta);
        }
    }
    if (address == NULL) {
        address = local;
    }
    if (address == NULL) {
        return 0;
    }
    memset(out, 0, sizeof *out);
    if (ifa->ifa_family == AF_INET) {
        static const uint8_t v4loop[4] = {127, 0, 0, 1};
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, address, 4);
        *seen_v4 |= memcmp(address, v4loop, 4) != 0;
    } else {
        static const uint8_t v6loop[16] = {[15] = 1};
        memcpy(out->addr, address, 16);
        *seen_v6 |= memcmp(address, v6loop, 16) != 0;
    }
    out->flags =
        (ifa->ifa_flags & (IFA_F_DEPRECATED | IFA_F_OPTIMISTIC) ? HE_SORT_IF_DEPRECATED : 0) |
        (ifa->ifa_flags & IFA_F_HOMEADDRESS ? HE_SORT_IF_HOME : 0);
    out->prefixlen = ifa->ifa_prefixlen;
    out->index = ifa->ifa_index;
    return 1;
}

/* Stable sort by address (glibc's qsort of in6ai is a merge sort). */
static void he_sort_ifaddrs_by_addr(struct he_sort_ifaddr *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        struct he_sort_ifaddr e = v[i];
        size_t j = i;
        for (; j > 0 && memcmp(v[j - 1].addr, e.addr, 16) > 0; j--) {
            v[j] = v[j - 1];
        }
        v[j] = e;
    }
}

/* glibc's bsearch over the sorted table. */
static const struct he_sort_ifaddr *he_sort_ifaddr_bsearch(const struct he_sort_ifaddr *v, size_t n,
                                                           const uint8_t key[16]) {
    size_t l = 0, u = n;
    while (l < u) {
        size_t idx = (l + u) / 2;
        int c = memcmp(key, v[idx].addr, 16);
        if (c < 0) {
            u = idx;
        } else if (c > 0) {
            l = idx + 1;
        } else {
            return &v[idx];
        }
    }
    return NULL;
}

const struct he_sort_ifaddr *he_sort_ifaddr_find(struct he_sort_ifaddr *v, size_t n,
                                                 const uint8_t key[16]) {
    he_sort_ifaddrs_by_addr(v, n);
    return he_sort_ifaddr_bsearch(v, n, key);
}

typedef int (*he_sort_nl_fn)(void *arg, const struct nlmsghdr *h);

/* One netlink dump of type (RTM_GETADDR, RTM_GETLINK), each message to fn.
 * Returns 0 or -errno. */
static int he_sort_nl_dump(const struct he_sort_sys *sys, int type, he_sort_nl_fn fn, void *arg) {
    static uint32_t he_sort_nl_seq;
    int fd = sys->libc->socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        return -errno;
    }
    struct {
        struct nlmsghdr nlh;
        struct rtgenmsg g;
        char pad[3];
    } req;
    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = (uint16_t)type;
    req.nlh.nlmsg_flags = NLM_F_ROOT | NLM_F_MATCH | NLM_F_REQUEST;
    req.nlh.nlmsg_seq = __atomic_add_fetch(&he_sort_nl_seq, 1, __ATOMIC_RELAXED);
    req.g.rtgen_family = AF_UNSPEC;
    struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};
    const size_t bufsize = 32768;
    char *buf = malloc(bufsize);
    int rc = buf ? 0 : -ENOMEM;
    ssize_t sent;
    do {
        sent = rc == 0 ? sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&nladdr, sizeof nladdr)
                       : 0;
    } while (rc == 0 && sent < 0 && errno == EINTR);
    if (rc == 0 && sent < 0) {
        rc = -errno;
    }
    for (int done = 0; rc == 0 && !done;) {
        struct iovec iov = {buf, bufsize};
        struct msghdr msg = {
            .msg_name = &nladdr, .msg_namelen = sizeof nladdr, .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t got = recvmsg(fd, &msg, 0);
        if (got < 0) {
            rc = errno == EINTR ? 0 : -errno;
            continue;
        }
        if (got == 0 || (msg.msg_flags & MSG_TRUNC)) {
            rc = -EIO;
            continue;
        }
        if (nladdr.nl_pid != 0) {
            continue; /* not the kernel */
        }
        size_t left = (size_t)got;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; rc == 0 && !done && NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != req.nlh.nlmsg_seq) {
                continue;
            }
            if (h->nlmsg_type == NLMSG_DONE) {
                done = 1;
            } else if (h->nlmsg_type == NLMSG_ERROR) {
                rc = -EIO;
            } else {
                rc = fn(arg, h);
            }
        }
    }
    free(buf);
    sys->libc->close(fd);
    return rc;
}

struct he_sort_addr_dump {
    struct he_sort_iftable *t;
    int seen_v4, seen_v6;
};

static int he_sort_take_addr(void *arg, const struct nlmsghdr *h) {
    struct he_sort_addr_dump *d = arg;
    struct he_sort_ifaddr a;
    if (!he_sort_ifaddr_from_nl(h, &a, &d->seen_v4, &d->seen_v6)) {
        return 0;
    }
    struct he_sort_iftable *t = d->t;
    if (he_sort_grow((void **)&t->addrs, &t->cap, t->naddrs, sizeof *t->addrs) != 0) {
        return -ENOMEM;
    }
    t->addrs[t->naddrs++] = a;
    return 0;
}

static int he_sort_take_link(void *arg, const struct nlmsghdr *h) {
    struct he_sort_iftable *t = arg;
    if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
        return 0;
    }
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    if (he_sort_grow((void **)&t->links, &t->lcap, t->nlinks, sizeof *t->links) != 0) {
        return -ENOMEM;
    }
    t->links[t->nlinks].index = (uint32_t)ifi->ifi_index;
    t->links[t->nlinks].native = ifi->ifi_type != ARPHRD_TUNNEL6 &&
                                 ifi->ifi_type != ARPHRD_TUNNEL && ifi->ifi_type != ARPHRD_SIT;
    t->nlinks++;
    return 0;
}

/* The interface addresses, once per sort.  As in glibc, none at all when
 * the dump fails or the host has no IPv6 address but ::1. */
static struct he_sort_iftable *he_sort_iftable_get(struct he_sort_sys *sys) {
    if (sys->ifs != NULL) {
        return sys->ifs;
    }
    struct he_sort_iftable *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    struct he_sort_addr_dump d = {t, 0, 0};
    if (he_sort_nl_dump(sys, RTM_GETADDR, he_sort_take_addr, &d) != 0 || !d.seen_v6) {
        t->naddrs = 0;
    }
    he_sort_ifaddrs_by_addr(t->addrs, t->naddrs);
    sys->ifs = t;
    return t;
}

/* __check_native: 0 for an interface that is a tunnel or is not there. */
static int he_sort_native(struct he_sort_sys *sys, struct he_sort_iftable *t, uint32_t index) {
    if (!t->links_read) {
        t->links_read = 1;
        if (he_sort_nl_dump(sys, RTM_GETLINK, he_sort_take_link, t) != 0) {
            t->nlinks = 0;
        }
    }
    for (size_t i = 0; i < t->nlinks; i++) {
        if (t->links[i].index == index) {
            return t->links[i].native;
        }
    }
    return 0;
}

void he_sort_sys_finish(struct he_sort_sys *sys) {
    if (sys->ifs != NULL) {
        free(sys->ifs->addrs);
        free(sys->ifs->links);
        free(sys->ifs);
        sys->ifs = NULL;
    }
    sys->sock_open = 0;
    sys->sock_family = AF_UNSPEC;
}

/* ------------------------------------------------------------------------ */
/* The source address                                                         */

/* glibc's try_connect on a fresh socket of sys->sock_family (its socket is
 * reused from one address to the next after an AF_UNSPEC connect, which
 * leaves it as fresh as a new one).  Fills *src; returns 0 or -errno. */
static int he_sort_connect(struct he_sort_sys *sys, const struct he_addr *dst,
                           struct sockaddr_storage *src) {
    int fd = sys->libc->socket(sys->sock_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
    for (;;) {
        if (fd < 0) {
            int err = errno;
            sys->sock_open = 0;
            return -err;
        }
        sys->sock_open = 1;
        /* The destination's own sockaddr, AF_INET on an AF_INET6 socket too,
         * as glibc passes ai_addr. */
        struct sockaddr_storage ss;
        socklen_t len = he_addr_to_sockaddr(dst, dst->family, sys->port, &ss);
        socklen_t slen = sizeof *src;
        if (sys->libc->connect(fd, (struct sockaddr *)&ss, len) == 0 &&
            sys->libc->getsockname(fd, (struct sockaddr *)src, &slen) == 0) {
            sys->libc->close(fd);
            return 0;
        }
        int err = errno;
        sys->libc->close(fd);
        if (err != EAFNOSUPPORT || sys->sock_family != AF_INET6 || dst->family != AF_INET) {
            return -err;
        }
        /* An IPv6-only socket (bindv6only): glibc switches to AF_INET. */
        sys->sock_family = AF_INET;
        fd = sys->libc->socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
    }
}

/* The source address as glibc keeps it for the rules, and the key it looks
 * up in in6ai. */
static void he_sort_source_of(const struct he_addr *dst, const struct sockaddr_storage *ss,
                              struct he_addr *out, uint8_t key[16]) {
    memset(out, 0, sizeof *out);
    out->family = dst->family;
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        memcpy(out->bytes, &sin->sin_addr, 4);
        key[10] = key[11] = 0xff;
        /* glibc's special case for lo, on an AF_INET socket only: a source
         * in 127/8 is looked up as 127.0.0.1. */
        if (out->bytes[0] == 127) {
            static const uint8_t one[4] = {127, 0, 0, 1};
            memcpy(key + 12, one, 4);
        } else {
            memcpy(key + 12, out->bytes, 4);
        }
        return;
    }
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    memcpy(key, &sin6->sin6_addr, 16);
    if (dst->family == AF_INET) {
        memcpy(out->bytes, sin6->sin6_addr.s6_addr + 12, 4); /* ::ffff:a.b.c.d */
    } else {
        memcpy(out->bytes, &sin6->sin6_addr, 16);
        out->scope = sin6->sin6_scope_id;
    }
}

int he_sort_source_udp(void *ctx, const struct he_addr *dst, struct he_sort_src *out) {
    struct he_sort_sys *sys = ctx;
    memset(out, 0, sizeof *out);
    out->index = HE_SORT_NO_INDEX;
    if (!sys->sock_open || (sys->sock_family == AF_INET && dst->family == AF_INET6)) {
        sys->sock_family = dst->family;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = he_sort_connect(sys, dst, &ss);
    if (rc < 0) {
        return rc;
    }
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
        return -EAFNOSUPPORT;
    }
    uint8_t key[16];
    he_sort_source_of(dst, &ss, &out->addr, key);
    out->ok = 1;
    struct he_sort_iftable *t = he_sort_iftable_get(sys);
    const struct he_sort_ifaddr *found =
        t ? he_sort_ifaddr_bsearch(t->addrs, t->naddrs, key) : NULL;
    if (found != NULL) {
        out->prefixlen = found->prefixlen;
        out->deprecated = (found->flags & HE_SORT_IF_DEPRECATED) != 0;
        out->home = (found->flags & HE_SORT_IF_HOME) != 0;
        out->index = found->index;
        out->native = he_sort_native(sys, t, found->index);
    }
    return 0;
}

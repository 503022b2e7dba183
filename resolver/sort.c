#include "sortpolicy.h"

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

const struct he_sort_policy he_sort_defaults = {
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

/* Room for n + 1 elements of size in *v (capacity *cap).  Returns 0 or
 * -ENOMEM. */
int he_sort_grow(void **v, size_t *cap, size_t n, size_t size) {
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

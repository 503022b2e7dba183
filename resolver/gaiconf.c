/* /etc/gai.conf, read as glibc reads it (label, precedence and scopev4
 * lines; a file without a /0 entry gets glibc's), into the policy the
 * rules of resolver/sort.c use. */
#include "sortpolicy.h"

#include "../common/isort.h"

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

/* Stable, longest prefix (widest mask) first: glibc's qsort is a merge
 * sort, so entries with equal lengths keep their file order and the first
 * one wins. */
static int he_sort_fewer_bits(const void *a, const void *b) {
    return ((const struct he_sort_prefix *)a)->bits < ((const struct he_sort_prefix *)b)->bits;
}

static int he_sort_narrower_mask(const void *a, const void *b) {
    return ((const struct he_sort_scope4 *)a)->mask < ((const struct he_sort_scope4 *)b)->mask;
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
    he_isort(l->v, l->n, sizeof *l->v, he_sort_fewer_bits);
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
    he_isort(l->v, l->n, sizeof *l->v, he_sort_narrower_mask);
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

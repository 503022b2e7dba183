/* The address-selection policy's tables, as resolver/sort.c (the rules),
 * resolver/gaiconf.c (reading /etc/gai.conf) and resolver/source.c share
 * them; the public interface is resolver/sort.h. */
#ifndef HE_SORT_POLICY_H
#define HE_SORT_POLICY_H

#include "sort.h"

#include <stddef.h>
#include <stdint.h>

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

#define HE_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Grows the array *v (capacity *cap, n used) to hold n + 1 elements of
 * size bytes.  Returns 0 or -ENOMEM. */
int he_sort_grow(void **v, size_t *cap, size_t n, size_t size);

/* glibc's built-in tables, used where gai.conf says nothing. */
extern const struct he_sort_policy he_sort_defaults;

#endif

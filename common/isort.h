/* A stable insertion sort, for the short lists libhe sorts where the order
 * of equal elements is part of the answer (qsort promises none): gai.conf's
 * lines as glibc's merge sort leaves them, a name's addresses ranked by the
 * connection history with RFC 6724's order kept between equals. */
#ifndef HE_ISORT_H
#define HE_ISORT_H

#include <stddef.h>
#include <string.h>

/* Sorts n elements of size bytes at base; after(a, b) is nonzero when a
 * must come after b. */
static inline void he_isort(void *base, size_t n, size_t size,
                            int (*after)(const void *a, const void *b)) {
    unsigned char *v = base;
    unsigned char e[size];
    for (size_t i = 1; i < n; i++) {
        memcpy(e, v + i * size, size);
        size_t j = i;
        for (; j > 0 && after(v + (j - 1) * size, e); j--) {
            memcpy(v + j * size, v + (j - 1) * size, size);
        }
        memcpy(v + j * size, e, size);
    }
}

#endif

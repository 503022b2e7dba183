/* libc's own functions (common/libc.h), found with dlsym(RTLD_NEXT): the
 * one table libhe calls them through.  libhe's code calls these, never its
 * own hooks. */
#ifndef HE_REAL_H
#define HE_REAL_H

#include "../common/libc.h"

/* Filled when the dynamic loader loads libhe, before the program's main
 * (a constructor), so that every hook and every thread finds it full.  A
 * hook called even earlier (from another library's constructor) fills it
 * through he_real_get. */
extern struct he_libc he_real;

extern int he_real_ready;

/* Fills the table.  Aborts with a message naming the symbol if one is
 * missing or resolves to libhe itself (which would recurse forever);
 * close_range and closefrom, which came with glibc 2.34, get stand-ins. */
const struct he_libc *he_real_fill(void);

/* The table, filled first if need be: one load on every close(). */
static inline const struct he_libc *he_real_get(void) {
    if (__builtin_expect(__atomic_load_n(&he_real_ready, __ATOMIC_ACQUIRE), 1)) {
        return &he_real;
    }
    return he_real_fill();
}

#endif

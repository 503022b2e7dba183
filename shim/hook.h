/* What every hook shares: lazy initialisation, the configuration, the name
 * memory, the real libc functions (real.h) and DNS during the race
 * (refresh.h). */
#ifndef HE_HOOK_H
#define HE_HOOK_H

#include "../racer/connector.h"
#include "../racer/strand.h"
#include "../resolver/memo.h"
#include "config.h"
#include "real.h"
#include "refresh.h"

#include <stdint.h>

#define HE_EXPORT __attribute__((visibility("default")))

extern struct he_config he_cfg;
extern struct he_memo *he_memo;
/* Set last by he_init once libhe is active: from then on the range-close
 * hooks look at libhe's fd records (racer/fdmap.h). */
extern int he_records_live;

/* Initialises libhe once (real functions, configuration, name memory,
 * fork handlers).  Cheap after the first call.  Returns 1 when libhe is
 * active, 0 when hooks must pass straight through (HE_DISABLE=1, or the
 * name memory could not be allocated). */
/* HE_STATS's summary (shim/exit.c): registered at set-up; a forked
 * child's counters start again. */
void he_exit_setup(void);
void he_exit_fork_child(void);

int he_init(void);

/* Every hook's first step after he_init: if this thread abandoned a race
 * (a signal handler siglongjmp'd out of connect), reap what it left.
 * Returns 1 when the call is nested inside a race on this thread. */
#define HE_HOOK_NESTED()                                                                           \
    (he_strand_active && he_strand_check((uintptr_t)__builtin_frame_address(0), he_real.close))

/* When an answer libc gave (without TTL) stops being fresh: now plus
 * HE_MAP_TTL. */
int64_t he_map_expiry(void);

/* Identifies the calling thread to the name memory. */
extern __thread char he_thread_anchor __attribute__((tls_model("initial-exec")));

/* One variable for the whole library (defined in init.c): a static one in
 * this header would give each source file its own, and the thread that
 * resolved a name would not be recognised by connect(). */
static inline uint64_t he_thread_id(void) {
    return (uint64_t)(uintptr_t)&he_thread_anchor;
}

#endif

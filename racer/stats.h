/* What this process's races came to, for HE_STATS's summary at exit
 * (shim/exit.c): counters only, changed with atomics from any thread. */
#ifndef HE_STATS_H
#define HE_STATS_H

#include <stdint.h>

enum he_stats_outcome {
    HE_STATS_OWN = 0, /* the program's own address won */
    HE_STATS_RESCUED, /* a sibling won and is on the program's fd */
    HE_STATS_FAILED,  /* nothing connected: the program got an error */
    HE_STATS_LEFT,    /* libhe stopped; the program's own attempt goes on
                         (EINTR, SO_SNDTIMEO, a non-blocking race with
                         nothing left to try) */
};

struct he_stats {
    unsigned long races, own, rescued, failed, left;
    unsigned long dead_wait_ms; /* time in races the own address lost */
};

/* Counting is on only with HE_STATS (shim/exit.c turns it on): without
 * it, a race ends with no shared counter touched, which threads racing at
 * once would otherwise bounce between their CPUs. */
void he_stats_enable(void);

/* One race ended after elapsed_ms (nothing when counting is off). */
void he_stats_note(enum he_stats_outcome outcome, int64_t elapsed_ms);
void he_stats_read(struct he_stats *out);
/* A forked child counts its own races from zero. */
void he_stats_reset(void);

#endif

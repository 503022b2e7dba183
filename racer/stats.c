#include "stats.h"

static struct he_stats he_stats;
static int he_stats_on;

void he_stats_enable(void) {
    __atomic_store_n(&he_stats_on, 1, __ATOMIC_RELAXED);
}

void he_stats_note(enum he_stats_outcome outcome, int64_t elapsed_ms) {
    if (!__atomic_load_n(&he_stats_on, __ATOMIC_RELAXED)) {
        return;
    }
    unsigned long *slot[] = {&he_stats.own, &he_stats.rescued, &he_stats.failed, &he_stats.left};
    __atomic_add_fetch(&he_stats.races, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(slot[outcome], 1, __ATOMIC_RELAXED);
    if ((outcome == HE_STATS_RESCUED || outcome == HE_STATS_FAILED) && elapsed_ms > 0) {
        __atomic_add_fetch(&he_stats.dead_wait_ms, (unsigned long)elapsed_ms, __ATOMIC_RELAXED);
    }
}

void he_stats_read(struct he_stats *out) {
    out->races = __atomic_load_n(&he_stats.races, __ATOMIC_RELAXED);
    out->own = __atomic_load_n(&he_stats.own, __ATOMIC_RELAXED);
    out->rescued = __atomic_load_n(&he_stats.rescued, __ATOMIC_RELAXED);
    out->failed = __atomic_load_n(&he_stats.failed, __ATOMIC_RELAXED);
    out->left = __atomic_load_n(&he_stats.left, __ATOMIC_RELAXED);
    out->dead_wait_ms = __atomic_load_n(&he_stats.dead_wait_ms, __ATOMIC_RELAXED);
}

void he_stats_reset(void) {
    __atomic_store_n(&he_stats.races, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&he_stats.own, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&he_stats.rescued, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&he_stats.failed, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&he_stats.left, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&he_stats.dead_wait_ms, 0, __ATOMIC_RELAXED);
}

/* HE_STATS: the summary line a CI job asserts on, written once per
 * process when it ends (README, "A summary a CI job can assert on").
 *
 * exit() and a return from main run it through atexit; _exit and _Exit,
 * which skip atexit (os._exit, a forked worker's end), are hooked here so
 * that it is written before them.  A forked child counts its own races
 * from zero and writes a line only if it raced or injected a fault; a
 * vfork child (which shares its parent's memory, counters and "written"
 * flag) writes nothing.  A process killed by a signal writes nothing. */
#include "hook.h"

#include "../common/log.h"
#include "../faults/fault.h"
#include "../racer/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int he_exit_written;
static pid_t he_exit_pid; /* the process the counters are about */
static int he_exit_forked;

static void he_exit_summary(void) {
    if (!he_cfg.stats || getpid() != __atomic_load_n(&he_exit_pid, __ATOMIC_ACQUIRE) ||
        __atomic_exchange_n(&he_exit_written, 1, __ATOMIC_ACQ_REL)) {
        return;
    }
    struct he_stats st;
    he_stats_read(&st);
    unsigned long faults = he_fault_injected();
    if (he_exit_forked && st.races == 0 && faults == 0) {
        return;
    }
    char line[512];
    int n = snprintf(line, sizeof line,
                     he_log_json ? "{\"event\":\"summary\",\"pid\":%d,\"races\":%lu,\"own\":%lu,"
                                   "\"rescued\":%lu,\"failed\":%lu,\"left\":%lu,"
                                   "\"dead_wait_ms\":%lu,\"faults\":%lu}"
                                 : "libhe[%d] summary: races %lu, own %lu, rescued %lu, failed "
                                   "%lu, left %lu, dead_wait_ms %lu, faults %lu",
                     (int)getpid(), st.races, st.own, st.rescued, st.failed, st.left,
                     st.dead_wait_ms, faults);
    if (n > 0) {
        he_log_line(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

void he_exit_setup(void) {
    __atomic_store_n(&he_exit_pid, getpid(), __ATOMIC_RELEASE);
    if (he_cfg.stats) {
        he_stats_enable();
        atexit(he_exit_summary);
    }
}

void he_exit_fork_child(void) {
    he_stats_reset();
    he_fault_reset_count();
    he_exit_forked = 1;
    __atomic_store_n(&he_exit_written, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&he_exit_pid, getpid(), __ATOMIC_RELEASE);
}

HE_EXPORT void _exit(int status) {
    if (he_cfg.stats) {
        he_exit_summary();
    }
    he_real_get()->_exit(status);
}

HE_EXPORT void _Exit(int status) {
    if (he_cfg.stats) {
        he_exit_summary();
    }
    he_real_get()->_exit(status);
}

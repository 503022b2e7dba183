/* A race's outcomes, taught to the history (racer/remember.h). */
#include "remember.h"

#include "../history/history.h"

#include <errno.h>

static enum he_hist_outcome he_remember_failure(int err) {
    switch (err) {
    case ECONNREFUSED:
        return HE_HIST_REFUSED;
    case ETIMEDOUT:
        return HE_HIST_TIMEDOUT;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
    case EPERM:
        return HE_HIST_UNREACH;
    default:
        return HE_HIST_NONE; /* about the call (EADDRNOTAVAIL, EMFILE), not the address */
    }
}

/* What attempt a says about its address, and its connect time in *rtt_ms.
 * One still running when the race ended (the caller's own, left to the
 * kernel, or given up by the program) has run until now. */
static enum he_hist_outcome he_remember_outcome(const struct he_race *r, const struct he_attempt *a,
                                                int64_t now, int64_t *rtt_ms) {
    int64_t ran = (a->state == HE_ATTEMPT_RUNNING ? now : a->ended_ms) - a->started_ms;
    int loss_ms = r->delay_ms < HE_REMEMBER_LOSS_MS ? r->delay_ms : HE_REMEMBER_LOSS_MS;
    *rtt_ms = ran < 0 ? 0 : ran;
    switch (a->state) {
    case HE_ATTEMPT_WON:
        return HE_HIST_CONNECTED;
    case HE_ATTEMPT_FAILED:
        return he_remember_failure(a->err);
    case HE_ATTEMPT_CANCELLED:
    case HE_ATTEMPT_RUNNING:
        return ran >= loss_ms ? HE_HIST_TIMEDOUT : HE_HIST_NONE;
    default:
        return HE_HIST_NONE;
    }
}

void he_race_remember(const struct he_race *r, uint16_t port, int64_t now) {
    for (int i = 0; i < r->count; i++) {
        const struct he_attempt *a = &r->att[i];
        int64_t rtt_ms;
        enum he_hist_outcome o = he_remember_outcome(r, a, now, &rtt_ms);
        if (o != HE_HIST_NONE) {
            uint32_t us = rtt_ms > 3600000 ? 3600000000u : (uint32_t)(rtt_ms * 1000);
            he_hist_record(&a->addr, port, o, us, now);
        }
    }
}

void he_remember_quick(const struct he_addr *a, uint16_t port, int failed, int64_t now) {
    he_hist_record(a, port, failed ? HE_HIST_REFUSED : HE_HIST_CONNECTED, 0, now);
}

void he_remember_refusal(const struct he_addr *a, uint16_t port, int err, int64_t now) {
    enum he_hist_outcome o = he_remember_failure(err);
    if (o != HE_HIST_NONE) {
        he_hist_record(a, port, o, 0, now);
    }
}

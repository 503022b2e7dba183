/* A race's outcomes, taught to the history (racer/remember.h). */
#include "remember.h"

#include "../history/history.h"
#include "connector.h"

#include <arpa/inet.h>

#include <errno.h>

static enum he_hist_outcome he_remember_failure(int err) {
    switch (err) {
    case ECONNREFUSED:
    case ECONNRESET: /* a banner race's server that reset before a word */
    case ENODATA:    /* ... or closed */
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

void he_race_remember(const struct he_race *r, in_port_t port_n) {
    if (he_hist_table() == NULL) {
        return; /* HE_HISTORY=off, or not opened: no clock read either */
    }
    int64_t now = he_connector_now_ms(NULL);
    uint16_t port = ntohs(port_n);
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

/* One outcome outside a race, when a history is in use. */
static void he_remember_one(const struct he_addr *a, in_port_t port_n, enum he_hist_outcome o) {
    if (o != HE_HIST_NONE && he_hist_table() != NULL) {
        he_hist_record(a, ntohs(port_n), o, 0, he_connector_now_ms(NULL));
    }
}

void he_remember_quick(const struct he_addr *a, in_port_t port_n, int failed) {
    he_remember_one(a, port_n, failed ? HE_HIST_REFUSED : HE_HIST_CONNECTED);
}

void he_remember_refusal(const struct he_addr *a, in_port_t port_n, int err) {
    he_remember_one(a, port_n, he_remember_failure(err));
}

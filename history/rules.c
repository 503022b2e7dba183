/* The history's rules (history/rules.h). */
#include "rules.h"

static int he_hist_failure(unsigned o) {
    return o == HE_HIST_REFUSED || o == HE_HIST_TIMEDOUT || o == HE_HIST_UNREACH;
}

/* RFC 6298 §2: the first sample sets SRTT = R and RTTVAR = R/2; later
 * ones RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, then SRTT = 7/8 SRTT + 1/8 R.
 * An RTT that aged out starts over as a first sample. */
static void he_hist_smooth(struct he_hist_entry *e, uint32_t rtt_us, uint32_t now_s) {
    if (!he_hist_has_rtt(e, now_s)) {
        e->srtt_us = rtt_us;
        e->rttvar_us = rtt_us / 2;
        return;
    }
    uint32_t diff = e->srtt_us > rtt_us ? e->srtt_us - rtt_us : rtt_us - e->srtt_us;
    e->rttvar_us = (uint32_t)(((uint64_t)e->rttvar_us * 3 + diff) / 4);
    e->srtt_us = (uint32_t)(((uint64_t)e->srtt_us * 7 + rtt_us) / 8);
}

void he_hist_note(struct he_hist_entry *e, enum he_hist_outcome o, uint32_t rtt_us,
                  uint32_t now_s) {
    if (o == HE_HIST_CONNECTED) {
        he_hist_smooth(e, rtt_us, now_s);
        e->connected_at_s = now_s;
        e->fails = 0;
    } else if (he_hist_failure(o)) {
        e->fails = he_hist_failure(e->outcome) ? (uint8_t)(e->fails < 255 ? e->fails + 1 : 255) : 1;
    } else {
        return;
    }
    e->outcome = (uint8_t)o;
    e->outcome_at_s = now_s;
}

uint32_t he_hist_window_s(const struct he_hist_conf *conf, unsigned fails) {
    uint64_t w = (uint64_t)conf->window_s;
    for (unsigned i = 1; i < fails && w < (uint64_t)conf->window_max_s; i++) {
        w *= 2;
    }
    return (uint32_t)(w > (uint64_t)conf->window_max_s ? (uint64_t)conf->window_max_s : w);
}

/* now_s - t for a time t that is not in the future; one that is (a value
 * from garbage) counts as long ago. */
static uint32_t he_hist_age(uint32_t t, uint32_t now_s) {
    return t <= now_s ? now_s - t : UINT32_MAX;
}

int he_hist_has_rtt(const struct he_hist_entry *e, uint32_t now_s) {
    return e->connected_at_s != 0 && he_hist_age(e->connected_at_s, now_s) < HE_HIST_RTT_AGE_S;
}

enum he_hist_class he_hist_classify(const struct he_hist_conf *conf, const struct he_hist_entry *e,
                                    uint32_t now_s) {
    if (e == NULL || e->outcome == HE_HIST_NONE) {
        return HE_HIST_UNKNOWN;
    }
    if (he_hist_failure(e->outcome) &&
        he_hist_age(e->outcome_at_s, now_s) < he_hist_window_s(conf, e->fails)) {
        return HE_HIST_BAD;
    }
    return he_hist_has_rtt(e, now_s) ? HE_HIST_GOOD : HE_HIST_UNKNOWN;
}

int he_hist_delay_ms(const struct he_hist_conf *conf, const struct he_hist_entry *e) {
    uint64_t us = (uint64_t)e->srtt_us + 4 * (uint64_t)e->rttvar_us;
    uint64_t ms = (us + 999) / 1000;
    int lo =
        conf->min_delay_ms < HE_HIST_DELAY_FLOOR_MS ? HE_HIST_DELAY_FLOOR_MS : conf->min_delay_ms;
    int hi =
        conf->max_delay_ms > HE_HIST_DELAY_CEIL_MS ? HE_HIST_DELAY_CEIL_MS : conf->max_delay_ms;
    if (ms < (uint64_t)lo) {
        ms = (uint64_t)lo;
    }
    /* An explicit HE_ATTEMPT_DELAY_MS below the minimum still caps it. */
    return (int)(ms > (uint64_t)hi ? (uint64_t)hi : ms);
}

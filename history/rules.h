/* What an outcome does to an entry, and what an entry says about the next
 * race: the failure window and its backoff, RTT smoothing (RFC 6298), the
 * attempt delay derived from it (RFC 8305 §5).  Pure: the time is passed
 * in, so the unit tests drive it from a table. */
#ifndef HE_HIST_RULES_H
#define HE_HIST_RULES_H

#include "table.h"

struct he_hist_conf {
    int window_s;     /* a first failure is believed this long (HE_HISTORY_WINDOW_S) */
    int window_max_s; /* ... doubling with each further one, up to this */
    int min_delay_ms; /* HE_MIN_ATTEMPT_DELAY_MS */
    int max_delay_ms; /* 2000, or HE_ATTEMPT_DELAY_MS when set explicitly */
};

/* RTTs age out: a path measured ten minutes ago may be another path. */
#define HE_HIST_RTT_AGE_S 600
/* RFC 8305 §5: a delay derived from history is never below 10 ms (100 ms
 * is the recommended minimum, HE_MIN_ATTEMPT_DELAY_MS's default) and at
 * most 2 s. */
#define HE_HIST_DELAY_FLOOR_MS 10
#define HE_HIST_DELAY_CEIL_MS 2000

/* How the next race should treat an address. */
enum he_hist_class {
    HE_HIST_GOOD = 0,    /* connected within HE_HIST_RTT_AGE_S */
    HE_HIST_UNKNOWN = 1, /* never seen, or forgotten */
    HE_HIST_BAD = 2,     /* failed within its window: tried last */
};

/* Takes one outcome into e: rtt_us is the attempt's connect time when it
 * CONNECTED (else ignored). */
void he_hist_note(struct he_hist_entry *e, enum he_hist_outcome o, uint32_t rtt_us, uint32_t now_s);
/* How long fails consecutive failures are believed. */
uint32_t he_hist_window_s(const struct he_hist_conf *conf, unsigned fails);
/* e NULL: nothing known. */
enum he_hist_class he_hist_classify(const struct he_hist_conf *conf, const struct he_hist_entry *e,
                                    uint32_t now_s);
/* Whether e has an RTT young enough to use. */
int he_hist_has_rtt(const struct he_hist_entry *e, uint32_t now_s);
/* RFC 8305 §5: when the previous attempt would send its second SYN, its
 * retransmission timer: SRTT + 4 RTTVAR (RFC 6298 §2), clamped to
 * [min_delay_ms, max_delay_ms].  e must have an RTT. */
int he_hist_delay_ms(const struct he_hist_conf *conf, const struct he_hist_entry *e);

#endif

/* What the history changes in the next race (RFC 8305 §4-5): the order of
 * the name's addresses, whether the caller's own address goes first, and
 * the Connection Attempt Delay. */
#ifndef HE_HIST_PLAN_H
#define HE_HIST_PLAN_H

#include "history.h"

#define HE_PLAN_MAX 64

enum he_plan_own {
    HE_PLAN_AS_ASKED = 0, /* the caller's address first, siblings after the delay */
    HE_PLAN_WITH_SIBLING, /* the own address timed out recently: the best sibling (not
                           * failed itself) starts with it */
    HE_PLAN_OWN_LAST,     /* the own address refused (or was unreachable) recently: the
                           * caller's socket goes to the best sibling, the own address is
                           * raced last */
};

struct he_plan {
    enum he_plan_own own;
    struct he_addr own_addr; /* the caller's own address */
    struct he_addr first;    /* what the caller's socket connects to */
    int delay_ms;
    const char *delay_from; /* "config", "its RTT", "its prefix's RTT" */
    int n;                  /* addrs[], best first: known good, unknown, failed */
    struct he_addr addrs[HE_PLAN_MAX];
    int nbad;  /* the last nbad of addrs failed recently: raced last */
    int ngood; /* the first ngood connected lately: raced first */
    /* For the log line: what the own address's history said. */
    enum he_hist_outcome own_outcome;
    uint32_t own_age_s;
};

/* What the table says about a candidate; the shim passes he_hist_find. */
typedef int (*he_plan_find_fn)(const struct he_addr *a, uint16_t port, struct he_hist_entry *out);
typedef int (*he_plan_find_prefix_fn)(const struct he_addr *a, struct he_hist_entry *out);

struct he_plan_input {
    const struct he_addr *own; /* the caller's address */
    const struct he_addr *addrs;
    int n;
    uint16_t port; /* host order */
    int sock_family;
    int delay_ms; /* the configured Connection Attempt Delay */
    uint32_t now_s;
    const struct he_hist_conf *conf;
    he_plan_find_fn find;
    he_plan_find_prefix_fn find_prefix;
};

/* Fills *p.  Returns 1 when the history changed anything a user would see
 * (the own address's place, or the order), else 0. */
int he_plan_make(struct he_plan *p, const struct he_plan_input *in);

/* "own address refused 12 s ago: sibling first", for the race's log line. */
const char *he_plan_describe(const struct he_plan *p, char *buf, size_t len);

#endif

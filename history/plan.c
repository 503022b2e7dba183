/* The history's plan for a race (history/plan.h). */
#include "plan.h"

#include "../common/isort.h"

#include <stdio.h>
#include <string.h>

/* RFC 8305 §4 via Apple's practice: RTTs within 25 ms of each other count
 * as equal, and RFC 6724's order stands between them. */
#define HE_PLAN_RTT_BUCKET_US 25000

struct he_plan_cand {
    struct he_addr addr;
    enum he_hist_class cls;
    uint64_t key; /* sort key: class, then RTT bucket among the good */
};

static uint64_t he_plan_key(enum he_hist_class cls, const struct he_hist_entry *e) {
    uint64_t key = (uint64_t)cls << 40;
    if (cls == HE_HIST_GOOD) {
        key += e->srtt_us / HE_PLAN_RTT_BUCKET_US;
    }
    return key;
}

/* Sorted stably by key: equal keys keep libc's (RFC 6724) order. */
static int he_plan_ranks_after(const void *a, const void *b) {
    return ((const struct he_plan_cand *)a)->key > ((const struct he_plan_cand *)b)->key;
}

static int he_plan_carriable(const struct he_addr *a, int sock_family) {
    return sock_family == AF_INET6 || a->family == AF_INET;
}

/* *e is zeroed when nothing is known of a. */
static enum he_hist_class he_plan_classify(const struct he_plan_input *in, const struct he_addr *a,
                                           struct he_hist_entry *e, int *found) {
    *found = in->find(a, in->port, e) == 0;
    if (!*found) {
        memset(e, 0, sizeof *e);
    }
    return he_hist_classify(in->conf, *found ? e : NULL, in->now_s);
}

/* RFC 8305 §5: the delay from the RTT to the caller's address, else to
 * its prefix, else the configured one. */
static void he_plan_delay(struct he_plan *p, const struct he_plan_input *in,
                          const struct he_hist_entry *own, int own_found) {
    struct he_hist_entry pre;
    p->delay_ms = in->delay_ms;
    p->delay_from = "config";
    if (own_found && he_hist_has_rtt(own, in->now_s)) {
        p->delay_ms = he_hist_delay_ms(in->conf, own);
        p->delay_from = "its RTT";
    } else if (in->find_prefix(&p->first, &pre) == 0 && he_hist_has_rtt(&pre, in->now_s)) {
        p->delay_ms = he_hist_delay_ms(in->conf, &pre);
        p->delay_from = "its prefix's RTT";
    }
}

/* The caller's own address and the best sibling decide where the caller's
 * socket goes and when the siblings start. */
static void he_plan_own(struct he_plan *p, const struct he_plan_input *in,
                        const struct he_hist_entry *own, enum he_hist_class own_cls,
                        const struct he_plan_cand *best) {
    p->own = HE_PLAN_AS_ASKED;
    p->own_addr = *in->own;
    p->first = *in->own;
    if (own_cls != HE_HIST_BAD || best == NULL || best->cls == HE_HIST_BAD) {
        return;
    }
    p->own_outcome = own->outcome;
    p->own_age_s = in->now_s >= own->outcome_at_s ? in->now_s - own->outcome_at_s : 0;
    /* A refusal (or an unreachable error) is what the program sees at
     * once, before any sibling could help: its socket goes elsewhere.  A
     * timeout only costs time: the best sibling starts with it. */
    if (own->outcome == HE_HIST_REFUSED || own->outcome == HE_HIST_UNREACH) {
        p->own = HE_PLAN_OWN_LAST;
        p->first = best->addr;
    } else {
        p->own = HE_PLAN_WITH_SIBLING;
    }
}

int he_plan_make(struct he_plan *p, const struct he_plan_input *in) {
    struct he_plan_cand c[HE_PLAN_MAX];
    struct he_hist_entry e, own;
    int n = 0, changed = 0, own_found, found;
    enum he_hist_class own_cls = he_plan_classify(in, in->own, &own, &own_found);
    for (int i = 0; i < in->n && n < HE_PLAN_MAX; i++) {
        if (he_addr_equal(&in->addrs[i], in->own)) {
            c[n].addr = in->addrs[i];
            c[n].cls = own_cls;
            c[n].key = he_plan_key(own_cls, &own);
        } else {
            c[n].addr = in->addrs[i];
            c[n].cls = he_plan_classify(in, &in->addrs[i], &e, &found);
            c[n].key = he_plan_key(c[n].cls, &e);
        }
        n++;
    }
    he_isort(c, (size_t)n, sizeof c[0], he_plan_ranks_after);
    const struct he_plan_cand *best = NULL;
    p->n = n;
    p->nbad = p->ngood = 0;
    for (int i = 0; i < n; i++) {
        p->addrs[i] = c[i].addr;
        p->nbad += c[i].cls == HE_HIST_BAD;
        p->ngood += c[i].cls == HE_HIST_GOOD;
        changed |= !he_addr_equal(&c[i].addr, &in->addrs[i]);
        if (best == NULL && !he_addr_equal(&c[i].addr, in->own) &&
            he_plan_carriable(&c[i].addr, in->sock_family)) {
            best = &c[i];
        }
    }
    p->own_outcome = HE_HIST_NONE;
    p->own_age_s = 0;
    he_plan_own(p, in, &own, own_cls, best);
    he_plan_delay(p, in, &own, own_found);
    return changed || p->own != HE_PLAN_AS_ASKED;
}

const char *he_plan_describe(const struct he_plan *p, char *buf, size_t len) {
    static const char *const what[] = {"", "connected", "refused", "timed out", "unreachable"};
    const char *o = p->own_outcome < HE_HIST_OUTCOMES ? what[p->own_outcome] : "?";
    switch (p->own) {
    case HE_PLAN_OWN_LAST:
        snprintf(buf, len, "own address %s %u s ago: sibling first", o, p->own_age_s);
        break;
    case HE_PLAN_WITH_SIBLING:
        snprintf(buf, len, "own address %s %u s ago: sibling at once", o, p->own_age_s);
        break;
    default:
        snprintf(buf, len, "order: %d known good first, %d failed recently last (of %d)", p->ngood,
                 p->nbad, p->n);
        break;
    }
    return buf;
}

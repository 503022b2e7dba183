/* Which siblings a race gets, and in what order (RFC 8305 §4). */
#include "race.h"

#include <stddef.h>
#include <string.h>

/* Whether a socket of sock_family can carry a: an AF_INET socket only
 * IPv4; an AF_INET6 one both, IPv4 as ::ffff:a.b.c.d. */
static int he_order_carriable(const struct he_addr *a, int sock_family) {
    return sock_family == AF_INET6 || a->family == AF_INET;
}

int he_race_count_siblings(const struct he_addr *first, const struct he_addr *addrs, int n,
                           int sock_family) {
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (!he_addr_equal(&addrs[i], first) && he_order_carriable(&addrs[i], sock_family)) {
            count++;
        }
    }
    return count;
}

/* RFC 8305 §4: after the first address, alternate families, beginning
 * with the family the first attempt did not use ("First Address Family
 * Count" of 1).  Within a family, libc's (RFC 6724) order is kept. */
static int he_order_interleave(struct he_race *r, const struct he_addr *first,
                               const struct he_addr *addrs, int n, int sock_family, int room) {
    int other = first->family == AF_INET ? AF_INET6 : AF_INET;
    int next_of[2] = {0, 0}; /* cursor into addrs for [other, same] */
    int fams[2] = {other, first->family};
    int added = 0, turn = 0, exhausted = 0;
    while (added < room && exhausted < 2) {
        int f = turn & 1;
        int *i = &next_of[f];
        while (*i < n && (addrs[*i].family != fams[f] || he_addr_equal(&addrs[*i], first) ||
                          !he_order_carriable(&addrs[*i], sock_family))) {
            (*i)++;
        }
        if (*i < n) {
            r->att[r->count++].addr = addrs[(*i)++];
            added++;
            exhausted = 0;
        } else {
            exhausted++;
        }
        turn++;
    }
    return added;
}

void he_race_init(struct he_race *r, const struct he_addr *first, const struct he_addr *addrs,
                  int n, int sock_family, int delay_ms, int max_attempts) {
    /* Only the header and the attempts in use are set: the race is on the
     * stack of every connect() to a known name. */
    memset(r, 0, offsetof(struct he_race, att));
    memset(&r->att[0], 0, sizeof r->att[0]);
    if (max_attempts < 1) {
        max_attempts = 1;
    }
    if (max_attempts > HE_RACE_MAX_ATTEMPTS) {
        max_attempts = HE_RACE_MAX_ATTEMPTS;
    }
    /* RFC 8305 §5: never below 10 ms; libhe caps configured values at 2 s,
     * the top of the RFC's recommended range. */
    r->delay_ms = delay_ms < 10 ? 10 : delay_ms > 2000 ? 2000 : delay_ms;
    r->deadline_ms = -1;
    r->winner = -1;
    r->max_attempts = max_attempts;
    r->sock_family = sock_family;
    r->att[0].addr = *first;
    r->count = 1;
    /* Duplicates within one family cannot occur: the memory deduplicates. */
    he_order_interleave(r, first, addrs, n, sock_family, max_attempts - 1);
    for (int i = 0; i < r->count; i++) {
        if (i > 0) {
            struct he_addr a = r->att[i].addr;
            memset(&r->att[i], 0, sizeof r->att[i]);
            r->att[i].addr = a;
        }
        r->att[i].handle = -1;
        r->att[i].state = HE_ATTEMPT_WAITING;
    }
}

void he_race_set_banner(struct he_race *r, int banner_ms) {
    r->banner_ms = banner_ms > 0 ? banner_ms : 0;
}

void he_race_set_deadline(struct he_race *r, int64_t deadline_ms, int err) {
    r->deadline_ms = deadline_ms;
    r->deadline_err = err;
}

const char *he_attempt_state_name(enum he_attempt_state s) {
    static const char *const names[] = {"not-started", "running", "failed", "won",
                                        "cancelled",   "skipped", "silent"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

const char *he_attempt_label(const struct he_attempt *a) {
    if (a->connected && (a->state == HE_ATTEMPT_CANCELLED || a->state == HE_ATTEMPT_SILENT)) {
        return "silent";
    }
    if (a->connected && a->state == HE_ATTEMPT_FAILED) {
        return "closed";
    }
    return he_attempt_state_name(a->state);
}

static int he_order_known(const struct he_race *r, const struct he_addr *a) {
    for (int i = 0; i < r->count; i++) {
        if (he_addr_equal(&r->att[i].addr, a)) {
            return 1;
        }
    }
    return 0;
}

/* The family of the attempt started last, which the next one alternates
 * from. */
static const struct he_addr *he_order_last_started(const struct he_race *r) {
    const struct he_addr *last = &r->att[0].addr;
    int64_t at = r->att[0].started_ms;
    for (int i = 1; i < r->count; i++) {
        enum he_attempt_state st = r->att[i].state;
        if (st != HE_ATTEMPT_WAITING && st != HE_ATTEMPT_SKIPPED && r->att[i].started_ms >= at) {
            last = &r->att[i].addr;
            at = r->att[i].started_ms;
        }
    }
    return last;
}

/* Attempts start in index order, so those at and after the returned index
 * have not started: they are waiting or were skipped. */
static int he_order_unstarted_from(const struct he_race *r) {
    int tail = r->count;
    while (tail > 1 && (r->att[tail - 1].state == HE_ATTEMPT_WAITING ||
                        r->att[tail - 1].state == HE_ATTEMPT_SKIPPED)) {
        tail--;
    }
    return tail;
}

int he_race_add(struct he_race *r, const struct he_addr *addrs, int n) {
    struct he_addr waiting[HE_RACE_MAX_ATTEMPTS];
    struct he_attempt skipped[HE_RACE_MAX_ATTEMPTS];
    int nw = 0, ns = 0, added = 0;
    /* Started attempts keep their index (the connector knows them by it);
     * the tail of those not started is rebuilt. */
    int tail = he_order_unstarted_from(r);
    for (int i = tail; i < r->count; i++) {
        if (r->att[i].state == HE_ATTEMPT_WAITING) {
            waiting[nw++] = r->att[i].addr;
        } else {
            skipped[ns++] = r->att[i];
        }
    }
    for (int i = 0; i < n && tail + nw + ns < r->max_attempts; i++) {
        const struct he_addr *a = &addrs[i];
        int dup = !he_order_carriable(a, r->sock_family) || he_order_known(r, a);
        for (int k = 0; k < nw && !dup; k++) {
            dup = he_addr_equal(&waiting[k], a);
        }
        if (dup) {
            continue;
        }
        if (r->unreachable & (a->family == AF_INET ? 1 : 2)) {
            memset(&skipped[ns], 0, sizeof skipped[ns]);
            skipped[ns].addr = *a;
            skipped[ns].handle = -1;
            skipped[ns++].state = HE_ATTEMPT_SKIPPED;
        } else {
            waiting[nw++] = *a;
        }
        added++;
    }
    if (added == 0) {
        return 0;
    }
    /* The waiting ones go back interleaved from the family started last,
     * then the skipped ones. */
    const struct he_addr last = *he_order_last_started(r);
    r->count = tail;
    he_order_interleave(r, &last, waiting, nw, r->sock_family, nw);
    for (int i = tail; i < r->count; i++) {
        struct he_addr a = r->att[i].addr;
        memset(&r->att[i], 0, sizeof r->att[i]);
        r->att[i].addr = a;
        r->att[i].handle = -1;
        r->att[i].state = HE_ATTEMPT_WAITING;
    }
    memcpy(&r->att[r->count], skipped, (size_t)ns * sizeof skipped[0]);
    r->count += ns;
    return added;
}

static int he_order_in(const struct he_addr *a, const struct he_addr *set, int n) {
    for (int i = 0; i < n; i++) {
        if (he_addr_equal(a, &set[i])) {
            return 1;
        }
    }
    return 0;
}

void he_race_demote(struct he_race *r, const struct he_addr *bad, int nbad) {
    struct he_attempt back[HE_RACE_MAX_ATTEMPTS];
    int nback = 0, keep = 1;
    for (int i = 1; i < r->count; i++) {
        if (r->att[i].state == HE_ATTEMPT_WAITING && he_order_in(&r->att[i].addr, bad, nbad)) {
            back[nback++] = r->att[i];
        } else {
            r->att[keep++] = r->att[i];
        }
    }
    memcpy(&r->att[keep], back, (size_t)nback * sizeof back[0]);
}

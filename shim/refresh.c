/* DNS during the race (RFC 8305 §3): when connect() finds its address's
 * name expired or known only in part, a c-ares lookup for the name runs in
 * the race's own poll loop.  Its answers join the race as they arrive and
 * then refresh the name memory with their TTLs. */
#include "hook.h"

#include "../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A name whose refresh was just tried (and perhaps cut short by a quick
 * winner) is not queried again for this long: a busy program connecting to
 * an expired name sends at most one lookup per name per second. */
#define HE_REFRESH_GAP_MS 1000

static void he_refresh_opened(int fd) {
    he_strand_add(fd);
}

static void he_refresh_closing(int fd) {
    he_strand_del(fd);
}

static const struct he_fd_notes he_refresh_notes = {he_refresh_opened, he_refresh_closing};
static struct he_dns_conf he_refresh_dns_conf;

/* resolv.conf's "options timeout:N attempts:N" (and RES_OPTIONS), which
 * c-ares 1.18 does not apply as libc does, so that a lookup of libhe's
 * gives up when libc's would.  Read here rather than with res_ninit: that
 * takes a lock of libc's, and a fork while another thread holds it would
 * leave a child that initialises libhe stuck. */
static void he_refresh_options(const char *s, int *timeout_s, int *attempts) {
    for (const char *p = s; p && *p; p += strcspn(p, " \t\n"), p += strspn(p, " \t\n")) {
        if (strncmp(p, "timeout:", 8) == 0) {
            *timeout_s = atoi(p + 8);
        } else if (strncmp(p, "attempts:", 9) == 0) {
            *attempts = atoi(p + 9);
        }
    }
}

/* resolv.conf has a sortlist, which glibc applies to A answers. */
static int he_refresh_sortlist;

int he_resolv_sortlist(void) {
    return he_refresh_sortlist;
}

static void he_refresh_read_resolv(int *timeout_ms, int *tries) {
    int t = 5, a = 2; /* libc's RES_TIMEOUT and RES_DFLRETRY */
    FILE *f = fopen("/etc/resolv.conf", "re");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            const char *p = line + strspn(line, " \t");
            if (strncmp(p, "options", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
                he_refresh_options(p + 8, &t, &a);
            }
            he_refresh_sortlist |= strncmp(p, "sortlist", 8) == 0;
        }
        fclose(f);
    }
    he_refresh_options(secure_getenv("RES_OPTIONS"), &t, &a);
    /* libc's bounds: RES_MAXRETRANS 30 s, RES_MAXRETRY 5. */
    *timeout_ms = (t < 1 ? 1 : t > 30 ? 30 : t) * 1000;
    *tries = a < 1 ? 1 : a > 5 ? 5 : a;
}

void he_refresh_setup(void) {
    he_refresh_dns_conf = (struct he_dns_conf){
        he_real_get(), &he_refresh_notes, he_cfg.nameservers, he_cfg.resolution_delay_ms, 0, 0};
    he_refresh_read_resolv(&he_refresh_dns_conf.timeout_ms, &he_refresh_dns_conf.tries);
}

const struct he_dns_conf *he_refresh_conf(void) {
    return &he_refresh_dns_conf;
}

static int he_refresh_pollfds(void *ctx, struct pollfd *pfd, int max) {
    struct he_refresh *f = ctx;
    return f->dns == NULL ? 0 : he_dns_pollfds(f->dns, pfd, max);
}

/* A late refresh is due: its time has come and no sibling is left. */
static int he_refresh_late_due(const struct he_refresh *f, int64_t now) {
    return now >= f->start_at && he_race_siblings_left(f->race) == 0;
}

static int he_refresh_timeout(void *ctx, int64_t now) {
    struct he_refresh *f = ctx;
    if (f->dns != NULL) {
        return he_dns_timeout_ms(f->dns, now);
    }
    if (now < f->start_at) {
        return (int)(f->start_at - now);
    }
    return he_refresh_late_due(f, now) ? 0 : -1;
}

static int he_refresh_lookup(struct he_refresh *f, int64_t now);

static int he_refresh_process(void *ctx, struct he_race *r, const struct pollfd *pfd, int n,
                              int64_t now) {
    struct he_refresh *f = ctx;
    if (f->dns == NULL) {
        if (he_refresh_late_due(f, now) &&
            (!he_refresh_claim(f->name, now) || he_refresh_lookup(f, now) != 0)) {
            r->news_pending = 0; /* no lookup after all: the race goes on as it is */
        }
        return 0;
    }
    he_dns_process(f->dns, pfd, n, now);
    struct he_feed *feed = he_dns_feed(f->dns);
    struct he_addr fresh[2 * HE_MEMO_MAX_ADDRS];
    int got = he_feed_take(feed, now, fresh, 2 * HE_MEMO_MAX_ADDRS);
    int added = got > 0 ? he_race_add(r, fresh, got) : 0;
    f->added += added;
    if (he_feed_done(feed)) {
        r->news_pending = 0;
        return 1;
    }
    return added > 0;
}

/* The families a socket of sock_family can use: an AF_INET socket has no
 * use for AAAA answers, so a name whose IPv4 answer is fresh is fresh to
 * it. */
static int he_refresh_fams(int sock_family) {
    return sock_family == AF_INET ? HE_MEMO_FAM_V4 : HE_MEMO_FAM_ALL;
}

int he_refresh_due(const struct he_memo_answer *ans, int sock_family, int64_t now) {
    int need = he_refresh_fams(sock_family);
    for (int f = 0; f < 2; f++) {
        if ((need & (1 << f)) && ((ans->fam_known & (1 << f)) == 0 || now >= ans->fam_expires[f])) {
            return 1;
        }
    }
    return 0;
}

int he_refresh_claim(const char *name, int64_t now) {
    return he_memo_refresh_claim(he_memo, name, now, HE_REFRESH_GAP_MS);
}

static int he_refresh_lookup(struct he_refresh *f, int64_t now) {
    f->t0 = now;
    int rc = he_dns_start(he_refresh_conf(), f->name, he_refresh_fams(f->race->sock_family), now,
                          &f->dns);
    if (rc != 0) {
        HE_LOG(HE_LOG_DEBUG, "refresh %s: no lookup (%s)", f->name, strerror(-rc));
        f->dns = NULL;
    } else if (f->deferred) {
        HE_LOG(HE_LOG_INFO,
               "race %s: not connected within the attempt delay and nothing left to race; "
               "asking DNS again",
               f->name);
    }
    return rc;
}

/* Every field set, nothing copied: a late refresh is set up on every
 * blocking race to a name that is not on loopback. */
static void he_refresh_init(struct he_refresh *f, const char *name, struct he_race *r) {
    *f = (struct he_refresh){
        .news = {f, he_refresh_pollfds, he_refresh_timeout, he_refresh_process},
        .name = name,
        .race = r,
    };
}

int he_refresh_start(struct he_refresh *f, const char *name, struct he_race *r, int64_t now) {
    he_refresh_init(f, name, r);
    int rc = he_refresh_lookup(f, now);
    if (rc == 0) {
        r->news_pending = 1;
    }
    return rc;
}

int he_refresh_defer(struct he_refresh *f, const char *name, struct he_race *r, int64_t start_at) {
    he_refresh_init(f, name, r);
    f->deferred = 1;
    f->start_at = start_at;
    r->news_pending = 1;
    return 0;
}

/* The TTL an answer is kept for: its own (at least a second, so that a
 * TTL of 0 does not mean a lookup per connect), HE_MAP_TTL without one. */
static int64_t he_refresh_expiry(const struct he_feed_family *ff, int64_t now) {
    if (ff->ttl_s < 0 || ff->count == 0) {
        return now + (int64_t)he_cfg.map_ttl_s * 1000;
    }
    return now + (int64_t)(ff->ttl_s < 1 ? 1 : ff->ttl_s) * 1000;
}

static const int he_refresh_bits[2] = {HE_MEMO_FAM_V4, HE_MEMO_FAM_V6};

void he_refresh_learn(const char *name, const struct he_feed *feed, int64_t now) {
    for (int i = 0; i < 2; i++) {
        const struct he_feed_family *ff = &feed->fam[i];
        if (ff->state == HE_FEED_ANSWERED) {
            he_memo_learn(he_memo, name, he_refresh_bits[i], ff->addrs, ff->count, he_thread_id(),
                          he_refresh_expiry(ff, now));
        }
    }
}

static const char *he_refresh_state(const struct he_feed_family *ff) {
    static const char *const names[] = {"-", "pending", "answered", "failed"};
    return names[ff->state];
}

void he_refresh_finish(struct he_refresh *f, int connected) {
    if (f->dns == NULL) {
        return;
    }
    int64_t now = he_connector_now_ms(NULL);
    const struct he_feed *feed = he_dns_feed(f->dns);
    he_refresh_learn(f->name, feed, now);
    for (int i = 0; i < 2; i++) {
        if (feed->fam[i].state != HE_FEED_ANSWERED && connected) {
            /* Cut short by a quick winner (or DNS trouble): the addresses
             * known work, so they count as fresh for HE_MAP_TTL again
             * rather than sending a query with every connect. */
            he_memo_restamp(he_memo, f->name, he_refresh_bits[i], he_map_expiry());
        }
    }
    HE_LOG(HE_LOG_DEBUG,
           "refresh %s: A %s (%d), AAAA %s (%d), %d joined the race; ended after %lld ms; "
           "hook re-entries from c-ares: %lu",
           f->name, he_refresh_state(&feed->fam[0]), feed->fam[0].count,
           he_refresh_state(&feed->fam[1]), feed->fam[1].count, f->added, (long long)(now - f->t0),
           he_dns_reentries());
    he_dns_free(f->dns);
    f->dns = NULL;
}

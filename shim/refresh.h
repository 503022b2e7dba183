/* DNS during the race (shim/refresh.c, RFC 8305 §3): when connect() finds
 * its address's name expired or known only in part, a c-ares lookup for
 * the name runs in the race's own poll loop; its answers join the race as
 * they arrive and then refresh the name memory with their TTLs. */
#ifndef HE_REFRESH_H
#define HE_REFRESH_H

#include "../racer/connector.h"
#include "../racer/race.h"
#include "../resolver/dns.h"
#include "../resolver/memo.h"

#include <stdint.h>

/* When a blocking race asks DNS: not at all, at once (the name's memory
 * is expired or partial), or late (he_refresh_defer). */
enum he_refresh_when { HE_REFRESH_NEVER = 0, HE_REFRESH_NOW, HE_REFRESH_LATE };

struct he_refresh {
    struct he_dns *dns;
    struct he_news news;
    const char *name; /* the race's name: its caller keeps it for the race */
    int64_t t0;
    int added; /* candidates its answers added */
    /* A late refresh (he_refresh_defer) waits until start_at, and until
     * the race has no sibling left, before it asks. */
    int deferred;
    int64_t start_at;
    struct he_race *race;
};
/* Whether the name's memory is expired or partial for the families a
 * socket of sock_family can use (no lock). */
int he_refresh_due(const struct he_memo_answer *ans, int sock_family, int64_t now);
/* Whether connect() should look a due name up again while it races: no
 * refresh was tried in the last second (takes the memory's lock). */
int he_refresh_claim(const char *name, int64_t now);
/* Starts the lookup and marks the race as fed (r->news_pending); the
 * connector polls f->news.  Returns 0 or -errno (no lookup: race as is). */
/* name must outlive f (it is the connect's own copy of the answer). */
int he_refresh_start(struct he_refresh *f, const char *name, struct he_race *r, int64_t now);
/* A slow connect re-resolves its name (connection history): when the
 * caller's attempt has not connected by start_at (the attempt delay) and
 * no sibling is left to try, the name is looked up from inside the race,
 * however fresh its memory, at most once per name per second.  The race
 * is marked as fed until then.  Returns 0. */
int he_refresh_defer(struct he_refresh *f, const char *name, struct he_race *r, int64_t start_at);
/* Teaches the name memory feed's answers, each with its TTL (HE_MAP_TTL
 * without one). */
void he_refresh_learn(const char *name, const struct he_feed *feed, int64_t now);
/* Records the answers in the name memory (and, when the race connected
 * before a family was answered, keeps what is known fresh) and frees the
 * lookup. */
void he_refresh_finish(struct he_refresh *f, int connected);
/* The c-ares settings: libc's real socket calls, HE_NAMESERVERS; set up
 * once by he_init. */
void he_refresh_setup(void);
/* Whether resolv.conf has a sortlist (glibc reorders A answers by it, so
 * libhe leaves such answers to glibc); read by he_refresh_setup. */
int he_resolv_sortlist(void);
const struct he_dns_conf *he_refresh_conf(void);

#endif

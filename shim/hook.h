/* What every hook shares: lazy initialisation, the configuration, the name
 * memory, and the real libc functions. */
#ifndef HE_HOOK_H
#define HE_HOOK_H

#include "../racer/connector.h"
#include "../racer/strand.h"
#include "../resolver/dns.h"
#include "../resolver/memo.h"
#include "config.h"
#include "real.h"

#include <stdint.h>

#define HE_EXPORT __attribute__((visibility("default")))

extern struct he_config he_cfg;
extern struct he_memo *he_memo;
extern struct he_sys he_sys; /* libc's connect and close, for the racer */

/* Initialises libhe once (real functions, configuration, name memory,
 * fork handlers).  Cheap after the first call.  Returns 1 when libhe is
 * active, 0 when hooks must pass straight through (HE_DISABLE=1, or the
 * name memory could not be allocated). */
int he_init(void);

/* Every hook's first step after he_init: if this thread abandoned a race
 * (a signal handler siglongjmp'd out of connect), reap what it left.
 * Returns 1 when the call is nested inside a race on this thread. */
#define HE_HOOK_NESTED()                                                                           \
    (he_strand_active && he_strand_check((uintptr_t)__builtin_frame_address(0), he_real.close))

/* When an answer libc gave (without TTL) stops being fresh: now plus
 * HE_MAP_TTL. */
int64_t he_map_expiry(void);

/* DNS during the race (shim/refresh.c). */
struct he_refresh {
    struct he_dns *dns;
    struct he_news news;
    char name[HE_MEMO_NAME_MAX];
    int64_t t0;
    int added; /* candidates its answers added */
};
/* Whether the name's memory is expired or partial for the families a
 * socket of sock_family can use (no lock). */
int he_refresh_due(const struct he_memo_answer *ans, int sock_family, int64_t now);
/* Whether connect() should look a due name up again while it races: no
 * refresh was tried in the last second (takes the memory's lock). */
int he_refresh_claim(const char *name, int64_t now);
/* Starts the lookup and marks the race as fed (r->news_pending); the
 * connector polls f->news.  Returns 0 or -errno (no lookup: race as is). */
int he_refresh_start(struct he_refresh *f, const char *name, struct he_race *r, int64_t now);
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

/* Identifies the calling thread to the name memory. */
extern __thread char he_thread_anchor __attribute__((tls_model("initial-exec")));

/* One variable for the whole library (defined in init.c): a static one in
 * this header would give each source file its own, and the thread that
 * resolved a name would not be recognised by connect(). */
static inline uint64_t he_thread_id(void) {
    return (uint64_t)(uintptr_t)&he_thread_anchor;
}

#endif

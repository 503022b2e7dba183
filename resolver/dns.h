/* libhe's own DNS queries, through c-ares: A and AAAA for one name, run
 * from the caller's own poll loop (no thread), with c-ares's sockets made
 * through the functions the caller passes -- libc's real ones, never
 * libhe's hooks.
 *
 * Each lookup has its own c-ares channel, made when the lookup starts and
 * destroyed when it is freed: nothing is shared between threads, nothing
 * is inherited across fork, and no socket outlives the lookup. */
#ifndef HE_DNS_H
#define HE_DNS_H

#include "../common/libc.h"
#include "feed.h"

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

struct he_dns_conf {
    const struct he_libc *libc; /* c-ares's sockets are made with these */
    /* Told of each socket opened and about to be closed (NULL: nobody): the
     * race keeps them on record in case it is abandoned. */
    const struct he_fd_notes *notes;
    const char *servers; /* "ip:port,[ip6]:port" or "" for resolv.conf */
    int resolution_delay_ms;
    /* Per-try timeout and tries, as libc's resolver has them (c-ares 1.18
     * does not read them from resolv.conf alike); 0: c-ares's defaults. */
    int timeout_ms;
    int tries;
};

struct he_dns;

/* Sends the queries for name: A and/or AAAA per fam_mask (HE_MEMO_FAM_*).
 * Returns 0 and *out, -ENOMEM, or -EIO when c-ares could not be set up. */
int he_dns_start(const struct he_dns_conf *conf, const char *name, int fam_mask, int64_t now,
                 struct he_dns **out);

/* The sockets to poll, at most max.  Returns how many. */
int he_dns_pollfds(struct he_dns *d, struct pollfd *pfd, int max);

/* Milliseconds until the lookup has something to do without any socket
 * being ready (a c-ares retry or timeout, or the Resolution Delay), -1
 * when nothing. */
int he_dns_timeout_ms(struct he_dns *d, int64_t now);

/* Lets c-ares read what is ready in pfd[0..n) (as he_dns_pollfds gave them,
 * revents filled in) and act on its timeouts. */
void he_dns_process(struct he_dns *d, const struct pollfd *pfd, int n, int64_t now);

/* The answers so far, per RFC 8305 §3 (resolver/feed.h). */
struct he_feed *he_dns_feed(struct he_dns *d);

/* Cancels what is still out, closes the sockets, frees.  NULL is fine. */
void he_dns_free(struct he_dns *d);

/* While c-ares runs on this thread (inside he_dns_*), libhe's own hooks
 * must not be entered: each hook that finds this set counts a re-entry. */
extern __thread int he_dns_busy __attribute__((tls_model("initial-exec")));
void he_dns_count_reentry(void);
unsigned long he_dns_reentries(void);

#endif

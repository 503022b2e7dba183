/* What a lookup has to give a race so far (RFC 8305 §3): AAAA answers at
 * once, an A answer only when the AAAA query has finished too or the
 * Resolution Delay has passed since the A answer came.
 *
 * Pure bookkeeping with the time passed in, so that unit tests drive it
 * without a clock or a network. */
#ifndef HE_FEED_H
#define HE_FEED_H

#include "memo.h"

#include <stdint.h>

enum he_feed_state {
    HE_FEED_UNASKED = 0, /* no query for this family */
    HE_FEED_WAITING,     /* query out */
    HE_FEED_ANSWERED,    /* addresses (maybe none: NODATA) are in */
    HE_FEED_FAILED,      /* error or timeout: nothing will come */
};

struct he_feed_family {
    enum he_feed_state state;
    int64_t answered_ms;
    int released;  /* handed to the race */
    int status;    /* 0, or -errno when FAILED (-ENOENT: the name does not exist) */
    int ttl_s;     /* smallest TTL of the answer, -1 when unknown */
    int via_cname; /* the answer went through a CNAME */
    int count;
    struct he_addr addrs[HE_MEMO_MAX_ADDRS];
};

struct he_feed {
    int delay_ms;                 /* the Resolution Delay */
    struct he_feed_family fam[2]; /* [0] A, [1] AAAA */
};

/* Starts a feed for the families in fam_mask (HE_MEMO_FAM_*). */
void he_feed_init(struct he_feed *f, int fam_mask, int delay_ms);

/* An answer for family (AF_INET/AF_INET6): n addresses, ttl_s -1 when
 * unknown, via_cname when it went through a CNAME.  Addresses of the other
 * family are ignored. */
void he_feed_answer(struct he_feed *f, int family, const struct he_addr *addrs, int n, int ttl_s,
                    int via_cname, int64_t now);

/* The query for family ended without addresses: status -errno. */
void he_feed_fail(struct he_feed *f, int family, int status);

/* Copies into out[max] the addresses that may join the race now and marks
 * them handed out.  Returns how many. */
int he_feed_take(struct he_feed *f, int64_t now, struct he_addr *out, int max);

/* Milliseconds until held addresses become due (the Resolution Delay
 * running out), or -1 when nothing is held. */
int he_feed_next_ms(const struct he_feed *f, int64_t now);

/* 1 when nothing more will come: every asked family was handed out or
 * failed. */
int he_feed_done(const struct he_feed *f);

/* 1 when a getaddrinfo answer can be given: every asked family finished,
 * or the A answer is due although AAAA is still out. */
int he_feed_complete(const struct he_feed *f, int64_t now);

#endif

/* RFC 8305 §3 "Hostname Resolution Query Handling", as bookkeeping. */
#include "feed.h"

#include <string.h>
#include <sys/socket.h>

static int he_feed_index(int family) {
    return family == AF_INET6 ? 1 : 0;
}

void he_feed_init(struct he_feed *f, int fam_mask, int delay_ms) {
    memset(f, 0, sizeof *f);
    f->delay_ms = delay_ms < 0 ? 0 : delay_ms;
    f->fam[0].state = (fam_mask & HE_MEMO_FAM_V4) ? HE_FEED_WAITING : HE_FEED_UNASKED;
    f->fam[1].state = (fam_mask & HE_MEMO_FAM_V6) ? HE_FEED_WAITING : HE_FEED_UNASKED;
    f->fam[0].ttl_s = f->fam[1].ttl_s = -1;
}

void he_feed_answer(struct he_feed *f, int family, const struct he_addr *addrs, int n, int ttl_s,
                    int via_cname, int64_t now) {
    struct he_feed_family *ff = &f->fam[he_feed_index(family)];
    if (ff->state != HE_FEED_WAITING) {
        return;
    }
    ff->state = HE_FEED_ANSWERED;
    ff->answered_ms = now;
    ff->ttl_s = ttl_s;
    ff->via_cname = via_cname;
    ff->count = 0;
    for (int i = 0; i < n && ff->count < HE_MEMO_MAX_ADDRS; i++) {
        if (addrs[i].family == family) {
            ff->addrs[ff->count++] = addrs[i];
        }
    }
}

void he_feed_fail(struct he_feed *f, int family, int status) {
    struct he_feed_family *ff = &f->fam[he_feed_index(family)];
    if (ff->state == HE_FEED_WAITING) {
        ff->state = HE_FEED_FAILED;
        ff->status = status;
    }
}

/* RFC 8305 §3: "If a positive A response is received first due to reordering,
 * the client SHOULD wait a short time for the AAAA response" -- the
 * Resolution Delay.  Whether the A answer is waiting for AAAA now, and
 * whether that wait is over. */
static int he_feed_a_waits(const struct he_feed *f) {
    return f->fam[0].state == HE_FEED_ANSWERED && f->fam[1].state == HE_FEED_WAITING;
}

static int he_feed_delay_over(const struct he_feed *f, int64_t now) {
    return now - f->fam[0].answered_ms >= f->delay_ms;
}

static int he_feed_a_due(const struct he_feed *f, int64_t now) {
    const struct he_feed_family *a = &f->fam[0];
    return a->state == HE_FEED_ANSWERED && !a->released &&
           (!he_feed_a_waits(f) || he_feed_delay_over(f, now));
}

static int he_feed_copy(struct he_feed_family *ff, struct he_addr *out, int max) {
    int n = ff->count < max ? ff->count : max;
    memcpy(out, ff->addrs, (size_t)n * sizeof *out);
    ff->released = 1;
    return n;
}

int he_feed_take(struct he_feed *f, int64_t now, struct he_addr *out, int max) {
    int n = 0;
    struct he_feed_family *v6 = &f->fam[1];
    if (v6->state == HE_FEED_ANSWERED && !v6->released) {
        n += he_feed_copy(v6, out, max);
    }
    if (he_feed_a_due(f, now)) {
        n += he_feed_copy(&f->fam[0], out + n, max - n);
    }
    return n;
}

int he_feed_next_ms(const struct he_feed *f, int64_t now) {
    if (!he_feed_a_waits(f) || f->fam[0].released) {
        return -1;
    }
    int64_t left = f->fam[0].answered_ms + f->delay_ms - now;
    return left < 0 ? 0 : (int)left;
}

static int he_feed_family_done(const struct he_feed_family *ff) {
    return ff->state == HE_FEED_UNASKED || ff->state == HE_FEED_FAILED ||
           (ff->state == HE_FEED_ANSWERED && ff->released);
}

int he_feed_done(const struct he_feed *f) {
    return he_feed_family_done(&f->fam[0]) && he_feed_family_done(&f->fam[1]);
}

int he_feed_complete(const struct he_feed *f, int64_t now) {
    int out = f->fam[0].state == HE_FEED_WAITING || f->fam[1].state == HE_FEED_WAITING;
    return !out || (he_feed_a_waits(f) && he_feed_delay_over(f, now));
}

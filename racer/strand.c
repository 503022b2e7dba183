#include "strand.h"

#include "../common/fdid.h"
#include "race.h"

/* The siblings, and the few sockets of a DNS lookup running in the race. */
#define HE_STRAND_MAX (HE_RACE_MAX_ATTEMPTS + 16)

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>

struct he_strand_fd {
    int fd;
    struct he_fdid id;
};

struct he_strand {
    unsigned gen; /* bumped by every begin */
    uintptr_t frame;
    int have_mask;
    sigset_t mask;
    int caller_fl;
    int have_caller;
    struct he_strand_fd caller;
    int n;
    struct he_strand_fd sib[HE_STRAND_MAX];
};

__thread int he_strand_active __attribute__((tls_model("initial-exec")));
static __thread struct he_strand he_strand_tls __attribute__((tls_model("initial-exec")));

static int he_strand_identify(struct he_strand_fd *s, int fd) {
    s->fd = fd;
    return he_fdid_of(fd, &s->id);
}

/* Whether s->fd still holds the very socket that was recorded: a program
 * may have closed it and opened something else on the same number. */
static int he_strand_still_ours(const struct he_strand_fd *s) {
    return he_fdid_same(s->fd, &s->id);
}

void he_strand_begin(uintptr_t frame, int caller_fd, int fl) {
    struct he_strand *t = &he_strand_tls;
    t->gen++;
    t->frame = frame;
    t->have_mask = 0;
    t->caller_fl = fl;
    t->caller.fd = caller_fd;
    t->have_caller = 0;
    t->n = 0;
    he_strand_active = 1;
}

void he_strand_note_caller(void) {
    struct he_strand *t = &he_strand_tls;
    if (!t->have_caller) {
        t->have_caller = he_strand_identify(&t->caller, t->caller.fd) == 0;
    }
}

void he_strand_note_mask(void) {
    struct he_strand *t = &he_strand_tls;
    if (!t->have_mask) {
        t->have_mask = pthread_sigmask(SIG_BLOCK, NULL, &t->mask) == 0;
    }
}

unsigned he_strand_gen(void) {
    return he_strand_tls.gen;
}

int he_strand_current(unsigned gen) {
    return he_strand_active && he_strand_tls.gen == gen;
}

void he_strand_add(int fd) {
    struct he_strand *t = &he_strand_tls;
    if (t->n < HE_STRAND_MAX && he_strand_identify(&t->sib[t->n], fd) == 0) {
        t->n++;
    }
}

void he_strand_del(int fd) {
    struct he_strand *t = &he_strand_tls;
    for (int i = 0; i < t->n; i++) {
        if (t->sib[i].fd == fd) {
            t->sib[i] = t->sib[--t->n];
            return;
        }
    }
}

void he_strand_end(void) {
    he_strand_active = 0;
    he_strand_tls.n = 0;
}

/* Whether a call into libhe while a race is on record runs inside a signal
 * handler on top of that race (nested), rather than after the program left
 * the race by siglongjmp (stranded).  A handler runs on an alternate stack,
 * or below the frame it interrupted with its own signal blocked; after a
 * siglongjmp the program is back at or above the race's frame, or, deeper,
 * with the mask it had before.  Unknown cases count as nested: the call
 * passes through, and a later one reaps. */
static int he_strand_nested(uintptr_t frame) {
    const struct he_strand *t = &he_strand_tls;
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
        return 1;
    }
    if (frame >= t->frame) {
        return 0;
    }
    sigset_t now;
    if (!t->have_mask || pthread_sigmask(SIG_BLOCK, NULL, &now) != 0) {
        return 1;
    }
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(&now, sig) != sigismember(&t->mask, sig)) {
            return 1;
        }
    }
    return 0;
}

void he_strand_reap(he_close_fn real_close) {
    struct he_strand *t = &he_strand_tls;
    for (int i = 0; i < t->n; i++) {
        if (he_strand_still_ours(&t->sib[i])) {
            real_close(t->sib[i].fd);
        }
    }
    if (t->have_caller && he_strand_still_ours(&t->caller)) {
        fcntl(t->caller.fd, F_SETFL, t->caller_fl);
    }
    he_strand_end();
}

int he_strand_check(uintptr_t frame, he_close_fn real_close) {
    if (he_strand_nested(frame)) {
        return 1;
    }
    he_strand_reap(real_close);
    return 0;
}

int he_strand_caller_replaced(void) {
    struct he_strand *t = &he_strand_tls;
    return t->have_caller && !he_fdid_follow(t->caller.fd, &t->caller.id);
}

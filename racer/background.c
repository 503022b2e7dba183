/* The helper thread's races: their attempts, the roles of their
 * descriptors in the fd table, how they end, and fork (racer/bg.h; the
 * thread itself is racer/helper.c).  Everything here runs under the lock of
 * racer/fdmap.h. */
#include "bg.h"

#include "../common/log.h"
#include "remember.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

struct he_bg_state he_bg = {.ep = -1, .evfd = -1, .next_due = INT64_MAX};

void he_bg_setup(const struct he_libc *sys, int rescue_ms) {
    he_bg.sys = sys;
    he_bg.rescue_ms = rescue_ms;
}

/* ---------------------------------------------------------------- fd roles */

void he_bg_mark(int fd, enum he_fd_role role, int slot) {
    struct he_fd_slot *s = he_fdmap_slot(fd, role != HE_FD_NONE);
    if (s != NULL) {
        s->role = (unsigned char)role;
        s->race = role == HE_FD_NONE ? 0 : slot + 1;
        he_fdmap_touch(s);
    }
}

void he_bg_close_own(int fd) {
    he_bg_mark(fd, HE_FD_NONE, 0);
    he_bg.sys->close(fd);
}

/* ---------------------------------------------------------------- attempts */

static uint64_t he_bg_data(const struct he_bg_race *b, int slot, int index) {
    return (uint64_t)b->gen << 32 | (uint64_t)slot << 8 | (uint64_t)index;
}

int he_bg_watch(struct he_bg_race *b, int fd, int index) {
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = he_bg_data(b, b->slot, index)};
    if (he_bg.sys->epoll_ctl(he_bg.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        return -errno;
    }
    b->watched |= 1ull << index;
    return 0;
}

void he_bg_listen(struct he_bg_race *b) {
    for (int i = 0; i < b->r.count; i++) {
        uint64_t bit = 1ull << i;
        if (b->r.att[i].state != HE_ATTEMPT_SILENT || (b->listening & bit)) {
            continue;
        }
        int fd = i == 0 ? b->dupfd : b->r.att[i].handle;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
                                 .data.u64 = he_bg_data(b, b->slot, i)};
        /* Should this fail, the banner time still ends the race. */
        he_bg.sys->epoll_ctl(he_bg.ep, (b->watched & bit) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
        b->watched |= bit;
        b->listening |= bit;
    }
}

static int64_t he_bg_now(void *ctx) {
    (void)ctx;
    return he_connector_now_ms(NULL);
}

/* Attempt 0 is under way already (the hook started it); a sibling is a new
 * socket, watched by the helper's epoll. */
static int he_bg_start_attempt(void *ctx, struct he_race *r, int index) {
    struct he_bg_race *b = ctx;
    if (index == 0) {
        return 0;
    }
    int rc = he_connector_start(&b->c, r, index);
    if (rc == 0 || rc == 1) {
        he_bg_mark(r->att[index].handle, HE_FD_PRIVATE, b->slot);
    }
    if (rc == 0 && he_bg_watch(b, r->att[index].handle, index) != 0) {
        he_bg_close_own(r->att[index].handle);
        r->att[index].handle = -1;
        return -ENOTSUP; /* no room to watch it: racing stops */
    }
    return rc;
}

static void he_bg_cancel_attempt(void *ctx, struct he_race *r, int index) {
    struct he_bg_race *b = ctx;
    if (index > 0 && r->att[index].handle >= 0) {
        he_bg_mark(r->att[index].handle, HE_FD_NONE, 0);
        he_connector_cancel(&b->c, r, index);
    }
}

static enum he_wait_result he_bg_wait_unused(void *ctx, struct he_race *r, int timeout_ms,
                                             int *index, int *err) {
    (void)ctx, (void)r, (void)timeout_ms, (void)index;
    *err = ENOTSUP;
    return HE_WAIT_ERROR;
}

void he_bg_io(struct he_bg_race *b, struct he_race_io *io) {
    *io = (struct he_race_io){b, he_bg_now, he_bg_start_attempt, he_bg_wait_unused,
                              he_bg_cancel_attempt};
}

void he_bg_own_closed(struct he_bg_race *b, const struct he_race_io *io) {
    b->outcome = "the caller's own connection was closed or reset after it was made; the program "
                 "sees it";
    he_race_stop(&b->r, io, -ECONNABORTED);
}

void he_bg_own_error(struct he_bg_race *b, const struct he_race_io *io, int err) {
    if (he_bg_own_handshaken(b->dupfd)) {
        he_bg_own_closed(b, io); /* connected, then reset */
    } else {
        he_bg_own_failed(b, io, err);
    }
}

void he_bg_own_failed(struct he_bg_race *b, const struct he_race_io *io, int err) {
    b->own_failed = 1;
    if (he_bg.rescue_ms <= 0 || b->fault_delay || he_race_siblings_left(&b->r) == 0) {
        he_race_stop(&b->r, io, -ECONNABORTED);
        return;
    }
    /* Its readiness stays for good (level-triggered EPOLLERR): the helper
     * must stop watching it, or its epoll_wait would spin. */
    he_bg.sys->epoll_ctl(he_bg.ep, EPOLL_CTL_DEL, b->dupfd, NULL);
    int64_t now = io->now_ms(io->ctx);
    /* RFC 8305 §5: a hard failure starts the next attempt at once. */
    he_race_settle(&b->r, io, 0, err);
    he_race_hurry(&b->r, now, now + he_bg.rescue_ms);
}

/* ---------------------------------------------------------------- lifecycle */

static void he_bg_log(const struct he_bg_race *b) {
    int64_t ms = he_connector_now_ms(NULL) - b->t0;
    if (b->fault_delay) {
        HE_LOG(HE_LOG_INFO, "fault: delay: %s after %lld ms",
               b->r.winner > 0 ? "connected"
               : b->outcome    ? b->outcome
                               : "not connected",
               (long long)ms);
        return;
    }
    if (b->outcome != NULL && he_log_level >= HE_LOG_INFO && !he_log_json) {
        he_log_write(HE_LOG_INFO, "race %s (non-blocking): %s after %lld ms", b->name, b->outcome,
                     (long long)ms);
    }
    he_connector_log(&b->r, b->name, b->r.result, ms, b->outcome != NULL ? b->outcome : "");
}

/* The race's outcomes, once, before a failed splice rewrites its winner. */
static void he_bg_remember(struct he_bg_race *b) {
    if (!b->remembered && !b->fault_delay) {
        b->remembered = 1;
        he_race_remember(&b->r, he_sockaddr_port((const struct sockaddr *)&b->addr));
    }
}

/* Ends race slot: its sockets closed, its numbers forgotten. */
void he_bg_retire(int slot, const char *why) {
    struct he_bg_race *b = he_bg.race[slot];
    struct he_race_io io;
    he_bg_io(b, &io);
    if (!b->r.ended) {
        b->outcome = why;
        he_race_stop(&b->r, &io, -ECANCELED);
    }
    he_bg_remember(b);
    struct he_fd_slot *s = he_fdmap_slot(b->fd, 0);
    if (s != NULL && s->role == HE_FD_CALLER && s->race == slot + 1) {
        he_bg_mark(b->fd, HE_FD_NONE, 0);
    }
    he_bg.sys->epoll_ctl(he_bg.ep, EPOLL_CTL_DEL, b->dupfd, NULL);
    he_bg_close_own(b->dupfd);
    he_bg_close_standin(b);
    he_bg_log(b);
    free(b);
    he_bg.race[slot] = NULL;
    he_bg.count--;
    if (he_bg.held > 0) {
        he_fdmap_wake(); /* a program waiting for this race (rescue.c) */
    }
}

/* No rescue: the caller's own socket, its error unread, goes back onto
 * the fd in the stand-in's place, and the program reads that error as
 * without libhe.  Should the ordinary splice refuse (the fd's epoll
 * registrations not all known, its flags unreadable), a plain dup3 still
 * takes the stand-in away: it must never stay. */
static void he_bg_put_back(struct he_bg_race *b) {
    if (he_splice_put(b, b->dupfd) != HE_SPLICE_DONE && he_fdid_same(b->fd, &b->id)) {
        he_splice_own_back(b);
    }
    he_splice_wake(b);
}

/* Why a race whose own attempt failed ended without a winner. */
static const char *he_bg_unrescued(const struct he_bg_race *b) {
    if (b->r.deadline_ms < 0) {
        return "the caller's own attempt failed first; the program sees it";
    }
    for (int i = 1; i < b->r.count; i++) {
        if (b->r.att[i].state == HE_ATTEMPT_CANCELLED) {
            return "the caller's own attempt failed and no sibling connected within "
                   "HE_RESCUE_WAIT_MS; the program sees its own error";
        }
    }
    return "the caller's own attempt failed and so did every sibling; the program sees its "
           "own error";
}

/* After any change: a race with a result ends (splicing a sibling that
 * won), and so does one with no sibling left, whose only attempt is the
 * caller's own: the kernel finishes that without libhe. */
void he_bg_check(int slot) {
    struct he_bg_race *b = he_bg.race[slot];
    struct he_race_io io;
    he_bg_io(b, &io);
    if (!b->r.ended && he_race_siblings_left(&b->r) == 0) {
        b->outcome = "nothing left to race; the caller's own attempt goes on";
        he_race_stop(&b->r, &io, -EINPROGRESS);
    }
    if (!b->r.ended) {
        he_bg_listen(b);
        return;
    }
    he_bg_remember(b);
    if (b->r.winner > 0) {
        enum he_splice_result rc = he_splice_winner(b);
        if (rc == HE_SPLICE_DONE && b->own_failed) {
            b->outcome =
                "the caller's own attempt failed; rescued by a sibling spliced in its place";
        } else if (rc != HE_SPLICE_DONE) {
            b->outcome = he_splice_why(rc);
            /* Not spliced: the log must not name a winner. */
            b->r.att[b->r.winner].state = HE_ATTEMPT_CANCELLED;
            b->r.winner = -1;
            b->r.result = -ECANCELED;
        }
    } else if (b->own_failed && b->outcome == NULL) {
        b->outcome = he_bg_unrescued(b);
    }
    if (b->r.winner <= 0 && b->has_standin) {
        he_bg_put_back(b);
    }
    he_bg_retire(slot, NULL);
}

/* ---------------------------------------------------------------- fork */

void he_bg_fork_prepare(void) {
    he_fdmap_lock(1, &he_bg.fork_mask);
}

void he_bg_fork_parent(void) {
    he_fdmap_unlock(1, &he_bg.fork_mask);
}

/* The child has no helper thread: its copies of the races' descriptors are
 * closed and the races forgotten, so its copy of each program fd behaves
 * as without libhe. */
void he_bg_fork_child(void) {
    for (int i = 0; i < HE_BG_MAX && he_bg.count > 0; i++) {
        struct he_bg_race *b = he_bg.race[i];
        if (b == NULL) {
            continue;
        }
        for (int k = 1; k < b->r.count; k++) {
            if (b->r.att[k].handle >= 0) {
                he_bg_close_own(b->r.att[k].handle);
            }
        }
        if (b->has_standin && he_fdid_same(b->fd, &b->id)) {
            /* The child's copy of the fd is the caller's socket again,
             * its error unread, as without libhe (no wake: the stand-in's
             * file is the parent's too). */
            he_splice_own_back(b);
        }
        he_bg_mark(b->fd, HE_FD_NONE, 0);
        he_bg_close_own(b->dupfd);
        he_bg_close_standin(b);
        free(b);
        he_bg.race[i] = NULL;
        he_bg.count--;
    }
    if (he_bg.running) {
        he_bg_stop_helper();
    }
    he_bg.count = 0;
    he_bg.held = 0;
    he_bg.next_due = INT64_MAX;
    he_fdmap_fork_child();
    pthread_sigmask(SIG_SETMASK, &he_bg.fork_mask, NULL);
}

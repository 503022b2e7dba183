/* The rescue of a non-blocking connect whose own attempt failed first
 * (DESIGN.md, "Refused first: the rescue").
 *
 * A refusal reaches the program's own socket one round trip after its
 * connect(), before any sibling could have connected: the program wakes
 * in poll/select/epoll and reads SO_ERROR (or calls connect() again).
 * Those two reads are where the program learns the outcome, so they are
 * where it waits: the race goes on after the failure (racer/background.c,
 * he_bg_own_failed), at most HE_RESCUE_WAIT_MS, and the program's read
 * waits until a sibling is spliced onto its fd or the race ends.  A read
 * made later than the failure waits only for what is left of that bound.
 * Everything here runs under the lock of racer/fdmap.h. */
#include "bg.h"

#include "../faults/sink.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

/* The race pending on the program's fd, or NULL. */
static struct he_bg_race *he_bg_race_on(int fd) {
    struct he_fd_slot *s = he_fdmap_slot(fd, 0);
    if (s == NULL || s->role != HE_FD_CALLER || s->race == 0) {
        return NULL;
    }
    return he_bg.race[s->race - 1];
}

/* Whether race b's own attempt has failed: the helper saw it, the program
 * read it (err), or the socket says so now. */
static int he_bg_own_down(const struct he_bg_race *b, int err) {
    if (b->own_failed || err != 0) {
        return 1;
    }
    struct pollfd p = {.fd = b->dupfd, .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* The listener stand-ins of family connect to, made by the first and
 * shared (he_bg.sink); NULL when none can be made. */
static struct he_bg_sink *he_bg_sink_take(int family) {
    struct he_bg_sink *k = &he_bg.sink[family == AF_INET6];
    if (k->refs == 0) {
        if (he_sink_private_drop(family, k->fds, &k->addr, &k->len) != 0) {
            return NULL;
        }
        he_bg_mark(k->fds[0], HE_FD_HELPER, 0);
        he_bg_mark(k->fds[1], HE_FD_HELPER, 0);
    }
    k->refs++;
    return k;
}

static void he_bg_sink_drop(int family) {
    struct he_bg_sink *k = &he_bg.sink[family == AF_INET6];
    if (k->refs > 0 && --k->refs == 0) {
        he_bg_close_own(k->fds[0]);
        he_bg_close_own(k->fds[1]);
    }
}

void he_bg_close_standin(struct he_bg_race *b) {
    if (b->has_standin) {
        he_bg_close_own(b->standin);
        he_bg_sink_drop(b->c.family);
        b->has_standin = 0;
    }
}

/* The stand-in connects to a loopback listener whose accept queue is full
 * (faults/sink.c's drop: listen(fd, 0) and one connection queued, never
 * accepted): its SYNs are dropped and it stays connecting, as the caller's
 * socket would towards a slow host -- writes say EAGAIN, SO_ERROR 0,
 * connect() EALREADY -- and no packet leaves the machine.  One descriptor
 * per race, for at most HE_RESCUE_WAIT_MS, and the listener's two while
 * any stand-in is up. */
int he_bg_stand_in(struct he_bg_race *b) {
    struct he_bg_sink *k = he_bg_sink_take(b->c.family);
    if (k == NULL) {
        return -1;
    }
    int s = he_bg.sys->socket(b->c.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct he_fdid sid;
    if (s < 0 || he_bg.sys->connect(s, (struct sockaddr *)&k->addr, k->len) == 0 ||
        errno != EINPROGRESS || he_fdid_of(s, &sid) != 0 || he_splice_put(b, s) != HE_SPLICE_DONE) {
        if (s >= 0) {
            he_bg.sys->close(s);
        }
        he_bg_sink_drop(b->c.family);
        return -1;
    }
    he_bg_mark(s, HE_FD_PRIVATE, b->slot);
    b->has_standin = 1;
    b->standin = s;
    /* The fd holds the stand-in's file now: the later splice checks it. */
    b->id = sid;
    return 0;
}

void he_bg_hold(int slot, unsigned gen) {
    struct he_bg_race *b;
    /* The wait is a cancellation point, and the lock is held. */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    he_bg.held++;
    while ((b = he_bg.race[slot]) != NULL && b->gen == gen && b->r.deadline_ms >= 0) {
        if (he_connector_now_ms(NULL) >= b->r.deadline_ms) {
            struct he_race_io io;
            he_bg_io(b, &io);
            he_race_advance(&b->r, &io);
            he_bg_check(slot);
            continue;
        }
        he_fdmap_wait(b->r.deadline_ms);
    }
    he_bg.held--;
    pthread_setcancelstate(cancel_state, NULL);
}

/* The program asks for the outcome of race b's failed own attempt. */
static int he_bg_rescue_race(struct he_bg_race *b, int fd, int err) {
    struct he_race_io io;
    he_bg_io(b, &io);
    int slot = b->slot;
    unsigned gen = b->gen;
    struct he_fdid id = b->id;
    int64_t now = he_connector_now_ms(NULL);
    if (b->r.att[0].state == HE_ATTEMPT_RUNNING) {
        /* The program saw it before the helper did. */
        he_bg_own_error(b, &io, err != 0 ? err : ECONNREFUSED);
    } else if (err != 0 && b->r.att[0].state == HE_ATTEMPT_FAILED) {
        b->r.att[0].err = err; /* the real errno, for the log and the history */
    }
    he_race_advance(&b->r, &io);
    he_bg_check(slot);
    if (he_bg.race[slot] == b && b->gen == gen) {
        he_bg_schedule(b, now);
        he_bg_hold(slot, gen);
    }
    return !he_fdid_same(fd, &id);
}

/* Under the lock: fd's race, when the program's read (err, 0 for not
 * read) finds its own attempt failed, waits for; 1 when fd then holds a
 * spliced winner. */
static int he_bg_rescue_locked(int fd, int err) {
    if (err != 0 && !he_race_network_error(err)) {
        return 0;
    }
    struct he_bg_race *b = he_bg_race_on(fd);
    if (b == NULL || b->fault_delay || !he_fdid_same(fd, &b->id) || !he_bg_own_down(b, err)) {
        return 0;
    }
    return he_bg_rescue_race(b, fd, err);
}

int he_bg_rescue(int fd, int err) {
    if (he_bg.sys == NULL || he_bg.rescue_ms <= 0 || he_fdmap_held()) {
        return 0;
    }
    /* Signals are blocked while it waits, for at most the bound. */
    sigset_t old;
    he_fdmap_lock(1, &old);
    int rescued = he_bg_rescue_locked(fd, err);
    he_fdmap_unlock(1, &old);
    return rescued;
}

int he_bg_sockerr(int fd, void *value, socklen_t *len) {
    const struct he_libc *sys = he_bg.sys;
    sigset_t old;
    /* The read and what it decides are made under the lock that every
     * splice takes: an error read from the caller's socket is never
     * returned once a winner has taken its place. */
    he_fdmap_lock(1, &old);
    int rc = sys->getsockopt(fd, SOL_SOCKET, SO_ERROR, value, len);
    int err = 0;
    if (rc == 0 && *len >= (socklen_t)sizeof err) {
        memcpy(&err, value, sizeof err);
    }
    if (err != 0 && he_bg.rescue_ms > 0 && he_bg_rescue_locked(fd, err)) {
        /* fd holds the winner now: its answer. */
        rc = sys->getsockopt(fd, SOL_SOCKET, SO_ERROR, value, len);
    }
    he_fdmap_unlock(1, &old);
    return rc;
}

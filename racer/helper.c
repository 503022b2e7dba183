/* The helper thread: admission of a race (he_bg_start), the thread's life
 * (started on first use with every signal blocked, gone after
 * HE_BG_IDLE_MS without a race), its epoll loop and the sweep that starts
 * what is due in every race (racer/bg.h). */
#include "bg.h"
#include "remember.h"

#include "../common/lock.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define HE_BG_EVENTS 64
/* The helper's epoll data for its eventfd; races use (gen, slot, attempt). */
#define HE_BG_WAKE UINT64_MAX

/* Lowers the helper's next sweep to when race b has something due. */
static void he_bg_note_due(const struct he_bg_race *b, int64_t now) {
    int w = he_race_wait_ms(&b->r, now);
    if (w >= 0 && now + w < he_bg.next_due) {
        he_bg.next_due = now + w;
    }
}

void he_bg_schedule(const struct he_bg_race *b, int64_t now) {
    he_bg_note_due(b, now);
    if (he_bg.next_due < he_bg.wake_at) {
        uint64_t one = 1;
        if (write(he_bg.evfd, &one, sizeof one) < 0) {
            /* the counter is full: the helper is being woken anyway */
        }
    }
}

/* epoll reported attempt index of a race finished (or woke spuriously). */
static void he_bg_event(uint64_t data, uint32_t events) {
    int slot = (int)((data >> 8) & 0xffffff), index = (int)(data & 0xff);
    struct he_bg_race *b = slot < HE_BG_MAX ? he_bg.race[slot] : NULL;
    if (b == NULL || b->gen != (unsigned)(data >> 32) || b->r.ended || index >= b->r.count ||
        (b->r.att[index].state != HE_ATTEMPT_RUNNING &&
         b->r.att[index].state != HE_ATTEMPT_SILENT)) {
        return;
    }
    struct he_race_io io;
    he_bg_io(b, &io);
    if (index == 0 && b->r.att[0].state == HE_ATTEMPT_SILENT && (events & (EPOLLERR | EPOLLHUP))) {
        /* Reset: its error stays for the program (a MSG_PEEK would take
         * it). */
        he_bg_own_closed(b, &io);
    } else if (b->r.att[index].state == HE_ATTEMPT_SILENT) {
        /* Connected on a banner port: did it speak, or close? */
        int err;
        int fd = index == 0 ? b->dupfd : b->r.att[index].handle;
        enum he_settle s = he_connector_heard(fd, &err);
        if (s == HE_SETTLE_PENDING) {
            return;
        }
        if (index == 0 && s == HE_SETTLE_FAILED) {
            he_bg_own_closed(b, &io);
        } else {
            he_race_settle(&b->r, &io, index, err);
        }
    } else if (index == 0) {
        /* The caller's own socket is the program's to read: its SO_ERROR
         * must stay for the program, so only the readiness is looked at. */
        if (events & (EPOLLERR | EPOLLHUP)) {
            he_bg_own_error(b, &io, ECONNREFUSED);
        } else {
            he_race_settle(&b->r, &io, 0, 0);
        }
    } else {
        int err;
        if (he_connector_sibling_outcome(&b->c, &b->r, index, &err) == HE_SETTLE_PENDING) {
            return;
        }
        he_race_settle(&b->r, &io, index, err);
    }
    he_race_advance(&b->r, &io);
    he_bg_check(slot);
    if (he_bg.race[slot] != NULL) {
        he_bg_note_due(b, he_connector_now_ms(NULL));
    }
}

/* Races one sweep starts attempts in before it lets go of the lock.  A
 * thousand races fall due within a few milliseconds of each other; started
 * all in one go (a socket and a SYN each), they kept the lock for tens of
 * milliseconds, and the program's own hooks (epoll_ctl, close, the next
 * connect) waited for it while finished races waited to be spliced. */
#define HE_BG_SWEEP_BUDGET 16

/* Starts what is due in every race, once the earliest is due, at most
 * HE_BG_SWEEP_BUDGET races' worth (the rest are due at once, after the
 * helper has looked at its events), and works out when the next one is.
 * Returns the wait until then (-1: none). */
static int he_bg_sweep(void) {
    int64_t now = he_connector_now_ms(NULL);
    if (now < he_bg.next_due) {
        return he_bg.next_due == INT64_MAX ? -1 : (int)(he_bg.next_due - now);
    }
    he_bg.next_due = INT64_MAX;
    int budget = HE_BG_SWEEP_BUDGET;
    for (int i = 0, left = he_bg.count; i < HE_BG_MAX && left > 0; i++) {
        struct he_bg_race *b = he_bg.race[i];
        if (b == NULL) {
            continue;
        }
        left--;
        int w = he_race_wait_ms(&b->r, now);
        if (w > 0) {
            he_bg_note_due(b, now); /* nothing due yet */
            continue;
        }
        if (w == 0 && budget-- == 0) {
            he_bg.next_due = now; /* more is due: after the events */
            break;
        }
        struct he_race_io io;
        he_bg_io(b, &io);
        he_race_advance(&b->r, &io);
        he_bg_check(i);
        if (he_bg.race[i] != NULL) {
            he_bg_note_due(b, now);
        }
    }
    return he_bg.next_due == INT64_MAX ? -1 : (int)(he_bg.next_due - now);
}

void he_bg_stop_helper(void) {
    he_bg_close_own(he_bg.ep);
    he_bg_close_own(he_bg.evfd);
    he_bg.ep = he_bg.evfd = -1;
    he_bg.running = 0;
}

static void *he_bg_main(void *arg) {
    (void)arg;
    struct epoll_event ev[HE_BG_EVENTS];
    int64_t idle_since = he_connector_now_ms(NULL);
    he_fdmap_lock(0, NULL); /* every signal is blocked in this thread */
    for (;;) {
        int wait = he_bg_sweep();
        int64_t now = he_connector_now_ms(NULL);
        if (he_bg.count > 0) {
            idle_since = now;
        } else if (now - idle_since >= HE_BG_IDLE_MS) {
            he_bg_stop_helper();
            he_fdmap_unlock(0, NULL);
            return NULL;
        } else {
            wait = (int)(idle_since + HE_BG_IDLE_MS - now);
        }
        /* Never longer than the idle time: a race that a hook cancels
         * leaves the helper to notice by itself that it has none left. */
        if (wait < 0 || wait > HE_BG_IDLE_MS) {
            wait = HE_BG_IDLE_MS;
        }
        he_bg.wake_at = now + wait;
        int ep = he_bg.ep;
        he_fdmap_unlock(0, NULL);
        int n = epoll_wait(ep, ev, HE_BG_EVENTS, wait);
        he_fdmap_lock(0, NULL);
        he_bg.wake_at = INT64_MIN; /* awake: nobody needs to knock */
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u64 == HE_BG_WAKE) {
                uint64_t v;
                if (read(he_bg.evfd, &v, sizeof v) < 0) {
                    /* EAGAIN: another wake-up drained it */
                }
            } else {
                he_bg_event(ev[i].data.u64, ev[i].events);
            }
        }
    }
}

/* Starts the helper thread and its epoll, with every signal blocked: the
 * program's handlers must never run on it.  Called with the lock held; the
 * thread waits for it. */
static int he_bg_ensure_helper(void) {
    if (he_bg.running) {
        return 0;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = HE_BG_WAKE};
    int rc =
        ep < 0 || evfd < 0 || he_bg.sys->epoll_ctl(ep, EPOLL_CTL_ADD, evfd, &ev) != 0 ? -errno : 0;
    pthread_attr_t attr;
    pthread_t t;
    if (rc == 0) {
        /* The thread starts with the mask it is created under. */
        sigset_t old;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        he_block_signals(&old);
        rc = -pthread_create(&t, &attr, he_bg_main, NULL);
        he_restore_signals(&old);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        if (ep >= 0) {
            he_bg.sys->close(ep);
        }
        if (evfd >= 0) {
            he_bg.sys->close(evfd);
        }
        return rc;
    }
    he_bg.ep = ep;
    he_bg.evfd = evfd;
    he_bg_mark(ep, HE_FD_HELPER, 0);
    he_bg_mark(evfd, HE_FD_HELPER, 0);
    he_bg.running = 1;
    he_bg.wake_at = INT64_MIN;
    return 0;
}

static int he_bg_free_slot(void) {
    for (int k = 0; k < HE_BG_MAX; k++) {
        int i = (he_bg.next_slot + k) % HE_BG_MAX;
        if (he_bg.race[i] == NULL) {
            he_bg.next_slot = (i + 1) % HE_BG_MAX;
            return i;
        }
    }
    return -1;
}

/* The caller's identity, read through the dup (common/fdid.h). */
static int he_bg_identify(struct he_bg_race *b) {
    return he_fdid_of(b->dupfd, &b->id) == 0 ? 0 : -ENOTSUP;
}

/* What the caller's own attempt had come to when connect() was about to
 * return. */
enum he_bg_own {
    HE_BG_OWN_PENDING = 0, /* still connecting: the usual race */
    HE_BG_OWN_FAILED,      /* refused, or (a banner port) connected and closed */
    HE_BG_OWN_SILENT,      /* a banner port: connected, nothing heard yet */
    HE_BG_OWN_DONE,        /* connected (and, on a banner port, it spoke) */
};

static enum he_bg_own he_bg_own_now(const struct he_bg_request *q, int *err) {
    struct pollfd p = {.fd = q->c->fd, .events = POLLOUT | POLLIN};
    *err = ECONNREFUSED;
    if (poll(&p, 1, 0) == 0) {
        return HE_BG_OWN_PENDING;
    }
    if (p.revents & (POLLERR | POLLHUP)) {
        return HE_BG_OWN_FAILED;
    }
    if (q->banner_ms == 0) {
        return HE_BG_OWN_DONE;
    }
    if (!(p.revents & POLLIN)) {
        return HE_BG_OWN_SILENT;
    }
    enum he_settle s = he_connector_heard(q->c->fd, err);
    return s == HE_SETTLE_CONNECTED ? HE_BG_OWN_DONE
           : s == HE_SETTLE_FAILED  ? HE_BG_OWN_FAILED
                                    : HE_BG_OWN_SILENT;
}

/* own: the caller's attempt failed already (refused within the call: the
 * race starts as a rescue, racer/rescue.c, err its errno), or connected
 * silent on a banner port. */
static int he_bg_admit(struct he_bg_race *b, const struct he_bg_request *q, enum he_bg_own own,
                       int err) {
    int fd = q->c->fd;
    struct he_fd_slot *s = he_fdmap_slot(fd, 1);
    if (s == NULL || s->role != HE_FD_NONE || s->nreg == HE_FDMAP_UNKNOWN) {
        return -ENOTSUP;
    }
    int slot = he_bg_free_slot();
    if (slot < 0) {
        return -EBUSY;
    }
    int rc = he_bg_ensure_helper();
    if (rc != 0) {
        return rc;
    }
    b->fd = fd;
    b->dupfd = he_bg.sys->fcntl(fd, F_DUPFD_CLOEXEC, 0); /* libc's: the hook forgets freshness */
    if (b->dupfd < 0) {
        return -errno; /* EMFILE: the caller's attempt goes on alone */
    }
    if ((rc = he_bg_identify(b)) != 0 || he_fdmap_slot(b->dupfd, 1) == NULL) {
        he_bg.sys->close(b->dupfd);
        return rc ? rc : -ENOMEM;
    }
    b->gen = ++he_bg.gen;
    b->slot = slot;
    b->c = *q->c;
    memcpy(&b->addr, q->c->addr, q->c->addrlen);
    b->c.addr = (const struct sockaddr *)&b->addr;
    b->c.fd = b->dupfd;
    b->c.track = NULL; /* its sockets are on the fd table's record */
    b->c.news = NULL;
    snprintf(b->name, sizeof b->name, "%s", q->name);
    he_race_init(&b->r, q->first, q->addrs, q->n, q->c->family, q->delay_ms, q->max_attempts);
    if (q->nbad > 0) {
        he_race_demote(&b->r, q->bad, q->nbad);
    }
    b->r.sibling_at_once = q->sibling_at_once;
    b->r.own_redirected = q->own_redirected;
    he_race_set_banner(&b->r, q->banner_ms);
    if (q->fault_delay) {
        b->fault_delay = 1;
        b->r.delay_ms = q->delay_ms; /* the fault's, not a race's (unclamped) */
    }
    he_bg.race[slot] = b;
    if ((rc = he_bg_watch(b, b->dupfd, 0)) != 0) {
        he_bg.race[slot] = NULL;
        he_bg.sys->close(b->dupfd);
        return rc;
    }
    struct he_race_io io;
    he_bg_io(b, &io);
    b->t0 = he_connector_now_ms(NULL);
    he_race_begin(&b->r, &io);
    he_bg_mark(fd, HE_FD_CALLER, slot);
    he_bg_mark(b->dupfd, HE_FD_PRIVATE, slot);
    he_bg.count++;
    if (own == HE_BG_OWN_SILENT) {
        he_race_settle(&b->r, &io, 0, 0);
        he_bg_check(slot); /* over, should the banner time be over already */
        if (he_bg.race[slot] != b) {
            return 0;
        }
    }
    if (own == HE_BG_OWN_FAILED) {
        if (err == ENODATA) {
            /* Connected and closed: what the program has if nothing
             * rescues it is that connected socket. */
            b->r.att[0].connected = 1;
            b->r.att[0].connected_ms = b->t0;
        }
        he_bg_own_failed(b, &io, err);
        he_race_advance(&b->r, &io);
        he_bg_check(slot);
        if (he_bg.race[slot] != b) {
            return 0; /* over already: the program sees its own failure */
        }
        /* Refused within the call, before the program has seen anything:
         * a stand-in keeps the error off its fd until the race is decided,
         * so that its first look finds the winner -- some take POLLERR as
         * the answer without reading SO_ERROR (curl) -- and connect()
         * returns at once.  Without one, connect() waits for the rescue. */
        he_bg_schedule(b, he_connector_now_ms(NULL));
        if (he_bg_stand_in(b) != 0) {
            he_bg_hold(slot, b->gen);
        }
        return 0;
    }
    he_bg_schedule(b, b->t0);
    return 0;
}

int he_bg_start(const struct he_bg_request *q) {
    /* Done already (loopback, a LAN): nothing to race, no thread -- unless
     * it failed and a sibling may still rescue it (a LAN's refusal comes
     * back before this poll), or it connected on a banner port and has not
     * spoken yet. */
    int err;
    enum he_bg_own own = he_bg_own_now(q, &err);
    if (own == HE_BG_OWN_DONE ||
        (own == HE_BG_OWN_FAILED && (he_bg.rescue_ms <= 0 || q->fault_delay))) {
        he_remember_quick(q->first, he_sockaddr_port(q->c->addr), own == HE_BG_OWN_FAILED);
        return -EALREADY;
    }
    /* A signal handler's connect() on top of this thread's own hold of the
     * lock (an epoll_ctl hook) would wait for itself. */
    if (he_fdmap_incomplete() || he_bg.sys == NULL || he_fdmap_held()) {
        return -ENOTSUP;
    }
    struct he_bg_race *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return -ENOMEM;
    }
    sigset_t old;
    he_fdmap_lock(1, &old);
    int rc = he_bg_admit(b, q, own, err);
    he_fdmap_unlock(1, &old);
    if (rc != 0) {
        HE_LOG(HE_LOG_DEBUG, "race %s (non-blocking): not raced (%s)", q->name, strerror(-rc));
        free(b);
    }
    return rc;
}

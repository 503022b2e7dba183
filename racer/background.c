/* The helper thread that drives non-blocking races (racer/background.h).
 * Everything here runs under the lock of racer/fdmap.h. */
#include "background.h"

#include "../common/fdid.h"
#include "../common/log.h"
#include "fdmap.h"

#include <dirent.h>
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
#define HE_BG_NAME_MAX 256
/* The helper's epoll data for its eventfd; races use (gen, slot, attempt). */
#define HE_BG_WAKE UINT64_MAX

struct he_bg_race {
    unsigned gen;
    int slot;  /* in he_bg.race */
    int fd;    /* the program's number */
    int dupfd; /* the caller's socket, held: identity and the waiters' wake-up */
    struct he_fdid id; /* the caller's socket (common/fdid.h) */
    int own_failed;
    const char *outcome; /* why no splice, for the log */
    int64_t t0;
    struct sockaddr_storage addr;
    struct he_connector c;
    char name[HE_BG_NAME_MAX];
    struct he_race r; /* last: large */
};

static struct {
    const struct he_libc *sys;
    int running; /* the helper thread is alive; ep and evfd are open */
    int ep, evfd;
    int count;       /* races pending */
    int64_t wake_at;  /* when the helper's wait ends by itself */
    int64_t next_due; /* the earliest time a race has something to start */
    unsigned gen;
    int next_slot;
    sigset_t fork_mask;
    struct he_bg_race *race[HE_BG_MAX];
} he_bg = {.ep = -1, .evfd = -1, .next_due = INT64_MAX};

void he_bg_setup(const struct he_libc *sys) {
    he_bg.sys = sys;
}

/* ---------------------------------------------------------------- fd roles */

static void he_bg_mark(int fd, enum he_fd_role role, int slot) {
    struct he_fd_slot *s = he_fdmap_slot(fd, role != HE_FD_NONE);
    if (s != NULL) {
        s->role = (unsigned char)role;
        s->race = role == HE_FD_NONE ? 0 : slot + 1;
        he_fdmap_touch(s);
    }
}

static void he_bg_close_own(int fd) {
    he_bg_mark(fd, HE_FD_NONE, 0);
    he_bg.sys->close(fd);
}

/* ---------------------------------------------------------------- attempts */

static uint64_t he_bg_data(const struct he_bg_race *b, int slot, int index) {
    return (uint64_t)b->gen << 32 | (uint64_t)slot << 8 | (uint64_t)index;
}

static int he_bg_watch(const struct he_bg_race *b, int fd, int index) {
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = he_bg_data(b, b->slot, index)};
    return he_bg.sys->epoll_ctl(he_bg.ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
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

static int he_bg_wait_unused(void *ctx, struct he_race *r, int timeout_ms, int *index, int *err) {
    (void)ctx, (void)r, (void)timeout_ms, (void)index, (void)err;
    return -ENOTSUP;
}

static void he_bg_io(struct he_bg_race *b, struct he_race_io *io) {
    *io = (struct he_race_io){b, he_bg_now, he_bg_start_attempt, he_bg_wait_unused,
                              he_bg_cancel_attempt};
}

/* ---------------------------------------------------------------- splice */

/* Whether the program's number still holds the caller's socket.  The race
 * holds a dup of it, so neither its cookie nor (without SO_COOKIE) its
 * inode can be given to another socket meanwhile. */
static int he_bg_same_socket(const struct he_bg_race *b) {
    return he_fdid_same(b->fd, &b->id);
}

/* The program's epoll registrations of fd move to the file dup3 is about to
 * put there.  Linux keys them by (file, number): the old file's stay
 * behind, stale, and MOD/DEL would say ENOENT.  So each is removed while
 * the number still holds the old file (moved[k] says it existed), and
 * added again with the program's events and data once it holds the new
 * one, which is writable: the program is woken with EPOLLOUT. */
static void he_bg_epoll_detach(int fd, const struct he_fd_slot *s, int *moved) {
    for (int k = 0; k < s->nreg; k++) {
        moved[k] = he_bg.sys->epoll_ctl(s->reg[k].epfd, EPOLL_CTL_DEL, fd, NULL) == 0;
    }
}

static void he_bg_epoll_attach(int fd, struct he_fd_slot *s, const int *moved) {
    int kept = 0;
    for (int k = 0; k < s->nreg; k++) {
        if (!moved[k]) {
            continue; /* stale: that instance no longer had it */
        }
        struct epoll_event ev = {.events = s->reg[k].events, .data.u64 = s->reg[k].data};
        if (he_bg.sys->epoll_ctl(s->reg[k].epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            HE_LOG(HE_LOG_WARN, "fd %d: epoll registration in %d lost in the splice (%s)", fd,
                   s->reg[k].epfd, strerror(errno));
            continue;
        }
        s->reg[kept++] = s->reg[k];
    }
    s->nreg = (unsigned char)kept;
    he_fdmap_touch(s);
}

/* Puts the winning sibling on the program's fd.  Returns 0, or the reason
 * it was not done (the winner is closed, the caller's attempt goes on). */
static const char *he_bg_splice(struct he_bg_race *b) {
    struct he_attempt *w = &b->r.att[b->r.winner];
    int s = w->handle;
    w->handle = -1;
    he_bg_mark(s, HE_FD_NONE, 0);
    const char *why = NULL;
    struct he_fd_slot *slot = he_fdmap_slot(b->fd, 0);
    int fl = fcntl(b->dupfd, F_GETFL);
    int fdfl = fcntl(b->fd, F_GETFD);
    if (!he_bg_same_socket(b)) {
        why = "the fd no longer holds the caller's socket";
    } else if (slot == NULL || slot->nreg == HE_FDMAP_UNKNOWN) {
        why = "the fd's epoll registrations are not all known";
    } else if (fl < 0 || fdfl < 0 || fcntl(s, F_SETFL, fl) != 0) {
        why = "the caller's flags cannot be read";
    }
    if (why != NULL) {
        he_bg.sys->close(s);
        return why;
    }
    int moved[HE_FDMAP_REGS] = {0};
    he_bg_epoll_detach(b->fd, slot, moved);
    if (he_bg.sys->dup3(s, b->fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
        int err = errno;
        he_bg_epoll_attach(b->fd, slot, moved); /* back on the caller's socket */
        he_bg.sys->close(s);
        errno = err;
        return "dup3 failed";
    }
    he_bg_epoll_attach(b->fd, slot, moved);
    he_bg.sys->close(s);
    /* dup3 does not wake a thread blocked in poll/select on the fd: they
     * wait on the old socket.  Shutting it down does; they look again and
     * find the new one connected. */
    shutdown(b->dupfd, SHUT_RDWR);
    return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

static void he_bg_log(const struct he_bg_race *b) {
    int64_t ms = he_connector_now_ms(NULL) - b->t0;
    if (b->outcome != NULL && he_log_level >= HE_LOG_INFO) {
        he_log_write(HE_LOG_INFO, "race %s (non-blocking): %s after %lld ms", b->name, b->outcome,
                     (long long)ms);
    }
    he_connector_log(&b->r, b->name, b->r.result, ms);
}

/* Ends race slot: its sockets closed, its numbers forgotten. */
static void he_bg_retire(int slot, const char *why) {
    struct he_bg_race *b = he_bg.race[slot];
    struct he_race_io io;
    he_bg_io(b, &io);
    if (!b->r.ended) {
        b->outcome = why;
        he_race_stop(&b->r, &io, -ECANCELED);
    }
    struct he_fd_slot *s = he_fdmap_slot(b->fd, 0);
    if (s != NULL && s->role == HE_FD_CALLER && s->race == slot + 1) {
        he_bg_mark(b->fd, HE_FD_NONE, 0);
    }
    he_bg.sys->epoll_ctl(he_bg.ep, EPOLL_CTL_DEL, b->dupfd, NULL);
    he_bg_close_own(b->dupfd);
    he_bg_log(b);
    free(b);
    he_bg.race[slot] = NULL;
    he_bg.count--;
}

/* After any change: a race with a result ends (splicing a sibling that
 * won), and so does one with no sibling left, whose only attempt is the
 * caller's own: the kernel finishes that without libhe. */
static void he_bg_check(int slot) {
    struct he_bg_race *b = he_bg.race[slot];
    struct he_race_io io;
    he_bg_io(b, &io);
    if (!b->r.ended && he_race_siblings_left(&b->r) == 0) {
        b->outcome = "nothing left to race; the caller's own attempt goes on";
        he_race_stop(&b->r, &io, -EINPROGRESS);
    }
    if (!b->r.ended) {
        return;
    }
    if (b->r.winner > 0) {
        b->outcome = he_bg_splice(b);
        if (b->outcome != NULL) {
            /* Not spliced: the log must not name a winner. */
            b->r.att[b->r.winner].state = HE_ATTEMPT_CANCELLED;
            b->r.winner = -1;
            b->r.result = -ECANCELED;
        }
    } else if (b->own_failed) {
        b->outcome = "the caller's own attempt failed first; the program sees it";
    }
    he_bg_retire(slot, NULL);
}

/* Lowers the helper's next sweep to when race b has something due. */
static void he_bg_note_due(const struct he_bg_race *b, int64_t now) {
    int w = he_race_wait_ms(&b->r, now);
    if (w >= 0 && now + w < he_bg.next_due) {
        he_bg.next_due = now + w;
    }
}

/* epoll reported attempt index of a race finished (or woke spuriously). */
static void he_bg_event(uint64_t data, uint32_t events) {
    int slot = (int)((data >> 8) & 0xffffff), index = (int)(data & 0xff);
    struct he_bg_race *b = slot < HE_BG_MAX ? he_bg.race[slot] : NULL;
    if (b == NULL || b->gen != (unsigned)(data >> 32) || b->r.ended || index >= b->r.count ||
        b->r.att[index].state != HE_ATTEMPT_RUNNING) {
        return;
    }
    struct he_race_io io;
    he_bg_io(b, &io);
    if (index == 0) {
        /* The caller's own socket is the program's to read: its SO_ERROR
         * must stay for the program, so only the readiness is looked at. */
        if (events & (EPOLLERR | EPOLLHUP)) {
            b->own_failed = 1;
            he_race_stop(&b->r, &io, -ECONNABORTED);
        } else {
            he_race_settle(&b->r, &io, 0, 0);
        }
    } else {
        int err = he_connector_sibling_outcome(&b->c, &b->r, index);
        if (err < 0) {
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

/* Starts what is due in every race, once the earliest is due, and works
 * out when the next one is.  Returns the wait until then (-1: none). */
static int he_bg_sweep(void) {
    int64_t now = he_connector_now_ms(NULL);
    if (now < he_bg.next_due) {
        return he_bg.next_due == INT64_MAX ? -1 : (int)(he_bg.next_due - now);
    }
    he_bg.next_due = INT64_MAX;
    for (int i = 0, left = he_bg.count; i < HE_BG_MAX && left > 0; i++) {
        struct he_bg_race *b = he_bg.race[i];
        if (b == NULL) {
            continue;
        }
        left--;
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

static void he_bg_stop_helper(void) {
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
    int rc = ep < 0 || evfd < 0 || he_bg.sys->epoll_ctl(ep, EPOLL_CTL_ADD, evfd, &ev) != 0 ? -errno : 0;
    pthread_attr_t attr;
    pthread_t t;
    if (rc == 0) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = -pthread_create(&t, &attr, he_bg_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
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

static int he_bg_admit(struct he_bg_race *b, const struct he_bg_request *q) {
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
    b->dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
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
    he_bg_note_due(b, b->t0);
    if (b->r.next_at < he_bg.wake_at) {
        uint64_t one = 1;
        if (write(he_bg.evfd, &one, sizeof one) < 0) {
            /* the counter is full: the helper is being woken anyway */
        }
    }
    return 0;
}

int he_bg_start(const struct he_bg_request *q) {
    /* Done already (loopback, a LAN): nothing to race, no thread. */
    struct pollfd p = {.fd = q->c->fd, .events = POLLOUT};
    if (poll(&p, 1, 0) != 0) {
        return -EALREADY;
    }
    if (he_fdmap_incomplete() || he_bg.sys == NULL) {
        return -ENOTSUP;
    }
    struct he_bg_race *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return -ENOMEM;
    }
    sigset_t old;
    he_fdmap_lock(1, &old);
    int rc = he_bg_admit(b, q);
    he_fdmap_unlock(1, &old);
    if (rc != 0) {
        HE_LOG(HE_LOG_DEBUG, "race %s (non-blocking): not raced (%s)", q->name, strerror(-rc));
        free(b);
    }
    return rc;
}

/* ---------------------------------------------------------------- hooks */

/* Moves libhe's descriptor at fd to another number, so that the program
 * can have that one.  Returns 0, or -errno (it stays). */
static int he_bg_move(int fd, struct he_fd_slot *s) {
    int to = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (to < 0) {
        return -errno;
    }
    struct he_fd_slot *t = he_fdmap_slot(to, 1);
    if (t == NULL) {
        he_bg.sys->close(to);
        return -ENOMEM;
    }
    int race = s->race - 1;
    if (s->role == HE_FD_HELPER) {
        *(fd == he_bg.ep ? &he_bg.ep : &he_bg.evfd) = to;
    } else if (race >= 0 && he_bg.race[race] != NULL) {
        struct he_bg_race *b = he_bg.race[race];
        if (b->dupfd == fd) {
            b->dupfd = b->c.fd = to;
        }
        for (int i = 1; i < b->r.count; i++) {
            if (b->r.att[i].handle == fd) {
                b->r.att[i].handle = to;
            }
        }
    }
    he_bg_mark(to, (enum he_fd_role)s->role, race);
    he_bg_close_own(fd);
    return 0;
}

/* What the program's close or replacement of fd means for libhe: a race on
 * it is cancelled; libhe's own descriptor there is moved away (move) or
 * kept (returns 1: the number is not the program's to close). */
static int he_bg_release(int fd, int move) {
    struct he_fd_slot *s = he_fdmap_slot(fd, 0);
    if (s == NULL) {
        return 0;
    }
    if (s->role == HE_FD_CALLER && s->race > 0 && he_bg.race[s->race - 1] != NULL) {
        he_bg_retire(s->race - 1, "cancelled: the program closed or replaced the fd");
    } else if (s->role == HE_FD_PRIVATE || s->role == HE_FD_HELPER) {
        if (!move || he_bg_move(fd, s) != 0) {
            return 1;
        }
    }
    he_fdmap_forget(fd);
    return 0;
}

int he_bg_close(int fd) {
    he_fdmap_lock(0, NULL);
    int keep = he_bg_release(fd, 0);
    he_fdmap_unlock(0, NULL);
    return keep ? 0 : he_bg.sys->close(fd);
}

int he_bg_dup_target(int newfd) {
    he_fdmap_lock(0, NULL);
    int keep = he_bg_release(newfd, 1);
    he_fdmap_unlock(0, NULL);
    return keep ? -EBUSY : 0;
}

int he_bg_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
    he_fdmap_lock(0, NULL);
    int rc = he_bg.sys->epoll_ctl(epfd, op, fd, ev);
    int err = errno;
    if (rc == 0) {
        he_fdmap_epoll(epfd, op, fd, ev);
    }
    he_fdmap_unlock(0, NULL);
    errno = err;
    return rc;
}

static int he_bg_cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* libhe's descriptors in [first, last], sorted, after the races of the
 * program's numbers in that range are cancelled. */
static int he_bg_private_in(unsigned first, unsigned last, int *out, int max) {
    int n = 0;
    for (int i = 0; i < HE_BG_MAX; i++) {
        struct he_bg_race *b = he_bg.race[i];
        if (b != NULL && (unsigned)b->fd >= first && (unsigned)b->fd <= last) {
            he_bg_retire(i, "cancelled: the program closed the fd (close_range)");
        }
    }
    for (int i = 0; i < HE_BG_MAX && n < max; i++) {
        struct he_bg_race *b = he_bg.race[i];
        for (int k = 0; b != NULL && k < b->r.count && n < max; k++) {
            int fd = k == 0 ? b->dupfd : b->r.att[k].handle;
            if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last) {
                out[n++] = fd;
            }
        }
    }
    int helper[2] = {he_bg.ep, he_bg.evfd};
    for (int k = 0; k < 2 && n < max; k++) {
        if (helper[k] >= 0 && (unsigned)helper[k] >= first && (unsigned)helper[k] <= last) {
            out[n++] = helper[k];
        }
    }
    qsort(out, (size_t)n, sizeof *out, he_bg_cmp_int);
    return n;
}

/* Without close_range(2) (Linux < 5.9): the open numbers in the range, one
 * by one, but libhe's. */
static int he_bg_close_each(unsigned first, unsigned last, const int *keep, int nkeep) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return -1;
    }
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || fd == self || fd < (long)first || fd > (long)last ||
            bsearch(&(int){(int)fd}, keep, (size_t)nkeep, sizeof *keep, he_bg_cmp_int)) {
            continue;
        }
        he_bg.sys->close((int)fd);
    }
    closedir(d);
    return 0;
}

int he_bg_close_range(unsigned first, unsigned last, int flags) {
    enum { MAX = HE_BG_MAX * 3 + 2 };
    static int keep[MAX]; /* under the lock */
    he_fdmap_lock(0, NULL);
    int n = he_bg_private_in(first, last, keep, MAX);
    int rc = 0;
    unsigned from = first;
    for (int k = 0; k < n && rc == 0; k++) {
        if ((unsigned)keep[k] > from) {
            rc = he_bg.sys->close_range(from, (unsigned)keep[k] - 1, flags);
        }
        from = (unsigned)keep[k] + 1;
    }
    if (rc == 0 && from <= last && (n == 0 || (unsigned)keep[n - 1] != last)) {
        rc = he_bg.sys->close_range(from, last, flags);
    }
    if (rc != 0 && errno == ENOSYS && flags == 0) {
        rc = he_bg_close_each(first, last, keep, n);
    }
    int err = errno;
    he_fdmap_forget_range(first, last);
    he_fdmap_unlock(0, NULL);
    errno = err;
    return rc;
}

void he_bg_closefrom(int lowfd) {
    if (he_bg_close_range((unsigned)lowfd, ~0u, 0) != 0) {
        /* Nothing libhe can do that closefrom would not: it never fails. */
    }
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
        he_bg_mark(b->fd, HE_FD_NONE, 0);
        he_bg_close_own(b->dupfd);
        free(b);
        he_bg.race[i] = NULL;
        he_bg.count--;
    }
    if (he_bg.running) {
        he_bg_stop_helper();
    }
    he_bg.count = 0;
    he_bg.next_due = INT64_MAX;
    he_fdmap_fork_child();
    pthread_sigmask(SIG_SETMASK, &he_bg.fork_mask, NULL);
}

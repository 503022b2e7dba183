#include "connector.h"

#include "fdmap.h"
#include "stats.h"
#include "strand.h"

#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif

int64_t he_connector_now_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int he_connector_sndtimeo_ms(int fd) {
    struct timeval tv;
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) != 0) {
        return -errno;
    }
    int64_t ms = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

static int he_connector_getint(int fd, int level, int name, int *out) {
    socklen_t len = sizeof *out;
    return getsockopt(fd, level, name, out, &len) == 0 ? 0 : -errno;
}

/* Whether the caller bound a specific local address (any port). */
static int he_connector_is_specific(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET) {
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr != htonl(INADDR_ANY);
    }
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return !IN6_IS_ADDR_UNSPECIFIED(a);
}

/* Whether a socket filter is attached.  SO_GET_FILTER counts in filter
 * instructions, not bytes: asked with length 0 it only says how many
 * (EACCES for an eBPF program, which cannot be read back either). */
static int he_connector_filtered(int fd) {
    socklen_t n = 0;
    return getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &n) != 0 || n != 0;
}

/* The kernel's ephemeral port range, low << 16 | high, with open and read
 * only: this may run in a signal handler's connect(), where stdio's
 * allocations could meet a malloc lock the handler interrupted.  Closed
 * with close(), the layer it was opened through: a sanitizer that watches
 * descriptors (TSan) must see both, or it takes the number's next owner,
 * in another thread, for a race on it. */
static unsigned he_connector_port_range(void) {
    unsigned lo = 32768, hi = 60999; /* Linux's default */
    char buf[32];
    int fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (n > 0) {
        buf[n] = 0;
        char *end;
        unsigned long a = strtoul(buf, &end, 10), b = strtoul(end, NULL, 10);
        if (a > 0 && a <= b && b <= 65535) {
            lo = (unsigned)a, hi = (unsigned)b;
        }
    }
    return lo << 16 | hi;
}

int he_connector_ephemeral_port(unsigned port) {
    static unsigned range; /* 0: not read yet */
    unsigned r = __atomic_load_n(&range, __ATOMIC_RELAXED);
    if (r == 0) {
        r = he_connector_port_range();
        __atomic_store_n(&range, r, __ATOMIC_RELAXED);
    }
    return port >= r >> 16 && port <= (r & 0xffff);
}

int he_connector_local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        return -1;
    }
    return ntohs(he_sockaddr_port((struct sockaddr *)&ss));
}

/* A fresh socket (racer/fdmap.h) skipped getsockname before its connect.
 * A bind the hooks could not see (the system call made directly) would
 * have been missed, so once a sibling is due the port the socket has now
 * is checked: one outside the ephemeral range was not the kernel's
 * choice, and is fixed. */
static int he_connector_fresh_port_ok(const struct he_connector *c) {
    if (c->local_len != 0) {
        return 1; /* read with getsockname before the connect */
    }
    int port = he_connector_local_port(c->fd);
    return port == 0 || (port > 0 && he_connector_ephemeral_port((unsigned)port));
}

/* Whether the caller's socket is TCP without Fast Open (which defers the
 * SYN to the first write: nothing to race) and without a socket filter
 * (which cannot be read back whole).  A socket with its defaults
 * (HE_FRESH_DEFAULTS: made TCP, no option ever set) is all of that. */
static int he_connector_plain_tcp(const struct he_connector *c) {
    if (c->fresh & HE_FRESH_DEFAULTS) {
        return 1;
    }
    int type = 0, proto = 0, tfo = 0;
    if (he_connector_getint(c->fd, SOL_SOCKET, SO_TYPE, &type) != 0 || type != SOCK_STREAM ||
        he_connector_getint(c->fd, SOL_SOCKET, SO_PROTOCOL, &proto) != 0 || proto != IPPROTO_TCP) {
        return 0;
    }
    if (he_connector_getint(c->fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &tfo) == 0 && tfo) {
        return 0;
    }
    return !he_connector_filtered(c->fd);
}

/* Looks at the caller's socket once, when the first sibling is due: is it a
 * TCP socket libhe can reproduce?  Sets c->prep to READY or REFUSED. */
static void he_connector_prepare(struct he_connector *c) {
    c->prep = HE_PREP_REFUSED;
    /* An option the program set since its connect() began (a non-blocking
     * one goes on with its work) clears the bit: read it again. */
    c->fresh &= he_fdmap_fresh(c->fresh_fd);
    if (!he_connector_plain_tcp(c)) {
        return;
    }
    /* A signal owner (F_SETOWN, for SIGURG) cannot be replayed; fcntl and
     * ioctl set it, not setsockopt, so even a fresh socket is asked. */
    struct f_owner_ex owner = {0};
    if (fcntl(c->fd, F_GETOWN_EX, &owner) != 0 || owner.pid != 0) {
        return;
    }
    /* A fixed local port cannot be shared by several attempts. */
    if (c->local_kind == HE_LOCAL_FIXED || !he_connector_fresh_port_ok(c)) {
        return;
    }
    if (c->family == AF_INET6 &&
        he_connector_getint(c->fd, IPPROTO_IPV6, IPV6_V6ONLY, &c->v6only) != 0) {
        return;
    }
    c->type = SOCK_STREAM;
    c->protocol = IPPROTO_TCP;
    if (c->track) {
        c->track->caller();
    }
    c->prep = HE_PREP_READY;
}

/* Whether attempt address a can go out of this socket: IPV6_V6ONLY keeps
 * IPv4 off an AF_INET6 socket, and a bound local address fixes the family. */
static int he_connector_can_carry(const struct he_connector *c, const struct he_addr *a) {
    if (c->family == AF_INET6 && a->family == AF_INET && c->v6only) {
        return 0;
    }
    if (c->local_kind != HE_LOCAL_ADDR) {
        return 1;
    }
    struct he_addr local;
    if (he_addr_from_sockaddr(&local, (const struct sockaddr *)&c->local, c->local_len) != 0) {
        return 0;
    }
    return local.family == a->family;
}

const struct he_connector_track he_connector_strand_track = {he_strand_note_caller, he_strand_add,
                                                             he_strand_del};

static void he_connector_track(const struct he_connector *c, int s) {
    if (c->track) {
        c->track->opened(s);
    }
}

static void he_connector_untrack(const struct he_connector *c, int s) {
    if (c->track) {
        c->track->closing(s);
    }
}

static int he_connector_close_sibling(struct he_connector *c, int s, int rc) {
    c->sys->close(s);
    he_connector_untrack(c, s);
    return rc;
}

/* Gives a fresh sibling the caller's options and local address.  The first
 * sibling also captures the options; if one cannot be reproduced, racing
 * stops (-ENOTSUP). */
static int he_connector_dress(struct he_connector *c, int s) {
    if (!c->options_ready && (c->fresh & HE_FRESH_DEFAULTS)) {
        c->options.count = 0; /* nothing set: a new socket is the same */
        c->options_ready = 1;
    } else if (!c->options_ready) {
        if (he_options_capture(&c->options, c->fd, s) != 0) {
            c->prep = HE_PREP_REFUSED;
            return -ENOTSUP;
        }
        c->options_ready = 1;
    } else if (he_options_apply(&c->options, s) != 0) {
        return -ENOTSUP;
    }
    if (c->local_kind == HE_LOCAL_ADDR) {
        struct sockaddr_storage local = c->local;
        he_sockaddr_set_port((struct sockaddr *)&local, 0);
        if (c->sys->bind(s, (struct sockaddr *)&local, c->local_len) != 0) {
            return -errno;
        }
    }
    return 0;
}

/* Settles a non-blocking connect that poll(2) reports finished, or one
 * that may have finished already, by calling connect() on it again:
 * CONNECTED, FAILED with *err, or PENDING while it is still under way.
 *
 * Asking again rather than reading SO_ERROR matters: only a connect() call
 * moves a socket from "connecting" to "connected" in the kernel's eyes, as a
 * blocking connect does by itself.  Without it, the program's own next
 * connect() on the fd would return 0 instead of EISCONN. */
static enum he_settle he_connector_settle(const struct he_connector *c, int fd,
                                          const struct sockaddr *to, socklen_t tolen, int *err) {
    *err = 0;
    if (c->sys->connect(fd, to, tolen) == 0 || errno == EISCONN) {
        return HE_SETTLE_CONNECTED;
    }
    if (errno == EALREADY || errno == EINPROGRESS || errno == EINTR) {
        return HE_SETTLE_PENDING;
    }
    *err = errno;
    return HE_SETTLE_FAILED;
}

/* Whether the caller's fd still holds its socket.  Another thread may have
 * closed it, or dup2'd something else onto it, while the race waited; from
 * then on libhe must not connect, disconnect or set flags on that number. */
static int he_connector_caller_intact(struct he_connector *c) {
    /* Not noted: attempt 0 settled at once, with no wait to race against. */
    if (!c->caller_gone && he_strand_caller_replaced()) {
        c->caller_gone = 1;
    }
    return !c->caller_gone;
}

static int he_connector_fd_of(const struct he_connector *c, const struct he_race *r, int i) {
    return i == 0 ? c->fd : r->att[i].handle;
}

enum he_settle he_connector_heard(int fd, int *err) {
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    *err = n > 0 ? 0 : n == 0 ? ENODATA : errno;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return HE_SETTLE_PENDING;
    }
    return n > 0 ? HE_SETTLE_CONNECTED : HE_SETTLE_FAILED;
}

/* A finished attempt's outcome (see he_connector_settle), or for a SILENT
 * one (a banner race) whether it spoke (he_connector_heard). */
static enum he_settle he_connector_outcome(struct he_connector *c, struct he_race *r, int i,
                                           short revents, int *err) {
    *err = EBADF;
    if (revents & POLLNVAL) {
        /* Someone closed that number: it is not ours to close again. */
        if (i > 0) {
            he_connector_untrack(c, r->att[i].handle);
            r->att[i].handle = -1;
        }
        return HE_SETTLE_FAILED;
    }
    if (r->att[i].state == HE_ATTEMPT_SILENT) {
        if (i == 0 && !he_connector_caller_intact(c)) {
            return HE_SETTLE_FAILED;
        }
        if (revents & POLLERR) {
            /* Reset: the error stays in the socket (a MSG_PEEK would take
             * it), for the program should its own connection be what it
             * gets. */
            *err = ECONNRESET;
            return HE_SETTLE_FAILED;
        }
        return he_connector_heard(he_connector_fd_of(c, r, i), err);
    }
    if (i == 0) {
        if (!he_connector_caller_intact(c)) {
            return HE_SETTLE_FAILED;
        }
        return he_connector_settle(c, c->fd, c->addr, c->addrlen, err);
    }
    struct sockaddr_storage to;
    socklen_t tolen =
        he_addr_to_sockaddr(&r->att[i].addr, c->family, he_sockaddr_port(c->addr), &to);
    return he_connector_settle(c, r->att[i].handle, (struct sockaddr *)&to, tolen, err);
}

enum he_settle he_connector_sibling_outcome(struct he_connector *c, struct he_race *r, int i,
                                            int *err) {
    return he_connector_outcome(c, r, i, POLLOUT, err);
}

/* The caller's local address as the program chose it.  A bind() with port
 * 0 gets its port from the kernel at once (unless IP_BIND_ADDRESS_NO_PORT),
 * and a connect() that libhe left in flight (EINTR, EINPROGRESS) got one
 * too; only the fd's record (racer/fdmap.h) knows which. */
static enum he_local_kind he_connector_local_as_chosen(struct he_connector *c) {
    if (he_sockaddr_port((struct sockaddr *)&c->local) != 0) {
        enum he_bind_kind kind = he_fdmap_bind_kind(c->fd);
        if (kind == HE_BIND_AUTO) {
            return HE_LOCAL_NONE;
        }
        if (kind != HE_BIND_PORT0) {
            return HE_LOCAL_FIXED;
        }
        he_sockaddr_set_port((struct sockaddr *)&c->local, 0);
    }
    return he_connector_is_specific(&c->local) ? HE_LOCAL_ADDR : HE_LOCAL_NONE;
}

/* Starts the caller's own attempt.  The caller's local address must be read
 * before its connect() binds it to an ephemeral port.  On loopback and on
 * a LAN the handshake is often done by the time connect() returns, so
 * asking once more settles the common case before anything else; only
 * a connect that is really in flight reads the caller's SO_SNDTIMEO, which
 * then becomes the race's deadline (the kernel's EINPROGRESS at expiry). */
int he_connector_note_local(struct he_connector *c) {
    c->fresh_fd = c->fd;
    c->fresh = he_fdmap_fresh(c->fd);
    if (c->fresh & HE_FRESH_UNBOUND) {
        /* Made by socket() under libhe's eyes and never bound. */
        memset(&c->local, 0, sizeof c->local);
        c->local_len = 0;
        c->local_kind = HE_LOCAL_NONE;
        return 0;
    }
    c->local_len = sizeof c->local;
    if (getsockname(c->fd, (struct sockaddr *)&c->local, &c->local_len) != 0) {
        c->local_kind = HE_LOCAL_FIXED;
        c->prep = HE_PREP_REFUSED;
        return -errno;
    }
    c->local_kind = he_connector_local_as_chosen(c);
    return 0;
}

int he_connector_redirectable(struct he_connector *c, const struct he_addr *a) {
    if (c->prep == HE_PREP_NOT_YET) {
        if (he_connector_note_local(c) != 0 || c->local_kind != HE_LOCAL_NONE) {
            c->prep = HE_PREP_REFUSED;
            return 0;
        }
        he_connector_prepare(c);
    }
    return c->prep == HE_PREP_READY && he_connector_can_carry(c, a);
}

static int he_connector_start_own(struct he_connector *c, struct he_race *r) {
    if (c->own_err != 0) {
        he_connector_note_local(c); /* what siblings replay */
        /* The program's SO_SNDTIMEO still bounds its connect(): at expiry
         * the race ends with the own attempt's errno, which the program
         * would have had at once. */
        int ms = he_connector_sndtimeo_ms(c->fd);
        if (ms > 0) {
            c->own_timeout = 1;
            he_race_set_deadline(r, r->t0 + ms, c->own_err);
        }
        return -c->own_err;
    }
    if (he_connector_note_local(c) != 0) {
        /* Not a socket, or not a valid fd: the kernel's own answer, with
         * the file's flags never touched. */
        return c->sys->connect(c->fd, c->addr, c->addrlen) == 0 ? 1 : -errno;
    }
    fcntl(c->fd, F_SETFL, c->fl | O_NONBLOCK);
    if (c->sys->connect(c->fd, c->addr, c->addrlen) == 0) {
        return 1;
    }
    /* EALREADY: the program calls connect() again on a socket still
     * connecting (after EINTR, or SO_SNDTIMEO's EINPROGRESS), where the
     * kernel would go on waiting for it. */
    if (errno != EINPROGRESS && errno != EALREADY) {
        return -errno;
    }
    int retried = errno == EALREADY;
    int err;
    enum he_settle st = he_connector_settle(c, c->fd, c->addr, c->addrlen, &err);
    if (st != HE_SETTLE_PENDING) {
        return st == HE_SETTLE_CONNECTED ? 1 : -err;
    }
    /* Really in flight: from here on, every step on the fd first checks
     * it still holds this socket. */
    he_strand_note_caller();
    int ms = he_connector_sndtimeo_ms(c->fd);
    if (ms > 0) {
        c->own_timeout = 1;
        he_race_set_deadline(r, r->t0 + ms, retried ? EALREADY : EINPROGRESS);
    }
    return 0;
}

static int he_connector_start_sibling(struct he_connector *c, struct he_attempt *a) {
    if (c->prep == HE_PREP_NOT_YET) {
        he_connector_prepare(c);
    }
    if (c->prep != HE_PREP_READY) {
        return -ENOTSUP;
    }
    struct sockaddr_storage to;
    socklen_t tolen = he_addr_to_sockaddr(&a->addr, c->family, he_sockaddr_port(c->addr), &to);
    if (tolen == 0 || !he_connector_can_carry(c, &a->addr)) {
        return -EAFNOSUPPORT;
    }
    int s = c->sys->socket(c->family, c->type | SOCK_NONBLOCK | SOCK_CLOEXEC, c->protocol);
    if (s < 0) {
        /* Out of fds or memory: stop racing, the caller's attempt goes on. */
        return -ENOTSUP;
    }
    he_connector_track(c, s);
    int rc = he_connector_dress(c, s);
    if (rc != 0) {
        return he_connector_close_sibling(c, s, rc);
    }
    int connected = c->sys->connect(s, (struct sockaddr *)&to, tolen) == 0;
    if (!connected && errno != EINPROGRESS) {
        return he_connector_close_sibling(c, s, -errno);
    }
    a->handle = s;
    return connected;
}

int he_connector_start(void *ctx, struct he_race *r, int index) {
    struct he_connector *c = ctx;
    if (index == 0) {
        return he_connector_start_own(c, r);
    }
    return he_connector_start_sibling(c, &r->att[index]);
}

/* Whether the kernel would have restarted the caller's blocking connect()
 * after the signal that just interrupted poll(2).  poll itself is never
 * restarted, and which signal arrived is not known, so: only when the
 * caller has no SO_SNDTIMEO (with one, connect is never restarted) and every
 * installed handler has SA_RESTART. */
static int he_connector_restartable(const struct he_connector *c) {
    if (c->own_timeout) {
        return 0;
    }
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) != 0) {
            continue;
        }
        int installed =
            (sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
        if (installed && !(sa.sa_flags & SA_RESTART)) {
            return 0;
        }
    }
    return 1;
}

/* pthread_cancel during the race's wait (poll is a cancellation point, as
 * connect is): nothing of the race may outlive the thread. */
static void he_connector_cancelled(void *ctx) {
    struct he_connector *c = ctx;
    he_strand_reap(c->sys->close);
}

/* poll(2), the one place a race can be cancelled: it runs with
 * cancellation disabled (shim/connect.c) but here, where every socket is on
 * record for the cleanup. */
static int he_connector_poll(struct he_connector *c, struct pollfd *pfd, nfds_t n, int ms) {
    int rc, err, state;
    pthread_cleanup_push(he_connector_cancelled, c);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &state);
    rc = poll(pfd, n, ms);
    err = errno;
    pthread_setcancelstate(state, NULL);
    pthread_cleanup_pop(0);
    errno = err;
    return rc;
}

/* Room for the DNS lookup's sockets next to the attempts'. */
#define HE_CONNECTOR_NEWS_FDS 16

/* poll(2) for the attempts (pfd[0..n)) and the news (after them), for at
 * most until (-1: no limit).  Returns poll's result with *nn set to the
 * number of news sockets polled, or -errno. */
static int he_connector_poll_all(struct he_connector *c, struct he_race *r, struct pollfd *pfd,
                                 int n, int64_t until, int *nn) {
    int64_t now = he_connector_now_ms(c);
    int64_t ms = until < 0 ? -1 : until > now ? until - now : 0;
    *nn = 0;
    if (c->news && r->news_pending) {
        *nn = c->news->pollfds(c->news->ctx, pfd + n, HE_CONNECTOR_NEWS_FDS);
        int t = c->news->timeout_ms(c->news->ctx, now);
        if (t >= 0 && (ms < 0 || t < ms)) {
            ms = t;
        }
    }
    int rc = he_connector_poll(c, pfd, (nfds_t)(n + *nn), ms > INT_MAX ? INT_MAX : (int)ms);
    return rc < 0 ? -errno : rc;
}

/* The first attempt in pfd[0..n) that finished: 1 with *index and *err. */
static int he_connector_ready(struct he_connector *c, struct he_race *r, const struct pollfd *pfd,
                              const int *which, int n, int *index, int *err) {
    /* Several may be ready: the lowest index wins, so the caller's own
     * socket is preferred and needs no splice. */
    for (int k = 0; k < n; k++) {
        if (pfd[k].revents) {
            int e;
            if (he_connector_outcome(c, r, which[k], pfd[k].revents, &e) != HE_SETTLE_PENDING) {
                *index = which[k];
                *err = e;
                return 1;
            }
        }
    }
    return 0;
}

static enum he_wait_result he_connector_wait(void *ctx, struct he_race *r, int timeout_ms,
                                             int *index, int *err) {
    struct he_connector *c = ctx;
    struct pollfd pfd[HE_RACE_MAX_ATTEMPTS + HE_CONNECTOR_NEWS_FDS];
    int which[HE_RACE_MAX_ATTEMPTS];
    int n = 0;
    for (int i = 0; i < r->count; i++) {
        /* Connecting: writable when done.  Connected but silent (a
         * banner race): readable when it speaks, closes or is reset. */
        if (r->att[i].state == HE_ATTEMPT_RUNNING || r->att[i].state == HE_ATTEMPT_SILENT) {
            short ev = r->att[i].state == HE_ATTEMPT_RUNNING ? POLLOUT : POLLIN;
            pfd[n] = (struct pollfd){.fd = he_connector_fd_of(c, r, i), .events = ev};
            which[n++] = i;
        }
    }
    int64_t until = timeout_ms < 0 ? -1 : he_connector_now_ms(c) + timeout_ms;
    he_strand_note_mask();
    for (;;) {
        int nn;
        int rc = he_connector_poll_all(c, r, pfd, n, until, &nn);
        if (!he_strand_current(c->strand_gen)) {
            /* A handler that ran meanwhile took this race for abandoned and
             * closed its sockets; their numbers may be someone else's now. */
            c->abandoned = 1;
            *err = EINTR;
            return HE_WAIT_ERROR;
        }
        if (rc == -EINTR && !he_connector_restartable(c)) {
            *err = EINTR;
            return HE_WAIT_ERROR;
        }
        if (rc < 0 && rc != -EINTR) {
            c->internal_error = 1;
            *err = -rc;
            return HE_WAIT_ERROR;
        }
        int news = 0;
        if (c->news && r->news_pending) {
            news =
                c->news->process(c->news->ctx, r, pfd + n, rc > 0 ? nn : 0, he_connector_now_ms(c));
        }
        if (rc > 0 && he_connector_ready(c, r, pfd, which, n, index, err)) {
            return HE_WAIT_DONE;
        }
        if (news) {
            return HE_WAIT_NEWS;
        }
        if (rc > 0 || (until >= 0 && he_connector_now_ms(c) >= until)) {
            return HE_WAIT_TIMEOUT;
        }
    }
}

void he_connector_cancel(void *ctx, struct he_race *r, int index) {
    struct he_connector *c = ctx;
    struct he_attempt *a = &r->att[index];
    if (c->abandoned) {
        a->handle = -1;
        return;
    }
    if (index == 0) {
        /* Our own deadline ends the caller's attempt the way a kernel
         * timeout would: the socket is left unconnected and reusable. */
        if (he_connector_caller_intact(c)) {
            struct sockaddr unspec = {.sa_family = AF_UNSPEC};
            c->sys->connect(c->fd, &unspec, sizeof unspec);
        }
        return;
    }
    if (a->handle >= 0) {
        he_connector_close_sibling(c, a->handle, 0);
    }
    a->handle = -1;
}

void he_connector_io(struct he_connector *c, struct he_race_io *io) {
    io->ctx = c;
    io->now_ms = he_connector_now_ms;
    io->start = he_connector_start;
    io->wait = he_connector_wait;
    io->cancel = he_connector_cancel;
}

/* Puts the winning sibling on the caller's fd number.  dup3 keeps the
 * number and replaces the file atomically; O_CLOEXEC carries the caller's
 * close-on-exec flag, which dup2 would drop. */
static int he_connector_splice(struct he_connector *c, struct he_attempt *w) {
    int s = w->handle;
    w->handle = -1;
    if (!he_connector_caller_intact(c)) {
        /* Another thread closed or replaced the caller's fd mid-race. */
        return he_connector_close_sibling(c, s, -EBADF);
    }
    int fdfl = fcntl(c->fd, F_GETFD);
    if (fdfl < 0 || c->sys->dup3(s, c->fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
        return he_connector_close_sibling(c, s, -errno);
    }
    he_connector_close_sibling(c, s, 0);
    fcntl(c->fd, F_SETFL, c->fl);
    return 0;
}

int he_connector_finish(struct he_connector *c, struct he_race *r) {
    if (c->abandoned) {
        return 0;
    }
    if (r->winner > 0) {
        return he_connector_splice(c, &r->att[r->winner]);
    }
    if (he_connector_caller_intact(c)) {
        fcntl(c->fd, F_SETFL, c->fl);
    }
    return 0;
}

/* What a race came to, as HE_STATS counts it (racer/stats.h). */
static enum he_stats_outcome he_connector_outcome_of(const struct he_race *r, int rc) {
    if (r->winner == 0) {
        return r->own_redirected ? HE_STATS_RESCUED : HE_STATS_OWN;
    }
    if (r->winner > 0) {
        return HE_STATS_RESCUED;
    }
    /* The program's own attempt goes on without libhe. */
    return rc == -EINPROGRESS || rc == -EALREADY || rc == -EINTR ? HE_STATS_LEFT : HE_STATS_FAILED;
}

static const char *const he_connector_outcome_names[] = {"own", "rescued", "failed", "left"};

/* The race as one JSON object (HE_LOG_FORMAT=json; field names are
 * documented in README and stay). */
static void he_connector_log_json(const struct he_race *r, const char *name, int rc,
                                  int64_t elapsed, const char *note) {
    char line[3072], addr[HE_ADDR_STRLEN];
    size_t u = 0;
    he_log_appendf(line, sizeof line, &u,
                   "{\"event\":\"race\",\"pid\":%d,\"name\":", (int)getpid());
    he_log_json_str(line, sizeof line, &u, name);
    he_log_appendf(line, sizeof line, &u,
                   ",\"result\":\"%s\",\"ms\":%lld,\"blocking\":%s,\"winner\":",
                   he_connector_outcome_names[he_connector_outcome_of(r, rc)], (long long)elapsed,
                   note == NULL ? "true" : "false");
    if (r->winner >= 0) {
        he_log_json_str(line, sizeof line, &u,
                        he_addr_format(&r->att[r->winner].addr, addr, sizeof addr));
        he_log_appendf(line, sizeof line, &u, ",\"attempt\":%d", r->winner + 1);
    } else {
        const char *e = rc < 0 ? strerrorname_np(-rc) : NULL;
        he_log_appendf(line, sizeof line, &u, "null,\"error\":\"%s\"", e ? e : "?");
    }
    if (note != NULL && *note != '\0') {
        he_log_appendf(line, sizeof line, &u, ",\"note\":");
        he_log_json_str(line, sizeof line, &u, note);
    }
    he_log_appendf(line, sizeof line, &u, ",\"attempts\":[");
    /* Room is kept for the closing "]}": a line is whole JSON, with as
     * many attempts as fit. */
    for (int i = 0; i < r->count && u < sizeof line - 200; i++) {
        const struct he_attempt *a = &r->att[i];
        he_log_appendf(line, sizeof line, &u, "%s{\"addr\":", i ? "," : "");
        he_log_json_str(line, sizeof line, &u, he_addr_format(&a->addr, addr, sizeof addr));
        const char *e = a->state == HE_ATTEMPT_FAILED ? strerrorname_np(a->err) : NULL;
        he_log_appendf(line, sizeof line, &u, ",\"state\":\"%s\"%s%s%s}", he_attempt_label(a),
                       e ? ",\"error\":\"" : "", e ? e : "", e ? "\"" : "");
    }
    he_log_appendf(line, sizeof line, &u, "]}");
    he_log_line(line, u);
}

void he_connector_log(const struct he_race *r, const char *name, int rc, int64_t elapsed,
                      const char *note) {
    he_stats_note(he_connector_outcome_of(r, rc), elapsed);
    /* A connect settled by the caller's own attempt alone is for debugging;
     * a race where a sibling started is worth an info line. */
    int level = r->count > 1 && r->att[1].state != HE_ATTEMPT_WAITING ? HE_LOG_INFO : HE_LOG_DEBUG;
    if (he_log_level < level) {
        return;
    }
    if (he_log_json) {
        he_connector_log_json(r, name, rc, elapsed, note);
        return;
    }
    char line[900];
    size_t used = 0;
    for (int i = 0; i < r->count && used < sizeof line - 100; i++) {
        const struct he_attempt *a = &r->att[i];
        char addr[HE_ADDR_STRLEN];
        he_addr_format(&a->addr, addr, sizeof addr);
        /* An EOF is said by "closed" alone. */
        int why = a->state == HE_ATTEMPT_FAILED && !(a->connected && a->err == ENODATA);
        int n = snprintf(line + used, sizeof line - used, "%s%s %s%s%s", i ? ", " : "", addr,
                         he_attempt_label(a), why ? " " : "", why ? strerror(a->err) : "");
        used += n > 0 ? (size_t)n : 0;
    }
    if (r->winner >= 0) {
        char w[HE_ADDR_STRLEN];
        he_addr_format(&r->att[r->winner].addr, w, sizeof w);
        he_log_write(level, "race %s: winner %s (attempt %d) after %lld ms; %s", name, w,
                     r->winner + 1, (long long)elapsed, line);
    } else {
        he_log_write(level, "race %s: no winner (%s) after %lld ms; %s", name, strerror(-rc),
                     (long long)elapsed, line);
    }
}

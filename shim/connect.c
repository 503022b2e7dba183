/* connect(2): where a blocking TCP connect to a remembered name's address
 * becomes a race among the name's addresses. */
#include "connect.h"
#include "faults.h"

#include "../common/log.h"
#include "../faults/fault.h"
#include "../history/plan.h"
#include "../racer/background.h"
#include "../racer/connector.h"
#include "../racer/fdmap.h"
#include "../racer/race.h"
#include "../racer/remember.h"
#include "../racer/strand.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

void he_connect_connector(struct he_connector *c, int fd, const struct sockaddr *addr,
                          socklen_t len, int fl) {
    /* Every connect to a known name sets one up: the options' 2 KB are
     * not cleared, only counted as none. */
    memset(c, 0, offsetof(struct he_connector, options));
    c->options.count = 0;
    c->sys = &he_real;
    c->track = &he_connector_strand_track;
    c->fd = fd;
    c->fl = fl;
    c->family = addr->sa_family;
    c->addr = addr;
    c->addrlen = len;
}

void he_connect_plain_plan(struct he_plan *p, const struct he_addr *first) {
    p->own = HE_PLAN_AS_ASKED;
    p->own_addr = p->first = *first;
    p->delay_ms = he_cfg.attempt_delay_ms;
    p->n = p->nbad = 0;
}

/* What the history changes in race r (history/plan.h). */
static void he_connect_apply_plan(struct he_race *r, const struct he_plan *plan) {
    if (plan->nbad > 0) {
        he_race_demote(r, plan->addrs + plan->n - plan->nbad, plan->nbad);
    }
    r->sibling_at_once = plan->own == HE_PLAN_WITH_SIBLING;
    r->own_redirected = plan->own == HE_PLAN_OWN_LAST;
}

/* The caller's socket pointed at the plan's first sibling instead of its
 * own address (*addr, *len, *dst then point at it, in *sub), when a race
 * could run the own address as a sibling; else the plan keeps the own
 * address first. */
static void he_connect_redirect(int fd, int fl, const struct sockaddr **addr, socklen_t *len,
                                struct he_addr *dst, struct he_plan *p,
                                struct sockaddr_storage *sub) {
    struct he_connector c;
    he_connect_connector(&c, fd, *addr, *len, fl);
    c.track = NULL;
    socklen_t l = he_addr_to_sockaddr(&p->first, (*addr)->sa_family, he_sockaddr_port(*addr), sub);
    if (l == 0 || !he_connector_redirectable(&c, &p->first)) {
        p->own = HE_PLAN_AS_ASKED;
        p->first = p->own_addr;
        return;
    }
    *addr = (const struct sockaddr *)sub;
    *len = l;
    *dst = p->first;
}

/* The history's plan for this connect, which races: the name's addresses
 * in its order, the delay, and, when the caller's own address is known to
 * refuse, the sibling the caller's socket connects to instead
 * (he_connect_redirect).  Without a history, the plain race.  errno is the
 * program's afterwards: opening the history makes system calls. */
static void he_connect_plan(int fd, int fl, const struct sockaddr **addr, socklen_t *len,
                            struct he_addr *dst, struct he_memo_answer *ans, struct he_plan *p,
                            struct sockaddr_storage *sub) {
    he_connect_plain_plan(p, dst);
    if (he_cfg.history == HE_HISTORY_OFF) {
        return;
    }
    int saved = errno;
    int64_t now = he_connector_now_ms(NULL);
    if (!he_hist_ready(now)) {
        errno = saved;
        return;
    }
    struct he_plan_input in = {dst,
                               ans->addrs,
                               ans->count,
                               ntohs(he_sockaddr_port(*addr)),
                               (*addr)->sa_family,
                               he_cfg.attempt_delay_ms,
                               he_hist_secs(now),
                               he_hist_conf(),
                               he_hist_find,
                               he_hist_find_prefix};
    int changed = he_plan_make(p, &in);
    memcpy(ans->addrs, p->addrs, (size_t)p->n * sizeof p->addrs[0]);
    if (p->own == HE_PLAN_OWN_LAST) {
        he_connect_redirect(fd, fl, addr, len, dst, p, sub);
    }
    if (changed && he_log_level >= HE_LOG_INFO) {
        char why[128];
        he_log_write(HE_LOG_INFO, "race %s: history: %s; attempt delay %d ms (%s)", ans->name,
                     he_plan_describe(p, why, sizeof why), p->delay_ms, p->delay_from);
    }
    errno = saved;
}

/* When every attempt failed after the caller's socket was sent to a
 * sibling, the program gets its own address's errno, as without libhe. */
static int he_connect_own_errno(const struct he_race *r, const struct he_plan *plan, int rc) {
    if (plan->own != HE_PLAN_OWN_LAST || r->att[0].state != HE_ATTEMPT_FAILED ||
        rc != -r->att[0].err) {
        return rc;
    }
    for (int i = 1; i < r->count; i++) {
        if (he_addr_equal(&r->att[i].addr, &plan->own_addr) &&
            r->att[i].state == HE_ATTEMPT_FAILED) {
            return -r->att[i].err;
        }
    }
    return rc;
}

/* HE_BANNER_TIMEOUT_MS when addr's port is one of HE_BANNER_PORTS (its
 * race is a banner race, racer/race.h), else 0. */
static int he_connect_banner_ms(const struct sockaddr *addr) {
    return he_config_banner_port(&he_cfg, ntohs(he_sockaddr_port(addr))) ? he_cfg.banner_timeout_ms
                                                                         : 0;
}

int he_connect_race(int fd, const struct sockaddr *addr, socklen_t len, int fl,
                    const struct he_addr *dst, const struct he_memo_answer *ans,
                    const struct he_plan *plan, enum he_refresh_when refresh, uintptr_t frame,
                    int own_err) {
    struct he_race r;
    int rc, frc;
    he_race_init(&r, dst, ans->addrs, ans->count, addr->sa_family, plan->delay_ms,
                 he_cfg.max_attempts);
    he_connect_apply_plan(&r, plan);
    he_race_set_banner(&r, he_connect_banner_ms(addr));
    struct he_connector c;
    he_connect_connector(&c, fd, addr, len, fl);
    c.own_err = own_err;
    struct he_race_io io;
    he_connector_io(&c, &io);
    int64_t t0 = he_connector_now_ms(NULL);
    struct he_refresh fresh; /* set up only when a lookup may run */
    fresh.dns = NULL;
    if ((refresh == HE_REFRESH_NOW && he_refresh_start(&fresh, ans->name, &r, t0) == 0) ||
        (refresh == HE_REFRESH_LATE &&
         he_refresh_defer(&fresh, ans->name, &r, t0 + plan->delay_ms) == 0)) {
        c.news = &fresh.news;
    }
    /* The caller's own SO_SNDTIMEO, found when attempt 0 starts, overrides. */
    if (he_cfg.connect_timeout_ms > 0) {
        he_race_set_deadline(&r, t0 + he_cfg.connect_timeout_ms, own_err ? own_err : ETIMEDOUT);
    }
    he_strand_begin(frame, fd, fl);
    c.strand_gen = he_strand_gen();
    /* Cancellation is acted on only inside the race's wait (racer/
     * connector.c), which carries the cleanup for it. */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    rc = he_race_run(&r, &io);
    frc = he_connector_finish(&c, &r);
    he_refresh_finish(&fresh, rc >= 0 && frc == 0);
    pthread_setcancelstate(cancel_state, NULL);
    if (!c.abandoned) {
        he_strand_end();
    }
    if (rc >= 0 && frc < 0) {
        rc = frc;
    }
    /* Left connecting (EINTR, SO_SNDTIMEO): the kernel bound the socket to
     * an ephemeral port, which a connect() again must not take for the
     * program's own choice. */
    if (c.local_kind == HE_LOCAL_NONE && !c.caller_gone && !c.abandoned &&
        (rc == -EINTR || rc == -EINPROGRESS || rc == -EALREADY)) {
        he_fdmap_bind_note(fd, HE_BIND_AUTO);
    }
    /* Only while the caller's own attempt is still in flight on its own
     * fd: one that already failed has its answer. */
    if (c.internal_error && !c.caller_gone && !c.abandoned &&
        r.att[0].state == HE_ATTEMPT_RUNNING) {
        /* poll failed (seccomp, ENOMEM): the siblings are closed and the
         * socket is blocking again; the kernel's own wait for the caller's
         * attempt in flight gives the plain result. */
        HE_LOG(HE_LOG_INFO, "race %s: %s; left to the kernel", ans->name, strerror(-rc));
        rc = he_real.connect(fd, addr, len) == 0 ? 0 : -errno;
        r.att[0].state = rc == 0 ? HE_ATTEMPT_WON : HE_ATTEMPT_FAILED;
        r.att[0].err = -rc;
        r.att[0].ended_ms = he_connector_now_ms(NULL);
    }
    rc = he_connect_own_errno(&r, plan, rc);
    if (!c.abandoned) {
        he_race_remember(&r, he_sockaddr_port(addr));
    }
    he_connector_log(&r, ans->name, rc, he_connector_now_ms(NULL) - t0, NULL);
    return rc < 0 ? rc : 0;
}

/* The socket was sent to a sibling that refused within microseconds (the
 * zero-timeout poll sees POLLERR): it goes to its own address after all.
 * Linux's first connect() on it then reports the sibling's pending error
 * and resets the socket (that error is libhe's, not the program's); the
 * next starts the attempt to the own address.  Returns -1 with errno
 * EAGAIN when the sibling has not failed yet. */
static int he_connect_fall_back(int fd, const struct he_addr *sibling, in_port_t port,
                                const struct sockaddr *own, socklen_t own_len) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLERR | POLLHUP))) {
        errno = EAGAIN;
        return -1;
    }
    int rc = he_real.connect(fd, own, own_len);
    if (rc == 0 || errno == EINPROGRESS || !he_race_network_error(errno)) {
        return rc;
    }
    he_remember_refusal(sibling, port, errno);
    return he_real.connect(fd, own, own_len);
}

/* A non-blocking connect: the caller's own attempt starts here and the
 * program gets the kernel's answer at once; when that is EINPROGRESS the
 * helper thread races the siblings (racer/background.c) while the program
 * waits in its own loop.  No DNS runs for these races.  own, own_len: the
 * program's own address when the plan sent the socket to a sibling: if
 * that fails within the call, the socket goes to its own address after
 * all, unraced. */
int he_connect_nonblocking(int fd, const struct sockaddr *addr, socklen_t len, int fl,
                           const struct he_addr *dst, const struct he_memo_answer *ans,
                           const struct he_plan *plan, const struct sockaddr *own,
                           socklen_t own_len) {
    struct he_connector c;
    he_connect_connector(&c, fd, addr, len, fl);
    /* Read before connect() binds the socket to an ephemeral port. */
    int local = he_connector_note_local(&c);
    int rc = he_real.connect(fd, addr, len);
    if (rc != 0 && errno != EINPROGRESS) {
        int err = errno;
        he_remember_refusal(dst, he_sockaddr_port(addr), err);
        if (plan->own == HE_PLAN_OWN_LAST) {
            return he_real.connect(fd, own, own_len);
        }
        errno = err;
    }
    if (rc == 0 || errno != EINPROGRESS || local != 0) {
        return rc; /* with the kernel's errno */
    }
    if (plan->own == HE_PLAN_OWN_LAST) {
        rc = he_connect_fall_back(fd, dst, he_sockaddr_port(addr), own, own_len);
        if (rc == 0 || errno != EAGAIN) {
            return rc;
        }
    }
    struct he_bg_request q = {&c,
                              dst,
                              ans->addrs,
                              ans->count,
                              ans->name,
                              plan->delay_ms,
                              he_cfg.max_attempts,
                              plan->addrs + plan->n - plan->nbad,
                              plan->nbad,
                              plan->own == HE_PLAN_WITH_SIBLING,
                              plan->own == HE_PLAN_OWN_LAST,
                              0,
                              he_connect_banner_ms(addr)};
    he_bg_start(&q);
    errno = EINPROGRESS;
    return -1;
}

int he_connect_wanted(const struct he_addr *dst, struct he_memo_answer *ans) {
    if (he_memo_is_empty(he_memo) || he_cfg.max_attempts < 2) {
        return 0;
    }
    return he_memo_lookup(he_memo, dst, he_thread_id(), ans) == 0;
}

/* Whether a slow connect may ask DNS again (he_refresh_defer).  Loopback
 * destinations, which are never slow, took the fast path already. */
static int he_connect_may_reresolve(void) {
    return he_cfg.history != HE_HISTORY_OFF;
}

/* Whether there may be anything to race: a sibling this socket can carry
 * now, a name whose memory is expired or partial, so that a lookup may
 * bring one (*due), or, with history, a lookup if the connect is slow.
 * Non-blocking connects race only siblings (the helper runs no DNS). */
static int he_connect_worth_it(const struct sockaddr *addr, const struct he_addr *dst,
                               const struct he_memo_answer *ans, int *siblings, int *due) {
    *siblings = he_race_count_siblings(dst, ans->addrs, ans->count, addr->sa_family);
    *due = he_refresh_due(ans, addr->sa_family, he_connector_now_ms(NULL));
    return *siblings > 0 || *due || he_connect_may_reresolve();
}

/* Whether the blocking race asks DNS: at once for a name whose memory is
 * due (RFC 8305 §3), else, with history on, late for a slow connect
 * (he_refresh_defer), so that an address DNS has moved away from is
 * rescued however fresh the memory. */
static enum he_refresh_when he_connect_when_refresh(int due, const struct he_memo_answer *ans) {
    if (due && he_refresh_claim(ans->name, he_connector_now_ms(NULL))) {
        return HE_REFRESH_NOW;
    }
    if (he_connect_may_reresolve()) {
        return HE_REFRESH_LATE;
    }
    return HE_REFRESH_NEVER;
}

/* connect(AF_UNSPEC) dissolves the socket's connection and the local port
 * connect() gave it: what the fd's record noted about how it got one no
 * longer holds, unless the program bound that port itself (the kernel
 * keeps such a bind). */
static int he_connect_disconnect(int fd, const struct sockaddr *addr, socklen_t len) {
    int rc = he_real.connect(fd, addr, len);
    if (rc == 0 && he_fdmap_bind_kind(fd) != HE_BIND_CHOSEN) {
        int saved = errno;
        he_fdmap_bind_note(fd, HE_BIND_FIXED);
        errno = saved;
    }
    return rc;
}

HE_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    if (!he_init()) {
        return he_real.connect(fd, addr, len);
    }
    if (HE_HOOK_NESTED()) {
        return he_real.connect(fd, addr, len); /* inside a signal handler */
    }
    if (he_dns_busy) {
        he_dns_count_reentry(); /* c-ares must use libc's connect directly */
        return he_real.connect(fd, addr, len);
    }
    /* connect() again on a pending non-blocking race is how some programs
     * (Perl's IO::Socket) read its outcome: a failed own attempt waits for
     * a rescue as SO_ERROR does (racer/rescue.c), then the fd answers. */
    if (__builtin_expect(he_fdmap_racing(fd), 0) && he_bg_rescue(fd, 0)) {
        return he_real.connect(fd, addr, len);
    }
    struct he_addr dst;
    if (he_addr_from_sockaddr(&dst, addr, len) != 0) {
        if (addr != NULL && len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC) {
            return he_connect_disconnect(fd, addr, len);
        }
        return he_real.connect(fd, addr, len);
    }
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (__builtin_expect(he_fault_on, 0)) {
        he_faults_prepare();
    }
    /* A faulted loopback address is raced like any other: its fault is
     * what the program must be rescued from. */
    if (he_addr_is_loopback(&dst) &&
        !(he_fault_on && he_fault_covers(&dst, ntohs(he_sockaddr_port(addr))))) {
        int rc = he_loopback_connect(fd, addr, len, &dst, frame);
        if (rc < 0) {
            errno = -rc;
            return -1;
        }
        return 0;
    }
    struct he_memo_answer ans;
    if (!he_connect_wanted(&dst, &ans)) {
        return he_real.connect(fd, addr, len);
    }
    int siblings, due;
    if (!he_connect_worth_it(addr, &dst, &ans, &siblings, &due)) {
        return he_real.connect(fd, addr, len);
    }
    /* O_ASYNC owners are left alone: a splice would not carry the signal
     * ownership over. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_ASYNC)) {
        return he_real.connect(fd, addr, len);
    }
    struct he_plan plan;
    struct sockaddr_storage sub;
    const struct sockaddr *own = addr;
    socklen_t own_len = len;
    if (fl & O_NONBLOCK) {
        if (siblings == 0) {
            return he_real.connect(fd, addr, len);
        }
        he_connect_plan(fd, fl, &addr, &len, &dst, &ans, &plan, &sub);
        return he_connect_nonblocking(fd, addr, len, fl, &dst, &ans, &plan, own, own_len);
    }
    enum he_refresh_when refresh = he_connect_when_refresh(due, &ans);
    if (siblings == 0 && refresh == HE_REFRESH_NEVER) {
        return he_real.connect(fd, addr, len);
    }
    he_connect_plan(fd, fl, &addr, &len, &dst, &ans, &plan, &sub);
    int rc = he_connect_race(fd, addr, len, fl, &dst, &ans, &plan, refresh, frame, 0);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}

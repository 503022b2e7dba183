/* connect(2) to a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104):
 * the fast path.
 *
 * On loopback a connect never waits for a timer.  The SYN, the server's
 * SYN-ACK or the RST of a port nobody listens on are all handled before
 * connect() returns: a blocking connect comes back connected or refused,
 * and a non-blocking one says EINPROGRESS but is already decided.  So the
 * program's connect is made exactly as it asked -- no flag change, no
 * timer, no system call of libhe's when it works -- and only a hard
 * failure (refused, unreachable, address not available) makes libhe try
 * the name's other addresses:
 *   - a blocking socket gets the usual race (shim/connect.c), whose own
 *     attempt has failed already: the siblings start at once, on new
 *     sockets, and the winner is spliced onto the caller's fd;
 *   - a non-blocking one tries the other loopback addresses one after the
 *     other on its own socket inside this call (each is decided at once
 *     too: nothing waits), and hands the first address that is not
 *     loopback, with what is left, to the usual non-blocking race.
 * The program sees the first address that connected, or, when none did,
 * its own address's errno (a non-blocking program at once, from connect(),
 * rather than later from SO_ERROR).
 *
 * What this gives up: a loopback address whose SYNs a firewall drops is
 * not raced; the program waits for it as it would without libhe. */
#include "connect.h"

#include "../common/log.h"
#include "../racer/fdmap.h"
#include "../racer/race.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

/* The failures that say nothing listens there, or the address does not
 * exist here (::1 with IPv6 off): worth trying the name's other
 * addresses. */
static int he_loopback_hard(int err) {
    return err == ECONNREFUSED || err == ENETUNREACH || err == EADDRNOTAVAIL;
}

/* Whether dst is a remembered name's address with a sibling a socket of
 * addr's family could carry (*ans: the name's answer).  Memory only. */
static int he_loopback_has_siblings(const struct sockaddr *addr, const struct he_addr *dst,
                                    struct he_memo_answer *ans) {
    if (he_memo_is_empty(he_memo) || he_cfg.max_attempts < 2 ||
        he_memo_lookup(he_memo, dst, he_thread_id(), ans) != 0) {
        return 0;
    }
    return he_race_count_siblings(dst, ans->addrs, ans->count, addr->sa_family) > 0;
}

/* A loopback connect that said EINPROGRESS is decided already: a
 * zero-timeout poll tells which way.  Returns 0 when it connected (or,
 * its SYN dropped, is still pending), else its errno, taken with connect()
 * again, which also leaves the socket ready for another address. */
static int he_loopback_outcome(int fd, const struct sockaddr *to, socklen_t len) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLERR | POLLHUP))) {
        return 0;
    }
    if (he_real.connect(fd, to, len) == 0 || errno == EINPROGRESS) {
        return 0;
    }
    return errno;
}

/* A connect that failed leaves getsockname showing the local port it was
 * given, though the kernel took it back: a port the program never bound
 * would read as fixed, and the socket could not be pointed elsewhere.
 * Such a port, in the ephemeral range and with no bind libhe saw, is
 * noted as connect()'s own (HE_BIND_AUTO, racer/fdmap.h).  A bind libhe
 * did not see (bindresvport, 512-1023) stays fixed. */
static void he_loopback_note_port(int fd) {
    if (he_fdmap_fresh(fd) & HE_FRESH_UNBOUND) {
        return; /* known unbound: getsockname is not asked */
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        return;
    }
    unsigned port = ntohs(he_sockaddr_port((struct sockaddr *)&ss));
    if (port != 0 && he_connector_ephemeral_port(port) && he_fdmap_bind_kind(fd) == HE_BIND_FIXED) {
        he_fdmap_bind_note(fd, HE_BIND_AUTO);
    }
}

/* Linux quirk: an AF_INET6 socket whose connect to an IPv4-mapped address
 * failed keeps IPv4's operations, and a later connect to a native IPv6
 * address on it never completes.  So the caller's socket tries the native
 * IPv6 addresses first, and none at all once it has tried IPv4. */
static int he_loopback_may_try(const struct he_connector *c, const struct he_addr *a,
                               int tried_v4) {
    return c->family != AF_INET6 || a->family == AF_INET || !tried_v4;
}

/* The next address (index into ans) the caller's socket tries, its
 * sockaddr in *to: native IPv6 ones first (see above), each group in the
 * name's order; *done marks those tried.  -1 when none is left. */
static int he_loopback_next(struct he_connector *c, const struct he_memo_answer *ans, char *done,
                            int tried_v4, struct sockaddr_storage *to, socklen_t *tolen) {
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < ans->count; i++) {
            const struct he_addr *a = &ans->addrs[i];
            if (done[i] || (pass == 0) != (a->family == AF_INET6) ||
                !he_loopback_may_try(c, a, tried_v4)) {
                continue;
            }
            done[i] = 1;
            *tolen = he_addr_to_sockaddr(a, c->family, he_sockaddr_port(c->addr), to);
            if (*tolen != 0 && he_connector_redirectable(c, a)) {
                return i;
            }
        }
    }
    return -1;
}

/* A blocking socket: the usual race, whose attempt 0, the caller's own,
 * has failed already: the siblings start at once, as after any refusal,
 * on new sockets, and the winner is spliced onto the caller's fd. */
static int he_loopback_race(struct he_connector *c, const struct he_addr *dst,
                            const struct he_memo_answer *ans, int own_err, uintptr_t frame) {
    struct he_plan plan;
    he_connect_plain_plan(&plan, dst);
    return he_connect_race(c->fd, c->addr, c->addrlen, c->fl, dst, ans, &plan, HE_REFRESH_NEVER,
                           frame, own_err);
}

/* The non-blocking race for what is left after ans's address i, with the
 * caller's socket connecting to i (to, tolen).  Returns 0 or -errno. */
static int he_loopback_hand_over(struct he_connector *c, const struct he_memo_answer *ans,
                                 const char *done, int i, const struct sockaddr *to,
                                 socklen_t tolen) {
    struct he_memo_answer rest = *ans;
    rest.count = 0;
    for (int k = 0; k < ans->count; k++) {
        if (!done[k]) {
            rest.addrs[rest.count++] = ans->addrs[k];
        }
    }
    struct he_plan plan;
    he_connect_plain_plan(&plan, &ans->addrs[i]);
    if (he_connect_nonblocking(c->fd, to, tolen, c->fl, &ans->addrs[i], &rest, &plan, to, tolen) ==
        0) {
        return 0;
    }
    return -errno;
}

/* A non-blocking socket: the other loopback addresses one by one on the
 * caller's socket, each decided within its connect(); the first address
 * that is not loopback takes what is left to the usual non-blocking race.
 * Nothing here waits.  When every address failed, the program gets its
 * own address's errno, at once. */
static int he_loopback_walk(struct he_connector *c, const struct he_addr *dst,
                            struct he_memo_answer *ans, int own_err) {
    struct sockaddr_storage to;
    socklen_t tolen;
    char done[HE_MEMO_MAX_ADDRS] = {0};
    int tried_v4 = dst->family == AF_INET, i;
    for (int k = 0; k < ans->count; k++) {
        done[k] = he_addr_equal(&ans->addrs[k], dst);
    }
    while ((i = he_loopback_next(c, ans, done, tried_v4, &to, &tolen)) >= 0) {
        const struct sockaddr *sa = (const struct sockaddr *)&to;
        int err;
        tried_v4 |= ans->addrs[i].family == AF_INET;
        if (!he_addr_is_loopback(&ans->addrs[i])) {
            err = -he_loopback_hand_over(c, ans, done, i, sa, tolen);
        } else if (he_real.connect(c->fd, sa, tolen) == 0) {
            err = 0;
        } else {
            err = errno == EINPROGRESS ? he_loopback_outcome(c->fd, sa, tolen) : errno;
            if (err == 0) {
                err = EINPROGRESS; /* connected already: writable at once */
            }
        }
        if (!he_loopback_hard(err)) {
            return -err;
        }
    }
    return -own_err;
}

/* The caller's own attempt failed hard (own_err) and the name has other
 * addresses: try them. */
static int he_loopback_rescue(int fd, const struct sockaddr *addr, socklen_t len,
                              const struct he_addr *dst, struct he_memo_answer *ans, int own_err,
                              uintptr_t frame) {
    int fl = fcntl(fd, F_GETFL);
    /* O_ASYNC owners are left alone, as in every race. */
    if (fl < 0 || (fl & O_ASYNC)) {
        return -own_err;
    }
    struct he_connector c;
    he_connect_connector(&c, fd, addr, len, fl);
    c.track = NULL;
    he_loopback_note_port(fd);
    if (he_log_level >= HE_LOG_INFO) {
        char own[HE_ADDR_STRLEN];
        he_addr_format(dst, own, sizeof own);
        he_log_write(HE_LOG_INFO, "race %s: loopback %s: %s; trying its other addresses", ans->name,
                     own, strerror(own_err));
    }
    if (fl & O_NONBLOCK) {
        return he_loopback_walk(&c, dst, ans, own_err);
    }
    return he_loopback_race(&c, dst, ans, own_err, frame);
}

int he_loopback_connect(int fd, const struct sockaddr *addr, socklen_t len,
                        const struct he_addr *dst, uintptr_t frame) {
    int entry = errno;
    if (he_real.connect(fd, addr, len) == 0) {
        return 0;
    }
    int err = errno;
    struct he_memo_answer ans;
    int pending = err == EINPROGRESS;
    if ((!pending && !he_loopback_hard(err)) || !he_loopback_has_siblings(addr, dst, &ans)) {
        return -err;
    }
    if (pending) {
        err = he_loopback_outcome(fd, addr, len);
        if (!he_loopback_hard(err)) {
            return -(err != 0 ? err : EINPROGRESS);
        }
    }
    int rc = he_loopback_rescue(fd, addr, len, dst, &ans, err, frame);
    errno = entry; /* a connect that works leaves errno alone */
    return rc;
}

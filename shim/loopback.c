/* connect(2) to a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104):
 * the fast path.
 *
 * On loopback a connect never waits for a timer.  The SYN, the server's
 * SYN-ACK or the RST of a port nobody listens on are all handled before
 * connect() returns: a blocking connect comes back connected or refused,
 * and a non-blocking one says EINPROGRESS but is already decided.  So the
 * program's connect is made exactly as it asked -- no flag change, no
 * timer, no system call of libhe's when it works -- and only a failure
 * that says something about the destination (he_race_network_error:
 * refused, unreachable, address not available, ...) makes libhe try the
 * name's other addresses:
 *   - a blocking socket gets the usual race (shim/connect.c), whose own
 *     attempt has failed already: the siblings start at once, on new
 *     sockets, and the winner is spliced onto the caller's fd;
 *   - a non-blocking one tries the other loopback addresses one after the
 *     other inside this call, on new sockets too (each is decided at once:
 *     nothing waits), and hands the first address that is not loopback,
 *     with what is left, to the usual non-blocking race on its own socket.
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
#include "../racer/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

/* Whether dst is a remembered name's address with a sibling a socket of
 * addr's family could carry (*ans: the name's answer).  Memory only. */
static int he_loopback_has_siblings(const struct sockaddr *addr, const struct he_addr *dst,
                                    struct he_memo_answer *ans) {
    return he_connect_wanted(dst, ans) &&
           he_race_count_siblings(dst, ans->addrs, ans->count, addr->sa_family) > 0;
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
    int port = he_connector_local_port(fd);
    if (port > 0 && he_connector_ephemeral_port((unsigned)port) &&
        he_fdmap_bind_kind(fd) == HE_BIND_FIXED) {
        he_fdmap_bind_note(fd, HE_BIND_AUTO);
    }
}

/* A blocking socket: the usual race, whose attempt 0, the caller's own,
 * has failed already: the siblings start at once, as after any refusal,
 * on new sockets, and the winner is spliced onto the caller's fd. */
static int he_loopback_race(struct he_connector *c, const struct he_addr *dst,
                            const struct he_memo_answer *ans, int own_err, uintptr_t frame) {
    struct he_plan plan;
    he_connect_plain_plan(&plan, dst);
    int rc = he_connect_race(c->fd, c->addr, c->addrlen, c->fl, dst, ans, &plan, HE_REFRESH_NEVER,
                             frame, own_err);
    /* Whatever ended a rescue that found nothing (every sibling failed,
     * the program's SO_SNDTIMEO, a signal), the program's connect had
     * failed already, with own_err: that is its answer. */
    return rc < 0 ? -own_err : rc;
}

/* A loopback sibling, attempt i of r, on a new socket: decided within
 * its connect(), or seen with a zero-timeout poll.  1 when it connected
 * (settled, ready to splice), 0 when not (closed again), -ENOTSUP when no
 * sibling can be made at all. */
static int he_loopback_sibling(struct he_connector *c, struct he_race *r, int i) {
    int rc = he_connector_start(c, r, i);
    if (rc < 0) {
        return rc == -ENOTSUP ? rc : 0;
    }
    if (rc == 0) {
        struct pollfd p = {.fd = r->att[i].handle, .events = POLLOUT};
        int err;
        if (poll(&p, 1, 0) != 1 ||
            he_connector_sibling_outcome(c, r, i, &err) != HE_SETTLE_CONNECTED) {
            he_connector_cancel(c, r, i);
            return 0;
        }
    }
    return 1;
}

/* The other loopback addresses of race r (attempt 0 failed already), one
 * after the other on new sockets; the first that connects is spliced onto
 * the caller's fd.  New sockets, not the caller's own: Linux leaves an
 * AF_INET6 socket that tried an IPv4-mapped address unable to connect over
 * IPv6 afterwards, and the program may reuse its socket.  Returns 0 when
 * spliced, else -errno. */
static int he_loopback_siblings(struct he_connector *c, struct he_race *r, uintptr_t frame) {
    int rc = -ECONNREFUSED;
    he_strand_begin(frame, c->fd, c->fl);
    c->track = &he_connector_strand_track;
    c->strand_gen = he_strand_gen();
    for (int i = 1; i < r->count && rc != -ENOTSUP; i++) {
        if (!he_addr_is_loopback(&r->att[i].addr)) {
            continue;
        }
        rc = he_loopback_sibling(c, r, i);
        if (rc == 1) {
            r->winner = i;
            rc = he_connector_finish(c, r);
            break;
        }
        rc = rc == 0 ? -ECONNREFUSED : rc;
    }
    he_strand_end();
    c->track = NULL;
    return rc;
}

/* The first address of r that is not loopback, for the caller's own socket
 * to connect to, with the others left raced by the usual non-blocking race
 * (racer/background.c).  Not a native IPv6 one after the own attempt went
 * to an IPv4-mapped address: Linux would never complete it.  Returns 0 or
 * -errno (-ECONNREFUSED: none). */
static int he_loopback_hand_over(struct he_connector *c, const struct he_race *r,
                                 const struct he_memo_answer *ans) {
    int tainted = c->family == AF_INET6 && r->att[0].addr.family == AF_INET;
    for (int i = 1; i < r->count; i++) {
        const struct he_addr *a = &r->att[i].addr;
        struct sockaddr_storage to;
        socklen_t tolen = he_addr_to_sockaddr(a, c->family, he_sockaddr_port(c->addr), &to);
        if (he_addr_is_loopback(a) || tolen == 0 || (tainted && a->family == AF_INET6) ||
            !he_connector_redirectable(c, a)) {
            continue;
        }
        struct he_memo_answer rest = *ans;
        rest.count = 0;
        for (int k = i + 1; k < r->count; k++) {
            if (!he_addr_is_loopback(&r->att[k].addr)) {
                rest.addrs[rest.count++] = r->att[k].addr;
            }
        }
        struct he_plan plan;
        he_connect_plain_plan(&plan, a);
        const struct sockaddr *sa = (const struct sockaddr *)&to;
        return he_connect_nonblocking(c->fd, sa, tolen, c->fl, a, &rest, &plan, sa, tolen) == 0
                   ? 0
                   : -errno;
    }
    return -ECONNREFUSED;
}

/* A non-blocking socket: nothing here waits.  The other loopback addresses
 * are tried within this call (he_loopback_siblings): connected, the
 * program's connect() says EINPROGRESS and its socket is writable at once.
 * Else the first address that is not loopback goes to the usual
 * non-blocking race on the caller's socket (EINPROGRESS).  When nothing is left, the program gets
 * its own address's errno, at once. */
static int he_loopback_walk(struct he_connector *c, const struct he_addr *dst,
                            const struct he_memo_answer *ans, int own_err, uintptr_t frame) {
    struct he_race r;
    he_race_init(&r, dst, ans->addrs, ans->count, c->family, he_cfg.attempt_delay_ms,
                 he_cfg.max_attempts);
    c->own_err = own_err;
    he_connector_note_local(c); /* what siblings replay */
    int rc = he_loopback_siblings(c, &r, frame);
    if (rc == 0) {
        he_stats_note(HE_STATS_RESCUED, 0);
        /* As the kernel answers a loopback connect that is done already:
         * EINPROGRESS, and the socket writable at once. */
        return -EINPROGRESS;
    }
    /* Handed over, the helper thread's race is counted when it ends. */
    rc = he_loopback_hand_over(c, &r, ans);
    if (rc == -ECONNREFUSED || (rc < 0 && he_race_network_error(-rc))) {
        he_stats_note(HE_STATS_FAILED, 0);
        return -own_err;
    }
    return rc;
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
        return he_loopback_walk(&c, dst, ans, own_err, frame);
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
    if ((!pending && !he_race_network_error(err)) || !he_loopback_has_siblings(addr, dst, &ans)) {
        return -err;
    }
    if (pending) {
        err = he_loopback_outcome(fd, addr, len);
        if (!he_race_network_error(err)) {
            return -(err != 0 ? err : EINPROGRESS);
        }
    }
    int rc = he_loopback_rescue(fd, addr, len, dst, &ans, err, frame);
    errno = entry; /* a connect that works leaves errno alone */
    return rc;
}

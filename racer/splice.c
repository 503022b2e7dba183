/* The splice: a non-blocking race's winning sibling goes onto the
 * program's fd number (DESIGN.md, "A sibling wins: the splice"), under the
 * lock of racer/fdmap.h: the number's identity checked, the caller's
 * flags given to the winner, the fd's epoll registrations carried over,
 * dup3, and the old socket shut down to wake poll/select waiters. */
#include "bg.h"

#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

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

const char *he_splice_why(enum he_splice_result rc) {
    switch (rc) {
    case HE_SPLICE_DONE:
        return "spliced";
    case HE_SPLICE_CALLER_GONE:
        return "the fd no longer holds the caller's socket";
    case HE_SPLICE_REGS_UNKNOWN:
        return "the fd's epoll registrations are not all known";
    case HE_SPLICE_NO_FLAGS:
        return "the caller's flags cannot be read";
    case HE_SPLICE_DUP3_FAILED:
        return "dup3 failed";
    case HE_SPLICE_OWN_USED:
        return "the program has used its own connection (written or read), which stays";
    }
    return "not spliced";
}

/* TCP_INFO's byte counts for fd (glibc's struct tcp_info stops before
 * them, hence linux/tcp.h).  Returns 0, or -1 when unknown. */
static int he_bg_tcp_bytes(int fd, uint64_t *acked, uint64_t *received) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (he_bg.sys->getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received) {
        return -1;
    }
    *acked = ti.tcpi_bytes_acked;
    *received = ti.tcpi_bytes_received;
    return 0;
}

/* Whether the caller's own connection, connected while the program had
 * it (a banner race, whose winner spoke first), has carried any of the
 * program's bytes: some waiting to go (SIOCOUTQ), acknowledged (TCP_INFO's
 * bytes_acked counts the SYN: 1 for none) or received (a FIN counts 1,
 * but an own connection closed first ends the race: he_bg_own_closed).
 * Unknown counts as used. */
static int he_bg_own_used(int fd) {
    int outq = 0;
    uint64_t acked, received;
    if (ioctl(fd, SIOCOUTQ, &outq) != 0 || outq > 0 || he_bg_tcp_bytes(fd, &acked, &received)) {
        return 1;
    }
    return acked > 1 || received > 0;
}

int he_bg_own_handshaken(int fd) {
    uint64_t acked, received;
    return he_bg_tcp_bytes(fd, &acked, &received) != 0 || acked >= 1;
}

/* What stands in the way of putting socket s onto b's fd: DONE when
 * nothing does (s then has the caller's status flags, read from what the
 * fd holds, *fdfl its fd flags). */
static enum he_splice_result he_splice_check(const struct he_bg_race *b, int s,
                                             const struct he_fd_slot *slot, int *fdfl) {
    int fl = fcntl(b->has_standin ? b->standin : b->dupfd, F_GETFL);
    *fdfl = fcntl(b->fd, F_GETFD);
    if (!he_bg_same_socket(b)) {
        return HE_SPLICE_CALLER_GONE;
    }
    if (slot == NULL || slot->nreg == HE_FDMAP_UNKNOWN) {
        return HE_SPLICE_REGS_UNKNOWN;
    }
    if (he_bg_own_exposed(b) && he_bg_own_used(b->dupfd)) {
        return HE_SPLICE_OWN_USED;
    }
    if (fl < 0 || *fdfl < 0 || fcntl(s, F_SETFL, fl) != 0) {
        return HE_SPLICE_NO_FLAGS;
    }
    return HE_SPLICE_DONE;
}

enum he_splice_result he_splice_put(struct he_bg_race *b, int s) {
    int fdfl = 0;
    struct he_fd_slot *slot = he_fdmap_slot(b->fd, 0);
    enum he_splice_result rc = he_splice_check(b, s, slot, &fdfl);
    if (rc != HE_SPLICE_DONE) {
        return rc;
    }
    int moved[HE_FDMAP_REGS] = {0};
    he_bg_epoll_detach(b->fd, slot, moved);
    if (he_bg.sys->dup3(s, b->fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
        int err = errno;
        he_bg_epoll_attach(b->fd, slot, moved); /* back on the socket it held */
        errno = err;
        return HE_SPLICE_DUP3_FAILED;
    }
    he_bg_epoll_attach(b->fd, slot, moved);
    return HE_SPLICE_DONE;
}

void he_splice_own_back(struct he_bg_race *b) {
    int fdfl = fcntl(b->fd, F_GETFD);
    he_bg.sys->dup3(b->dupfd, b->fd, fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
}

void he_splice_wake(struct he_bg_race *b) {
    /* dup3 does not wake a thread blocked in poll/select on the fd: they
     * wait on the old socket.  Shutting it down does; they look again and
     * find the new one there. */
    shutdown(b->has_standin ? b->standin : b->dupfd, SHUT_RDWR);
}

enum he_splice_result he_splice_winner(struct he_bg_race *b) {
    struct he_attempt *w = &b->r.att[b->r.winner];
    int s = w->handle;
    w->handle = -1;
    he_bg_mark(s, HE_FD_NONE, 0);
    /* Out of the helper's epoll first: the file outlives this number as
     * the program's fd, and so would its registration (keyed by file and
     * number), reporting the connected socket to the helper for ever. */
    he_bg.sys->epoll_ctl(he_bg.ep, EPOLL_CTL_DEL, s, NULL);
    enum he_splice_result rc = he_splice_put(b, s);
    struct he_fdid to;
    if (rc == HE_SPLICE_DONE && he_bg_own_exposed(b) && he_bg_own_used(b->dupfd) &&
        he_fdid_of(s, &to) == 0) {
        /* The program wrote to its own connection between the check and
         * the dup3: those bytes went there, so it goes back. */
        struct he_fdid own = b->id;
        b->id = to;
        if (he_splice_put(b, b->dupfd) == HE_SPLICE_DONE) {
            rc = HE_SPLICE_OWN_USED;
        }
        b->id = own;
    }
    if (rc == HE_SPLICE_DONE && b->fault_delay && he_fdid_of(s, &to) == 0) {
        /* A blocking race may wait on this fd (its own attempt is the
         * delayed one): what it finds there next is still its socket. */
        he_fdid_moved(&b->id, &to);
    }
    he_bg.sys->close(s);
    if (rc == HE_SPLICE_DONE) {
        he_splice_wake(b);
    }
    return rc;
}

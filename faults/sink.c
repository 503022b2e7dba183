#include "sink.h"

#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

enum { HE_SINK_EMPTY = 0, HE_SINK_MAKING, HE_SINK_READY };

struct he_sink {
    int state;
    int fd, filler; /* filler: drop's connection that fills the accept queue */
    struct sockaddr_storage addr;
    socklen_t len;
};

/* [0] IPv4, [1] IPv6; by mode (refuse, drop, silent, close). */
static struct he_sink he_sinks[2][HE_FAULT_MODES];
static const struct he_libc *he_sink_sys;
static int (*he_sink_connect)(int, const struct sockaddr *, socklen_t);

void he_sink_setup(const struct he_libc *sys) {
    he_sink_sys = sys;
    /* libc's own: the table's connect may be the fault layer (fault.c). */
    he_sink_connect = sys->connect;
}

static int he_sink_same(const struct sockaddr_storage *a, socklen_t alen,
                        const struct sockaddr_storage *b, socklen_t blen) {
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Whether the sink's numbers still hold the sink: the program may have
 * closed them (a daemon closing every fd) and reused the numbers. */
static int he_sink_intact(const struct he_sink *s, enum he_fault_mode mode) {
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if (he_sink_sys->getsockname(s->fd, (struct sockaddr *)&a, &len) != 0 ||
        !he_sink_same(&a, len, &s->addr, s->len)) {
        return 0;
    }
    len = sizeof a;
    return mode != HE_FAULT_DROP || (getpeername(s->filler, (struct sockaddr *)&a, &len) == 0 &&
                                     he_sink_same(&a, len, &s->addr, s->len));
}

static int he_sink_fail(int fd, int filler) {
    int err = errno;
    if (fd >= 0) {
        he_sink_sys->close(fd);
    }
    if (filler >= 0) {
        he_sink_sys->close(filler);
    }
    return -err;
}

/* A new sink for mode on the loopback address of family. */
static int he_sink_make(struct he_sink *s, int family, enum he_fault_mode mode) {
    int type = SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK;
    int fd = he_sink_sys->socket(family, type, 0), filler = -1;
    if (fd < 0) {
        return -errno;
    }
    struct sockaddr_storage a = {.ss_family = (sa_family_t)family};
    socklen_t len;
    if (family == AF_INET) {
        ((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(struct sockaddr_in);
    } else {
        int one = 1;
        he_sink_sys->setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        ((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
        len = sizeof(struct sockaddr_in6);
    }
    if (he_sink_sys->bind(fd, (struct sockaddr *)&a, len) != 0 ||
        he_sink_sys->getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        return he_sink_fail(fd, filler);
    }
    if (mode != HE_FAULT_REFUSE && listen(fd, mode == HE_FAULT_DROP ? 0 : SOMAXCONN) != 0) {
        return he_sink_fail(fd, filler);
    }
    if (mode == HE_FAULT_DROP) {
        /* Backlog 0 takes one connection; with it queued and never
         * accepted, the queue is full and every later SYN is dropped. */
        filler = he_sink_sys->socket(family, type, 0);
        if (filler < 0 ||
            (he_sink_connect(filler, (struct sockaddr *)&a, len) != 0 && errno != EINPROGRESS)) {
            return he_sink_fail(fd, filler);
        }
    }
    s->fd = fd;
    s->filler = filler;
    s->addr = a;
    s->len = len;
    return 0;
}

/* The sink, made or remade if need be; NULL with *err when it cannot be. */
static struct he_sink *he_sink_get(int family, enum he_fault_mode mode, int *err) {
    struct he_sink *s = &he_sinks[family == AF_INET6][mode];
    for (;;) {
        int st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (st == HE_SINK_READY && he_sink_intact(s, mode)) {
            return s;
        }
        if (st == HE_SINK_MAKING) {
            sched_yield(); /* another thread is making it: microseconds */
            continue;
        }
        if (!__atomic_compare_exchange_n(&s->state, &st, HE_SINK_MAKING, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            continue;
        }
        /* A sink that is no longer intact is not closed: its numbers are
         * the program's now. */
        *err = he_sink_make(s, family, mode);
        __atomic_store_n(&s->state, *err == 0 ? HE_SINK_READY : HE_SINK_EMPTY, __ATOMIC_RELEASE);
        return *err == 0 ? s : NULL;
    }
}

int he_sink_addr(enum he_fault_mode mode, int sock_family, int dst_family,
                 struct sockaddr_storage *out, socklen_t *len) {
    int err = 0;
    /* A delayed attempt waits on drop's sink until its real one is in. */
    struct he_sink *s =
        he_sink_get(dst_family, mode == HE_FAULT_DELAY ? HE_FAULT_DROP : mode, &err);
    if (s == NULL) {
        /* No ::1 (IPv6 off): a real connect to an IPv6 address fails so. */
        return err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT ? -ENETUNREACH : err;
    }
    struct he_addr a;
    if (he_addr_from_sockaddr(&a, (struct sockaddr *)&s->addr, s->len) != 0) {
        return -EINVAL;
    }
    *len = he_addr_to_sockaddr(&a, sock_family, he_sockaddr_port((struct sockaddr *)&s->addr), out);
    return *len == 0 ? -EAFNOSUPPORT : 0;
}

int he_sink_private_drop(int family, int fds[2], struct sockaddr_storage *to, socklen_t *len) {
    struct he_sink s;
    int err = he_sink_make(&s, family, HE_FAULT_DROP);
    if (err != 0) {
        return err;
    }
    fds[0] = s.fd;
    fds[1] = s.filler;
    *to = s.addr;
    *len = s.len;
    return 0;
}

/* silent's accepted connections, held open and never read or written,
 * so that its queue holds only connections not yet seen: one whose client
 * has gone is closed at the next tidy. */
#define HE_SINK_HELD_MAX 4096
static int he_sink_held[HE_SINK_HELD_MAX];
static int he_sink_nheld;
static int he_sink_held_busy;

/* Whether the client of an accepted connection has closed its end. */
static int he_sink_client_gone(int c) {
    char b;
    ssize_t n = recv(c, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void he_sink_hold(int listener) {
    for (int i = 0; i < he_sink_nheld;) {
        if (he_sink_client_gone(he_sink_held[i])) {
            close(he_sink_held[i]);
            he_sink_held[i] = he_sink_held[--he_sink_nheld];
        } else {
            i++;
        }
    }
    int c;
    while (he_sink_nheld < HE_SINK_HELD_MAX &&
           (c = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        he_sink_held[he_sink_nheld++] = c;
    }
}

void he_sink_settle(enum he_fault_mode mode, int dst_family) {
    if (mode != HE_FAULT_CLOSE && mode != HE_FAULT_SILENT) {
        return;
    }
    struct he_sink *s = &he_sinks[dst_family == AF_INET6][mode];
    if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != HE_SINK_READY || !he_sink_intact(s, mode)) {
        return; /* its number may be the program's now: never accept there */
    }
    int saved = errno;
    if (mode == HE_FAULT_SILENT) {
        if (!__atomic_exchange_n(&he_sink_held_busy, 1, __ATOMIC_ACQUIRE)) {
            he_sink_hold(s->fd);
            __atomic_store_n(&he_sink_held_busy, 0, __ATOMIC_RELEASE);
        }
    } else {
        int c;
        while ((c = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
            close(c); /* through the layer accept4 came from (a sanitizer's) */
        }
    }
    errno = saved;
}

int he_sink_owns(const struct sockaddr *a, socklen_t len) {
    struct he_addr x;
    if (he_addr_from_sockaddr(&x, a, len) != 0) {
        return 0;
    }
    static const enum he_fault_mode modes[] = {HE_FAULT_SILENT, HE_FAULT_CLOSE};
    for (int m = 0; m < 2; m++) {
        const struct he_sink *s = &he_sinks[x.family == AF_INET6][modes[m]];
        struct he_addr y;
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == HE_SINK_READY &&
            he_addr_from_sockaddr(&y, (const struct sockaddr *)&s->addr, s->len) == 0 &&
            he_addr_equal(&x, &y) &&
            he_sockaddr_port(a) == he_sockaddr_port((const struct sockaddr *)&s->addr)) {
            return 1;
        }
    }
    return 0;
}

void he_sink_fork_child(void) {
    for (int f = 0; f < 2; f++) {
        for (int m = 0; m < HE_FAULT_MODES; m++) {
            int making = HE_SINK_MAKING;
            __atomic_compare_exchange_n(&he_sinks[f][m].state, &making, HE_SINK_EMPTY, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        }
    }
}

#include "options.h"

#include <errno.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum he_option_kind {
    HE_OPT_INT,    /* compared and set as is */
    HE_OPT_BUF,    /* SO_RCVBUF/SO_SNDBUF: the kernel doubles what is set */
    HE_OPT_BYTES,  /* timeval, linger: compared and set as bytes */
    HE_OPT_STRING, /* device or congestion algorithm name */
};

struct he_option_def {
    int level, name;
    enum he_option_kind kind;
    unsigned size;
};

#define HE_INT(l, n)                                                                               \
    { l, n, HE_OPT_INT, sizeof(int) }

/* Everything a caller commonly sets on a TCP client socket before
 * connect().  Options the kernel does not know for this socket (IPv6 ones on
 * AF_INET) fail alike on both sockets and are passed over.
 *
 * The caller's socket is read once its connect() is under way, so nothing
 * here may be an option whose value the connection itself changes:
 * TCP_MAXSEG and TCP_WINDOW_CLAMP read back the half-open connection's
 * figures (a 524-byte MSS) and, replayed, would cripple the sibling.  A
 * TCP_MAXSEG the caller set itself is therefore not carried over. */
static const struct he_option_def he_option_table[] = {
    HE_INT(SOL_SOCKET, SO_KEEPALIVE),
    {SOL_SOCKET, SO_RCVBUF, HE_OPT_BUF, sizeof(int)},
    {SOL_SOCKET, SO_SNDBUF, HE_OPT_BUF, sizeof(int)},
    {SOL_SOCKET, SO_LINGER, HE_OPT_BYTES, sizeof(struct linger)},
    {SOL_SOCKET, SO_RCVTIMEO, HE_OPT_BYTES, sizeof(struct timeval)},
    {SOL_SOCKET, SO_SNDTIMEO, HE_OPT_BYTES, sizeof(struct timeval)},
    HE_INT(SOL_SOCKET, SO_MARK),
    HE_INT(SOL_SOCKET, SO_REUSEADDR),
    HE_INT(SOL_SOCKET, SO_REUSEPORT),
    HE_INT(SOL_SOCKET, SO_OOBINLINE),
    HE_INT(SOL_SOCKET, SO_DONTROUTE),
    HE_INT(SOL_SOCKET, SO_RCVLOWAT),
    HE_INT(SOL_SOCKET, SO_TIMESTAMP),
    HE_INT(SOL_SOCKET, SO_TIMESTAMPNS),
    HE_INT(SOL_SOCKET, SO_ZEROCOPY),
    {SOL_SOCKET, SO_BINDTODEVICE, HE_OPT_STRING, IFNAMSIZ},
    HE_INT(IPPROTO_TCP, TCP_NODELAY),
    HE_INT(IPPROTO_TCP, TCP_KEEPIDLE),
    HE_INT(IPPROTO_TCP, TCP_KEEPINTVL),
    HE_INT(IPPROTO_TCP, TCP_KEEPCNT),
    HE_INT(IPPROTO_TCP, TCP_USER_TIMEOUT),
    HE_INT(IPPROTO_TCP, TCP_CORK),
    HE_INT(IPPROTO_TCP, TCP_SYNCNT),
    HE_INT(IPPROTO_TCP, TCP_LINGER2),
    HE_INT(IPPROTO_TCP, TCP_NOTSENT_LOWAT),
    HE_INT(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS),
    {IPPROTO_TCP, TCP_CONGESTION, HE_OPT_STRING, 16},
    HE_INT(IPPROTO_IP, IP_TOS),
    HE_INT(IPPROTO_IP, IP_TTL),
    HE_INT(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT),
    HE_INT(IPPROTO_IP, IP_FREEBIND),
    HE_INT(IPPROTO_IP, IP_TRANSPARENT),
    HE_INT(IPPROTO_IP, IP_MTU_DISCOVER),
    HE_INT(IPPROTO_IP, IP_RECVERR),
    HE_INT(IPPROTO_IPV6, IPV6_TCLASS),
    HE_INT(IPPROTO_IPV6, IPV6_UNICAST_HOPS),
    HE_INT(IPPROTO_IPV6, IPV6_V6ONLY),
    HE_INT(IPPROTO_IPV6, IPV6_MTU_DISCOVER),
    HE_INT(IPPROTO_IPV6, IPV6_RECVERR),
    /* After IP_TOS and IPV6_TCLASS: setting those resets the priority. */
    HE_INT(SOL_SOCKET, SO_PRIORITY),
};

#define HE_OPTION_COUNT (int)(sizeof he_option_table / sizeof he_option_table[0])

_Static_assert(HE_OPTION_COUNT <= HE_OPTIONS_MAX, "struct he_options too small");

struct he_option_read {
    int rc; /* 0 or errno */
    socklen_t len;
    unsigned char value[HE_OPTION_VALUE_MAX];
};

static void he_option_get(int fd, const struct he_option_def *d, struct he_option_read *r) {
    memset(r, 0, sizeof *r);
    r->len = d->size;
    r->rc = getsockopt(fd, d->level, d->name, r->value, &r->len) == 0 ? 0 : errno;
}

static int he_option_same(const struct he_option_read *a, const struct he_option_read *b) {
    if (a->rc || b->rc) {
        return a->rc == b->rc;
    }
    return a->len == b->len && memcmp(a->value, b->value, a->len) == 0;
}

/* What to pass to setsockopt to reproduce what the caller's getsockopt
 * read.  Buffer sizes read back doubled (socket(7)), so half is set. */
static void he_option_to_set(const struct he_option_def *d, const struct he_option_read *r,
                             struct he_option_value *v) {
    v->len = r->len;
    memcpy(v->value, r->value, r->len);
    if (d->kind == HE_OPT_BUF) {
        int half;
        memcpy(&half, r->value, sizeof half);
        half /= 2;
        memcpy(v->value, &half, sizeof half);
    }
    if (d->kind == HE_OPT_STRING && v->len == 0) {
        v->len = 1; /* an empty device name: set as "" */
    }
}

static int he_option_set(int fd, const struct he_option_value *v) {
    const struct he_option_def *d = &he_option_table[v->index];
    return setsockopt(fd, d->level, d->name, v->value, v->len) == 0 ? 0 : -errno;
}

/* Reads every captured option back from fresh once all are set: one
 * option can change another (IP_TOS resets SO_PRIORITY). */
static int he_options_verify(const struct he_options *o, int caller, int fresh) {
    for (int i = 0; i < o->count; i++) {
        const struct he_option_def *d = &he_option_table[o->v[i].index];
        struct he_option_read want, have;
        he_option_get(caller, d, &want);
        he_option_get(fresh, d, &have);
        if (!he_option_same(&want, &have)) {
            return -ENOTSUP;
        }
    }
    return 0;
}

/* What a fresh socket reads for every option, per family, read from a
 * fresh socket at most once a second: a race's first sibling compares the
 * caller with these instead of reading all of them again (half the
 * getsockopt calls: with a thousand races at once they are most of the
 * helper thread's work).  A second bounds how long a changed sysctl
 * default goes unnoticed. */
#define HE_OPTIONS_DEFAULTS_MS 1000

struct he_options_defaults {
    int64_t read_ms; /* 0: never */
    struct he_option_read v[HE_OPTION_COUNT];
};

static struct he_options_defaults he_options_defaults[2]; /* AF_INET, AF_INET6 */
static pthread_mutex_t he_options_defaults_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t he_options_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

/* Fills out with fresh's defaults, from the cache or from fresh itself
 * (before anything is set on it). */
static void he_options_defaults_of(int fresh, struct he_option_read *out) {
    int family = 0;
    socklen_t len = sizeof family;
    getsockopt(fresh, SOL_SOCKET, SO_DOMAIN, &family, &len);
    int k = family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
    int64_t now = he_options_now_ms();
    /* trylock: a thread already in here (or a signal handler's nested
     * race) reads the fresh socket itself rather than wait. */
    if (k >= 0 && pthread_mutex_trylock(&he_options_defaults_mu) == 0) {
        struct he_options_defaults *d = &he_options_defaults[k];
        if (d->read_ms == 0 || now - d->read_ms >= HE_OPTIONS_DEFAULTS_MS) {
            for (int i = 0; i < HE_OPTION_COUNT; i++) {
                he_option_get(fresh, &he_option_table[i], &d->v[i]);
            }
            d->read_ms = now;
        }
        memcpy(out, d->v, sizeof d->v);
        pthread_mutex_unlock(&he_options_defaults_mu);
        return;
    }
    for (int i = 0; i < HE_OPTION_COUNT; i++) {
        he_option_get(fresh, &he_option_table[i], &out[i]);
    }
}

/* Whether option i must be carried over although the caller reads its
 * default: an option captured before it changes it on the fresh socket
 * (IP_TOS and IPV6_TCLASS reset SO_PRIORITY). */
static int he_options_forced(const struct he_options *o, int i) {
    const struct he_option_def *d = &he_option_table[i];
    if (d->level != SOL_SOCKET || d->name != SO_PRIORITY) {
        return 0;
    }
    for (int k = 0; k < o->count; k++) {
        const struct he_option_def *p = &he_option_table[o->v[k].index];
        if ((p->level == IPPROTO_IP && p->name == IP_TOS) ||
            (p->level == IPPROTO_IPV6 && p->name == IPV6_TCLASS)) {
            return 1;
        }
    }
    return 0;
}

int he_options_capture(struct he_options *o, int caller, int fresh) {
    struct he_option_read defaults[HE_OPTION_COUNT];
    he_options_defaults_of(fresh, defaults);
    o->count = 0;
    for (int i = 0; i < HE_OPTION_COUNT; i++) {
        const struct he_option_def *d = &he_option_table[i];
        struct he_option_read want;
        he_option_get(caller, d, &want);
        if (he_option_same(&want, &defaults[i]) && !he_options_forced(o, i)) {
            continue;
        }
        if (want.rc != 0) {
            return -ENOTSUP;
        }
        struct he_option_value *v = &o->v[o->count];
        v->index = i;
        he_option_to_set(d, &want, v);
        if (he_option_set(fresh, v) != 0) {
            return -ENOTSUP;
        }
        o->count++;
    }
    return he_options_verify(o, caller, fresh);
}

int he_options_apply(const struct he_options *o, int fd) {
    for (int i = 0; i < o->count; i++) {
        int rc = he_option_set(fd, &o->v[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

#include "options.h"

#include <errno.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

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

int he_options_capture(struct he_options *o, int caller, int fresh) {
    o->count = 0;
    for (int i = 0; i < HE_OPTION_COUNT; i++) {
        const struct he_option_def *d = &he_option_table[i];
        struct he_option_read want, have;
        he_option_get(caller, d, &want);
        /* Not an option of this kind of socket (IPv6 ones on AF_INET):
         * a fresh one of the same kind says the same. */
        if (want.rc == ENOPROTOOPT || want.rc == EOPNOTSUPP) {
            continue;
        }
        he_option_get(fresh, d, &have);
        if (he_option_same(&want, &have)) {
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

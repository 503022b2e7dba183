/* c-ares lookups driven from the caller's poll loop (resolver/dns.h). */
#include "dns.h"

#include <ares.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

__thread int he_dns_busy __attribute__((tls_model("initial-exec")));
static unsigned long he_dns_reentry_count;

void he_dns_count_reentry(void) {
    __atomic_add_fetch(&he_dns_reentry_count, 1, __ATOMIC_RELAXED);
}

unsigned long he_dns_reentries(void) {
    return __atomic_load_n(&he_dns_reentry_count, __ATOMIC_RELAXED);
}

struct he_dns_query {
    struct he_dns *d;
    int family;
};

struct he_dns {
    ares_channel ch;
    struct he_dns_conf conf; /* a copy: c-ares's socket functions read it */
    struct he_feed feed;
    struct he_dns_query q[2];
    int64_t now; /* for the callbacks */
};

/* ------------------------------------------------------------------------ */
/* c-ares's sockets, through the caller's functions                           */

static ares_socket_t he_dns_socket(int domain, int type, int protocol, void *user) {
    const struct he_dns_conf *conf = user;
    /* c-ares leaves a socket made by these functions as it is given: it
     * must already be non-blocking, or a read would stall the loop. */
    int fd = conf->libc->socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd >= 0 && conf->notes && conf->notes->opened) {
        conf->notes->opened(fd);
    }
    return fd < 0 ? ARES_SOCKET_BAD : fd;
}

static int he_dns_close(ares_socket_t fd, void *user) {
    const struct he_dns_conf *conf = user;
    if (conf->notes && conf->notes->closing) {
        conf->notes->closing(fd);
    }
    return conf->libc->close(fd);
}

static int he_dns_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len,
                          void *user) {
    const struct he_dns_conf *conf = user;
    return conf->libc->connect(fd, sa, len);
}

static ares_ssize_t he_dns_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
                                    struct sockaddr *from, ares_socklen_t *fromlen, void *user) {
    (void)user;
    return recvfrom(fd, buf, len, flags, from, fromlen);
}

static ares_ssize_t he_dns_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *user) {
    (void)user;
    return writev(fd, iov, n);
}

static const struct ares_socket_functions he_dns_funcs = {
    .asocket = he_dns_socket,
    .aclose = he_dns_close,
    .aconnect = he_dns_connect,
    .arecvfrom = he_dns_recvfrom,
    .asendv = he_dns_sendv,
};

/* ------------------------------------------------------------------------ */
/* Answers                                                                    */

static int he_dns_errno(int status) {
    switch (status) {
    case ARES_ENOTFOUND:
        return -ENOENT;
    case ARES_ETIMEOUT:
        return -ETIMEDOUT;
    case ARES_ENOMEM:
        return -ENOMEM;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return -ECANCELED;
    default:
        return -EIO;
    }
}

static void he_dns_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
    struct he_dns_query *q = arg;
    (void)timeouts;
    struct he_addr addrs[HE_MEMO_MAX_ADDRS] = {{0}};
    int n = 0, ttl = -1;
    if (status == ARES_SUCCESS || status == ARES_ENODATA) {
        for (struct ares_addrinfo_node *ai = res ? res->nodes : NULL; ai && n < HE_MEMO_MAX_ADDRS;
             ai = ai->ai_next) {
            if (he_addr_from_sockaddr(&addrs[n], ai->ai_addr, ai->ai_addrlen) == 0) {
                ttl = (ttl < 0 || ai->ai_ttl < ttl) ? ai->ai_ttl : ttl;
                n++;
            }
        }
        he_feed_answer(&q->d->feed, q->family, addrs, n, ttl, res && res->cnames, q->d->now);
    } else {
        he_feed_fail(&q->d->feed, q->family, he_dns_errno(status));
    }
    if (res) {
        ares_freeaddrinfo(res);
    }
}

/* ------------------------------------------------------------------------ */
/* The lookup                                                                 */

static pthread_once_t he_dns_once = PTHREAD_ONCE_INIT;
static int he_dns_lib_ok;

static void he_dns_lib_init(void) {
    he_dns_lib_ok = ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS;
}

static int he_dns_channel(struct he_dns *d, const struct he_dns_conf *conf) {
    struct ares_options opts;
    memset(&opts, 0, sizeof opts);
    int mask = 0;
    if (conf->timeout_ms > 0) {
        opts.timeout = conf->timeout_ms;
        mask |= ARES_OPT_TIMEOUTMS;
    }
    if (conf->tries > 0) {
        opts.tries = conf->tries;
        mask |= ARES_OPT_TRIES;
    }
    if (ares_init_options(&d->ch, &opts, mask) != ARES_SUCCESS) {
        return -EIO;
    }
    ares_set_socket_functions(d->ch, &he_dns_funcs, &d->conf);
    if (conf->servers && *conf->servers &&
        ares_set_servers_ports_csv(d->ch, conf->servers) != ARES_SUCCESS) {
        ares_destroy(d->ch);
        return -EIO;
    }
    return 0;
}

static void he_dns_ask(struct he_dns *d, const char *name, int i, int family) {
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    /* NOSORT: answers are ordered glibc's way by the caller (resolver/
     * sort.c); c-ares's own sort would open a socket per address. */
    hints.ai_flags = ARES_AI_NOSORT;
    d->q[i] = (struct he_dns_query){d, family};
    ares_getaddrinfo(d->ch, name, NULL, &hints, he_dns_answer, &d->q[i]);
}

int he_dns_start(const struct he_dns_conf *conf, const char *name, int fam_mask, int64_t now,
                 struct he_dns **out) {
    pthread_once(&he_dns_once, he_dns_lib_init);
    if (!he_dns_lib_ok) {
        return -EIO;
    }
    struct he_dns *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return -ENOMEM;
    }
    d->conf = *conf;
    d->now = now;
    he_feed_init(&d->feed, fam_mask, conf->resolution_delay_ms);
    he_dns_busy++;
    int rc = he_dns_channel(d, conf);
    if (rc == 0) {
        /* AAAA first: RFC 8305 §3 "the AAAA query is made first". */
        if (fam_mask & HE_MEMO_FAM_V6) {
            he_dns_ask(d, name, 1, AF_INET6);
        }
        if (fam_mask & HE_MEMO_FAM_V4) {
            he_dns_ask(d, name, 0, AF_INET);
        }
    }
    he_dns_busy--;
    if (rc != 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int he_dns_pollfds(struct he_dns *d, struct pollfd *pfd, int max) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    he_dns_busy++;
    /* Unsigned: ares.h's ARES_GETSOCK_WRITABLE shifts an int into its
     * sign bit for the last socket. */
    unsigned bits = (unsigned)ares_getsock(d->ch, socks, ARES_GETSOCK_MAXNUM);
    he_dns_busy--;
    int n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM && n < max; i++) {
        short ev = 0;
        if ((bits >> i) & 1u) {
            ev |= POLLIN;
        }
        if ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u) {
            ev |= POLLOUT;
        }
        if (ev) {
            pfd[n++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
    }
    return n;
}

int he_dns_timeout_ms(struct he_dns *d, int64_t now) {
    int t = he_feed_next_ms(&d->feed, now);
    struct timeval tv;
    he_dns_busy++;
    struct timeval *next = ares_timeout(d->ch, NULL, &tv);
    he_dns_busy--;
    if (next) {
        int64_t ms = (int64_t)next->tv_sec * 1000 + (next->tv_usec + 999) / 1000;
        int c = ms > 1000000 ? 1000000 : (int)ms;
        t = (t < 0 || c < t) ? c : t;
    }
    return t;
}

void he_dns_process(struct he_dns *d, const struct pollfd *pfd, int n, int64_t now) {
    d->now = now;
    he_dns_busy++;
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (pfd[i].revents == 0) {
            continue;
        }
        any = 1;
        ares_socket_t r =
            (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd : ARES_SOCKET_BAD;
        ares_socket_t w = (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD;
        ares_process_fd(d->ch, r, w);
    }
    if (!any) {
        /* Nothing ready: c-ares checks its timeouts. */
        ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
    he_dns_busy--;
}

struct he_feed *he_dns_feed(struct he_dns *d) {
    return &d->feed;
}

void he_dns_free(struct he_dns *d) {
    if (d == NULL) {
        return;
    }
    he_dns_busy++;
    ares_destroy(d->ch); /* answers the queries still out with EDESTRUCTION */
    he_dns_busy--;
    free(d);
}

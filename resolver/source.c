/* The source address glibc would pick for each destination, and what
 * RFC 6724's rules need to know of it: a UDP socket connect()ed to the
 * destination (glibc's try_connect), and the interface addresses and links
 * from netlink (glibc's __check_pf and __check_native). */
#include "sortpolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Interface addresses and links (glibc's __check_pf and __check_native)      */

struct he_sort_link {
    uint32_t index;
    int native;
};

struct he_sort_iftable {
    struct he_sort_ifaddr *addrs;
    size_t naddrs, cap;
    struct he_sort_link *links;
    size_t nlinks, lcap;
    int links_read;
};

int he_sort_ifaddr_from_nl(const struct nlmsghdr *h, struct he_sort_ifaddr *out, int *seen_v4,
                           int *seen_v6) {
    if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg))) {
        return 0;
    }
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) {
        return 0;
    }
    size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
    const void *local = NULL, *address = NULL;
    unsigned int len = h->nlmsg_len - NLMSG_LENGTH(sizeof *ifa);
    /* IFA_ADDRESS wins, as in glibc: on a point-to-point link that is the
     * peer's address, so the local one is not found later. */
    for (const struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len) && address == NULL;
         rta = RTA_NEXT(rta, len)) {
        if (RTA_PAYLOAD(rta) < alen) {
            continue;
        }
        if (rta->rta_type == IFA_ADDRESS) {
            address = RTA_DATA(rta);
        } else if (rta->rta_type == IFA_LOCAL) {
            local = RTA_DATA(rta);
        }
    }
    if (address == NULL) {
        address = local;
    }
    if (address == NULL) {
        return 0;
    }
    memset(out, 0, sizeof *out);
    if (ifa->ifa_family == AF_INET) {
        static const uint8_t v4loop[4] = {127, 0, 0, 1};
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, address, 4);
        *seen_v4 |= memcmp(address, v4loop, 4) != 0;
    } else {
        static const uint8_t v6loop[16] = {[15] = 1};
        memcpy(out->addr, address, 16);
        *seen_v6 |= memcmp(address, v6loop, 16) != 0;
    }
    out->flags =
        (ifa->ifa_flags & (IFA_F_DEPRECATED | IFA_F_OPTIMISTIC) ? HE_SORT_IF_DEPRECATED : 0) |
        (ifa->ifa_flags & IFA_F_HOMEADDRESS ? HE_SORT_IF_HOME : 0);
    out->prefixlen = ifa->ifa_prefixlen;
    out->index = ifa->ifa_index;
    return 1;
}

/* Stable sort by address (glibc's qsort of in6ai is a merge sort). */
static void he_sort_ifaddrs_by_addr(struct he_sort_ifaddr *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        struct he_sort_ifaddr e = v[i];
        size_t j = i;
        for (; j > 0 && memcmp(v[j - 1].addr, e.addr, 16) > 0; j--) {
            v[j] = v[j - 1];
        }
        v[j] = e;
    }
}

/* glibc's bsearch over the sorted table. */
static const struct he_sort_ifaddr *he_sort_ifaddr_bsearch(const struct he_sort_ifaddr *v, size_t n,
                                                           const uint8_t key[16]) {
    size_t l = 0, u = n;
    while (l < u) {
        size_t idx = (l + u) / 2;
        int c = memcmp(key, v[idx].addr, 16);
        if (c < 0) {
            u = idx;
        } else if (c > 0) {
            l = idx + 1;
        } else {
            return &v[idx];
        }
    }
    return NULL;
}

const struct he_sort_ifaddr *he_sort_ifaddr_find(struct he_sort_ifaddr *v, size_t n,
                                                 const uint8_t key[16]) {
    he_sort_ifaddrs_by_addr(v, n);
    return he_sort_ifaddr_bsearch(v, n, key);
}

typedef int (*he_sort_nl_fn)(void *arg, const struct nlmsghdr *h);

/* One netlink dump of type (RTM_GETADDR, RTM_GETLINK), each message to fn.
 * Returns 0 or -errno. */
static int he_sort_nl_dump(const struct he_sort_sys *sys, int type, he_sort_nl_fn fn, void *arg) {
    static uint32_t he_sort_nl_seq;
    int fd = sys->libc->socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        return -errno;
    }
    struct {
        struct nlmsghdr nlh;
        struct rtgenmsg g;
        char pad[3];
    } req;
    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = (uint16_t)type;
    req.nlh.nlmsg_flags = NLM_F_ROOT | NLM_F_MATCH | NLM_F_REQUEST;
    req.nlh.nlmsg_seq = __atomic_add_fetch(&he_sort_nl_seq, 1, __ATOMIC_RELAXED);
    req.g.rtgen_family = AF_UNSPEC;
    struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};
    const size_t bufsize = 32768;
    char *buf = malloc(bufsize);
    int rc = buf ? 0 : -ENOMEM;
    ssize_t sent;
    do {
        sent = rc == 0 ? sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&nladdr, sizeof nladdr)
                       : 0;
    } while (rc == 0 && sent < 0 && errno == EINTR);
    if (rc == 0 && sent < 0) {
        rc = -errno;
    }
    for (int done = 0; rc == 0 && !done;) {
        struct iovec iov = {buf, bufsize};
        struct msghdr msg = {
            .msg_name = &nladdr, .msg_namelen = sizeof nladdr, .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t got = recvmsg(fd, &msg, 0);
        if (got < 0) {
            rc = errno == EINTR ? 0 : -errno;
            continue;
        }
        if (got == 0 || (msg.msg_flags & MSG_TRUNC)) {
            rc = -EIO;
            continue;
        }
        if (nladdr.nl_pid != 0) {
            continue; /* not the kernel */
        }
        size_t left = (size_t)got;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; rc == 0 && !done && NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != req.nlh.nlmsg_seq) {
                continue;
            }
            if (h->nlmsg_type == NLMSG_DONE) {
                done = 1;
            } else if (h->nlmsg_type == NLMSG_ERROR) {
                rc = -EIO;
            } else {
                rc = fn(arg, h);
            }
        }
    }
    free(buf);
    sys->libc->close(fd);
    return rc;
}

struct he_sort_addr_dump {
    struct he_sort_iftable *t;
    int seen_v4, seen_v6;
};

static int he_sort_take_addr(void *arg, const struct nlmsghdr *h) {
    struct he_sort_addr_dump *d = arg;
    struct he_sort_ifaddr a;
    if (!he_sort_ifaddr_from_nl(h, &a, &d->seen_v4, &d->seen_v6)) {
        return 0;
    }
    struct he_sort_iftable *t = d->t;
    if (he_sort_grow((void **)&t->addrs, &t->cap, t->naddrs, sizeof *t->addrs) != 0) {
        return -ENOMEM;
    }
    t->addrs[t->naddrs++] = a;
    return 0;
}

static int he_sort_take_link(void *arg, const struct nlmsghdr *h) {
    struct he_sort_iftable *t = arg;
    if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
        return 0;
    }
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    if (he_sort_grow((void **)&t->links, &t->lcap, t->nlinks, sizeof *t->links) != 0) {
        return -ENOMEM;
    }
    t->links[t->nlinks].index = (uint32_t)ifi->ifi_index;
    t->links[t->nlinks].native = ifi->ifi_type != ARPHRD_TUNNEL6 &&
                                 ifi->ifi_type != ARPHRD_TUNNEL && ifi->ifi_type != ARPHRD_SIT;
    t->nlinks++;
    return 0;
}

/* The interface addresses, once per sort.  As in glibc, none at all when
 * the dump fails or the host has no IPv6 address but ::1. */
static struct he_sort_iftable *he_sort_iftable_get(struct he_sort_sys *sys) {
    if (sys->ifs != NULL) {
        return sys->ifs;
    }
    struct he_sort_iftable *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    struct he_sort_addr_dump d = {t, 0, 0};
    if (he_sort_nl_dump(sys, RTM_GETADDR, he_sort_take_addr, &d) != 0 || !d.seen_v6) {
        t->naddrs = 0;
    }
    he_sort_ifaddrs_by_addr(t->addrs, t->naddrs);
    sys->ifs = t;
    return t;
}

/* __check_native: 0 for an interface that is a tunnel or is not there. */
static int he_sort_native(struct he_sort_sys *sys, struct he_sort_iftable *t, uint32_t index) {
    if (!t->links_read) {
        t->links_read = 1;
        if (he_sort_nl_dump(sys, RTM_GETLINK, he_sort_take_link, t) != 0) {
            t->nlinks = 0;
        }
    }
    for (size_t i = 0; i < t->nlinks; i++) {
        if (t->links[i].index == index) {
            return t->links[i].native;
        }
    }
    return 0;
}

void he_sort_sys_finish(struct he_sort_sys *sys) {
    if (sys->ifs != NULL) {
        free(sys->ifs->addrs);
        free(sys->ifs->links);
        free(sys->ifs);
        sys->ifs = NULL;
    }
    sys->sock_open = 0;
    sys->sock_family = AF_UNSPEC;
}

/* ------------------------------------------------------------------------ */
/* The source address                                                         */

/* glibc's try_connect on a fresh socket of sys->sock_family (its socket is
 * reused from one address to the next after an AF_UNSPEC connect, which
 * leaves it as fresh as a new one).  Fills *src; returns 0 or -errno. */
static int he_sort_connect(struct he_sort_sys *sys, const struct he_addr *dst,
                           struct sockaddr_storage *src) {
    int fd = sys->libc->socket(sys->sock_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
    for (;;) {
        if (fd < 0) {
            int err = errno;
            sys->sock_open = 0;
            return -err;
        }
        sys->sock_open = 1;
        /* The destination's own sockaddr, AF_INET on an AF_INET6 socket too,
         * as glibc passes ai_addr. */
        struct sockaddr_storage ss;
        socklen_t len = he_addr_to_sockaddr(dst, dst->family, sys->port, &ss);
        socklen_t slen = sizeof *src;
        if (sys->libc->connect(fd, (struct sockaddr *)&ss, len) == 0 &&
            sys->libc->getsockname(fd, (struct sockaddr *)src, &slen) == 0) {
            sys->libc->close(fd);
            return 0;
        }
        int err = errno;
        sys->libc->close(fd);
        if (err != EAFNOSUPPORT || sys->sock_family != AF_INET6 || dst->family != AF_INET) {
            return -err;
        }
        /* An IPv6-only socket (bindv6only): glibc switches to AF_INET. */
        sys->sock_family = AF_INET;
        fd = sys->libc->socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
    }
}

/* The source address as glibc keeps it for the rules, and the key it looks
 * up in in6ai. */
static void he_sort_source_of(const struct he_addr *dst, const struct sockaddr_storage *ss,
                              struct he_addr *out, uint8_t key[16]) {
    memset(out, 0, sizeof *out);
    out->family = dst->family;
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        memcpy(out->bytes, &sin->sin_addr, 4);
        key[10] = key[11] = 0xff;
        /* glibc's special case for lo, on an AF_INET socket only: a source
         * in 127/8 is looked up as 127.0.0.1. */
        if (out->bytes[0] == 127) {
            static const uint8_t one[4] = {127, 0, 0, 1};
            memcpy(key + 12, one, 4);
        } else {
            memcpy(key + 12, out->bytes, 4);
        }
        return;
    }
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    memcpy(key, &sin6->sin6_addr, 16);
    if (dst->family == AF_INET) {
        memcpy(out->bytes, sin6->sin6_addr.s6_addr + 12, 4); /* ::ffff:a.b.c.d */
    } else {
        memcpy(out->bytes, &sin6->sin6_addr, 16);
        out->scope = sin6->sin6_scope_id;
    }
}

int he_sort_source_udp(void *ctx, const struct he_addr *dst, struct he_sort_src *out) {
    struct he_sort_sys *sys = ctx;
    memset(out, 0, sizeof *out);
    out->index = HE_SORT_NO_INDEX;
    if (!sys->sock_open || (sys->sock_family == AF_INET && dst->family == AF_INET6)) {
        sys->sock_family = dst->family;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = he_sort_connect(sys, dst, &ss);
    if (rc < 0) {
        return rc;
    }
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
        return -EAFNOSUPPORT;
    }
    uint8_t key[16];
    he_sort_source_of(dst, &ss, &out->addr, key);
    out->ok = 1;
    struct he_sort_iftable *t = he_sort_iftable_get(sys);
    const struct he_sort_ifaddr *found =
        t ? he_sort_ifaddr_bsearch(t->addrs, t->naddrs, key) : NULL;
    if (found != NULL) {
        out->prefixlen = found->prefixlen;
        out->deprecated = (found->flags & HE_SORT_IF_DEPRECATED) != 0;
        out->home = (found->flags & HE_SORT_IF_HOME) != 0;
        out->index = found->index;
        out->native = he_sort_native(sys, t, found->index);
    }
    return 0;
}

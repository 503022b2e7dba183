#include "fault.h"

#include "../common/fdid.h"
#include "../common/log.h"
#include "sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

int he_fault_on;
static struct he_fault_spec *he_fault_spec;
static uint64_t he_fault_seed;
static int (*he_fault_next)(int, const struct sockaddr *, socklen_t);
static const char *(*he_fault_name_of)(const struct he_addr *, char *, size_t);
static unsigned long he_fault_count;
static he_fault_delay_fn he_fault_delay;

static int he_fault_resolved_to(const struct he_fault_rule *r, const struct he_addr *dst) {
    int n = __atomic_load_n(&r->nresolved, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        if (he_addr_equal(&r->resolved[i], dst)) {
            return 1;
        }
    }
    return 0;
}

const struct he_fault_rule *he_fault_match(const struct he_fault_spec *spec,
                                           const struct he_addr *dst, int port, const char *name) {
    for (int i = 0; i < spec->n; i++) {
        const struct he_fault_rule *r = &spec->rule[i];
        if (r->port != 0 && r->port != port) {
            continue;
        }
        if (r->name[0] == '\0'
                ? he_addr_equal(&r->addr, dst)
                : he_fault_resolved_to(r, dst) || (name != NULL && strcmp(name, r->name) == 0)) {
            return r;
        }
    }
    return NULL;
}

int he_fault_chance(uint64_t seed, int i, unsigned long k, int permyriad) {
    if (permyriad >= HE_FAULT_ALWAYS) {
        return 1;
    }
    uint64_t h = he_mix64(
        seed ^ he_mix64(((uint64_t)(unsigned)i << 40) ^ (uint64_t)k ^ 0x9e3779b97f4a7c15ull));
    return (int)(h % HE_FAULT_ALWAYS) < permyriad;
}

/* The host the program resolved dst from, when named rules need it. */
static const char *he_fault_name(const struct he_addr *dst, char *buf, size_t len) {
    if (he_fault_spec->names == 0 || he_fault_name_of == NULL) {
        return NULL;
    }
    return he_fault_name_of(dst, buf, len);
}

static const struct he_fault_rule *he_fault_find(const struct he_addr *dst, int port) {
    char buf[HE_FAULT_NAME_MAX + 1];
    return he_fault_match(he_fault_spec, dst, port, he_fault_name(dst, buf, sizeof buf));
}

int he_fault_covers(const struct he_addr *dst, int port) {
    return he_fault_on && he_fault_find(dst, port) != NULL;
}

/* Faults are TCP's: a UDP connect() (to learn a source address) and
 * other stream protocols pass. */
static int he_fault_is_tcp(int fd) {
    int type = 0, proto = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
        return 0;
    }
    len = sizeof proto;
    return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
           (proto == IPPROTO_TCP || proto == IPPROTO_MPTCP);
}

/* Whether connect() on fd starts an attempt: not when the socket is
 * connecting or connected (TCP_INFO's state), nor when an error is still
 * to be reported (POLLERR), which that connect() returns instead.  Neither
 * probe changes what the program sees (SO_ERROR would). */
int he_fault_tcp_state(int fd) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_state : -1;
}

static int he_fault_new_attempt(int fd) {
    int state = he_fault_tcp_state(fd);
    if (state >= 0 && state != TCP_CLOSE) {
        return 0;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    return !(poll(&p, 1, 0) == 1 && (p.revents & POLLERR));
}

static void he_fault_seed_note(void) {
    static int noted;
    if (!__atomic_exchange_n(&noted, 1, __ATOMIC_RELAXED)) {
        he_log_write(HE_LOG_WARN,
                     "faults: chances drawn with HE_FAULTS_SEED=%llu (set it to "
                     "replay them)",
                     (unsigned long long)he_fault_seed);
    }
}

/* A connect counted that started no attempt is taken back. */
static void he_fault_undo(struct he_fault_rule *r, int faulted) {
    if (r->count == 0 && r->permyriad == HE_FAULT_ALWAYS) {
        if (faulted) {
            __atomic_sub_fetch(&he_fault_count, 1, __ATOMIC_RELAXED);
        }
        return;
    }
    __atomic_sub_fetch(&r->attempts, 1, __ATOMIC_RELAXED);
    if (faulted) {
        __atomic_sub_fetch(&he_fault_count, 1, __ATOMIC_RELAXED);
        if (r->count != 0) {
            __atomic_sub_fetch(&r->injected, 1, __ATOMIC_RELAXED);
        }
    }
}

/* Whether this new attempt gets rule r's fault (r is rule index i). */
static int he_fault_decide(struct he_fault_rule *r, int i) {
    if (r->count == 0 && r->permyriad == HE_FAULT_ALWAYS) {
        return 1;
    }
    unsigned long k = __atomic_fetch_add(&r->attempts, 1, __ATOMIC_RELAXED);
    if (r->permyriad < HE_FAULT_ALWAYS) {
        he_fault_seed_note();
    }
    if (!he_fault_chance(he_fault_seed, i, k, r->permyriad)) {
        return 0;
    }
    return r->count == 0 ||
           __atomic_fetch_add(&r->injected, 1, __ATOMIC_RELAXED) < (unsigned long)r->count;
}

/* The faulted address each silent or close socket stands for, by cookie:
 * a ring, written and read under a spin flag held for a copy. */
static struct {
    uint64_t cookie;
    struct sockaddr_storage real;
    socklen_t len;
} he_fault_peers[HE_FAULT_PEERS];
static unsigned he_fault_peers_next;
static int he_fault_peers_busy;

/* The socket's cookie (common/fdid.h), 0 without one. */
static uint64_t he_fault_cookie(int fd) {
    struct he_fdid id;
    return he_fdid_of(fd, &id) == 0 ? id.cookie : 0;
}

static void he_fault_note_peer(int fd, const struct sockaddr *real, socklen_t len) {
    uint64_t c = he_fault_cookie(fd);
    if (c == 0 || len > sizeof(struct sockaddr_storage) ||
        __atomic_exchange_n(&he_fault_peers_busy, 1, __ATOMIC_ACQUIRE)) {
        return;
    }
    unsigned i = he_fault_peers_next++ % HE_FAULT_PEERS;
    he_fault_peers[i].cookie = c;
    memcpy(&he_fault_peers[i].real, real, len);
    he_fault_peers[i].len = len;
    __atomic_store_n(&he_fault_peers_busy, 0, __ATOMIC_RELEASE);
}

int he_fault_peer(int fd, const struct sockaddr *got, socklen_t got_len, struct sockaddr *out,
                  socklen_t *len) {
    if (!__atomic_load_n(&he_fault_on, __ATOMIC_ACQUIRE) || !he_sink_owns(got, got_len)) {
        return 0;
    }
    uint64_t c = he_fault_cookie(fd);
    int found = 0;
    if (c == 0 || __atomic_exchange_n(&he_fault_peers_busy, 1, __ATOMIC_ACQUIRE)) {
        return 0;
    }
    for (int i = 0; i < HE_FAULT_PEERS && !found; i++) {
        if (he_fault_peers[i].cookie == c) {
            /* As the kernel does: at most *len bytes, *len the full size. */
            socklen_t full = he_fault_peers[i].len;
            memcpy(out, &he_fault_peers[i].real, *len < full ? *len : full);
            *len = full;
            found = 1;
        }
    }
    __atomic_store_n(&he_fault_peers_busy, 0, __ATOMIC_RELEASE);
    return found;
}

/* The fault done to fd: its connect() sent to mode's sink, or failed, or
 * (delay) held there until the real one is made.  new: see
 * he_fault_delay_fn. */
static int he_fault_realise(int fd, const struct sockaddr *addr, socklen_t len,
                            const struct he_addr *dst, const struct he_fault_rule *r, int new) {
    enum he_fault_mode mode = r->mode;
    if (mode == HE_FAULT_UNREACH) {
        errno = EHOSTUNREACH;
        return -1;
    }
    struct sockaddr_storage to;
    socklen_t tolen;
    int rc = he_sink_addr(mode, addr->sa_family, dst->family, &to, &tolen);
    if (rc != 0) {
        errno = -rc; /* never the real destination */
        return -1;
    }
    if (mode == HE_FAULT_DELAY) {
        if (he_fault_delay == NULL) {
            errno = ENOTSUP;
            return -1;
        }
        return he_fault_delay(fd, addr, len, (struct sockaddr *)&to, tolen, r->delay_ms, new);
    }
    rc = he_fault_next(fd, (struct sockaddr *)&to, tolen);
    int err = errno;
    if (new && (mode == HE_FAULT_SILENT || mode == HE_FAULT_CLOSE) &&
        (rc == 0 || err == EINPROGRESS)) {
        he_fault_note_peer(fd, addr, len);
    }
    he_sink_settle(mode, dst->family);
    errno = err;
    return rc;
}

/* The counted fault, logged. */
static int he_fault_inject(int fd, const struct sockaddr *addr, socklen_t len,
                           const struct he_addr *dst, struct he_fault_rule *r, int port,
                           int index) {
    __atomic_add_fetch(&he_fault_count, 1, __ATOMIC_RELAXED);
    if (he_log_level >= HE_LOG_INFO) {
        int saved = errno;
        char a[HE_ADDR_STRLEN];
        he_log_write(HE_LOG_INFO, "fault: %s port %d: %s (HE_FAULTS entry %d)",
                     he_addr_format(dst, a, sizeof a), port, he_fault_mode_name(r->mode),
                     index + 1);
        errno = saved;
    }
    return he_fault_realise(fd, addr, len, dst, r, 1);
}

static int he_fault_connect(int fd, const struct sockaddr *addr, socklen_t len) {
    struct he_addr dst;
    if (addr == NULL || he_addr_from_sockaddr(&dst, addr, len) != 0) {
        return he_fault_next(fd, addr, len);
    }
    int port = ntohs(he_sockaddr_port(addr));
    const struct he_fault_rule *found = he_fault_find(&dst, port);
    int saved = errno;
    if (found == NULL || !he_fault_is_tcp(fd)) {
        errno = saved;
        return he_fault_next(fd, addr, len);
    }
    struct he_fault_rule *r = (struct he_fault_rule *)found;
    int index = (int)(r - he_fault_spec->rule);
    if (!he_fault_new_attempt(fd)) {
        /* Settling an attempt: the kernel ignores the address given. */
        errno = saved;
        if (r->mode == HE_FAULT_UNREACH) {
            return he_fault_next(fd, addr, len);
        }
        return he_fault_realise(fd, addr, len, &dst, r, 0);
    }
    int faulted = he_fault_decide(r, index);
    errno = saved;
    int rc = faulted ? he_fault_inject(fd, addr, len, &dst, r, port, index)
                     : he_fault_next(fd, addr, len);
    if (rc != 0 && (errno == ECONNABORTED || errno == EALREADY || errno == EISCONN)) {
        /* The kernel had an earlier attempt's end to report (its error
         * already read with SO_ERROR): this connect started nothing. */
        he_fault_undo(r, faulted);
    }
    return rc;
}

void he_fault_install(struct he_libc *sys, struct he_fault_spec *spec, uint64_t seed,
                      const char *(*name_of)(const struct he_addr *dst, char *buf, size_t len),
                      he_fault_delay_fn delay) {
    he_sink_setup(sys);
    he_fault_spec = spec;
    he_fault_seed = seed;
    he_fault_name_of = name_of;
    he_fault_delay = delay;
    he_fault_next = sys->connect;
    __atomic_store_n(&sys->connect, he_fault_connect, __ATOMIC_RELEASE);
    __atomic_store_n(&he_fault_on, spec->n > 0, __ATOMIC_RELEASE);
}

void he_fault_resolved(const char *name, const struct he_addr *addrs, int n) {
    for (int i = 0; i < he_fault_spec->n; i++) {
        struct he_fault_rule *r = &he_fault_spec->rule[i];
        if (strcmp(r->name, name) != 0) {
            continue;
        }
        int have = r->nresolved;
        for (int k = 0; k < n && have < HE_FAULT_NAME_ADDRS; k++) {
            if (!he_fault_resolved_to(r, &addrs[k])) {
                r->resolved[have++] = addrs[k];
            }
        }
        __atomic_store_n(&r->nresolved, have, __ATOMIC_RELEASE);
    }
}

unsigned long he_fault_injected(void) {
    return __atomic_load_n(&he_fault_count, __ATOMIC_RELAXED);
}

void he_fault_reset_count(void) {
    __atomic_store_n(&he_fault_count, 0, __ATOMIC_RELAXED);
}

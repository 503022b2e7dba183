#include "faults.h"

#include "../common/log.h"
#include "../faults/fault.h"
#include "../faults/sink.h"
#include "connect.h"
#include "hook.h"
#include "lookup.h"

#include "../racer/background.h"
#include "../racer/connector.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct he_fault_spec he_faults;
static uint64_t he_faults_seed;

static void he_faults_warn(void *ctx, const char *msg) {
    ((he_config_warn_fn)ctx)(msg);
}

/* A seed nobody gave: different in every process, and logged when first
 * used (faults/fault.c) so that the run can be replayed. */
static uint64_t he_faults_random_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = he_mix64((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
    return he_mix64(s ^ (uint64_t)getpid()) % 1000000000000ull;
}

void he_faults_configure(struct he_config *cfg, he_config_getenv_fn getenv_fn,
                         he_config_warn_fn warn_fn) {
    he_fault_parse(getenv_fn("HE_FAULTS"), &he_faults, he_faults_warn, (void *)warn_fn);
    const char *seed = getenv_fn("HE_FAULTS_SEED");
    if (seed == NULL || *seed == '\0' || he_fault_parse_seed(seed, &he_faults_seed) != 0) {
        he_faults_seed = he_faults_random_seed();
        if (seed != NULL && *seed != '\0') {
            char msg[160];
            snprintf(msg, sizeof msg, "HE_FAULTS_SEED=%.40s is not a number; using %llu", seed,
                     (unsigned long long)he_faults_seed);
            warn_fn(msg);
        }
    }
    const char *history = getenv_fn("HE_HISTORY");
    if (he_faults.n > 0 && (history == NULL || *history == '\0')) {
        cfg->history = HE_HISTORY_PROCESS;
    }
}

/* The name a program resolved dst from, as rules spell names. */
static const char *he_faults_name_of(const struct he_addr *dst, char *buf, size_t len) {
    struct he_memo_answer ans;
    if (he_memo == NULL || he_memo_is_empty(he_memo) ||
        he_memo_lookup(he_memo, dst, he_thread_id(), &ans) != 0) {
        return NULL;
    }
    size_t n = strnlen(ans.name, sizeof ans.name);
    n -= n > 0 && ans.name[n - 1] == '.';
    if (n == 0 || n >= len) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = ans.name[i];
        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    buf[n] = '\0';
    return buf;
}

/* libc's functions, connect included: what a delayed attempt's real
 * connect is made with (the table's connect is the fault layer). */
static struct he_libc he_faults_libc;

/* Hands fd, connecting to sink, to the helper thread: its one sibling is
 * real, started after ms and spliced onto fd when connected. */
static int he_faults_defer(struct he_connector *c, const struct he_addr *sink,
                           const struct he_addr *real, int ms) {
    struct he_bg_request q = {.c = c,
                              .first = sink,
                              .addrs = real,
                              .n = 1,
                              .name = "(delay fault)",
                              .delay_ms = ms,
                              .max_attempts = 2,
                              .fault_delay = 1};
    return he_bg_start(&q);
}

/* A blocking connect() to a delayed address waits as the kernel would: for
 * the socket to be writable (the splice's shutdown wakes the wait), at
 * most the socket's SO_SNDTIMEO (then timeout_err: EINPROGRESS for the
 * connect that started the attempt, EALREADY for a later one), and a
 * signal ends it with EINTR, the attempt going on.  0 once connected: the
 * helper settled the connection, so connect() says EISCONN, which for the
 * call that waited for it is the kernel's 0. */
static int he_faults_wait(int fd, const struct sockaddr *real, socklen_t len, int timeout_err) {
    int ms = he_connector_sndtimeo_ms(fd);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int rc = poll(&p, 1, ms > 0 ? ms : -1);
    if (rc == 0) {
        errno = timeout_err;
        return -1;
    }
    if (rc < 0) {
        return -1;
    }
    rc = he_faults_libc.connect(fd, real, len);
    return rc == 0 || errno == EISCONN ? 0 : -1;
}

static int he_faults_delay(int fd, const struct sockaddr *real, socklen_t len,
                           const struct sockaddr *sink, socklen_t sink_len, int ms, int new) {
    int fl = he_faults_libc.fcntl(fd, F_GETFL);
    if (fl < 0) {
        return -1;
    }
    if (!new) {
        /* Settling.  A non-blocking socket, or one no longer waiting at the
         * sink (connected: EISCONN; failed): the kernel's answer.  A
         * blocking one still waiting: wait, as the kernel would. */
        int waiting = he_fault_tcp_state(fd) == TCP_SYN_SENT;
        return (fl & O_NONBLOCK) || !waiting ? he_faults_libc.connect(fd, real, len)
                                             : he_faults_wait(fd, real, len, EALREADY);
    }
    struct he_addr to, at;
    if (he_addr_from_sockaddr(&to, real, len) != 0 ||
        he_addr_from_sockaddr(&at, sink, sink_len) != 0) {
        errno = EINVAL;
        return -1;
    }
    struct he_connector c;
    he_connect_connector(&c, fd, real, len, fl);
    c.sys = &he_faults_libc;
    c.track = NULL;
    he_connector_note_local(&c); /* before connect binds it */
    he_faults_libc.fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = he_faults_libc.connect(fd, sink, sink_len);
    if (rc == 0 || errno != EINPROGRESS || he_faults_defer(&c, &at, &to, ms) != 0) {
        /* No helper for it (no memory, no fd): connected at once, and
         * said so, rather than held for ever. */
        HE_LOG(HE_LOG_WARN, "HE_FAULTS: a delay could not be applied; connecting at once");
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        he_faults_libc.connect(fd, &unspec, sizeof unspec);
        he_faults_libc.fcntl(fd, F_SETFL, fl);
        return he_faults_libc.connect(fd, real, len);
    }
    he_faults_libc.fcntl(fd, F_SETFL, fl);
    if (fl & O_NONBLOCK) {
        errno = EINPROGRESS;
        return -1;
    }
    return he_faults_wait(fd, real, len, EINPROGRESS);
}

void he_faults_install(void) {
    if (he_faults.n > 0) {
        he_faults_libc = he_real;
        he_fault_install(&he_real, &he_faults, he_faults_seed, he_faults_name_of, he_faults_delay);
        HE_LOG(HE_LOG_INFO, "faults: %d HE_FAULTS entries", he_faults.n);
    }
}

/* A named rule's addresses: HE_HOSTS's, else libc's resolver's. */
static void he_faults_resolve(const char *name) {
    struct he_addr addrs[HE_FAULT_NAME_ADDRS];
    int n = he_lookup_hosts_addrs(name, addrs, HE_FAULT_NAME_ADDRS);
    if (n == 0) {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        if (he_real.getaddrinfo(name, NULL, &hints, &res) == 0) {
            for (struct addrinfo *ai = res; ai != NULL && n < HE_FAULT_NAME_ADDRS;
                 ai = ai->ai_next) {
                n += he_addr_from_sockaddr(&addrs[n], ai->ai_addr, ai->ai_addrlen) == 0;
            }
            he_real.freeaddrinfo(res);
        }
    }
    if (n == 0) {
        HE_LOG(HE_LOG_WARN,
               "HE_FAULTS: %s has no address; its entry applies to the "
               "addresses the program resolves it to",
               name);
    }
    he_fault_resolved(name, addrs, n);
}

/* 0: names not resolved yet, 1: being resolved, 2: resolved.  Until 2,
 * another thread's connect waits: an address of a named rule must never
 * be contacted for want of its name's answer. */
static int he_faults_state;
static __thread int he_faults_resolving;

void he_faults_prepare(void) {
    if (he_faults.names == 0 || __atomic_load_n(&he_faults_state, __ATOMIC_ACQUIRE) == 2 ||
        he_faults_resolving) {
        return; /* resolving on this thread: a resolver's own connect */
    }
    int none = 0;
    if (!__atomic_compare_exchange_n(&he_faults_state, &none, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&he_faults_state, __ATOMIC_ACQUIRE) != 2) {
            sched_yield();
        }
        return;
    }
    he_faults_resolving = 1;
    int saved = errno;
    for (int i = 0; i < he_faults.n; i++) {
        /* he_fault_resolved fills every rule of the name at once. */
        const struct he_fault_rule *r = &he_faults.rule[i];
        if (r->name[0] != '\0' && r->nresolved == 0) {
            he_faults_resolve(r->name);
        }
    }
    errno = saved;
    he_faults_resolving = 0;
    __atomic_store_n(&he_faults_state, 2, __ATOMIC_RELEASE);
}

void he_faults_fork_child(void) {
    /* The resolving thread is not in the child: what it found stands. */
    if (__atomic_load_n(&he_faults_state, __ATOMIC_ACQUIRE) == 1) {
        __atomic_store_n(&he_faults_state, 2, __ATOMIC_RELEASE);
    }
    he_faults_resolving = 0;
    he_sink_fork_child();
}

#include "faults.h"

#include "../common/log.h"
#include "../faults/fault.h"
#include "../faults/sink.h"
#include "hook.h"
#include "lookup.h"

#include <errno.h>
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
    if (he_faults.n > 0 && getenv_fn("HE_HISTORY") == NULL) {
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

void he_faults_install(void) {
    if (he_faults.n > 0) {
        he_fault_install(&he_real, &he_faults, he_faults_seed, he_faults_name_of);
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
        const struct he_fault_rule *r = &he_faults.rule[i];
        int first = r->name[0] != '\0';
        for (int k = 0; k < i && first; k++) {
            first = strcmp(he_faults.rule[k].name, r->name) != 0;
        }
        if (first) {
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

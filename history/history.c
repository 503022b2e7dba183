/* The process's handle on the history (history/history.h): which table,
 * opened at the first race that asks, and the network its entries are
 * learned in. */
#include "history.h"

#include "../common/lock.h"
#include "../common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { HE_HIST_UNOPENED = 0, HE_HIST_OPENING, HE_HIST_OPEN, HE_HIST_NONE_IN_USE };

static struct {
    enum he_hist_mode mode;
    const char *file;
    struct he_hist_conf conf;
    int state;                  /* atomic: the enum above */
    int (*close_fn)(int);       /* libc's close, never libhe's hook */
    struct he_hist_table table; /* set before state becomes OPEN */
    uint64_t netid;             /* atomic */
    int64_t netid_at;           /* atomic */
} he_hist;

void he_hist_configure(enum he_hist_mode mode, const char *file, const struct he_hist_conf *conf,
                       int (*close_fn)(int)) {
    he_hist.mode = mode;
    he_hist.file = file;
    he_hist.conf = *conf;
    he_hist.close_fn = close_fn;
    __atomic_store_n(&he_hist.state,
                     mode == HE_HISTORY_OFF ? HE_HIST_NONE_IN_USE : HE_HIST_UNOPENED,
                     __ATOMIC_RELEASE);
}

int he_hist_close(int fd) {
    return he_hist.close_fn ? he_hist.close_fn(fd) : (int)syscall(SYS_close, fd);
}

const struct he_hist_conf *he_hist_conf(void) {
    return &he_hist.conf;
}

uint32_t he_hist_secs(int64_t now_ms) {
    return (uint32_t)(now_ms / 1000) + 1;
}

/* The process's own table: the fallback for every trouble with the file. */
static int he_hist_private(struct he_hist_table *t) {
    size_t size = he_hist_table_size(HE_HIST_SLOTS_DEFAULT);
    void *mem = aligned_alloc(64, size);
    if (mem == NULL) {
        return -ENOMEM;
    }
    he_hist_table_format(mem, HE_HIST_SLOTS_DEFAULT, he_hist_random_seed());
    return he_hist_table_open(t, mem, size);
}

/* The user's file, or -errno after the one warning.  setuid and setgid
 * programs never open it (AT_SECURE): the file is the user's, the process
 * is not only theirs. */
static int he_hist_shared(struct he_hist_table *t) {
    if (getauxval(AT_SECURE)) {
        return -EPERM;
    }
    char path[4096] = "", why[256] = "its name is too long";
    void *mem = NULL;
    size_t size = 0;
    int rc = he_hist_file_path(he_hist.file, path, sizeof path);
    if (rc == -EINVAL) {
        snprintf(path, sizeof path, "%s", he_hist.file);
        snprintf(why, sizeof why, "HE_HISTORY_FILE is not an absolute path");
    }
    if (rc == 0) {
        rc = he_hist_file_map(path, 1, &mem, &size, why, sizeof why);
    }
    /* file.c checked the header already: this only fills *t. */
    if (rc == 0 && (rc = he_hist_table_open(t, mem, size)) != 0) {
        munmap(mem, size);
        snprintf(why, sizeof why, "its header is not usable");
    }
    if (rc != 0) {
        he_log_write(HE_LOG_WARN,
                     "history file %s not used: %s; this process keeps its own history", path, why);
    }
    return rc;
}

static void he_hist_open(int64_t now_ms) {
    struct he_hist_table t;
    int rc = -1;
    if (he_hist.mode == HE_HISTORY_USER) {
        rc = he_hist_shared(&t);
    }
    if (rc != 0) {
        rc = he_hist_private(&t);
    }
    __atomic_store_n(&he_hist.netid, he_hist_netid_now(), __ATOMIC_RELAXED);
    __atomic_store_n(&he_hist.netid_at, now_ms, __ATOMIC_RELAXED);
    he_hist.table = t;
    __atomic_store_n(&he_hist.state, rc == 0 ? HE_HIST_OPEN : HE_HIST_NONE_IN_USE,
                     __ATOMIC_RELEASE);
}

/* The open and the network's identity allocate memory and open
 * descriptors inside the program's connect(): with every signal blocked,
 * so that no handler runs (and siglongjmps out, as wget's timeout does)
 * half-way through them.  Two system calls, once a minute at most. */
static uint64_t he_hist_netid_blocked(void) {
    sigset_t old;
    he_block_signals(&old);
    uint64_t id = he_hist_netid_now();
    he_restore_signals(&old);
    return id;
}

static void he_hist_open_blocked(int64_t now_ms) {
    sigset_t old;
    he_block_signals(&old);
    he_hist_open(now_ms);
    he_restore_signals(&old);
}

int he_hist_ready(int64_t now_ms) {
    int st = __atomic_load_n(&he_hist.state, __ATOMIC_ACQUIRE);
    if (st == HE_HIST_OPEN) {
        int64_t at = __atomic_load_n(&he_hist.netid_at, __ATOMIC_RELAXED);
        if (now_ms - at >= HE_HIST_NETID_EVERY_MS &&
            __atomic_compare_exchange_n(&he_hist.netid_at, &at, now_ms, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            __atomic_store_n(&he_hist.netid, he_hist_netid_blocked(), __ATOMIC_RELAXED);
        }
        return 1;
    }
    int unopened = HE_HIST_UNOPENED;
    if (st == HE_HIST_UNOPENED &&
        __atomic_compare_exchange_n(&he_hist.state, &unopened, HE_HIST_OPENING, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        he_hist_open_blocked(now_ms);
        return __atomic_load_n(&he_hist.state, __ATOMIC_ACQUIRE) == HE_HIST_OPEN;
    }
    /* Another thread is opening it: this race goes without. */
    return 0;
}

void he_hist_fork_child(void) {
    if (__atomic_load_n(&he_hist.state, __ATOMIC_ACQUIRE) == HE_HIST_OPENING) {
        __atomic_store_n(&he_hist.state, HE_HIST_UNOPENED, __ATOMIC_RELEASE);
    }
}

struct he_hist_table *he_hist_table(void) {
    return __atomic_load_n(&he_hist.state, __ATOMIC_ACQUIRE) == HE_HIST_OPEN ? &he_hist.table
                                                                             : NULL;
}

uint64_t he_hist_netid(void) {
    return __atomic_load_n(&he_hist.netid, __ATOMIC_RELAXED);
}

static void he_hist_key(struct he_hist_entry *k, const struct he_addr *a, uint16_t port,
                        enum he_hist_kind kind) {
    memset(k, 0, sizeof *k);
    k->netid = he_hist_netid();
    k->addr.family = a->family;
    memcpy(k->addr.bytes, a->bytes, sizeof k->addr.bytes);
    k->port = port;
    k->kind = (uint8_t)kind;
    if (kind == HE_HIST_PREFIX) {
        /* A /24 or a /64: what one site usually holds. */
        size_t keep = a->family == AF_INET ? 3 : 8;
        memset(k->addr.bytes + keep, 0, sizeof k->addr.bytes - keep);
    }
}

/* A thread's last few lookups, each good for the second it was made in:
 * a program connecting to the same names over and over plans its races
 * from these rather than from the shared table's cache lines, cold after
 * every system call.  Another process's news reaches the thread a second
 * later at most; the thread's own records drop the copy at once. */
#define HE_HIST_MEMO 4
static __thread struct he_hist_memo {
    uint32_t sec; /* CLOCK_MONOTONIC_COARSE second, 0: empty */
    int rc;
    struct he_hist_entry key, e;
} he_hist_memo[HE_HIST_MEMO] __attribute__((tls_model("initial-exec")));

static struct he_hist_memo *he_hist_memo_of(const struct he_hist_entry *k) {
    unsigned h =
        k->addr.bytes[3] ^ k->addr.bytes[15] ^ k->port ^ ((unsigned)k->port >> 8) ^ k->kind;
    return &he_hist_memo[h % HE_HIST_MEMO];
}

static uint32_t he_hist_coarse_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)ts.tv_sec + 1;
}

static int he_hist_get(const struct he_hist_entry *k, struct he_hist_entry *out) {
    struct he_hist_table *t = he_hist_table();
    if (t == NULL) {
        return -ENOENT;
    }
    struct he_hist_memo *m = he_hist_memo_of(k);
    uint32_t sec = he_hist_coarse_sec();
    if (m->sec == sec && memcmp(&m->key, k, sizeof *k) == 0) {
        *out = m->e;
        return m->rc;
    }
    m->rc = he_hist_table_get(t, k, &m->e);
    m->key = *k;
    m->sec = sec;
    *out = m->e;
    return m->rc;
}

static void he_hist_forget_copy(const struct he_hist_entry *k) {
    struct he_hist_memo *m = he_hist_memo_of(k);
    if (memcmp(&m->key, k, sizeof *k) == 0) {
        m->sec = 0;
    }
}

int he_hist_find(const struct he_addr *a, uint16_t port, struct he_hist_entry *out) {
    struct he_hist_entry k;
    he_hist_key(&k, a, port, HE_HIST_ADDR);
    return he_hist_get(&k, out);
}

int he_hist_find_prefix(const struct he_addr *a, struct he_hist_entry *out) {
    struct he_hist_entry k;
    he_hist_key(&k, a, 0, HE_HIST_PREFIX);
    return he_hist_get(&k, out);
}

struct he_hist_sample {
    enum he_hist_outcome o;
    uint32_t rtt_us, now_s;
};

static void he_hist_apply(struct he_hist_entry *e, void *ctx) {
    const struct he_hist_sample *s = ctx;
    he_hist_note(e, s->o, s->rtt_us, s->now_s);
}

/* The last success this thread recorded: the same destination again
 * within its second is skipped without reading the table. */
static __thread struct {
    struct he_addr addr;
    uint16_t port;
    uint32_t now_s;
} he_hist_last __attribute__((tls_model("initial-exec")));

static int he_hist_seen_this_second(const struct he_addr *a, uint16_t port, uint32_t now_s) {
    if (he_hist_last.now_s == now_s && he_hist_last.port == port &&
        he_addr_equal(&he_hist_last.addr, a)) {
        return 1;
    }
    he_hist_last.addr = *a;
    he_hist_last.port = port;
    he_hist_last.now_s = now_s;
    return 0;
}

void he_hist_record(const struct he_addr *a, uint16_t port, enum he_hist_outcome o, uint32_t rtt_us,
                    int64_t now_ms) {
    struct he_hist_table *t = he_hist_table();
    if (t == NULL) {
        return;
    }
    struct he_hist_sample s = {o, rtt_us, he_hist_secs(now_ms)};
    struct he_hist_entry k, cur;
    if (o != HE_HIST_CONNECTED) {
        he_hist_last.now_s = 0; /* a failure since: the next success counts */
    } else if (he_hist_seen_this_second(a, port, s.now_s)) {
        return;
    }
    he_hist_key(&k, a, port, HE_HIST_ADDR);
    if (o == HE_HIST_CONNECTED && he_hist_table_get(t, &k, &cur) == 0 &&
        cur.outcome == HE_HIST_CONNECTED && cur.connected_at_s == s.now_s) {
        return;
    }
    he_hist_table_update(t, &k, s.now_s, he_hist_apply, &s);
    he_hist_forget_copy(&k);
    if (o == HE_HIST_CONNECTED) {
        he_hist_key(&k, a, 0, HE_HIST_PREFIX);
        he_hist_table_update(t, &k, s.now_s, he_hist_apply, &s);
        he_hist_forget_copy(&k);
    }
}

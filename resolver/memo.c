#include "memo.h"

#include "../common/lock.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* One address of one name; it sits both in its name's array and in the
 * address index chain of its bucket. */
struct he_memo_link {
    struct he_addr addr;
    struct he_memo_entry *entry;
    struct he_memo_link *next;
    int former; /* an address the name used to have */
};

struct he_memo_entry {
    struct he_memo_entry *lru_prev, *lru_next; /* head = most recently used */
    struct he_memo_entry *name_next;           /* name index chain */
    uint64_t who;                              /* thread that last resolved it */
    uint64_t seq;                              /* when, in learn order */
    uint64_t id;                               /* unique in the process, never reused */
    uint32_t name_hash;
    int count;                  /* current addresses */
    int nformer;                /* former ones, after them in links */
    struct he_memo_link *links; /* current ones in the order libc gave */
    int fam_known;              /* HE_MEMO_FAM_* bits some answer covered */
    int64_t expires[2];         /* per family: [0] IPv4, [1] IPv6 */
    int64_t refresh_ms;         /* last DNS refresh claimed, 0: none */
    char name[];
};

struct he_memo {
    pthread_mutex_t lock;
    sigset_t fork_mask; /* the forking thread's mask, held across fork */
    size_t max_names, names;
    uint64_t seq;
    int learned;     /* read without the lock: set once, never cleared */
    size_t nbuckets; /* power of two, for both indexes */
    struct he_memo_entry **by_name;
    struct he_memo_link **by_addr;
    struct he_memo_entry *lru_head, *lru_tail;
};

#define HE_MEMO_BUCKETS_MAX ((size_t)1 << 16)

/* Bumped by every change to any name memory (and by creating one), so that
 * a thread's cached lookups and learns are known to be current without
 * taking the lock.  Starts at 1: a zeroed cache entry is never current. */
static uint64_t he_memo_gen = 1;

static uint64_t he_memo_gen_now(void) {
    return __atomic_load_n(&he_memo_gen, __ATOMIC_ACQUIRE);
}

static void he_memo_gen_bump(void) {
    __atomic_add_fetch(&he_memo_gen, 1, __ATOMIC_RELEASE);
}

/* Bumped (under the lock) whenever a learn changes which thread resolved a
 * name last, even when nothing else changes: a thread's "same as my last
 * learn" shortcut is then no longer safe to take, though cached lookups
 * may still be (he_memo_gen decides those). */
static uint64_t he_memo_who_gen = 1;

/* A thread's recent lookups.  connect() to the same few addresses again and
 * again is the common case; answering those from the thread's own copy
 * costs no lock and no signal-mask system calls.  The only writer besides
 * the thread itself is a signal handler running on it, so a sequence number
 * (odd while an entry is written) is all the protection needed. */
#define HE_MEMO_TCACHE_SLOTS 4

struct he_memo_tcache {
    unsigned seq;
    uint64_t gen;
    const struct he_memo *m;
    uint64_t who;
    struct he_addr key;
    int rc;
    struct he_memo_answer ans;
};

static __thread struct he_memo_tcache he_memo_tcache[HE_MEMO_TCACHE_SLOTS]
    __attribute__((tls_model("initial-exec")));

/* What this thread learned last, so that resolving the same name to the
 * same addresses again (a program that calls getaddrinfo before every
 * connect) changes nothing and takes no lock. */
struct he_memo_tlearn {
    uint64_t gen;     /* the generation right after that learn */
    uint64_t who_gen; /* he_memo_who_gen right after it */
    const struct he_memo *m;
    uint64_t who;
    int fam_mask, n;
    int64_t expires_ms;
    char name[HE_MEMO_NAME_MAX];
    struct he_addr addrs[HE_MEMO_MAX_ADDRS];
};

static __thread struct he_memo_tlearn he_memo_tlearn __attribute__((tls_model("initial-exec")));

/* The names this thread resolved most recently, with when (the learn's
 * seq).  An entry keeps only the last thread that resolved it, so without
 * this a thread whose name another thread resolved after it would find the
 * name no longer "its own", and an address that name shares with another
 * would look ambiguous and go unraced.  Entries are named by pointer and
 * id, and only compared, never followed: a dropped entry's slot simply
 * stops matching.  Read and written only under the memory's lock, which
 * blocks every signal, so no handler can see a slot half written.  who is
 * kept too, so that a test can play several threads on one. */
#define HE_MEMO_TRECENT_SLOTS 16

struct he_memo_trecent {
    const struct he_memo *m;
    const struct he_memo_entry *e;
    uint64_t id, who, seq;
};

static __thread struct he_memo_trecent he_memo_trecent[HE_MEMO_TRECENT_SLOTS]
    __attribute__((tls_model("initial-exec")));
static __thread unsigned he_memo_trecent_next __attribute__((tls_model("initial-exec")));

/* Ids start at 1: a zeroed slot never matches. */
static uint64_t he_memo_next_id;

/* The lock is held with all signals blocked (common/lock.h). */
static void he_memo_lock(struct he_memo *m, sigset_t *old) {
    he_lock_signals(&m->lock, old);
}

static void he_memo_unlock(struct he_memo *m, const sigset_t *old) {
    he_unlock_signals(&m->lock, old);
}

struct he_memo *he_memo_new(size_t max_names) {
    if (max_names == 0) {
        max_names = 1;
    }
    struct he_memo *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    size_t nb = 64;
    while (nb < max_names * 2 && nb < HE_MEMO_BUCKETS_MAX) {
        nb <<= 1;
    }
    m->nbuckets = nb;
    m->max_names = max_names;
    m->by_name = calloc(nb, sizeof *m->by_name);
    m->by_addr = calloc(nb, sizeof *m->by_addr);
    if (m->by_name == NULL || m->by_addr == NULL) {
        free(m->by_name);
        free(m->by_addr);
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    he_memo_gen_bump(); /* a new memory may sit where a freed one was */
    return m;
}

/* Normalises a name into buf: lower case, without one trailing dot.
 * Returns its length, or -EINVAL when empty or too long. */
static int he_memo_normalise(const char *name, char *buf) {
    size_t len = strlen(name);
    if (len > 0 && name[len - 1] == '.') {
        len--;
    }
    if (len == 0 || len >= HE_MEMO_NAME_MAX) {
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        buf[i] = (char)tolower((unsigned char)name[i]);
    }
    buf[len] = '\0';
    return (int)len;
}

static uint32_t he_memo_name_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h = (h ^ (uint8_t)*s) * 16777619u;
    }
    return h;
}

static void he_memo_lru_unlink_nolock(struct he_memo *m, struct he_memo_entry *e) {
    if (e->lru_prev) {
        e->lru_prev->lru_next = e->lru_next;
    } else {
        m->lru_head = e->lru_next;
    }
    if (e->lru_next) {
        e->lru_next->lru_prev = e->lru_prev;
    } else {
        m->lru_tail = e->lru_prev;
    }
    e->lru_prev = e->lru_next = NULL;
}

static void he_memo_lru_push_nolock(struct he_memo *m, struct he_memo_entry *e) {
    e->lru_prev = NULL;
    e->lru_next = m->lru_head;
    if (m->lru_head) {
        m->lru_head->lru_prev = e;
    }
    m->lru_head = e;
    if (m->lru_tail == NULL) {
        m->lru_tail = e;
    }
}

static void he_memo_touch_nolock(struct he_memo *m, struct he_memo_entry *e) {
    if (m->lru_head != e) {
        he_memo_lru_unlink_nolock(m, e);
        he_memo_lru_push_nolock(m, e);
    }
}

/* Takes every address of e out of the address index and frees them. */
static void he_memo_unlink_addrs_nolock(struct he_memo *m, struct he_memo_entry *e) {
    for (int i = 0; i < e->count + e->nformer; i++) {
        struct he_memo_link *l = &e->links[i];
        struct he_memo_link **pp = &m->by_addr[he_addr_hash(&l->addr) & (m->nbuckets - 1)];
        while (*pp && *pp != l) {
            pp = &(*pp)->next;
        }
        if (*pp) {
            *pp = l->next;
        }
    }
    free(e->links);
    e->links = NULL;
    e->count = 0;
    e->nformer = 0;
}

static void he_memo_link_addrs_nolock(struct he_memo *m, struct he_memo_entry *e) {
    for (int i = 0; i < e->count + e->nformer; i++) {
        struct he_memo_link *l = &e->links[i];
        struct he_memo_link **head = &m->by_addr[he_addr_hash(&l->addr) & (m->nbuckets - 1)];
        l->entry = e;
        l->next = *head;
        *head = l;
    }
}

static void he_memo_drop_nolock(struct he_memo *m, struct he_memo_entry *e) {
    he_memo_unlink_addrs_nolock(m, e);
    struct he_memo_entry **pp = &m->by_name[e->name_hash & (m->nbuckets - 1)];
    while (*pp && *pp != e) {
        pp = &(*pp)->name_next;
    }
    if (*pp) {
        *pp = e->name_next;
    }
    he_memo_lru_unlink_nolock(m, e);
    m->names--;
    free(e);
}

static struct he_memo_entry *he_memo_find_nolock(struct he_memo *m, const char *name,
                                                 uint32_t hash) {
    struct he_memo_entry *e = m->by_name[hash & (m->nbuckets - 1)];
    while (e && (e->name_hash != hash || strcmp(e->name, name) != 0)) {
        e = e->name_next;
    }
    return e;
}

static struct he_memo_entry *he_memo_create_nolock(struct he_memo *m, const char *name, size_t len,
                                                   uint32_t hash) {
    if (m->names >= m->max_names && m->lru_tail) {
        he_memo_drop_nolock(m, m->lru_tail);
    }
    struct he_memo_entry *e = calloc(1, sizeof *e + len + 1);
    if (e == NULL) {
        return NULL;
    }
    memcpy(e->name, name, len + 1);
    e->name_hash = hash;
    e->id = __atomic_add_fetch(&he_memo_next_id, 1, __ATOMIC_RELAXED);
    struct he_memo_entry **head = &m->by_name[hash & (m->nbuckets - 1)];
    e->name_next = *head;
    *head = e;
    he_memo_lru_push_nolock(m, e);
    m->names++;
    return e;
}

static int he_memo_fam_bit(const struct he_addr *a) {
    return a->family == AF_INET ? HE_MEMO_FAM_V4 : HE_MEMO_FAM_V6;
}

static int he_memo_has(const struct he_memo_link *links, int n, const struct he_addr *a) {
    for (int i = 0; i < n; i++) {
        if (he_addr_equal(&links[i].addr, a)) {
            return 1;
        }
    }
    return 0;
}

/* Appends to tmp[*count] the addresses e loses: its current ones that the
 * new answer drops, then its former ones still not current, at most
 * HE_MEMO_MAX_FORMER in all.  n_current: how many of tmp are current. */
static void he_memo_formers(const struct he_memo_entry *e, struct he_memo_link *tmp, int n_current,
                            int *count) {
    int limit = n_current + HE_MEMO_MAX_FORMER;
    for (int i = 0; i < e->count + e->nformer && *count < limit; i++) {
        const struct he_addr *old = &e->links[i].addr;
        if (!he_memo_has(tmp, *count, old)) {
            tmp[*count].addr = *old;
            tmp[(*count)++].former = 1;
        }
    }
}

/* Builds e's new address array: the answer's addresses (deduplicated, in
 * order), then what e had for families the answer did not cover, then the
 * addresses it lost as former ones.  Returns 0 when the current addresses
 * changed, 1 when they are what e had, -ENOMEM. */
static int he_memo_merge_nolock(struct he_memo *m, struct he_memo_entry *e, int fam_mask,
                                const struct he_addr *addrs, int n) {
    struct he_memo_link tmp[HE_MEMO_MAX_ADDRS + HE_MEMO_MAX_FORMER];
    int count = 0;
    memset(tmp, 0, sizeof tmp);
    for (int i = 0; i < n && count < HE_MEMO_MAX_ADDRS; i++) {
        if (!he_memo_has(tmp, count, &addrs[i])) {
            tmp[count++].addr = addrs[i];
        }
    }
    for (int i = 0; i < e->count && count < HE_MEMO_MAX_ADDRS; i++) {
        const struct he_addr *old = &e->links[i].addr;
        if (!(he_memo_fam_bit(old) & fam_mask) && !he_memo_has(tmp, count, old)) {
            tmp[count++].addr = *old;
        }
    }
    if (count == e->count && count > 0) {
        int same = 1;
        for (int i = 0; i < count && same; i++) {
            same = he_addr_equal(&tmp[i].addr, &e->links[i].addr);
        }
        if (same) {
            return 1;
        }
    }
    int current = count;
    if (current > 0) {
        he_memo_formers(e, tmp, current, &count);
    }
    /* Sized to fit: a name usually has a handful of addresses. */
    struct he_memo_link *links = NULL;
    if (count > 0) {
        links = calloc((size_t)count, sizeof *links);
        if (links == NULL) {
            return -ENOMEM;
        }
        for (int i = 0; i < count; i++) {
            links[i].addr = tmp[i].addr;
            links[i].former = tmp[i].former;
        }
    }
    he_memo_unlink_addrs_nolock(m, e);
    e->links = links;
    e->count = current;
    e->nformer = count - current;
    he_memo_link_addrs_nolock(m, e);
    return 0;
}

/* Records the answer's freshness.  Returns 1 when what a lookup reports
 * changed. */
static int he_memo_stamp_nolock(struct he_memo_entry *e, int fam_mask, int64_t expires_ms) {
    int changed = 0;
    for (int f = 0; f < 2; f++) {
        if ((fam_mask & (1 << f)) && e->expires[f] != expires_ms) {
            e->expires[f] = expires_ms;
            changed = 1;
        }
    }
    changed |= (e->fam_known | fam_mask) != e->fam_known;
    e->fam_known |= fam_mask;
    return changed;
}

/* Whether this thread's last learn was exactly this one and nothing has
 * changed anywhere since. */
/* Re-learning the same answer within this long is not worth the lock: the
 * name's freshness moves by less than that. */
#define HE_MEMO_RESTAMP_MS 1000

static int he_memo_tlearn_same(const struct he_memo *m, const char *norm, int fam_mask,
                               const struct he_addr *addrs, int n, uint64_t who,
                               int64_t expires_ms) {
    const struct he_memo_tlearn *t = &he_memo_tlearn;
    return t->m == m && expires_ms >= t->expires_ms &&
           expires_ms - t->expires_ms < HE_MEMO_RESTAMP_MS && t->gen == he_memo_gen_now() &&
           t->who_gen == __atomic_load_n(&he_memo_who_gen, __ATOMIC_ACQUIRE) && t->who == who &&
           t->fam_mask == fam_mask && t->n == n && n <= HE_MEMO_MAX_ADDRS &&
           strcmp(t->name, norm) == 0 &&
           (n == 0 || memcmp(t->addrs, addrs, (size_t)n * sizeof *addrs) == 0);
}

/* Called with the lock held, right after this thread's change. */
static void he_memo_tlearn_note(const struct he_memo *m, const char *norm, int fam_mask,
                                const struct he_addr *addrs, int n, uint64_t who,
                                int64_t expires_ms) {
    struct he_memo_tlearn *t = &he_memo_tlearn;
    t->gen = 0;
    if (n > HE_MEMO_MAX_ADDRS) {
        return;
    }
    t->m = m;
    t->who = who;
    t->expires_ms = expires_ms;
    t->fam_mask = fam_mask;
    t->n = n;
    memcpy(t->name, norm, strlen(norm) + 1);
    if (n > 0) {
        memcpy(t->addrs, addrs, (size_t)n * sizeof *addrs);
    }
    t->gen = he_memo_gen_now();
    t->who_gen = __atomic_load_n(&he_memo_who_gen, __ATOMIC_ACQUIRE);
}

static int he_memo_trecent_match(const struct he_memo_trecent *r, const struct he_memo *m,
                                  const struct he_memo_entry *e, uint64_t who) {
    return r->m == m && r->e == e && r->id == e->id && r->who == who;
}

/* Notes that who resolved e just now (e->seq).  Lock held. */
static void he_memo_trecent_note_nolock(const struct he_memo *m, const struct he_memo_entry *e,
                                        uint64_t who) {
    struct he_memo_trecent *slot = NULL;
    for (int i = 0; i < HE_MEMO_TRECENT_SLOTS && slot == NULL; i++) {
        if (he_memo_trecent_match(&he_memo_trecent[i], m, e, who)) {
            slot = &he_memo_trecent[i];
        }
    }
    if (slot == NULL) {
        slot = &he_memo_trecent[he_memo_trecent_next++ % HE_MEMO_TRECENT_SLOTS];
        *slot = (struct he_memo_trecent){m, e, e->id, who, 0};
    }
    slot->seq = e->seq;
}

/* When who last resolved e, as a learn seq: 0 when it never did (or did
 * longer ago than this thread remembers).  Lock held. */
static uint64_t he_memo_mine_seq_nolock(const struct he_memo *m, const struct he_memo_entry *e,
                                        uint64_t who) {
    uint64_t seq = e->who == who ? e->seq : 0;
    for (int i = 0; i < HE_MEMO_TRECENT_SLOTS; i++) {
        const struct he_memo_trecent *r = &he_memo_trecent[i];
        if (he_memo_trecent_match(r, m, e, who) && r->seq > seq) {
            seq = r->seq;
        }
    }
    return seq;
}

/* Whether another name holds one of e's addresses. */
static int he_memo_shares_nolock(const struct he_memo *m, const struct he_memo_entry *e) {
    for (int i = 0; i < e->count; i++) {
        const struct he_addr *a = &e->links[i].addr;
        for (const struct he_memo_link *l = m->by_addr[he_addr_hash(a) & (m->nbuckets - 1)]; l;
             l = l->next) {
            if (l->entry != e && he_addr_equal(&l->addr, a)) {
                return 1;
            }
        }
    }
    return 0;
}

int he_memo_learn(struct he_memo *m, const char *name, int fam_mask, const struct he_addr *addrs,
                  int n, uint64_t who, int64_t expires_ms) {
    char norm[HE_MEMO_NAME_MAX];
    int len = he_memo_normalise(name, norm);
    if (len < 0) {
        return len;
    }
    if (he_memo_tlearn_same(m, norm, fam_mask, addrs, n, who, expires_ms)) {
        return 0;
    }
    uint32_t hash = he_memo_name_hash(norm);
    sigset_t old;
    he_memo_lock(m, &old);
    int rc = 0, changed = 0;
    struct he_memo_entry *e = he_memo_find_nolock(m, norm, hash);
    if (e == NULL && n > 0) {
        e = he_memo_create_nolock(m, norm, (size_t)len, hash);
        rc = e ? 0 : -ENOMEM;
        changed = 1;
    }
    if (e) {
        rc = he_memo_merge_nolock(m, e, fam_mask, addrs, n);
        changed |= rc == 0;
        rc = rc > 0 ? 0 : rc;
        if (rc == 0 && e->count == 0) {
            he_memo_drop_nolock(m, e);
        } else if (rc == 0) {
            changed |= he_memo_stamp_nolock(e, fam_mask, expires_ms);
            /* Who resolved a name most recently decides shared addresses
             * (he_memo_pick_nolock): that is a change too. */
            changed |= (e->who != who || e->seq != m->seq) && he_memo_shares_nolock(m, e);
            if (e->who != who) {
                __atomic_add_fetch(&he_memo_who_gen, 1, __ATOMIC_RELEASE);
            }
            e->who = who;
            e->seq = ++m->seq;
            he_memo_trecent_note_nolock(m, e, who);
            he_memo_touch_nolock(m, e);
        }
    }
    if (rc == 0) {
        __atomic_store_n(&m->learned, 1, __ATOMIC_RELEASE);
        /* An answer that changes nothing (another thread resolving the same
         * name) leaves every thread's cached lookups valid. */
        if (changed) {
            he_memo_gen_bump();
        }
        he_memo_tlearn_note(m, norm, fam_mask, addrs, n, who, expires_ms);
    }
    he_memo_unlock(m, &old);
    return rc;
}

/* Whether a and b hold the same current addresses, in any order: two
 * names for one set of addresses (aliases) race the same siblings, so an
 * address they share is not ambiguous. */
static int he_memo_same_addrs(const struct he_memo_entry *a, const struct he_memo_entry *b) {
    if (a->count != b->count) {
        return 0;
    }
    for (int i = 0; i < a->count; i++) {
        if (!he_memo_has(b->links, b->count, &a->links[i].addr)) {
            return 0;
        }
    }
    return 1;
}

/* Whether every entry holding addr (links of one kind) has latest's
 * addresses. */
static int he_memo_all_aliases_nolock(struct he_memo *m, const struct he_addr *addr, int former,
                                      const struct he_memo_entry *latest) {
    for (struct he_memo_link *l = m->by_addr[he_addr_hash(addr) & (m->nbuckets - 1)]; l;
         l = l->next) {
        if (l->former == former && he_addr_equal(&l->addr, addr) &&
            !he_memo_same_addrs(l->entry, latest)) {
            return 0;
        }
    }
    return 1;
}

/* Picks the entry addr belongs to among the links of one kind (current or
 * former): the only one; else the one who resolved most recently; else,
 * when every name holding addr has the same addresses, the most recently
 * resolved.  Returns NULL with *rc set when there is none (-ENOENT) or the
 * address is ambiguous (-ENOTUNIQ). */
static struct he_memo_entry *he_memo_pick_kind_nolock(struct he_memo *m, const struct he_addr *addr,
                                                      uint64_t who, int former, int *rc) {
    struct he_memo_entry *only = NULL, *mine = NULL, *latest = NULL;
    uint64_t mine_seq = 0;
    int distinct = 0;
    for (struct he_memo_link *l = m->by_addr[he_addr_hash(addr) & (m->nbuckets - 1)]; l;
         l = l->next) {
        if (l->former != former || !he_addr_equal(&l->addr, addr)) {
            continue;
        }
        if (l->entry != only) {
            distinct++;
            only = l->entry;
        }
        if (latest == NULL || l->entry->seq > latest->seq) {
            latest = l->entry;
        }
        uint64_t seq = he_memo_mine_seq_nolock(m, l->entry, who);
        if (seq > mine_seq) {
            mine_seq = seq;
            mine = l->entry;
        }
    }
    if (distinct == 0) {
        *rc = -ENOENT;
        return NULL;
    }
    if (distinct == 1) {
        return only;
    }
    *rc = -ENOTUNIQ;
    if (mine == NULL && he_memo_all_aliases_nolock(m, addr, former, latest)) {
        return latest;
    }
    return mine;
}

/* A name that holds addr now goes before one that used to. */
static struct he_memo_entry *he_memo_pick_nolock(struct he_memo *m, const struct he_addr *addr,
                                                 uint64_t who, int *rc, int *former) {
    *former = 0;
    struct he_memo_entry *e = he_memo_pick_kind_nolock(m, addr, who, 0, rc);
    if (e == NULL && *rc == -ENOENT) {
        *former = 1;
        e = he_memo_pick_kind_nolock(m, addr, who, 1, rc);
    }
    return e;
}

static void he_memo_answer_copy(struct he_memo_answer *to, const struct he_memo_answer *from) {
    memcpy(to->name, from->name, strlen(from->name) + 1);
    to->count = from->count;
    to->fam_known = from->fam_known;
    to->former = from->former;
    to->fam_expires[0] = from->fam_expires[0];
    to->fam_expires[1] = from->fam_expires[1];
    memcpy(to->addrs, from->addrs, (size_t)from->count * sizeof from->addrs[0]);
}

/* Answers from this thread's cache.  Returns 1 and sets *rc (and *out when
 * *rc is 0) on a hit. */
static int he_memo_tcache_get(const struct he_memo *m, const struct he_addr *addr, uint64_t who,
                              uint64_t gen, struct he_memo_answer *out, int *rc) {
    struct he_memo_tcache *c = &he_memo_tcache[he_addr_hash(addr) % HE_MEMO_TCACHE_SLOTS];
    unsigned seq = c->seq;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if ((seq & 1) || c->gen != gen || c->m != m || c->who != who || !he_addr_equal(&c->key, addr)) {
        return 0;
    }
    *rc = c->rc;
    if (*rc == 0) {
        he_memo_answer_copy(out, &c->ans);
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return c->seq == seq;
}

static void he_memo_tcache_put(const struct he_memo *m, const struct he_addr *addr, uint64_t who,
                               uint64_t gen, int rc, const struct he_memo_answer *ans) {
    struct he_memo_tcache *c = &he_memo_tcache[he_addr_hash(addr) % HE_MEMO_TCACHE_SLOTS];
    if (c->seq & 1) {
        return; /* a signal handler on top of a write in progress: skip */
    }
    c->seq++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    c->gen = gen;
    c->m = m;
    c->who = who;
    c->key = *addr;
    c->rc = rc;
    if (rc == 0) {
        he_memo_answer_copy(&c->ans, ans);
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    c->seq++;
}

static int he_memo_lookup_locked(struct he_memo *m, const struct he_addr *addr, uint64_t who,
                                 struct he_memo_answer *out) {
    sigset_t old;
    he_memo_lock(m, &old);
    int rc = 0, former;
    struct he_memo_entry *e = he_memo_pick_nolock(m, addr, who, &rc, &former);
    if (e) {
        rc = 0;
        memcpy(out->name, e->name, strlen(e->name) + 1);
        out->count = e->count;
        out->fam_known = e->fam_known;
        out->former = former;
        for (int f = 0; f < 2; f++) {
            out->fam_expires[f] = (e->fam_known & (1 << f)) ? e->expires[f] : 0;
        }
        for (int i = 0; i < e->count; i++) {
            out->addrs[i] = e->links[i].addr;
        }
        he_memo_touch_nolock(m, e);
    }
    he_memo_unlock(m, &old);
    return rc;
}

int he_memo_lookup(struct he_memo *m, const struct he_addr *addr, uint64_t who,
                   struct he_memo_answer *out) {
    if (he_memo_is_empty(m)) {
        return -ENOENT;
    }
    /* Read before the lookup: a change that lands meanwhile leaves the
     * cached answer already stale, never wrongly current. */
    uint64_t gen = he_memo_gen_now();
    int rc;
    if (he_memo_tcache_get(m, addr, who, gen, out, &rc)) {
        return rc;
    }
    rc = he_memo_lookup_locked(m, addr, who, out);
    he_memo_tcache_put(m, addr, who, gen, rc, out);
    return rc;
}

int he_memo_is_empty(const struct he_memo *m) {
    return __atomic_load_n(&m->learned, __ATOMIC_ACQUIRE) == 0;
}

/* Takes the lock and finds name's entry: NULL when there is none (or the
 * name is not one).  The caller unlocks. */
static struct he_memo_entry *he_memo_find_locked(struct he_memo *m, const char *name,
                                                 sigset_t *old) {
    char norm[HE_MEMO_NAME_MAX];
    int ok = he_memo_normalise(name, norm) >= 0;
    he_memo_lock(m, old);
    return ok ? he_memo_find_nolock(m, norm, he_memo_name_hash(norm)) : NULL;
}

int he_memo_restamp(struct he_memo *m, const char *name, int fam_mask, int64_t expires_ms) {
    sigset_t old;
    struct he_memo_entry *e = he_memo_find_locked(m, name, &old);
    int changed = 0;
    for (int f = 0; e && f < 2; f++) {
        if ((fam_mask & e->fam_known & (1 << f)) && e->expires[f] < expires_ms) {
            e->expires[f] = expires_ms;
            changed = 1;
        }
    }
    if (changed) {
        he_memo_gen_bump();
    }
    he_memo_unlock(m, &old);
    return changed;
}

int he_memo_refresh_claim(struct he_memo *m, const char *name, int64_t now_ms, int64_t min_gap_ms) {
    sigset_t old;
    struct he_memo_entry *e = he_memo_find_locked(m, name, &old);
    int claimed = e && (e->refresh_ms == 0 || now_ms - e->refresh_ms >= min_gap_ms);
    if (claimed) {
        e->refresh_ms = now_ms;
    }
    he_memo_unlock(m, &old);
    return claimed;
}

size_t he_memo_count(struct he_memo *m) {
    sigset_t old;
    he_memo_lock(m, &old);
    size_t n = m->names;
    he_memo_unlock(m, &old);
    return n;
}

void he_memo_free(struct he_memo *m) {
    if (m == NULL) {
        return;
    }
    he_memo_gen_bump();
    while (m->lru_head) {
        he_memo_drop_nolock(m, m->lru_head);
    }
    free(m->by_name);
    free(m->by_addr);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void he_memo_fork_prepare(struct he_memo *m) {
    he_memo_lock(m, &m->fork_mask);
}

void he_memo_fork_parent(struct he_memo *m) {
    he_memo_unlock(m, &m->fork_mask);
}

/* The child has one thread, the one that forked, and it holds the lock. */
void he_memo_fork_child(struct he_memo *m) {
    pthread_mutex_init(&m->lock, NULL);
    pthread_sigmask(SIG_SETMASK, &m->fork_mask, NULL);
}

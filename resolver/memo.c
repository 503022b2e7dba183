#include "memo_int.h"

#include "../common/lock.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Starts at 1: a zeroed cache entry is never current. */
uint64_t he_memo_gen = 1;

static void he_memo_gen_bump(void) {
    __atomic_add_fetch(&he_memo_gen, 1, __ATOMIC_RELEASE);
}

/* Bumped (under the lock) whenever a learn changes which thread resolved a
 * name last, even when nothing else changes: a thread's "same as my last
 * learn" shortcut is then no longer safe to take, though cached lookups
 * may still be (he_memo_gen decides those). */
static uint64_t he_memo_who_gen = 1;

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

/* Ids start at 1: a zeroed slot never matches. */
static uint64_t he_memo_next_id;

/* The lock is held with all signals blocked (common/lock.h). */
void he_memo_lock(struct he_memo *m, sigset_t *old) {
    he_lock_signals(&m->lock, old);
}

void he_memo_unlock(struct he_memo *m, const sigset_t *old) {
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

void he_memo_touch_nolock(struct he_memo *m, struct he_memo_entry *e) {
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

int he_memo_has(const struct he_memo_link *links, int n, const struct he_addr *a) {
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

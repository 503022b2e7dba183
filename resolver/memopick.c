/* Which name an address belongs to (he_memo_lookup), and the records of
 * the calling thread that decide it when several names hold the address:
 * the names it resolved most recently, and its last few answers. */
#include "memo_int.h"

#include <errno.h>
#include <string.h>

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

static int he_memo_trecent_match(const struct he_memo_trecent *r, const struct he_memo *m,
                                 const struct he_memo_entry *e, uint64_t who) {
    return r->m == m && r->e == e && r->id == e->id && r->who == who;
}

/* Notes that who resolved e just now (e->seq).  Lock held. */
void he_memo_trecent_note_nolock(const struct he_memo *m, const struct he_memo_entry *e,
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

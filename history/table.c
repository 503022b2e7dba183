/* The history table's slots: lock words, checksums, probing, eviction
 * (history/table.h).  No system call, no lock held across anything. */
#include "table.h"

#include <errno.h>
#include <string.h>

/* A slot is eight words: the lock word, then the payload. */
#define HE_HIST_WORDS (HE_HIST_SLOT_SIZE / 8)
/* Tries at a slot another writer holds, or that moved under a reader. */
#define HE_HIST_TRIES 4

_Static_assert(sizeof(struct he_hist_header) == HE_HIST_HEADER_SIZE, "header is 64 bytes");

size_t he_hist_table_size(uint32_t nslots) {
    return HE_HIST_HEADER_SIZE + (size_t)nslots * HE_HIST_SLOT_SIZE;
}

void he_hist_header_make(struct he_hist_header *h, uint32_t nslots, uint64_t seed) {
    memset(h, 0, sizeof *h);
    h->magic = HE_HIST_MAGIC;
    h->version = HE_HIST_VERSION;
    h->header_size = HE_HIST_HEADER_SIZE;
    h->slot_size = HE_HIST_SLOT_SIZE;
    h->nslots = nslots;
    h->seed = seed;
    h->total_size = he_hist_table_size(nslots);
}

void he_hist_table_format(void *mem, uint32_t nslots, uint64_t seed) {
    memset(mem, 0, he_hist_table_size(nslots));
    he_hist_header_make(mem, nslots, seed);
}

int he_hist_header_check(const struct he_hist_header *h, size_t size) {
    if (h->magic != HE_HIST_MAGIC) {
        return -EBADMSG;
    }
    if (h->version != HE_HIST_VERSION || h->header_size != HE_HIST_HEADER_SIZE ||
        h->slot_size != HE_HIST_SLOT_SIZE) {
        return -EPROTO;
    }
    if (h->nslots < HE_HIST_SLOTS_MIN || h->nslots > HE_HIST_SLOTS_MAX ||
        (h->nslots & (h->nslots - 1)) != 0 || h->total_size != he_hist_table_size(h->nslots) ||
        h->total_size > size) {
        return -EMSGSIZE;
    }
    return 0;
}

int he_hist_table_open(struct he_hist_table *t, void *mem, size_t size) {
    if (mem == NULL || size < HE_HIST_HEADER_SIZE) {
        return -EMSGSIZE;
    }
    struct he_hist_header h;
    memcpy(&h, mem, sizeof h);
    int rc = he_hist_header_check(&h, size);
    if (rc != 0) {
        return rc;
    }
    t->slots = (uint64_t *)((char *)mem + HE_HIST_HEADER_SIZE);
    t->nslots = h.nslots;
    t->seed = h.seed;
    return 0;
}

/* ------------------------------------------------------------ encoding */

static uint64_t he_hist_addr_word(const struct he_hist_entry *e, int i) {
    uint64_t w;
    memcpy(&w, e->addr.bytes + 8 * i, 8);
    return w;
}

/* Where key's window starts: a hash seeded per file, so that names chosen
 * to collide on one machine do not collide on another. */
static uint32_t he_hist_home(const struct he_hist_table *t, const struct he_hist_entry *key) {
    uint64_t h = he_mix64(t->seed ^ key->netid);
    h = he_mix64(h ^ he_hist_addr_word(key, 0));
    h = he_mix64(h ^ he_hist_addr_word(key, 1));
    h = he_mix64(h ^ ((uint64_t)key->port << 16 | (uint64_t)key->addr.family << 8 | key->kind));
    return (uint32_t)h & (t->nslots - 1);
}

static uint32_t he_hist_check(const uint64_t *w, uint64_t seed) {
    uint64_t h = seed;
    for (int i = 1; i < HE_HIST_WORDS - 1; i++) {
        h = he_mix64(h ^ w[i]);
    }
    return (uint32_t)(h >> 32) | 1; /* never 0: an all-zero slot is empty */
}

/* The words a key is compared by (w[1..3], and w[4]'s low half). */
static void he_hist_encode_key(const struct he_hist_entry *e, uint64_t *w) {
    w[1] = e->netid;
    w[2] = he_hist_addr_word(e, 0);
    w[3] = he_hist_addr_word(e, 1);
    w[4] = (uint64_t)e->port | (uint64_t)e->addr.family << 16 | (uint64_t)e->kind << 24;
}

static void he_hist_encode(const struct he_hist_entry *e, uint64_t seed, uint64_t *w) {
    he_hist_encode_key(e, w);
    w[4] |= (uint64_t)e->outcome << 32 | (uint64_t)e->fails << 40;
    w[5] = (uint64_t)e->srtt_us | (uint64_t)e->rttvar_us << 32;
    w[6] = (uint64_t)e->outcome_at_s | (uint64_t)e->connected_at_s << 32;
    w[7] = he_hist_check(w, seed);
}

/* Returns 0 for a slot that holds a well-formed entry, else -ENOENT:
 * empty, torn, or garbage. */
static int he_hist_decode(const uint64_t *w, uint64_t seed, struct he_hist_entry *e) {
    if ((uint32_t)w[7] != he_hist_check(w, seed) || (w[7] >> 32) != 0 || (w[4] >> 48) != 0) {
        return -ENOENT;
    }
    memset(e, 0, sizeof *e);
    e->netid = w[1];
    memcpy(e->addr.bytes, &w[2], 8);
    memcpy(e->addr.bytes + 8, &w[3], 8);
    e->port = (uint16_t)w[4];
    e->addr.family = (uint8_t)(w[4] >> 16);
    e->kind = (uint8_t)(w[4] >> 24);
    e->outcome = (uint8_t)(w[4] >> 32);
    e->fails = (uint8_t)(w[4] >> 40);
    e->srtt_us = (uint32_t)w[5];
    e->rttvar_us = (uint32_t)(w[5] >> 32);
    e->outcome_at_s = (uint32_t)w[6];
    e->connected_at_s = (uint32_t)(w[6] >> 32);
    int fam_ok = e->addr.family == AF_INET || e->addr.family == AF_INET6;
    int kind_ok = e->kind == HE_HIST_ADDR || e->kind == HE_HIST_PREFIX;
    return fam_ok && kind_ok && e->outcome < HE_HIST_OUTCOMES ? 0 : -ENOENT;
}

static int he_hist_same_key(const struct he_hist_entry *a, const struct he_hist_entry *b) {
    return a->netid == b->netid && a->kind == b->kind && a->port == b->port &&
           a->addr.family == b->addr.family && memcmp(a->addr.bytes, b->addr.bytes, 16) == 0;
}

/* ------------------------------------------------------------ one slot */

static uint64_t *he_hist_slot(const struct he_hist_table *t, uint32_t i) {
    return t->slots + (size_t)(i & (t->nslots - 1)) * HE_HIST_WORDS;
}

/* Copies slot s as it stood between two equal, even readings of its lock
 * word (a seqlock read).  Returns 0, or -EBUSY while a writer holds it. */
static int he_hist_read(const uint64_t *s, uint64_t *w) {
    for (int k = 0; k < HE_HIST_TRIES; k++) {
        uint64_t l1 = __atomic_load_n(&s[0], __ATOMIC_ACQUIRE);
        if (l1 & 1) {
            continue;
        }
        for (int i = 1; i < HE_HIST_WORDS; i++) {
            w[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s[0], __ATOMIC_RELAXED) == l1) {
            return 0;
        }
    }
    return -EBUSY;
}

static int he_hist_read_entry(const struct he_hist_table *t, uint32_t i, struct he_hist_entry *e) {
    uint64_t w[HE_HIST_WORDS];
    int rc = he_hist_read(he_hist_slot(t, i), w);
    return rc != 0 ? rc : he_hist_decode(w, t->seed, e);
}

/* Whether a claim stamped claim_s is a live writer's at now_s: younger
 * than HE_HIST_STALE_CLAIM_S, or a little in the future (another process's
 * clock reading was taken a moment later than ours).  One far in the
 * future is garbage. */
static int he_hist_claim_live(uint32_t claim_s, uint32_t now_s) {
    int64_t age = (int64_t)now_s - (int64_t)claim_s;
    return age < HE_HIST_STALE_CLAIM_S && age > -HE_HIST_CLOCK_SKEW_S;
}

/* Claims slot s: the lock word goes odd, stamped with now_s.  A word left
 * odd for HE_HIST_STALE_CLAIM_S belongs to a writer that died, and is
 * taken over (it stays odd).  Returns the claimed word, or 0 when the slot
 * cannot be had now. */
static uint64_t he_hist_claim(uint64_t *s, uint32_t now_s) {
    for (int k = 0; k < HE_HIST_TRIES; k++) {
        uint64_t l = __atomic_load_n(&s[0], __ATOMIC_ACQUIRE);
        uint32_t seq = (uint32_t)l;
        if ((seq & 1) && he_hist_claim_live((uint32_t)(l >> 32), now_s)) {
            continue;
        }
        uint64_t mine = (uint64_t)now_s << 32 | (uint32_t)(seq + ((seq & 1) ? 2 : 1));
        if (__atomic_compare_exchange_n(&s[0], &l, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_thread_fence(__ATOMIC_RELEASE);
            return mine;
        }
    }
    return 0;
}

/* Gives slot s back, its payload w[1..) written.  Should the claim have
 * been taken over meanwhile (this writer stalled past
 * HE_HIST_STALE_CLAIM_S), nothing is written; a stall between that check
 * and the stores can still tear the payload, which then fails its
 * checksum. */
static void he_hist_release(uint64_t *s, uint64_t mine, const uint64_t *w) {
    if (__atomic_load_n(&s[0], __ATOMIC_ACQUIRE) != mine) {
        return; /* taken over while this writer stalled: its write is lost */
    }
    for (int i = 1; i < HE_HIST_WORDS; i++) {
        __atomic_store_n(&s[i], w[i], __ATOMIC_RELAXED);
    }
    uint64_t done = (mine & ~0xffffffffull) | (uint32_t)((uint32_t)mine + 1);
    __atomic_compare_exchange_n(&s[0], &mine, done, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ the table */

/* Whether raw slot w holds key, judged by the key's words alone; the
 * checksum is checked only for a match. */
static int he_hist_raw_match(const uint64_t *w, const uint64_t *kw) {
    return w[1] == kw[1] && w[2] == kw[2] && w[3] == kw[3] &&
           (w[4] & 0xffffffffull) == (kw[4] & 0xffffffffull);
}

/* A slot never written (or emptied): every payload word zero.  A key
 * lives at or before the first such slot of its window (he_hist_pick puts
 * it there), so a lookup stops at one: a miss in a table that is not full
 * reads a cache line or two, not the window's eight. */
static int he_hist_raw_empty(const uint64_t *w) {
    uint64_t any = 0;
    for (int i = 1; i < HE_HIST_WORDS; i++) {
        any |= w[i];
    }
    return any == 0;
}

int he_hist_table_get(const struct he_hist_table *t, const struct he_hist_entry *key,
                      struct he_hist_entry *out) {
    uint64_t kw[HE_HIST_WORDS], w[HE_HIST_WORDS];
    he_hist_encode_key(key, kw);
    uint32_t home = he_hist_home(t, key);
    for (uint32_t i = 0; i < HE_HIST_PROBE; i++) {
        if (he_hist_read(he_hist_slot(t, home + i), w) != 0) {
            continue;
        }
        if (he_hist_raw_empty(w)) {
            return -ENOENT;
        }
        if (he_hist_raw_match(w, kw) && he_hist_decode(w, t->seed, out) == 0) {
            return 0;
        }
    }
    return -ENOENT;
}

static uint32_t he_hist_last_use(const struct he_hist_entry *e) {
    return e->outcome_at_s > e->connected_at_s ? e->outcome_at_s : e->connected_at_s;
}

/* The slot of key's window to write: key's own (before the first empty
 * slot), else the first empty or garbage one, else one of another network,
 * else the least recently used.
 * When a writer holds a slot of the window (it may hold key's own: writing
 * elsewhere would make a second copy), that slot: the claim then fails,
 * unless its writer died (a stale claim), and a history can skip a write. */
static uint32_t he_hist_pick(const struct he_hist_table *t, const struct he_hist_entry *key) {
    uint32_t home = he_hist_home(t, key), best = home, held = UINT32_MAX;
    uint64_t best_score = UINT64_MAX;
    for (uint32_t i = 0; i < HE_HIST_PROBE; i++) {
        struct he_hist_entry e;
        uint64_t score;
        uint64_t w[HE_HIST_WORDS];
        int rc = he_hist_read(he_hist_slot(t, home + i), w);
        if (rc == -EBUSY) {
            held = held == UINT32_MAX ? home + i : held;
            continue;
        }
        if (he_hist_raw_empty(w)) {
            /* Past it, a lookup would not look: the key's place. */
            return held != UINT32_MAX ? held : home + i;
        }
        if ((rc = he_hist_decode(w, t->seed, &e)) != 0) {
            score = 0;
        } else if (he_hist_same_key(&e, key)) {
            return home + i;
        } else {
            score = (e.netid != key->netid ? 1 : 2ull << 32) + he_hist_last_use(&e);
        }
        if (score < best_score) {
            best_score = score;
            best = home + i;
        }
    }
    return held != UINT32_MAX ? held : best;
}

int he_hist_table_update(struct he_hist_table *t, const struct he_hist_entry *key, uint32_t now_s,
                         he_hist_update_fn fn, void *ctx) {
    uint64_t *s = he_hist_slot(t, he_hist_pick(t, key));
    uint64_t mine = he_hist_claim(s, now_s);
    if (mine == 0) {
        return -EBUSY;
    }
    uint64_t w[HE_HIST_WORDS];
    for (int i = 1; i < HE_HIST_WORDS; i++) {
        w[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
    }
    struct he_hist_entry e;
    if (he_hist_decode(w, t->seed, &e) != 0 || !he_hist_same_key(&e, key)) {
        e = *key; /* a new entry, or another key's slot taken over */
        e.outcome = HE_HIST_NONE;
        e.fails = 0;
        e.srtt_us = e.rttvar_us = e.outcome_at_s = e.connected_at_s = 0;
    }
    fn(&e, ctx);
    he_hist_encode(&e, t->seed, w);
    he_hist_release(s, mine, w);
    return 0;
}

int he_hist_table_walk(const struct he_hist_table *t, he_hist_walk_fn fn, void *ctx) {
    int n = 0;
    for (uint32_t i = 0; i < t->nslots; i++) {
        struct he_hist_entry e;
        if (he_hist_read_entry(t, i, &e) == 0) {
            fn(&e, ctx);
            n++;
        }
    }
    return n;
}

int he_hist_table_clear(struct he_hist_table *t, uint32_t now_s) {
    static const uint64_t empty[HE_HIST_WORDS];
    int left = 0;
    for (uint32_t i = 0; i < t->nslots; i++) {
        uint64_t *s = he_hist_slot(t, i);
        uint64_t mine = he_hist_claim(s, now_s);
        if (mine == 0) {
            left++;
            continue;
        }
        he_hist_release(s, mine, empty);
    }
    return left;
}

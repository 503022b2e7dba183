/* libFuzzer target: the history table (history/table.c) over a hostile
 * file, and the rules (history/rules.c) over what it holds.
 *
 * The input is the bytes of a history file as found on disk: garbage,
 * short, of another version or size, with torn slots and lock words left
 * odd by writers that died.  A region that does not open must be refused
 * with one of the three errors table.h names; one that opens must fit the
 * input.  Then every entry a walk yields must be well formed and classify
 * at any time; gets and updates of keys the input chooses (some of them
 * the entries found) must agree: what an update just wrote reads back.
 * Last, a clear must empty every slot but those it reports left, and one
 * HE_HIST_STALE_CLAIM_S later every slot.  The header's spare words are
 * not checked by the table, so the script of operations starts there: the
 * fuzzer can steer it without breaking the table. */
#include "../../history/rules.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HE_FUZZ_OPS 64
#define HE_FUZZ_KEYS 8       /* entries found by the walk, reused as keys */
#define HE_FUZZ_SCRIPT_AT 40 /* offsetof(struct he_hist_header, spare) */

static void he_fuzz_check(int ok) {
    if (!ok) {
        abort();
    }
}

/* The input read again as the script of operations, from the header's
 * spare words on and round again; 0 when there is no input. */
struct he_fuzz_in {
    const uint8_t *p;
    size_t n, at;
};

static uint8_t he_fuzz_byte(struct he_fuzz_in *in) {
    return in->n == 0 ? 0 : in->p[in->at++ % in->n];
}

static uint32_t he_fuzz_u32(struct he_fuzz_in *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = v << 8 | he_fuzz_byte(in);
    }
    return v;
}

static int he_fuzz_same_key(const struct he_hist_entry *a, const struct he_hist_entry *b) {
    return a->netid == b->netid && a->kind == b->kind && a->port == b->port &&
           a->addr.family == b->addr.family && memcmp(a->addr.bytes, b->addr.bytes, 16) == 0;
}

static int he_fuzz_same_entry(const struct he_hist_entry *a, const struct he_hist_entry *b) {
    return he_fuzz_same_key(a, b) && a->outcome == b->outcome && a->fails == b->fails &&
           a->srtt_us == b->srtt_us && a->rttvar_us == b->rttvar_us &&
           a->outcome_at_s == b->outcome_at_s && a->connected_at_s == b->connected_at_s;
}

static int he_fuzz_failure(unsigned o) {
    return o == HE_HIST_REFUSED || o == HE_HIST_TIMEDOUT || o == HE_HIST_UNREACH;
}

/* The rules' promises for e at now_s, whatever garbage its times hold. */
static void he_fuzz_rules(const struct he_hist_conf *conf, const struct he_hist_entry *e,
                          uint32_t now_s) {
    enum he_hist_class c = he_hist_classify(conf, e, now_s);
    he_fuzz_check(c == HE_HIST_GOOD || c == HE_HIST_UNKNOWN || c == HE_HIST_BAD);
    he_fuzz_check(e->outcome != HE_HIST_NONE || c == HE_HIST_UNKNOWN);
    he_fuzz_check(c != HE_HIST_BAD || he_fuzz_failure(e->outcome));
    he_fuzz_check(c != HE_HIST_GOOD || he_hist_has_rtt(e, now_s));
    if (he_hist_has_rtt(e, now_s)) {
        /* rules.h: [min_delay_ms, max_delay_ms] within [floor, ceiling];
         * a maximum below the minimum wins. */
        int lo = conf->min_delay_ms > HE_HIST_DELAY_FLOOR_MS ? conf->min_delay_ms
                                                             : HE_HIST_DELAY_FLOOR_MS;
        int hi =
            conf->max_delay_ms < HE_HIST_DELAY_CEIL_MS ? conf->max_delay_ms : HE_HIST_DELAY_CEIL_MS;
        int d = he_hist_delay_ms(conf, e);
        he_fuzz_check(d <= hi && d >= (lo < hi ? lo : hi));
    }
}

struct he_fuzz_walk {
    const struct he_hist_conf *conf;
    uint32_t now_s;
    int n;
    struct he_hist_entry keys[HE_FUZZ_KEYS];
    int nkeys;
};

static void he_fuzz_walked(const struct he_hist_entry *e, void *ctx) {
    struct he_fuzz_walk *w = ctx;
    he_fuzz_check(e->addr.family == AF_INET || e->addr.family == AF_INET6);
    he_fuzz_check(e->kind == HE_HIST_ADDR || e->kind == HE_HIST_PREFIX);
    he_fuzz_check(e->outcome < HE_HIST_OUTCOMES);
    /* The edges of each window the entry's times open, and far away. */
    uint32_t win = he_hist_window_s(w->conf, e->fails);
    const uint32_t nows[] = {0,
                             1,
                             w->now_s,
                             e->outcome_at_s,
                             e->outcome_at_s + win - 1,
                             e->outcome_at_s + win,
                             e->connected_at_s + HE_HIST_RTT_AGE_S - 1,
                             e->connected_at_s + HE_HIST_RTT_AGE_S,
                             UINT32_MAX};
    for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
        he_fuzz_rules(w->conf, e, nows[i]);
    }
    if (w->nkeys < HE_FUZZ_KEYS) {
        w->keys[w->nkeys++] = *e;
    }
    w->n++;
}

/* A walk whose entries are all checked; returns how many it yielded. */
static int he_fuzz_walk(const struct he_hist_table *t, struct he_fuzz_walk *w) {
    w->n = 0;
    int n = he_hist_table_walk(t, he_fuzz_walked, w);
    he_fuzz_check(n == w->n && n >= 0 && (uint32_t)n <= t->nslots);
    return n;
}

/* Failure windows as HE_HISTORY_WINDOW_S and _MAX_S may set them, delays
 * as HE_MIN_ATTEMPT_DELAY_MS and HE_ATTEMPT_DELAY_MS may. */
static void he_fuzz_conf(struct he_fuzz_in *in, struct he_hist_conf *conf) {
    conf->window_s = 1 + (int)(he_fuzz_u32(in) % 86400);
    conf->window_max_s = conf->window_s + (int)(he_fuzz_u32(in) % (86401 - conf->window_s));
    conf->min_delay_ms = (int)(he_fuzz_u32(in) % 5000);
    conf->max_delay_ms = (int)(he_fuzz_u32(in) % 5000);
    for (unsigned fails = 0; fails < 256; fails += 17) {
        uint32_t win = he_hist_window_s(conf, fails);
        he_fuzz_check(win >= (uint32_t)conf->window_s && win <= (uint32_t)conf->window_max_s);
    }
}

/* A key for the next operation: one of the entries found, or one of a few
 * hundred destinations of two networks (so that windows fill and evict). */
static void he_fuzz_key(struct he_fuzz_in *in, const struct he_fuzz_walk *w,
                        struct he_hist_entry *k) {
    uint8_t b = he_fuzz_byte(in);
    struct he_hist_entry found = {0};
    if ((b & 0x80) && w->nkeys > 0) {
        found = w->keys[b % w->nkeys];
    }
    memset(k, 0, sizeof *k);
    if (found.kind != 0) {
        k->netid = found.netid;
        k->addr = found.addr;
        k->port = found.port;
        k->kind = found.kind;
        return;
    }
    k->netid = 1 + (b >> 5 & 1);
    k->kind = (b & 1) ? HE_HIST_PREFIX : HE_HIST_ADDR;
    k->port = k->kind == HE_HIST_PREFIX ? 0 : (b & 4) ? 443 : 80;
    k->addr.family = (b & 2) ? AF_INET6 : AF_INET;
    uint8_t last = he_fuzz_byte(in) & 31;
    if (k->addr.family == AF_INET) {
        memcpy(k->addr.bytes, (const uint8_t[]){192, 0, 2, last}, 4);
    } else {
        memcpy(k->addr.bytes, (const uint8_t[]){0x20, 0x01, 0x0d, 0xb8}, 4);
        k->addr.bytes[15] = last;
    }
}

/* The update fn: one outcome noted, and what it left kept for the read
 * back. */
struct he_fuzz_note {
    const struct he_hist_entry *key;
    enum he_hist_outcome o;
    uint32_t rtt_us, now_s;
    int called;
    struct he_hist_entry after;
};

static void he_fuzz_apply(struct he_hist_entry *e, void *ctx) {
    struct he_fuzz_note *n = ctx;
    he_fuzz_check(he_fuzz_same_key(e, n->key) && e->outcome < HE_HIST_OUTCOMES);
    he_hist_note(e, n->o, n->rtt_us, n->now_s);
    n->after = *e;
    n->called++;
}

static void he_fuzz_get(const struct he_hist_table *t, const struct he_hist_entry *key) {
    struct he_hist_entry out;
    int rc = he_hist_table_get(t, key, &out);
    he_fuzz_check(rc == 0 || rc == -ENOENT);
    if (rc == 0) {
        he_fuzz_check(he_fuzz_same_key(&out, key) && out.outcome < HE_HIST_OUTCOMES);
    }
}

static void he_fuzz_update(struct he_hist_table *t, const struct he_hist_entry *key,
                           struct he_fuzz_in *in, uint32_t now_s) {
    /* One statement each: an initializer's order of evaluation is not. */
    struct he_fuzz_note n = {.key = key, .now_s = now_s};
    n.o = he_fuzz_byte(in) % HE_HIST_OUTCOMES;
    n.rtt_us = he_fuzz_u32(in);
    int rc = he_hist_table_update(t, key, now_s, he_fuzz_apply, &n);
    he_fuzz_check((rc == 0 && n.called == 1) || (rc == -EBUSY && n.called == 0));
    if (rc == 0) {
        /* The buffer is this call's alone: nobody wrote since. */
        struct he_hist_entry out;
        he_fuzz_check(he_hist_table_get(t, key, &out) == 0);
        he_fuzz_check(he_fuzz_same_entry(&out, &n.after));
    }
}

/* Slots whose lock word is odd with a claim a live writer could hold at
 * now_s: younger than HE_HIST_STALE_CLAIM_S, or less than
 * HE_HIST_CLOCK_SKEW_S in the future. */
static int he_fuzz_live_claims(const struct he_hist_table *t, uint32_t now_s) {
    int n = 0;
    for (uint32_t i = 0; i < t->nslots; i++) {
        uint64_t l = t->slots[(size_t)i * 8];
        int64_t age = (int64_t)now_s - (int64_t)(uint32_t)(l >> 32);
        n += (l & 1) && age < HE_HIST_STALE_CLAIM_S && age > -HE_HIST_CLOCK_SKEW_S;
    }
    return n;
}

/* The table in the input, opened and used. */
static void he_fuzz_table(struct he_hist_table *t, const uint8_t *data, size_t size) {
    struct he_fuzz_in in = {data, size, HE_FUZZ_SCRIPT_AT};
    struct he_hist_conf conf;
    he_fuzz_conf(&in, &conf);
    uint32_t base = he_fuzz_u32(&in);
    he_fuzz_check(he_hist_classify(&conf, NULL, base) == HE_HIST_UNKNOWN);
    struct he_fuzz_walk w = {.conf = &conf, .now_s = base};
    he_fuzz_walk(t, &w);

    for (int op = 0; op < HE_FUZZ_OPS; op++) {
        uint8_t b = he_fuzz_byte(&in);
        struct he_hist_entry key;
        he_fuzz_key(&in, &w, &key);
        /* Mostly seconds near each other, now and then any time at all. */
        uint32_t now_s = b >= 0xf0 ? he_fuzz_u32(&in) : base + (b >> 4);
        if (b & 1) {
            he_fuzz_get(t, &key);
        } else {
            he_fuzz_update(t, &key, &in, now_s);
        }
    }

    /* What a clear could not have must still be held now; a stale claim
     * later, every slot can be had but those a writer claimed at most
     * HE_HIST_CLOCK_SKEW_S in the future (a live writer's, to the table),
     * and nothing can be read. */
    uint32_t now_s = base + 16;
    int left = he_hist_table_clear(t, now_s);
    he_fuzz_check(left >= 0 && (uint32_t)left <= t->nslots);
    he_fuzz_check(he_fuzz_walk(t, &w) <= left);
    uint32_t later = now_s + HE_HIST_STALE_CLAIM_S;
    he_fuzz_check(he_hist_table_clear(t, later) == he_fuzz_live_claims(t, later));
    he_fuzz_check(he_fuzz_walk(t, &w) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The table's words are 8-byte atomics: a mapped file is page-aligned.
     * Exactly size bytes, so that a read past the input is caught. */
    void *mem = NULL;
    if (posix_memalign(&mem, 64, size > 0 ? size : 1) != 0) {
        return 0;
    }
    if (size > 0) {
        memcpy(mem, data, size);
    }
    struct he_hist_table t;
    int rc = he_hist_table_open(&t, mem, size);
    if (rc != 0) {
        he_fuzz_check(rc == -EBADMSG || rc == -EPROTO || rc == -EMSGSIZE);
        /* "Not a table" is the magic's verdict alone: file.c words its
         * warning on it. */
        uint64_t magic = 0;
        if (size >= sizeof magic) {
            memcpy(&magic, data, sizeof magic);
        }
        he_fuzz_check((rc == -EBADMSG) == (size >= HE_HIST_HEADER_SIZE && magic != HE_HIST_MAGIC));
        free(mem);
        return 0;
    }
    he_fuzz_check(t.nslots >= HE_HIST_SLOTS_MIN && t.nslots <= HE_HIST_SLOTS_MAX &&
                  (t.nslots & (t.nslots - 1)) == 0);
    he_fuzz_check(he_hist_table_size(t.nslots) <= size);
    he_fuzz_check((char *)t.slots == (char *)mem + HE_HIST_HEADER_SIZE);
    he_fuzz_table(&t, data, size);
    free(mem);
    return 0;
}

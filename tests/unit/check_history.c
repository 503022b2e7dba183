/* Unit tests for the connection history (history/): the rules (failure
 * windows and their backoff, RTT smoothing and the delay derived from it,
 * convergence), the table (partitioning by network, eviction, a damaged
 * region) and the plan a race gets from it (order, the own address's
 * place, the delay).  Time is a number the rows give. */
#include "../../history/plan.h"

#include "addrs.h"

#include "he_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct he_hist_conf conf = {
    .window_s = 30, .window_max_s = 600, .min_delay_ms = 100, .max_delay_ms = 2000};

/* ------------------------------------------------------------------ rules */

/* The failure window: 30 s, doubling per consecutive failure, capped. */
static const struct {
    unsigned fails;
    uint32_t window_s;
} window_rows[] = {{1, 30}, {2, 60}, {3, 120}, {4, 240}, {5, 480}, {6, 600}, {7, 600}, {255, 600}};

START_TEST(test_window) {
    ck_assert_uint_eq(he_hist_window_s(&conf, window_rows[_i].fails), window_rows[_i].window_s);
}
END_TEST

/* A life of one address: each step an outcome at a time, then what the
 * class is at a later time, and the consecutive failures. */
struct life_step {
    enum he_hist_outcome o; /* NONE: no outcome, only a look */
    uint32_t at_s;
    uint32_t look_s;
    enum he_hist_class cls;
    unsigned fails;
};

#define LIFE_MAX 6
static const struct {
    const char *name;
    struct life_step step[LIFE_MAX];
} life_rows[] = {
    {"never seen", {{HE_HIST_NONE, 0, 100, HE_HIST_UNKNOWN, 0}}},
    {"connected is good, then ages out",
     {{HE_HIST_CONNECTED, 100, 101, HE_HIST_GOOD, 0},
      {HE_HIST_NONE, 0, 100 + HE_HIST_RTT_AGE_S - 1, HE_HIST_GOOD, 0},
      {HE_HIST_NONE, 0, 100 + HE_HIST_RTT_AGE_S, HE_HIST_UNKNOWN, 0}}},
    {"a refusal is believed 30 s",
     {{HE_HIST_REFUSED, 100, 129, HE_HIST_BAD, 1}, {HE_HIST_NONE, 0, 130, HE_HIST_UNKNOWN, 1}}},
    {"repeated timeouts double the window",
     {{HE_HIST_TIMEDOUT, 100, 101, HE_HIST_BAD, 1},
      {HE_HIST_TIMEDOUT, 140, 199, HE_HIST_BAD, 2},
      {HE_HIST_NONE, 0, 200, HE_HIST_UNKNOWN, 2},
      {HE_HIST_UNREACH, 210, 329, HE_HIST_BAD, 3},
      {HE_HIST_NONE, 0, 330, HE_HIST_UNKNOWN, 3}}},
    {"convergence: a recovered address is good again at once",
     {{HE_HIST_TIMEDOUT, 100, 101, HE_HIST_BAD, 1},
      {HE_HIST_TIMEDOUT, 140, 150, HE_HIST_BAD, 2},
      {HE_HIST_CONNECTED, 150, 151, HE_HIST_GOOD, 0},
      {HE_HIST_REFUSED, 160, 161, HE_HIST_BAD, 1}}},
    {"failed after connecting: bad for its window, then good (still used)",
     {{HE_HIST_CONNECTED, 100, 101, HE_HIST_GOOD, 0},
      {HE_HIST_REFUSED, 110, 111, HE_HIST_BAD, 1},
      {HE_HIST_NONE, 0, 140, HE_HIST_GOOD, 1}}},
    {"a time from the future (garbage) is long ago",
     {{HE_HIST_REFUSED, 5000, 100, HE_HIST_UNKNOWN, 1}}},
};

START_TEST(test_life) {
    struct he_hist_entry e;
    memset(&e, 0, sizeof e);
    for (int k = 0; k < LIFE_MAX; k++) {
        const struct life_step *s = &life_rows[_i].step[k];
        if (s->look_s == 0) {
            break;
        }
        if (s->o != HE_HIST_NONE) {
            he_hist_note(&e, s->o, 1000, s->at_s);
        }
        ck_assert_msg(he_hist_classify(&conf, &e, s->look_s) == s->cls, "%s, step %d: class %d",
                      life_rows[_i].name, k, he_hist_classify(&conf, &e, s->look_s));
        ck_assert_msg(e.fails == s->fails, "%s, step %d: fails %u", life_rows[_i].name, k, e.fails);
    }
}
END_TEST

/* RFC 6298 smoothing over samples, and the delay it gives: SRTT + 4
 * RTTVAR, clamped to [min, max]. */
static const struct {
    const char *name;
    uint32_t samples_us[4];
    int min_ms, max_ms;
    uint32_t srtt_us, rttvar_us;
    int delay_ms;
} rtt_rows[] = {
    {"first sample", {40000}, 100, 2000, 40000, 20000, 120},
    {"sub-millisecond: the minimum", {300}, 100, 2000, 300, 150, 100},
    {"lower minimum (RFC floor 10)", {300}, 10, 2000, 300, 150, 10},
    {"below the floor: 10", {300}, 1, 2000, 300, 150, 10},
    {"smoothed", {40000, 80000}, 100, 2000, 45000, 25000, 145},
    {"steady", {50000, 50000, 50000}, 100, 2000, 50000, 14062, 107},
    {"slow path: the ceiling", {900000}, 100, 2000, 900000, 450000, 2000},
    {"explicit HE_ATTEMPT_DELAY_MS caps", {200000}, 100, 250, 200000, 100000, 250},
    {"explicit cap below the minimum wins", {300}, 100, 50, 300, 150, 50},
};

START_TEST(test_rtt) {
    struct he_hist_entry e;
    memset(&e, 0, sizeof e);
    for (int k = 0; k < 4 && rtt_rows[_i].samples_us[k]; k++) {
        he_hist_note(&e, HE_HIST_CONNECTED, rtt_rows[_i].samples_us[k], 100 + (uint32_t)k);
    }
    struct he_hist_conf c = conf;
    c.min_delay_ms = rtt_rows[_i].min_ms;
    c.max_delay_ms = rtt_rows[_i].max_ms;
    ck_assert_msg(e.srtt_us == rtt_rows[_i].srtt_us && e.rttvar_us == rtt_rows[_i].rttvar_us,
                  "%s: srtt %u rttvar %u", rtt_rows[_i].name, e.srtt_us, e.rttvar_us);
    ck_assert_msg(he_hist_delay_ms(&c, &e) == rtt_rows[_i].delay_ms, "%s: delay %d",
                  rtt_rows[_i].name, he_hist_delay_ms(&c, &e));
}
END_TEST

START_TEST(test_rtt_ages_out) {
    struct he_hist_entry e;
    memset(&e, 0, sizeof e);
    he_hist_note(&e, HE_HIST_CONNECTED, 900000, 100);
    ck_assert(he_hist_has_rtt(&e, 100 + HE_HIST_RTT_AGE_S - 1));
    ck_assert(!he_hist_has_rtt(&e, 100 + HE_HIST_RTT_AGE_S));
    /* A sample after the old RTT aged out starts over. */
    he_hist_note(&e, HE_HIST_CONNECTED, 2000, 100 + HE_HIST_RTT_AGE_S);
    ck_assert_uint_eq(e.srtt_us, 2000);
    ck_assert_uint_eq(e.rttvar_us, 1000);
}
END_TEST

/* ------------------------------------------------------------------ table */

#define SLOTS 64
static uint64_t region[(HE_HIST_HEADER_SIZE + SLOTS * HE_HIST_SLOT_SIZE) / 8];

static struct he_hist_table fresh_table(void) {
    struct he_hist_table t;
    he_hist_table_format(region, SLOTS, 12345);
    ck_assert_int_eq(he_hist_table_open(&t, region, sizeof region), 0);
    return t;
}

static struct he_hist_entry key_of(const char *addr, uint16_t port, uint64_t netid) {
    struct he_hist_entry k;
    memset(&k, 0, sizeof k);
    k.addr = addr_of(addr);
    k.port = port;
    k.netid = netid;
    k.kind = HE_HIST_ADDR;
    return k;
}

struct sample {
    enum he_hist_outcome o;
    uint32_t now_s;
};

static void apply(struct he_hist_entry *e, void *ctx) {
    const struct sample *s = ctx;
    he_hist_note(e, s->o, 1000, s->now_s);
}

static int put(struct he_hist_table *t, const struct he_hist_entry *k, enum he_hist_outcome o,
               uint32_t now_s) {
    struct sample s = {o, now_s};
    return he_hist_table_update(t, k, now_s, apply, &s);
}

START_TEST(test_table_roundtrip_and_networks) {
    struct he_hist_table t = fresh_table();
    struct he_hist_entry k = key_of(V4A, 80, 7), out;
    ck_assert_int_eq(he_hist_table_get(&t, &k, &out), -ENOENT);
    ck_assert_int_eq(put(&t, &k, HE_HIST_REFUSED, 50), 0);
    ck_assert_int_eq(he_hist_table_get(&t, &k, &out), 0);
    ck_assert_int_eq(out.outcome, HE_HIST_REFUSED);
    ck_assert_uint_eq(out.outcome_at_s, 50);
    /* Another port, another network, another kind: other entries. */
    struct he_hist_entry other_port = key_of(V4A, 81, 7), other_net = key_of(V4A, 80, 8);
    struct he_hist_entry prefix = k;
    prefix.kind = HE_HIST_PREFIX;
    ck_assert_int_eq(he_hist_table_get(&t, &other_port, &out), -ENOENT);
    ck_assert_int_eq(he_hist_table_get(&t, &other_net, &out), -ENOENT);
    ck_assert_int_eq(he_hist_table_get(&t, &prefix, &out), -ENOENT);
    ck_assert_int_eq(put(&t, &k, HE_HIST_CONNECTED, 60), 0);
    ck_assert_int_eq(he_hist_table_get(&t, &k, &out), 0);
    ck_assert_int_eq(out.outcome, HE_HIST_CONNECTED);
    ck_assert_uint_eq(out.fails, 0);
}
END_TEST

/* Every key lives within HE_HIST_PROBE slots of its home; more keys than
 * a window holds evict the least recently used, other networks first. */
START_TEST(test_table_eviction) {
    struct he_hist_table t = fresh_table();
    char text[32];
    int stored = 0;
    for (int i = 0; i < 4 * SLOTS; i++) {
        snprintf(text, sizeof text, "198.51.100.%d", i % 250);
        struct he_hist_entry k = key_of(text, (uint16_t)(1000 + i), 7);
        ck_assert_int_eq(put(&t, &k, HE_HIST_TIMEDOUT, (uint32_t)(10 + i)), 0);
    }
    /* The most recent keys are there; the oldest were evicted. */
    for (int i = 3 * SLOTS; i < 4 * SLOTS; i++) {
        snprintf(text, sizeof text, "198.51.100.%d", i % 250);
        struct he_hist_entry k = key_of(text, (uint16_t)(1000 + i), 7), out;
        stored += he_hist_table_get(&t, &k, &out) == 0;
    }
    ck_assert_int_ge(stored, SLOTS / 2);
    struct he_hist_entry first = key_of("198.51.100.0", 1000, 7), out;
    ck_assert_int_eq(he_hist_table_get(&t, &first, &out), -ENOENT);
}
END_TEST

static void count_entry(const struct he_hist_entry *e, void *ctx) {
    (void)e;
    ++*(int *)ctx;
}

START_TEST(test_table_walk_and_clear) {
    struct he_hist_table t = fresh_table();
    struct he_hist_entry a = key_of(V4A, 1, 7), b = key_of(V6A, 2, 7);
    put(&t, &a, HE_HIST_CONNECTED, 5);
    put(&t, &b, HE_HIST_REFUSED, 6);
    int n = 0;
    ck_assert_int_eq(he_hist_table_walk(&t, count_entry, &n), 2);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(he_hist_table_clear(&t, 7), 0);
    n = 0;
    ck_assert_int_eq(he_hist_table_walk(&t, count_entry, &n), 0);
}
END_TEST

/* A writer that died holding a slot: the slot is skipped while its claim
 * is recent, and taken over once it is stale. */
START_TEST(test_table_dead_writer) {
    struct he_hist_table t = fresh_table();
    struct he_hist_entry k = key_of(V4B, 443, 7), out;
    ck_assert_int_eq(put(&t, &k, HE_HIST_CONNECTED, 100), 0);
    for (uint32_t i = 0; i < SLOTS; i++) {
        uint64_t *lock = &t.slots[i * 8];
        *lock = (uint64_t)100 << 32 | (uint32_t)(*lock + 1); /* odd: held since 100 */
    }
    ck_assert_int_eq(he_hist_table_get(&t, &k, &out), -ENOENT);
    ck_assert_int_eq(put(&t, &k, HE_HIST_REFUSED, 100 + HE_HIST_STALE_CLAIM_S - 1), -EBUSY);
    ck_assert_int_eq(put(&t, &k, HE_HIST_REFUSED, 100 + HE_HIST_STALE_CLAIM_S), 0);
    ck_assert_int_eq(he_hist_table_get(&t, &k, &out), 0);
    ck_assert_int_eq(out.outcome, HE_HIST_REFUSED);
}
END_TEST

/* A damaged region: its header is refused, or its slots read as empty. */
static const struct {
    const char *name;
    size_t offset; /* byte to change in the header, or SIZE_MAX: cut the region */
    uint32_t value;
    int rc;
} damage_rows[] = {
    {"magic", 0, 0x41414141, -EBADMSG},
    {"version", 8, 2, -EPROTO},
    {"header size", 12, 128, -EPROTO},
    {"slot size", 16, 32, -EPROTO},
    {"slot count not a power of two", 20, 48, -EMSGSIZE},
    {"slot count beyond the region", 20, 128, -EMSGSIZE},
    {"slot count too small", 20, 8, -EMSGSIZE},
    {"total size", 32, 100, -EMSGSIZE},
    {"truncated", SIZE_MAX, 0, -EMSGSIZE},
};

START_TEST(test_table_damaged_header) {
    struct he_hist_table t;
    he_hist_table_format(region, SLOTS, 1);
    size_t size = sizeof region;
    if (damage_rows[_i].offset == SIZE_MAX) {
        size -= HE_HIST_SLOT_SIZE;
    } else {
        memcpy((char *)region + damage_rows[_i].offset, &damage_rows[_i].value, 4);
    }
    ck_assert_msg(he_hist_table_open(&t, region, size) == damage_rows[_i].rc, "%s: %d",
                  damage_rows[_i].name, he_hist_table_open(&t, region, size));
}
END_TEST

START_TEST(test_table_garbage_slots) {
    struct he_hist_table t = fresh_table();
    struct he_hist_entry k = key_of(V4C, 22, 7), out;
    put(&t, &k, HE_HIST_CONNECTED, 10);
    /* Every payload byte flipped, lock words left even: checksums fail. */
    srand(1);
    unsigned char *bytes = (unsigned char *)t.slots;
    for (size_t i = 0; i < (size_t)SLOTS * HE_HIST_SLOT_SIZE; i++) {
        if (i % HE_HIST_SLOT_SIZE >= 8) {
            bytes[i] ^= (unsigned char)(1 + rand() % 255);
        }
    }
    ck_assert_int_eq(he_hist_table_get(&t, &k, &out), -ENOENT);
    int n = 0;
    ck_assert_int_eq(he_hist_table_walk(&t, count_entry, &n), 0);
    /* ... and are written over. */
    ck_assert_int_eq(put(&t, &k, HE_HIST_REFUSED, 11), 0);
    ck_assert_int_eq(he_hist_table_get(&t, &k, &out), 0);
}
END_TEST

/* ------------------------------------------------------------------ plan */

/* What the fake table holds: address -> outcome, its age, RTT. */
struct known {
    const char *addr;
    enum he_hist_outcome o;
    uint32_t age_s;
    uint32_t srtt_us;
};

#define NOW_S 10000
#define KNOWN_MAX 6
static const struct known *plan_known;
static int plan_nknown;

static int fake_find(const struct he_addr *a, uint16_t port, struct he_hist_entry *out) {
    (void)port;
    for (int i = 0; i < plan_nknown; i++) {
        struct he_addr k = addr_of(plan_known[i].addr);
        if (!he_addr_equal(&k, a)) {
            continue;
        }
        memset(out, 0, sizeof *out);
        out->netid = 1;
        out->addr = k;
        he_hist_note(out, plan_known[i].o, plan_known[i].srtt_us, NOW_S - plan_known[i].age_s);
        return 0;
    }
    return -ENOENT;
}

/* The prefix of the lab's addresses measured at 2 ms when asked for. */
static int plan_prefix_rtt;
static int fake_find_prefix(const struct he_addr *a, struct he_hist_entry *out) {
    (void)a;
    if (!plan_prefix_rtt) {
        return -ENOENT;
    }
    memset(out, 0, sizeof *out);
    he_hist_note(out, HE_HIST_CONNECTED, 2000, NOW_S - 1);
    return 0;
}

#define ADDRS_MAX 6
static const struct {
    const char *name;
    const char *own;
    const char *addrs[ADDRS_MAX]; /* libc's (RFC 6724) order */
    struct known known[KNOWN_MAX];
    int prefix_rtt;
    int sock_family;
    const char *want[ADDRS_MAX];
    int nbad;
    enum he_plan_own own_plan;
    const char *first;
    int delay_ms;
} plan_rows[] = {
    {"nothing known: as libc said, configured delay",
     V4A,
     {V4A, V6A, V4B},
     {{0}},
     0,
     AF_INET6,
     {V4A, V6A, V4B},
     0,
     HE_PLAN_AS_ASKED,
     V4A,
     250},
    {"recently failed go last",
     V4A,
     {V4A, V4B, V4C},
     {{V4B, HE_HIST_TIMEDOUT, 5, 0}},
     0,
     AF_INET,
     {V4A, V4C, V4B},
     1,
     HE_PLAN_AS_ASKED,
     V4A,
     250},
    {"used before never used",
     V4A,
     {V4A, V4B, V4C},
     {{V4C, HE_HIST_CONNECTED, 5, 1000}},
     0,
     AF_INET,
     {V4C, V4A, V4B},
     0,
     HE_PLAN_AS_ASKED,
     V4A,
     250},
    {"lower RTT first when clearly lower",
     V4A,
     {V4A, V4B, V4C},
     {{V4B, HE_HIST_CONNECTED, 5, 90000}, {V4C, HE_HIST_CONNECTED, 5, 10000}},
     0,
     AF_INET,
     {V4C, V4B, V4A},
     0,
     HE_PLAN_AS_ASKED,
     V4A,
     250},
    {"RTTs within 25 ms: RFC 6724 order stands",
     V4A,
     {V4A, V4B, V4C},
     {{V4B, HE_HIST_CONNECTED, 5, 11000}, {V4C, HE_HIST_CONNECTED, 5, 10000}},
     0,
     AF_INET,
     {V4B, V4C, V4A},
     0,
     HE_PLAN_AS_ASKED,
     V4A,
     250},
    {"own address timed out, sibling known good: sibling at once",
     V4A,
     {V4A, V4B},
     {{V4A, HE_HIST_TIMEDOUT, 3, 0}, {V4B, HE_HIST_CONNECTED, 3, 800}},
     1,
     AF_INET,
     {V4B, V4A},
     1,
     HE_PLAN_WITH_SIBLING,
     V4A,
     100},
    {"own address timed out, sibling unknown: sibling at once too",
     V4A,
     {V4A, V4B},
     {{V4A, HE_HIST_TIMEDOUT, 3, 0}},
     0,
     AF_INET,
     {V4B, V4A},
     1,
     HE_PLAN_WITH_SIBLING,
     V4A,
     250},
    {"own address timed out, every sibling failed too: as asked",
     V4A,
     {V4A, V4B},
     {{V4A, HE_HIST_TIMEDOUT, 3, 0}, {V4B, HE_HIST_TIMEDOUT, 3, 0}},
     0,
     AF_INET,
     {V4A, V4B},
     2,
     HE_PLAN_AS_ASKED,
     V4A,
     250},
    {"own address unreachable: like a refusal",
     V4A,
     {V4A, V4B},
     {{V4A, HE_HIST_UNREACH, 3, 0}},
     0,
     AF_INET,
     {V4B, V4A},
     1,
     HE_PLAN_OWN_LAST,
     V4B,
     250},
    {"own address refused: the caller's socket goes to the best sibling",
     V4A,
     {V4A, V4B},
     {{V4A, HE_HIST_REFUSED, 12, 0}},
     0,
     AF_INET,
     {V4B, V4A},
     1,
     HE_PLAN_OWN_LAST,
     V4B,
     250},
    {"own address refused, every sibling bad: as asked",
     V4A,
     {V4A, V4B},
     {{V4A, HE_HIST_REFUSED, 12, 0}, {V4B, HE_HIST_TIMEDOUT, 1, 0}},
     0,
     AF_INET,
     {V4A, V4B},
     2,
     HE_PLAN_AS_ASKED,
     V4A,
     250},
    {"own refused on an AF_INET socket: only IPv4 can stand in",
     V4A,
     {V4A, V6A, V4B},
     {{V4A, HE_HIST_REFUSED, 12, 0}, {V6A, HE_HIST_CONNECTED, 1, 1000}},
     0,
     AF_INET,
     {V6A, V4B, V4A},
     1,
     HE_PLAN_OWN_LAST,
     V4B,
     250},
    {"a failure whose window passed is tried again in its place",
     V4A,
     {V4A, V4B},
     {{V4A, HE_HIST_TIMEDOUT, 31, 0}},
     0,
     AF_INET,
     {V4A, V4B},
     0,
     HE_PLAN_AS_ASKED,
     V4A,
     250},
    {"delay from the own address's RTT",
     V4A,
     {V4A, V4B},
     {{V4A, HE_HIST_CONNECTED, 1, 40000}},
     0,
     AF_INET,
     {V4A, V4B},
     0,
     HE_PLAN_AS_ASKED,
     V4A,
     120},
    {"delay from the prefix's RTT when the address has none",
     V4A,
     {V4A, V4B},
     {{0}},
     1,
     AF_INET,
     {V4A, V4B},
     0,
     HE_PLAN_AS_ASKED,
     V4A,
     100},
};

START_TEST(test_plan) {
    struct he_addr addrs[ADDRS_MAX], own = addr_of(plan_rows[_i].own);
    int n = 0;
    while (n < ADDRS_MAX && plan_rows[_i].addrs[n]) {
        addrs[n] = addr_of(plan_rows[_i].addrs[n]);
        n++;
    }
    plan_known = plan_rows[_i].known;
    plan_nknown = 0;
    while (plan_nknown < KNOWN_MAX && plan_known[plan_nknown].addr) {
        plan_nknown++;
    }
    plan_prefix_rtt = plan_rows[_i].prefix_rtt;
    struct he_plan_input in = {&own, addrs, n,     80,        plan_rows[_i].sock_family,
                               250,  NOW_S, &conf, fake_find, fake_find_prefix};
    struct he_plan p;
    he_plan_make(&p, &in);
    const char *name = plan_rows[_i].name;
    ck_assert_msg(p.n == n, "%s: n %d", name, p.n);
    for (int i = 0; i < n; i++) {
        struct he_addr w = addr_of(plan_rows[_i].want[i]);
        char got[HE_ADDR_STRLEN];
        ck_assert_msg(he_addr_equal(&p.addrs[i], &w), "%s: [%d] is %s", name, i,
                      he_addr_format(&p.addrs[i], got, sizeof got));
    }
    struct he_addr first = addr_of(plan_rows[_i].first);
    ck_assert_msg(p.nbad == plan_rows[_i].nbad, "%s: nbad %d", name, p.nbad);
    ck_assert_msg(p.own == plan_rows[_i].own_plan, "%s: own %d", name, p.own);
    ck_assert_msg(he_addr_equal(&p.first, &first), "%s: first", name);
    ck_assert_msg(p.delay_ms == plan_rows[_i].delay_ms, "%s: delay %d", name, p.delay_ms);
}
END_TEST

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *history_suite(void) {
    Suite *s = suite_create("history");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_window, 0, ROWS(window_rows));
    tcase_add_loop_test(tc, test_life, 0, ROWS(life_rows));
    tcase_add_loop_test(tc, test_rtt, 0, ROWS(rtt_rows));
    tcase_add_test(tc, test_rtt_ages_out);
    tcase_add_test(tc, test_table_roundtrip_and_networks);
    tcase_add_test(tc, test_table_eviction);
    tcase_add_test(tc, test_table_walk_and_clear);
    tcase_add_test(tc, test_table_dead_writer);
    tcase_add_loop_test(tc, test_table_damaged_header, 0, ROWS(damage_rows));
    tcase_add_test(tc, test_table_garbage_slots);
    tcase_add_loop_test(tc, test_plan, 0, ROWS(plan_rows));
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(history_suite)

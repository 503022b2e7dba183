/* Unit tests for the name memory (resolver/memo.c) and for turning libc's
 * answers into what it holds (resolver/learn.c). */
#include "../../resolver/learn.h"
#include "../../resolver/memo.h"

#include "addrs.h"

#include "he_check.h"
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* A freshness that the tests of addresses do not look at. */
#define HE_T0 1000

#define WHO_A 0x1111
#define WHO_B 0x2222
#define WHO_C 0x3333

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

/* Fills out[] from a NULL-terminated list of literals; returns the count. */
static int addrs_of(struct he_addr *out, const char *const *list) {
    int n = 0;
    for (; list[n] != NULL; n++) {
        out[n] = addr_of(list[n]);
    }
    return n;
}

static int learn_list(struct he_memo *m, const char *name, int fam, uint64_t who,
                      const char *const *list) {
    struct he_addr a[HE_MEMO_MAX_ADDRS];
    int n = addrs_of(a, list);
    return he_memo_learn(m, name, fam, a, n, who, HE_T0);
}

#define LEARN_AT(m, name, expires, ...)                                                            \
    learn_list_at((m), (name), (expires), (const char *const[]){__VA_ARGS__, NULL})

#define LEARN(m, name, fam, who, ...)                                                              \
    learn_list((m), (name), (fam), (who), (const char *const[]){__VA_ARGS__, NULL})

static int learn_list_at(struct he_memo *m, const char *name, int64_t expires,
                         const char *const *list) {
    struct he_addr a[HE_MEMO_MAX_ADDRS];
    int n = addrs_of(a, list);
    return he_memo_learn(m, name, HE_MEMO_FAM_ALL, a, n, WHO_A, expires);
}

static int lookup(struct he_memo *m, const char *addr, uint64_t who, struct he_memo_answer *out) {
    struct he_addr a = addr_of(addr);
    memset(out, 0x5a, sizeof *out);
    return he_memo_lookup(m, &a, who, out);
}

/* Asserts that ans holds exactly name and the addresses of want, in order. */
static void assert_answer(const struct he_memo_answer *ans, const char *name,
                          const char *const *want) {
    ck_assert_str_eq(ans->name, name);
    int n = 0;
    while (want[n] != NULL) {
        n++;
    }
    char buf[HE_ADDR_STRLEN];
    ck_assert_msg(ans->count == n, "%s: %d addresses, want %d", name, ans->count, n);
    for (int i = 0; i < n; i++) {
        struct he_addr w = addr_of(want[i]);
        ck_assert_msg(he_addr_equal(&ans->addrs[i], &w), "%s: address %d is %s, want %s", name, i,
                      he_addr_format(&ans->addrs[i], buf, sizeof buf), want[i]);
    }
}

#define ASSERT_ANSWER(ans, name, ...)                                                              \
    assert_answer((ans), (name), (const char *const[]){__VA_ARGS__, NULL})

static void assert_found(struct he_memo *m, const char *addr, uint64_t who, const char *name) {
    struct he_memo_answer ans;
    int rc = lookup(m, addr, who, &ans);
    ck_assert_msg(rc == 0, "lookup %s: %d, want 0 (%s)", addr, rc, name);
    ck_assert_str_eq(ans.name, name);
}

static void assert_lookup_rc(struct he_memo *m, const char *addr, uint64_t who, int want) {
    struct he_memo_answer ans;
    int rc = lookup(m, addr, who, &ans);
    ck_assert_msg(rc == want, "lookup %s: %d, want %d", addr, rc, want);
}

/* The earliest expiry among the families some answer covered. */
static int64_t earliest(const struct he_memo_answer *ans) {
    int64_t t = INT64_MAX;
    for (int f = 0; f < 2; f++) {
        if ((ans->fam_known & (1 << f)) && ans->fam_expires[f] < t) {
            t = ans->fam_expires[f];
        }
    }
    return t == INT64_MAX ? 0 : t;
}

/* addr is one of the name's former addresses: it still finds the name. */
static void assert_former(struct he_memo *m, const char *addr, uint64_t who) {
    struct he_memo_answer ans;
    int rc = lookup(m, addr, who, &ans);
    ck_assert_msg(rc == 0 && ans.former == 1, "lookup %s: %d former %d, want a former address",
                  addr, rc, rc == 0 ? ans.former : -1);
}

/* ------------------------------------------------------------------------ */
/* he_memo                                                                    */

START_TEST(test_lookup_finds_name_and_siblings) {
    struct he_memo *m = he_memo_new(16);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(LEARN(m, "www.example.com", HE_MEMO_FAM_ALL, WHO_A, V6A, V6B, V4A, V4B), 0);
    const char *each[] = {V6A, V6B, V4A, V4B};
    for (int i = 0; i < 4; i++) {
        struct he_memo_answer ans;
        /* Another thread: the address is not ambiguous, so who does not matter. */
        ck_assert_int_eq(lookup(m, each[i], WHO_B, &ans), 0);
        ASSERT_ANSWER(&ans, "www.example.com", V6A, V6B, V4A, V4B);
    }
    ck_assert_uint_eq(he_memo_count(m), 1);
    he_memo_free(m);
}
END_TEST

START_TEST(test_unknown_is_enoent) {
    struct he_memo *m = he_memo_new(16);
    assert_lookup_rc(m, V4A, WHO_A, -ENOENT); /* empty memory */
    ck_assert_int_eq(LEARN(m, "a.example", HE_MEMO_FAM_ALL, WHO_A, V4A), 0);
    assert_lookup_rc(m, V4B, WHO_A, -ENOENT);
    assert_lookup_rc(m, V6A, WHO_A, -ENOENT);
    /* Same bytes, other family: a different address. */
    struct he_addr v6 = addr_of("::");
    memcpy(v6.bytes, addr_of(V4A).bytes, 4);
    struct he_memo_answer ans;
    ck_assert_int_eq(he_memo_lookup(m, &v6, WHO_A, &ans), -ENOENT);
    he_memo_free(m);
}
END_TEST

START_TEST(test_scope_distinguishes) {
    struct he_memo *m = he_memo_new(16);
    struct he_addr a = addr_of("fe80::1");
    a.scope = 2;
    ck_assert_int_eq(he_memo_learn(m, "link.example", HE_MEMO_FAM_ALL, &a, 1, WHO_A, HE_T0), 0);
    struct he_memo_answer ans;
    ck_assert_int_eq(he_memo_lookup(m, &a, WHO_A, &ans), 0);
    ck_assert_uint_eq(ans.addrs[0].scope, 2);
    a.scope = 3;
    ck_assert_int_eq(he_memo_lookup(m, &a, WHO_A, &ans), -ENOENT);
    he_memo_free(m);
}
END_TEST

static const struct {
    const char *learned, *relearned;
} name_rows[] = {
    {"www.example.com", "WWW.EXAMPLE.COM"},
    {"www.example.com", "www.example.com."},
    {"Www.Example.Com.", "www.example.com"},
    {"WWW.example.COM.", "www.EXAMPLE.com."},
};

START_TEST(test_names_without_case_and_trailing_dot) {
    struct he_memo *m = he_memo_new(16);
    ck_assert_int_eq(LEARN(m, name_rows[_i].learned, HE_MEMO_FAM_ALL, WHO_A, V4A, V4B), 0);
    struct he_memo_answer ans;
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "www.example.com", V4A, V4B);
    /* The same name: replaces, does not add a second entry. */
    ck_assert_int_eq(LEARN(m, name_rows[_i].relearned, HE_MEMO_FAM_ALL, WHO_A, V4C), 0);
    ck_assert_uint_eq(he_memo_count(m), 1);
    ck_assert_int_eq(lookup(m, V4C, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "www.example.com", V4C);
    assert_former(m, V4A, WHO_A);
    he_memo_free(m);
}
END_TEST

START_TEST(test_bad_names) {
    struct he_memo *m = he_memo_new(16);
    struct he_addr a = addr_of(V4A);
    char name[HE_MEMO_NAME_MAX + 2];

    ck_assert_int_eq(he_memo_learn(m, "", HE_MEMO_FAM_ALL, &a, 1, WHO_A, HE_T0), -EINVAL);
    ck_assert_int_eq(he_memo_learn(m, ".", HE_MEMO_FAM_ALL, &a, 1, WHO_A, HE_T0), -EINVAL);

    memset(name, 'a', HE_MEMO_NAME_MAX); /* 256 characters: too long */
    name[HE_MEMO_NAME_MAX] = '\0';
    ck_assert_int_eq(he_memo_learn(m, name, HE_MEMO_FAM_ALL, &a, 1, WHO_A, HE_T0), -EINVAL);
    ck_assert_int_eq(he_memo_is_empty(m), 1);
    ck_assert_uint_eq(he_memo_count(m), 0);

    name[HE_MEMO_NAME_MAX - 1] = '\0'; /* 255: fits */
    ck_assert_int_eq(he_memo_learn(m, name, HE_MEMO_FAM_ALL, &a, 1, WHO_A, HE_T0), 0);
    struct he_memo_answer ans;
    ck_assert_int_eq(he_memo_lookup(m, &a, WHO_A, &ans), 0);
    ck_assert_str_eq(ans.name, name);

    name[HE_MEMO_NAME_MAX - 1] = '.'; /* 255 and a trailing dot: the same name */
    name[HE_MEMO_NAME_MAX] = '\0';
    struct he_addr b = addr_of(V4B);
    ck_assert_int_eq(he_memo_learn(m, name, HE_MEMO_FAM_ALL, &b, 1, WHO_A, HE_T0), 0);
    ck_assert_uint_eq(he_memo_count(m), 1);
    he_memo_free(m);
}
END_TEST

START_TEST(test_fam_v4_replaces_only_v4) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    ck_assert_int_eq(LEARN(m, "dual.example", HE_MEMO_FAM_ALL, WHO_A, V6A, V4A, V6B, V4B), 0);
    ck_assert_int_eq(LEARN(m, "dual.example", HE_MEMO_FAM_V4, WHO_A, V4C), 0);
    ck_assert_int_eq(lookup(m, V6A, WHO_A, &ans), 0);
    /* The answer first, then what the name kept for the other family. */
    ASSERT_ANSWER(&ans, "dual.example", V4C, V6A, V6B);
    assert_former(m, V4A, WHO_A);
    assert_former(m, V4B, WHO_A);
    assert_found(m, V4C, WHO_A, "dual.example");

    ck_assert_int_eq(LEARN(m, "dual.example", HE_MEMO_FAM_V6, WHO_A, V6C), 0);
    ck_assert_int_eq(lookup(m, V4C, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "dual.example", V6C, V4C);
    assert_former(m, V6A, WHO_A);
    ck_assert_uint_eq(he_memo_count(m), 1);
    he_memo_free(m);
}
END_TEST

START_TEST(test_empty_answer_for_only_family_drops_name) {
    struct he_memo *m = he_memo_new(16);
    ck_assert_int_eq(LEARN(m, "v4only.example", HE_MEMO_FAM_ALL, WHO_A, V4A), 0);
    ck_assert_int_eq(he_memo_learn(m, "v4only.example", HE_MEMO_FAM_V4, NULL, 0, WHO_A, HE_T0), 0);
    ck_assert_uint_eq(he_memo_count(m), 0);
    assert_lookup_rc(m, V4A, WHO_A, -ENOENT);

    /* An empty IPv6 answer leaves a name's IPv4 alone. */
    ck_assert_int_eq(LEARN(m, "dual.example", HE_MEMO_FAM_ALL, WHO_A, V6A, V4A), 0);
    ck_assert_int_eq(he_memo_learn(m, "dual.example", HE_MEMO_FAM_V6, NULL, 0, WHO_A, HE_T0), 0);
    struct he_memo_answer ans;
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "dual.example", V4A);

    /* An empty answer for a name never seen creates nothing. */
    ck_assert_int_eq(he_memo_learn(m, "nothing.example", HE_MEMO_FAM_ALL, NULL, 0, WHO_A, HE_T0),
                     0);
    ck_assert_uint_eq(he_memo_count(m), 1);
    he_memo_free(m);
}
END_TEST

START_TEST(test_relearn_replaces) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    ck_assert_int_eq(LEARN(m, "moved.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V4B, V6A), 0);
    ck_assert_int_eq(LEARN(m, "moved.example", HE_MEMO_FAM_ALL, WHO_A, V4B, V4C), 0);
    ck_assert_int_eq(lookup(m, V4C, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "moved.example", V4B, V4C);
    ck_assert_int_eq(ans.former, 0);
    /* The addresses it lost still lead to the name, and to its new ones. */
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.former, 1);
    ASSERT_ANSWER(&ans, "moved.example", V4B, V4C);
    ck_assert_int_eq(lookup(m, V6A, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.former, 1);
    ck_assert_uint_eq(he_memo_count(m), 1);
    he_memo_free(m);
}
END_TEST

START_TEST(test_duplicates_in_answer_kept_once) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    ck_assert_int_eq(LEARN(m, "dup.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V6A, V4A, V4B, V6A), 0);
    ck_assert_int_eq(lookup(m, V4B, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "dup.example", V4A, V6A, V4B);
    he_memo_free(m);
}
END_TEST

START_TEST(test_eviction_lru) {
    struct he_memo *m = he_memo_new(3);
    ck_assert_int_eq(LEARN(m, "a.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V6A), 0);
    ck_assert_int_eq(LEARN(m, "b.example", HE_MEMO_FAM_ALL, WHO_A, V4B, V6B), 0);
    ck_assert_int_eq(LEARN(m, "c.example", HE_MEMO_FAM_ALL, WHO_A, V4C), 0);
    ck_assert_uint_eq(he_memo_count(m), 3);
    /* A lookup is a use: a.example becomes the most recent, b the least. */
    assert_found(m, V6A, WHO_A, "a.example");
    ck_assert_int_eq(LEARN(m, "d.example", HE_MEMO_FAM_ALL, WHO_A, V4D), 0);
    ck_assert_uint_eq(he_memo_count(m), 3);
    assert_lookup_rc(m, V4B, WHO_A, -ENOENT);
    assert_lookup_rc(m, V6B, WHO_A, -ENOENT);
    assert_found(m, V4A, WHO_A, "a.example");
    assert_found(m, V4C, WHO_A, "c.example");
    assert_found(m, V4D, WHO_A, "d.example");

    /* Uses now, oldest first: a, c, d.  A re-learn is a use too. */
    ck_assert_int_eq(LEARN(m, "a.example", HE_MEMO_FAM_ALL, WHO_A, V4A), 0);
    ck_assert_int_eq(LEARN(m, "e.example", HE_MEMO_FAM_ALL, WHO_A, V4B), 0);
    assert_lookup_rc(m, V4C, WHO_A, -ENOENT);
    assert_found(m, V4A, WHO_A, "a.example");
    assert_found(m, V4D, WHO_A, "d.example");
    assert_found(m, V4B, WHO_A, "e.example");
    ck_assert_uint_eq(he_memo_count(m), 3);
    he_memo_free(m);
}
END_TEST

START_TEST(test_max_names_zero_holds_one) {
    struct he_memo *m = he_memo_new(0);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(LEARN(m, "a.example", HE_MEMO_FAM_ALL, WHO_A, V4A), 0);
    ck_assert_int_eq(LEARN(m, "b.example", HE_MEMO_FAM_ALL, WHO_A, V4B), 0);
    ck_assert_uint_eq(he_memo_count(m), 1);
    assert_lookup_rc(m, V4A, WHO_A, -ENOENT);
    assert_found(m, V4B, WHO_A, "b.example");
    he_memo_free(m);
}
END_TEST

START_TEST(test_ambiguous_address) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    /* A CDN address shared by two names, resolved by two threads. */
    ck_assert_int_eq(LEARN(m, "one.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V4B), 0);
    ck_assert_int_eq(LEARN(m, "two.example", HE_MEMO_FAM_ALL, WHO_B, V4A, V4C), 0);

    ck_assert_int_eq(lookup(m, V4A, WHO_C, &ans), -ENOTUNIQ);
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "one.example", V4A, V4B);
    ck_assert_int_eq(lookup(m, V4A, WHO_B, &ans), 0);
    ASSERT_ANSWER(&ans, "two.example", V4A, V4C);
    /* The addresses only one name holds are not ambiguous for anyone. */
    assert_found(m, V4B, WHO_C, "one.example");
    assert_found(m, V4C, WHO_C, "two.example");

    /* WHO_C resolves both: the more recent wins for WHO_C. */
    ck_assert_int_eq(LEARN(m, "two.example", HE_MEMO_FAM_ALL, WHO_C, V4A, V4C), 0);
    ck_assert_int_eq(LEARN(m, "one.example", HE_MEMO_FAM_ALL, WHO_C, V4A, V4B), 0);
    assert_found(m, V4A, WHO_C, "one.example");
    ck_assert_int_eq(LEARN(m, "two.example", HE_MEMO_FAM_ALL, WHO_C, V4A, V4C), 0);
    assert_found(m, V4A, WHO_C, "two.example");
    /* WHO_A resolved one.example, and only that: WHO_C's resolving it
     * since does not take it from WHO_A. */
    assert_found(m, V4A, WHO_A, "one.example");

    /* Once one name lets the address go, it is unique again. */
    ck_assert_int_eq(LEARN(m, "two.example", HE_MEMO_FAM_ALL, WHO_C, V4C), 0);
    assert_found(m, V4A, WHO_A, "one.example");
    he_memo_free(m);
}
END_TEST

/* The name this thread resolved most recently wins, however many other
 * threads resolved the same name after it.  Reproducer: dead4 and dead3x
 * share a dead first address; thread A resolves dead4, then thread B
 * resolves dead3x and dead4.  dead4 then records B as its last resolver,
 * and A once found no name of its own: the shared address went unraced.
 * B's steps run on a thread of their own, as in the program. */
static void learn_on_thread(struct he_memo *m, const char *name, uint64_t who, const char *a1,
                            const char *a2);

START_TEST(test_mine_after_another_thread) {
    struct he_memo *m = he_memo_new(16);
    ck_assert_int_eq(LEARN(m, "dead4.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V4B), 0);
    learn_on_thread(m, "dead3x.example", WHO_B, V4A, V4C);
    learn_on_thread(m, "dead4.example", WHO_B, V4A, V4B);
    assert_found(m, V4A, WHO_A, "dead4.example");
    /* Neither A's nor B's, and not aliases: ambiguous for C. */
    assert_lookup_rc(m, V4A, WHO_C, -ENOTUNIQ);
    /* A resolving dead3x after dead4 makes dead3x A's. */
    ck_assert_int_eq(LEARN(m, "dead3x.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V4C), 0);
    assert_found(m, V4A, WHO_A, "dead3x.example");
    ck_assert_int_eq(LEARN(m, "dead4.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V4B), 0);
    assert_found(m, V4A, WHO_A, "dead4.example");
    he_memo_free(m);
}
END_TEST

/* A thread remembers its last 16 names: a name resolved before 16 others,
 * and since by another thread, is no longer this thread's, and the shared
 * address is ambiguous again (no race: the safe side). */
START_TEST(test_mine_is_bounded) {
    struct he_memo *m = he_memo_new(64);
    ck_assert_int_eq(LEARN(m, "one.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V4B), 0);
    learn_on_thread(m, "two.example", WHO_B, V4A, V4C);
    learn_on_thread(m, "one.example", WHO_B, V4A, V4B);
    for (int i = 0; i < 15; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%d.example", i);
        ck_assert_int_eq(LEARN(m, name, HE_MEMO_FAM_ALL, WHO_A, V6A), 0);
    }
    assert_found(m, V4A, WHO_A, "one.example");
    ck_assert_int_eq(LEARN(m, "n15.example", HE_MEMO_FAM_ALL, WHO_A, V6A), 0);
    assert_lookup_rc(m, V4A, WHO_A, -ENOTUNIQ);
    he_memo_free(m);
}
END_TEST

/* Names with the same addresses (aliases, in any order) race the same
 * siblings: an address they share is not ambiguous for anyone.  A third
 * name with other siblings makes it ambiguous again. */
START_TEST(test_aliases_not_ambiguous) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    ck_assert_int_eq(LEARN(m, "svc.example", HE_MEMO_FAM_ALL, WHO_A, V4A, V4B), 0);
    ck_assert_int_eq(LEARN(m, "alias.example", HE_MEMO_FAM_ALL, WHO_B, V4B, V4A), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_C, &ans), 0);
    ASSERT_ANSWER(&ans, "alias.example", V4B, V4A);
    assert_found(m, V4A, WHO_A, "svc.example");
    assert_found(m, V4B, WHO_B, "alias.example");
    ck_assert_int_eq(LEARN(m, "other.example", HE_MEMO_FAM_ALL, WHO_B, V4A, V4C), 0);
    assert_lookup_rc(m, V4A, WHO_C, -ENOTUNIQ);
    assert_found(m, V4A, WHO_A, "svc.example");
    he_memo_free(m);
}
END_TEST

/* Each step runs on its own thread, so that the per-thread shortcuts
 * (cached lookups, "same as my last learn") are really per thread. */
struct step {
    struct he_memo *m;
    const char *name;
    uint64_t who;
    const char *addr1, *addr2;
};

static void *learn_step(void *arg) {
    struct step *st = arg;
    struct he_addr a[2] = {addr_of(st->addr1), addr_of(st->addr2)};
    he_memo_learn(st->m, st->name, HE_MEMO_FAM_ALL, a, 2, st->who, HE_T0);
    return NULL;
}

static void run_step(struct step st) {
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, learn_step, &st), 0);
    pthread_join(t, NULL);
}

static void learn_on_thread(struct he_memo *m, const char *name, uint64_t who, const char *a1,
                            const char *a2) {
    run_step((struct step){m, name, who, a1, a2});
}

/* Reproducer: thread T resolves dead4, U resolves it too (nothing shared
 * yet), T resolves it again (T's shortcut), then alldead arrives sharing an
 * address.  T resolved dead4 last, so T's connect must race dead4's
 * addresses; the shortcut once left U on record and the address ambiguous. */
START_TEST(test_relearn_shortcut_keeps_who) {
    struct he_memo *m = he_memo_new(16);
    struct he_addr a[2] = {addr_of(V4A), addr_of(V4B)};
    /* T is this test's thread, so its shortcut state is the one we keep. */
    ck_assert_int_eq(he_memo_learn(m, "dead4.example", HE_MEMO_FAM_ALL, a, 2, WHO_A, HE_T0), 0);
    run_step((struct step){m, "dead4.example", WHO_B, V4A, V4B});
    ck_assert_int_eq(he_memo_learn(m, "dead4.example", HE_MEMO_FAM_ALL, a, 2, WHO_A, HE_T0), 0);
    run_step((struct step){m, "alldead.example", WHO_C, V4A, V4C});
    assert_found(m, V4A, WHO_A, "dead4.example");
    he_memo_free(m);
}
END_TEST

START_TEST(test_is_empty) {
    struct he_memo *m = he_memo_new(16);
    ck_assert_int_eq(he_memo_is_empty(m), 1);
    struct he_addr a = addr_of(V4A);
    ck_assert_int_eq(he_memo_learn(m, "", HE_MEMO_FAM_ALL, &a, 1, WHO_A, HE_T0), -EINVAL);
    ck_assert_int_eq(he_memo_is_empty(m), 1);
    ck_assert_int_eq(LEARN(m, "a.example", HE_MEMO_FAM_ALL, WHO_A, V4A), 0);
    ck_assert_int_eq(he_memo_is_empty(m), 0);
    ck_assert_uint_eq(he_memo_count(m), 1);
    he_memo_free(m);
}
END_TEST

START_TEST(test_max_addrs_cap) {
    enum { N = HE_MEMO_MAX_ADDRS + 8 };
    struct he_addr a[N];
    for (int i = 0; i < N; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].family = AF_INET;
        a[i].bytes[0] = 198;
        a[i].bytes[1] = 51;
        a[i].bytes[2] = 100;
        a[i].bytes[3] = (uint8_t)(i + 1);
    }
    struct he_memo *m = he_memo_new(16);
    ck_assert_int_eq(he_memo_learn(m, "big.example", HE_MEMO_FAM_ALL, a, N, WHO_A, HE_T0), 0);
    struct he_memo_answer ans;
    ck_assert_int_eq(he_memo_lookup(m, &a[0], WHO_A, &ans), 0);
    ck_assert_int_eq(ans.count, HE_MEMO_MAX_ADDRS);
    for (int i = 0; i < HE_MEMO_MAX_ADDRS; i++) {
        ck_assert_msg(he_addr_equal(&ans.addrs[i], &a[i]), "address %d out of order", i);
    }
    ck_assert_int_eq(he_memo_lookup(m, &a[HE_MEMO_MAX_ADDRS - 1], WHO_A, &ans), 0);
    ck_assert_int_eq(he_memo_lookup(m, &a[HE_MEMO_MAX_ADDRS], WHO_A, &ans), -ENOENT);
    ck_assert_int_eq(he_memo_lookup(m, &a[N - 1], WHO_A, &ans), -ENOENT);

    /* A v4-only answer of 32 to a dual-stack name: the cap still holds. */
    struct he_addr v6 = addr_of(V6A);
    ck_assert_int_eq(he_memo_learn(m, "big2.example", HE_MEMO_FAM_ALL, &v6, 1, WHO_A, HE_T0), 0);
    ck_assert_int_eq(
        he_memo_learn(m, "big2.example", HE_MEMO_FAM_V4, a, HE_MEMO_MAX_ADDRS, WHO_A, HE_T0), 0);
    /* a[0] is now held by both names, and WHO_B resolved neither; but the
     * two hold the same 32 addresses (aliases), so it is not ambiguous. */
    ck_assert_int_eq(he_memo_lookup(m, &a[0], WHO_B, &ans), 0);
    ck_assert_int_eq(ans.count, HE_MEMO_MAX_ADDRS);
    ck_assert_int_eq(he_memo_lookup(m, &a[0], WHO_A, &ans), 0);
    ck_assert_str_eq(ans.name, "big2.example");
    ck_assert_int_eq(ans.count, HE_MEMO_MAX_ADDRS);
    /* The answer filled the cap: the kept IPv6 is only a former address. */
    ck_assert_int_eq(he_memo_lookup(m, &v6, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.former, 1);
    ck_assert_int_eq(ans.count, HE_MEMO_MAX_ADDRS);
    he_memo_free(m);
}
END_TEST

static struct he_addr numbered_v4(uint32_t i) {
    struct he_addr a;
    memset(&a, 0, sizeof a);
    a.family = AF_INET;
    uint32_t be = htonl(0x0a000000u | (i & 0xffffffu)); /* 10.x.y.z */
    memcpy(a.bytes, &be, 4);
    return a;
}

static size_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Addresses that differ only in their last bytes (one IPv6 /96, one IPv4
 * /16) must spread over the table's buckets: they all fell into one bucket
 * once, and every lookup walked a chain of thousands. */
START_TEST(test_addr_hash_spreads) {
    enum { N = 4096, BUCKETS = 8192 };
    static unsigned char used6[BUCKETS], used4[BUCKETS];
    int distinct6 = 0, distinct4 = 0;
    for (uint32_t i = 0; i < N; i++) {
        struct he_addr a = addr_of(V6A);
        a.bytes[12] = (uint8_t)(i >> 24);
        a.bytes[13] = (uint8_t)(i >> 16);
        a.bytes[14] = (uint8_t)(i >> 8);
        a.bytes[15] = (uint8_t)i;
        uint32_t b = he_addr_hash(&a) % BUCKETS;
        distinct6 += !used6[b];
        used6[b] = 1;
        struct he_addr v4 = numbered_v4(i);
        b = he_addr_hash(&v4) % BUCKETS;
        distinct4 += !used4[b];
        used4[b] = 1;
    }
    /* Random placement fills about 1 - e^-0.5 = 39% of the buckets. */
    ck_assert_int_gt(distinct6, N / 2);
    ck_assert_int_gt(distinct4, N / 2);
}
END_TEST

START_TEST(test_many_names_stay_bounded) {
    enum { MAX = 4096, NAMES = 200000 };
    size_t before = heap_in_use();
    struct he_memo *m = he_memo_new(MAX);
    ck_assert_ptr_nonnull(m);
    char name[64];
    size_t at_max = 0;
    int failed = 0;
    /* One assertion after the loop: each ck_assert reports to Check's
     * parent process, and 200,000 of them take seconds (a minute under
     * ThreadSanitizer). */
    for (uint32_t i = 0; i < NAMES; i++) {
        snprintf(name, sizeof name, "host-%u.example", i);
        struct he_addr a[2] = {numbered_v4(i), addr_of(V6A)};
        a[1].bytes[12] = (uint8_t)(i >> 24);
        a[1].bytes[13] = (uint8_t)(i >> 16);
        a[1].bytes[14] = (uint8_t)(i >> 8);
        a[1].bytes[15] = (uint8_t)i;
        failed += he_memo_learn(m, name, HE_MEMO_FAM_ALL, a, 2, WHO_A, HE_T0) != 0;
        if (i + 1 == MAX) {
            at_max = heap_in_use();
        }
    }
    ck_assert_int_eq(failed, 0);
    ck_assert_uint_eq(he_memo_count(m), MAX);
    size_t after = heap_in_use();
    /* The newest MAX names are held, the older ones are gone. */
    struct he_memo_answer ans;
    struct he_addr newest = numbered_v4(NAMES - 1), oldest_kept = numbered_v4(NAMES - MAX),
                   evicted = numbered_v4(NAMES - MAX - 1), first = numbered_v4(0);
    ck_assert_int_eq(he_memo_lookup(m, &newest, WHO_A, &ans), 0);
    snprintf(name, sizeof name, "host-%u.example", NAMES - 1);
    ck_assert_str_eq(ans.name, name);
    ck_assert_int_eq(he_memo_lookup(m, &oldest_kept, WHO_A, &ans), 0);
    ck_assert_int_eq(he_memo_lookup(m, &evicted, WHO_A, &ans), -ENOENT);
    ck_assert_int_eq(he_memo_lookup(m, &first, WHO_A, &ans), -ENOENT);

    ck_assert_msg(after - before < 8u * 1024 * 1024,
                  "the memory of %d names uses %zu bytes of heap", MAX, after - before);
    /* Once full, churning through names does not grow the heap. */
    ck_assert_msg(after <= at_max + 256 * 1024, "heap grew from %zu to %zu after eviction", at_max,
                  after);
    he_memo_free(m);
    ck_assert_msg(heap_in_use() <= before + 64 * 1024, "heap %zu after free, %zu before",
                  heap_in_use(), before);
}
END_TEST

/* Several threads learning and looking up at once: run under TSan with
 * `make check-tsan`.  Every answer must be whole: the address asked for is
 * in it, and the name is one the threads use. */
enum { THREADS = 4, ROUNDS = 20000, SHARED_NAMES = 40 };

struct thread_arg {
    struct he_memo *m;
    int id;
    int bad;
};

static void *hammer(void *p) {
    struct thread_arg *t = p;
    uint64_t who = (uint64_t)t->id + 1;
    unsigned seed = (unsigned)t->id * 2654435761u;
    char name[64];
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % SHARED_NAMES;
        struct he_addr a[3] = {numbered_v4(k), numbered_v4(1000 + k),
                               numbered_v4(2000 + (seed >> 20) % 8)};
        if (i % 3 == 0) {
            snprintf(name, sizeof name, "shared-%u.example", k);
            if (he_memo_learn(t->m, name, HE_MEMO_FAM_ALL, a, 3, who, HE_T0) != 0) {
                t->bad++;
            }
        } else if (i % 7 == 0) {
            snprintf(name, sizeof name, "own-%d-%d.example", t->id, i);
            if (he_memo_learn(t->m, name, HE_MEMO_FAM_V4, &a[2], 1, who, HE_T0) != 0) {
                t->bad++;
            }
        } else {
            struct he_memo_answer ans;
            const struct he_addr *q = &a[i % 3];
            int rc = he_memo_lookup(t->m, q, who, &ans);
            if (rc == 0) {
                int has = ans.former; /* a former address is not in the answer */
                for (int j = 0; j < ans.count; j++) {
                    has |= he_addr_equal(&ans.addrs[j], q);
                }
                if (!has || ans.count < 1 || ans.count > HE_MEMO_MAX_ADDRS ||
                    (strncmp(ans.name, "shared-", 7) != 0 && strncmp(ans.name, "own-", 4) != 0)) {
                    t->bad++;
                }
            } else if (rc != -ENOENT && rc != -ENOTUNIQ) {
                t->bad++;
            }
        }
        if (i % 1000 == 0) {
            (void)he_memo_count(t->m);
        }
    }
    return NULL;
}

START_TEST(test_threads) {
    struct he_memo *m = he_memo_new(32);
    pthread_t th[THREADS];
    struct thread_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct thread_arg){m, i, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_msg(args[i].bad == 0, "thread %d saw %d bad results", i, args[i].bad);
    }
    ck_assert_uint_le(he_memo_count(m), 32);
    ck_assert_int_eq(he_memo_is_empty(m), 0);
    he_memo_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* learn.c                                                                    */

static const struct {
    const char *node;
    int want;
} numeric_rows[] = {
    {"192.0.2.1", 1},    {"127.1", 1},
    {"0x7f.1", 1},       {"10", 1},
    {"::1", 1},          {"::", 1},
    {"2001:db8::a", 1},  {"::ffff:192.0.2.1", 1},
    {"fe80::1%eth0", 1}, {"fe80::1%2", 1},
    {"example.com", 0},  {"1.2.3.4.example", 0},
    {"192.0.2.1.", 0},   {"", 0},
    {"localhost", 0},    {"db8::g", 0},
    {"%eth0", 0},        {"2001:db8::1:2:3:4:5:6:7", 0},
};

START_TEST(test_is_numeric) {
    ck_assert_msg(he_learn_is_numeric(numeric_rows[_i].node) == numeric_rows[_i].want,
                  "he_learn_is_numeric(\"%s\") = %d, want %d", numeric_rows[_i].node,
                  he_learn_is_numeric(numeric_rows[_i].node), numeric_rows[_i].want);
}
END_TEST

START_TEST(test_is_numeric_long) {
    char buf[300];
    memset(buf, ':', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    ck_assert_int_eq(he_learn_is_numeric(buf), 0);
    memset(buf, 'a', sizeof buf - 1);
    ck_assert_int_eq(he_learn_is_numeric(buf), 0);
}
END_TEST

/* A hand-built getaddrinfo answer. */
struct ai_list {
    int n;
    struct addrinfo ai[16];
    struct sockaddr_storage ss[16];
};

static void ai_add(struct ai_list *l, const char *text, int socktype, int mapped) {
    ck_assert_int_lt(l->n, 16);
    struct addrinfo *ai = &l->ai[l->n];
    struct sockaddr_storage *ss = &l->ss[l->n];
    memset(ai, 0, sizeof *ai);
    memset(ss, 0, sizeof *ss);
    struct he_addr a = addr_of(text);
    if (a.family == AF_INET && !mapped) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(443);
        memcpy(&sin->sin_addr, a.bytes, 4);
        ai->ai_addrlen = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(443);
        if (mapped) {
            sin6->sin6_addr.s6_addr[10] = 0xff;
            sin6->sin6_addr.s6_addr[11] = 0xff;
            memcpy(&sin6->sin6_addr.s6_addr[12], a.bytes, 4);
        } else {
            memcpy(&sin6->sin6_addr, a.bytes, 16);
        }
        ai->ai_addrlen = sizeof *sin6;
    }
    ai->ai_family = ss->ss_family;
    ai->ai_socktype = socktype;
    ai->ai_protocol = socktype == SOCK_STREAM  ? IPPROTO_TCP
                      : socktype == SOCK_DGRAM ? IPPROTO_UDP
                                               : 0;
    ai->ai_addr = (struct sockaddr *)ss;
    if (l->n > 0) {
        l->ai[l->n - 1].ai_next = ai;
    }
    l->n++;
}

/* getaddrinfo without hints.ai_socktype: each address once per socket type. */
static void ai_add_all_types(struct ai_list *l, const char *text) {
    ai_add(l, text, SOCK_STREAM, 0);
    ai_add(l, text, SOCK_DGRAM, 0);
    ai_add(l, text, SOCK_RAW, 0);
}

START_TEST(test_addrinfo_dedups_socktypes) {
    struct he_memo *m = he_memo_new(16);
    struct ai_list l = {0};
    ai_add_all_types(&l, V6A);
    ai_add_all_types(&l, V4A);
    ai_add_all_types(&l, V6B);
    ai_add(&l, V4B, SOCK_STREAM, 0);
    ck_assert_int_eq(he_learn_addrinfo(m, "www.example.com", NULL, l.ai, WHO_A, HE_T0), 0);
    struct he_memo_answer ans;
    ck_assert_int_eq(lookup(m, V4B, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "www.example.com", V6A, V4A, V6B, V4B);
    he_memo_free(m);
}
END_TEST

START_TEST(test_addrinfo_ignores_numeric_and_null) {
    struct he_memo *m = he_memo_new(16);
    struct ai_list l = {0};
    ai_add(&l, V4A, SOCK_STREAM, 0);
    ck_assert_int_eq(he_learn_addrinfo(m, V4A, NULL, l.ai, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_learn_addrinfo(m, "127.1", NULL, l.ai, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_learn_addrinfo(m, "fe80::1%eth0", NULL, l.ai, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_learn_addrinfo(m, NULL, NULL, l.ai, WHO_A, HE_T0), 0);
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST};
    ck_assert_int_eq(he_learn_addrinfo(m, "www.example.com", &hints, l.ai, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_learn_addrinfo(m, "www.example.com", NULL, NULL, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_memo_is_empty(m), 1);
    ck_assert_uint_eq(he_memo_count(m), 0);
    assert_lookup_rc(m, V4A, WHO_A, -ENOENT);
    he_memo_free(m);
}
END_TEST

START_TEST(test_addrinfo_family_mask_from_hints) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    struct ai_list both = {0};
    ai_add(&both, V6A, SOCK_STREAM, 0);
    ai_add(&both, V4A, SOCK_STREAM, 0);
    struct addrinfo unspec = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    ck_assert_int_eq(he_learn_addrinfo(m, "dual.example", &unspec, both.ai, WHO_A, HE_T0), 0);

    /* An AF_INET lookup replaces IPv4 only. */
    struct ai_list v4 = {0};
    ai_add(&v4, V4B, SOCK_STREAM, 0);
    struct addrinfo inet = {.ai_family = AF_INET};
    ck_assert_int_eq(he_learn_addrinfo(m, "dual.example", &inet, v4.ai, WHO_A, HE_T0), 0);
    ck_assert_int_eq(lookup(m, V6A, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "dual.example", V4B, V6A);

    /* An AF_INET6 lookup replaces IPv6 only. */
    struct ai_list v6 = {0};
    ai_add(&v6, V6B, SOCK_STREAM, 0);
    struct addrinfo inet6 = {.ai_family = AF_INET6};
    ck_assert_int_eq(he_learn_addrinfo(m, "dual.example", &inet6, v6.ai, WHO_A, HE_T0), 0);
    ck_assert_int_eq(lookup(m, V4B, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "dual.example", V6B, V4B);

    /* No hints: the answer is the whole truth. */
    struct ai_list only = {0};
    ai_add(&only, V4C, SOCK_STREAM, 0);
    ck_assert_int_eq(he_learn_addrinfo(m, "dual.example", NULL, only.ai, WHO_A, HE_T0), 0);
    ck_assert_int_eq(lookup(m, V4C, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "dual.example", V4C);
    ck_assert_int_eq(ans.former, 0);
    /* What the name lost is remembered as its former addresses. */
    ck_assert_int_eq(lookup(m, V6B, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.former, 1);
    ASSERT_ANSWER(&ans, "dual.example", V4C);
    he_memo_free(m);
}
END_TEST

START_TEST(test_addrinfo_v4_mapped_normalised) {
    struct he_memo *m = he_memo_new(16);
    struct ai_list l = {0};
    ai_add(&l, "192.0.2.9", SOCK_STREAM, 1); /* ::ffff:192.0.2.9 */
    ai_add(&l, "192.0.2.9", SOCK_DGRAM, 0);  /* the same, plain: deduplicated */
    ai_add(&l, V6A, SOCK_STREAM, 0);
    ck_assert_int_eq(he_learn_addrinfo(m, "mapped.example", NULL, l.ai, WHO_A, HE_T0), 0);
    struct he_memo_answer ans;
    ck_assert_int_eq(lookup(m, "192.0.2.9", WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "mapped.example", "192.0.2.9", V6A);
    ck_assert_int_eq(ans.addrs[0].family, AF_INET);

    /* he_addr_from_sockaddr itself. */
    struct he_addr a;
    ck_assert_int_eq(he_addr_from_sockaddr(&a, l.ai[0].ai_addr, l.ai[0].ai_addrlen), 0);
    struct he_addr want = addr_of("192.0.2.9");
    ck_assert(he_addr_equal(&a, &want));
    ck_assert_int_eq(he_addr_from_sockaddr(&a, l.ai[0].ai_addr, sizeof(struct sockaddr_in)),
                     -EINVAL);
    he_memo_free(m);
}
END_TEST

START_TEST(test_addrinfo_skips_other_families) {
    struct he_memo *m = he_memo_new(16);
    struct ai_list l = {0};
    ai_add(&l, V4A, SOCK_STREAM, 0);
    ai_add(&l, V4B, SOCK_STREAM, 0);
    /* Turn the first into an AF_UNIX entry and shorten the second. */
    struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};
    l.ai[0].ai_family = AF_UNIX;
    l.ai[0].ai_addr = (struct sockaddr *)&sun;
    l.ai[0].ai_addrlen = sizeof sun;
    l.ai[1].ai_addrlen = 4;
    ck_assert_int_eq(he_learn_addrinfo(m, "odd.example", NULL, l.ai, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_memo_is_empty(m), 1);

    ai_add(&l, V4C, SOCK_STREAM, 0);
    ck_assert_int_eq(he_learn_addrinfo(m, "odd.example", NULL, l.ai, WHO_A, HE_T0), 0);
    struct he_memo_answer ans;
    ck_assert_int_eq(lookup(m, V4C, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "odd.example", V4C);
    he_memo_free(m);
}
END_TEST

START_TEST(test_addrinfo_caps_addresses) {
    struct he_memo *m = he_memo_new(16);
    enum { N = HE_MEMO_MAX_ADDRS + 4 };
    struct addrinfo ai[N];
    struct sockaddr_in sin[N];
    memset(ai, 0, sizeof ai);
    memset(sin, 0, sizeof sin);
    for (int i = 0; i < N; i++) {
        sin[i].sin_family = AF_INET;
        struct he_addr a = numbered_v4((uint32_t)i);
        memcpy(&sin[i].sin_addr, a.bytes, 4);
        ai[i].ai_family = AF_INET;
        ai[i].ai_socktype = SOCK_STREAM;
        ai[i].ai_addr = (struct sockaddr *)&sin[i];
        ai[i].ai_addrlen = sizeof sin[i];
        ai[i].ai_next = i + 1 < N ? &ai[i + 1] : NULL;
    }
    ck_assert_int_eq(he_learn_addrinfo(m, "many.example", NULL, ai, WHO_A, HE_T0), 0);
    struct he_memo_answer ans;
    struct he_addr a0 = numbered_v4(0), last = numbered_v4(N - 1);
    ck_assert_int_eq(he_memo_lookup(m, &a0, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.count, HE_MEMO_MAX_ADDRS);
    ck_assert_int_eq(he_memo_lookup(m, &last, WHO_A, &ans), -ENOENT);
    he_memo_free(m);
}
END_TEST

/* A hand-built gethostbyname answer. */
struct host {
    struct hostent h;
    char *list[8];
    unsigned char bytes[8][16];
};

static void host_init(struct host *h, int family, const char *const *addrs) {
    memset(h, 0, sizeof *h);
    h->h.h_name = (char *)"canonical.example";
    h->h.h_addrtype = family;
    h->h.h_length = family == AF_INET ? 4 : 16;
    int n = 0;
    for (; addrs[n] != NULL; n++) {
        ck_assert_int_eq(inet_pton(family, addrs[n], h->bytes[n]), 1);
        h->list[n] = (char *)h->bytes[n];
    }
    h->list[n] = NULL;
    h->h.h_addr_list = h->list;
}

START_TEST(test_hostent) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    struct host v6, v4;
    host_init(&v6, AF_INET6, (const char *const[]){V6A, V6B, NULL});
    host_init(&v4, AF_INET, (const char *const[]){V4A, V4B, V4A, NULL});

    ck_assert_int_eq(he_learn_hostent(m, "Host.Example.", &v6.h, WHO_A, HE_T0), 0);
    ck_assert_int_eq(lookup(m, V6B, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "host.example", V6A, V6B);

    /* gethostbyname (IPv4) replaces IPv4 only. */
    ck_assert_int_eq(he_learn_hostent(m, "host.example", &v4.h, WHO_A, HE_T0), 0);
    ck_assert_int_eq(lookup(m, V6A, WHO_A, &ans), 0);
    ASSERT_ANSWER(&ans, "host.example", V4A, V4B, V6A, V6B);
    ck_assert_uint_eq(he_memo_count(m), 1);
    he_memo_free(m);
}
END_TEST

START_TEST(test_hostent_ignored) {
    struct he_memo *m = he_memo_new(16);
    struct host h, empty;
    host_init(&h, AF_INET, (const char *const[]){V4A, NULL});
    host_init(&empty, AF_INET, (const char *const[]){NULL});
    ck_assert_int_eq(he_learn_hostent(m, NULL, &h.h, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_learn_hostent(m, "host.example", NULL, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_learn_hostent(m, V4A, &h.h, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_learn_hostent(m, "host.example", &empty.h, WHO_A, HE_T0), 0);
    empty.h.h_addr_list = NULL;
    ck_assert_int_eq(he_learn_hostent(m, "host.example", &empty.h, WHO_A, HE_T0), 0);
    struct hostent other = h.h;
    other.h_addrtype = AF_UNIX;
    ck_assert_int_eq(he_learn_hostent(m, "host.example", &other, WHO_A, HE_T0), 0);
    ck_assert_int_eq(he_memo_is_empty(m), 1);

    /* A length that does not match the family is refused. */
    struct hostent bad = h.h;
    bad.h_length = 16;
    ck_assert_int_eq(he_learn_hostent(m, "host.example", &bad, WHO_A, HE_T0), -EINVAL);
    ck_assert_uint_eq(he_memo_count(m), 0);
    he_memo_free(m);
}
END_TEST

/* addr.h: "IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are normalised to
 * plain IPv4 so that an AF_INET6 socket connecting to a mapped address finds
 * the name that taught the IPv4 address."  gethostbyname2(name, AF_INET6)
 * returns such an address for an /etc/hosts line "::ffff:192.0.2.9 name";
 * connect() to it on an AF_INET6 socket looks up plain 192.0.2.9. */
START_TEST(test_hostent_v4_mapped_normalised) {
    struct he_memo *m = he_memo_new(16);
    struct host h;
    host_init(&h, AF_INET6, (const char *const[]){"::ffff:192.0.2.9", V6A, NULL});
    ck_assert_int_eq(he_learn_hostent(m, "mapped.example", &h.h, WHO_A, HE_T0), 0);

    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    memcpy(&sin6.sin6_addr, h.bytes[0], 16);
    struct he_addr dst;
    ck_assert_int_eq(he_addr_from_sockaddr(&dst, (struct sockaddr *)&sin6, sizeof sin6), 0);
    struct he_memo_answer ans;
    ck_assert_msg(he_memo_lookup(m, &dst, WHO_A, &ans) == 0,
                  "connect() to ::ffff:192.0.2.9 does not find the name gethostbyname2 "
                  "taught: he_learn_hostent stores the mapped address as IPv6");
    ASSERT_ANSWER(&ans, "mapped.example", "192.0.2.9", V6A);
    he_memo_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Freshness and former addresses (README, DNS)                               */

START_TEST(test_expiry_per_family) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    struct he_addr a4 = addr_of(V4A), a6 = addr_of(V6A);
    /* gethostbyname: IPv4 only, so the name is known in part. */
    ck_assert_int_eq(he_memo_learn(m, "f.example", HE_MEMO_FAM_V4, &a4, 1, WHO_A, 5000), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.fam_known, HE_MEMO_FAM_V4);
    ck_assert_int_eq(earliest(&ans), 5000);
    /* An AAAA answer with a shorter TTL: known in full, the earlier expiry. */
    ck_assert_int_eq(he_memo_learn(m, "f.example", HE_MEMO_FAM_V6, &a6, 1, WHO_A, 3000), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.fam_known, HE_MEMO_FAM_ALL);
    ck_assert_int_eq(earliest(&ans), 3000);
    /* A refresh of IPv6 alone moves its expiry only. */
    ck_assert_int_eq(he_memo_learn(m, "f.example", HE_MEMO_FAM_V6, &a6, 1, WHO_A, 9000), 0);
    ck_assert_int_eq(lookup(m, V6A, WHO_A, &ans), 0);
    ck_assert_int_eq(earliest(&ans), 5000);
    /* NODATA for IPv6 (no address) is an answer too: still known in full. */
    ck_assert_int_eq(he_memo_learn(m, "f.example", HE_MEMO_FAM_V6, NULL, 0, WHO_A, 7000), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.fam_known, HE_MEMO_FAM_ALL);
    ck_assert_int_eq(ans.count, 1);
    he_memo_free(m);
}
END_TEST

/* The same answer learned again moves the expiry; within a second the
 * thread's shortcut may keep the old one, never more. */
START_TEST(test_relearn_restamps) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    ck_assert_int_eq(LEARN_AT(m, "r.example", 1000, V4A, V4B), 0);
    ck_assert_int_eq(LEARN_AT(m, "r.example", 1500, V4A, V4B), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ck_assert_int_ge(earliest(&ans), 1000);
    ck_assert_int_le(earliest(&ans), 1500);
    ck_assert_int_eq(LEARN_AT(m, "r.example", 2600, V4A, V4B), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ck_assert_int_eq(earliest(&ans), 2600);
    he_memo_free(m);
}
END_TEST

START_TEST(test_restamp) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    struct he_addr a4 = addr_of(V4A);
    ck_assert_int_eq(he_memo_learn(m, "s.example", HE_MEMO_FAM_V4, &a4, 1, WHO_A, 1000), 0);
    ck_assert_int_eq(he_memo_restamp(m, "nobody.example", HE_MEMO_FAM_ALL, 5000), 0);
    /* Only families some answer covered, only later. */
    ck_assert_int_eq(he_memo_restamp(m, "s.example", HE_MEMO_FAM_ALL, 5000), 1);
    ck_assert_int_eq(he_memo_restamp(m, "s.example", HE_MEMO_FAM_V4, 4000), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ck_assert_int_eq(ans.fam_known, HE_MEMO_FAM_V4);
    ck_assert_int_eq(ans.fam_expires[0], 5000);
    ck_assert_int_eq(ans.fam_expires[1], 0);
    ASSERT_ANSWER(&ans, "s.example", V4A);
    he_memo_free(m);
}
END_TEST

START_TEST(test_refresh_claim_gap) {
    struct he_memo *m = he_memo_new(16);
    ck_assert_int_eq(he_memo_refresh_claim(m, "unknown.example", 100, 1000), 0);
    ck_assert_int_eq(LEARN(m, "c.example", HE_MEMO_FAM_ALL, WHO_A, V4A), 0);
    ck_assert_int_eq(he_memo_refresh_claim(m, "C.Example.", 100, 1000), 1);
    ck_assert_int_eq(he_memo_refresh_claim(m, "c.example", 600, 1000), 0);
    ck_assert_int_eq(he_memo_refresh_claim(m, "c.example", 1100, 1000), 1);
    he_memo_free(m);
}
END_TEST

START_TEST(test_former_addresses) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    /* svc moves from V4A to V4B: V4A still finds svc, whose address is V4B. */
    ck_assert_int_eq(LEARN(m, "svc.example", HE_MEMO_FAM_ALL, WHO_A, V4A), 0);
    ck_assert_int_eq(LEARN(m, "svc.example", HE_MEMO_FAM_ALL, WHO_A, V4B), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_B, &ans), 0);
    ck_assert_int_eq(ans.former, 1);
    ASSERT_ANSWER(&ans, "svc.example", V4B);
    /* Moving back makes it current again. */
    ck_assert_int_eq(LEARN(m, "svc.example", HE_MEMO_FAM_ALL, WHO_A, V4A), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_B, &ans), 0);
    ck_assert_int_eq(ans.former, 0);
    /* A name that holds the address now goes before one that used to. */
    ck_assert_int_eq(LEARN(m, "other.example", HE_MEMO_FAM_ALL, WHO_A, V4C), 0);
    ck_assert_int_eq(LEARN(m, "svc.example", HE_MEMO_FAM_ALL, WHO_A, V4D), 0);
    ck_assert_int_eq(LEARN(m, "other.example", HE_MEMO_FAM_ALL, WHO_B, V4A), 0);
    ck_assert_int_eq(lookup(m, V4A, WHO_A, &ans), 0);
    ck_assert_str_eq(ans.name, "other.example");
    ck_assert_int_eq(ans.former, 0);
    he_memo_free(m);
}
END_TEST

START_TEST(test_former_addresses_bounded) {
    struct he_memo *m = he_memo_new(16);
    struct he_memo_answer ans;
    struct he_addr a[40];
    for (uint32_t i = 0; i < 40; i++) {
        a[i] = numbered_v4(i);
        ck_assert_int_eq(he_memo_learn(m, "hop.example", HE_MEMO_FAM_ALL, &a[i], 1, WHO_A, HE_T0),
                         0);
    }
    /* The latest address, and at most HE_MEMO_MAX_FORMER before it. */
    int found = 0;
    for (int i = 0; i < 39; i++) {
        found += he_memo_lookup(m, &a[i], WHO_A, &ans) == 0;
    }
    ck_assert_int_eq(found, HE_MEMO_MAX_FORMER);
    ck_assert_int_eq(he_memo_lookup(m, &a[38], WHO_A, &ans), 0);
    ck_assert_int_eq(ans.former, 1);
    ck_assert_int_eq(he_memo_lookup(m, &a[39], WHO_A, &ans), 0);
    ck_assert_int_eq(ans.former, 0);
    he_memo_free(m);
}
END_TEST

static Suite *memo_suite(void) {
    Suite *s = suite_create("memo");
    TCase *tc = tcase_create("memo");
    tcase_add_test(tc, test_lookup_finds_name_and_siblings);
    tcase_add_test(tc, test_unknown_is_enoent);
    tcase_add_test(tc, test_scope_distinguishes);
    tcase_add_loop_test(tc, test_names_without_case_and_trailing_dot, 0,
                        (int)(sizeof name_rows / sizeof name_rows[0]));
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_fam_v4_replaces_only_v4);
    tcase_add_test(tc, test_empty_answer_for_only_family_drops_name);
    tcase_add_test(tc, test_relearn_replaces);
    tcase_add_test(tc, test_expiry_per_family);
    tcase_add_test(tc, test_relearn_restamps);
    tcase_add_test(tc, test_refresh_claim_gap);
    tcase_add_test(tc, test_restamp);
    tcase_add_test(tc, test_former_addresses);
    tcase_add_test(tc, test_former_addresses_bounded);
    tcase_add_test(tc, test_duplicates_in_answer_kept_once);
    tcase_add_test(tc, test_eviction_lru);
    tcase_add_test(tc, test_max_names_zero_holds_one);
    tcase_add_test(tc, test_ambiguous_address);
    tcase_add_test(tc, test_mine_after_another_thread);
    tcase_add_test(tc, test_mine_is_bounded);
    tcase_add_test(tc, test_aliases_not_ambiguous);
    tcase_add_test(tc, test_relearn_shortcut_keeps_who);
    tcase_add_test(tc, test_is_empty);
    tcase_add_test(tc, test_max_addrs_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("bounds");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_addr_hash_spreads);
    tcase_add_test(tc, test_many_names_stay_bounded);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("learn");
    tcase_add_loop_test(tc, test_is_numeric, 0,
                        (int)(sizeof numeric_rows / sizeof numeric_rows[0]));
    tcase_add_test(tc, test_is_numeric_long);
    tcase_add_test(tc, test_addrinfo_dedups_socktypes);
    tcase_add_test(tc, test_addrinfo_ignores_numeric_and_null);
    tcase_add_test(tc, test_addrinfo_family_mask_from_hints);
    tcase_add_test(tc, test_addrinfo_v4_mapped_normalised);
    tcase_add_test(tc, test_addrinfo_skips_other_families);
    tcase_add_test(tc, test_addrinfo_caps_addresses);
    tcase_add_test(tc, test_hostent);
    tcase_add_test(tc, test_hostent_ignored);
    tcase_add_test(tc, test_hostent_v4_mapped_normalised);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(memo_suite)

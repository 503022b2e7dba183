/* Unit tests for RFC 8305 §3 answer handling (resolver/feed.c): which
 * answers a race may take, and when. */
#include "../../resolver/feed.h"

#include "addrs.h"

#include "he_check.h"

#include <check.h>
#include <errno.h>
#include <string.h>

enum ev_kind { END = 0, ANS4, ANS6, FAIL4, FAIL6, TAKE };

struct ev {
    int at;
    enum ev_kind kind;
    int n;        /* ANS*: addresses; TAKE: how many must come out */
    int next;     /* TAKE: he_feed_next_ms afterwards */
    int done;     /* TAKE: he_feed_done afterwards */
    int complete; /* TAKE: he_feed_complete afterwards */
};

struct feed_row {
    const char *name;
    int fams;
    int delay;
    struct ev evs[8];
};

/* clang-format off */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct feed_row feed_rows[] = {
    {"AAAA first is taken at once; A then at once too", HE_MEMO_FAM_ALL, 50,
     {{10, ANS6, 2}, {10, TAKE, 2, -1, 0, 0}, {30, ANS4, 1}, {30, TAKE, 1, -1, 1, 1}}},
    {"A first waits the Resolution Delay for AAAA", HE_MEMO_FAM_ALL, 50,
     {{10, ANS4, 2}, {10, TAKE, 0, 50, 0, 0}, {40, TAKE, 0, 20, 0, 0},
      {60, TAKE, 2, -1, 0, 1}, {70, ANS6, 1}, {70, TAKE, 1, -1, 1, 1}}},
    {"A first, AAAA within the delay: both go", HE_MEMO_FAM_ALL, 50,
     {{10, ANS4, 2}, {30, ANS6, 1}, {30, TAKE, 3, -1, 1, 1}}},
    {"A first, AAAA fails: A goes at once", HE_MEMO_FAM_ALL, 50,
     {{10, ANS4, 2}, {20, FAIL6}, {20, TAKE, 2, -1, 1, 1}}},
    {"AAAA NODATA, then A", HE_MEMO_FAM_ALL, 50,
     {{5, ANS6, 0}, {5, TAKE, 0, -1, 0, 0}, {8, ANS4, 1}, {8, TAKE, 1, -1, 1, 1}}},
    {"both fail: done, complete, nothing taken", HE_MEMO_FAM_ALL, 50,
     {{5, FAIL4}, {9, FAIL6}, {9, TAKE, 0, -1, 1, 1}}},
    {"A only asked: no delay", HE_MEMO_FAM_V4, 50,
     {{5, ANS4, 3}, {5, TAKE, 3, -1, 1, 1}}},
    {"delay 0: A at once", HE_MEMO_FAM_ALL, 0,
     {{5, ANS4, 1}, {5, TAKE, 1, -1, 0, 1}}},
};
/* clang-format on */

static const char *const v4s[] = {V4A, V4B, V4C};
static const char *const v6s[] = {V6A, V6B, V6C};

START_TEST(test_feed_table) {
    const struct feed_row *row = &feed_rows[_i];
    struct he_feed f;
    he_feed_init(&f, row->fams, row->delay);
    for (int k = 0; k < 8 && row->evs[k].kind != END; k++) {
        const struct ev *e = &row->evs[k];
        struct he_addr a[3];
        for (int i = 0; i < e->n && i < 3; i++) {
            a[i] = addr_of(e->kind == ANS4 ? v4s[i] : v6s[i]);
        }
        switch (e->kind) {
        case ANS4:
            he_feed_answer(&f, AF_INET, a, e->n, 60, 0, e->at);
            break;
        case ANS6:
            he_feed_answer(&f, AF_INET6, a, e->n, 60, 0, e->at);
            break;
        case FAIL4:
            he_feed_fail(&f, AF_INET, -ETIMEDOUT);
            break;
        case FAIL6:
            he_feed_fail(&f, AF_INET6, -ETIMEDOUT);
            break;
        case TAKE: {
            struct he_addr out[64];
            int got = he_feed_take(&f, e->at, out, 64);
            ck_assert_msg(got == e->n, "%s: event %d took %d, want %d", row->name, k, got, e->n);
            ck_assert_msg(he_feed_next_ms(&f, e->at) == e->next, "%s: event %d next %d, want %d",
                          row->name, k, he_feed_next_ms(&f, e->at), e->next);
            ck_assert_msg(he_feed_done(&f) == e->done, "%s: event %d done %d", row->name, k,
                          he_feed_done(&f));
            ck_assert_msg(he_feed_complete(&f, e->at) == e->complete, "%s: event %d complete %d",
                          row->name, k, he_feed_complete(&f, e->at));
            break;
        }
        case END:
            break;
        }
    }
}
END_TEST

START_TEST(test_feed_answer_keeps_its_family) {
    struct he_feed f;
    he_feed_init(&f, HE_MEMO_FAM_ALL, 50);
    struct he_addr a[2] = {addr_of(V4A), addr_of(V6A)};
    he_feed_answer(&f, AF_INET6, a, 2, 30, 0, 0);
    ck_assert_int_eq(f.fam[1].count, 1);
    ck_assert_int_eq(f.fam[1].ttl_s, 30);
    /* A second answer for a family that already answered changes nothing. */
    he_feed_answer(&f, AF_INET6, a, 0, 5, 0, 1);
    ck_assert_int_eq(f.fam[1].count, 1);
    /* Nor does an answer for a family never asked. */
    he_feed_init(&f, HE_MEMO_FAM_V6, 50);
    he_feed_answer(&f, AF_INET, a, 1, 30, 0, 0);
    ck_assert_int_eq(f.fam[0].state, HE_FEED_UNASKED);
}
END_TEST

static Suite *feed_suite(void) {
    Suite *s = suite_create("feed");
    TCase *tc = tcase_create("feed");
    tcase_add_loop_test(tc, test_feed_table, 0, (int)(sizeof feed_rows / sizeof feed_rows[0]));
    tcase_add_test(tc, test_feed_answer_keeps_its_family);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(feed_suite)

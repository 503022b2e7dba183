/* What a siglongjmp out of connect() leaves behind (racer/strand.c): reaped
 * on the next call that is not nested in a signal handler, and only the
 * sockets that are still the race's own. */
#include "../../racer/strand.h"

#include "he_check.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int closed[64];
static int nclosed;

static int fake_close(int fd) {
    closed[nclosed++] = fd;
    return close(fd);
}

static int is_open(int fd) {
    return fcntl(fd, F_GETFD) >= 0;
}

static void setup(void) {
    nclosed = 0;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A race begun at frame 1000 on a caller socket with two siblings, the
 * thread's mask noted as a blocking poll would. */
static void begin_race(int *caller, int *sib1, int *sib2) {
    *caller = socket(AF_INET, SOCK_STREAM, 0);
    *sib1 = socket(AF_INET, SOCK_STREAM, 0);
    *sib2 = socket(AF_INET, SOCK_STREAM, 0);
    fcntl(*caller, F_SETFL, O_RDWR | O_NONBLOCK);
    he_strand_begin(1000, *caller, O_RDWR);
    he_strand_note_caller();
    he_strand_add(*sib1);
    he_strand_add(*sib2);
    he_strand_note_mask();
}

START_TEST(test_shallower_call_reaps) {
    int caller, s1, s2;
    begin_race(&caller, &s1, &s2);
    ck_assert_int_eq(he_strand_check(2000, fake_close), 0);
    ck_assert_int_eq(nclosed, 2);
    ck_assert(!is_open(s1) && !is_open(s2));
    ck_assert_int_eq(he_strand_active, 0);
    /* The caller's socket gets its flags back, and stays open. */
    ck_assert(is_open(caller));
    ck_assert_int_eq(fcntl(caller, F_GETFL) & O_NONBLOCK, 0);
    close(caller);
}
END_TEST

START_TEST(test_deeper_call_same_mask_reaps) {
    int caller, s1, s2;
    begin_race(&caller, &s1, &s2);
    ck_assert_int_eq(he_strand_check(500, fake_close), 0);
    ck_assert_int_eq(nclosed, 2);
    close(caller);
}
END_TEST

START_TEST(test_handler_on_top_is_nested) {
    int caller, s1, s2;
    begin_race(&caller, &s1, &s2);
    /* A handler runs with its own signal blocked, below the race. */
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    ck_assert_int_eq(he_strand_check(500, fake_close), 1);
    ck_assert_int_eq(nclosed, 0);
    ck_assert(is_open(s1) && is_open(s2));
    ck_assert_int_eq(he_strand_active, 1);
    ck_assert(he_strand_current(he_strand_gen()));
    he_strand_end();
    close(s1);
    close(s2);
    close(caller);
}
END_TEST

START_TEST(test_reaped_race_is_not_current) {
    int caller, s1, s2;
    begin_race(&caller, &s1, &s2);
    unsigned gen = he_strand_gen();
    ck_assert(he_strand_current(gen));
    he_strand_check(2000, fake_close);
    ck_assert(!he_strand_current(gen));
    close(caller);
}
END_TEST

START_TEST(test_reused_numbers_are_left_alone) {
    int caller, s1, s2;
    begin_race(&caller, &s1, &s2);
    /* The program closed a sibling's number and opened a file there, and
     * closed its own socket and reused that number too. */
    close(s1);
    int file = open("/dev/null", O_RDONLY);
    ck_assert_int_eq(file, s1);
    close(caller);
    int other = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(other, caller);
    fcntl(other, F_SETFL, O_RDWR | O_NONBLOCK);
    ck_assert_int_eq(he_strand_check(2000, fake_close), 0);
    ck_assert_int_eq(nclosed, 1);
    ck_assert_int_eq(closed[0], s2);
    ck_assert(is_open(file));
    /* Not the caller's socket any more: its flags are not ours to set. */
    ck_assert_int_ne(fcntl(other, F_GETFL) & O_NONBLOCK, 0);
    close(file);
    close(other);
}
END_TEST

START_TEST(test_deleted_siblings_are_not_reaped) {
    int caller, s1, s2;
    begin_race(&caller, &s1, &s2);
    he_strand_del(s1);
    close(s1);
    ck_assert_int_eq(he_strand_check(2000, fake_close), 0);
    ck_assert_int_eq(nclosed, 1);
    ck_assert_int_eq(closed[0], s2);
    close(caller);
}
END_TEST

static Suite *strand_suite(void) {
    Suite *s = suite_create("strand");
    TCase *tc = tcase_create("reap");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_shallower_call_reaps);
    tcase_add_test(tc, test_deeper_call_same_mask_reaps);
    tcase_add_test(tc, test_handler_on_top_is_nested);
    tcase_add_test(tc, test_reaped_race_is_not_current);
    tcase_add_test(tc, test_reused_numbers_are_left_alone);
    tcase_add_test(tc, test_deleted_siblings_are_not_reaped);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(strand_suite)

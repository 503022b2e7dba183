/* Unit tests for the fd map (racer/fdmap.c): which epoll registrations of
 * each fd a splice would carry over, the bind notes, and the busy flag the
 * close-family hooks read without the lock.  A table of epoll_ctl calls per row, then
 * what the map holds for fd 7. */
#include "../../racer/fdmap.h"

#include "he_check.h"

#include <check.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define FD 7
#define STEPS_MAX 6
#define REGS_MAX 3

struct step {
    int op; /* EPOLL_CTL_ADD/MOD/DEL, or 0 for the end; -1: he_fdmap_forget */
    int epfd;
    uint32_t events;
    uint64_t data;
};

struct fdmap_row {
    const char *name;
    struct step steps[STEPS_MAX];
    int nreg; /* HE_FDMAP_UNKNOWN when the set is unknown */
    struct he_fdmap_reg want[REGS_MAX];
};

static const struct fdmap_row rows[] = {
    {"nothing registered", {{0}}, 0, {{0}}},
    {"ADD is kept with its events and data",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT | EPOLLET, 0x1234abcdULL}},
     1,
     {{4, EPOLLOUT | EPOLLET, 0x1234abcdULL}}},
    {"MOD replaces the events and data",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1}, {EPOLL_CTL_MOD, 4, EPOLLIN | EPOLLONESHOT, 2}},
     1,
     {{4, EPOLLIN | EPOLLONESHOT, 2}}},
    {"DEL removes it", {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1}, {EPOLL_CTL_DEL, 4, 0, 0}}, 0, {{0}}},
    {"DEL of one instance keeps the other",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1}, {EPOLL_CTL_ADD, 5, EPOLLIN, 2}, {EPOLL_CTL_DEL, 4, 0, 0}},
     1,
     {{5, EPOLLIN, 2}}},
    {"MOD of a registration made unseen is taken as one",
     {{EPOLL_CTL_MOD, 9, EPOLLOUT, 3}},
     1,
     {{9, EPOLLOUT, 3}}},
    {"a second ADD in the same instance replaces (the number was reused)",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1}, {EPOLL_CTL_ADD, 4, EPOLLIN, 5}},
     1,
     {{4, EPOLLIN, 5}}},
    {"two instances are both kept",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1}, {EPOLL_CTL_ADD, 5, EPOLLIN, 2}},
     2,
     {{4, EPOLLOUT, 1}, {5, EPOLLIN, 2}}},
    {"a third instance makes the set unknown",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1},
      {EPOLL_CTL_ADD, 5, EPOLLIN, 2},
      {EPOLL_CTL_ADD, 6, EPOLLIN, 3}},
     HE_FDMAP_UNKNOWN,
     {{0}}},
    {"unknown stays unknown through DEL",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1},
      {EPOLL_CTL_ADD, 5, EPOLLIN, 2},
      {EPOLL_CTL_ADD, 6, EPOLLIN, 3},
      {EPOLL_CTL_DEL, 6, 0, 0}},
     HE_FDMAP_UNKNOWN,
     {{0}}},
    {"closing the fd forgets everything, unknown included",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1},
      {EPOLL_CTL_ADD, 5, EPOLLIN, 2},
      {EPOLL_CTL_ADD, 6, EPOLLIN, 3},
      {-1, 0, 0, 0}},
     0,
     {{0}}},
    {"a registration after the close is new",
     {{EPOLL_CTL_ADD, 4, EPOLLOUT, 1}, {-1, 0, 0, 0}, {EPOLL_CTL_ADD, 5, EPOLLIN, 8}},
     1,
     {{5, EPOLLIN, 8}}},
};
#define ROWS (int)(sizeof rows / sizeof rows[0])

START_TEST(test_fdmap_table) {
    const struct fdmap_row *row = &rows[_i];
    sigset_t old;
    he_fdmap_lock(1, &old);
    he_fdmap_forget(FD);
    for (int k = 0; k < STEPS_MAX && row->steps[k].op != 0; k++) {
        const struct step *s = &row->steps[k];
        if (s->op < 0) {
            he_fdmap_forget(FD);
            continue;
        }
        struct epoll_event ev = {.events = s->events, .data.u64 = s->data};
        he_fdmap_epoll(s->epfd, s->op, FD, s->op == EPOLL_CTL_DEL ? NULL : &ev);
    }
    struct he_fd_slot *slot = he_fdmap_slot(FD, 0);
    he_fdmap_unlock(1, &old);
    ck_assert_msg(slot != NULL || row->nreg == 0, "%s: no slot", row->name);
    int nreg = slot ? slot->nreg : 0;
    ck_assert_msg(nreg == row->nreg, "%s: %d registrations, wanted %d", row->name, nreg, row->nreg);
    ck_assert_msg(he_fdmap_busy(FD) == (row->nreg != 0), "%s: busy %d", row->name,
                  he_fdmap_busy(FD));
    for (int k = 0; row->nreg != HE_FDMAP_UNKNOWN && k < row->nreg; k++) {
        const struct he_fdmap_reg *w = &row->want[k];
        int found = 0;
        for (int j = 0; j < nreg; j++) {
            const struct he_fdmap_reg *g = &slot->reg[j];
            found |= g->epfd == w->epfd && g->events == w->events && g->data == w->data;
        }
        ck_assert_msg(found, "%s: registration in %d (events %#x data %#llx) missing", row->name,
                      w->epfd, w->events, (unsigned long long)w->data);
    }
}
END_TEST

START_TEST(test_fdmap_roles_make_busy) {
    sigset_t old;
    he_fdmap_lock(1, &old);
    ck_assert(he_fdmap_held());
    struct he_fd_slot *s = he_fdmap_slot(3000, 1);
    ck_assert_ptr_nonnull(s);
    ck_assert(!he_fdmap_busy(3000));
    s->role = HE_FD_PRIVATE;
    he_fdmap_touch(s);
    ck_assert(he_fdmap_busy(3000));
    /* Forgetting registrations leaves the role: the number is still
     * libhe's. */
    he_fdmap_forget(3000);
    ck_assert(he_fdmap_busy(3000));
    s->role = HE_FD_NONE;
    he_fdmap_touch(s);
    ck_assert(!he_fdmap_busy(3000));
    he_fdmap_unlock(1, &old);
    ck_assert(!he_fdmap_held());
}
END_TEST

START_TEST(test_fdmap_out_of_range) {
    sigset_t old;
    he_fdmap_lock(1, &old);
    int big = HE_FDMAP_CHUNKS << HE_FDMAP_CHUNK_BITS;
    ck_assert_ptr_null(he_fdmap_slot(-1, 1));
    ck_assert_ptr_null(he_fdmap_slot(big, 1));
    ck_assert(!he_fdmap_incomplete());
    /* A registration the map cannot hold makes it incomplete: no splice
     * may trust it any more. */
    struct epoll_event ev = {.events = EPOLLIN};
    he_fdmap_epoll(4, EPOLL_CTL_ADD, big, &ev);
    he_fdmap_unlock(1, &old);
    ck_assert(!he_fdmap_busy(big));
    ck_assert(!he_fdmap_busy(-5));
    ck_assert(he_fdmap_incomplete());
}
END_TEST

START_TEST(test_fdmap_forget_range) {
    sigset_t old;
    struct epoll_event ev = {.events = EPOLLIN};
    const int fds[] = {1020, 1023, 1024, 2047, 2048, 5000};
    he_fdmap_lock(1, &old);
    for (int i = 0; i < 6; i++) {
        he_fdmap_epoll(4, EPOLL_CTL_ADD, fds[i], &ev);
    }
    /* Across a chunk boundary, a whole chunk, and ends inside chunks. */
    he_fdmap_forget_range(1023, 2047);
    he_fdmap_forget_range(4000, ~0u);
    he_fdmap_unlock(1, &old);
    ck_assert(he_fdmap_busy(1020));
    ck_assert(!he_fdmap_busy(1023));
    ck_assert(!he_fdmap_busy(1024));
    ck_assert(!he_fdmap_busy(2047));
    ck_assert(he_fdmap_busy(2048));
    ck_assert(!he_fdmap_busy(5000));
}
END_TEST

/* A socket placed on fd number n (dup2), for the bind-note tests. */
static int socket_at(int n) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(dup2(s, n), n);
    close(s);
    return n;
}

/* Bind notes live in the fd's own record, so two sockets whose numbers
 * differ by 256 each keep theirs (a 256-slot table once lost the older). */
START_TEST(test_fdmap_bind_notes_do_not_collide) {
    int a = socket_at(300), b = socket_at(300 + 256);
    he_fdmap_bind_note(a, HE_BIND_PORT0);
    he_fdmap_bind_note(b, HE_BIND_AUTO);
    ck_assert_int_eq(he_fdmap_bind_kind(a), HE_BIND_PORT0);
    ck_assert_int_eq(he_fdmap_bind_kind(b), HE_BIND_AUTO);
    ck_assert(he_fdmap_busy(a));
    /* FIXED forgets the note. */
    he_fdmap_bind_note(b, HE_BIND_FIXED);
    ck_assert_int_eq(he_fdmap_bind_kind(b), HE_BIND_FIXED);
    ck_assert(!he_fdmap_busy(b));
    close(a);
    close(b);
}
END_TEST

/* A note is about one socket: another socket on the same number (closed
 * behind libhe's back, by glibc or a raw syscall) does not inherit it;
 * forgetting the number (close, dup2, close_range) drops it. */
START_TEST(test_fdmap_bind_note_follows_socket) {
    int a = socket_at(310);
    he_fdmap_bind_note(a, HE_BIND_PORT0);
    close(a); /* libc's close here: the record is not told */
    socket_at(310);
    ck_assert_int_eq(he_fdmap_bind_kind(310), HE_BIND_FIXED);
    he_fdmap_bind_note(310, HE_BIND_PORT0);
    ck_assert_int_eq(he_fdmap_bind_kind(310), HE_BIND_PORT0);
    sigset_t old;
    he_fdmap_lock(1, &old);
    he_fdmap_forget(310);
    he_fdmap_unlock(1, &old);
    ck_assert_int_eq(he_fdmap_bind_kind(310), HE_BIND_FIXED);
    ck_assert(!he_fdmap_busy(310));
    he_fdmap_bind_note(310, HE_BIND_PORT0);
    he_fdmap_lock(1, &old);
    he_fdmap_forget_range(300, 400);
    he_fdmap_unlock(1, &old);
    ck_assert_int_eq(he_fdmap_bind_kind(310), HE_BIND_FIXED);
    /* Not a socket: nothing is noted. */
    he_fdmap_bind_note(0, HE_BIND_PORT0);
    ck_assert(!he_fdmap_busy(0));
    close(310);
}
END_TEST

/* The fresh bits (HE_FRESH_*): two per number, set and cleared without
 * touching a neighbour's; a range clear reaches exactly its range, whole
 * words and partial ones; numbers out of range are never fresh. */
START_TEST(test_fdmap_fresh_bits) {
    he_fdmap_fresh_set(40, HE_FRESH_ALL);
    he_fdmap_fresh_set(41, HE_FRESH_UNBOUND);
    ck_assert_uint_eq(he_fdmap_fresh(40), HE_FRESH_ALL);
    ck_assert_uint_eq(he_fdmap_fresh(41), HE_FRESH_UNBOUND);
    ck_assert_uint_eq(he_fdmap_fresh(39), 0);
    he_fdmap_fresh_clear(40, HE_FRESH_DEFAULTS);
    ck_assert_uint_eq(he_fdmap_fresh(40), HE_FRESH_UNBOUND);
    ck_assert_uint_eq(he_fdmap_fresh(41), HE_FRESH_UNBOUND);
    he_fdmap_fresh_set(41, HE_FRESH_DEFAULTS); /* set replaces both bits */
    ck_assert_uint_eq(he_fdmap_fresh(41), HE_FRESH_DEFAULTS);
    for (int fd = 60; fd < 140; fd++) {
        he_fdmap_fresh_set(fd, HE_FRESH_ALL);
    }
    he_fdmap_fresh_clear_range(63, 130);
    ck_assert_uint_eq(he_fdmap_fresh(62), HE_FRESH_ALL);
    ck_assert_uint_eq(he_fdmap_fresh(63), 0);
    ck_assert_uint_eq(he_fdmap_fresh(96), 0);
    ck_assert_uint_eq(he_fdmap_fresh(130), 0);
    ck_assert_uint_eq(he_fdmap_fresh(131), HE_FRESH_ALL);
    he_fdmap_fresh_clear_range(0, ~0u);
    ck_assert_uint_eq(he_fdmap_fresh(131), 0);
    ck_assert_uint_eq(he_fdmap_fresh(40), 0);
    he_fdmap_fresh_set(-1, HE_FRESH_ALL);
    he_fdmap_fresh_set(1 << 20, HE_FRESH_ALL);
    ck_assert_uint_eq(he_fdmap_fresh(-1), 0);
    ck_assert_uint_eq(he_fdmap_fresh(1 << 20), 0);
}
END_TEST

static Suite *fdmap_suite(void) {
    Suite *s = suite_create("fdmap");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_fdmap_table, 0, ROWS);
    tcase_add_test(tc, test_fdmap_roles_make_busy);
    tcase_add_test(tc, test_fdmap_out_of_range);
    tcase_add_test(tc, test_fdmap_forget_range);
    tcase_add_test(tc, test_fdmap_bind_notes_do_not_collide);
    tcase_add_test(tc, test_fdmap_bind_note_follows_socket);
    tcase_add_test(tc, test_fdmap_fresh_bits);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(fdmap_suite)

/* Unit tests for the helper thread's splice (racer/splice.c) against a
 * fake table of libc's functions: a winning sibling goes onto the
 * program's fd only while the fd still holds the caller's socket and its
 * epoll registrations are all known; the registrations move with it, and
 * a failed dup3 leaves them on the caller's socket.
 *
 * Real sockets, no network: the "winner" is one end of a socketpair
 * (AF_UNIX), the caller's socket an unconnected TCP socket.  The race
 * record is built by hand, as the helper would have built it. */
#include "../../racer/bg.h"

#include "he_check.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static struct {
    int dup3_errno;
    int dup3_calls;
} fk;

static int fake_dup3(int oldfd, int newfd, int flags) {
    fk.dup3_calls++;
    if (fk.dup3_errno) {
        errno = fk.dup3_errno;
        return -1;
    }
    return dup3(oldfd, newfd, flags);
}

static const struct he_libc fake_libc = {
    .close = close, .dup3 = fake_dup3, .epoll_ctl = epoll_ctl, .fcntl = fcntl};

enum change {
    NONE = 0,
    REPLACE_CALLER, /* another socket dup2'd onto the program's fd */
    UNKNOWN_REGS,   /* the fd's epoll registrations are not all known */
};

struct splice_row {
    const char *name;
    enum change change;
    int dup3_errno;
    enum he_splice_result want;
    int want_dup3;
    int want_winner_on_fd; /* the fd holds the winner afterwards */
};

static const struct splice_row rows[] = {
    {"the winner goes onto the fd", NONE, 0, HE_SPLICE_DONE, 1, 1},
    {"refused: the fd holds another socket", REPLACE_CALLER, 0, HE_SPLICE_CALLER_GONE, 0, 0},
    {"refused: registrations not all known", UNKNOWN_REGS, 0, HE_SPLICE_REGS_UNKNOWN, 0, 0},
    {"dup3 fails: the caller's socket stays", NONE, EMFILE, HE_SPLICE_DUP3_FAILED, 1, 0},
};
#define ROWS (int)(sizeof rows / sizeof rows[0])

/* Whether fd's registration in ep reports what the splice must keep:
 * EPOLL_CTL_MOD finds it only when it is on the file fd holds now. */
static int registered(int ep, int fd) {
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 42};
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0;
}

START_TEST(test_splice_table) {
    const struct splice_row *row = &rows[_i];
    memset(&fk, 0, sizeof fk);
    he_bg_setup(&fake_libc, 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int pair[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    struct he_fdid winner_id;
    ck_assert_int_eq(he_fdid_of(pair[0], &winner_id), 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.u64 = 7};
    ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);

    struct he_bg_race *b = calloc(1, sizeof *b);
    b->fd = fd;
    b->dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    ck_assert_int_eq(he_fdid_of(b->dupfd, &b->id), 0);
    b->r.count = 2;
    b->r.winner = 1;
    b->r.att[1].handle = pair[0];

    sigset_t old;
    he_fdmap_lock(1, &old);
    he_fdmap_forget(fd);
    he_fdmap_epoll(ep, EPOLL_CTL_ADD, fd, &ev);
    int other = -1;
    if (row->change == REPLACE_CALLER) {
        other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(dup2(other, fd), fd);
    } else if (row->change == UNKNOWN_REGS) {
        he_fdmap_slot(fd, 0)->nreg = HE_FDMAP_UNKNOWN;
    }
    fk.dup3_errno = row->dup3_errno;
    enum he_splice_result rc = he_splice_winner(b);
    he_fdmap_forget(fd);
    he_fdmap_unlock(1, &old);

    ck_assert_msg(rc == row->want, "%s: %s, wanted %s", row->name, he_splice_why(rc),
                  he_splice_why(row->want));
    ck_assert_int_eq(fk.dup3_calls, row->want_dup3);
    ck_assert_int_eq(he_fdid_same(fd, &winner_id), row->want_winner_on_fd);
    /* The winner's own number is closed whatever happened. */
    ck_assert_int_eq(b->r.att[1].handle, -1);
    ck_assert_int_eq(fcntl(pair[0], F_GETFD), -1);
    if (row->want_winner_on_fd) {
        ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
        ck_assert_msg(registered(ep, fd), "%s: the registration did not move", row->name);
    } else if (row->change == NONE) {
        ck_assert_msg(registered(ep, fd), "%s: the caller's registration was lost", row->name);
    }
    close(ep);
    close(fd);
    close(b->dupfd);
    close(pair[1]);
    if (other >= 0) {
        close(other);
    }
    free(b);
}
END_TEST

static Suite *splice_suite(void) {
    return he_check_table_suite("splice", test_splice_table, ROWS);
}

HE_CHECK_MAIN(splice_suite)

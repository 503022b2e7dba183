/* Unit tests for the real connector (racer/connector.c) against a fake
 * table of libc's functions (common/libc.h): the failures a sibling can
 * meet on its way (no descriptor, options that cannot be replayed, a
 * local address that cannot be bound again), and the blocking race's
 * splice, refused when the caller's fd no longer holds its socket.
 *
 * Real sockets on the loopback only: the test's own listener on
 * 127.0.0.1, which each started sibling connects to.  Nothing is sent.
 * Each row gives what the fake table does and what must come of it. */
#include "../../racer/connector.h"
#include "../../racer/fdmap.h"
#include "../../racer/strand.h"

#include "addrs.h"
#include "he_check.h"
#include <arpa/inet.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* What the fake table does, and what it saw. */
static struct {
    int socket_errno; /* socket() fails with this */
    int socket_udp;   /* socket() hands out a UDP socket: TCP options cannot go on it */
    int bind_errno;   /* bind() fails with this */
    int dup3_calls;
    int closes;
} fk;

static int fake_socket(int domain, int type, int protocol) {
    if (fk.socket_errno) {
        errno = fk.socket_errno;
        return -1;
    }
    if (fk.socket_udp) {
        return socket(domain, SOCK_DGRAM | (type & (SOCK_NONBLOCK | SOCK_CLOEXEC)), 0);
    }
    return socket(domain, type, protocol);
}

static int fake_bind(int fd, const struct sockaddr *addr, socklen_t len) {
    if (fk.bind_errno) {
        errno = fk.bind_errno;
        return -1;
    }
    return bind(fd, addr, len);
}

static int fake_dup3(int oldfd, int newfd, int flags) {
    fk.dup3_calls++;
    return dup3(oldfd, newfd, flags);
}

static int fake_close(int fd) {
    fk.closes++;
    return close(fd);
}

static const struct he_libc fake_libc = {.socket = fake_socket,
                                         .connect = connect,
                                         .bind = fake_bind,
                                         .getsockname = getsockname,
                                         .close = fake_close,
                                         .dup3 = fake_dup3};

enum caller_setup {
    CALLER_PLAIN = 0,
    CALLER_NODELAY, /* TCP_NODELAY set: an option the first sibling captures */
    CALLER_BOUND,   /* bound to 127.0.0.1 with port 0 (noted as such) */
};

enum after_start {
    KEEP = 0,
    REPLACE_CALLER, /* another socket is dup2'd onto the caller's fd */
};

struct connector_row {
    const char *name;
    enum caller_setup caller;
    int socket_errno, socket_udp, bind_errno;
    int want_start; /* what he_connector_start(sibling) returns; 2: 0 or 1 */
    enum after_start after;
    int want_finish; /* he_connector_finish with the sibling as winner */
    int want_dup3;
};

static const struct connector_row rows[] = {
    {"a sibling starts and is spliced", CALLER_NODELAY, 0, 0, 0, 2, KEEP, 0, 1},
    {"a bound caller's address is replayed", CALLER_BOUND, 0, 0, 0, 2, KEEP, 0, 1},
    {"EMFILE on a sibling stops racing", CALLER_PLAIN, EMFILE, 0, 0, -ENOTSUP, KEEP, 0, 0},
    {"option replay failing stops racing", CALLER_NODELAY, 0, 1, 0, -ENOTSUP, KEEP, 0, 0},
    {"the local address cannot be bound again", CALLER_BOUND, 0, 0, EADDRINUSE, -EADDRINUSE, KEEP,
     0, 0},
    {"splice refused: the fd holds another socket", CALLER_NODELAY, 0, 0, 0, 2, REPLACE_CALLER,
     -EBADF, 0},
};
#define ROWS (int)(sizeof rows / sizeof rows[0])

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d)) {
        n++;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static struct sockaddr_in loopback(in_port_t port) {
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = port};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

/* The test's listener on 127.0.0.1, port chosen by the kernel. */
static int listener(struct sockaddr_in *at) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *at = loopback(0);
    socklen_t len = sizeof *at;
    ck_assert_int_eq(bind(l, (struct sockaddr *)at, sizeof *at), 0);
    ck_assert_int_eq(listen(l, 8), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)at, &len), 0);
    return l;
}

static int caller_socket(enum caller_setup setup) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    if (setup == CALLER_NODELAY) {
        int one = 1;
        ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    } else if (setup == CALLER_BOUND) {
        struct sockaddr_in any = loopback(0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&any, sizeof any), 0);
        he_fdmap_bind_note(fd, HE_BIND_PORT0);
    }
    return fd;
}

static struct he_addr addr_v4(const char *text) {
    struct he_addr a;
    memset(&a, 0, sizeof a);
    a.family = AF_INET;
    ck_assert_int_eq(inet_pton(AF_INET, text, a.bytes), 1);
    return a;
}

/* Race r from the caller's own address, 127.0.0.3 (nothing answers), to the
 * listener's 127.0.0.1 as its one sibling; c, the connector for the
 * caller's socket fd to own (127.0.0.3 at the listener's port). */
static void race_setup(struct he_race *r, struct he_connector *c, int fd, struct sockaddr_in *own,
                       const struct sockaddr_in *srv) {
    *own = *srv;
    own->sin_addr.s_addr = htonl(0x7f000003);
    struct he_addr first = addr_v4("127.0.0.3"),
                   addrs[2] = {addr_v4("127.0.0.3"), addr_v4("127.0.0.1")};
    he_race_init(r, &first, addrs, 2, AF_INET, 250, 16);
    ck_assert_int_eq(r->count, 2);
    *c = (struct he_connector){.sys = &fake_libc,
                               .fd = fd,
                               .fl = fcntl(fd, F_GETFL),
                               .family = AF_INET,
                               .addr = (struct sockaddr *)own,
                               .addrlen = sizeof *own};
}

START_TEST(test_connector_table) {
    const struct connector_row *row = &rows[_i];
    memset(&fk, 0, sizeof fk);
    struct sockaddr_in srv;
    int l = listener(&srv);
    int fds_before = count_fds();
    int fd = caller_socket(row->caller);
    /* The caller's own address: 127.0.0.3, which nothing answers; the
     * sibling is the listener's 127.0.0.1 on the same port. */
    struct sockaddr_in own;
    struct he_race r;
    struct he_connector c;
    race_setup(&r, &c, fd, &own, &srv);
    c.track = &he_connector_strand_track;
    int fl = c.fl;
    int frame;
    he_strand_begin((uintptr_t)&frame, fd, fl);
    c.strand_gen = he_strand_gen();
    ck_assert_int_eq(he_connector_note_local(&c), 0);

    fk.socket_errno = row->socket_errno;
    fk.socket_udp = row->socket_udp;
    fk.bind_errno = row->bind_errno;
    int rc = he_connector_start(&c, &r, 1);
    if (row->want_start == 2) {
        ck_assert_msg(rc == 0 || rc == 1, "%s: start gave %d", row->name, rc);
        ck_assert_int_ge(r.att[1].handle, 0);
    } else {
        ck_assert_msg(rc == row->want_start, "%s: start gave %d, wanted %d", row->name, rc,
                      row->want_start);
        ck_assert_msg(r.att[1].handle < 0, "%s: a failed sibling kept a socket", row->name);
    }

    int other = -1;
    if (row->after == REPLACE_CALLER) {
        other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(dup2(other, fd), fd);
    }
    struct he_fdid before;
    ck_assert_int_eq(he_fdid_of(fd, &before), 0);
    if (rc == 0 || rc == 1) {
        r.winner = 1;
        ck_assert_int_eq(he_connector_finish(&c, &r), row->want_finish);
    }
    ck_assert_int_eq(fk.dup3_calls, row->want_dup3);
    if (row->want_dup3) {
        /* The fd now holds the sibling, connected to the listener. */
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
        ck_assert_int_eq(peer.sin_port, srv.sin_port);
        ck_assert_uint_eq(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
        ck_assert_int_eq(fcntl(fd, F_GETFL), fl);
        ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    } else {
        /* Untouched: what the number held before finish, it holds now. */
        ck_assert_msg(he_fdid_same(fd, &before), "%s: the fd was changed", row->name);
    }
    he_strand_end();
    close(fd);
    if (other >= 0) {
        close(other);
    }
    he_fdmap_bind_note(fd, HE_BIND_FIXED);
    ck_assert_msg(count_fds() == fds_before, "%s: %d fds left behind", row->name,
                  count_fds() - fds_before);
    close(l);
}
END_TEST

/* A caller whose own attempt failed before the race (a refused loopback
 * address, shim/loopback.c): attempt 0 reports that errno and never
 * touches the socket; a sibling still starts and can be spliced. */
START_TEST(test_connector_own_failed) {
    memset(&fk, 0, sizeof fk);
    struct sockaddr_in srv;
    int l = listener(&srv);
    int fd = caller_socket(CALLER_PLAIN);
    struct sockaddr_in own;
    struct he_race r;
    struct he_connector c;
    race_setup(&r, &c, fd, &own, &srv);
    c.own_err = ECONNREFUSED;
    int fl = c.fl;
    /* The program's SO_SNDTIMEO still bounds the connect: the race's
     * deadline, ending it with the own errno. */
    struct timeval tv = {0, 800000};
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    r.t0 = 1000;
    ck_assert_int_eq(he_connector_start(&c, &r, 0), -ECONNREFUSED);
    ck_assert_int_eq(r.deadline_ms, 1800);
    ck_assert_int_eq(r.deadline_err, ECONNREFUSED);
    /* Untouched: no connect was made, so no peer and no flags changed. */
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&peer, &len), -1);
    ck_assert_int_eq(errno, ENOTCONN);
    ck_assert_int_eq(fcntl(fd, F_GETFL), fl);
    int rc = he_connector_start(&c, &r, 1);
    ck_assert_msg(rc == 0 || rc == 1, "sibling start gave %d", rc);
    r.winner = 1;
    ck_assert_int_eq(he_connector_finish(&c, &r), 0);
    ck_assert_int_eq(fk.dup3_calls, 1);
    ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
    ck_assert_uint_eq(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    close(fd);
    close(l);
}
END_TEST

/* A fresh socket's DEFAULTS bit (racer/fdmap.h) decides whether the first
 * sibling reads the caller's options: trusted when still set at that
 * moment, read again then (an option set after connect() clears it). */
static const struct {
    const char *name;
    unsigned at_connect, at_sibling; /* the caller's bits then */
    int want_nodelay;                /* on the sibling */
} fresh_rows[] = {
    {"no bits: the options are read", 0, 0, 1},
    {"defaults all along: nothing read", HE_FRESH_ALL, HE_FRESH_ALL, 0},
    {"an option set after connect: read", HE_FRESH_ALL, HE_FRESH_UNBOUND, 1},
};

START_TEST(test_connector_fresh_options) {
    memset(&fk, 0, sizeof fk);
    struct sockaddr_in srv;
    int l = listener(&srv);
    int fd = caller_socket(CALLER_NODELAY); /* set behind the bits' back */
    he_fdmap_fresh_set(fd, fresh_rows[_i].at_connect);
    struct sockaddr_in own;
    struct he_race r;
    struct he_connector c;
    race_setup(&r, &c, fd, &own, &srv);
    ck_assert_int_eq(he_connector_note_local(&c), 0);
    he_fdmap_fresh_set(fd, fresh_rows[_i].at_sibling);
    int rc = he_connector_start(&c, &r, 1);
    ck_assert_msg(rc == 0 || rc == 1, "%s: start gave %d", fresh_rows[_i].name, rc);
    int nodelay = -1;
    socklen_t len = sizeof nodelay;
    ck_assert_int_eq(getsockopt(r.att[1].handle, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    ck_assert_msg(!!nodelay == fresh_rows[_i].want_nodelay, "%s: sibling TCP_NODELAY %d",
                  fresh_rows[_i].name, nodelay);
    close(r.att[1].handle);
    he_fdmap_fresh_clear(fd, HE_FRESH_ALL);
    close(fd);
    close(l);
}
END_TEST

/* he_addr_is_loopback (common/addr.c), which decides the fast path. */
START_TEST(test_addr_loopback) {
    static const struct {
        int family;
        const char *text;
        int want;
    } t[] = {
        {AF_INET, "127.0.0.1", 1},
        {AF_INET, "127.255.255.254", 1},
        {AF_INET, "126.255.255.255", 0},
        {AF_INET, "128.0.0.1", 0},
        {AF_INET6, "::1", 1},
        {AF_INET6, "::ffff:127.0.0.2", 1},
        {AF_INET6, "::", 0},
        {AF_INET6, "::2", 0},
        {AF_INET6, "::ffff:10.0.0.1", 0},
        {AF_INET6, "fe80::1", 0},
        {AF_INET6, "::127.0.0.1", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sockaddr_of(t[i].text, &ss);
        ck_assert_int_eq(ss.ss_family, t[i].family);
        struct he_addr a;
        ck_assert_int_eq(he_addr_from_sockaddr(&a, (struct sockaddr *)&ss, len), 0);
        ck_assert_msg(he_addr_is_loopback(&a) == t[i].want, "%s: wanted %d", t[i].text, t[i].want);
    }
}
END_TEST

static Suite *connector_suite(void) {
    Suite *s = he_check_table_suite("connector", test_connector_table, ROWS);
    TCase *tc = tcase_create("loopback");
    tcase_add_test(tc, test_connector_own_failed);
    tcase_add_test(tc, test_addr_loopback);
    tcase_add_loop_test(tc, test_connector_fresh_options, 0,
                        (int)(sizeof fresh_rows / sizeof fresh_rows[0]));
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(connector_suite)

/* splice_props [-6] [-x] [-n] NAME PORT LOCAL
 *
 * Sets the socket options a careful client sets before connect(), binds to
 * LOCAL with port 0 (LOCAL "-": no bind, and the local address is not
 * checked), connects to NAME's first address (dead, so libhe splices a
 * sibling), and then checks that the fd differs only in its peer: family
 * (SO_DOMAIN), close-on-exec (-x: created without SOCK_CLOEXEC, so it must
 * stay off), status flags (blocking mode), every option, and the bound
 * address.  -6: an AF_INET6 socket, and NAME resolved with AI_V4MAPPED |
 * AI_ALL, so IPv4 addresses come as ::ffff:a.b.c.d.  -n: IP_BIND_ADDRESS_NO_PORT
 * before the bind, so the socket's port stays 0 until connect() (without it
 * the kernel picks the port at bind time).
 *
 * The wanted option values are read back from the socket once everything is
 * set (IP_TOS resets SO_PRIORITY, the kernel doubles buffer sizes), so a run
 * without libhe, or one where the caller's own attempt wins, passes.
 *
 * Prints "domain AF_INET|AF_INET6", "peer ADDR" (getpeername, as is: an
 * IPv4-mapped peer shows as ::ffff:a.b.c.d), "local ADDR", then the
 * server's reply.  Exit 0 when all matched; 1 connect failed; 2 usage or a
 * setsockopt/bind the kernel refused; 3 fd leak; 4 a "MISMATCH ..." line on
 * stderr per difference. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

struct opt {
    const char *name;
    int level, opt, value;
    int v6_only; /* set only on an AF_INET6 socket */
};

/* Set in this order; IP_TOS / IPV6_TCLASS before SO_PRIORITY, which they
 * reset. */
static const struct opt ints[] = {
    {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, 1, 0},
    {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1, 0},
    {"TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, 77, 0},
    {"TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, 11, 0},
    {"TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, 5, 0},
    {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, 65536, 0},
    {"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 65536, 0},
    {"SO_MARK", SOL_SOCKET, SO_MARK, 42, 0},
    {"TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT, 12345, 0},
    {"IP_TOS", IPPROTO_IP, IP_TOS, 0x10, 0},
    {"IPV6_TCLASS", IPPROTO_IPV6, IPV6_TCLASS, 0x10, 1},
    {"SO_PRIORITY", SOL_SOCKET, SO_PRIORITY, 3, 0},
};
#define NINTS (sizeof ints / sizeof ints[0])

static int mismatches;

static void mismatch(const char *what, long want, long got) {
    fprintf(stderr, "MISMATCH %s: want %ld got %ld\n", what, want, got);
    mismatches++;
}

static int getint(int fd, int level, int opt) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, opt, &v, &len) != 0) {
        return -1;
    }
    return v;
}

static void set_or_die(int fd, int level, int opt, const void *v, socklen_t len, const char *name) {
    if (setsockopt(fd, level, opt, v, len) != 0) {
        fprintf(stderr, "setsockopt %s: %s\n", name, strerror(errno));
        exit(HE_EXIT_USAGE);
    }
}

/* Everything but the integers, compared as bytes. */
struct extra {
    struct linger linger;
    struct timeval rcvtimeo;
    char congestion[16];
    char device[16];
};

static void get_extra(int fd, struct extra *e) {
    memset(e, 0, sizeof *e);
    socklen_t len = sizeof e->linger;
    getsockopt(fd, SOL_SOCKET, SO_LINGER, &e->linger, &len);
    len = sizeof e->rcvtimeo;
    getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &e->rcvtimeo, &len);
    len = sizeof e->congestion;
    getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, e->congestion, &len);
    len = sizeof e->device;
    getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, e->device, &len);
}

/* Sets everything, then records what the kernel reports back, which is
 * what the spliced fd must report too. */
static void set_all(int fd, int v6, int *want, struct extra *want_extra) {
    for (size_t i = 0; i < NINTS; i++) {
        if (ints[i].v6_only && !v6) {
            continue;
        }
        set_or_die(fd, ints[i].level, ints[i].opt, &ints[i].value, sizeof(int), ints[i].name);
    }
    struct linger lg = {1, 3};
    set_or_die(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg, "SO_LINGER");
    struct timeval tv = {7, 0};
    set_or_die(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv, "SO_RCVTIMEO");
    /* Not the system default (bbr or cubic), and always built in. */
    set_or_die(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4, "TCP_CONGESTION");
    /* The lab's only route to 198.51.100.0/24 and 2001:db8:1::/64. */
    set_or_die(fd, SOL_SOCKET, SO_BINDTODEVICE, "he0", 3, "SO_BINDTODEVICE");
    for (size_t i = 0; i < NINTS; i++) {
        want[i] = getint(fd, ints[i].level, ints[i].opt);
    }
    get_extra(fd, want_extra);
    if (want[NINTS - 1] != 3) {
        /* SO_PRIORITY must survive: otherwise the check proves little. */
        fprintf(stderr, "SO_PRIORITY reads %d after setting 3\n", want[NINTS - 1]);
        exit(HE_EXIT_USAGE);
    }
}

static void check_all(int fd, const int *want, const struct extra *want_extra) {
    for (size_t i = 0; i < NINTS; i++) {
        int got = getint(fd, ints[i].level, ints[i].opt);
        if (got != want[i]) {
            mismatch(ints[i].name, want[i], got);
        }
    }
    struct extra got;
    get_extra(fd, &got);
    if (got.linger.l_onoff != want_extra->linger.l_onoff ||
        got.linger.l_linger != want_extra->linger.l_linger) {
        mismatch("SO_LINGER", want_extra->linger.l_linger,
                 got.linger.l_onoff ? got.linger.l_linger : -1);
    }
    if (got.rcvtimeo.tv_sec != want_extra->rcvtimeo.tv_sec ||
        got.rcvtimeo.tv_usec != want_extra->rcvtimeo.tv_usec) {
        mismatch("SO_RCVTIMEO (s)", want_extra->rcvtimeo.tv_sec, got.rcvtimeo.tv_sec);
    }
    if (strcmp(got.congestion, want_extra->congestion) != 0) {
        fprintf(stderr, "MISMATCH TCP_CONGESTION: want %s got %s\n", want_extra->congestion,
                got.congestion);
        mismatches++;
    }
    if (strcmp(got.device, want_extra->device) != 0) {
        fprintf(stderr, "MISMATCH SO_BINDTODEVICE: want '%s' got '%s'\n", want_extra->device,
                got.device);
        mismatches++;
    }
}

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t size) {
    snprintf(buf, size, "?");
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, size);
    } else if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, size);
    }
}

static void show_ends(int fd, const char *local) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char buf[INET6_ADDRSTRLEN];
    memset(&ss, 0, sizeof ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    format_addr(&ss, buf, sizeof buf);
    printf("local %s\n", buf);
    if (strcmp(local, "-") != 0 && strcmp(buf, local) != 0) {
        fprintf(stderr, "MISMATCH local address: want %s got %s\n", local, buf);
        mismatches++;
    }
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
        fprintf(stderr, "getpeername: %s\n", strerror(errno));
        mismatches++;
    }
    format_addr(&ss, buf, sizeof buf);
    printf("peer %s\n", buf);
}

static void bind_local(int fd, int family, const char *local) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    int ok;
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        ok = inet_pton(AF_INET, local, &s->sin_addr) == 1;
        len = sizeof *s;
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        ok = inet_pton(AF_INET6, local, &s->sin6_addr) == 1;
        len = sizeof *s;
    }
    if (!ok) {
        fprintf(stderr, "bad local address %s\n", local);
        exit(HE_EXIT_USAGE);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "bind %s: %s\n", local, strerror(errno));
        exit(HE_EXIT_USAGE);
    }
}

int main(int argc, char **argv) {
    int v6 = 0, no_cloexec = 0, no_port = 0, opt;
    while ((opt = getopt(argc, argv, "6xn")) != -1) {
        if (opt == '6') {
            v6 = 1;
        } else if (opt == 'x') {
            no_cloexec = 1;
        } else if (opt == 'n') {
            no_port = 1;
        } else {
            return HE_EXIT_USAGE;
        }
    }
    if (argc - optind != 3) {
        fprintf(stderr, "usage: %s [-6] [-x] [-n] NAME PORT LOCAL|-\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    const char *name = argv[optind], *port = argv[optind + 1], *local = argv[optind + 2];
    int family = v6 ? AF_INET6 : AF_INET;
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
    if (v6) {
        hints.ai_flags = AI_V4MAPPED | AI_ALL;
    }
    struct addrinfo *res;
    int gai = getaddrinfo(name, port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "getaddrinfo: %s\n", gai_strerror(gai));
        return HE_EXIT_USAGE;
    }
    int before = he_count_fds();
    int fd = socket(family, SOCK_STREAM | (no_cloexec ? 0 : SOCK_CLOEXEC), 0);
    if (fd < 0) {
        perror("socket");
        return HE_EXIT_USAGE;
    }
    int want[NINTS];
    struct extra want_extra;
    set_all(fd, v6, want, &want_extra);
    if (strcmp(local, "-") != 0) {
        if (no_port) {
            int one = 1;
            set_or_die(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one,
                       "IP_BIND_ADDRESS_NO_PORT");
        }
        bind_local(fd, family, local);
    }
    int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        fprintf(stderr, "connect: %s\n", strerror(errno));
        return HE_EXIT_CONNECT;
    }
    /* The segment size is negotiated per connection: the spliced one must
     * get what a plain connection to the live address gets (a sibling once
     * inherited the caller's half-open 524-byte value). */
    struct addrinfo *live = res;
    while (live->ai_next != NULL) {
        live = live->ai_next;
    }
    int ref = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ref < 0 || connect(ref, live->ai_addr, live->ai_addrlen) != 0) {
        fprintf(stderr, "reference connect: %s\n", strerror(errno));
        return HE_EXIT_CONNECT;
    }
    int want_mss = getint(ref, IPPROTO_TCP, TCP_MAXSEG);
    close(ref);
    if (getint(fd, IPPROTO_TCP, TCP_MAXSEG) != want_mss) {
        mismatch("TCP_MAXSEG", want_mss, getint(fd, IPPROTO_TCP, TCP_MAXSEG));
    }
    freeaddrinfo(res);
    check_all(fd, want, &want_extra);
    int domain = getint(fd, SOL_SOCKET, SO_DOMAIN);
    printf("domain %s\n", domain == AF_INET ? "AF_INET" : domain == AF_INET6 ? "AF_INET6" : "?");
    if (domain != family) {
        mismatch("SO_DOMAIN", family, domain);
    }
    show_ends(fd, local);
    if (fcntl(fd, F_GETFD) != fdfl) {
        mismatch("F_GETFD (FD_CLOEXEC)", fdfl, fcntl(fd, F_GETFD));
    }
    if (!!(fdfl & FD_CLOEXEC) != !no_cloexec) {
        mismatch("FD_CLOEXEC as created", !no_cloexec, !!(fdfl & FD_CLOEXEC));
    }
    if (fcntl(fd, F_GETFL) != fl) {
        mismatch("F_GETFL (O_NONBLOCK etc.)", fl, fcntl(fd, F_GETFL));
    }
    fflush(stdout);
    int rc = he_relay_reply(fd) == 0 ? HE_EXIT_OK : HE_EXIT_CONNECT;
    close(fd);
    int after = he_count_fds();
    if (before != after) {
        fprintf(stderr, "FDLEAK before=%d after=%d\n", before, after);
        return HE_EXIT_FDLEAK;
    }
    return mismatches ? 4 : rc;
}

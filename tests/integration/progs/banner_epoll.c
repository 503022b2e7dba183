/* banner_epoll [-t MS] [-w] NAME PORT
 *
 * A non-blocking client of a server-first protocol (SSH, SMTP, ...), the
 * way an event loop writes one: getaddrinfo(NAME), a SOCK_NONBLOCK socket
 * in the first address's family, connect() to that first address only
 * (-1/EINPROGRESS), the socket registered in epoll for EPOLLIN
 * (level-triggered) at once, and epoll_wait: what it waits for is the
 * server's banner, not the handshake.  Then read(): the banner line, EOF,
 * or the error.
 *
 * With -w the program speaks first instead: it waits for EPOLLOUT (the
 * handshake), checks SO_ERROR, writes "SSH-2.0-banner_epoll\r\n", and only
 * then waits for EPOLLIN.
 *
 * Prints (the outcome lines as nb/banner_read.py's):
 *   connect rc=R errno=E           what connect() returned
 *   peer_before ADDR               (-w) getpeername() when it wrote
 *   wrote N                        (-w) write()'s result
 *   banner LINE | eof | timeout | error ERRNO
 *                                  the server's first line, or why none
 *   banner_ms=M                    from connect() to that outcome
 *   peer ADDR|none                 getpeername() after the read
 *   socket same|replaced           whether the fd still holds the socket
 *                                  socket() made (fstat's inode: a splice
 *                                  replaces it)
 *
 * -t MS  the wait's timeout, from connect() (default 2000).
 *
 * Exit: 0 a banner line was read, 1 anything else, 2 usage or name
 * resolution. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define IDENT "SSH-2.0-banner_epoll\r\n"

static int fd = -1, epfd = -1;
static long t0;

static void usage(const char *prog) {
    fprintf(stderr, "usage: %s [-t MS] [-w] NAME PORT\n", prog);
    exit(HE_EXIT_USAGE);
}

/* "peer ADDR" (IPv4-mapped addresses as IPv4), or "peer none". */
static void print_peer(const char *label) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[INET6_ADDRSTRLEN];
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
        printf("%s none\n", label);
        return;
    }
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
    } else {
        struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            inet_ntop(AF_INET, &a6->s6_addr[12], addr, sizeof addr);
        } else {
            inet_ntop(AF_INET6, a6, addr, sizeof addr);
        }
    }
    printf("%s %s\n", label, addr);
}

/* Waits until the deadline (he_now_ms) for one of events on fd.  Returns
 * the events reported, 0 at the deadline. */
static unsigned wait_for(long deadline) {
    for (;;) {
        long left = deadline - he_now_ms();
        if (left <= 0) {
            return 0;
        }
        struct epoll_event ev;
        int n = epoll_wait(epfd, &ev, 1, (int)left);
        if (n == 1) {
            return ev.events;
        }
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            exit(HE_EXIT_USAGE);
        }
    }
}

static void set_events(int op, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(epfd, op, fd, &ev) != 0) {
        perror("epoll_ctl");
        exit(HE_EXIT_USAGE);
    }
}

/* The outcome line and banner_ms. */
static void outcome(const char *what, const char *arg) {
    printf("%s%s%s\n", what, arg ? " " : "", arg ? arg : "");
    printf("banner_ms=%ld\n", he_now_ms() - t0);
}

static const char *errname(int e) {
    const char *n = strerrorname_np(e);
    return n ? n : "unknown";
}

/* -w: waits for the handshake and writes the client's identification
 * first.  Returns 0, or -1 having printed the outcome. */
static int speak_first(long deadline) {
    set_events(EPOLL_CTL_ADD, EPOLLOUT);
    if (wait_for(deadline) == 0) {
        outcome("timeout", NULL);
        return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr != 0) {
        outcome("error", errname(soerr));
        return -1;
    }
    print_peer("peer_before");
    printf("wrote %zd\n", write(fd, IDENT, strlen(IDENT)));
    set_events(EPOLL_CTL_MOD, EPOLLIN);
    return 0;
}

/* Reads the server's first line; prints the outcome.  Returns the exit
 * code. */
static int read_banner(long deadline) {
    char buf[512];
    size_t have = 0;
    for (;;) {
        if (wait_for(deadline) == 0) {
            outcome("timeout", NULL);
            return HE_EXIT_CONNECT;
        }
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n < 0) {
            outcome("error", errname(errno));
            return HE_EXIT_CONNECT;
        }
        if (n == 0) {
            outcome("eof", NULL);
            return HE_EXIT_CONNECT;
        }
        have += (size_t)n;
        buf[have] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl != NULL || have == sizeof buf - 1) {
            if (nl != NULL) {
                *nl = '\0';
            }
            buf[strcspn(buf, "\r")] = '\0';
            outcome("banner", buf);
            return HE_EXIT_OK;
        }
    }
}

int main(int argc, char **argv) {
    long timeout_ms = 2000;
    int write_first = 0, opt;
    while ((opt = getopt(argc, argv, "t:w")) != -1) {
        switch (opt) {
        case 't':
            timeout_ms = atol(optarg);
            break;
        case 'w':
            write_first = 1;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (argc - optind != 2) {
        usage(argv[0]);
    }
    struct addrinfo *res = he_resolve(argv[optind], argv[optind + 1], AF_UNSPEC);
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0 || epfd < 0) {
        perror("socket");
        return HE_EXIT_USAGE;
    }
    struct stat orig;
    fstat(fd, &orig);

    t0 = he_now_ms();
    long deadline = t0 + timeout_ms;
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    int err = errno;
    freeaddrinfo(res);
    printf("connect rc=%d errno=%s\n", rc, rc == 0 ? "0" : errname(err));
    int code = HE_EXIT_CONNECT;
    if (rc != 0 && err != EINPROGRESS) {
        outcome("error", errname(err));
    } else if (write_first && speak_first(deadline) != 0) {
        code = HE_EXIT_CONNECT;
    } else {
        if (!write_first) {
            set_events(EPOLL_CTL_ADD, EPOLLIN);
        }
        code = read_banner(deadline);
    }
    print_peer("peer");
    struct stat now;
    fstat(fd, &now);
    printf("socket %s\n", now.st_ino == orig.st_ino ? "same" : "replaced");
    fflush(stdout);
    close(fd);
    close(epfd);
    return code;
}

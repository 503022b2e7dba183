/* passthrough NAME PORT
 *
 * The connects libhe must leave exactly as they are, each printed as
 *   CASE rc=R errno=E [more]
 * so that a run under libhe can be compared line for line with a plain run.
 * NAME must be dead-first (its first address drops SYNs, a later one is
 * live), so that every case would be a race if libhe mistook it for one.
 * The connects that would block on the dead address have SO_SNDTIMEO 300 ms
 * (-1/EINPROGRESS then, unless a race connected them); each line also
 * says, coarsely, how long connect() blocked ("wait=none|sndtimeo|other"),
 * so that libhe adding a wait shows in the text too. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif

static void show(const char *name, int rc, int err, const char *more) {
    printf("%s rc=%d errno=%s%s%s\n", name, rc, rc ? strerrorname_np(err) : "0", more ? " " : "",
           more ? more : "");
}

static int tcp(int flags) {
    return socket(AF_INET, SOCK_STREAM | flags, 0);
}

static void sndtimeo(int fd, int ms) {
    struct timeval tv = {0, ms * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* How long connect() blocked, coarsely, so that runs compare as text:
 * "none" under 150 ms, "sndtimeo" for the 300 ms cases, else "other". */
static const char *wait_class(long ms) {
    return ms < 150 ? "none" : ms >= 250 && ms < 700 ? "sndtimeo" : "other";
}

static void try(const char *name, int fd, const void *addr, socklen_t len) {
    long t0 = he_now_ms();
    int rc = connect(fd, addr, len);
    int err = errno;
    const char *wait = wait_class(he_now_ms() - t0);
    char more[64];
    snprintf(more, sizeof more, "wait=%s", wait);
    if (fd >= 0) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        snprintf(more, sizeof more, "wait=%s peer=%s", wait,
                 getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 ? "yes" : "no");
    }
    show(name, rc, err, more);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME PORT\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0 || res->ai_next == NULL) {
        fprintf(stderr, "%s must resolve to a dead then a live IPv4 address\n", argv[1]);
        return HE_EXIT_USAGE;
    }
    const struct sockaddr *dead = res->ai_addr, *live = res->ai_next->ai_addr;
    socklen_t len = res->ai_addrlen;
    int fd;

    /* A literal address nobody resolved: 198.51.100.23 is dead too. */
    struct sockaddr_in lit = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, "198.51.100.23", &lit.sin_addr);
    fd = tcp(0);
    sndtimeo(fd, 300);
    try("literal", fd, &lit, sizeof lit);
    close(fd);

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    try("udp", fd, dead, len);
    close(fd);

    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/nonexistent/he.sock"};
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    try("unix", fd, &un, sizeof un);
    close(fd);

    fd = tcp(0);
    try("null-address", fd, NULL, len);
    try("short-length", fd, dead, 8);
    close(fd);

    fd = open("/dev/null", O_RDONLY);
    try("not-a-socket", fd, dead, len);
    close(fd);

    try("bad-fd", -1, dead, len);
    try("closed-fd", 999, dead, len);

    fd = tcp(0);
    try("connect-live", fd, live, len);
    try("already-connected", fd, dead, len);
    close(fd);

    fd = tcp(0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof one);
    /* Without a cached cookie the kernel sends a plain SYN and blocks. */
    sndtimeo(fd, 300);
    try("fastopen-connect", fd, dead, len);
    close(fd);

    fd = tcp(SOCK_NONBLOCK);
    try("nonblocking", fd, dead, len);
    close(fd);

    fd = tcp(SOCK_NONBLOCK);
    ssize_t n = sendto(fd, "x", 1, MSG_FASTOPEN, dead, len);
    show("sendto-fastopen", n < 0 ? -1 : 0, errno, NULL);
    close(fd);

    fd = tcp(0);
    struct sockaddr_in fixed = {.sin_family = AF_INET, .sin_port = htons(40001)};
    inet_pton(AF_INET, "198.51.100.1", &fixed.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&fixed, sizeof fixed) != 0) {
        perror("bind");
    }
    sndtimeo(fd, 300);
    try("fixed-port", fd, dead, len);
    close(fd);

    fd = socket(AF_INET6, SOCK_STREAM, 0);
    try("wrong-family", fd, dead, len);
    close(fd);

    freeaddrinfo(res);
    return HE_EXIT_OK;
}

/* bind_pair NAME PORT FD1 FD2
 *
 * Two TCP sockets placed on descriptor numbers FD1 and FD2 (dup2), each
 * bound to the any-address with port 0 (the kernel picks the port at bind
 * time), then each connected, blocking with SO_SNDTIMEO 2 s, to NAME's
 * first address (AF_INET).  Prints for each "fdN reached ADDR" (the
 * server's reply) or "fdN ERRNO".  Exit 0 when both reached the server.
 * With NAME dead-first, both connects must be races: libhe once kept bind
 * notes in 256 slots by fd number, so FD2 = FD1 + 256 lost FD1's note and
 * FD1's connect went unraced (EINPROGRESS after 2 s). */
#define _GNU_SOURCE
#include "he_prog.h"

#include <netinet/in.h>
#include <sys/socket.h>

static int bound_socket_at(int n) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET};
    struct timeval tv = {2, 0};
    if (s < 0 || dup2(s, n) != n || bind(n, (struct sockaddr *)&any, sizeof any) != 0 ||
        setsockopt(n, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
        perror("socket/dup2/bind");
        exit(HE_EXIT_USAGE);
    }
    close(s);
    return n;
}

static int connect_and_report(int fd, const struct addrinfo *ai) {
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        printf("fd%d %s\n", fd, errno == EINPROGRESS ? "EINPROGRESS" : strerror(errno));
        return 0;
    }
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    printf("fd%d %s", fd, buf);
    return n >= 8 && memcmp(buf, "reached ", 8) == 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s NAME PORT FD1 FD2\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    struct addrinfo *res = he_resolve(argv[1], argv[2], AF_INET);
    int a = bound_socket_at(atoi(argv[3])), b = bound_socket_at(atoi(argv[4]));
    int ok = connect_and_report(a, res);
    ok &= connect_and_report(b, res);
    freeaddrinfo(res);
    close(a);
    close(b);
    return ok ? HE_EXIT_OK : HE_EXIT_CONNECT;
}

/* lo_syscalls [-n] NAME PORT COUNT
 *
 * For t_loopback.sh's system call count: getaddrinfo(NAME) once (so libhe
 * learns the name), then COUNT times socket() + connect() to its first
 * address + close(), blocking, or with -n non-blocking (SOCK_NONBLOCK,
 * connect() -> EINPROGRESS, poll() for POLLOUT, getsockopt(SO_ERROR)).
 * One connect first, unmarked (what a library does once per thread, such
 * as libhe's first lookup in its name memory, is not the per-connect
 * cost); then the loop, framed by write(-1, "BEGIN", 5) and
 * write(-1, "END", 3), which fail with EBADF and mark it in strace's
 * output.  Prints
 * "connected N" (how many connected). */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_once(const struct addrinfo *ai, int nb) {
    int s = socket(ai->ai_family, ai->ai_socktype | (nb ? SOCK_NONBLOCK : 0), 0);
    if (s < 0) {
        return 0;
    }
    int ok = connect(s, ai->ai_addr, ai->ai_addrlen) == 0;
    if (!ok && nb && errno == EINPROGRESS) {
        struct pollfd p = {.fd = s, .events = POLLOUT};
        int err = -1;
        socklen_t len = sizeof err;
        ok = poll(&p, 1, 1000) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
             err == 0;
    }
    close(s);
    return ok;
}

int main(int argc, char **argv) {
    int nb = argc > 1 && strcmp(argv[1], "-n") == 0;
    if (argc - nb != 4) {
        fprintf(stderr, "usage: lo_syscalls [-n] NAME PORT COUNT\n");
        return 2;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(argv[1 + nb], argv[2 + nb], &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "getaddrinfo: %s\n", gai_strerror(rc));
        return 1;
    }
    int count = atoi(argv[3 + nb]), connected = 0;
    connect_once(res, nb);
    if (write(-1, "BEGIN", 5) != -1) {
        return 1;
    }
    for (int i = 0; i < count; i++) {
        connected += connect_once(res, nb);
    }
    if (write(-1, "END", 3) != -1) {
        return 1;
    }
    freeaddrinfo(res);
    printf("connected %d\n", connected);
    return 0;
}

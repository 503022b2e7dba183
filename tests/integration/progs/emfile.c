/* emfile NAME PORT
 *
 * Leaves room for exactly one more descriptor (RLIMIT_NOFILE), opens the
 * socket with it, and connects with a 600 ms SO_SNDTIMEO to NAME's first
 * address.  libhe cannot open a sibling (EMFILE), so it must stop racing and
 * let the caller's own attempt go on: the result is what the kernel gives
 * without libhe.  Prints "result rc=R errno=E ms=T". */
#define _GNU_SOURCE
#include "he_prog.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME PORT\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0) {
        return HE_EXIT_USAGE;
    }
    /* The highest open fd + 2: one free number, for the caller's socket. */
    int highest = 0;
    for (int fd = 0; fd < 1024; fd++) {
        if (fcntl(fd, F_GETFD) >= 0) {
            highest = fd;
        }
    }
    struct rlimit rl = {(rlim_t)highest + 2, (rlim_t)highest + 2};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("setrlimit");
        return HE_EXIT_USAGE;
    }
    /* Fill every free number below the limit, then free exactly one. */
    int last = -1, filler;
    while ((filler = open("/dev/null", O_RDONLY)) >= 0) {
        last = filler;
    }
    if (last >= 0) {
        close(last);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return HE_EXIT_USAGE;
    }
    int spare = socket(AF_INET, SOCK_STREAM, 0);
    if (spare >= 0 || errno != EMFILE) {
        fprintf(stderr, "expected EMFILE for a second socket\n");
        return HE_EXIT_USAGE;
    }
    struct timeval tv = {0, 600000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    long t0 = he_now_ms();
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    int err = errno;
    printf("result rc=%d errno=%s ms=%ld\n", rc, rc ? strerrorname_np(err) : "0", he_now_ms() - t0);
    close(fd);
    freeaddrinfo(res);
    return rc == 0 ? HE_EXIT_OK : HE_EXIT_CONNECT;
}

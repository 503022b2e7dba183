/* literal_connect ADDR PORT [MESSAGE]
 *
 * A client that never resolves a name: one blocking connect() to the
 * literal address ADDR (IPv4 or IPv6), so that connect() is the first
 * function libhe hooks that it calls.  Prints "fd N" (the socket's number,
 * for cases that arrange which one it gets), sends MESSAGE if given, relays
 * the server's reply to EOF, then copies its own standard input to stdout
 * (nothing when stdin is /dev/null), so a case can see that the program
 * still gets all of it.  Exit codes as in he_prog.h. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s ADDR PORT [MESSAGE]\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    int port = atoi(argv[2]);
    if (inet_pton(AF_INET, argv[1], &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        len = sizeof *sin;
    } else if (inet_pton(AF_INET6, argv[1], &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        len = sizeof *sin6;
    } else {
        fprintf(stderr, "%s: not a literal address\n", argv[1]);
        return HE_EXIT_USAGE;
    }

    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return HE_EXIT_CONNECT;
    }
    printf("fd %d\n", fd);
    fflush(stdout);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "connect %s port %s: %s\n", argv[1], argv[2], strerror(errno));
        return HE_EXIT_CONNECT;
    }
    if (argc == 4) {
        size_t n = strlen(argv[3]);
        if (write(fd, argv[3], n) != (ssize_t)n) {
            perror("write");
            return HE_EXIT_CONNECT;
        }
    }
    int rc = he_finish_round(fd, 0, argv[1], argv[2]);
    if (rc != HE_EXIT_OK) {
        return rc;
    }

    char buf[4096];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("read stdin");
            return HE_EXIT_CONNECT;
        }
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
            return HE_EXIT_CONNECT;
        }
    }
    fflush(stdout);
    return HE_EXIT_OK;
}

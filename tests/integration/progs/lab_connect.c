/* lab_connect NAME PORT [TIMEOUT_MS]
 *
 * A plain client for t_he_lab.sh, meant to be linked statically (gcc
 * -static): LD_PRELOAD does nothing to it, so what it sees is the network
 * he-lab built.  Resolves NAME with getaddrinfo (AF_UNSPEC, SOCK_STREAM),
 * then tries each address in order, each for at most TIMEOUT_MS (default
 * 1000; a non-blocking connect() and poll()), until one connects.  Prints
 * one line per attempt:
 *
 *   ADDR connected LINE     (LINE: the first line the server sent)
 *   ADDR timeout            (no answer within TIMEOUT_MS)
 *   ADDR ECONNREFUSED       (or ENETUNREACH, EHOSTUNREACH, ..., errno N)
 *
 * Exit status: 0 connected, 1 no address connected, 2 usage error or the
 * name did not resolve. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *errno_name(int e) {
    static char buf[32];
    switch (e) {
    case ECONNREFUSED:
        return "ECONNREFUSED";
    case ENETUNREACH:
        return "ENETUNREACH";
    case EHOSTUNREACH:
        return "EHOSTUNREACH";
    case ETIMEDOUT:
        return "ETIMEDOUT";
    case EADDRNOTAVAIL:
        return "EADDRNOTAVAIL";
    default:
        snprintf(buf, sizeof buf, "errno %d", e);
        return buf;
    }
}

/* One attempt: 0 when connected (the server's first line printed), -1
 * otherwise (the outcome printed). */
static int attempt(const struct addrinfo *ai, int timeout_ms) {
    char host[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0) {
        strcpy(host, "?");
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        printf("%s socket %s\n", host, errno_name(errno));
        return -1;
    }
    int err = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n = poll(&p, 1, timeout_ms);
            if (n == 0) {
                printf("%s timeout\n", host);
                close(fd);
                return -1;
            }
            socklen_t len = sizeof err;
            if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                err = errno;
            }
        }
    }
    if (err != 0) {
        printf("%s %s\n", host, errno_name(err));
        close(fd);
        return -1;
    }
    /* Connected: the server's first line, read within the same time. */
    char line[256];
    size_t got = 0;
    while (got < sizeof line - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) {
            break;
        }
        ssize_t n = read(fd, line + got, sizeof line - 1 - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        if (memchr(line, '\n', got) != NULL) {
            break;
        }
    }
    line[got] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    printf("%s connected %s\n", host, line);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: lab_connect NAME PORT [TIMEOUT_MS]\n");
        return 2;
    }
    int timeout_ms = argc == 4 ? atoi(argv[3]) : 1000;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(argv[1], argv[2], &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "getaddrinfo %s: %s\n", argv[1], gai_strerror(gai));
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = 1;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (attempt(ai, timeout_ms) == 0) {
            rc = 0;
            break;
        }
    }
    freeaddrinfo(res);
    return rc;
}

/* gai_connect [-n COUNT] NAME PORT
 *
 * The textbook getaddrinfo(3) client loop (AF_UNSPEC, SOCK_STREAM): try each
 * result in order with a blocking connect(), stop at the first success, print
 * the server's reply.  See he_prog.h for exit codes and the fd-leak check. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

static int gai_round(const char *name, const char *port) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    struct addrinfo *res = NULL;
    int gai = getaddrinfo(name, port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "getaddrinfo %s: %s\n", name, gai_strerror(gai));
        return HE_EXIT_USAGE;
    }

    int fd = -1;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        last_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);

    return he_finish_round(fd, last_errno, name, port);
}

int main(int argc, char **argv) {
    int count;
    const char *name, *port;
    he_parse_args(argc, argv, &count, &name, &port);
    return he_repeat(count, name, port, gai_round);
}

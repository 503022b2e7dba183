/* ghbn_connect [-n COUNT] NAME PORT
 *
 * The pre-getaddrinfo client: gethostbyname(3), then a blocking connect() to
 * each entry of h_addr_list in order (IPv4 only, as gethostbyname is), stop
 * at the first success, print the server's reply.  See he_prog.h for exit
 * codes and the fd-leak check. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

static int ghbn_round(const char *name, const char *port) {
    struct hostent *he = gethostbyname(name);
    if (he == NULL) {
        fprintf(stderr, "gethostbyname %s: %s\n", name, hstrerror(h_errno));
        return HE_EXIT_USAGE;
    }
    if (he->h_addrtype != AF_INET || he->h_length != (int)sizeof(struct in_addr)) {
        fprintf(stderr, "gethostbyname %s: unexpected address type %d\n", name, he->h_addrtype);
        return HE_EXIT_USAGE;
    }

    int fd = -1;
    int last_errno = 0;
    for (char **a = he->h_addr_list; *a != NULL; a++) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)atoi(port));
        memcpy(&sin.sin_addr, *a, sizeof sin.sin_addr);

        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0) {
            break;
        }
        last_errno = errno;
        close(fd);
        fd = -1;
    }

    return he_finish_round(fd, last_errno, name, port);
}

int main(int argc, char **argv) {
    int count;
    const char *name, *port;
    he_parse_args(argc, argv, &count, &name, &port);
    return he_repeat(count, name, port, ghbn_round);
}

/* threads_race THREADS ROUNDS NAME PORT
 *
 * THREADS threads each resolve NAME and connect to its first address ROUNDS
 * times at once (every connect a race when NAME is dead-first), read the
 * reply (which must be the whoami server's "reached ...") and close.  Exit 0 when every connect
 * succeeded and the fd count is back where it started; 1 on a failed connect; 3 on a leak.  A
 * deadlock shows as the harness's timeout. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>

static const char *name, *port;
static int rounds;
static int failures;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res;
        int ok = 0;
        if (getaddrinfo(name, port, &hints, &res) == 0) {
            int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
                char buf[128];
                ssize_t n = read(fd, buf, sizeof buf);
                ok = n >= 8 && memcmp(buf, "reached ", 8) == 0;
            }
            if (fd >= 0) {
                close(fd);
            }
            freeaddrinfo(res);
        }
        if (!ok) {
            pthread_mutex_lock(&lock);
            failures++;
            pthread_mutex_unlock(&lock);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s THREADS ROUNDS NAME PORT\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    int n = atoi(argv[1]);
    rounds = atoi(argv[2]);
    name = argv[3];
    port = argv[4];
    int before, after;
    if (he_run_threads(n, worker, &before, &after) != 0) {
        return HE_EXIT_USAGE;
    }
    printf("result threads=%d rounds=%d failures=%d fds_before=%d fds_after=%d\n", n, rounds,
           failures, before, after);
    if (before != after) {
        fprintf(stderr, "FDLEAK before=%d after=%d\n", before, after);
        return HE_EXIT_FDLEAK;
    }
    return failures ? HE_EXIT_CONNECT : HE_EXIT_OK;
}

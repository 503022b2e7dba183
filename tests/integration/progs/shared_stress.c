/* shared_stress THREADS ROUNDS PORT TIMEOUT_MS NAME1 NAME2
 *
 * THREADS threads each resolve (AF_INET) NAME1 or NAME2, taking turns so
 * that the threads' resolutions of each name interleave, and connect a
 * blocking socket with SO_SNDTIMEO TIMEOUT_MS to the first address, ROUNDS
 * times, with 5 ms of work between each resolve and its connect.  The
 * two names share a dead first address, so every connect must
 * be a race: one left to the kernel fails with EINPROGRESS at TIMEOUT_MS.
 * Prints "result connects=N failures=F worst_ms=W" and exits 0 when every
 * connect reached the whoami server, 1 otherwise, 3 on an fd leak. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>

static const char *names[2], *port;
static int rounds, timeout_ms;
static int connects, failures;
static long worst_ms;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* One resolve-connect-read round; returns 1 when the server answered. */
static int round_once(const char *name, long *ms) {
    struct addrinfo *res = he_resolve(name, port, AF_INET);
    if (res == NULL) {
        return 0;
    }
    /* Work between the resolve and the connect, as real programs do: it
     * gives the other threads time to resolve the names again. */
    usleep(5000);
    int ok = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    long t0 = he_now_ms();
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0 &&
        connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
        *ms = he_now_ms() - t0;
        char buf[128];
        ssize_t n = read(fd, buf, sizeof buf);
        ok = n >= 8 && memcmp(buf, "reached ", 8) == 0;
    } else {
        *ms = he_now_ms() - t0;
    }
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

static void *worker(void *arg) {
    int id = (int)(long)arg;
    for (int i = 0; i < rounds; i++) {
        long ms = 0;
        int ok = round_once(names[(id + i) % 2], &ms);
        pthread_mutex_lock(&lock);
        connects++;
        failures += !ok;
        worst_ms = ms > worst_ms ? ms : worst_ms;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s THREADS ROUNDS PORT TIMEOUT_MS NAME1 NAME2\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    int n = atoi(argv[1]);
    rounds = atoi(argv[2]);
    port = argv[3];
    timeout_ms = atoi(argv[4]);
    names[0] = argv[5];
    names[1] = argv[6];
    int before, after;
    if (rounds < 1 || timeout_ms < 1 || he_run_threads(n, worker, &before, &after) != 0) {
        return HE_EXIT_USAGE;
    }
    printf("result connects=%d failures=%d worst_ms=%ld\n", connects, failures, worst_ms);
    if (before != after) {
        fprintf(stderr, "FDLEAK before=%d after=%d\n", before, after);
        return HE_EXIT_FDLEAK;
    }
    return failures ? HE_EXIT_CONNECT : HE_EXIT_OK;
}

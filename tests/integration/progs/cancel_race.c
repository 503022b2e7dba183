/* cancel_race NAME PORT
 *
 * A thread makes a blocking connect() to NAME's first address; 400 ms later,
 * with the race under way, the main thread cancels it (connect is a
 * cancellation point, and so is the poll libhe waits in).  Then checks that
 * nothing of the race survives: the fd count is the caller's socket more
 * than before, and the socket is blocking again.  Prints
 *   result fds_before=B fds_after=A nonblock=N
 * Exit 0 when clean, 3 on a leak, 4 when the socket was left non-blocking. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>

static int sock;
static struct addrinfo *res;

static void *dial(void *unused) {
    (void)unused;
    connect(sock, res->ai_addr, res->ai_addrlen);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME PORT\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0) {
        return HE_EXIT_USAGE;
    }
    int before = he_count_fds();
    sock = socket(AF_INET, SOCK_STREAM, 0);
    pthread_t t;
    pthread_create(&t, NULL, dial, NULL);
    usleep(400000);
    pthread_cancel(t);
    pthread_join(t, NULL);
    int after = he_count_fds();
    int nonblock = !!(fcntl(sock, F_GETFL) & O_NONBLOCK);
    printf("result fds_before=%d fds_after=%d nonblock=%d\n", before, after, nonblock);
    close(sock);
    freeaddrinfo(res);
    if (after != before + 1) {
        fprintf(stderr, "FDLEAK before=%d after=%d (one is the caller's)\n", before + 1, after);
        return HE_EXIT_FDLEAK;
    }
    return nonblock ? 4 : HE_EXIT_OK;
}

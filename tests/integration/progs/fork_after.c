/* fork_after [-t FORKS] NAME PORT
 *
 * Connects to NAME's first address (dead-first names make it a race), then
 * forks at once.  The child reads the server's reply from the inherited fd
 * and then makes a fresh resolve+connect of its own (libhe's lock and name
 * memory must work in the child); the parent waits.  Prints the replies.
 *
 * -t FORKS: then starts a thread that resolves NAME and races connects to
 * it over and over, and forks FORKS more times while it runs (every 70 ms,
 * so at different moments of its races); each child resolves and connects
 * once and prints the reply.  Prints "background ok=N failed=N" at the end.
 *
 * Exit 0 when everything worked (2 + FORKS "reached" lines, no background
 * failure); 1 otherwise. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static const char *name, *port;
static volatile int stop;
static int busy_ok, busy_failed;

static int dial(const char *host, const char *service) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    if (getaddrinfo(host, service, &hints, &res) != 0) {
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        fprintf(stderr, "connect: %s\n", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *busy(void *arg) {
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        int fd = dial(name, port);
        char buf[128];
        if (fd >= 0 && read(fd, buf, sizeof buf) > 0) {
            busy_ok++;
        } else {
            busy_failed++;
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    return NULL;
}

/* Forks a child that dials once and prints the reply.  Returns 0 when the
 * child exited 0. */
static int fork_dialer(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        int fd = dial(name, port);
        int rc = fd >= 0 ? he_relay_reply(fd) : -1;
        _exit(rc == 0 ? HE_EXIT_OK : HE_EXIT_CONNECT);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    int forks = 0, opt;
    while ((opt = getopt(argc, argv, "t:")) != -1) {
        if (opt == 't') {
            forks = atoi(optarg);
        } else {
            return HE_EXIT_USAGE;
        }
    }
    if (argc - optind != 2 || forks < 0) {
        fprintf(stderr, "usage: %s [-t FORKS] NAME PORT\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    name = argv[optind];
    port = argv[optind + 1];
    int fd = dial(name, port);
    if (fd < 0) {
        return HE_EXIT_CONNECT;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = he_relay_reply(fd);
        close(fd);
        int again = dial(name, port);
        if (rc != 0 || again < 0) {
            _exit(HE_EXIT_CONNECT);
        }
        rc = he_relay_reply(again);
        close(again);
        _exit(rc == 0 ? HE_EXIT_OK : HE_EXIT_CONNECT);
    }
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    int failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (forks > 0) {
        pthread_t t;
        pthread_create(&t, NULL, busy, NULL);
        sleep_ms(100); /* the thread is inside its first race */
        for (int i = 0; i < forks; i++) {
            failed |= fork_dialer() != 0;
            sleep_ms(70);
        }
        __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
        pthread_join(t, NULL);
        printf("background ok=%d failed=%d\n", busy_ok, busy_failed);
        failed |= busy_failed != 0;
    }
    return failed ? HE_EXIT_CONNECT : HE_EXIT_OK;
}

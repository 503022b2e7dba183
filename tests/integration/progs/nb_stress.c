/* nb_stress [-c CONNECTORS] [-o OPENERS] [-d MS] [-w MAX_MS] [-r MS] NAME PORT
 *
 * The promise "it never splices onto an fd that no longer holds the
 * caller's socket", under load: "a stress test must never see a non-socket fd
 * replaced".  NAME must be dead-first (dead4.test), so that every connect
 * leaves a race pending, whose winner libhe would splice onto the fd number
 * one attempt delay later.  For -d MS (default 2000):
 *
 *   CONNECTORS threads (default 4) loop: a non-blocking socket, connect()
 *   to NAME's first address (-1/EINPROGRESS), then, in every other loop, a
 *   poll() for the socket of MAX_MS ms (-w, default 300: past the attempt
 *   delay, so with libhe a sibling wins and is spliced: "connected"), in
 *   the others a sleep of a random 0..MAX_MS ms (closing the fd before,
 *   around and after the moment a sibling wins); then a check that the fd
 *   is still a socket -- with -r MS, still the very socket socket() made
 *   if connect() was less than MS ms ago, as no sibling of its own can
 *   have won that soon (a splice then is a stale race's, onto a reused
 *   number) -- close(), and a pause of 0..10 ms (so that the number is
 *   often taken by an opener's /dev/null rather than this thread's next
 *   socket).
 *
 *   OPENERS threads (default 4) loop: open("/dev/null") (the lowest free
 *   number: the numbers the connectors just closed), fstat, hold it a
 *   random 0..20 ms, check it is STILL /dev/null (character device, same
 *   rdev and inode), close().
 *
 * Any fd found holding something else prints "REPLACED fd N ..." on stderr
 * and ends the program with exit 4 at once.  At the end it prints
 *   stress connects=C connected=K opens=O
 * then waits (up to 3 s) for the fd count to come back to where it was
 * before the threads started and for the threads to be back to what they
 * were (libhe's helper lingers a while when idle), and prints
 *   fds before=B after=A
 *   threads N
 *   threads_start N   (1, or more if a sanitizer runtime keeps its own)
 * (FDLEAK on stderr and exit 3 if the count did not come back). */
#define _GNU_SOURCE
#include "he_prog.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

static struct sockaddr_storage dst;
static socklen_t dstlen;
static int family;
static long deadline, max_wait_ms = 300, own_ms;
static struct stat devnull;
static atomic_long connects, connected, opens;

static unsigned rnd(unsigned *seed, unsigned n) {
    *seed = *seed * 1103515245u + 12345u;
    return n ? (*seed >> 8) % n : 0;
}

static void replaced(int fd, const char *what, const struct stat *st) {
    fprintf(stderr, "REPLACED fd %d: %s (mode 0%o rdev 0x%lx ino %lu)\n", fd, what,
            st ? (unsigned)st->st_mode : 0u, st ? (unsigned long)st->st_rdev : 0ul,
            st ? (unsigned long)st->st_ino : 0ul);
    fflush(stderr);
    _exit(4);
}

static void *connector(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + (unsigned)he_now_ms();
    while (he_now_ms() < deadline) {
        int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            fprintf(stderr, "socket: %s\n", strerror(errno));
            usleep(1000);
            continue;
        }
        struct stat orig, st;
        fstat(fd, &orig);
        long t0 = he_now_ms();
        int rc = connect(fd, (struct sockaddr *)&dst, dstlen);
        if (rc != 0 && errno != EINPROGRESS) {
            fprintf(stderr, "connect: %s\n", strerror(errno));
        }
        atomic_fetch_add(&connects, 1);
        if (rnd(&seed, 2)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, (int)max_wait_ms) == 1 && (p.revents & POLLOUT)) {
                int err = -1;
                socklen_t len = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
                    atomic_fetch_add(&connected, 1);
                }
            }
        } else {
            usleep(rnd(&seed, (unsigned)max_wait_ms + 1) * 1000);
        }
        if (fstat(fd, &st) != 0) {
            replaced(fd, "the connector's socket is no longer open", NULL);
        }
        if (!S_ISSOCK(st.st_mode)) {
            replaced(fd, "the connector's socket became something else", &st);
        }
        long age = he_now_ms() - t0;
        if (own_ms > 0 && age < own_ms && (st.st_ino != orig.st_ino || st.st_dev != orig.st_dev)) {
            fprintf(stderr, "REPLACED fd %d: another socket spliced in %ld ms after connect()\n",
                    fd, age);
            fflush(stderr);
            _exit(4);
        }
        close(fd);
        /* A pause, so that an opener rather than this thread's next
         * socket takes the number just freed. */
        usleep(rnd(&seed, 11) * 1000);
    }
    return NULL;
}

static void *opener(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg * 104729u + (unsigned)he_now_ms();
    while (he_now_ms() < deadline) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "open /dev/null: %s\n", strerror(errno));
            usleep(1000);
            continue;
        }
        struct stat st;
        for (int check = 0; check < 2; check++) {
            if (fstat(fd, &st) != 0) {
                replaced(fd, "/dev/null is no longer open", NULL);
            }
            if (!S_ISCHR(st.st_mode) || st.st_rdev != devnull.st_rdev ||
                st.st_ino != devnull.st_ino || st.st_dev != devnull.st_dev) {
                replaced(fd, "/dev/null became something else", &st);
            }
            if (check == 0) {
                usleep(rnd(&seed, 21) * 1000);
            }
        }
        atomic_fetch_add(&opens, 1);
        close(fd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int nconn = 4, nopen = 4, opt;
    long duration = 2000;
    while ((opt = getopt(argc, argv, "c:o:d:w:r:")) != -1) {
        switch (opt) {
        case 'c':
            nconn = atoi(optarg);
            break;
        case 'o':
            nopen = atoi(optarg);
            break;
        case 'd':
            duration = atol(optarg);
            break;
        case 'w':
            max_wait_ms = atol(optarg);
            break;
        case 'r':
            own_ms = atol(optarg);
            break;
        default:
            fprintf(stderr, "usage: %s [-c N] [-o N] [-d MS] [-w MAX_MS] [-r MS] NAME PORT\n",
                    argv[0]);
            return HE_EXIT_USAGE;
        }
    }
    if (argc - optind != 2 || nconn < 1 || nconn > 64 || nopen < 0 || nopen > 64) {
        fprintf(stderr, "usage: %s [-c N] [-o N] [-d MS] [-w MAX_MS] [-r MS] NAME PORT\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    if (stat("/dev/null", &devnull) != 0) {
        perror("/dev/null");
        return HE_EXIT_USAGE;
    }
    struct addrinfo *res = he_resolve(argv[optind], argv[optind + 1], AF_UNSPEC);
    memcpy(&dst, res->ai_addr, res->ai_addrlen);
    dstlen = res->ai_addrlen;
    family = res->ai_family;
    freeaddrinfo(res);

    /* A sanitizer runtime (TSan) starts a thread of its own with the
     * first pthread_create: let that happen before counting. */
    he_warm_threads();
    int before = he_count_fds(), threads_start = he_threads_now();
    deadline = he_now_ms() + duration;
    pthread_t t[128];
    int n = 0;
    for (int i = 0; i < nconn; i++) {
        pthread_create(&t[n++], NULL, connector, (void *)(uintptr_t)(i + 1));
    }
    for (int i = 0; i < nopen; i++) {
        pthread_create(&t[n++], NULL, opener, (void *)(uintptr_t)(i + 100));
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    printf("stress connects=%ld connected=%ld opens=%ld\n", atomic_load(&connects),
           atomic_load(&connected), atomic_load(&opens));

    return he_settle(before, threads_start);
}

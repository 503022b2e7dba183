/* late_loop [-n COUNT] [-p PARALLEL] [-i TICK_MS] [-v] NAME PORT
 *
 * How late an event loop's timers run while it makes non-blocking connects
 * the single-address way (as Java's Socket.connect(addr, timeout) or a
 * Python socket with a timeout): one thread, one epoll loop with a periodic
 * timerfd (every TICK_MS, default 10), and COUNT (default 100) connects
 * to NAME's first address: getaddrinfo once; then, on each tick, as many
 * new connects as leave PARALLEL (default 1) in flight, each a
 * SOCK_NONBLOCK socket, connect() (-1/EINPROGRESS), EPOLL_CTL_ADD
 * EPOLLOUT; on its EPOLLOUT/EPOLLERR, getsockopt(SO_ERROR), close.  Any
 * time the loop spends inside a call (a held SO_ERROR, say) delays the
 * ticks due meanwhile, and the lateness of each tick says by how much.
 *
 * Prints:
 *   connects N connected C refused R other O
 *   lateness_worst_ms W   the latest tick: handled W ms after it was due
 *   lateness_p99_ms P     the 99th percentile of every tick's lateness
 *   ticks T               ticks due (and handled) while connects ran
 *   connect_max_ms M      the longest connect, connect() to SO_ERROR read
 *   total_ms Z            the first connect() to the last close()
 *   connect I OUTCOME M   (-v) each connect as it ended: its number
 *                         (from 1), connected or the errno's name, and
 *                         how long it took
 * (W, P, M, Z in ms, with three decimals.)
 *
 * Exit: 0 every connect ended (connected or not), 1 not within 30 s,
 * 2 usage or name resolution. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#define LL_MAX_PARALLEL 64
#define LL_LIMIT_MS 30000.0
#define LL_TIMER_TAG UINT64_MAX

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct slot {
    int fd; /* -1: free */
    long n; /* the connect's number, from 1 */
    double t0;
};

static int verbose;

/* Counts connect number n's outcome (0 or an errno), at t0..t1. */
static void outcome(long n, int err, double t0, double t1, long *connected, long *refused,
                    long *other) {
    *connected += err == 0;
    *refused += err == ECONNREFUSED;
    *other += err != 0 && err != ECONNREFUSED;
    if (verbose) {
        const char *name = err == 0 ? "connected" : strerrorname_np(err);
        printf("connect %ld %s %.3f\n", n, name ? name : "?", t1 - t0);
    }
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [-n COUNT] [-p PARALLEL] [-i TICK_MS] [-v] NAME PORT\n", argv0);
    exit(HE_EXIT_USAGE);
}

int main(int argc, char **argv) {
    long count = 100, parallel = 1, tick = 10;
    int opt;
    while ((opt = getopt(argc, argv, "n:p:i:v")) != -1) {
        switch (opt) {
        case 'n':
            count = atol(optarg);
            break;
        case 'p':
            parallel = atol(optarg);
            break;
        case 'i':
            tick = atol(optarg);
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (argc - optind != 2 || count < 1 || parallel < 1 || parallel > LL_MAX_PARALLEL || tick < 1) {
        usage(argv[0]);
    }
    struct addrinfo *res = he_resolve(argv[optind], argv[optind + 1], AF_UNSPEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || tfd < 0) {
        perror("epoll_create1/timerfd_create");
        return HE_EXIT_USAGE;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    double due = start.tv_sec * 1e3 + start.tv_nsec / 1e6 + (double)tick;
    struct itimerspec its = {
        .it_interval = {tick / 1000, (tick % 1000) * 1000000L},
        .it_value = {start.tv_sec + tick / 1000, start.tv_nsec + (tick % 1000) * 1000000L},
    };
    if (its.it_value.tv_nsec >= 1000000000L) {
        its.it_value.tv_sec++;
        its.it_value.tv_nsec -= 1000000000L;
    }
    struct epoll_event tev = {.events = EPOLLIN, .data.u64 = LL_TIMER_TAG};
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) != 0) {
        perror("timerfd_settime/epoll_ctl");
        return HE_EXIT_USAGE;
    }

    struct slot slots[LL_MAX_PARALLEL];
    for (int i = 0; i < LL_MAX_PARALLEL; i++) {
        slots[i].fd = -1;
    }
    size_t cap = 1024, nlate = 0;
    double *late = malloc(cap * sizeof *late);
    if (late == NULL) {
        perror("malloc");
        return HE_EXIT_USAGE;
    }
    long started = 0, done = 0, connected = 0, refused = 0, other = 0, inflight = 0;
    double first = 0, last = 0, connect_max = 0, limit = due + LL_LIMIT_MS;
    while (done < count && now_ms() < limit) {
        struct epoll_event evs[LL_MAX_PARALLEL + 1];
        int n = epoll_wait(ep, evs, LL_MAX_PARALLEL + 1, 1000);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return HE_EXIT_USAGE;
        }
        for (int e = 0; e < n; e++) {
            if (evs[e].data.u64 == LL_TIMER_TAG) {
                uint64_t expired = 0;
                if (read(tfd, &expired, sizeof expired) != (ssize_t)sizeof expired) {
                    continue;
                }
                double t = now_ms();
                for (uint64_t k = 0; k < expired; k++, due += (double)tick) {
                    if (nlate == cap) {
                        cap *= 2;
                        late = realloc(late, cap * sizeof *late);
                        if (late == NULL) {
                            perror("realloc");
                            return HE_EXIT_USAGE;
                        }
                    }
                    late[nlate++] = t > due ? t - due : 0;
                }
                /* New connects: as many as leave PARALLEL in flight. */
                for (int i = 0; i < parallel && started < count; i++) {
                    if (slots[i].fd >= 0) {
                        continue;
                    }
                    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
                    if (fd < 0) {
                        perror("socket");
                        return HE_EXIT_USAGE;
                    }
                    started++;
                    inflight++;
                    slots[i].n = started;
                    slots[i].t0 = now_ms();
                    if (first == 0) {
                        first = slots[i].t0;
                    }
                    slots[i].fd = fd;
                    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
                        /* Failed at once (unreachable, say): done. */
                        int err = errno;
                        close(fd);
                        slots[i].fd = -1;
                        inflight--;
                        done++;
                        last = now_ms();
                        outcome(started, err, slots[i].t0, last, &connected, &refused, &other);
                        continue;
                    }
                    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                        perror("EPOLL_CTL_ADD");
                        return HE_EXIT_USAGE;
                    }
                }
                continue;
            }
            struct slot *s = &slots[evs[e].data.u64];
            if (s->fd < 0) {
                continue;
            }
            int soerr = -1;
            socklen_t sl = sizeof soerr;
            if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
                soerr = errno;
            }
            double t = now_ms();
            if (t - s->t0 > connect_max) {
                connect_max = t - s->t0;
            }
            outcome(s->n, soerr, s->t0, t, &connected, &refused, &other);
            close(s->fd);
            s->fd = -1;
            inflight--;
            done++;
            last = now_ms();
        }
    }
    qsort(late, nlate, sizeof *late, cmp_double);
    double worst = nlate ? late[nlate - 1] : 0;
    size_t p99 = nlate ? (nlate * 99 + 99) / 100 - 1 : 0;
    printf("connects %ld connected %ld refused %ld other %ld\n", done, connected, refused, other);
    printf("lateness_worst_ms %.3f\n", worst);
    printf("lateness_p99_ms %.3f\n", nlate ? late[p99] : 0.0);
    printf("ticks %zu\n", nlate);
    printf("connect_max_ms %.3f\n", connect_max);
    printf("total_ms %.3f\n", last - first);
    free(late);
    freeaddrinfo(res);
    close(tfd);
    close(ep);
    if (done < count) {
        fprintf(stderr, "late_loop: %ld of %ld connects ended within %.0f ms (%ld in flight)\n",
                done, count, LL_LIMIT_MS, inflight);
        return HE_EXIT_CONNECT;
    }
    return HE_EXIT_OK;
}

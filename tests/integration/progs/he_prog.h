/* Shared helpers for libhe's integration-test client programs.
 *
 * Each program connects to NAME PORT the way a classic, unmodified client
 * would, prints what the server sent (one "reached <addr>" line), and checks
 * that it did not leak file descriptors across the whole resolve/connect/
 * close cycle.  Exit codes, common to every program:
 *   0  connected and printed the server's reply
 *   1  every address failed (strerror of the last error on stderr)
 *   2  usage error or name resolution failure
 *   3  file-descriptor leak (FDLEAK before=X after=Y on stderr)
 *
 * Header-only, so run.sh builds each program from its one .c file; the
 * functions are static inline so a program need not use them all under
 * -Wall -Wextra -Werror. */
#ifndef HE_PROG_H
#define HE_PROG_H

#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HE_EXIT_OK 0
#define HE_EXIT_CONNECT 1
#define HE_EXIT_USAGE 2
#define HE_EXIT_FDLEAK 3

/* Monotonic milliseconds, to time a connect() call. */
static inline long he_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* getaddrinfo(name, port) for TCP in family (AF_UNSPEC, AF_INET...);
 * exits with HE_EXIT_USAGE when the name does not resolve. */
static inline struct addrinfo *he_resolve(const char *name, const char *port, int family) {
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(name, port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "getaddrinfo %s: %s\n", name, gai_strerror(gai));
        exit(HE_EXIT_USAGE);
    }
    return res;
}

/* The process's threads, from /proc/self/status (-1 if unreadable). */
static inline int he_threads_now(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "Threads: %d", &n) == 1) {
            break;
        }
    }
    fclose(f);
    return n;
}

static inline void *he_noop_thread(void *arg) {
    *(pid_t *)arg = gettid();
    return NULL;
}

/* A sanitizer runtime (TSan) starts a thread of its own with the first
 * pthread_create: call this before counting threads.  pthread_join can
 * return while the kernel still counts the joined thread (it wakes the
 * joiner before it is gone), so this waits (at most a second) until
 * /proc/self/task no longer lists it. */
static inline void he_warm_threads(void) {
    pthread_t t;
    pid_t tid = 0;
    if (pthread_create(&t, NULL, he_noop_thread, &tid) != 0) {
        return;
    }
    pthread_join(t, NULL);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    for (int i = 0; i < 500 && tid > 0 && access(path, F_OK) == 0; i++) {
        usleep(2000);
    }
}

/* Number of entries in /proc/self/fd.  The directory stream's own fd is
 * counted too, but identically on every call, so comparisons stay exact. */
static inline int he_count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        perror("opendir /proc/self/fd");
        exit(HE_EXIT_USAGE);
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Runs fn on n threads (1..64), each given its index as (void *)(long)i,
 * and waits for them all; *fds_before and *fds_after are he_count_fds()
 * around them.  Returns 0, or HE_EXIT_USAGE for n out of range. */
static inline int he_run_threads(int n, void *(*fn)(void *), int *fds_before, int *fds_after) {
    pthread_t t[64];
    if (n < 1 || n > 64) {
        return HE_EXIT_USAGE;
    }
    *fds_before = he_count_fds();
    for (long i = 0; i < n; i++) {
        pthread_create(&t[i], NULL, fn, (void *)i);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    *fds_after = he_count_fds();
    return 0;
}

/* Copies everything the server sends, up to EOF, to stdout.  Returns 0, or
 * -1 with errno set if a read failed. */
static inline int he_relay_reply(int fd) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
            return -1;
        }
    }
    fflush(stdout);
    return 0;
}

/* The end of a client round: reports a failed connect (fd < 0, with the
 * last attempt's errno), or relays the server's reply and closes fd.
 * Returns an exit code (HE_EXIT_*). */
static inline int he_finish_round(int fd, int last_errno, const char *name, const char *port) {
    if (fd < 0) {
        fprintf(stderr, "connect %s port %s: %s\n", name, port, strerror(last_errno));
        return HE_EXIT_CONNECT;
    }
    int rc = HE_EXIT_OK;
    if (he_relay_reply(fd) != 0) {
        fprintf(stderr, "read: %s\n", strerror(errno));
        rc = HE_EXIT_CONNECT;
    }
    close(fd);
    return rc;
}

/* Parses "[-n COUNT] NAME PORT".  Sets *count (default 1), *name, *port. */
static inline void he_parse_args(int argc, char **argv, int *count, const char **name,
                                 const char **port) {
    int opt;
    *count = 1;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt == 'n') {
            *count = atoi(optarg);
            if (*count < 1) {
                fprintf(stderr, "%s: -n wants a positive count\n", argv[0]);
                exit(HE_EXIT_USAGE);
            }
        } else {
            fprintf(stderr, "usage: %s [-n COUNT] NAME PORT\n", argv[0]);
            exit(HE_EXIT_USAGE);
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: %s [-n COUNT] NAME PORT\n", argv[0]);
        exit(HE_EXIT_USAGE);
    }
    *name = argv[optind];
    *port = argv[optind + 1];
}

/* Runs one_round(name, port) count times, checking the fd count around each
 * round.  one_round returns an exit code (HE_EXIT_*), having closed every fd
 * it opened.  Stops at the first failing round. */
static inline int he_repeat(int count, const char *name, const char *port,
                            int (*one_round)(const char *name, const char *port)) {
    for (int i = 0; i < count; i++) {
        int before = he_count_fds();
        int rc = one_round(name, port);
        int after = he_count_fds();
        if (before != after) {
            fprintf(stderr, "FDLEAK before=%d after=%d (round %d)\n", before, after, i + 1);
            return HE_EXIT_FDLEAK;
        }
        if (rc != HE_EXIT_OK) {
            return rc;
        }
    }
    return HE_EXIT_OK;
}

/* With every descriptor of the program's own closed: waits up to 3 s for
 * the fd count to come back to want_fds and the threads to want_threads
 * (libhe's idle helper thread lingers about a second), then prints "fds
 * before=N after=N", "threads N", "threads_start N", and on stderr an
 * FDLEAK report if the fds did not come back.  Returns the exit status. */
static inline int he_settle(int want_fds, int want_threads) {
    long end = he_now_ms() + 3000;
    int n, t;
    for (;;) {
        n = he_count_fds();
        t = he_threads_now();
        if ((n == want_fds && t == want_threads) || he_now_ms() >= end) {
            break;
        }
        usleep(20000);
    }
    printf("fds before=%d after=%d\n", want_fds, n);
    printf("threads %d\n", t);
    printf("threads_start %d\n", want_threads);
    fflush(stdout);
    if (n != want_fds) {
        fprintf(stderr, "FDLEAK before=%d after=%d (3 s after the program closed its own)\n",
                want_fds, n);
        return HE_EXIT_FDLEAK;
    }
    return HE_EXIT_OK;
}

#endif

/* conn_modes MODE NAME PORT [ARG [NAME2]]
 *
 * One blocking connect() to NAME's first address, under a deadline or a
 * signal, the way real programs arrange them.  Prints
 *   result rc=R errno=NAME ms=ELAPSED
 * (ELAPSED: the connect() call alone) then, when connected, the server's
 * reply.  Modes:
 *   sndtimeo MS   SO_SNDTIMEO of MS (the kernel answers EINPROGRESS at expiry;
 *                 0 sets none)
 *   alarm MS      SIGALRM after MS, handler without SA_RESTART (expect EINTR)
 *   restart MS    SIGALRM every MS, handler with SA_RESTART (connect goes on);
 *                 prints "alarms N", the signals that arrived during connect
 *   retry MS      SIGALRM after MS without SA_RESTART ends the first
 *                 connect with EINTR ("first rc=R errno=E"); then, with a
 *                 1000 ms SO_SNDTIMEO as a guard, the program calls
 *                 connect() again, as the classic EINTR loop does; the
 *                 kernel goes on waiting for the connection in flight (and
 *                 answers EALREADY at the guard).  "result" is that call.
 *   longjmp N     N times: SIGALRM at 300 ms (after the first sibling of a
 *                 dead-first name started, at 250 ms) siglongjmps out of
 *                 connect (as wget --connect-timeout does), the program
 *                 closes the fd; then checks the fd count is back to where it
 *                 was, after a getaddrinfo() that lets libhe reap what it
 *                 stranded.  Prints
 *                   result rounds=N fds_before=B fds_after=A
 *                 With NAME2, the same process then resolves NAME2 and makes
 *                 one plain blocking connect to its first address, from a
 *                 helper function (no timer: a lock left held would hang
 *                 it), and prints
 *                   then rc=R errno=NAME ms=ELAPSED
 *                 and the server's reply.
 * Exit: 0 connected (or, for longjmp, no leak and NAME2 connected), 1
 * connect failed, 2 usage or name resolution, 3 fd leak. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <netdb.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

static sigjmp_buf jump;
static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void on_alarm_jump(int sig) {
    (void)sig;
    siglongjmp(jump, 1);
}

static void handle(void (*fn)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
}

static void timer_ms(int first, int every) {
    struct itimerval it = {{every / 1000, (every % 1000) * 1000},
                           {first / 1000, (first % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static int report(const char *what, int fd, int rc, int err, long t0) {
    printf("%s rc=%d errno=%s ms=%ld\n", what, rc, rc ? strerrorname_np(err) : "0",
           he_now_ms() - t0);
    fflush(stdout);
    if (rc == 0) {
        he_relay_reply(fd);
    }
    close(fd);
    return rc == 0 ? HE_EXIT_OK : HE_EXIT_CONNECT;
}

static int one_connect(const char *mode, int arg, const char *name, const char *port) {
    struct addrinfo *res = he_resolve(name, port, AF_UNSPEC);
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (strcmp(mode, "sndtimeo") == 0) {
        struct timeval tv = {arg / 1000, (arg % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    } else if (strcmp(mode, "alarm") == 0) {
        handle(on_alarm, 0);
        timer_ms(arg, 0);
    } else if (strcmp(mode, "restart") == 0) {
        handle(on_alarm, SA_RESTART);
        timer_ms(arg, arg);
    } else if (strcmp(mode, "retry") == 0) {
        handle(on_alarm, 0);
        timer_ms(arg, 0);
    }
    long t0 = he_now_ms();
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    int err = errno;
    timer_ms(0, 0);
    if (strcmp(mode, "retry") == 0) {
        printf("first rc=%d errno=%s\n", rc, rc ? strerrorname_np(err) : "0");
        struct timeval guard = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &guard, sizeof guard);
        t0 = he_now_ms();
        rc = connect(fd, res->ai_addr, res->ai_addrlen);
        err = errno;
    }
    freeaddrinfo(res);
    if (strcmp(mode, "restart") == 0) {
        printf("alarms %d\n", (int)alarms);
    }
    return report("result", fd, rc, err, t0);
}

/* The connect after the longjmp rounds, from a helper one call deeper than
 * the abandoned connects were, as a real program's next connection usually
 * is: it must be raced like any other, and reach NAME2's live address. */
static __attribute__((noinline)) int connect_then(const char *then, const char *port) {
    struct addrinfo *res = he_resolve(then, port, AF_UNSPEC);
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    long t0 = he_now_ms();
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    int err = errno;
    freeaddrinfo(res);
    return report("then", fd, rc, err, t0);
}

static int longjmp_rounds(int rounds, const char *name, const char *port, const char *then) {
    struct addrinfo *res = he_resolve(name, port, AF_UNSPEC);
    handle(on_alarm_jump, 0);
    int before = he_count_fds();
    for (int i = 0; i < rounds; i++) {
        volatile int fd = socket(res->ai_family, SOCK_STREAM, 0);
        if (sigsetjmp(jump, 1) == 0) {
            timer_ms(300, 0);
            connect(fd, res->ai_addr, res->ai_addrlen);
            timer_ms(0, 0);
        }
        close(fd);
    }
    freeaddrinfo(res);
    freeaddrinfo(he_resolve(name, port, AF_UNSPEC)); /* an entry into libhe: reaps */
    int after = he_count_fds();
    printf("result rounds=%d fds_before=%d fds_after=%d\n", rounds, before, after);
    fflush(stdout);
    int rc = HE_EXIT_OK;
    if (then != NULL) {
        signal(SIGALRM, SIG_DFL);
        rc = connect_then(then, port);
        int end = he_count_fds();
        if (end != after) {
            fprintf(stderr, "FDLEAK before=%d after=%d (connect to %s)\n", after, end, then);
            return HE_EXIT_FDLEAK;
        }
    }
    if (before != after) {
        fprintf(stderr, "FDLEAK before=%d after=%d (longjmp rounds)\n", before, after);
        return HE_EXIT_FDLEAK;
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODE NAME PORT [ARG [NAME2]]\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    int arg = argc > 4 ? atoi(argv[4]) : 0;
    if (strcmp(argv[1], "longjmp") == 0) {
        return longjmp_rounds(arg, argv[2], argv[3], argc > 5 ? argv[5] : NULL);
    }
    if (strcmp(argv[1], "sndtimeo") != 0 && strcmp(argv[1], "alarm") != 0 &&
        strcmp(argv[1], "restart") != 0 && strcmp(argv[1], "retry") != 0) {
        fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
        return HE_EXIT_USAGE;
    }
    int before = he_count_fds();
    int rc = one_connect(argv[1], arg, argv[2], argv[3]);
    if (he_count_fds() != before) {
        fprintf(stderr, "FDLEAK before=%d after=%d\n", before, he_count_fds());
        return HE_EXIT_FDLEAK;
    }
    return rc;
}

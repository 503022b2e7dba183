/* nb_connect [OPTIONS] NAME PORT
 *
 * One non-blocking TCP connect, the way event-driven programs (nginx, curl,
 * nc, ...) make it: getaddrinfo(NAME) (so libhe learns the name), a
 * non-blocking socket in the first address's family, connect() to that
 * first address (-1/EINPROGRESS), then a wait for the socket to become
 * writable in poll, select or epoll, and getsockopt(SO_ERROR) for the
 * outcome.  Prints machine-readable lines:
 *
 *   connect rc=R errno=E           what connect() itself returned
 *   result connected ms=M          SO_ERROR 0 after M ms (from connect())
 *   result error=ERRNO ms=M        SO_ERROR set (ECONNREFUSED, ...)
 *   result timeout ms=M            the wait's own timeout (-t) expired
 *   so_error 0|ERRNO
 *   revents FLAGS                  poll: what poll() reported
 *   select isset=1                 select: the fd is in the returned set
 *   epoll_events FLAGS data=0xD    epoll: what epoll_wait() reported
 *   epoll_regs N                   "tfd:" lines for the fd in
 *                                  /proc/self/fdinfo/EPFD (one wanted)
 *   epoll_reg events=0xE data=0xD  each of them
 *   domain AF_INET|AF_INET6        SO_DOMAIN of the fd after the wait
 *   socket same|replaced           whether the fd still holds the socket
 *                                  socket() made (a splice replaces it)
 *   peer ADDR                      getpeername(), in the socket's family
 *   second_connect rc=R errno=E    connect() again, to the same address
 *                                  (Linux itself answers 0 the first time
 *                                  after a non-blocking connect completed)
 *   third_connect rc=R errno=E     and once more (EISCONN)
 *   epoll_mod ok|errno=E           EPOLL_CTL_MOD to EPOLLIN
 *   epoll_del ok|errno=E           EPOLL_CTL_DEL
 *   reached ADDR                   the server's reply line
 *   after_failure same|replaced peer=yes|no
 *                                  (-k) the failed socket, MS ms later
 *   epoll_after_del events=N       epoll_wait(0 ms) after the DEL (0)
 *   fds before=B after=A           (-s) see below
 *   threads N                      (-s) Threads: in /proc/self/status
 *   threads_start N                (-s) the same when the program started
 *
 * Any check the program makes itself that fails is reported on stderr as
 * "MISMATCH ..." (or "REPLACED fd N ..." for an fd that no longer holds
 * what the program put there, "FDLEAK ..." for descriptors).
 *
 * Options:
 *   -m MODE   poll (default), select, epoll (level-triggered, registered
 *             after connect with EPOLLOUT), epollet (EPOLLOUT|EPOLLET),
 *             oneshot (EPOLLOUT|EPOLLONESHOT), epollpre (registered
 *             BEFORE connect with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, as
 *             nginx does).  The epoll registrations carry the data
 *             0x1234abcd5678ef09 (u64).
 *   -t MS     the wait's timeout (default 3000)
 *   -4        resolve AF_INET only (default AF_UNSPEC)
 *   -6        make an AF_INET6 socket whatever the first address is; an
 *             IPv4 address is connected to as ::ffff:a.b.c.d
 *   -f        set O_NONBLOCK with fcntl() instead of SOCK_NONBLOCK
 *   -g        speak HTTP (for the lab's http server): send a GET, then
 *             read; without it only read (whoami)
 *   -k MS     after a failed connect, keep the fd MS ms, then check it
 *             still holds the same, failed socket ("after_failure")
 *   -s        settle: at the end, with every descriptor the program opened
 *             closed, wait (up to 3 s) until the fd count is back to what it
 *             was before the socket was made and the process has as many
 *             threads as it started with (libhe's helper lingers a while
 *             when idle); print "fds", "threads" and "threads_start", and
 *             FDLEAK on stderr if the count did not come back
 *   -e        EMFILE: RLIMIT_NOFILE leaves room for the socket alone (the
 *             soft limit; the hard one stays); libhe cannot open a sibling
 *   -a ACTION@MS  mid-race: wait MS ms (the wait mechanism of -m), then
 *             close     close(fd), open /dev/null (likely the same number)
 *             dup2      dup2() a /dev/null fd onto fd
 *             close_range  close_range(fd, fd, 0), open /dev/null
 *             closefrom closefrom(fd), open /dev/null 4 times (the numbers
 *                       any descriptor of libhe's above fd had too); the
 *                       program also starts with closefrom(3), as ssh
 *                       does, so that it holds nothing above fd itself
 *             then sleep 1.5 s (well past when a sibling would have won and
 *             been spliced) and check every /dev/null fd is still open on
 *             /dev/null ("intact fd=N"), and, with epoll, that the epoll
 *             instance holds no registration for fd;
 *             fork      fork(); the child checks it has one thread and
 *                       exactly the descriptors the parent had just before
 *                       connect() (its own, the socket included; none of a
 *                       race's), prints "child fds=N want=W threads=T" and
 *                       exits; the parent goes on waiting and prints
 *                       "child exit N"
 *
 * Exit: 0 connected and the reply read (or, for a close-type action, every
 * /dev/null intact), 1 the connect failed or timed out, 2 usage or name
 * resolution, 3 fd leak, 4 a MISMATCH or REPLACED. */
#define _GNU_SOURCE
#include "he_prog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define NB_DATA 0x1234abcd5678ef09ULL
#define NB_EXIT_CHECK 4
/* The kernel keeps these bits of a registration when a EPOLLONESHOT event
 * fires and disarms it (fs/eventpoll.c, EP_PRIVATE_BITS). */
#define NB_EP_PRIVATE (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)

enum mode { M_POLL, M_SELECT, M_EPOLL, M_EPOLLET, M_ONESHOT, M_EPOLLPRE };
static const char *const mode_names[] = {"poll",    "select",  "epoll",
                                         "epollet", "oneshot", "epollpre"};
enum action { A_NONE, A_CLOSE, A_DUP2, A_CLOSE_RANGE, A_CLOSEFROM, A_FORK };
static const char *const action_names[] = {"none",        "close",     "dup2",
                                           "close_range", "closefrom", "fork"};

static enum mode mode = M_POLL;
static int fd = -1, epfd = -1;
static uint32_t reg_events; /* what the program registered */
static int oneshot_fired;
/* What the wait reported, as EPOLLOUT|EPOLLERR|EPOLLHUP (poll's flags
 * translated; select's set means EPOLLOUT). */
static unsigned woke;
static int failed_check;
static struct stat devnull;

static void mismatch(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mismatch(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("MISMATCH ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failed_check = 1;
}

static const char *errname(int e) {
    const char *n = strerrorname_np(e);
    return n ? n : "?";
}

static int is_epoll(void) {
    return mode >= M_EPOLL;
}

static void flag_names(char *out, size_t size, unsigned v, const unsigned *bits,
                       const char *const *names, int n) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (v & bits[i]) {
            used += snprintf(out + used, size - used, "%s%s", used ? "|" : "", names[i]);
            v &= ~bits[i];
        }
    }
    if (v || !used) {
        snprintf(out + used, size - used, "%s0x%x", used ? "|" : "", v);
    }
}

static void poll_names(char *out, size_t size, unsigned v) {
    static const unsigned bits[] = {POLLIN,  POLLPRI,  POLLOUT,  POLLERR,
                                    POLLHUP, POLLNVAL, POLLRDHUP};
    static const char *const names[] = {"POLLIN",  "POLLPRI",  "POLLOUT",  "POLLERR",
                                        "POLLHUP", "POLLNVAL", "POLLRDHUP"};
    flag_names(out, size, v, bits, names, 7);
}

static void epoll_names(char *out, size_t size, unsigned v) {
    static const unsigned bits[] = {EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP};
    static const char *const names[] = {"EPOLLIN",  "EPOLLPRI", "EPOLLOUT",
                                        "EPOLLERR", "EPOLLHUP", "EPOLLRDHUP"};
    flag_names(out, size, v, bits, names, 6);
}

/* The registrations for number target in the epoll instance, printed (if
 * print) as "epoll_reg" lines; the first one's events and data in *ev, *data. */
static int epoll_regs(int target, int print, unsigned *ev, unsigned long long *data) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
    FILE *f = fopen(path, "r");
    int n = 0;
    if (f == NULL) {
        mismatch("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        int tfd;
        unsigned e;
        unsigned long long d;
        if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &e, &d) == 3 && tfd == target) {
            if (print) {
                printf("epoll_reg events=0x%x data=0x%llx\n", e, d);
            }
            if (n == 0 && ev != NULL) {
                *ev = e;
                *data = d;
            }
            n++;
        }
    }
    fclose(f);
    return n;
}

/* Waits up to ms for the socket to become writable (or fail) in the
 * mechanism of -m.  Returns 1 ready, 0 timed out; prints what the mechanism
 * reported. */
static int wait_ready(long ms) {
    char names[128];
    if (ms < 0) {
        ms = 0;
    }
    if (mode == M_POLL) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n;
        while ((n = poll(&p, 1, (int)ms)) < 0 && errno == EINTR) {
        }
        if (n < 0) {
            mismatch("poll: %s", strerror(errno));
            return 0;
        }
        if (n == 0) {
            return 0;
        }
        poll_names(names, sizeof names, p.revents);
        printf("revents %s\n", names);
        woke = (p.revents & POLLOUT ? EPOLLOUT : 0) | (p.revents & POLLERR ? EPOLLERR : 0) |
               (p.revents & POLLHUP ? EPOLLHUP : 0);
        return 1;
    }
    if (mode == M_SELECT) {
        if (fd >= FD_SETSIZE) {
            mismatch("fd %d >= FD_SETSIZE", fd);
            return 0;
        }
        fd_set w;
        FD_ZERO(&w);
        FD_SET(fd, &w);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        int n;
        while ((n = select(fd + 1, NULL, &w, NULL, &tv)) < 0 && errno == EINTR) {
        }
        if (n < 0) {
            mismatch("select: %s", strerror(errno));
            return 0;
        }
        if (n == 0) {
            return 0;
        }
        printf("select isset=%d\n", FD_ISSET(fd, &w) ? 1 : 0);
        if (n != 1 || !FD_ISSET(fd, &w)) {
            mismatch("select returned %d but fd %d is %sin its set", n, fd,
                     FD_ISSET(fd, &w) ? "" : "not ");
        }
        woke = EPOLLOUT;
        return 1;
    }
    struct epoll_event evs[4];
    int n;
    while ((n = epoll_wait(epfd, evs, 4, (int)ms)) < 0 && errno == EINTR) {
    }
    if (n < 0) {
        mismatch("epoll_wait: %s", strerror(errno));
        return 0;
    }
    if (n == 0) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        epoll_names(names, sizeof names, evs[i].events);
        printf("epoll_events %s data=0x%llx\n", names, (unsigned long long)evs[i].data.u64);
        if (evs[i].data.u64 != NB_DATA) {
            mismatch("epoll_wait returned data 0x%llx, registered 0x%llx",
                     (unsigned long long)evs[i].data.u64, NB_DATA);
        }
    }
    if (n != 1) {
        mismatch("epoll_wait returned %d events for one registration", n);
    }
    if (mode == M_ONESHOT) {
        oneshot_fired = 1;
    }
    woke = evs[0].events;
    return 1;
}

static void epoll_add(void) {
    static const uint32_t events[] = {
        [M_EPOLL] = EPOLLOUT,
        [M_EPOLLET] = EPOLLOUT | EPOLLET,
        [M_ONESHOT] = EPOLLOUT | EPOLLONESHOT,
        [M_EPOLLPRE] = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
    };
    struct epoll_event ev = {.events = events[mode], .data.u64 = NB_DATA};
    reg_events = ev.events;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        mismatch("EPOLL_CTL_ADD: %s", strerror(errno));
    }
}

/* Is number n still open on /dev/null? */
static int check_devnull(int n) {
    struct stat st;
    if (fstat(n, &st) != 0) {
        fprintf(stderr, "REPLACED fd %d: no longer open (%s)\n", n, strerror(errno));
        return 0;
    }
    if (!S_ISCHR(st.st_mode) || st.st_rdev != devnull.st_rdev || st.st_ino != devnull.st_ino) {
        fprintf(stderr, "REPLACED fd %d: mode 0%o rdev 0x%lx, not /dev/null\n", n,
                (unsigned)st.st_mode, (unsigned long)st.st_rdev);
        return 0;
    }
    printf("intact fd=%d\n", n);
    return 1;
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t size) {
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, size);
    } else if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out, size);
    } else {
        snprintf(out, size, "family%d", ss->ss_family);
    }
}

static int same_socket(const struct stat *orig) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == orig->st_ino &&
           st.st_dev == orig->st_dev;
}

static void print_connect(const char *what, int rc, int err) {
    printf("%s rc=%d errno=%s\n", what, rc, rc ? errname(err) : "0");
}

/* Reads the reply (after sending an HTTP GET with http) until EOF and
 * prints its "reached" lines.  Returns 0 when one came. */
static int exchange(int http) {
    char buf[8192];
    size_t used = 0;
    if (http) {
        static const char req[] = "GET / HTTP/1.0\r\nHost: nb\r\n\r\n";
        ssize_t w = write(fd, req, sizeof req - 1);
        if (w != (ssize_t)(sizeof req - 1)) {
            fprintf(stderr, "write: %zd, %s\n", w, strerror(errno));
            return -1;
        }
    }
    long end = he_now_ms() + 3000;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long left = end - he_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            fprintf(stderr, "read: no EOF within 3 s\n");
            break;
        }
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "read: %s\n", strerror(errno));
            break;
        }
        if (n == 0 || (used += (size_t)n) == sizeof buf - 1) {
            break;
        }
    }
    buf[used] = '\0';
    int got = 0;
    for (char *save, *line = strtok_r(buf, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        if (strncmp(line, "reached ", 8) == 0) {
            printf("%s\n", line);
            got = 1;
        }
    }
    if (!got) {
        printf("reply none\n");
    }
    return got ? 0 : -1;
}

/* Threads at start: 1, or more if a sanitizer runtime keeps one of its own. */
static int threads_start;

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [-m poll|select|epoll|epollet|oneshot|epollpre] [-t MS] [-4|-6] [-f] "
            "[-g] [-k MS] [-s] [-e] [-a ACTION@MS] NAME PORT\n",
            argv0);
    exit(HE_EXIT_USAGE);
}

int main(int argc, char **argv) {
    long timeout_ms = 3000, keep_ms = -1, action_ms = 0;
    int family = AF_UNSPEC, force6 = 0, use_fcntl = 0, http = 0, do_settle = 0, emfile = 0;
    enum action action = A_NONE;
    int opt;
    while ((opt = getopt(argc, argv, "m:t:46fgk:sea:")) != -1) {
        switch (opt) {
        case 'm': {
            int found = 0;
            for (int i = 0; i < (int)(sizeof mode_names / sizeof *mode_names); i++) {
                if (strcmp(optarg, mode_names[i]) == 0) {
                    mode = (enum mode)i;
                    found = 1;
                }
            }
            if (!found) {
                usage(argv[0]);
            }
            break;
        }
        case 't':
            timeout_ms = atol(optarg);
            break;
        case '4':
            family = AF_INET;
            break;
        case '6':
            force6 = 1;
            break;
        case 'f':
            use_fcntl = 1;
            break;
        case 'g':
            http = 1;
            break;
        case 'k':
            keep_ms = atol(optarg);
            break;
        case 's':
            do_settle = 1;
            break;
        case 'e':
            emfile = 1;
            break;
        case 'a': {
            char *at = strchr(optarg, '@');
            if (at == NULL) {
                usage(argv[0]);
            }
            *at = '\0';
            action_ms = atol(at + 1);
            for (int i = 1; i < (int)(sizeof action_names / sizeof *action_names); i++) {
                if (strcmp(optarg, action_names[i]) == 0) {
                    action = (enum action)i;
                }
            }
            if (action == A_NONE) {
                usage(argv[0]);
            }
            break;
        }
        default:
            usage(argv[0]);
        }
    }
    if (argc - optind != 2) {
        usage(argv[0]);
    }
    const char *name = argv[optind], *port = argv[optind + 1];
    /* A sanitizer runtime (TSan) starts a thread of its own with the
     * first pthread_create: let that happen before counting. */
    he_warm_threads();
    threads_start = he_threads_now();
    if (stat("/dev/null", &devnull) != 0) {
        perror("/dev/null");
        return HE_EXIT_USAGE;
    }

    if (action == A_CLOSEFROM) {
        /* As ssh does at start-up; and fds the program inherited above
         * the socket would be closed by the closefrom(fd) to come, making
         * the final count differ for a reason of the test's own. */
        closefrom(3);
    }
    struct addrinfo *res = he_resolve(name, port, family);
    struct sockaddr_storage dst;
    socklen_t dstlen = res->ai_addrlen;
    memcpy(&dst, res->ai_addr, res->ai_addrlen);
    int sfamily = res->ai_family;
    if (force6 && sfamily == AF_INET) {
        struct sockaddr_in v4;
        memcpy(&v4, res->ai_addr, sizeof v4);
        struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = v4.sin_port};
        v6.sin6_addr.s6_addr[10] = 0xff;
        v6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
        memcpy(&dst, &v6, sizeof v6);
        dstlen = sizeof v6;
        sfamily = AF_INET6;
    }
    freeaddrinfo(res);

    /* The descriptors before anything of the connect's: what -s comes back to. */
    int fds_start = he_count_fds();
    if (is_epoll()) {
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0) {
            perror("epoll_create1");
            return HE_EXIT_USAGE;
        }
    }

    struct rlimit old_rl;
    static int fillers[1024];
    int nfill = 0;
    if (emfile) {
        /* The highest open fd + 2: one free number, for the socket. */
        int highest = 0;
        for (int i = 0; i < 1024; i++) {
            if (fcntl(i, F_GETFD) >= 0) {
                highest = i;
            }
        }
        getrlimit(RLIMIT_NOFILE, &old_rl);
        struct rlimit rl = {(rlim_t)highest + 2, old_rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            perror("setrlimit");
            return HE_EXIT_USAGE;
        }
        int f;
        while (nfill < 1024 && (f = open("/dev/null", O_RDONLY)) >= 0) {
            fillers[nfill++] = f;
        }
        if (nfill > 0) {
            close(fillers[--nfill]);
        }
    }

    fd = socket(sfamily, SOCK_STREAM | (use_fcntl ? 0 : SOCK_NONBLOCK), 0);
    if (fd < 0) {
        perror("socket");
        return HE_EXIT_USAGE;
    }
    if (use_fcntl && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        perror("fcntl");
        return HE_EXIT_USAGE;
    }
    if (emfile) {
        int spare = socket(AF_INET, SOCK_STREAM, 0);
        if (spare >= 0 || errno != EMFILE) {
            fprintf(stderr, "expected EMFILE for a second socket\n");
            return HE_EXIT_USAGE;
        }
        printf("emfile fd=%d\n", fd);
    }
    struct stat orig;
    fstat(fd, &orig);
    if (mode == M_EPOLLPRE) {
        epoll_add();
    }
    /* Everything the program itself holds while the connect is pending. */
    int fds_race = emfile ? -1 : he_count_fds();

    fflush(stdout);
    long t0 = he_now_ms();
    int rc = connect(fd, (struct sockaddr *)&dst, dstlen);
    int err = errno;
    print_connect("connect", rc, err);
    if (rc != 0 && err != EINPROGRESS) {
        printf("result error=%s ms=%ld\n", errname(err), he_now_ms() - t0);
        return HE_EXIT_CONNECT;
    }
    if (is_epoll() && mode != M_EPOLLPRE) {
        epoll_add();
    }

    int ready = rc == 0;
    pid_t child = -1;
    if (!ready && action != A_NONE) {
        ready = wait_ready(action_ms - (he_now_ms() - t0));
        if (ready) {
            mismatch("the socket was ready before the %s at %ld ms", action_names[action],
                     action_ms);
        }
        int nulls[8], nn = 0, t;
        switch (action) {
        case A_CLOSE:
            close(fd);
            nulls[nn++] = open("/dev/null", O_RDONLY);
            break;
        case A_DUP2:
            t = open("/dev/null", O_RDONLY);
            if (dup2(t, fd) != fd) {
                mismatch("dup2: %s", strerror(errno));
            }
            close(t);
            nulls[nn++] = fd;
            break;
        case A_CLOSE_RANGE:
            if (close_range((unsigned)fd, (unsigned)fd, 0) != 0) {
                mismatch("close_range: %s", strerror(errno));
            }
            nulls[nn++] = open("/dev/null", O_RDONLY);
            break;
        case A_CLOSEFROM:
            closefrom(fd);
            for (int i = 0; i < 4; i++) {
                nulls[nn++] = open("/dev/null", O_RDONLY);
            }
            break;
        case A_FORK:
            fflush(stdout);
            child = fork();
            if (child == 0) {
                int n = he_count_fds(), th = he_threads_now();
                printf("child fds=%d want=%d threads=%d\n", n, fds_race, th);
                fflush(stdout);
                _exit(n == fds_race && th == 1 ? 0 : NB_EXIT_CHECK);
            }
            if (child < 0) {
                perror("fork");
                return HE_EXIT_USAGE;
            }
            break;
        case A_NONE:
            break;
        }
        if (action != A_FORK) {
            printf("action %s at=%ld reused=%s\n", action_names[action], he_now_ms() - t0,
                   nulls[0] == fd ? "yes" : "no");
            fflush(stdout);
            usleep(1500000);
            int ok = 1;
            for (int i = 0; i < nn; i++) {
                ok &= check_devnull(nulls[i]);
            }
            if (is_epoll()) {
                int n = epoll_regs(fd, 1, NULL, NULL);
                printf("epoll_regs %d\n", n);
                if (n != 0) {
                    mismatch(
                        "the epoll instance still holds %d registration(s) for the closed fd %d", n,
                        fd);
                }
            }
            for (int i = 0; i < nn; i++) {
                close(nulls[i]);
            }
            if (epfd >= 0) {
                close(epfd);
            }
            int code = do_settle ? he_settle(fds_start, threads_start) : HE_EXIT_OK;
            if (!ok) {
                return NB_EXIT_CHECK;
            }
            return failed_check ? NB_EXIT_CHECK : code;
        }
    }
    if (!ready) {
        ready = wait_ready(timeout_ms - (he_now_ms() - t0));
    }
    long ms = he_now_ms() - t0;
    int code = HE_EXIT_OK;
    if (child > 0) {
        int status;
        waitpid(child, &status, 0);
        printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed_check = 1;
        }
    }

    if (!ready) {
        printf("result timeout ms=%ld\n", ms);
        code = HE_EXIT_CONNECT;
    } else {
        int soerr = -1;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
            mismatch("SO_ERROR: %s", strerror(errno));
        }
        if (soerr == 0) {
            printf("result connected ms=%ld\n", ms);
        } else {
            printf("result error=%s ms=%ld\n", errname(soerr), ms);
            code = HE_EXIT_CONNECT;
        }
        printf("so_error %s\n", soerr ? errname(soerr) : "0");
        int domain = 0;
        sl = sizeof domain;
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl);
        printf("domain %s\n", domain == AF_INET    ? "AF_INET"
                              : domain == AF_INET6 ? "AF_INET6"
                                                   : "other");
        if (domain != sfamily) {
            mismatch("SO_DOMAIN %d, the socket was made with %d", domain, sfamily);
        }
        printf("socket %s\n", same_socket(&orig) ? "same" : "replaced");

        if (is_epoll()) {
            unsigned ev = 0;
            unsigned long long data = 0;
            /* Exactly one, once whatever woke the program has settled
             * (allowing 100 ms for a registration on the old socket to
             * go). */
            long until = he_now_ms() + 100;
            while (epoll_regs(fd, 0, NULL, NULL) != 1 && he_now_ms() < until) {
                usleep(5000);
            }
            int n = epoll_regs(fd, 1, &ev, &data);
            printf("epoll_regs %d\n", n);
            /* The kernel adds EPOLLERR|EPOLLHUP to every registration, and
             * a fired EPOLLONESHOT keeps only the private bits. */
            unsigned want =
                oneshot_fired ? reg_events & NB_EP_PRIVATE : reg_events | EPOLLERR | EPOLLHUP;
            if (n != 1) {
                mismatch("%d registrations for fd %d, wanted 1", n, fd);
            } else if (ev != want || data != NB_DATA) {
                mismatch("registration events=0x%x data=0x%llx, wanted events=0x%x data=0x%llx", ev,
                         data, want, NB_DATA);
            }
        }

        if (soerr == 0 && (!(woke & EPOLLOUT) || (woke & (EPOLLERR | EPOLLHUP)))) {
            mismatch("connected, but the wait reported 0x%x, not EPOLLOUT alone", woke);
        }
        if (soerr == 0) {
            struct sockaddr_storage peer;
            socklen_t pl = sizeof peer;
            char addr[INET6_ADDRSTRLEN + 16];
            if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) {
                format_addr(&peer, addr, sizeof addr);
                printf("peer %s\n", addr);
                if (peer.ss_family != sfamily) {
                    mismatch("peer family %d, socket family %d", peer.ss_family, sfamily);
                }
            } else {
                printf("peer none errno=%s\n", errname(errno));
                mismatch("SO_ERROR 0 but getpeername: %s", strerror(errno));
            }
            rc = connect(fd, (struct sockaddr *)&dst, dstlen);
            print_connect("second_connect", rc, errno);
            rc = connect(fd, (struct sockaddr *)&dst, dstlen);
            print_connect("third_connect", rc, errno);
        } else if (keep_ms >= 0) {
            usleep((useconds_t)keep_ms * 1000);
            struct sockaddr_storage peer;
            socklen_t pl = sizeof peer;
            int same = same_socket(&orig);
            int gp = getpeername(fd, (struct sockaddr *)&peer, &pl);
            printf("after_failure %s peer=%s\n", same ? "same" : "replaced",
                   gp == 0 ? "yes" : "no");
        }

        if (is_epoll()) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = NB_DATA};
            if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0) {
                printf("epoll_mod ok\n");
            } else {
                printf("epoll_mod errno=%s\n", errname(errno));
            }
            if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) == 0) {
                printf("epoll_del ok\n");
            } else {
                printf("epoll_del errno=%s\n", errname(errno));
            }
            int n = epoll_regs(fd, 0, NULL, NULL);
            if (n != 0) {
                mismatch("%d registrations for fd %d after EPOLL_CTL_DEL", n, fd);
            }
            /* Nothing left to report: no registration of an old socket
             * (a false hang-up) lingers under the program's data. */
            struct epoll_event evs[4];
            n = epoll_wait(epfd, evs, 4, 0);
            printf("epoll_after_del events=%d\n", n);
            if (n != 0) {
                mismatch("epoll_wait reported %d event(s) after EPOLL_CTL_DEL (0x%x data=0x%llx)",
                         n, n > 0 ? evs[0].events : 0u,
                         n > 0 ? (unsigned long long)evs[0].data.u64 : 0ull);
            }
        }
        if (soerr == 0 && exchange(http) != 0) {
            code = HE_EXIT_CONNECT;
        }
    }
    fflush(stdout);
    close(fd);
    if (epfd >= 0) {
        close(epfd);
    }
    if (emfile) {
        for (int i = 0; i < nfill; i++) {
            close(fillers[i]);
        }
        setrlimit(RLIMIT_NOFILE, &old_rl);
    }
    if (do_settle) {
        int s = he_settle(fds_start, threads_start);
        if (code == HE_EXIT_OK) {
            code = s;
        }
    }
    if (failed_check) {
        return NB_EXIT_CHECK;
    }
    return code;
}

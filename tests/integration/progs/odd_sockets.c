/* odd_sockets MODE NAME PORT [ARG]
 *
 * Sockets carrying state libhe cannot reproduce on a sibling, connected to
 * NAME's first (dead) address with a 600 ms SO_SNDTIMEO.  libhe must not
 * race them: the result is the kernel's own, -1/EINPROGRESS at 600 ms, and
 * the state is still there afterwards.  Prints "result rc=R errno=E ms=M"
 * and a line about the state.  Modes:
 *   filter N   a classic BPF socket filter of N instructions is attached;
 *              prints "filter N" with the count read back after connect.
 *   rebind     the socket was left connecting by an earlier connect (to
 *              alldead.test, 300 ms SO_SNDTIMEO), disconnected with
 *              AF_UNSPEC and bound to port 45678; prints "port P", the
 *              local port after connect.
 *   resvport   bound with glibc's bindresvport (a reserved port, 512-1023,
 *              bound without calling bind(): libhe's bind hook never sees
 *              it); prints "port P".
 *   rawbind    bound to port 20001 with the bind system call itself
 *              (syscall(2), as a program without libc's bind would); a
 *              port outside the ephemeral range, as every fixed port a
 *              libhe cannot see must be (README, Limits); prints "port P". */
#define _GNU_SOURCE
#include "he_prog.h"

#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static void sndtimeo(int fd, int ms) {
    struct timeval tv = {0, ms * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void attach_filter(int fd, int n) {
    struct sock_filter insns[16];
    for (int i = 0; i < n && i < 16; i++) {
        /* n - 1 no-op loads, then "accept the whole packet". */
        insns[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0);
    }
    insns[n - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
    struct sock_fprog prog = {(unsigned short)n, insns};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
        perror("SO_ATTACH_FILTER");
        exit(HE_EXIT_USAGE);
    }
}

static void rebind(int fd, const char *port) {
    struct addrinfo *first = he_resolve("alldead.test", port, AF_INET);
    sndtimeo(fd, 300);
    connect(fd, first->ai_addr, first->ai_addrlen); /* EINPROGRESS */
    freeaddrinfo(first);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    connect(fd, &unspec, sizeof unspec);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(45678)};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
        perror("bind :45678");
        exit(HE_EXIT_USAGE);
    }
}

/* Not declared by glibc 2.36 (its RPC headers went to libtirpc), still
 * exported. */
int bindresvport(int fd, struct sockaddr_in *sin);

static void bind_unseen(int fd, int raw) {
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(20001)};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = raw ? (int)syscall(SYS_bind, fd, (struct sockaddr *)&local, sizeof local)
                 : bindresvport(fd, NULL);
    if (rc != 0) {
        perror(raw ? "bind(2) :20001" : "bindresvport");
        exit(HE_EXIT_USAGE);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s filter|rebind|resvport|rawbind NAME PORT [N]\n", argv[0]);
        return HE_EXIT_USAGE;
    }
    struct addrinfo *res = he_resolve(argv[2], argv[3], AF_INET);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int n = argc > 4 ? atoi(argv[4]) : 1;
    if (strcmp(argv[1], "filter") == 0) {
        if (n < 1 || n > 16) {
            return HE_EXIT_USAGE;
        }
        attach_filter(fd, n);
    } else if (strcmp(argv[1], "rebind") == 0) {
        rebind(fd, argv[3]);
    } else if (strcmp(argv[1], "resvport") == 0 || strcmp(argv[1], "rawbind") == 0) {
        bind_unseen(fd, argv[1][1] == 'a');
    } else {
        return HE_EXIT_USAGE;
    }
    sndtimeo(fd, 600);
    long t0 = he_now_ms();
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    int err = errno;
    printf("result rc=%d errno=%s ms=%ld\n", rc, rc ? strerrorname_np(err) : "0", he_now_ms() - t0);
    if (strcmp(argv[1], "filter") == 0) {
        socklen_t count = 0;
        getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &count);
        printf("filter %u\n", (unsigned)count);
    } else {
        struct sockaddr_in local;
        socklen_t len = sizeof local;
        getsockname(fd, (struct sockaddr *)&local, &len);
        printf("port %u\n", ntohs(local.sin_port));
    }
    close(fd);
    freeaddrinfo(res);
    return rc == 0 ? HE_EXIT_OK : HE_EXIT_CONNECT;
}

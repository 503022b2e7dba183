/* libc's own functions: the one table every module of libhe calls them
 * through, never through libhe's hooks.
 *
 * shim/real.c fills it once, lazily, on the first call that needs it, even
 * one made before libhe is set up (a close() during the program's start);
 * racer/ and resolver/ are handed it as their injected "system", so that a
 * unit test hands them a fake one.  getsockname is not hooked; it is here
 * so that a test can fake it too.
 *
 * What the racer and resolver tell the shim back goes through the small
 * struct he_fd_notes, so that this table stays libc's alone. */
#ifndef HE_LIBC_H
#define HE_LIBC_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>

struct epoll_event;

struct he_libc {
    int (*socket)(int domain, int type, int protocol);
    int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
    int (*bind)(int fd, const struct sockaddr *addr, socklen_t len);
    int (*getsockname)(int fd, struct sockaddr *addr, socklen_t *len);
    int (*getpeername)(int fd, struct sockaddr *addr, socklen_t *len);
    int (*getsockopt)(int fd, int level, int name, void *value, socklen_t *len);
    int (*setsockopt)(int fd, int level, int name, const void *value, socklen_t len);
    int (*dup)(int fd);
    int (*fcntl)(int fd, int cmd, ...);
    int (*fcntl64)(int fd, int cmd, ...);
    int (*close)(int fd);
    int (*dup2)(int oldfd, int newfd);
    int (*dup3)(int oldfd, int newfd, int flags);
    int (*close_range)(unsigned first, unsigned last, int flags);
    void (*closefrom)(int lowfd);
    int (*epoll_ctl)(int epfd, int op, int fd, struct epoll_event *ev);
    void (*_exit)(int status) __attribute__((noreturn)); /* _Exit is the same in glibc */
    int (*getaddrinfo)(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);
    void (*freeaddrinfo)(struct addrinfo *res);
    struct hostent *(*gethostbyname)(const char *name);
    struct hostent *(*gethostbyname2)(const char *name, int af);
    int (*gethostbyname_r)(const char *name, struct hostent *ret, char *buf, size_t buflen,
                           struct hostent **result, int *h_errnop);
    int (*gethostbyname2_r)(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                            struct hostent **result, int *h_errnop);
};

/* Descriptors libhe opens and closes for a blocking race on the caller's
 * thread (c-ares's sockets, inside the race's poll loop): the shim keeps
 * them on the thread's race record (racer/strand.h), so that a siglongjmp
 * out of the race leaves none behind.  Either may be NULL. */
struct he_fd_notes {
    void (*opened)(int fd);
    void (*closing)(int fd);
};

#endif

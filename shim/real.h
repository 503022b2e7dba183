/* libc's own functions, found once with dlsym(RTLD_NEXT).  libhe's code
 * calls these, never its own hooks. */
#ifndef HE_REAL_H
#define HE_REAL_H

#include <netdb.h>
#include <sys/socket.h>

struct epoll_event;

struct he_real_table {
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*close)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*close_range)(unsigned, unsigned, int);
    void (*closefrom)(int);
    int (*epoll_ctl)(int, int, int, struct epoll_event *);
    int (*getaddrinfo)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    void (*freeaddrinfo)(struct addrinfo *);
    struct hostent *(*gethostbyname)(const char *);
    struct hostent *(*gethostbyname2)(const char *, int);
    int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t, struct hostent **,
                           int *);
    int (*gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t, struct hostent **,
                            int *);
};

extern struct he_real_table he_real;

/* libc's name, for a hook that may run before libhe is set up (or while
 * it is: its set-up closes files): looked up on first use, kept in
 * *cache.  Aborts as he_real_load does. */
void *he_real_early(void **cache, const char *name, void *ours);

/* Fills he_real; aborts with a message naming the symbol if one is missing
 * or resolves to libhe itself (which would recurse forever). */
void he_real_load(void);

#endif

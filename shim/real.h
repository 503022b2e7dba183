/* libc's own functions, found once with dlsym(RTLD_NEXT).  libhe's code
 * calls these, never its own hooks. */
#ifndef HE_REAL_H
#define HE_REAL_H

#include <netdb.h>
#include <sys/socket.h>

struct he_real_table {
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*close)(int);
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

/* Fills he_real; aborts with a message naming the symbol if one is missing
 * or resolves to libhe itself (which would recurse forever). */
void he_real_load(void);

#endif

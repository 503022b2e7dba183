#include "real.h"

#include "hook.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct he_libc he_real;
int he_real_ready;

/* Stand-ins for what a libc older than 2.34 lacks, so that the table never
 * holds NULL and no caller needs a special case.  close_range: the
 * kernel's answer to a call it does not know (every caller has an ENOSYS
 * path).  closefrom: a program can only call it when its libc has it (the
 * symbol is versioned GLIBC_2.34), so this is never reached in practice;
 * it does what close_range can. */
static int he_real_no_close_range(unsigned first, unsigned last, int flags) {
    (void)first, (void)last, (void)flags;
    errno = ENOSYS;
    return -1;
}

static void he_real_no_closefrom(int lowfd) {
    if (he_real.close_range((unsigned)lowfd, ~0u, 0) != 0) {
        /* nothing closefrom could report */
    }
}

/* Never through a hook.  An optional function may be missing: NULL; any
 * other aborts, as does one that resolves to libhe's own hook. */
static void *he_real_find(const char *name, void *ours, int optional) {
    void *p = dlsym(RTLD_NEXT, name);
    if ((p == NULL && !optional) || (p != NULL && p == ours)) {
        char msg[256];
        int n = snprintf(msg, sizeof msg, "libhe[%d] error: cannot find libc's %s (%s); aborting\n",
                         (int)getpid(), name, p ? "found libhe's own hook" : "dlsym failed");
        if (write(2, msg, (size_t)n) < 0) {
            /* nothing more can be said */
        }
        abort();
    }
    return p;
}

/* Each field is stored atomically: should two threads ever fill it at once
 * (both before the constructor ran), they store the same values. */
#define HE_REAL_FIND(name, ours, optional)                                                         \
    __atomic_store_n(&he_real.name, (__typeof__(he_real.name))he_real_find(#name, ours, optional), \
                     __ATOMIC_RELAXED)
#define HE_REAL(name, ours) HE_REAL_FIND(name, ours, 0)
#define HE_REAL_OPTIONAL(name, ours, standin)                                                      \
    do {                                                                                           \
        HE_REAL_FIND(name, ours, 1);                                                               \
        if (__atomic_load_n(&he_real.name, __ATOMIC_RELAXED) == NULL) {                            \
            __atomic_store_n(&he_real.name, standin, __ATOMIC_RELAXED);                            \
        }                                                                                          \
    } while (0)

static void he_real_fill_all(void) {
    HE_REAL(socket, (void *)socket);
    HE_REAL(connect, (void *)connect);
    HE_REAL(bind, (void *)bind);
    HE_REAL(getsockname, NULL);
    HE_REAL(getpeername, (void *)getpeername);
    HE_REAL(getsockopt, (void *)getsockopt);
    HE_REAL(setsockopt, (void *)setsockopt);
    HE_REAL(dup, (void *)dup);
    HE_REAL(fcntl, (void *)fcntl);
    HE_REAL_OPTIONAL(fcntl64, (void *)fcntl64, he_real.fcntl);
    HE_REAL(close, (void *)close);
    HE_REAL(dup2, (void *)dup2);
    HE_REAL(dup3, (void *)dup3);
    HE_REAL_OPTIONAL(close_range, (void *)close_range, he_real_no_close_range);
    HE_REAL_OPTIONAL(closefrom, (void *)closefrom, he_real_no_closefrom);
    HE_REAL(epoll_ctl, (void *)epoll_ctl);
    HE_REAL(_exit, (void *)_exit);
    HE_REAL(getaddrinfo, (void *)getaddrinfo);
    HE_REAL(freeaddrinfo, (void *)freeaddrinfo);
    HE_REAL(gethostbyname, (void *)gethostbyname);
    HE_REAL(gethostbyname2, (void *)gethostbyname2);
    HE_REAL(gethostbyname_r, (void *)gethostbyname_r);
    HE_REAL(gethostbyname2_r, (void *)gethostbyname2_r);
}

const struct he_libc *he_real_fill(void) {
    he_real_fill_all();
    __atomic_store_n(&he_real_ready, 1, __ATOMIC_RELEASE);
    return &he_real;
}

__attribute__((constructor)) static void he_real_at_load(void) {
    he_real_fill();
}

#include "real.h"

#include "hook.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct he_real_table he_real;

/* Never through a hook. */
static void *he_real_find(const char *name, void *ours) {
    void *p = dlsym(RTLD_NEXT, name);
    if (p == NULL || p == ours) {
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

#define HE_REAL(name, ours) (he_real.name = (__typeof__(he_real.name))he_real_find(#name, ours))

void he_real_load(void) {
    HE_REAL(connect, (void *)connect);
    HE_REAL(bind, (void *)bind);
    HE_REAL(close, (void *)close);
    HE_REAL(dup2, (void *)dup2);
    HE_REAL(dup3, (void *)dup3);
    HE_REAL(close_range, (void *)close_range);
    HE_REAL(closefrom, (void *)closefrom);
    HE_REAL(epoll_ctl, (void *)epoll_ctl);
    HE_REAL(getaddrinfo, (void *)getaddrinfo);
    HE_REAL(freeaddrinfo, (void *)freeaddrinfo);
    HE_REAL(gethostbyname, (void *)gethostbyname);
    HE_REAL(gethostbyname2, (void *)gethostbyname2);
    HE_REAL(gethostbyname_r, (void *)gethostbyname_r);
    HE_REAL(gethostbyname2_r, (void *)gethostbyname2_r);
}

void *he_real_early(void **cache, const char *name, void *ours) {
    void *p = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (p == NULL) {
        p = he_real_find(name, ours);
        __atomic_store_n(cache, p, __ATOMIC_RELEASE);
    }
    return p;
}

/* getaddrinfo(3) and freeaddrinfo(3): the program gets libc's answer, or
 * libhe's own built the same way (HE_HOSTS, HE_RESOLVE=cares:
 * shim/lookup.c); libhe remembers which addresses the name gave. */
#include "hook.h"

#include "../resolver/learn.h"
#include "lookup.h"

#include <errno.h>

HE_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                          struct addrinfo **res) {
    int active = he_init() && !HE_HOOK_NESTED() && !he_dns_busy;
    if (active) {
        int saved = errno;
        int eai;
        if (he_lookup_getaddrinfo(node, service, hints, res, &eai) != HE_LOOKUP_PASS) {
            errno = saved;
            return eai;
        }
        errno = saved;
    }
    int rc = he_real.getaddrinfo(node, service, hints, res);
    if (active && rc == 0) {
        int saved = errno; /* EAI_SYSTEM callers read errno */
        he_learn_addrinfo(he_memo, node, hints, *res, he_thread_id(), he_map_expiry());
        errno = saved;
    }
    return rc;
}

HE_EXPORT void freeaddrinfo(struct addrinfo *res) {
    he_init();
    he_real.freeaddrinfo(res);
}

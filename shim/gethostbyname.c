/* gethostbyname(3) and its variants: the program gets exactly libc's
 * answer; libhe remembers the addresses the name gave. */
#include "hook.h"

#include "../resolver/learn.h"

#include <errno.h>

static void he_gethostbyname_learn(const char *name, const struct hostent *h) {
    int saved = errno;
    he_learn_hostent(he_memo, name, h, he_thread_id(), he_map_expiry());
    errno = saved;
}

HE_EXPORT struct hostent *gethostbyname(const char *name) {
    int active = he_init() && !HE_HOOK_NESTED();
    struct hostent *h = he_real.gethostbyname(name);
    if (active && h) {
        he_gethostbyname_learn(name, h);
    }
    return h;
}

HE_EXPORT struct hostent *gethostbyname2(const char *name, int af) {
    int active = he_init() && !HE_HOOK_NESTED();
    struct hostent *h = he_real.gethostbyname2(name, af);
    if (active && h) {
        he_gethostbyname_learn(name, h);
    }
    return h;
}

HE_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                              struct hostent **result, int *h_errnop) {
    int active = he_init() && !HE_HOOK_NESTED();
    int rc = he_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
    if (active && rc == 0 && result && *result) {
        he_gethostbyname_learn(name, *result);
    }
    return rc;
}

HE_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                               size_t buflen, struct hostent **result, int *h_errnop) {
    int active = he_init() && !HE_HOOK_NESTED();
    int rc = he_real.gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
    if (active && rc == 0 && result && *result) {
        he_gethostbyname_learn(name, *result);
    }
    return rc;
}

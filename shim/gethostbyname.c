/* gethostbyname(3) and its variants: the program gets libc's answer, or
 * libhe's own (HE_HOSTS, HE_RESOLVE=cares: shim/lookup.c); libhe remembers
 * the addresses the name gave. */
#include "hook.h"

#include "../resolver/learn.h"
#include "lookup.h"

#include <errno.h>

static void he_gethostbyname_learn(const char *name, const struct hostent *h) {
    int saved = errno;
    he_learn_hostent(he_memo, name, h, he_thread_id(), he_map_expiry());
    errno = saved;
}

static int he_gethostbyname_active(void) {
    return he_init() && !HE_HOOK_NESTED() && !he_dns_busy;
}

/* The non-reentrant calls' answers, one per thread (glibc's are one per
 * process). */
static __thread struct hostent he_gethostbyname_ent;
static __thread char he_gethostbyname_buf[4096];

static struct hostent *he_gethostbyname_own(const char *name, int af) {
    struct hostent *res = NULL;
    int herr = 0, saved = errno;
    int rc = he_lookup_hostent(name, af, &he_gethostbyname_ent, he_gethostbyname_buf,
                               sizeof he_gethostbyname_buf, &res, &herr);
    errno = saved;
    if (rc == 0 && res) {
        h_errno = 0;
        return res;
    }
    return NULL; /* an answer that does not fit: libc's */
}

HE_EXPORT struct hostent *gethostbyname(const char *name) {
    int active = he_gethostbyname_active();
    struct hostent *h = active ? he_gethostbyname_own(name, AF_INET) : NULL;
    if (h) {
        return h;
    }
    h = he_real.gethostbyname(name);
    if (active && h) {
        he_gethostbyname_learn(name, h);
    }
    return h;
}

HE_EXPORT struct hostent *gethostbyname2(const char *name, int af) {
    int active = he_gethostbyname_active();
    struct hostent *h = active ? he_gethostbyname_own(name, af) : NULL;
    if (h) {
        return h;
    }
    h = he_real.gethostbyname2(name, af);
    if (active && h) {
        he_gethostbyname_learn(name, h);
    }
    return h;
}

HE_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                              struct hostent **result, int *h_errnop) {
    int active = he_gethostbyname_active();
    if (active) {
        int saved = errno;
        int own = he_lookup_hostent(name, AF_INET, ret, buf, buflen, result, h_errnop);
        errno = saved;
        if (own != HE_LOOKUP_PASS) {
            return own;
        }
    }
    int rc = he_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
    if (active && rc == 0 && result && *result) {
        he_gethostbyname_learn(name, *result);
    }
    return rc;
}

HE_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                               size_t buflen, struct hostent **result, int *h_errnop) {
    int active = he_gethostbyname_active();
    if (active) {
        int saved = errno;
        int own = he_lookup_hostent(name, af, ret, buf, buflen, result, h_errnop);
        errno = saved;
        if (own != HE_LOOKUP_PASS) {
            return own;
        }
    }
    int rc = he_real.gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
    if (active && rc == 0 && result && *result) {
        he_gethostbyname_learn(name, *result);
    }
    return rc;
}

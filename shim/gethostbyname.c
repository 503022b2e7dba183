/* gethostbyname(3) and its variants: the program gets libc's answer, or
 * libhe's own (HE_HOSTS, HE_RESOLVE=cares: shim/lookup.c); libhe remembers
 * the addresses the name gave. */
#include "hook.h"

#include "../resolver/learn.h"
#include "lookup.h"

#include <errno.h>

/* Remembers what libc answered, when libhe is active and there is an
 * answer. */
static void he_gethostbyname_learn(int active, const char *name, const struct hostent *h) {
    if (active && h) {
        int saved = errno;
        he_learn_hostent(he_memo, name, h, he_thread_id(), he_map_expiry());
        errno = saved;
    }
}

static int he_gethostbyname_active(void) {
    return he_init() && !HE_HOOK_NESTED() && !he_dns_busy;
}

/* libhe's own answer (shim/lookup.c), with *rc what gethostbyname2_r
 * returns, or PASS; errno is left as it was. */
static enum he_lookup_status he_gethostbyname_own_r(int active, const char *name, int af,
                                                    struct hostent *ret, char *buf, size_t buflen,
                                                    struct hostent **result, int *h_errnop,
                                                    int *rc) {
    if (!active) {
        return HE_LOOKUP_PASS;
    }
    int saved = errno;
    enum he_lookup_status own = he_lookup_hostent(name, af, ret, buf, buflen, result, h_errnop, rc);
    errno = saved;
    return own;
}

/* The non-reentrant calls' answers, one per thread (glibc's are one per
 * process). */
static __thread struct hostent he_gethostbyname_ent;
static __thread char he_gethostbyname_buf[4096];

/* libhe's own answer for gethostbyname/gethostbyname2, or NULL: libc's (an
 * answer that does not fit the buffer included). */
static struct hostent *he_gethostbyname_own(int active, const char *name, int af) {
    struct hostent *res = NULL;
    int herr = 0;
    int rc = 0;
    enum he_lookup_status own =
        he_gethostbyname_own_r(active, name, af, &he_gethostbyname_ent, he_gethostbyname_buf,
                               sizeof he_gethostbyname_buf, &res, &herr, &rc);
    if (own == HE_LOOKUP_ANSWERED && res) {
        h_errno = 0;
        return res;
    }
    return NULL;
}

HE_EXPORT struct hostent *gethostbyname(const char *name) {
    int active = he_gethostbyname_active();
    struct hostent *h = he_gethostbyname_own(active, name, AF_INET);
    if (h == NULL) {
        h = he_real.gethostbyname(name);
        he_gethostbyname_learn(active, name, h);
    }
    return h;
}

HE_EXPORT struct hostent *gethostbyname2(const char *name, int af) {
    int active = he_gethostbyname_active();
    struct hostent *h = he_gethostbyname_own(active, name, af);
    if (h == NULL) {
        h = he_real.gethostbyname2(name, af);
        he_gethostbyname_learn(active, name, h);
    }
    return h;
}

HE_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                              struct hostent **result, int *h_errnop) {
    int active = he_gethostbyname_active();
    int rc = 0;
    if (he_gethostbyname_own_r(active, name, AF_INET, ret, buf, buflen, result, h_errnop, &rc) ==
        HE_LOOKUP_PASS) {
        rc = he_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
        he_gethostbyname_learn(active, name, rc == 0 && result ? *result : NULL);
    }
    return rc;
}

HE_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                               size_t buflen, struct hostent **result, int *h_errnop) {
    int active = he_gethostbyname_active();
    int rc = 0;
    if (he_gethostbyname_own_r(active, name, af, ret, buf, buflen, result, h_errnop, &rc) ==
        HE_LOOKUP_PASS) {
        rc = he_real.gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
        he_gethostbyname_learn(active, name, rc == 0 && result ? *result : NULL);
    }
    return rc;
}

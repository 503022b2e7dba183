#include "learn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

int he_learn_is_numeric(const char *node) {
    char buf[INET6_ADDRSTRLEN + 1];
    struct in6_addr a6;
    struct in_addr a4;
    /* inet_aton also takes the old forms getaddrinfo accepts: 127.1, 0x7f.1 */
    if (inet_aton(node, &a4)) {
        return 1;
    }
    size_t len = strcspn(node, "%");
    if (len >= sizeof buf) {
        return 0;
    }
    memcpy(buf, node, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, &a6) == 1;
}

static int he_learn_fam_mask(int family) {
    switch (family) {
    case AF_INET:
        return HE_MEMO_FAM_V4;
    case AF_INET6:
        return HE_MEMO_FAM_V6;
    default:
        return HE_MEMO_FAM_ALL;
    }
}

int he_learn_addrinfo(struct he_memo *m, const char *node, const struct addrinfo *hints,
                      const struct addrinfo *res, uint64_t who, int64_t expires_ms) {
    if (node == NULL || (hints && (hints->ai_flags & AI_NUMERICHOST)) ||
        he_learn_is_numeric(node)) {
        return 0;
    }
    struct he_addr addrs[HE_MEMO_MAX_ADDRS];
    int n = 0;
    for (const struct addrinfo *ai = res; ai && n < HE_MEMO_MAX_ADDRS; ai = ai->ai_next) {
        /* One address comes back once per socket type; keep it once. */
        struct he_addr a;
        if (he_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen) != 0) {
            continue;
        }
        int seen = 0;
        for (int i = 0; i < n && !seen; i++) {
            seen = he_addr_equal(&addrs[i], &a);
        }
        if (!seen) {
            addrs[n++] = a;
        }
    }
    if (n == 0) {
        return 0;
    }
    int mask = he_learn_fam_mask(hints ? hints->ai_family : AF_UNSPEC);
    return he_memo_learn(m, node, mask, addrs, n, who, expires_ms);
}

int he_learn_hostent(struct he_memo *m, const char *name, const struct hostent *h, uint64_t who,
                     int64_t expires_ms) {
    if (name == NULL || h == NULL || he_learn_is_numeric(name)) {
        return 0;
    }
    if (h->h_addrtype != AF_INET && h->h_addrtype != AF_INET6) {
        return 0;
    }
    size_t alen = h->h_addrtype == AF_INET ? 4 : 16;
    if ((size_t)h->h_length != alen) {
        return -EINVAL;
    }
    struct he_addr addrs[HE_MEMO_MAX_ADDRS];
    int n = 0;
    for (char **p = h->h_addr_list; p && *p && n < HE_MEMO_MAX_ADDRS; p++) {
        /* Through a sockaddr, so that ::ffff:a.b.c.d becomes IPv4 as it
         * does for getaddrinfo answers and for connect(). */
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        socklen_t len;
        if (h->h_addrtype == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            sin->sin_family = AF_INET;
            memcpy(&sin->sin_addr, *p, alen);
            len = sizeof *sin;
        } else {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            sin6->sin6_family = AF_INET6;
            memcpy(&sin6->sin6_addr, *p, alen);
            len = sizeof *sin6;
        }
        if (he_addr_from_sockaddr(&addrs[n], (struct sockaddr *)&ss, len) == 0) {
            n++;
        }
    }
    if (n == 0) {
        return 0;
    }
    return he_memo_learn(m, name, he_learn_fam_mask(h->h_addrtype), addrs, n, who, expires_ms);
}

#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t he_v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int he_addr_from_sockaddr(struct he_addr *out, const struct sockaddr *sa, socklen_t len) {
    memset(out, 0, sizeof *out);
    if (sa == NULL || len < (socklen_t)sizeof(sa_family_t)) {
        return -EINVAL;
    }
    if (sa->sa_family == AF_INET) {
        if (len < (socklen_t)sizeof(struct sockaddr_in)) {
            return -EINVAL;
        }
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        out->family = AF_INET;
        memcpy(out->bytes, &sin->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        if (len < (socklen_t)sizeof(struct sockaddr_in6)) {
            return -EINVAL;
        }
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        if (memcmp(sin6->sin6_addr.s6_addr, he_v4mapped_prefix, 12) == 0) {
            out->family = AF_INET;
            memcpy(out->bytes, sin6->sin6_addr.s6_addr + 12, 4);
            return 0;
        }
        out->family = AF_INET6;
        out->scope = sin6->sin6_scope_id;
        memcpy(out->bytes, sin6->sin6_addr.s6_addr, 16);
        return 0;
    }
    return -EAFNOSUPPORT;
}

socklen_t he_addr_to_sockaddr(const struct he_addr *a, int sock_family, in_port_t port,
                              struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (sock_family == AF_INET) {
        if (a->family != AF_INET) {
            return 0;
        }
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        sin->sin_family = AF_INET;
        sin->sin_port = port;
        memcpy(&sin->sin_addr, a->bytes, 4);
        return sizeof *sin;
    }
    if (sock_family != AF_INET6) {
        return 0;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = port;
    if (a->family == AF_INET) {
        memcpy(sin6->sin6_addr.s6_addr, he_v4mapped_prefix, 12);
        memcpy(sin6->sin6_addr.s6_addr + 12, a->bytes, 4);
    } else {
        memcpy(sin6->sin6_addr.s6_addr, a->bytes, 16);
        sin6->sin6_scope_id = a->scope;
    }
    return sizeof *sin6;
}

in_port_t he_sockaddr_port(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        return ((const struct sockaddr_in *)sa)->sin_port;
    }
    return ((const struct sockaddr_in6 *)sa)->sin6_port;
}

void he_sockaddr_set_port(struct sockaddr *sa, in_port_t port) {
    if (sa->sa_family == AF_INET) {
        ((struct sockaddr_in *)sa)->sin_port = port;
    } else {
        ((struct sockaddr_in6 *)sa)->sin6_port = port;
    }
}

int he_addr_is_loopback(const struct he_addr *a) {
    static const uint8_t v6lo[16] = {[15] = 1};
    if (a->family == AF_INET) {
        return a->bytes[0] == 127;
    }
    return a->family == AF_INET6 && memcmp(a->bytes, v6lo, sizeof v6lo) == 0;
}

int he_addr_equal(const struct he_addr *a, const struct he_addr *b) {
    return a->family == b->family && a->scope == b->scope && memcmp(a->bytes, b->bytes, 16) == 0;
}

/* Combines the three 8-byte words of the address (family and scope, then
 * the 16 bytes), then avalanches the sum with MurmurHash3's 64-bit
 * finaliser: the bits that vary (the last bytes of an IPv6 address sit at
 * the top of a word) must reach the low bits a table index uses. */
uint32_t he_addr_hash(const struct he_addr *a) {
    uint64_t w[3];
    _Static_assert(sizeof w == sizeof *a, "struct he_addr is three words");
    memcpy(w, a, sizeof w);
    uint64_t h =
        w[0] * 0x9e3779b97f4a7c15ull + w[1] * 0xc2b2ae3d27d4eb4full + w[2] * 0x165667b19e3779f9ull;
    return (uint32_t)he_mix64(h);
}

const char *he_addr_format(const struct he_addr *a, char *buf, size_t len) {
    char tmp[INET6_ADDRSTRLEN];
    if (inet_ntop(a->family, a->bytes, tmp, sizeof tmp) == NULL) {
        snprintf(buf, len, "?");
        return buf;
    }
    if (a->family == AF_INET6 && a->scope != 0) {
        snprintf(buf, len, "%s%%%u", tmp, a->scope);
    } else {
        snprintf(buf, len, "%s", tmp);
    }
    return buf;
}

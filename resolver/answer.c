#include "answer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Socket types and services                                                  */

#define HE_PROTO_NOSERVICE 1 /* glibc's GAI_PROTO_NOSERVICE */
#define HE_PROTO_ANY 2       /* GAI_PROTO_PROTOANY: the hints' protocol is taken */

/* glibc's gaih_inet_typeproto, as Debian 12's build has it (DCCP, UDP-Lite
 * and SCTP defined). */
static const struct he_answer_proto {
    int socktype;
    int protocol;
    int flags;
    int dflt; /* returned when the hints name no socket type or protocol */
    const char *name;
} he_answer_protos[] = {
    {SOCK_STREAM, IPPROTO_TCP, 0, 1, "tcp"},
    {SOCK_DGRAM, IPPROTO_UDP, 0, 1, "udp"},
    {SOCK_DCCP, IPPROTO_DCCP, 0, 0, "dccp"},
    {SOCK_DGRAM, IPPROTO_UDPLITE, 0, 0, "udplite"},
    {SOCK_STREAM, IPPROTO_SCTP, 0, 0, "sctp"},
    {SOCK_SEQPACKET, IPPROTO_SCTP, 0, 0, "sctp"},
    {SOCK_RAW, 0, HE_PROTO_ANY | HE_PROTO_NOSERVICE, 1, "raw"},
};

#define HE_NPROTOS ((int)(sizeof he_answer_protos / sizeof he_answer_protos[0]))

static const struct addrinfo he_answer_default_hints = {.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG};

static int he_answer_proto_matches(const struct he_answer_proto *tp, const struct addrinfo *req) {
    return (req->ai_socktype == 0 || req->ai_socktype == tp->socktype) &&
           (req->ai_protocol == 0 || (tp->flags & HE_PROTO_ANY) ||
            req->ai_protocol == tp->protocol);
}

static int he_answer_protocol_of(const struct he_answer_proto *tp, const struct addrinfo *req) {
    return (tp->flags & HE_PROTO_ANY) ? req->ai_protocol : tp->protocol;
}

/* glibc's gaih_inet_serv: the port of a service name for one protocol.
 * Returns 0, EAI_SERVICE or EAI_MEMORY. */
static int he_answer_service_port(const char *service, const struct he_answer_proto *tp,
                                  in_port_t *port) {
    size_t len = 1024;
    for (;;) {
        char *buf = malloc(len);
        if (buf == NULL) {
            return EAI_MEMORY;
        }
        struct servent se, *s = NULL;
        int r = getservbyname_r(service, tp->name, &se, buf, len, &s);
        if (r == 0 && s != NULL) {
            *port = (in_port_t)s->s_port;
            free(buf);
            return 0;
        }
        free(buf);
        if (r != ERANGE) {
            return EAI_SERVICE;
        }
        len *= 2;
    }
}

static void he_answer_add_serv(struct he_answer_plan *plan, int socktype, int protocol,
                               in_port_t port) {
    plan->serv[plan->nserv].socktype = socktype;
    plan->serv[plan->nserv].protocol = protocol;
    plan->serv[plan->nserv].port = port;
    plan->nserv++;
}

/* glibc's get_servtuples.  tp is the table entry the hints chose (NULL for
 * none); num is the service's number, -1 for a name, or there is none. */
static int he_answer_servtuples(const struct addrinfo *req, const char *service, long num,
                                const struct he_answer_proto *tp, struct he_answer_plan *plan) {
    if (service != NULL && tp != NULL && (tp->flags & HE_PROTO_NOSERVICE)) {
        return EAI_SERVICE;
    }
    if (service == NULL || num >= 0) {
        in_port_t port = service != NULL ? htons((uint16_t)num) : 0;
        if (tp != NULL) {
            he_answer_add_serv(plan, tp->socktype, he_answer_protocol_of(tp, req), port);
            return 0;
        }
        for (int i = 0; i < HE_NPROTOS; i++) {
            if (he_answer_protos[i].dflt) {
                he_answer_add_serv(plan, he_answer_protos[i].socktype, he_answer_protos[i].protocol,
                                   port);
            }
        }
        return 0;
    }
    if (tp != NULL) {
        in_port_t port;
        int rc = he_answer_service_port(service, tp, &port);
        if (rc == 0) {
            he_answer_add_serv(plan, tp->socktype, he_answer_protocol_of(tp, req), port);
        }
        return rc;
    }
    /* No socket type or protocol: every protocol that knows the name. */
    for (int i = 0; i < HE_NPROTOS; i++) {
        const struct he_answer_proto *p = &he_answer_protos[i];
        in_port_t port;
        if ((p->flags & HE_PROTO_NOSERVICE) || he_answer_service_port(service, p, &port) != 0) {
            continue;
        }
        he_answer_add_serv(plan, p->socktype, p->protocol, port);
    }
    return plan->nserv > 0 ? 0 : EAI_SERVICE;
}

int he_answer_plan(const struct addrinfo *hints, const char *service, struct he_answer_plan *plan) {
    memset(plan, 0, sizeof *plan);
    if (service != NULL && service[0] == '*' && service[1] == '\0') {
        service = NULL;
    }
    if (service != NULL && service[0] == '\0') {
        service = NULL;
    }
    if (hints == NULL) {
        hints = &he_answer_default_hints;
    }
    /* 0x300: the former AI_IDN_ALLOW_UNASSIGNED and AI_IDN_USE_STD3_ASCII_RULES,
     * still accepted and ignored */
    const int known = AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_ADDRCONFIG | AI_V4MAPPED |
                      AI_IDN | AI_CANONIDN | 0x300 | AI_NUMERICSERV | AI_ALL;
    if (hints->ai_flags & ~known) {
        return EAI_BADFLAGS;
    }
    if (hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET &&
        hints->ai_family != AF_INET6) {
        return EAI_FAMILY;
    }
    plan->flags = hints->ai_flags;
    plan->family = hints->ai_family;
    long num = -1;
    if (service != NULL) {
        /* strtoul, then truncated to int as glibc stores it: "70000" is port
         * 4464, " 80" and "+80" are 80, "-1" is not a number. */
        char *end;
        num = (int)strtoul(service, &end, 10);
        if (*end != '\0') {
            if (hints->ai_flags & AI_NUMERICSERV) {
                return EAI_NONAME;
            }
            num = -1;
        }
    }
    const struct he_answer_proto *tp = NULL;
    if (hints->ai_socktype != 0 || hints->ai_protocol != 0) {
        for (int i = 0; i < HE_NPROTOS && tp == NULL; i++) {
            if (he_answer_proto_matches(&he_answer_protos[i], hints)) {
                tp = &he_answer_protos[i];
            }
        }
        if (tp == NULL) {
            return hints->ai_socktype != 0 ? EAI_SOCKTYPE : EAI_SERVICE;
        }
    }
    return he_answer_servtuples(hints, service, num, tp, plan);
}

/* ------------------------------------------------------------------------ */
/* Addresses                                                                  */

static int he_answer_is_mapped(const struct he_addr *a) {
    static const uint8_t prefix[12] = {[10] = 0xff, [11] = 0xff};
    return a->family == AF_INET6 && memcmp(a->bytes, prefix, 12) == 0;
}

static struct he_addr he_answer_mapped(const struct he_addr *v4) {
    struct he_addr m;
    memset(&m, 0, sizeof m);
    m.family = AF_INET6;
    m.bytes[10] = m.bytes[11] = 0xff;
    memcpy(m.bytes + 12, v4->bytes, 4);
    return m;
}

int he_answer_select(const struct he_addr *in, int n, const struct he_answer_plan *plan,
                     struct he_addr *out) {
    int k = 0;
    if (plan->family == AF_UNSPEC) {
        for (int i = 0; i < n; i++) {
            out[k++] = in[i];
        }
        return k;
    }
    if (plan->family == AF_INET) {
        for (int i = 0; i < n; i++) {
            if (in[i].family == AF_INET) {
                out[k++] = in[i];
            }
        }
        return k;
    }
    int v4mapped_only = (plan->flags & (AI_V4MAPPED | AI_ALL)) == AI_V4MAPPED;
    int got_ipv6 = 0;
    for (int i = 0; i < n; i++) {
        if (in[i].family != AF_INET6) {
            continue;
        }
        got_ipv6 = 1;
        /* generate_addrinfo drops v4-mapped answers when it has IPv6 ones
         * and the caller wants IPv4 only in their absence. */
        if (!(v4mapped_only && he_answer_is_mapped(&in[i]))) {
            out[k++] = in[i];
        }
    }
    if ((plan->flags & AI_V4MAPPED) && ((plan->flags & AI_ALL) || !got_ipv6)) {
        for (int i = 0; i < n; i++) {
            if (in[i].family == AF_INET) {
                out[k++] = he_answer_mapped(&in[i]);
            }
        }
    }
    return k;
}

static struct addrinfo *he_answer_entry(const struct he_addr *a, const struct he_answer_serv *st,
                                        int flags) {
    size_t socklen =
        a->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    /* One block, as glibc allocates it: freeaddrinfo frees ai alone. */
    struct addrinfo *ai = malloc(sizeof *ai + socklen);
    if (ai == NULL) {
        return NULL;
    }
    memset(ai, 0, sizeof *ai + socklen);
    ai->ai_flags = flags;
    ai->ai_family = a->family;
    ai->ai_socktype = st->socktype;
    ai->ai_protocol = st->protocol;
    ai->ai_addrlen = (socklen_t)socklen;
    ai->ai_addr = (struct sockaddr *)(ai + 1);
    if (a->family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ai->ai_addr;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = st->port;
        memcpy(&sin6->sin6_addr, a->bytes, 16);
        sin6->sin6_scope_id = a->scope;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;
        sin->sin_family = AF_INET;
        sin->sin_port = st->port;
        memcpy(&sin->sin_addr, a->bytes, 4);
    }
    return ai;
}

static void he_answer_free(struct addrinfo *ai) {
    while (ai != NULL) {
        struct addrinfo *next = ai->ai_next;
        free(ai->ai_canonname);
        free(ai);
        ai = next;
    }
}

int he_answer_build(const struct he_addr *addrs, int n, const struct he_answer_plan *plan,
                    struct addrinfo **out) {
    *out = NULL;
    if (n <= 0) {
        return EAI_NONAME;
    }
    struct addrinfo *head = NULL, **tail = &head;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < plan->nserv; j++) {
            struct addrinfo *ai = he_answer_entry(&addrs[i], &plan->serv[j], plan->flags);
            if (ai == NULL) {
                he_answer_free(head);
                return EAI_MEMORY;
            }
            *tail = ai;
            tail = &ai->ai_next;
        }
    }
    *out = head;
    return 0;
}

int he_answer_addrinfo(const struct he_addr *addrs, int n, const struct addrinfo *hints,
                       const char *service, struct addrinfo **out) {
    *out = NULL;
    struct he_answer_plan plan;
    int rc = he_answer_plan(hints, service, &plan);
    if (rc != 0) {
        return rc;
    }
    if (n <= 0) {
        return EAI_NONAME;
    }
    struct he_addr *sel = malloc((size_t)n * sizeof *sel);
    if (sel == NULL) {
        return EAI_MEMORY;
    }
    int k = he_answer_select(addrs, n, &plan, sel);
    rc = k > 0 ? he_answer_build(sel, k, &plan, out) : EAI_NODATA;
    free(sel);
    return rc;
}

int he_answer_canonname(struct addrinfo *res, const char *canon) {
    if (res == NULL) {
        return 0;
    }
    char *copy = strdup(canon);
    if (copy == NULL) {
        return EAI_MEMORY;
    }
    free(res->ai_canonname);
    res->ai_canonname = copy;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* hostent                                                                    */

/* Room from buf + *used for size bytes aligned to align (relative to the
 * address, as glibc's alloc_buffer aligns): returns the offset or -1. */
static long he_answer_take(const char *buf, size_t buflen, size_t *used, size_t size,
                           size_t align) {
    uintptr_t at = (uintptr_t)buf + *used;
    size_t pad = (align - at % align) % align;
    if (pad > buflen - *used || size > buflen - *used - pad) {
        return -1;
    }
    long off = (long)(*used + pad);
    *used += pad + size;
    return off;
}

/* Where each part of a hostent goes in buf, in nss_dns's order: the names
 * as the answer gave them, each address (4-aligned), h_addr_list, then
 * h_aliases (nnames slots: the names but the last, and the NULL). */
struct he_answer_layout {
    long name_off[HE_ANSWER_MAX_NAMES];
    long first_addr, list_off, alias_off;
};

/* Places nnames names and count addresses of alen bytes.  Returns 0, or
 * -ERANGE when buf is too small. */
static int he_answer_hostent_place(const char *const *names, int nnames, int count, size_t alen,
                                   const char *buf, size_t buflen, struct he_answer_layout *lay) {
    size_t used = 0;
    for (int i = 0; i < nnames; i++) {
        lay->name_off[i] = he_answer_take(buf, buflen, &used, strlen(names[i]) + 1, 1);
        if (lay->name_off[i] < 0) {
            return -ERANGE;
        }
    }
    lay->first_addr = -1;
    for (int i = 0; i < count; i++) {
        long off = he_answer_take(buf, buflen, &used, alen, _Alignof(uint32_t));
        if (off < 0) {
            return -ERANGE;
        }
        lay->first_addr = lay->first_addr < 0 ? off : lay->first_addr;
    }
    lay->list_off =
        he_answer_take(buf, buflen, &used, (size_t)(count + 1) * sizeof(char *), _Alignof(char *));
    lay->alias_off =
        lay->list_off < 0
            ? -1
            : he_answer_take(buf, buflen, &used, (size_t)nnames * sizeof(char *), _Alignof(char *));
    return lay->list_off < 0 || lay->alias_off < 0 ? -ERANGE : 0;
}

/* Writes the names, the family's addresses and the two lists where lay
 * placed them, and points he at them. */
static void he_answer_hostent_fill(const char *const *names, int nnames,
                                   const struct he_addr *addrs, int n, int family, size_t alen,
                                   const struct he_answer_layout *lay, struct hostent *he,
                                   char *buf) {
    for (int i = 0; i < nnames; i++) {
        memcpy(buf + lay->name_off[i], names[i], strlen(names[i]) + 1);
    }
    char **list = (char **)(void *)(buf + lay->list_off);
    /* alen is a multiple of 4, so the addresses sit back to back. */
    char *p = buf + lay->first_addr;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (addrs[i].family == family) {
            memcpy(p, addrs[i].bytes, alen);
            list[k++] = p;
            p += alen;
        }
    }
    list[k] = NULL;
    char **aliases = (char **)(void *)(buf + lay->alias_off);
    for (int i = 0; i < nnames - 1; i++) {
        aliases[i] = buf + lay->name_off[i];
    }
    aliases[nnames - 1] = NULL;
    he->h_name = buf + lay->name_off[nnames - 1];
    he->h_aliases = aliases;
    he->h_addrtype = family;
    he->h_length = (int)alen;
    he->h_addr_list = list;
}

int he_answer_hostent_chain(const char *const *names, int nnames, const struct he_addr *addrs,
                            int n, int family, struct hostent *he, char *buf, size_t buflen) {
    if (family != AF_INET && family != AF_INET6) {
        return -EAFNOSUPPORT;
    }
    if (nnames < 1 || nnames > HE_ANSWER_MAX_NAMES) {
        return -EINVAL;
    }
    size_t alen = family == AF_INET ? 4 : 16;
    int count = 0;
    for (int i = 0; i < n; i++) {
        count += addrs[i].family == family;
    }
    if (count == 0) {
        return -ENOENT;
    }
    struct he_answer_layout lay;
    if (he_answer_hostent_place(names, nnames, count, alen, buf, buflen, &lay) != 0) {
        return -ERANGE;
    }
    he_answer_hostent_fill(names, nnames, addrs, n, family, alen, &lay, he, buf);
    return 0;
}

int he_answer_hostent(const char *name, const struct he_addr *addrs, int n, int family,
                      struct hostent *he, char *buf, size_t buflen) {
    return he_answer_hostent_chain(&name, 1, addrs, n, family, he, buf, buflen);
}

/* getaddrinfo() and gethostbyname*_r() answers built from a list of
 * addresses, laid out the way glibc 2.36 lays out its own (gaih_inet's
 * get_servtuples and generate_addrinfo in sysdeps/posix/getaddrinfo.c,
 * resolv/nss_dns/dns-host.c for hostent), so that a program cannot tell
 * them apart and glibc's freeaddrinfo frees them.
 *
 * The steps, for a name glibc would look up:
 *   he_answer_plan     hints and service, before any lookup (glibc checks
 *                      them first: a bad socket type fails without a query);
 *   he_answer_select   which of the looked-up addresses glibc keeps;
 *   he_sort_rfc6724    their order (resolver/sort.h);
 *   he_answer_build    the list; he_answer_canonname for AI_CANONNAME.
 * he_answer_addrinfo does all but the sort. */
#ifndef HE_ANSWER_H
#define HE_ANSWER_H

#include "../common/addr.h"

#include <netdb.h>
#include <stddef.h>

/* One socket type/protocol/port an address is returned with (glibc's
 * gaih_servtuple). */
struct he_answer_serv {
    int socktype;
    int protocol;
    in_port_t port; /* network order */
};

/* glibc's protocol table has 7 entries; a service name gives at most 6. */
#define HE_ANSWER_MAX_SERV 8

struct he_answer_plan {
    int flags;  /* every entry's ai_flags: the hints' (AI_V4MAPPED|AI_ADDRCONFIG without hints) */
    int family; /* AF_UNSPEC, AF_INET or AF_INET6 */
    int nserv;
    struct he_answer_serv serv[HE_ANSWER_MAX_SERV];
};

/* What glibc's getaddrinfo makes of hints (NULL: glibc's defaults) and
 * service (NULL, "" and "*" mean none) for a non-NULL name, checked in
 * glibc's order: EAI_BADFLAGS, EAI_FAMILY, EAI_NONAME (AI_NUMERICSERV and
 * a service that is not a number), EAI_SOCKTYPE / EAI_SERVICE (socket type
 * and protocol that glibc's table does not pair, a service with SOCK_RAW,
 * a service name /etc/services lacks for them).  A service name is looked
 * up with getservbyname_r for each protocol glibc tries.  Returns 0 or that
 * EAI_* code (EAI_MEMORY).
 *
 * AI_ADDRCONFIG is left to the caller, which knows the interfaces: glibc
 * narrows an AF_UNSPEC lookup to the one family the host has an address of
 * (IPv4 other than 127.0.0.1, IPv6 other than ::1), and fails AF_INET or
 * AF_INET6 with EAI_NONAME when the host has none of it.  Set plan->family
 * accordingly. */
int he_answer_plan(const struct addrinfo *hints, const char *service, struct he_answer_plan *plan);

/* The addresses glibc keeps of a name's in[0..n) -- its A and AAAA
 * answers, in the order NSS gave them -- for plan->family and flags, in the
 * order it keeps them, into out[] (room for n).  AF_INET keeps IPv4,
 * AF_UNSPEC everything.  AF_INET6 keeps IPv6 first, then with AI_V4MAPPED
 * the IPv4 addresses as AF_INET6 ::ffff:a.b.c.d if there is no IPv6 one or
 * AI_ALL is set (glibc asks for A records only then); AI_V4MAPPED without
 * AI_ALL also drops v4-mapped AAAA answers.  Returns the count. */
int he_answer_select(const struct he_addr *in, int n, const struct he_answer_plan *plan,
                     struct he_addr *out);

/* Builds the list for addrs[0..n), already selected and sorted: one entry
 * per address and plan->serv[] tuple, each entry and its sockaddr in one
 * malloc() block (glibc's freeaddrinfo does free(ai_canonname); free(ai)),
 * ai_canonname NULL.  Returns 0; EAI_NONAME for n == 0; EAI_MEMORY. */
int he_answer_build(const struct he_addr *addrs, int n, const struct he_answer_plan *plan,
                    struct addrinfo **out);

/* he_answer_plan, he_answer_select and he_answer_build, without sorting.
 * Returns 0 or EAI_*: EAI_NONAME for n == 0 (the name does not exist),
 * EAI_NODATA when addresses exist but none of the family asked for, as
 * glibc says for a name with no record of that type. */
int he_answer_addrinfo(const struct he_addr *addrs, int n, const struct addrinfo *hints,
                       const char *service, struct addrinfo **out);

/* Sets the first entry's ai_canonname to a malloc()ed copy of canon, as
 * glibc does for AI_CANONNAME (the canonical name NSS gave, else the name
 * asked for).  Returns 0 or EAI_MEMORY. */
int he_answer_canonname(struct addrinfo *res, const char *canon);

/* Fills *he for gethostbyname_r/gethostbyname2_r(name, family): h_name a
 * copy of name, h_aliases empty, the family's addresses of addrs[0..n) in
 * their order (AF_INET6: the AF_INET6 ones, v4-mapped ones included), all
 * inside buf[0..buflen) in nss_dns's layout -- the name, the addresses each
 * 4-aligned, then the pointer arrays pointer-aligned, alignment taken from
 * the address itself -- so that it needs exactly the buffer Debian 12's DNS
 * module needs for an answer without CNAMEs, to the byte.  Returns 0;
 * -ERANGE when buf is too small (gethostbyname_r then returns ERANGE with
 * h_errno NETDB_INTERNAL, and a caller retries with more); -ENOENT when no
 * address is of that family; -EAFNOSUPPORT for a family other than AF_INET
 * and AF_INET6. */
int he_answer_hostent(const char *name, const struct he_addr *addrs, int n, int family,
                      struct hostent *he, char *buf, size_t buflen);

/* CNAME chains followed, at most. */
#define HE_ANSWER_MAX_NAMES 16

/* he_answer_hostent for an answer that went through CNAMEs, as nss_dns
 * reports one: names[0] the name asked (as the answer spells it: fully
 * qualified after the search list, no final dot), then each CNAME target in
 * turn; h_name is the last (the canonical name), h_aliases the others.
 * nnames 1 is he_answer_hostent.  Also -EINVAL for nnames outside
 * 1..HE_ANSWER_MAX_NAMES. */
int he_answer_hostent_chain(const char *const *names, int nnames, const struct he_addr *addrs,
                            int n, int family, struct hostent *he, char *buf, size_t buflen);

#endif

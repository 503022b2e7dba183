/* Destination address ordering exactly as glibc 2.36's getaddrinfo does it:
 * rfc3484_sort() in sysdeps/posix/getaddrinfo.c, which implements the RFC
 * 6724 section 6 rules with its own tables, its own reading of /etc/gai.conf
 * and a few quirks of its own (each is noted where it is reproduced).
 *
 * Pure except for he_sort_policy_load (reads a file) and he_sort_source_udp
 * (sockets, netlink).  The source-address lookup is injected so that the
 * rules can be tested without a network. */
#ifndef HE_SORT_H
#define HE_SORT_H

#include "../common/addr.h"
#include "../common/libc.h"

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The interface index glibc records when the source is on no interface it
 * knows of (in6ai lookup failed). */
#define HE_SORT_NO_INDEX 0xffffffffu

/* What glibc learns about the source address it would use for one
 * destination.  An IPv4 destination has an IPv4 source; an AF_INET6
 * destination (v4-mapped ones included: AI_V4MAPPED answers) has an
 * AF_INET6 source, ::ffff:a.b.c.d for a mapped one. */
struct he_sort_src {
    int ok;              /* rule 1: a UDP connect() to it succeeded */
    struct he_addr addr; /* getsockname() of that socket */
    int prefixlen;       /* of the matching interface address, 0 if none (rule 9) */
    int deprecated;      /* IFA_F_DEPRECATED or IFA_F_OPTIMISTIC (rule 3) */
    int home;            /* IFA_F_HOMEADDRESS (rule 4) */
    uint32_t index;      /* interface of the address, HE_SORT_NO_INDEX if none (rule 7) */
    int native;          /* that interface is not a tunnel; 0 when index is none (rule 7) */
};

/* Fills *out for dst.  Returns 0, or -errno (out->ok must then be 0):
 * either way an unusable destination is out->ok == 0, as glibc treats every
 * failure. */
typedef int (*he_sort_source_fn)(void *ctx, const struct he_addr *dst, struct he_sort_src *out);

/* The label, precedence and IPv4 scope tables (glibc's defaults, or those
 * of a gai.conf).  Immutable once built: share it between threads. */
struct he_sort_policy;

/* Builds the tables a gai.conf holding text[0..len) gives, the way glibc's
 * gaiconf_init reads it: a `label` or `precedence` line replaces that whole
 * default table (::/0 is added with label 1 / precedence 40 unless some
 * line has a /0 prefix), `scopev4` likewise (0.0.0.0/0 scope 14); lines
 * glibc would reject are skipped; `reload` is ignored.  Returns 0 or
 * -ENOMEM. */
int he_sort_policy_parse(const char *text, size_t len, struct he_sort_policy **out);

/* he_sort_policy_parse of the file at path; a file that cannot be opened
 * gives glibc's defaults, as it does in glibc.  Returns 0 or -ENOMEM. */
int he_sort_policy_load(const char *path, struct he_sort_policy **out);

void he_sort_policy_free(struct he_sort_policy *p);

/* The table values for one address; p NULL means glibc's defaults. An
 * AF_INET address is looked up as ::ffff:a.b.c.d, an AF_INET6 one as it is
 * (v4-mapped too).  The scope of an AF_INET6 v4-mapped address is 14, of an
 * AF_INET one the scopev4 table's. */
int he_sort_label(const struct he_sort_policy *p, const struct he_addr *a);
int he_sort_precedence(const struct he_sort_policy *p, const struct he_addr *a);
int he_sort_scope(const struct he_sort_policy *p, const struct he_addr *a);

/* he_sort_rfc6724's "glibc's answer cannot be written as a list of
 * addresses" result: see below. */
#define HE_SORT_INEXACT 1

/* glibc's protocol table has 7 entries. */
#define HE_SORT_MAX_PER_ADDR 8

/* Sorts addrs[0..n) in place into the order glibc gives the same addresses.
 * Rule 10 keeps the order they arrived in (NSS's: for DNS, A answers before
 * AAAA ones) when no other rule decides.  The addresses must be those of
 * the final answer: for AF_INET6 hints with AI_V4MAPPED, IPv4 ones as
 * AF_INET6 ::ffff:a.b.c.d (see he_answer_select).  per_addr is the number
 * of entries glibc returns per address (he_answer_plan's nserv: 3 without
 * socket type or protocol in the hints, usually 1 with), because glibc
 * sorts those entries, and its comparison is not always a consistent order
 * (rule 9 is skipped between families), so the count can matter.  n < 2 is
 * left alone without a lookup, as glibc does.  src is called once per
 * address, in list order (once for the same address twice in a row).
 *
 * Returns 0 with addrs in glibc's order; HE_SORT_INEXACT (addrs untouched)
 * when glibc's sort would split an address's entries apart -- possible only
 * when gai.conf gives an IPv4 and an IPv6 address the same precedence and
 * label, or with v4-mapped AAAA answers among IPv4 ones: a caller that must
 * match glibc should then ask glibc; -ENOMEM; -EINVAL for n < 0 or per_addr
 * outside 1..HE_SORT_MAX_PER_ADDR. */
int he_sort_rfc6724(struct he_addr *addrs, int n, int per_addr, const struct he_sort_policy *p,
                    he_sort_source_fn src, void *ctx);

struct he_sort_iftable;

/* One sort's source-address look-ups: the functions he_sort_source_udp
 * calls (socket, connect, getsockname, close: libc's own, so that the
 * lookup never meets libhe's hooks) and its state.  Zero the state before
 * the first call, and call he_sort_sys_finish after the sort. */
struct he_sort_sys {
    const struct he_libc *libc;
    in_port_t port; /* the answer's port (network order): glibc connects to it */

    int sock_family;             /* glibc's `af`: the family of the socket it holds */
    int sock_open;               /* and whether it holds one (its fd != -1) */
    struct he_sort_iftable *ifs; /* interface addresses, read once per sort */
};

/* A he_sort_source_fn (ctx: struct he_sort_sys *) doing what glibc does: a
 * UDP socket connect()ed to dst -- one socket per sort in glibc, whose
 * family carries over from one address to the next, which this replays --
 * getsockname, then the source's prefix length, flags and interface from
 * a netlink RTM_GETADDR dump (glibc's __check_pf, which knows of no
 * address at all unless the host has an IPv6 address other than ::1: then
 * every source has prefix length 0 and no interface), and whether that interface
 * is a tunnel from RTM_GETLINK (glibc's __check_native).  Returns 0 or
 * -errno of the failed call; out->ok says whether dst is usable. */
int he_sort_source_udp(void *ctx, const struct he_addr *dst, struct he_sort_src *out);

/* Frees what he_sort_source_udp kept in sys during one sort. */
void he_sort_sys_finish(struct he_sort_sys *sys);

/* ---- Internals, exposed for the unit tests ---------------------------- */

/* One interface address as glibc's __check_pf records it (in6addrinfo). */
struct he_sort_ifaddr {
    uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d; IFA_ADDRESS (the peer on a point-to-point link) */
    uint8_t flags;    /* HE_SORT_IF_* */
    uint8_t prefixlen;
    uint32_t index;
};

#define HE_SORT_IF_DEPRECATED 1 /* IFA_F_DEPRECATED or IFA_F_OPTIMISTIC */
#define HE_SORT_IF_HOME 2       /* IFA_F_HOMEADDRESS */

/* Reads one RTM_NEWADDR message into *out.  Returns 1, or 0 for a message
 * glibc skips (not AF_INET/AF_INET6, no address).  *seen_v4 / *seen_v6 are
 * set as __check_pf sets them (an address other than 127.0.0.1 / ::1). */
int he_sort_ifaddr_from_nl(const struct nlmsghdr *h, struct he_sort_ifaddr *out, int *seen_v4,
                           int *seen_v6);

/* The entry of v[0..n) for key (16 bytes) after glibc's qsort of in6ai by
 * address and its bsearch: with the same address twice, the one glibc's
 * bsearch lands on.  Sorts v in place.  NULL if none. */
const struct he_sort_ifaddr *he_sort_ifaddr_find(struct he_sort_ifaddr *v, size_t n,
                                                 const uint8_t key[16]);

#endif

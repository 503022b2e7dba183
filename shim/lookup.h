/* libhe's own answers to getaddrinfo/gethostbyname* (shim/lookup.c). */
#ifndef HE_LOOKUP_H
#define HE_LOOKUP_H

#include "hook.h"

#include <netdb.h>

/* Returned when libc must answer. */
#define HE_LOOKUP_PASS 1

struct he_lookup_result {
    int via_cname; /* some answer went through a CNAME */
    int count;
    struct he_addr addrs[2 * HE_MEMO_MAX_ADDRS]; /* A answers, then AAAA */
};

/* Reads HE_HOSTS and, for HE_RESOLVE=cares, /etc/nsswitch.conf (he_init). */
void he_lookup_setup(void);

/* The name's addresses in HE_HOSTS (learned as fresh).  Returns 0, or
 * HE_LOOKUP_PASS when the file does not hold the name. */
int he_lookup_hosts_find(const char *name, struct he_lookup_result *out);

/* Looks name up through c-ares for the families in fams (HE_MEMO_FAM_*)
 * and teaches the name memory the answers with their TTLs.  Returns 0, an
 * EAI_* code (EAI_NONAME, EAI_NODATA, EAI_AGAIN), or HE_LOOKUP_PASS when
 * libc must answer instead. */
int he_lookup_cares(const char *name, int fams, struct he_lookup_result *out);

/* getaddrinfo's answer from HE_HOSTS or c-ares, laid out and ordered as
 * glibc would.  Returns 0 with *res, an EAI_* code, or HE_LOOKUP_PASS. */
int he_lookup_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                          struct addrinfo **res);

/* gethostbyname2_r's answer from HE_HOSTS or c-ares.  Returns what
 * gethostbyname2_r returns (0, ERANGE), or HE_LOOKUP_PASS: libc answers,
 * errors included. */
int he_lookup_hostent(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                      struct hostent **result, int *h_errnop);

#endif

/* libhe's own answers to getaddrinfo/gethostbyname* (shim/lookup.c). */
#ifndef HE_LOOKUP_H
#define HE_LOOKUP_H

#include "hook.h"

#include <netdb.h>

/* Returned when libc must answer. */
#define HE_LOOKUP_PASS 1

struct he_lookup_result {
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

#endif

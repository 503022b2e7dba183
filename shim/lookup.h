/* libhe's own answers to getaddrinfo/gethostbyname* (shim/lookup.c). */
#ifndef HE_LOOKUP_H
#define HE_LOOKUP_H

#include "hook.h"

#include <netdb.h>

/* What one of libhe's own lookups came to. */
enum he_lookup_status {
    HE_LOOKUP_ANSWERED = 0, /* libhe's answer is the program's */
    HE_LOOKUP_FAILED,       /* so is libhe's error: *code says which */
    HE_LOOKUP_PASS,         /* libc must answer instead */
};

struct he_lookup_result {
    int via_cname; /* some answer went through a CNAME */
    int count;
    struct he_addr addrs[2 * HE_MEMO_MAX_ADDRS]; /* A answers, then AAAA */
};

/* Reads HE_HOSTS and, for HE_RESOLVE=cares, /etc/nsswitch.conf (he_init). */
void he_lookup_setup(void);

/* The name's addresses in HE_HOSTS (learned as fresh): ANSWERED, or PASS
 * when the file does not hold the name. */
enum he_lookup_status he_lookup_hosts_find(const char *name, struct he_lookup_result *out);

/* The name's addresses in HE_HOSTS, without teaching the name memory
 * (HE_FAULTS's named entries): how many, 0 when it holds none. */
int he_lookup_hosts_addrs(const char *name, struct he_addr *out, int max);

/* Looks name up through c-ares for the families in fams (HE_MEMO_FAM_*)
 * and teaches the name memory the answers with their TTLs: ANSWERED,
 * FAILED with *eai (EAI_NONAME, EAI_AGAIN), or PASS when libc must answer
 * instead. */
enum he_lookup_status he_lookup_cares(const char *name, int fams, struct he_lookup_result *out,
                                      int *eai);

/* getaddrinfo's answer from HE_HOSTS or c-ares, laid out and ordered as
 * glibc would: ANSWERED with *res, FAILED with *eai (an EAI_* code), or
 * PASS.  *eai is what getaddrinfo returns (0 when ANSWERED). */
enum he_lookup_status he_lookup_getaddrinfo(const char *node, const char *service,
                                            const struct addrinfo *hints, struct addrinfo **res,
                                            int *eai);

/* gethostbyname2_r's answer from HE_HOSTS or c-ares: ANSWERED, FAILED with
 * *rc ERANGE (the buffer is too small), or PASS: libc answers, errors
 * included.  *rc is what gethostbyname2_r returns. */
enum he_lookup_status he_lookup_hostent(const char *name, int af, struct hostent *ret, char *buf,
                                        size_t buflen, struct hostent **result, int *h_errnop,
                                        int *rc);

#endif

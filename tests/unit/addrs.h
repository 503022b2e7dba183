/* Address literals and helpers shared by the unit suites that handle
 * struct he_addr (check_race.c, check_memo.c, check_faults.c...).  Documentation addresses
 * only (RFC 5737, RFC 3849). */
#ifndef HE_TEST_ADDRS_H
#define HE_TEST_ADDRS_H

#include "../../common/addr.h"

#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#define V4A "192.0.2.1"
#define V4B "192.0.2.2"
#define V4C "192.0.2.3"
#define V4D "192.0.2.4"
#define V4E "192.0.2.5"
#define V6A "2001:db8::a"
#define V6B "2001:db8::b"
#define V6C "2001:db8::c"

/* The address a literal in a test names; aborts the test on a typo. */
static inline struct he_addr addr_of(const char *text) {
    struct he_addr a;
    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, text, a.bytes) == 1) {
        a.family = AF_INET;
    } else if (inet_pton(AF_INET6, text, a.bytes) == 1) {
        a.family = AF_INET6;
    } else {
        ck_abort_msg("bad address literal in test: %s", text);
    }
    return a;
}

/* The sockaddr a literal names (port 0), as a program would pass it;
 * its length.  Through he_addr_from_sockaddr an IPv4-mapped literal
 * becomes IPv4, as the code under test sees it. */
static inline socklen_t sockaddr_of(const char *text, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        return sizeof *sin;
    }
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        return sizeof *sin6;
    }
    ck_abort_msg("bad address literal in test: %s", text);
    return 0;
}

#endif

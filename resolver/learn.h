/* Turning libc's answers into what the name memory holds. */
#ifndef HE_LEARN_H
#define HE_LEARN_H

#include "memo.h"

#include <netdb.h>

/* Whether node is an address written out (192.0.2.1, 127.1, ::1, fe80::1%eth0)
 * rather than a name: such answers teach nothing. */
int he_learn_is_numeric(const char *node);

/* Records a getaddrinfo answer for node, fresh until expires_ms (libc
 * gives no TTL: the caller picks HE_MAP_TTL).  hints may be NULL.  Returns
 * 0 or -errno; a numeric node or an answer without INET addresses is
 * ignored. */
int he_learn_addrinfo(struct he_memo *m, const char *node, const struct addrinfo *hints,
                      const struct addrinfo *res, uint64_t who, int64_t expires_ms);

/* Records a gethostbyname* answer for name, fresh until expires_ms.  It
 * covers one family only, so the name's memory stays partial. */
int he_learn_hostent(struct he_memo *m, const char *name, const struct hostent *h, uint64_t who,
                     int64_t expires_ms);

#endif

/* What connect()'s two paths share: the general one (shim/connect.c) and
 * the loopback fast path (shim/loopback.c), which falls back on the
 * general races when a loopback address refuses. */
#ifndef HE_SHIM_CONNECT_H
#define HE_SHIM_CONNECT_H

#include "../history/plan.h"
#include "hook.h"

#include <stdint.h>

/* Sets up *c, the connector for the caller's socket fd, whose status
 * flags are fl, connecting to addr. */
void he_connect_connector(struct he_connector *c, int fd, const struct sockaddr *addr,
                          socklen_t len, int fl);

/* A plan that changes nothing: first is attempt 0, the configured delay. */
void he_connect_plain_plan(struct he_plan *p, const struct he_addr *first);

/* The blocking race for fd to addr (dst), with the siblings of ans.
 * Returns 0 when connected (own socket or a spliced sibling), or -errno.
 * frame: the hook's stack frame (racer/strand.h).  own_err: 0, or the
 * errno the caller's own attempt already failed with (only siblings run). */
int he_connect_race(int fd, const struct sockaddr *addr, socklen_t len, int fl,
                    const struct he_addr *dst, const struct he_memo_answer *ans,
                    const struct he_plan *plan, enum he_refresh_when refresh, uintptr_t frame,
                    int own_err);

/* A non-blocking connect to addr (dst): the kernel's answer at once, and
 * the siblings of ans raced by the helper thread while it is in flight.
 * Returns as connect(2) does (-1 with errno). */
int he_connect_nonblocking(int fd, const struct sockaddr *addr, socklen_t len, int fl,
                           const struct he_addr *dst, const struct he_memo_answer *ans,
                           const struct he_plan *plan, const struct sockaddr *own,
                           socklen_t own_len);

/* The cheap checks, cheapest first, that decide whether connect() to dst
 * might race: an address a name taught.  Returns 1 and fills *ans when it
 * does. */
int he_connect_wanted(const struct he_addr *dst, struct he_memo_answer *ans);

/* connect() to a loopback address dst (shim/loopback.c).  Returns 0 or
 * -errno. */
int he_loopback_connect(int fd, const struct sockaddr *addr, socklen_t len,
                        const struct he_addr *dst, uintptr_t frame);

#endif

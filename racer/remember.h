/* A race's outcomes, taught to the connection history (history/): every
 * attempt of every race, the caller's own and the siblings, blocking or in
 * the helper thread. */
#ifndef HE_REMEMBER_H
#define HE_REMEMBER_H

#include "race.h"

#include <netinet/in.h>
#include <stdint.h>

/* An attempt cancelled after running this long without connecting (a
 * loser, or one the deadline or the program ended) counts as timed out;
 * one cancelled sooner says nothing.  A
 * full attempt delay when it is shorter (RFC 8305 §5: by then a healthy
 * path would have answered). */
#define HE_REMEMBER_LOSS_MS 100

/* Records each attempt of the ended race r, made to port_n (network
 * order).  Nothing, not even a clock read, without a history in use; the
 * same for the two below. */
void he_race_remember(const struct he_race *r, in_port_t port_n);
/* A connect() that failed at once with err, before any race (a
 * non-blocking one refused within the call, as on a LAN or loopback). */
void he_remember_refusal(const struct he_addr *a, in_port_t port_n, int err);

/* A non-blocking connect() found finished by the poll right after it:
 * connected, or failed (POLLERR: an RST or an ICMP error arrived within
 * microseconds, which the program sees at once either way; recorded as
 * refused, since the error itself is the program's to read). */
void he_remember_quick(const struct he_addr *a, in_port_t port_n, int failed);

#endif

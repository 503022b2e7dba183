/* HE_FAULTS realised (DESIGN.md, "Faults"): every connect libhe makes or
 * passes on -- the program's own attempt and libhe's siblings, blocking or
 * not -- goes through he_fault_connect once faults are installed, because
 * it replaces connect in the one table of libc's functions.  A TCP connect
 * to a faulted address is sent to a loopback sink (faults/sink.h) or, for
 * unreach, fails at once; the real destination is never contacted.
 *
 * Rules are matched in the order given; the first whose address (or one of
 * its name's addresses) and port fit decides.  A rule with a modifier
 * counts attempts: a connect() on a socket already connecting or
 * connected, or with an error still to report, is not a new attempt and
 * is passed on unchanged (the kernel ignores its address).  Attempt k of
 * rule i is faulted with the chance the rule gives, decided by a hash of
 * (seed, i, k): the same seed gives the same sequence. */
#ifndef HE_FAULT_H
#define HE_FAULT_H

#include "spec.h"

#include "../common/libc.h"

/* Whether any fault is installed: one load, for the hooks' fast paths. */
extern int he_fault_on;

/* Takes spec (kept, not copied) and seed, and puts he_fault_connect in
 * sys's connect, keeping sys's old one for everything not faulted.
 * name_of(dst, buf, len), which may be NULL, names the host a program
 * resolved dst from (the name memory), for named rules. */
/* delay:MS, done by the shim (a helper-thread race, shim/faults.c): fd's
 * connect to real is held at sink (drop's) and made after ms.  new: this
 * connect() starts an attempt; else it settles one (a blocking socket
 * waits, as the kernel would).  Returns as connect() does. */
typedef int (*he_fault_delay_fn)(int fd, const struct sockaddr *real, socklen_t len,
                                 const struct sockaddr *sink, socklen_t sink_len, int ms, int new);

void he_fault_install(struct he_libc *sys, struct he_fault_spec *spec, uint64_t seed,
                      const char *(*name_of)(const struct he_addr *dst, char *buf, size_t len),
                      he_fault_delay_fn delay);

/* The rule for dst:port (host order), or NULL.  name: the host dst was
 * resolved from, or NULL. */
const struct he_fault_rule *he_fault_match(const struct he_fault_spec *spec,
                                           const struct he_addr *dst, int port, const char *name);

/* Whether attempt k of rule index i is faulted (before COUNT is applied). */
int he_fault_chance(uint64_t seed, int i, unsigned long k, int permyriad);

/* Whether a connect to dst:port is faulted (a loopback destination taking
 * libhe's fast path then races like any other). */
int he_fault_covers(const struct he_addr *dst, int port);

/* Adds addrs to every named rule for name (lower case, no trailing dot). */
void he_fault_resolved(const char *name, const struct he_addr *addrs, int n);

/* getpeername(2) of a silent or close connection names the sink: the
 * faulted address it stands for instead, when fd's socket (by SO_COOKIE)
 * is one of the last HE_FAULT_PEERS made so.  Returns 1 with *out and
 * *len set as getpeername would, else 0. */
#define HE_FAULT_PEERS 1024
int he_fault_peer(int fd, const struct sockaddr *got, socklen_t got_len, struct sockaddr *out,
                  socklen_t *len);

/* fd's TCP state (TCP_INFO's tcpi_state: TCP_CLOSE, TCP_SYN_SENT...), or
 * -1: read without changing anything the program sees. */
int he_fault_tcp_state(int fd);

/* Faults injected so far in this process; a forked child's start at 0. */
unsigned long he_fault_injected(void);
void he_fault_reset_count(void);

#endif

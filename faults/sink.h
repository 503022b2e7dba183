/* The loopback sockets a faulted connect is sent to instead of its real
 * destination (DESIGN.md, "Faults"): the kernel then does to the program's
 * socket exactly what a dead, refusing, silent or closing host would, and
 * no packet leaves the machine.
 *
 *   drop    a listener whose accept queue is full (listen(fd, 0) and one
 *           connection never accepted): the kernel drops the SYNs and the
 *           program's socket retransmits them, as towards a dead host;
 *   refuse  a bound socket that does not listen: the SYN gets an RST;
 *   silent  a listener whose connections libhe accepts and holds, never
 *           reading or writing: the kernel completes the handshake and
 *           buffers what the program sends;
 *   close   a listener whose connections libhe accepts and closes as soon
 *           as they are made (he_sink_drain).
 *
 * One set per family (127.0.0.1 and ::1), made on first use without a
 * lock (a loser of a race to make one closes its own), and checked before
 * every use: a program that closed one of the numbers gets a new sink. */
#ifndef HE_FAULT_SINK_H
#define HE_FAULT_SINK_H

#include "../common/libc.h"
#include "spec.h"

#include <sys/socket.h>

/* libc's functions for the sinks. */
void he_sink_setup(const struct he_libc *sys);

/* The address a socket of sock_family connects to for mode, towards a
 * destination of family dst_family (an IPv4 destination on an AF_INET6
 * socket goes to the IPv4 sink, IPv4-mapped).  Returns 0, or -errno when
 * no sink can be made (-ENETUNREACH: this machine has no loopback address
 * of that family, as a real connect there would find). */
int he_sink_addr(enum he_fault_mode mode, int sock_family, int dst_family,
                 struct sockaddr_storage *out, socklen_t *len);

/* A drop sink of family of the caller's own, shared with nobody and not
 * remembered: fds[0] the listener, fds[1] the connection that fills its
 * queue, both the caller's to close; *to, *len the address a connect then
 * stays connecting to.  Returns 0 or -errno. */
int he_sink_private_drop(int family, int fds[2], struct sockaddr_storage *to, socklen_t *len);

/* After a connect to mode's sink of dst_family: close's connections are
 * accepted and closed; silent's are accepted and held (never read or
 * written) until their client closes, so that its queue never fills. */
void he_sink_settle(enum he_fault_mode mode, int dst_family);

/* Whether a (a peer address) is silent's or close's sink, of either
 * family, IPv4-mapped or not. */
int he_sink_owns(const struct sockaddr *a, socklen_t len);

/* In a child forked while a sink was being made. */
void he_sink_fork_child(void);

#endif

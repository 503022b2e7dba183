/* The real connector: the race's attempts as non-blocking sockets, waited
 * for with poll(2), the winner spliced onto the caller's fd with dup3(2).
 *
 * Attempt 0 is the caller's own socket, switched to non-blocking for the
 * race and given its flags back afterwards.  Siblings are new sockets of the
 * caller's family, type and protocol, with the caller's socket options and
 * local address (port 0) replayed. */
#ifndef HE_CONNECTOR_H
#define HE_CONNECTOR_H

#include "../common/libc.h"
#include "options.h"
#include "race.h"

#include <sys/socket.h>

/* Something else the race's poll waits for: a DNS lookup whose answers
 * join the race (RFC 8305 §3).  The shim provides it; the racer knows it
 * only through these calls. */
struct pollfd;
struct he_news {
    void *ctx;
    /* The sockets to poll besides the attempts.  Returns how many. */
    int (*pollfds)(void *ctx, struct pollfd *pfd, int max);
    /* Milliseconds until it needs to run without a socket being ready. */
    int (*timeout_ms)(void *ctx, int64_t now);
    /* After poll: handles pfd[0..n), adds candidates with he_race_add and
     * clears r->news_pending when nothing more can come.  Returns 1 when
     * the race changed. */
    int (*process)(void *ctx, struct he_race *r, const struct pollfd *pfd, int n, int64_t now);
};

/* Where a race keeps its own sockets on record, so that a race that never
 * returns (a signal handler siglongjmps out of connect()) leaves none
 * behind.  The blocking race keeps them in its thread's record
 * (he_connector_strand_track, racer/strand.h); the helper thread's races
 * keep theirs in the fd table (racer/fdmap.h) and have no tracker. */
struct he_connector_track {
    void (*caller)(void); /* the caller's socket is about to be raced: note it */
    void (*opened)(int fd);
    void (*closing)(int fd);
};

extern const struct he_connector_track he_connector_strand_track;

enum he_prep_state { HE_PREP_NOT_YET = 0, HE_PREP_READY, HE_PREP_REFUSED };

/* The caller's local address, as the program chose it. */
enum he_local_kind {
    HE_LOCAL_NONE = 0, /* unbound, or bound to the any-address: siblings bind nothing */
    HE_LOCAL_ADDR,     /* a specific address with port 0: replayed on siblings */
    HE_LOCAL_FIXED,    /* a fixed port, or unknown: no sibling can share it */
};

struct he_connector {
    const struct he_libc *sys; /* libc's functions: never libhe's own hooks */
    int fd;                    /* the caller's socket */
    int fl;                    /* its status flags before the race */
    int family;                /* its family, type and protocol */
    int type;
    int protocol;
    const struct sockaddr *addr; /* the caller's own address */
    socklen_t addrlen;
    int own_timeout; /* the caller's SO_SNDTIMEO is set (found by start) */
    /* The caller's own attempt failed before the race (a refused loopback
     * address, shim/loopback.c): attempt 0 reports this errno without
     * touching the socket, and only siblings run. */
    int own_err;
    enum he_prep_state prep;
    int v6only;                    /* AF_INET6 caller with IPV6_V6ONLY: no IPv4 siblings */
    enum he_local_kind local_kind; /* read before attempt 0 starts */
    unsigned fresh;                /* HE_FRESH_* (racer/fdmap.h), read then too */
    int fresh_fd;                  /* the program's number for the socket, whose bits those are */
    struct sockaddr_storage local;
    socklen_t local_len;
    int options_ready;
    unsigned strand_gen;                    /* this race's record (racer/strand.h) */
    int abandoned;                          /* reaped from under us: touch no socket */
    int caller_gone;                        /* the fd no longer holds the caller's socket */
    int internal_error;                     /* poll(2) failed: fall back to the kernel's wait */
    const struct he_connector_track *track; /* NULL: none (the helper thread's races) */
    const struct he_news *news;             /* NULL: no lookup runs with the race */
    /* Last, and large (2 KB): set up only when a sibling needs it
     * (he_connect_connector leaves it alone but its count). */
    struct he_options options;
};

/* Reads the caller's local address as the program chose it (before its
 * connect() binds one).  Returns 0, or -errno when fd is no socket. */
int he_connector_note_local(struct he_connector *c);

/* Whether port is in the kernel's ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range, read once): a port connect()
 * may have picked, rather than one a program bound. */
int he_connector_ephemeral_port(unsigned port);

/* The local port getsockname shows for fd (0: none), or -1 when fd is no
 * INET socket. */
int he_connector_local_port(int fd);

/* Whether the caller's socket may be pointed at a instead of its own
 * address (connection history, a refused loopback address): only when a
 * race could also run the own address as a sibling -- a TCP socket libhe
 * can reproduce, bound to nothing, that can carry a.  Called before
 * connect(), or after one that failed (which leaves the socket unbound);
 * the first call costs getsockname and the checks a race's first sibling
 * makes, later ones on the same c only the carry check.  c: set up as for
 * a race, with no tracker. */
int he_connector_redirectable(struct he_connector *c, const struct he_addr *a);

/* The callbacks themselves, for a driver that wraps them. */
int he_connector_start(void *ctx, struct he_race *r, int index);
void he_connector_cancel(void *ctx, struct he_race *r, int index);

/* Where a connect that poll(2) reported finished stands. */
enum he_settle {
    HE_SETTLE_CONNECTED = 0,
    HE_SETTLE_FAILED,  /* with its errno */
    HE_SETTLE_PENDING, /* still under way (a spurious wake-up) */
};
/* Whether connected socket fd has something to read (CONNECTED: it spoke,
 * read with MSG_PEEK so that the program still reads every byte), closed
 * or was reset before a byte (FAILED: *err ENODATA for an EOF, else the
 * errno), or neither yet (PENDING). */
enum he_settle he_connector_heard(int fd, int *err);
/* A sibling that its poll reported finished; *err is its errno when it
 * FAILED, else 0. */
enum he_settle he_connector_sibling_outcome(struct he_connector *c, struct he_race *r, int index,
                                            int *err);

/* One line per race for the log: the name, the candidates, the winner,
 * the time taken, and what became of each loser.  At info level when a
 * sibling was started, else at debug. */
/* Counts the race (racer/stats.h) and logs it: one line at info level
 * when a sibling started, else at debug.  note: a non-blocking race's
 * outcome in words, NULL for a blocking race. */
void he_connector_log(const struct he_race *r, const char *name, int rc, int64_t elapsed,
                      const char *note);

/* Fills io with the real connector's callbacks and clock. */
void he_connector_io(struct he_connector *c, struct he_race_io *io);

/* The caller's SO_SNDTIMEO in ms (0 when unset), or -errno.  Read when
 * attempt 0 is found to be in flight; it then sets the race's deadline,
 * taking precedence over HE_CONNECT_TIMEOUT_MS. */
int he_connector_sndtimeo_ms(int fd);

/* Ends the race on the caller's side: splices the winner (index > 0) onto
 * the caller's fd, or gives the caller's socket its flags back.  Returns 0,
 * or -errno when a splice could not be made (the winner is closed). */
int he_connector_finish(struct he_connector *c, struct he_race *r);

int64_t he_connector_now_ms(void *ctx);

#endif

/* The one record libhe keeps per fd number, reached by the number (as
 * socket_wrapper and torsocks keep theirs):
 *   - how the socket got its local port (bind notes: shim/bind.c,
 *     shim/connect.c), so that a socket bound to port 0 is raced and one
 *     bound to a fixed port is not;
 *   - which non-blocking race the number belongs to, and in which role
 *     (racer/background.c);
 *   - the program's epoll registrations of the fd, so that a splice can
 *     carry them over to the winning socket (epoll keys a registration by
 *     file and number: after dup3 the old one is stale, see DESIGN.md).
 *
 * One lock covers this map and every pending race.  It is taken by the
 * hooks (bind, epoll_ctl, close, dup2, ...) and by the helper thread; a
 * signal handler that calls a hook while its thread holds it is told so
 * (he_fdmap_held) and passes straight through.  What closes a number
 * (close, dup2/dup3 onto it, close_range, closefrom) forgets all of its
 * record in one place (he_fdmap_forget, he_fdmap_forget_range). */
#ifndef HE_FDMAP_H
#define HE_FDMAP_H

#include "../common/fdid.h"

#include <signal.h>
#include <stdint.h>

/* How the socket on an fd came by the local port getsockname shows. */
enum he_bind_kind {
    HE_BIND_FIXED = 0, /* a port the program chose, or unknown */
    HE_BIND_PORT0 = 1, /* bind() with port 0: the address is the program's */
    HE_BIND_AUTO = 2,  /* connect() picked it, in a race left connecting */
    /* bind() to a fixed port, seen by the hook: unlike FIXED, known to be
     * the program's (shim/loopback.c tells an unknown port by its range) */
    HE_BIND_CHOSEN = 3,
};

/* Registrations remembered per fd; one more makes the fd's set unknown,
 * and an unknown set is never spliced (its registrations could not be
 * carried). */
#define HE_FDMAP_REGS 2
#define HE_FDMAP_UNKNOWN 255

/* fd numbers the map covers: 2^20, chunks of 1024 allocated on first use. */
#define HE_FDMAP_CHUNK_BITS 10
#define HE_FDMAP_CHUNKS 1024

enum he_fd_role {
    HE_FD_NONE = 0,
    HE_FD_CALLER,  /* the program's fd, with a race pending */
    HE_FD_PRIVATE, /* a race's own socket: a sibling, or the caller's dup */
    HE_FD_HELPER,  /* the helper thread's epoll or eventfd */
};

struct he_fdmap_reg {
    int epfd;
    uint32_t events;
    uint64_t data;
};

struct he_fd_slot {
    int race;               /* 1 + index of the race, 0 for none */
    unsigned char role;     /* enum he_fd_role */
    unsigned char nreg;     /* entries in reg[], or HE_FDMAP_UNKNOWN */
    unsigned char bind;     /* enum he_bind_kind noted, FIXED for none */
    unsigned char busy;     /* bit 0: role, nreg or bind set; bit 1: role CALLER
                             * (read without the lock) */
    struct he_fdid bind_id; /* the socket the bind note is about */
    struct he_fdmap_reg reg[HE_FDMAP_REGS];
};

/* Takes the lock.  block_signals: also block every signal until unlock
 * (for paths a siglongjmp could leave: connect, the helper, fork);
 * old receives the mask to restore. */
void he_fdmap_lock(int block_signals, sigset_t *old);
void he_fdmap_unlock(int block_signals, const sigset_t *old);
/* With the lock held: lets go of it until he_fdmap_wake is called or
 * until_ms (CLOCK_MONOTONIC, as he_connector_now_ms) passes, then has it
 * again.  Whoever waits checks again what it waits for. */
void he_fdmap_wait(int64_t until_ms);
/* Wakes every he_fdmap_wait (the lock held). */
void he_fdmap_wake(void);
/* Whether this thread holds the lock (a hook in a signal handler). */
int he_fdmap_held(void);

/* fd's slot, under the lock; create: allocate its chunk if need be.
 * NULL when fd is out of range, or for memory. */
struct he_fd_slot *he_fdmap_slot(int fd, int create);
/* Refreshes slot's busy flag after a change. */
void he_fdmap_touch(struct he_fd_slot *s);
/* Whether anything is recorded for fd (no lock: a hint for the hooks'
 * fast path, exact for numbers only this thread changes). */
int he_fdmap_busy(int fd);
/* Whether fd is the program's end of a pending race (the same kind of
 * hint). */
int he_fdmap_racing(int fd);

/* Notes how fd's socket got its local port (takes the lock, signals
 * blocked).  HE_BIND_FIXED forgets the note.  A note that cannot be made
 * (out of memory, fd out of range, a signal handler on top of the lock)
 * leaves the socket counted as fixed: not raced, which is safe. */
void he_fdmap_bind_note(int fd, enum he_bind_kind kind);
/* The note for the socket fd holds now: HE_BIND_FIXED when there is none,
 * or it was about another socket that had the number before (takes the
 * lock). */
enum he_bind_kind he_fdmap_bind_kind(int fd);

/* Fresh sockets: TCP sockets libhe saw socket() make (shim/socket.c), and
 * what has not happened to them since:
 *   HE_FRESH_UNBOUND   no bind(): connect() needs no getsockname to know
 *                      the program bound nothing;
 *   HE_FRESH_DEFAULTS  no setsockopt(): every option is still the
 *                      kernel's default, so a sibling needs none replayed
 *                      and the checks for state that cannot be (a socket
 *                      filter, Fast Open) are moot.
 * Lock-free bits by fd number, set and cleared with atomics (safe in
 * signal handlers); every hook that ends what a number holds clears both,
 * and a number libhe knows nothing about has neither. */
enum { HE_FRESH_UNBOUND = 1, HE_FRESH_DEFAULTS = 2, HE_FRESH_ALL = 3 };
void he_fdmap_fresh_set(int fd, unsigned bits);
void he_fdmap_fresh_clear(int fd, unsigned bits);
unsigned he_fdmap_fresh(int fd);
void he_fdmap_fresh_clear_range(unsigned first, unsigned last);
/* fd's socket got a second number, other (dup, F_DUPFD, dup2/dup3): a
 * bind or an option through either would not clear the other's bits, so
 * both lose theirs. */
void he_fdmap_fresh_shared(int fd, int other);

/* Records what a successful epoll_ctl(epfd, op, fd, ev) did. */
void he_fdmap_epoll(int epfd, int op, int fd, const void *ev);
/* fd was closed or replaced: its registrations and bind note went with
 * its file. */
void he_fdmap_forget(int fd);
/* Every fd in [first, last] was closed: the same for each. */
void he_fdmap_forget_range(unsigned first, unsigned last);
/* Whether some registration could not be recorded (out of memory). */
int he_fdmap_incomplete(void);

/* After fork, in the child: the lock is fresh. */
void he_fdmap_fork_child(void);

#endif

/* The helper thread's races (racer/background.h), as the files that drive
 * them share them: background.c (the races, their attempts and their fd
 * roles, fork), helper.c (the thread: admission, its epoll loop, the
 * sweep), splice.c (putting a winner on the program's fd) and fdclose.c
 * (what the close family and epoll_ctl hooks do to pending races).
 * Everything here runs under the lock of racer/fdmap.h. */
#ifndef HE_BG_H
#define HE_BG_H

#include "../common/fdid.h"
#include "background.h"
#include "fdmap.h"

#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

#define HE_BG_NAME_MAX 256

struct he_bg_race {
    unsigned gen;
    int slot;           /* in he_bg.race */
    int fd;             /* the program's number */
    int dupfd;          /* the caller's socket, held: identity and the waiters' wake-up */
    struct he_fdid id;  /* the caller's socket (common/fdid.h) */
    int own_failed;     /* the caller's own attempt failed (racer/rescue.c) */
    int remembered;     /* its outcomes went to the history */
    int fault_delay;    /* he_bg_request's */
    uint64_t watched;   /* attempts (bit i) in the helper's epoll */
    uint64_t listening; /* ... there for EPOLLIN: SILENT, a banner race's */
    /* The caller's attempt failed within connect() (refused): the fd holds
     * a stand-in, a socket still connecting (to a loopback listener whose
     * queue is full), until the race is decided; the caller's own socket,
     * its error unread, is in dupfd (racer/rescue.c). */
    int has_standin;
    int standin;
    const char *outcome; /* why no splice, for the log */
    int64_t t0;
    struct sockaddr_storage addr;
    struct he_connector c;
    char name[HE_BG_NAME_MAX];
    struct he_race r; /* last: large */
};

/* The loopback listener stand-ins connect to (racer/rescue.c), one per
 * family, shared by every stand-in and closed with the last. */
struct he_bg_sink {
    int refs;
    int fds[2]; /* the listener, and the connection that fills its queue */
    struct sockaddr_storage addr;
    socklen_t len;
};

/* The helper thread and every pending race. */
struct he_bg_state {
    const struct he_libc *sys;
    int running; /* the helper thread is alive; ep and evfd are open */
    int ep, evfd;
    int count;        /* races pending */
    int64_t wake_at;  /* when the helper's wait ends by itself */
    int64_t next_due; /* the earliest time a race has something to start */
    unsigned gen;
    int next_slot;
    int rescue_ms; /* HE_RESCUE_WAIT_MS: how long a race outlives a failed own attempt */
    int held;      /* program threads waiting in he_bg_rescue */
    struct he_bg_sink sink[2]; /* [0] IPv4, [1] IPv6 */
    sigset_t fork_mask;
    struct he_bg_race *race[HE_BG_MAX];
};

extern struct he_bg_state he_bg;

/* fd's role in the fd table (racer/fdmap.h): slot is the race's. */
void he_bg_mark(int fd, enum he_fd_role role, int slot);
/* Closes one of libhe's own descriptors and forgets its role. */
void he_bg_close_own(int fd);
/* Watches fd, attempt index of race b, in the helper's epoll.  Returns 0
 * or -errno. */
int he_bg_watch(struct he_bg_race *b, int fd, int index);
/* Watches race b's SILENT attempts (connected, on a banner port, nothing
 * heard yet) for EPOLLIN instead: EPOLLOUT stays ready on a connected
 * socket and would spin the helper. */
void he_bg_listen(struct he_bg_race *b);
/* Lowers the helper's next sweep to when race b has something due, and
 * wakes the helper if that is before it would wake by itself. */
void he_bg_schedule(const struct he_bg_race *b, int64_t now);
/* Race b's own attempt failed (err: its errno, or ECONNREFUSED when only
 * the readiness is known: SO_ERROR is the program's to read).  With
 * HE_RESCUE_WAIT_MS and siblings left, the race goes on, bounded by it
 * (racer/rescue.c); else it stops and the program sees its failure. */
void he_bg_own_failed(struct he_bg_race *b, const struct he_race_io *io, int err);
/* Whether the caller's socket (fd: the race's dup) completed its
 * handshake before it failed: TCP_INFO's bytes_acked counts the SYN (1),
 * and stays 0 for a refused one (checked on this kernel).  A connection
 * that was made and then reset is the program's own failure to see, not a
 * refusal to rescue.  Unknown counts as made. */
int he_bg_own_handshaken(int fd);
/* Race b's own attempt, still connecting when last looked at, has
 * failed (readiness, or the program's read: err): a refusal is rescued
 * (he_bg_own_failed), a connection made and then reset is the program's
 * (he_bg_own_closed). */
void he_bg_own_error(struct he_bg_race *b, const struct he_race_io *io, int err);
/* Race b's own attempt connected (a banner race) and then its server
 * closed or reset it before a word: the program, which has had it since
 * the handshake, may be reading that EOF already, so nothing is spliced
 * onto it; the race ends. */
void he_bg_own_closed(struct he_bg_race *b, const struct he_race_io *io);
/* Race b's own attempt failed within connect(): a stand-in goes onto the
 * program's fd until the race is decided (he_bg_check puts the winner, or
 * the caller's own socket, back).  Returns 0, or -1 when none could be
 * made (then connect() waits, he_bg_hold). */
int he_bg_stand_in(struct he_bg_race *b);
/* Closes race b's stand-in, if it has one, and lets go of its sink. */
void he_bg_close_standin(struct he_bg_race *b);
/* Waits, the lock held, until race slot (generation gen), whose own
 * attempt failed, has ended: spliced, or failed at its bound (the helper
 * ends it then; should the helper be late, it is ended here). */
void he_bg_hold(int slot, unsigned gen);
/* The race engine's callbacks for race b (racer/race.h). */
void he_bg_io(struct he_bg_race *b, struct he_race_io *io);
/* After any change to race slot: ends it if it has a result (splicing a
 * winning sibling) or nothing left to race. */
void he_bg_check(int slot);
/* Ends race slot (why: for the log, NULL when it had a result): its
 * sockets closed, its numbers forgotten. */
void he_bg_retire(int slot, const char *why);
/* Closes the helper's own descriptors; the thread is gone or going. */
void he_bg_stop_helper(void);

/* What became of a splice (splice.c). */
enum he_splice_result {
    HE_SPLICE_DONE = 0,
    HE_SPLICE_CALLER_GONE,  /* the fd no longer holds the caller's socket */
    HE_SPLICE_REGS_UNKNOWN, /* the fd's epoll registrations are not all known */
    HE_SPLICE_NO_FLAGS,     /* the caller's flags cannot be read or given */
    HE_SPLICE_DUP3_FAILED,
    /* A banner race: the caller's own connection, connected but silent,
     * has carried the program's bytes (it wrote, or read): it stays. */
    HE_SPLICE_OWN_USED,
};

/* Puts race b's winning sibling on the program's fd.  Anything but DONE:
 * the winner is closed, and the caller's own attempt goes on. */
enum he_splice_result he_splice_winner(struct he_bg_race *b);
/* Puts socket s on race b's fd (the identity checked, the flags given,
 * the epoll registrations carried), keeping s's own number open.  Does
 * not wake waiters: he_splice_wake. */
enum he_splice_result he_splice_put(struct he_bg_race *b, int s);
/* Wakes threads blocked in poll/select on what b's fd held before a
 * splice. */
void he_splice_wake(struct he_bg_race *b);
/* dup3 of the caller's own socket (the race's dup) onto b's fd, with the
 * fd's close-on-exec flag and nothing else: for when the splice's checks
 * refuse but a stand-in must not stay. */
void he_splice_own_back(struct he_bg_race *b);

/* The caller's own attempt connected while the program had its fd (its
 * SILENT attempt 0 was watched for EPOLLIN: a banner race): the program
 * may have written to it or read from it. */
static inline int he_bg_own_exposed(const struct he_bg_race *b) {
    return (b->listening & 1) != 0;
}
/* The result in words, for the log. */
const char *he_splice_why(enum he_splice_result rc);

#endif

/* The race engine: RFC 8305 §4-5 connection attempts, with the clock and the
 * connector injected so that it can be driven by a table in unit tests.
 *
 * Attempt 0 is always the caller's own socket to the caller's own address;
 * the others are the name's siblings in interleaved-family order.  The engine
 * decides when each attempt starts and which one wins; the connector (struct
 * he_race_io) owns the sockets. */
#ifndef HE_RACE_H
#define HE_RACE_H

#include "../common/addr.h"

#include <stdint.h>

#define HE_RACE_MAX_ATTEMPTS 64

enum he_attempt_state {
    HE_ATTEMPT_WAITING = 0, /* not started yet */
    HE_ATTEMPT_RUNNING,
    HE_ATTEMPT_FAILED, /* err says why */
    HE_ATTEMPT_WON,
    HE_ATTEMPT_CANCELLED, /* closed because another won or the race ended */
    HE_ATTEMPT_SKIPPED,   /* never started: family unreachable, cannot be carried */
    /* Connected, on a banner port, and nothing received yet: it has not
     * won (a handshake is not a server), it still takes part. */
    HE_ATTEMPT_SILENT,
};

struct he_attempt {
    struct he_addr addr;
    enum he_attempt_state state;
    int handle; /* the connector's socket, -1 when none */
    int err;    /* positive errno when FAILED */
    int64_t started_ms, ended_ms;
    int connected;        /* its handshake completed (banner races) */
    int64_t connected_ms; /* then */
};

struct he_race;

/* The connector and the clock.  Every callback gets ctx. */
/* What ended a wait of the race's (he_race_io.wait). */
enum he_wait_result {
    HE_WAIT_TIMEOUT = 0, /* the time ran out */
    HE_WAIT_DONE,        /* attempt *index finished: *err its errno, 0 = connected */
    HE_WAIT_NEWS,        /* while r->news_pending: candidates were added with
                          * he_race_add, or news_pending was cleared */
    HE_WAIT_ERROR,       /* the wait itself failed with *err (EINTR: a signal
                          * ends the race) */
};

struct he_race_io {
    void *ctx;
    /* Monotonic milliseconds. */
    int64_t (*now_ms)(void *ctx);
    /* Starts attempt index (0 = the caller's socket).  Returns 0 when the
     * attempt is under way, 1 when it connected at once, -EAFNOSUPPORT when
     * this socket cannot carry the address (the attempt is skipped), -ENOTSUP
     * when no sibling can be started at all (EMFILE, an option that cannot be
     * replayed: racing stops, attempt 0 goes on), or another -errno when the
     * attempt failed at once. */
    int (*start)(void *ctx, struct he_race *r, int index);
    /* Waits at most timeout_ms (-1: no limit) for a running attempt to
     * finish, or a SILENT one to receive something or close (enum
     * he_wait_result says what ended the wait). */
    enum he_wait_result (*wait)(void *ctx, struct he_race *r, int timeout_ms, int *index, int *err);
    /* Closes attempt index's socket: a loser, or a sibling that failed.  For
     * index 0 it is only called when the race's own deadline
     * (HE_CONNECT_TIMEOUT_MS) ends the caller's attempt. */
    void (*cancel)(void *ctx, struct he_race *r, int index);
};

struct he_race {
    int count;        /* attempts in att[] */
    int max_attempts; /* room in att[], clamped */
    int sock_family;  /* what the caller's socket carries */
    int unreachable;  /* families skipped after ENETUNREACH */
    /* Set by whoever feeds the race while DNS answers may still add
     * candidates (RFC 8305 §3); the connector's wait then also returns on
     * news.  Answers that come after every attempt has failed are not
     * waited for: without libhe the connect would have failed already. */
    int news_pending;
    int delay_ms;        /* Connection Attempt Delay, clamped */
    int sibling_at_once; /* the first sibling starts with attempt 0 (history) */
    /* Attempt 0 is not the caller's own address: the history sent the
     * caller's socket to a sibling (shim/connect.c); its win is a rescue. */
    int own_redirected;
    /* Banner races (HE_BANNER_PORTS): an attempt wins when it has received
     * a byte, not at its handshake; banner_ms (0: an ordinary race) after
     * the race began, the first that connected wins. */
    int banner_ms;
    int64_t deadline_ms;                         /* absolute, -1 for none */
    int deadline_err;                            /* EINPROGRESS (SO_SNDTIMEO) or ETIMEDOUT */
    int winner;                                  /* index, -1 while none */
    int64_t t0;                                  /* when attempt 0 started */
    int64_t next_at;                             /* when the next attempt is due */
    int ended;                                   /* result is set */
    int result;                                  /* what he_race_run returns */
    struct he_attempt att[HE_RACE_MAX_ATTEMPTS]; /* last: only count are set */
};

/* Sets up a race: attempt 0 to first, then the siblings that a socket of
 * sock_family can carry (IPv4 only for AF_INET; IPv6 and IPv4 for AF_INET6,
 * whose IPV6_V6ONLY the connector checks when it starts a sibling), in
 * RFC 8305 §4 order, at most max_attempts in all.  delay_ms is clamped to
 * the RFC 8305 §5 bounds. */
void he_race_init(struct he_race *r, const struct he_addr *first, const struct he_addr *addrs,
                  int n, int sock_family, int delay_ms, int max_attempts);

/* Moves the attempts not yet started whose address is in bad[] behind
 * the others, keeping each group's order: addresses that failed recently
 * are tried last, never dropped (connection history, RFC 8305 §4). */
void he_race_demote(struct he_race *r, const struct he_addr *bad, int nbad);

/* Adds candidates that arrived during the race (RFC 8305 §3: "the client
 * SHOULD ... add them to the list of addresses not yet attempted"): those
 * not already in it, that the socket can carry and that fit.  Attempts
 * already made are not restarted; the ones not yet started are put back
 * in interleaved-family order.  Returns how many were added. */
int he_race_add(struct he_race *r, const struct he_addr *addrs, int n);

/* How many siblings a socket could race, without setting anything up: the
 * cheap test connect() makes before deciding to race at all. */
int he_race_count_siblings(const struct he_addr *first, const struct he_addr *addrs, int n,
                           int sock_family);

/* Sets the race's deadline: at deadline_ms the race ends with err
 * (EINPROGRESS or ETIMEDOUT).  Call before he_race_run. */
void he_race_set_deadline(struct he_race *r, int64_t deadline_ms, int err);

/* Makes r a banner race (he_race's banner_ms).  Call before it begins. */
void he_race_set_banner(struct he_race *r, int banner_ms);

/* Runs the race to its end.  Returns the winner's index (0: the caller's own
 * attempt), or -errno: the errno of the caller's own attempt when all
 * failed, -EINPROGRESS or -ETIMEDOUT at the deadline, -EINTR, or an error the
 * connector returned. */
int he_race_run(struct he_race *r, const struct he_race_io *io);

/* The same race, driven by events, for a driver that waits for many races
 * at once (racer/background.c): he_race_begin starts attempt 0,
 * he_race_advance starts what is due, he_race_settle takes an attempt's
 * outcome.  Each returns (or leaves) r->ended set once the race is over,
 * with r->result as he_race_run would return it.  io->wait is not used.
 * Returns 1 while the race goes on. */
int he_race_begin(struct he_race *r, const struct he_race_io *io);
int he_race_advance(struct he_race *r, const struct he_race_io *io);
/* Attempt index finished: err 0 (connected, it wins) or a positive errno.
 * In a banner race, a connect (err 0) of a RUNNING attempt makes it
 * SILENT; err 0 for a SILENT one says it has spoken (it wins), an errno
 * that it closed or was reset first (ENODATA for an EOF).  Call
 * he_race_advance next. */
void he_race_settle(struct he_race *r, const struct he_race_io *io, int index, int err);
/* Milliseconds until he_race_advance has something to do (-1: never). */
int he_race_wait_ms(const struct he_race *r, int64_t now);
/* Ends the race with result: running siblings are cancelled, waiting ones
 * skipped; attempt 0 is left as it is. */
void he_race_stop(struct he_race *r, const struct he_race_io *io, int result);
/* Somebody waits for this race with a bound (a program reading the
 * outcome of its own failed attempt, racer/rescue.c): it ends by until at
 * the latest, as at an EINPROGRESS deadline (the caller's own errno when
 * its attempt failed), and the attempts still waiting are spread so that
 * each starts before then, never closer than RFC 8305 §5's 10 ms floor.
 * An earlier deadline stays. */
void he_race_hurry(struct he_race *r, int64_t now, int64_t until);
/* Siblings still running or waiting to start. */
int he_race_siblings_left(const struct he_race *r);

/* Whether err says something about the destination (refused, unreachable,
 * timed out), so that other addresses are worth trying, rather than about
 * the call itself. */
int he_race_network_error(int err);

const char *he_attempt_state_name(enum he_attempt_state s);
/* What became of attempt a, in a word for the log: its state's name, but
 * "silent" for one that connected and never spoke (a banner race's
 * loser) and "closed" for one that connected and then closed or was reset
 * before a word. */
const char *he_attempt_label(const struct he_attempt *a);

#endif

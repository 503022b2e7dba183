/* The race loop: when to start each attempt, which one wins (RFC 8305 §5). */
#include "race.h"

#include <errno.h>
#include <limits.h>

/* RFC 8305 §5: the Connection Attempt Delay never goes below 10 ms. */
#define HE_RACE_DELAY_FLOOR_MS 10

static int he_race_pending(const struct he_race *r) {
    int n = 0;
    for (int i = 0; i < r->count; i++) {
        n += r->att[i].state == HE_ATTEMPT_WAITING;
    }
    return n;
}

/* Taking part: connecting, or connected and silent (a banner race). */
static int he_race_in_play(enum he_attempt_state s) {
    return s == HE_ATTEMPT_RUNNING || s == HE_ATTEMPT_SILENT;
}

static int he_race_running(const struct he_race *r) {
    int n = 0;
    for (int i = 0; i < r->count; i++) {
        n += he_race_in_play(r->att[i].state);
    }
    return n;
}

/* The SILENT attempt that connected first (the lowest index among equals),
 * or -1 (always for an ordinary race: it has none). */
static int he_race_first_silent(const struct he_race *r) {
    int w = -1;
    for (int i = 0; r->banner_ms > 0 && i < r->count; i++) {
        if (r->att[i].state == HE_ATTEMPT_SILENT &&
            (w < 0 || r->att[i].connected_ms < r->att[w].connected_ms)) {
            w = i;
        }
    }
    return w;
}

/* Attempt i's handshake completed at now.  Returns 1 when that makes it
 * the winner: an ordinary race, or a banner race past its banner time;
 * otherwise it is SILENT until it speaks or closes. */
static int he_race_connected(struct he_race *r, int i, int64_t now) {
    r->att[i].connected = 1;
    r->att[i].connected_ms = now;
    if (r->banner_ms == 0 || now >= r->t0 + r->banner_ms) {
        return 1;
    }
    r->att[i].state = HE_ATTEMPT_SILENT;
    return 0;
}

static int he_race_next_waiting(const struct he_race *r) {
    for (int i = 0; i < r->count; i++) {
        if (r->att[i].state == HE_ATTEMPT_WAITING) {
            return i;
        }
    }
    return -1;
}

/* The delay before the next attempt.  With a deadline (the caller's
 * SO_SNDTIMEO or HE_CONNECT_TIMEOUT_MS) it is shortened so that every
 * waiting attempt still starts before the deadline: a fixed 250 ms with a
 * 300 ms deadline would leave the third address untried (golang/go#22225). */
static int64_t he_race_delay(const struct he_race *r, int64_t now) {
    int64_t d = r->delay_ms;
    int pending = he_race_pending(r);
    if (r->deadline_ms >= 0 && pending > 0) {
        int64_t share = (r->deadline_ms - now) / (pending + 1);
        if (share < d) {
            d = share;
        }
        if (d < HE_RACE_DELAY_FLOOR_MS) {
            d = HE_RACE_DELAY_FLOOR_MS;
        }
    }
    return d;
}

/* Every waiting attempt of family is skipped: after ENETUNREACH the whole
 * family has no route, and retrying it is what hung curl/curl#4954. */
static void he_race_skip_family(struct he_race *r, int family) {
    for (int i = 0; i < r->count; i++) {
        if (r->att[i].state == HE_ATTEMPT_WAITING && r->att[i].addr.family == family) {
            r->att[i].state = HE_ATTEMPT_SKIPPED;
        }
    }
}

static void he_race_skip_all(struct he_race *r) {
    for (int i = 1; i < r->count; i++) {
        if (r->att[i].state == HE_ATTEMPT_WAITING) {
            r->att[i].state = HE_ATTEMPT_SKIPPED;
        }
    }
}

static void he_race_fail(struct he_race *r, int i, int err, int64_t now) {
    r->att[i].state = HE_ATTEMPT_FAILED;
    r->att[i].err = err;
    r->att[i].ended_ms = now;
    if (err == ENETUNREACH) {
        r->unreachable |= r->att[i].addr.family == AF_INET ? 1 : 2;
        he_race_skip_family(r, r->att[i].addr.family);
    }
}

/* Starts attempt i.  Returns 1 when it connected at once, else 0. */
static int he_race_start(struct he_race *r, const struct he_race_io *io, int i) {
    int64_t now = io->now_ms(io->ctx);
    r->att[i].started_ms = now;
    int rc = io->start(io->ctx, r, i);
    if (rc == 1 && !he_race_connected(r, i, now)) {
        return 0;
    }
    if (rc == 1) {
        r->att[i].state = HE_ATTEMPT_WON;
        r->att[i].ended_ms = now;
        r->winner = i;
        return 1;
    }
    if (rc == 0) {
        r->att[i].state = HE_ATTEMPT_RUNNING;
    } else if (rc == -EAFNOSUPPORT && i > 0) {
        r->att[i].state = HE_ATTEMPT_SKIPPED;
    } else if (rc == -ENOTSUP && i > 0) {
        r->att[i].state = HE_ATTEMPT_SKIPPED;
        he_race_skip_all(r);
    } else {
        he_race_fail(r, i, -rc, now);
    }
    return 0;
}

/* Closes every running attempt but keep (and but 0, the caller's socket,
 * unless close_own). */
static void he_race_cancel_rest(struct he_race *r, const struct he_race_io *io, int keep,
                                int close_own) {
    int64_t now = io->now_ms(io->ctx);
    for (int i = 0; i < r->count; i++) {
        if (i == keep || !he_race_in_play(r->att[i].state) || (i == 0 && !close_own)) {
            continue;
        }
        io->cancel(io->ctx, r, i);
        r->att[i].state = HE_ATTEMPT_CANCELLED;
        r->att[i].ended_ms = now;
    }
}

/* At the deadline: HE_CONNECT_TIMEOUT_MS gives ETIMEDOUT and ends the
 * caller's attempt too; SO_SNDTIMEO gives EINPROGRESS, as the kernel does,
 * and the caller's attempt goes on -- unless it already failed, in which
 * case its own errno is what the kernel would have said long before. */
static int he_race_expire(struct he_race *r, const struct he_race_io *io) {
    int own_failed = r->att[0].state == HE_ATTEMPT_FAILED;
    int timed_out = r->deadline_err == ETIMEDOUT;
    he_race_cancel_rest(r, io, -1, timed_out);
    if (timed_out) {
        return -ETIMEDOUT;
    }
    return own_failed ? -r->att[0].err : -r->deadline_err;
}

static int he_race_finish(struct he_race *r, const struct he_race_io *io, int winner) {
    r->att[winner].state = HE_ATTEMPT_WON;
    r->att[winner].ended_ms = io->now_ms(io->ctx);
    r->winner = winner;
    he_race_cancel_rest(r, io, winner, 0);
    if (winner > 0 && he_race_in_play(r->att[0].state)) {
        /* The splice replaces the caller's socket, and so ends it. */
        r->att[0].state = HE_ATTEMPT_CANCELLED;
        r->att[0].ended_ms = r->att[winner].ended_ms;
    }
    return winner;
}

/* How long to wait now: until the next attempt is due or the deadline. */
static int he_race_timeout(const struct he_race *r, int64_t now, int64_t next_at) {
    int64_t t = -1;
    if (he_race_pending(r) > 0) {
        t = next_at > now ? next_at - now : 0;
    }
    if (r->deadline_ms >= 0) {
        int64_t left = r->deadline_ms > now ? r->deadline_ms - now : 0;
        if (t < 0 || left < t) {
            t = left;
        }
    }
    if (he_race_first_silent(r) >= 0) {
        int64_t until = r->t0 + r->banner_ms;
        int64_t left = until > now ? until - now : 0;
        if (t < 0 || left < t) {
            t = left;
        }
    }
    return t > INT_MAX ? INT_MAX : (int)t;
}

int he_race_network_error(int err) {
    switch (err) {
    case ECONNREFUSED:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
    case ETIMEDOUT:
    case EPERM:         /* a local firewall rule for this destination */
    case EADDRNOTAVAIL: /* no source for this destination (::1 with IPv6 off) */
        return 1;
    default:
        return 0;
    }
}

/* Every attempt failed.  The caller's own one that connected and then
 * closed before a word (a banner race) is what the program would have had
 * without libhe: its socket, connected.  Else its errno. */
static int he_race_nobody(struct he_race *r, const struct he_race_io *io) {
    if (r->att[0].connected) {
        return he_race_finish(r, io, 0);
    }
    return -r->att[0].err;
}

static int he_race_end(struct he_race *r, int result) {
    r->ended = 1;
    r->result = result;
    return 0;
}

int he_race_begin(struct he_race *r, const struct he_race_io *io) {
    r->t0 = io->now_ms(io->ctx);
    r->ended = 0;
    if (he_race_start(r, io, 0)) {
        return he_race_end(r, 0);
    }
    /* A bad argument (EBADF, EISCONN, EAFNOSUPPORT, ...) is the caller's
     * answer as it stands: no sibling may paper over it. */
    if (r->att[0].state == HE_ATTEMPT_FAILED && !he_race_network_error(r->att[0].err)) {
        return he_race_end(r, -r->att[0].err);
    }
    /* History knows the caller's address failed lately and a sibling
     * worked: that sibling need not wait for the caller's attempt. */
    r->next_at = r->sibling_at_once ? r->t0 : r->t0 + he_race_delay(r, r->t0);
    return 1;
}

int he_race_advance(struct he_race *r, const struct he_race_io *io) {
    while (!r->ended) {
        int64_t now = io->now_ms(io->ctx);
        int running = he_race_running(r);
        int pending = he_race_pending(r);
        if (running == 0 && pending == 0) {
            return he_race_end(r, he_race_nobody(r, io));
        }
        /* Nothing has spoken by the banner time (or the deadline): the
         * first that connected wins, as without libhe. */
        int silent = he_race_first_silent(r);
        if (silent >= 0 &&
            (now >= r->t0 + r->banner_ms || (r->deadline_ms >= 0 && now >= r->deadline_ms))) {
            return he_race_end(r, he_race_finish(r, io, silent));
        }
        if (r->deadline_ms >= 0 && now >= r->deadline_ms) {
            return he_race_end(r, he_race_expire(r, io));
        }
        if (pending == 0 || (running > 0 && now < r->next_at)) {
            return 1;
        }
        int i = he_race_next_waiting(r);
        if (he_race_start(r, io, i)) {
            return he_race_end(r, he_race_finish(r, io, i));
        }
        /* An attempt that could not even start costs no delay. */
        if (he_race_in_play(r->att[i].state)) {
            r->next_at = now + he_race_delay(r, now);
        }
    }
    return 0;
}

void he_race_settle(struct he_race *r, const struct he_race_io *io, int index, int err) {
    if (err == 0) {
        if (r->att[index].state == HE_ATTEMPT_RUNNING &&
            !he_race_connected(r, index, io->now_ms(io->ctx))) {
            return; /* connected, silent: the race goes on, on its schedule */
        }
        he_race_end(r, he_race_finish(r, io, index));
        return;
    }
    /* A sibling that failed is closed now; the caller's own socket stays,
     * as a failed blocking connect leaves it. */
    if (index > 0) {
        io->cancel(io->ctx, r, index);
    }
    /* A hard failure starts the next attempt at once (RFC 8305 §5). */
    r->next_at = io->now_ms(io->ctx);
    he_race_fail(r, index, err, r->next_at);
}

int he_race_wait_ms(const struct he_race *r, int64_t now) {
    return he_race_timeout(r, now, r->next_at);
}

void he_race_stop(struct he_race *r, const struct he_race_io *io, int result) {
    he_race_cancel_rest(r, io, -1, 0);
    he_race_skip_all(r);
    he_race_end(r, result);
}

void he_race_hurry(struct he_race *r, int64_t now, int64_t until) {
    if (r->ended) {
        return;
    }
    if (r->deadline_ms < 0 || until < r->deadline_ms) {
        he_race_set_deadline(r, until, EINPROGRESS);
    }
    if (he_race_pending(r) > 0) {
        int64_t at = now + he_race_delay(r, now);
        if (at < r->next_at) {
            r->next_at = at;
        }
    }
}

int he_race_siblings_left(const struct he_race *r) {
    int n = 0;
    for (int i = 1; i < r->count; i++) {
        n += r->att[i].state == HE_ATTEMPT_WAITING || he_race_in_play(r->att[i].state);
    }
    return n;
}

int he_race_run(struct he_race *r, const struct he_race_io *io) {
    if (!he_race_begin(r, io)) {
        return r->result;
    }
    while (he_race_advance(r, io)) {
        int index = -1, err = 0;
        enum he_wait_result rc =
            io->wait(io->ctx, r, he_race_wait_ms(r, io->now_ms(io->ctx)), &index, &err);
        if (rc == HE_WAIT_ERROR) {
            he_race_cancel_rest(r, io, -1, 0);
            he_race_end(r, -err);
            return -err;
        }
        /* NEWS: candidates joined; TIMEOUT: time passed.  The schedule
         * decides anew. */
        if (rc == HE_WAIT_DONE) {
            he_race_settle(r, io, index, err);
        }
    }
    return r->result;
}

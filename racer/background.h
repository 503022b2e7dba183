/* Races for non-blocking connects, driven by a helper thread while the
 * program waits in its own poll/select/epoll loop (DESIGN.md, "Non-blocking
 * connects").
 *
 * The hook has started the caller's own attempt (connect() said
 * EINPROGRESS, which the program gets at once).  he_bg_start hands the race
 * over: the helper thread, started on first use with every signal blocked,
 * starts the siblings on the RFC 8305 schedule, and when one wins splices it
 * onto the caller's fd under the lock of racer/fdmap.h, after checking the
 * number still holds the caller's socket.  The close/dup2/dup3/close_range/
 * closefrom and epoll_ctl hooks call in here so that a race never outlives
 * the program's fd and its epoll registrations follow the splice. */
#ifndef HE_BACKGROUND_H
#define HE_BACKGROUND_H

#include "connector.h"

/* Races pending at once; more connects are left to the kernel. */
#define HE_BG_MAX 4096
/* The helper thread ends after this long without a race: a process that
 * stops racing holds no thread and no descriptor of libhe's. */
#define HE_BG_IDLE_MS 1000

struct he_bg_request {
    /* The caller's connector as the hook set it up before connect(): sys,
     * fd, fl, family, addr, addrlen and the local address (note_local). */
    const struct he_connector *c;
    const struct he_addr *first; /* the caller's own address */
    const struct he_addr *addrs; /* the name's addresses */
    int n;
    const char *name;
    int delay_ms, max_attempts;
    /* From the history (history/plan.h): addresses that failed lately,
     * raced last, and whether the best sibling starts at once. */
    const struct he_addr *bad;
    int nbad;
    int sibling_at_once;
    int own_redirected; /* the caller's socket went to a sibling (he_race's) */
    /* HE_FAULTS's delay:MS (shim/faults.c): attempt 0 waits at a sink,
     * the one sibling is the real address, started after exactly
     * delay_ms; not logged as a race, not counted, not remembered. */
    int fault_delay;
    /* HE_BANNER_TIMEOUT_MS when the port is one of HE_BANNER_PORTS: a
     * banner race (racer/race.h), else 0. */
    int banner_ms;
};

/* libc's functions for everything here, and HE_RESCUE_WAIT_MS (0: no
 * rescue of a failed own attempt); set once by he_init. */
void he_bg_setup(const struct he_libc *sys, int rescue_ms);

/* Hands a caller's attempt in flight to the helper thread.  Returns 0 when
 * a race is pending, or -errno when not (already finished, EMFILE, no
 * thread, ...): the caller's attempt then simply goes on.  Never changes
 * what the program sees. */
int he_bg_start(const struct he_bg_request *q);

/* The program reads the outcome of its non-blocking connect on fd:
 * getsockopt(SO_ERROR) read err (taken from the socket already), or a
 * connect() again (err 0: not read).  When fd's race has siblings left and
 * the caller's own attempt failed, waits until a sibling is spliced onto fd
 * or the race ends: at most HE_RESCUE_WAIT_MS after the failure
 * (racer/rescue.c).  Returns 1 when fd now holds a spliced winner, else 0:
 * the program's own answer stands. */
int he_bg_rescue(int fd, int err);
/* getsockopt(fd, SOL_SOCKET, SO_ERROR, value, len) for the program's end
 * of a pending race: read under the race's lock, and when it says the
 * caller's own attempt failed, the wait above; then the winner's answer,
 * or the error read.  Returns as getsockopt does. */
int he_bg_sockerr(int fd, void *value, socklen_t *len);

/* The hooks.  Each does what libc's call would, after cancelling a race
 * pending on a number it closes or replaces; libhe's own descriptors are
 * never closed under a race: close() of one does nothing and says 0 (the
 * number is not the program's), dup2/dup3 onto one first moves it away,
 * close_range/closefrom leave them out. */
int he_bg_close(int fd);
int he_bg_dup_target(int newfd); /* before dup2/dup3 onto newfd */
int he_bg_close_range(unsigned first, unsigned last, int flags);
void he_bg_closefrom(int lowfd);
int he_bg_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);

void he_bg_fork_prepare(void);
void he_bg_fork_parent(void);
void he_bg_fork_child(void);

#endif

/* close(2), dup2/dup3(2), close_range(2), closefrom(3): the calls that end
 * what an fd number holds.  A non-blocking race pending on the number is
 * cancelled first, so that its winner is never spliced onto whatever the
 * number holds next (racer/background.c); libhe's own descriptors are kept
 * out of the program's way.
 *
 * These run before libhe is set up, and during its set-up: libc's
 * functions come from he_real_get (filled first if need be), and until
 * anything is recorded for a number (racer/fdmap.h) the call goes straight
 * through. */
#include "hook.h"

#include "../racer/background.h"
#include "../racer/fdmap.h"

#include <errno.h>
#include <unistd.h>

/* Whether the hook must look: a number with something recorded, and not a
 * signal handler running on top of libhe's own lock. */
static int he_close_watched(int fd) {
    return he_fdmap_busy(fd) && !he_fdmap_held();
}

HE_EXPORT int close(int fd) {
    he_fdmap_fresh_clear(fd, HE_FRESH_ALL);
    if (he_close_watched(fd)) {
        return he_bg_close(fd);
    }
    return he_real_get()->close(fd);
}

/* dup2/dup3 replace newfd: a race on it ends, libhe's socket there moves. */
static int he_close_before_dup(int oldfd, int newfd) {
    if (oldfd == newfd) {
        return 0;
    }
    /* newfd's socket ends; oldfd's gets newfd as a second number. */
    he_fdmap_fresh_shared(oldfd, newfd);
    if (!he_close_watched(newfd)) {
        return 0;
    }
    int rc = he_bg_dup_target(newfd);
    if (rc != 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}

HE_EXPORT int dup2(int oldfd, int newfd) {
    if (he_close_before_dup(oldfd, newfd) != 0) {
        return -1;
    }
    return he_real_get()->dup2(oldfd, newfd);
}

HE_EXPORT int dup3(int oldfd, int newfd, int flags) {
    if (he_close_before_dup(oldfd, newfd) != 0) {
        return -1;
    }
    return he_real_get()->dup3(oldfd, newfd, flags);
}

/* Whether a range close needs libhe: once it is set up, always (races in
 * the range, its own descriptors, registrations to forget), unless the
 * call only marks close-on-exec. */
static int he_close_range_watched(int flags) {
    return __atomic_load_n(&he_records_live, __ATOMIC_ACQUIRE) && !(flags & CLOSE_RANGE_CLOEXEC) &&
           !he_fdmap_held();
}

HE_EXPORT int close_range(unsigned first, unsigned last, int flags) {
    if (!(flags & CLOSE_RANGE_CLOEXEC)) {
        he_fdmap_fresh_clear_range(first, last);
    }
    if (he_close_range_watched(flags)) {
        return he_bg_close_range(first, last, flags);
    }
    return he_real_get()->close_range(first, last, flags);
}

HE_EXPORT void closefrom(int lowfd) {
    if (lowfd >= 0) {
        he_fdmap_fresh_clear_range((unsigned)lowfd, ~0u);
    }
    if (lowfd >= 0 && he_close_range_watched(0)) {
        he_bg_closefrom(lowfd);
        return;
    }
    he_real_get()->closefrom(lowfd);
}

/* getsockopt(2): the program's read of SO_ERROR on a non-blocking connect
 * whose own attempt failed while its race has siblings left waits, at most
 * HE_RESCUE_WAIT_MS after the failure, for one of them to be spliced onto
 * the fd (racer/rescue.c); then the winner's SO_ERROR, 0, is the answer.
 * Every other call is libc's, with one compare more.  libhe's own
 * getsockopt calls come here too: the helper's hold the lock
 * (he_fdmap_held), and no other reads SO_ERROR of a race's caller fd. */
#include "hook.h"

#include "../racer/background.h"
#include "../racer/fdmap.h"

/* A race is pending on fd only once libhe is set up (he_bg_sockerr uses
 * its table). */
HE_EXPORT int getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
    const struct he_libc *sys = he_real_get();
    if (__builtin_expect(name != SO_ERROR || level != SOL_SOCKET, 1) || !he_fdmap_racing(fd) ||
        value == NULL || len == NULL || *len < (socklen_t)sizeof(int) || he_fdmap_held()) {
        return sys->getsockopt(fd, level, name, value, len);
    }
    return he_bg_sockerr(fd, value, len);
}

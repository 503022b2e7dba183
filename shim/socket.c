/* socket(2), setsockopt(2), and dup(2) and fcntl(2)'s F_DUPFD: the calls
 * that tell connect() what it need not ask.  A TCP socket libhe saw
 * socket() make is fresh (racer/fdmap.h):
 *   - with no bind() since, it is bound to nothing, so a raced connect()
 *     needs no getsockname to learn the program's bind;
 *   - with no setsockopt() since, its options are the kernel's defaults,
 *     so a sibling needs none replayed (with a thousand races at once,
 *     reading them was most of the helper thread's work).
 * Everything else -- a socket inherited, dup()ed, or made by libc
 * internally -- is not fresh and is asked as before, and so is a socket
 * with a second number (dup, F_DUPFD here, dup2/dup3 in shim/close.c): a
 * bind or an option through that number would not clear the first's bits.
 * A bind the hooks cannot see (glibc's bindresvport, the system call made
 * directly) is caught when a sibling is due: its port is outside the
 * ephemeral range (racer/connector.c); an option set with the system call
 * itself is not (README, Limits). */
#include "hook.h"

#include "../racer/fdmap.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <unistd.h>

HE_EXPORT int socket(int domain, int type, int protocol) {
    int fd = he_real_get()->socket(domain, type, protocol);
    if (fd >= 0 && (domain == AF_INET || domain == AF_INET6) &&
        (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
        (protocol == 0 || protocol == IPPROTO_TCP) &&
        __atomic_load_n(&he_records_live, __ATOMIC_ACQUIRE)) {
        he_fdmap_fresh_set(fd, HE_FRESH_ALL);
    }
    return fd;
}

HE_EXPORT int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
    he_fdmap_fresh_clear(fd, HE_FRESH_DEFAULTS);
    return he_real_get()->setsockopt(fd, level, name, value, len);
}

HE_EXPORT int dup(int fd) {
    int rc = he_real_get()->dup(fd);
    if (rc >= 0) {
        he_fdmap_fresh_shared(fd, rc);
    }
    return rc;
}

/* fcntl's third argument is read as glibc itself reads it, a pointer. */
static int he_socket_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg) {
    int rc = real(fd, cmd, arg);
    if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {
        he_fdmap_fresh_shared(fd, rc);
    }
    return rc;
}

HE_EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return he_socket_fcntl(he_real_get()->fcntl, fd, cmd, arg);
}

HE_EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return he_socket_fcntl(he_real_get()->fcntl64, fd, cmd, arg);
}

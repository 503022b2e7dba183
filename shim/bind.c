/* bind(2): notes in the fd's record (racer/fdmap.h) which sockets were
 * bound with port 0, so that connect() can tell such a bind (the kernel
 * picks the port at bind time, unless IP_BIND_ADDRESS_NO_PORT) from a
 * fixed local port, which cannot be raced.  shim/connect.c notes the
 * sockets a raced connect() left connecting the same way (HE_BIND_AUTO). */
#include "hook.h"

#include "../racer/fdmap.h"

#include <errno.h>

/* A bind to a fixed port after an earlier note (the program disconnected
 * with AF_UNSPEC and bound again) replaces the note. */
HE_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    int active = he_init();
    he_fdmap_fresh_clear(fd, HE_FRESH_UNBOUND); /* bound now, or in doubt */
    int rc = he_real.bind(fd, addr, len);
    struct he_addr inet;
    if (active && rc == 0 && he_addr_from_sockaddr(&inet, addr, len) == 0) {
        int saved = errno;
        he_fdmap_bind_note(fd, he_sockaddr_port(addr) == 0 ? HE_BIND_PORT0 : HE_BIND_CHOSEN);
        errno = saved;
    }
    return rc;
}

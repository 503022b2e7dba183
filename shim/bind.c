/* bind(2): remembers which sockets were bound with port 0, so that connect()
 * can tell such a bind (the kernel picks the port at bind time, unless
 * IP_BIND_ADDRESS_NO_PORT) from a fixed local port, which cannot be raced. */
#include "hook.h"

#include "../common/lock.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/stat.h>

/* Direct-mapped by fd number.  Two port-0 binds on numbers that collide
 * lose the older one: that socket then looks fixed-port and is not raced,
 * which is safe. */
#define HE_BIND_SLOTS 256

struct he_bind_slot {
    int used;
    int fd;
    dev_t dev;
    ino_t ino;
};

static struct he_bind_slot he_bind_slots[HE_BIND_SLOTS];
static pthread_mutex_t he_bind_lock = PTHREAD_MUTEX_INITIALIZER;

static int he_bind_port_is_zero(const struct sockaddr *addr, socklen_t len) {
    if (addr == NULL) {
        return 0;
    }
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        return ((const struct sockaddr_in *)addr)->sin_port == 0;
    }
    if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        return ((const struct sockaddr_in6 *)addr)->sin6_port == 0;
    }
    return 0;
}

static void he_bind_note(int fd) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        return;
    }
    sigset_t old;
    he_lock_signals(&he_bind_lock, &old);
    he_bind_slots[fd % HE_BIND_SLOTS] = (struct he_bind_slot){1, fd, st.st_dev, st.st_ino};
    he_unlock_signals(&he_bind_lock, &old);
}

int he_bind_was_port0(int fd) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        return 0;
    }
    sigset_t old;
    he_lock_signals(&he_bind_lock, &old);
    const struct he_bind_slot *s = &he_bind_slots[fd % HE_BIND_SLOTS];
    int yes = s->used && s->fd == fd && s->dev == st.st_dev && s->ino == st.st_ino;
    he_unlock_signals(&he_bind_lock, &old);
    return yes;
}

HE_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    int active = he_init();
    int rc = he_real.bind(fd, addr, len);
    if (active && rc == 0 && he_bind_port_is_zero(addr, len)) {
        int saved = errno;
        he_bind_note(fd);
        errno = saved;
    }
    return rc;
}

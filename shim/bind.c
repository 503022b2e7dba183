/* bind(2): remembers which sockets were bound with port 0, so that connect()
 * can tell such a bind (the kernel picks the port at bind time, unless
 * IP_BIND_ADDRESS_NO_PORT) from a fixed local port, which cannot be raced.
 *
 * The same table remembers sockets that a raced connect() left connecting
 * (EINTR, SO_SNDTIMEO's EINPROGRESS): the kernel bound them to an ephemeral
 * port, and when the program calls connect() again they are still
 * unbound as far as the program is concerned. */
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
    int used; /* 0, or enum he_bind_kind */
    int fd;
    dev_t dev;
    ino_t ino;
};

static struct he_bind_slot he_bind_slots[HE_BIND_SLOTS];
static pthread_mutex_t he_bind_lock = PTHREAD_MUTEX_INITIALIZER;

void he_bind_note(int fd, enum he_bind_kind kind) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        return;
    }
    sigset_t old;
    he_lock_signals(&he_bind_lock, &old);
    struct he_bind_slot *s = &he_bind_slots[fd % HE_BIND_SLOTS];
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    __atomic_store_n(&s->fd, fd, __ATOMIC_RELAXED);
    __atomic_store_n(&s->used, (int)kind, __ATOMIC_RELAXED);
    he_unlock_signals(&he_bind_lock, &old);
}

int he_bind_kind_of(int fd) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        return HE_BIND_FIXED;
    }
    sigset_t old;
    he_lock_signals(&he_bind_lock, &old);
    const struct he_bind_slot *s = &he_bind_slots[fd % HE_BIND_SLOTS];
    int kind = s->used && s->fd == fd && s->dev == st.st_dev && s->ino == st.st_ino ? s->used
                                                                                    : HE_BIND_FIXED;
    he_unlock_signals(&he_bind_lock, &old);
    return kind;
}

/* Most binds and disconnects concern a socket with no note: a look
 * without the lock (and its two system calls) settles those. */
void he_bind_forget(int fd) {
    if (fd < 0) {
        return;
    }
    struct he_bind_slot *peek = &he_bind_slots[fd % HE_BIND_SLOTS];
    if (!__atomic_load_n(&peek->used, __ATOMIC_RELAXED) ||
        __atomic_load_n(&peek->fd, __ATOMIC_RELAXED) != fd) {
        return;
    }
    sigset_t old;
    he_lock_signals(&he_bind_lock, &old);
    struct he_bind_slot *s = &he_bind_slots[fd % HE_BIND_SLOTS];
    if (s->used && s->fd == fd) {
        __atomic_store_n(&s->used, 0, __ATOMIC_RELAXED);
    }
    he_unlock_signals(&he_bind_lock, &old);
}

/* A bind to a fixed port after an earlier note (the program disconnected
 * with AF_UNSPEC and bound again) replaces the note. */
HE_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    int active = he_init();
    int rc = he_real.bind(fd, addr, len);
    struct he_addr inet;
    if (active && rc == 0 && he_addr_from_sockaddr(&inet, addr, len) == 0) {
        int saved = errno;
        if (he_sockaddr_port(addr) == 0) {
            he_bind_note(fd, HE_BIND_PORT0);
        } else {
            he_bind_forget(fd);
        }
        errno = saved;
    }
    return rc;
}

/* Fork: the forking thread holds the table's lock across fork (signals are
 * already blocked by the name memory's prepare handler, which runs first). */
void he_bind_fork_prepare(void) {
    pthread_mutex_lock(&he_bind_lock);
}

void he_bind_fork_parent(void) {
    pthread_mutex_unlock(&he_bind_lock);
}

void he_bind_fork_child(void) {
    pthread_mutex_init(&he_bind_lock, NULL);
}

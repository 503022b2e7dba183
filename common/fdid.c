#include "fdid.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static int he_fdid_cookie(int fd, uint64_t *cookie) {
    socklen_t len = sizeof *cookie;
    return getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len) == 0 && *cookie != 0;
}

static int he_fdid_stat(int fd, struct he_fdid *id) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        return -ENOTSOCK;
    }
    id->cookie = 0;
    id->dev = (uint64_t)st.st_dev;
    id->ino = (uint64_t)st.st_ino;
    return 0;
}

int he_fdid_of(int fd, struct he_fdid *id) {
    memset(id, 0, sizeof *id);
    if (he_fdid_cookie(fd, &id->cookie)) {
        return 0;
    }
    return he_fdid_stat(fd, id);
}

int he_fdid_same(int fd, const struct he_fdid *id) {
    if (id->cookie != 0) {
        uint64_t now = 0;
        return he_fdid_cookie(fd, &now) && now == id->cookie;
    }
    struct he_fdid now = {0, 0, 0};
    return he_fdid_stat(fd, &now) == 0 && now.dev == id->dev && now.ino == id->ino;
}

/* A ring of moves, written and read under a spin flag held for a copy:
 * a reader that finds it taken (a signal handler on the writer's thread)
 * counts the socket as not moved. */
static struct { uint64_t from, to; } he_fdid_moves[HE_FDID_MOVES];
static unsigned he_fdid_next;
static int he_fdid_busy;

void he_fdid_moved(const struct he_fdid *from, const struct he_fdid *to) {
    if (from->cookie == 0 || to->cookie == 0) {
        return;
    }
    while (__atomic_exchange_n(&he_fdid_busy, 1, __ATOMIC_ACQUIRE)) {
    }
    unsigned i = he_fdid_next++ % HE_FDID_MOVES;
    he_fdid_moves[i].from = from->cookie;
    he_fdid_moves[i].to = to->cookie;
    __atomic_store_n(&he_fdid_busy, 0, __ATOMIC_RELEASE);
}

int he_fdid_follow(int fd, struct he_fdid *id) {
    if (he_fdid_same(fd, id)) {
        return 1;
    }
    uint64_t now = 0;
    if (id->cookie == 0 || !he_fdid_cookie(fd, &now) ||
        __atomic_exchange_n(&he_fdid_busy, 1, __ATOMIC_ACQUIRE)) {
        return 0;
    }
    /* Follow the chain from id's socket; each step is a recorded move. */
    uint64_t at = id->cookie;
    for (int steps = 0; steps < HE_FDID_MOVES && at != now; steps++) {
        uint64_t next = 0;
        for (int i = 0; i < HE_FDID_MOVES; i++) {
            if (he_fdid_moves[i].from == at) {
                next = he_fdid_moves[i].to;
            }
        }
        if (next == 0) {
            break;
        }
        at = next;
    }
    __atomic_store_n(&he_fdid_busy, 0, __ATOMIC_RELEASE);
    if (at != now) {
        return 0;
    }
    id->cookie = now;
    return 1;
}

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

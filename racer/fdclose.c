/* What the hooks that end or change what an fd number holds (close,
 * dup2/dup3 onto it, close_range, closefrom, epoll_ctl) do to the helper
 * thread's races and to libhe's own descriptors, next to the fd table they
 * keep (racer/fdmap.h): a race on a closed number is cancelled, libhe's
 * descriptors are kept out of the program's way, and range closes forget
 * what the numbers held (racer/background.h lists the promises). */
#include "bg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>

/* ---------------------------------------------------------------- hooks */

/* The helper's own descriptor at fd (its epoll, its eventfd, or a
 * stand-ins' listener, racer/rescue.c) is at to now. */
static void he_bg_move_helper(int fd, int to) {
    if (fd == he_bg.ep) {
        he_bg.ep = to;
    } else if (fd == he_bg.evfd) {
        he_bg.evfd = to;
    }
    for (int f = 0; f < 2; f++) {
        for (int k = 0; k < 2 && he_bg.sink[f].refs > 0; k++) {
            if (he_bg.sink[f].fds[k] == fd) {
                he_bg.sink[f].fds[k] = to;
            }
        }
    }
}

/* Moves libhe's descriptor at fd to another number, so that the program
 * can have that one.  Returns 0, or -errno (it stays). */
static int he_bg_move(int fd, struct he_fd_slot *s) {
    int to = he_bg.sys->fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (to < 0) {
        return -errno;
    }
    struct he_fd_slot *t = he_fdmap_slot(to, 1);
    if (t == NULL) {
        he_bg.sys->close(to);
        return -ENOMEM;
    }
    int race = s->race - 1;
    if (s->role == HE_FD_HELPER) {
        he_bg_move_helper(fd, to);
    } else if (race >= 0 && he_bg.race[race] != NULL) {
        struct he_bg_race *b = he_bg.race[race];
        if (b->dupfd == fd) {
            b->dupfd = b->c.fd = to;
        }
        if (b->has_standin && b->standin == fd) {
            b->standin = to;
        }
        for (int i = 1; i < b->r.count; i++) {
            if (b->r.att[i].handle == fd) {
                b->r.att[i].handle = to;
            }
        }
    }
    he_bg_mark(to, (enum he_fd_role)s->role, race);
    he_bg_close_own(fd);
    return 0;
}

/* Whether the program may go on and close (or replace) a number. */
enum he_release {
    HE_RELEASE_FREE = 0, /* the program's: what libhe had on it is forgotten */
    HE_RELEASE_KEEP,     /* libhe's own descriptor, which could not be moved away */
};

/* What the program's close or replacement of fd means for libhe: a race on
 * it is cancelled; libhe's own descriptor there is moved away (move) or
 * kept. */
static enum he_release he_bg_release(int fd, int move) {
    struct he_fd_slot *s = he_fdmap_slot(fd, 0);
    if (s == NULL) {
        return HE_RELEASE_FREE;
    }
    if (s->role == HE_FD_CALLER && s->race > 0 && he_bg.race[s->race - 1] != NULL) {
        he_bg_retire(s->race - 1, "cancelled: the program closed or replaced the fd");
    } else if (s->role == HE_FD_PRIVATE || s->role == HE_FD_HELPER) {
        if (!move || he_bg_move(fd, s) != 0) {
            return HE_RELEASE_KEEP;
        }
    }
    he_fdmap_forget(fd);
    return HE_RELEASE_FREE;
}

/* close() and dup2/dup3 hold the lock with every signal blocked: a handler
 * that siglongjmps (wget's connect timeout) must not leave it held.  Only
 * numbers with something recorded get here (shim/close.c). */
int he_bg_close(int fd) {
    sigset_t old;
    he_fdmap_lock(1, &old);
    enum he_release rc = he_bg_release(fd, 0);
    he_fdmap_unlock(1, &old);
    /* close() of libhe's number: not the program's, so nothing to do. */
    return rc == HE_RELEASE_KEEP ? 0 : he_bg.sys->close(fd);
}

int he_bg_dup_target(int newfd) {
    sigset_t old;
    he_fdmap_lock(1, &old);
    enum he_release rc = he_bg_release(newfd, 1);
    he_fdmap_unlock(1, &old);
    return rc == HE_RELEASE_KEEP ? -EBUSY : 0;
}

int he_bg_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
    he_fdmap_lock(0, NULL);
    int rc = he_bg.sys->epoll_ctl(epfd, op, fd, ev);
    int err = errno;
    if (rc == 0) {
        he_fdmap_epoll(epfd, op, fd, ev);
    }
    he_fdmap_unlock(0, NULL);
    errno = err;
    return rc;
}

/* Race b's stand-in (racer/rescue.c), or -1. */
static int he_bg_standin_of(const struct he_bg_race *b) {
    return b->has_standin ? b->standin : -1;
}

static int he_bg_cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* libhe's descriptors in [first, last], sorted, after the races of the
 * program's numbers in that range are cancelled. */
static int he_bg_private_in(unsigned first, unsigned last, int *out, int max) {
    int n = 0;
    for (int i = 0; i < HE_BG_MAX; i++) {
        struct he_bg_race *b = he_bg.race[i];
        if (b != NULL && (unsigned)b->fd >= first && (unsigned)b->fd <= last) {
            he_bg_retire(i, "cancelled: the program closed the fd (close_range)");
        }
    }
    for (int i = 0; i < HE_BG_MAX && n < max; i++) {
        struct he_bg_race *b = he_bg.race[i];
        for (int k = 0; b != NULL && k <= b->r.count && n < max; k++) {
            /* The dup, the siblings, and last a rescue's stand-in. */
            int fd = k == 0 ? b->dupfd : k < b->r.count ? b->r.att[k].handle : he_bg_standin_of(b);
            if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last) {
                out[n++] = fd;
            }
        }
    }
    /* The helper's epoll and eventfd, and the stand-ins' listeners. */
    int helper[6] = {he_bg.ep, he_bg.evfd, -1, -1, -1, -1};
    for (int f = 0; f < 2; f++) {
        if (he_bg.sink[f].refs > 0) {
            helper[2 + 2 * f] = he_bg.sink[f].fds[0];
            helper[3 + 2 * f] = he_bg.sink[f].fds[1];
        }
    }
    for (int k = 0; k < 6 && n < max; k++) {
        if (helper[k] >= 0 && (unsigned)helper[k] >= first && (unsigned)helper[k] <= last) {
            out[n++] = helper[k];
        }
    }
    qsort(out, (size_t)n, sizeof *out, he_bg_cmp_int);
    return n;
}

/* Without close_range(2) (Linux < 5.9): the open numbers in the range, one
 * by one, but libhe's. */
static int he_bg_close_each(unsigned first, unsigned last, const int *keep, int nkeep) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return -1;
    }
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || fd == self || fd < (long)first || fd > (long)last ||
            bsearch(&(int){(int)fd}, keep, (size_t)nkeep, sizeof *keep, he_bg_cmp_int)) {
            continue;
        }
        he_bg.sys->close((int)fd);
    }
    closedir(d);
    return 0;
}

int he_bg_close_range(unsigned first, unsigned last, int flags) {
    enum { MAX = HE_BG_MAX * 4 + 6 };
    static int keep[MAX]; /* under the lock */
    he_fdmap_lock(0, NULL);
    int n = he_bg_private_in(first, last, keep, MAX);
    int rc = 0;
    unsigned from = first;
    for (int k = 0; k < n && rc == 0; k++) {
        if ((unsigned)keep[k] > from) {
            rc = he_bg.sys->close_range(from, (unsigned)keep[k] - 1, flags);
        }
        from = (unsigned)keep[k] + 1;
    }
    if (rc == 0 && from <= last && (n == 0 || (unsigned)keep[n - 1] != last)) {
        rc = he_bg.sys->close_range(from, last, flags);
    }
    if (rc != 0 && errno == ENOSYS && flags == 0) {
        rc = he_bg_close_each(first, last, keep, n);
    }
    int err = errno;
    he_fdmap_forget_range(first, last);
    he_fdmap_unlock(0, NULL);
    errno = err;
    return rc;
}

void he_bg_closefrom(int lowfd) {
    if (he_bg_close_range((unsigned)lowfd, ~0u, 0) != 0) {
        /* Nothing libhe can do that closefrom would not: it never fails. */
    }
}

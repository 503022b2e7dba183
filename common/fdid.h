/* Which socket (or file) an fd number holds: the one answer to "does this
 * number still hold the socket it held when I looked?", asked by the
 * blocking race's thread record (racer/strand.c), the helper's splice
 * (racer/splice.c) and the fd table's bind notes (racer/fdmap.c).
 *
 * A socket is named by SO_COOKIE (Linux 4.12): a number the kernel never
 * gives two sockets in one boot.  Where SO_COOKIE is missing (an older
 * kernel, or not a socket), fstat's device and inode name it; an inode
 * number can be reused once its file is gone, so the caller must hold the
 * file (a dup) or accept that rare false "same". */
#ifndef HE_FDID_H
#define HE_FDID_H

#include <stdint.h>

struct he_fdid {
    uint64_t cookie; /* SO_COOKIE, 0 when fstat's numbers are used */
    uint64_t dev, ino;
};

/* Fills *id for what fd holds now.  Returns 0, or -errno (EBADF: nothing
 * there). */
int he_fdid_of(int fd, struct he_fdid *id);

/* Whether fd holds what id names: 1 yes, 0 no (or nothing there).  A
 * cookie matches sockets only; dev and inode match sockets only too. */
int he_fdid_same(int fd, const struct he_fdid *id);

/* libhe itself put the socket to on the number that held from (HE_FAULTS's
 * delay splices the real connection in while a blocking race on this very
 * fd waits).  Kept for the last HE_FDID_MOVES moves; sockets with a cookie
 * only. */
#define HE_FDID_MOVES 64
void he_fdid_moved(const struct he_fdid *from, const struct he_fdid *to);

/* Whether fd holds what *id names, or what libhe moved it to (then *id
 * names that from now on). */
int he_fdid_follow(int fd, struct he_fdid *id);

#endif

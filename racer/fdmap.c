#include "fdmap.h"

#include "../common/lock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

static pthread_mutex_t he_fdmap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t he_fdmap_cv = PTHREAD_COND_INITIALIZER;
static __thread int he_fdmap_mine __attribute__((tls_model("initial-exec")));
/* The first chunk (fds 0..1023, where nearly every program's sockets are)
 * is static: noting a bind there never allocates, so bind() in a signal
 * handler cannot meet malloc's lock. */
static struct he_fd_slot he_fdmap_chunk0[1 << HE_FDMAP_CHUNK_BITS];
static struct he_fd_slot *he_fdmap_chunks[HE_FDMAP_CHUNKS] = {he_fdmap_chunk0};
static int he_fdmap_lost;

void he_fdmap_lock(int block_signals, sigset_t *old) {
    if (block_signals) {
        he_block_signals(old);
    }
    /* Set before the lock is taken: a handler that runs in between sees
     * it and keeps off the lock. */
    he_fdmap_mine = 1;
    pthread_mutex_lock(&he_fdmap_mu);
}

void he_fdmap_unlock(int block_signals, const sigset_t *old) {
    pthread_mutex_unlock(&he_fdmap_mu);
    he_fdmap_mine = 0;
    if (block_signals) {
        he_restore_signals(old);
    }
}

void he_fdmap_wait(int64_t until_ms) {
    struct timespec ts = {(time_t)(until_ms / 1000), (long)(until_ms % 1000) * 1000000};
    pthread_cond_clockwait(&he_fdmap_cv, &he_fdmap_mu, CLOCK_MONOTONIC, &ts);
}

void he_fdmap_wake(void) {
    pthread_cond_broadcast(&he_fdmap_cv);
}

int he_fdmap_held(void) {
    return he_fdmap_mine;
}

static struct he_fd_slot *he_fdmap_chunk(int fd) {
    return __atomic_load_n(&he_fdmap_chunks[(unsigned)fd >> HE_FDMAP_CHUNK_BITS], __ATOMIC_ACQUIRE);
}

struct he_fd_slot *he_fdmap_slot(int fd, int create) {
    if (fd < 0 || ((unsigned)fd >> HE_FDMAP_CHUNK_BITS) >= HE_FDMAP_CHUNKS) {
        return NULL;
    }
    struct he_fd_slot *chunk = he_fdmap_chunk(fd);
    if (chunk == NULL && create) {
        chunk = calloc((size_t)1 << HE_FDMAP_CHUNK_BITS, sizeof *chunk);
        if (chunk == NULL) {
            return NULL;
        }
        __atomic_store_n(&he_fdmap_chunks[(unsigned)fd >> HE_FDMAP_CHUNK_BITS], chunk,
                         __ATOMIC_RELEASE);
    }
    return chunk ? &chunk[fd & ((1 << HE_FDMAP_CHUNK_BITS) - 1)] : NULL;
}

void he_fdmap_touch(struct he_fd_slot *s) {
    __atomic_store_n(
        &s->busy,
        (unsigned char)((s->role != HE_FD_NONE || s->nreg != 0 || s->bind != HE_BIND_FIXED) |
                        (s->role == HE_FD_CALLER) << 1),
        __ATOMIC_RELEASE);
}

static unsigned he_fdmap_busy_bits(int fd) {
    if (fd < 0 || ((unsigned)fd >> HE_FDMAP_CHUNK_BITS) >= HE_FDMAP_CHUNKS) {
        return 0;
    }
    struct he_fd_slot *chunk = he_fdmap_chunk(fd);
    return chunk ? __atomic_load_n(&chunk[fd & ((1 << HE_FDMAP_CHUNK_BITS) - 1)].busy,
                                   __ATOMIC_ACQUIRE)
                 : 0;
}

int he_fdmap_busy(int fd) {
    return he_fdmap_busy_bits(fd) != 0;
}

int he_fdmap_racing(int fd) {
    return (he_fdmap_busy_bits(fd) & 2) != 0;
}

void he_fdmap_bind_note(int fd, enum he_bind_kind kind) {
    struct he_fdid id;
    if (he_fdmap_held() || (kind != HE_BIND_FIXED && he_fdid_of(fd, &id) != 0)) {
        return;
    }
    if (kind == HE_BIND_FIXED && !he_fdmap_busy(fd)) {
        return; /* nothing to forget: no lock, no system call */
    }
    sigset_t old;
    he_fdmap_lock(1, &old);
    struct he_fd_slot *s = he_fdmap_slot(fd, kind != HE_BIND_FIXED);
    if (s != NULL) {
        s->bind = (unsigned char)kind;
        if (kind != HE_BIND_FIXED) {
            s->bind_id = id;
        }
        he_fdmap_touch(s);
    }
    he_fdmap_unlock(1, &old);
}

enum he_bind_kind he_fdmap_bind_kind(int fd) {
    if (!he_fdmap_busy(fd) || he_fdmap_held()) {
        return HE_BIND_FIXED;
    }
    sigset_t old;
    he_fdmap_lock(1, &old);
    const struct he_fd_slot *s = he_fdmap_slot(fd, 0);
    enum he_bind_kind kind = s ? (enum he_bind_kind)s->bind : HE_BIND_FIXED;
    struct he_fdid id = kind != HE_BIND_FIXED ? s->bind_id : (struct he_fdid){0, 0, 0};
    he_fdmap_unlock(1, &old);
    /* Checked outside the lock: a number closed by glibc internally, or
     * by a raw syscall, may hold another socket now. */
    return kind != HE_BIND_FIXED && he_fdid_same(fd, &id) ? kind : HE_BIND_FIXED;
}

/* Two bits per fd number the map covers (HE_FRESH_*), 32 numbers a word:
 * 256 KiB of zeroes until used.  he_fdmap_fresh_top is one past the
 * highest number ever marked: a range close (closefrom(3) in every
 * spawned child) clears only up to it, not the whole table. */
#define HE_FDMAP_FRESH_WORDS ((HE_FDMAP_CHUNKS << HE_FDMAP_CHUNK_BITS) / 32)
static uint64_t he_fdmap_fresh_bits[HE_FDMAP_FRESH_WORDS];
static unsigned he_fdmap_fresh_top;

static int he_fdmap_in_range(int fd) {
    return fd >= 0 && ((unsigned)fd >> HE_FDMAP_CHUNK_BITS) < HE_FDMAP_CHUNKS;
}

static uint64_t *he_fdmap_fresh_word(int fd, uint64_t bits, uint64_t *mask) {
    *mask = bits << (2 * (fd & 31));
    return &he_fdmap_fresh_bits[fd >> 5];
}

/* Only socket() sets a number's bits, so its two steps need no more:
 * other numbers' bits in the word are never touched. */
void he_fdmap_fresh_set(int fd, unsigned bits) {
    if (he_fdmap_in_range(fd)) {
        he_fdmap_fresh_clear(fd, HE_FRESH_ALL);
        uint64_t mask, *w = he_fdmap_fresh_word(fd, bits, &mask);
        __atomic_fetch_or(w, mask, __ATOMIC_RELEASE);
        unsigned top = __atomic_load_n(&he_fdmap_fresh_top, __ATOMIC_RELAXED);
        while ((unsigned)fd >= top &&
               !__atomic_compare_exchange_n(&he_fdmap_fresh_top, &top, (unsigned)fd + 1, 1,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        }
    }
}

void he_fdmap_fresh_clear(int fd, unsigned bits) {
    if (he_fdmap_in_range(fd)) {
        uint64_t mask, *w = he_fdmap_fresh_word(fd, bits, &mask);
        if (__atomic_load_n(w, __ATOMIC_RELAXED) & mask) {
            __atomic_fetch_and(w, ~mask, __ATOMIC_RELEASE);
        }
    }
}

unsigned he_fdmap_fresh(int fd) {
    if (!he_fdmap_in_range(fd)) {
        return 0;
    }
    uint64_t w = __atomic_load_n(&he_fdmap_fresh_bits[fd >> 5], __ATOMIC_ACQUIRE);
    return (unsigned)(w >> (2 * (fd & 31))) & HE_FRESH_ALL;
}

void he_fdmap_fresh_shared(int fd, int other) {
    he_fdmap_fresh_clear(fd, HE_FRESH_ALL);
    he_fdmap_fresh_clear(other, HE_FRESH_ALL);
}

void he_fdmap_fresh_clear_range(unsigned first, unsigned last) {
    const unsigned end = __atomic_load_n(&he_fdmap_fresh_top, __ATOMIC_RELAXED);
    for (unsigned fd = first; fd <= last && fd < end; fd++) {
        if ((fd & 31) == 0 && last - fd >= 31) {
            __atomic_store_n(&he_fdmap_fresh_bits[fd >> 5], 0, __ATOMIC_RELEASE);
            fd += 31;
        } else {
            he_fdmap_fresh_clear((int)fd, HE_FRESH_ALL);
        }
    }
}

static int he_fdmap_find(const struct he_fd_slot *s, int epfd) {
    for (int i = 0; s->nreg != HE_FDMAP_UNKNOWN && i < s->nreg; i++) {
        if (s->reg[i].epfd == epfd) {
            return i;
        }
    }
    return -1;
}

/* ADD, and a MOD of a registration made before libhe saw it: the entry
 * for epfd, new or replaced. */
static void he_fdmap_put(struct he_fd_slot *s, int epfd, const struct epoll_event *ev) {
    if (s->nreg == HE_FDMAP_UNKNOWN) {
        return;
    }
    int i = he_fdmap_find(s, epfd);
    if (i < 0) {
        if (s->nreg == HE_FDMAP_REGS) {
            s->nreg = HE_FDMAP_UNKNOWN;
            return;
        }
        i = s->nreg++;
    }
    s->reg[i] = (struct he_fdmap_reg){epfd, ev->events, ev->data.u64};
}

void he_fdmap_epoll(int epfd, int op, int fd, const void *evp) {
    const struct epoll_event *ev = evp;
    struct he_fd_slot *s = he_fdmap_slot(fd, op != EPOLL_CTL_DEL);
    if (s == NULL) {
        if (op != EPOLL_CTL_DEL && fd >= 0) {
            __atomic_store_n(&he_fdmap_lost, 1, __ATOMIC_RELAXED);
        }
        return;
    }
    if (op == EPOLL_CTL_DEL) {
        int i = he_fdmap_find(s, epfd);
        if (i >= 0) {
            s->reg[i] = s->reg[--s->nreg];
        }
    } else if (ev != NULL) {
        he_fdmap_put(s, epfd, ev);
    }
    he_fdmap_touch(s);
}

void he_fdmap_forget(int fd) {
    struct he_fd_slot *s = he_fdmap_slot(fd, 0);
    if (s != NULL) {
        s->nreg = 0;
        s->bind = HE_BIND_FIXED;
        he_fdmap_touch(s);
    }
}

void he_fdmap_forget_range(unsigned first, unsigned last) {
    const unsigned mask = (1u << HE_FDMAP_CHUNK_BITS) - 1;
    for (unsigned c = first >> HE_FDMAP_CHUNK_BITS;
         c < HE_FDMAP_CHUNKS && c <= last >> HE_FDMAP_CHUNK_BITS; c++) {
        struct he_fd_slot *chunk = he_fdmap_chunks[c];
        unsigned lo = c == first >> HE_FDMAP_CHUNK_BITS ? first & mask : 0;
        unsigned hi = c == last >> HE_FDMAP_CHUNK_BITS ? last & mask : mask;
        for (unsigned i = lo; chunk != NULL && i <= hi; i++) {
            chunk[i].nreg = 0;
            chunk[i].bind = HE_BIND_FIXED;
            he_fdmap_touch(&chunk[i]);
        }
    }
}

int he_fdmap_incomplete(void) {
    return __atomic_load_n(&he_fdmap_lost, __ATOMIC_RELAXED);
}

void he_fdmap_fork_child(void) {
    pthread_mutex_init(&he_fdmap_mu, NULL);
    pthread_cond_init(&he_fdmap_cv, NULL);
    he_fdmap_mine = 0;
}

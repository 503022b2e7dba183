/* The name memory's inside, as resolver/memo.c (the table: names, the
 * address index, learning) and resolver/memopick.c (which name an address
 * belongs to, and the threads' own records that decide it) share it. */
#ifndef HE_MEMO_INT_H
#define HE_MEMO_INT_H

#include "memo.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

/* One address of one name; it sits both in its name's array and in the
 * address index chain of its bucket. */
struct he_memo_link {
    struct he_addr addr;
    struct he_memo_entry *entry;
    struct he_memo_link *next;
    int former; /* an address the name used to have */
};

struct he_memo_entry {
    struct he_memo_entry *lru_prev, *lru_next; /* head = most recently used */
    struct he_memo_entry *name_next;           /* name index chain */
    uint64_t who;                              /* thread that last resolved it */
    uint64_t seq;                              /* when, in learn order */
    uint64_t id;                               /* unique in the process, never reused */
    uint32_t name_hash;
    int count;                  /* current addresses */
    int nformer;                /* former ones, after them in links */
    struct he_memo_link *links; /* current ones in the order libc gave */
    int fam_known;              /* HE_MEMO_FAM_* bits some answer covered */
    int64_t expires[2];         /* per family: [0] IPv4, [1] IPv6 */
    int64_t refresh_ms;         /* last DNS refresh claimed, 0: none */
    char name[];
};

struct he_memo {
    pthread_mutex_t lock;
    sigset_t fork_mask; /* the forking thread's mask, held across fork */
    size_t max_names, names;
    uint64_t seq;
    int learned;     /* read without the lock: set once, never cleared */
    size_t nbuckets; /* power of two, for both indexes */
    struct he_memo_entry **by_name;
    struct he_memo_link **by_addr;
    struct he_memo_entry *lru_head, *lru_tail;
};

#define HE_MEMO_BUCKETS_MAX ((size_t)1 << 16)

/* Bumped by every change to any name memory (and by creating one), so that
 * a thread's cached lookups and learns are known to be current without
 * taking the lock (memo.c). */
extern uint64_t he_memo_gen;

static inline uint64_t he_memo_gen_now(void) {
    return __atomic_load_n(&he_memo_gen, __ATOMIC_ACQUIRE);
}

/* The memory's lock, held with all signals blocked (common/lock.h). */
void he_memo_lock(struct he_memo *m, sigset_t *old);
void he_memo_unlock(struct he_memo *m, const sigset_t *old);
/* Moves e to the front of the LRU list.  Lock held. */
void he_memo_touch_nolock(struct he_memo *m, struct he_memo_entry *e);
/* Whether links[0..n) holds a. */
int he_memo_has(const struct he_memo_link *links, int n, const struct he_addr *a);

/* Notes that who resolved e just now (e->seq), in the calling thread's
 * record of its last names (memopick.c).  Lock held. */
void he_memo_trecent_note_nolock(const struct he_memo *m, const struct he_memo_entry *e,
                                 uint64_t who);

#endif

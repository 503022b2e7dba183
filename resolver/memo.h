/* The name memory: which addresses each host name resolved to.
 *
 * Every answer the program receives from getaddrinfo/gethostbyname* is
 * learned here: the name and its full address list, in the order libc gave
 * it.  connect() asks, for the address it is given, which name it belongs to
 * and what that name's other addresses are.
 *
 * Bounded: at most max_names names, least recently used evicted first, and at
 * most HE_MEMO_MAX_ADDRS addresses per name.  Thread-safe: one mutex, held
 * with all signals blocked so that a signal handler can neither re-enter it
 * nor siglongjmp out of it with the lock held.  Never held across a blocking
 * call. */
#ifndef HE_MEMO_H
#define HE_MEMO_H

#include "../common/addr.h"

#include <stddef.h>
#include <stdint.h>

#define HE_MEMO_MAX_ADDRS 32
#define HE_MEMO_NAME_MAX 256

/* Which families an answer covers: a lookup for AF_INET replaces only what
 * the name had for IPv4. */
#define HE_MEMO_FAM_V4 1
#define HE_MEMO_FAM_V6 2
#define HE_MEMO_FAM_ALL 3

struct he_memo;

/* Addresses a name no longer resolves to that are still remembered as its
 * own: a program that resolved once and keeps connecting to the old address
 * is raced against the name's current ones. */
#define HE_MEMO_MAX_FORMER 8

/* What a lookup returns: the name, a copy of its current addresses, and how
 * fresh each family's answer is. */
struct he_memo_answer {
    char name[HE_MEMO_NAME_MAX];
    int count;
    int fam_known;          /* HE_MEMO_FAM_* bits some answer covered */
    int former;             /* the address looked up is one the name used to have */
    int64_t fam_expires[2]; /* per family: [0] IPv4, [1] IPv6; 0 when unknown */
    struct he_addr addrs[HE_MEMO_MAX_ADDRS];
};

/* Returns a new memory for at most max_names names, or NULL (ENOMEM). */
struct he_memo *he_memo_new(size_t max_names);
void he_memo_free(struct he_memo *m);

/* Records that name resolved to addrs[0..n) for the families in fam_mask,
 * replacing what the name had for those families; the addresses it loses
 * are kept as former ones (at most HE_MEMO_MAX_FORMER).  The answer is
 * fresh until expires_ms (monotonic ms: its TTL, or HE_MAP_TTL when libc
 * gave none).  who identifies the resolving thread.  Names are compared
 * without case and without a trailing dot.  n may be 0: the families in
 * fam_mask then have no address.  Returns 0, -EINVAL for an empty or
 * over-long name, -ENOMEM. */
int he_memo_learn(struct he_memo *m, const char *name, int fam_mask, const struct he_addr *addrs,
                  int n, uint64_t who, int64_t expires_ms);

/* Moves the expiry of the families in fam_mask that name's memory covers
 * to expires_ms, if later, without touching its addresses: a race that a
 * known address won before a refresh could answer vouches for them.
 * Returns 1 when something changed, 0 when not (or no such name). */
int he_memo_restamp(struct he_memo *m, const char *name, int fam_mask, int64_t expires_ms);

/* Claims the right to refresh name from DNS at now_ms: returns 1 when no
 * refresh was claimed in the last min_gap_ms (so that a busy program
 * connecting to an expired name sends at most one query per gap), else 0.
 * Takes the lock. */
int he_memo_refresh_claim(struct he_memo *m, const char *name, int64_t now_ms, int64_t min_gap_ms);

/* Finds the name that addr belongs to.  When several names hold addr, the
 * one most recently resolved by thread who wins, even when other threads
 * resolved it since (each thread remembers its last 16 names); if who
 * resolved none of them, the address is ambiguous unless every name holding
 * it has the same addresses (aliases), and then the most recently resolved
 * one answers.  A name holding addr as a current address goes before any
 * that held it formerly.  Returns 0 and fills *out, -ENOENT when no name
 * holds addr, -ENOTUNIQ when ambiguous. */
int he_memo_lookup(struct he_memo *m, const struct he_addr *addr, uint64_t who,
                   struct he_memo_answer *out);

/* Cheap check, no lock: 1 when nothing was ever learned. */
int he_memo_is_empty(const struct he_memo *m);

/* Number of names held (takes the lock). */
size_t he_memo_count(struct he_memo *m);

/* pthread_atfork handlers: the forking thread holds the lock across fork so
 * the child never inherits it mid-update. */
void he_memo_fork_prepare(struct he_memo *m);
void he_memo_fork_parent(struct he_memo *m);
void he_memo_fork_child(struct he_memo *m);

#endif

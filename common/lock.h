/* Signals blocked around work that must not be interrupted, and a mutex
 * held with every signal blocked: a signal handler can neither
 * re-enter libhe and deadlock on it, nor siglongjmp out with it held.
 * For paths that are not hot: blocking costs two system calls. */
#ifndef HE_LOCK_H
#define HE_LOCK_H

#include <pthread.h>
#include <signal.h>

/* Every signal blocked on this thread (the old mask in *old), and back:
 * for work no handler may interrupt or siglongjmp out of. */
static inline void he_block_signals(sigset_t *old) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

static inline void he_restore_signals(const sigset_t *old) {
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static inline void he_lock_signals(pthread_mutex_t *mu, sigset_t *old) {
    he_block_signals(old);
    pthread_mutex_lock(mu);
}

static inline void he_unlock_signals(pthread_mutex_t *mu, const sigset_t *old) {
    pthread_mutex_unlock(mu);
    he_restore_signals(old);
}

#endif

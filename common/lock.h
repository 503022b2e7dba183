/* A mutex held with every signal blocked: a signal handler can neither
 * re-enter libhe and deadlock on it, nor siglongjmp out with it held.
 * For paths that are not hot: blocking costs two system calls. */
#ifndef HE_LOCK_H
#define HE_LOCK_H

#include <pthread.h>
#include <signal.h>

static inline void he_lock_signals(pthread_mutex_t *mu, sigset_t *old) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
    pthread_mutex_lock(mu);
}

static inline void he_unlock_signals(pthread_mutex_t *mu, const sigset_t *old) {
    pthread_mutex_unlock(mu);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

#endif

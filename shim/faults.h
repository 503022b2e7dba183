/* HE_FAULTS in the shim: read at start-up, installed into the table of
 * libc's functions (faults/fault.h), named rules resolved on the first
 * connect(). */
#ifndef HE_SHIM_FAULTS_H
#define HE_SHIM_FAULTS_H

#include "config.h"

/* Reads HE_FAULTS and HE_FAULTS_SEED; warn hears each bad entry.  With
 * faults and no HE_HISTORY, the history is the process's own: a test's
 * faults must not teach the user's other programs. */
void he_faults_configure(struct he_config *cfg, he_config_getenv_fn getenv_fn,
                         he_config_warn_fn warn_fn);

/* Puts the faults read into libc's table, once libhe is set up. */
void he_faults_install(void);

/* Resolves the named rules, once, from a connect() that may (not nested,
 * not inside a lookup). */
void he_faults_prepare(void);

/* pthread_atfork's child handler. */
void he_faults_fork_child(void);

#endif

/* Lazy initialisation: the first hook called, from any thread, sets libhe
 * up, once per process (he_init_run). */
#include "hook.h"

#include "../common/log.h"
#include "../faults/sink.h"
#include "../history/history.h"
#include "../racer/background.h"
#include "faults.h"
#include "lookup.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct he_config he_cfg;
struct he_memo *he_memo;
int he_records_live;
__thread char he_thread_anchor __attribute__((tls_model("initial-exec")));
static int he_active;

/* Configuration warnings are held until the log destination is known, and
 * then always written, whatever HE_LOG says: a bad variable is never
 * silently ignored. */
#define HE_INIT_WARNINGS_MAX 16
static char he_init_warnings[HE_INIT_WARNINGS_MAX][512];
static int he_init_nwarnings;

static void he_init_collect_warning(const char *msg) {
    if (he_init_nwarnings < HE_INIT_WARNINGS_MAX) {
        snprintf(he_init_warnings[he_init_nwarnings++], sizeof he_init_warnings[0], "%s", msg);
    }
}

/* HE_LOG_FILE is copied: programs that set their process title (nginx,
 * PostgreSQL) overwrite the environment block it points into. */
static char he_init_log_file[4096];

static void he_init_log_path(void) {
    if (he_cfg.log_file == NULL) {
        return;
    }
    if (strlen(he_cfg.log_file) >= sizeof he_init_log_file) {
        he_init_collect_warning("HE_LOG_FILE is longer than 4095 bytes; using stderr");
        he_cfg.log_file = NULL;
        return;
    }
    strcpy(he_init_log_file, he_cfg.log_file);
    he_cfg.log_file = he_init_log_file;
}

/* HE_HISTORY_FILE is copied for the same reason; nothing is opened until
 * the first race asks (history/history.c). */
static char he_init_history_file[4096];

static void he_init_history(void) {
    const char *file = NULL;
    if (he_cfg.history_file != NULL) {
        if (strlen(he_cfg.history_file) >= sizeof he_init_history_file) {
            he_init_collect_warning("HE_HISTORY_FILE is longer than 4095 bytes; using the "
                                    "default place");
        } else {
            file = strcpy(he_init_history_file, he_cfg.history_file);
        }
    }
    struct he_hist_conf conf = {
        .window_s = he_cfg.history_window_s,
        .window_max_s = he_cfg.history_window_max_s,
        .min_delay_ms = he_cfg.min_attempt_delay_ms,
        .max_delay_ms = he_cfg.attempt_delay_set ? he_cfg.attempt_delay_ms : HE_HIST_DELAY_CEIL_MS,
    };
    he_hist_configure(he_cfg.history, file, &conf, he_real_get()->close);
}

static const char *he_init_getenv(const char *name) {
    return secure_getenv(name);
}

/* pthread_atfork: every lock libhe has is held by the forking thread
 * across fork, so the child never inherits one mid-update.  The name
 * memory's goes first: it blocks signals for both.  The forking thread may
 * never have called a hook, so it reads the name memory's address with
 * acquire, pairing with the release in he_init_once. */
static struct he_memo *he_fork_memo(void) {
    return __atomic_load_n(&he_memo, __ATOMIC_ACQUIRE);
}

static void he_fork_prepare(void) {
    he_memo_fork_prepare(he_fork_memo());
    he_bg_fork_prepare();
}

static void he_fork_parent(void) {
    he_bg_fork_parent();
    he_memo_fork_parent(he_fork_memo());
}

static void he_fork_child(void) {
    he_bg_fork_child();
    he_memo_fork_child(he_fork_memo());
    he_hist_fork_child();
    he_faults_fork_child();
    he_exit_fork_child();
}

static void he_init_once(void) {
    /* secure_getenv: a setuid program ignores the variables entirely. */
    he_config_parse(&he_cfg, he_init_getenv, he_init_collect_warning);
    he_bg_setup(he_real_get(), he_cfg.rescue_wait_ms);
    he_sink_setup(he_real_get()); /* the rescue's stand-ins (racer/rescue.c) */
    he_faults_configure(&he_cfg, he_init_getenv, he_init_collect_warning);
    he_init_log_path();
    he_init_history();
    he_refresh_setup();
    he_log_setup(he_cfg.log_level, he_cfg.log_file);
    he_log_setup_json(he_cfg.log_json);
    for (int i = 0; i < he_init_nwarnings; i++) {
        he_log_write(HE_LOG_WARN, "%s", he_init_warnings[i]);
    }
    if (he_cfg.disabled) {
        return;
    }
    struct he_memo *m = he_memo_new((size_t)he_cfg.map_max);
    if (m == NULL) {
        HE_LOG(HE_LOG_ERROR, "out of memory for the name memory; libhe stays out of the way");
        return;
    }
    __atomic_store_n(&he_memo, m, __ATOMIC_RELEASE);
    he_lookup_setup();
    he_faults_install();
    he_exit_setup();
    /* A child forked while its parent was initialising runs this again;
     * the handlers registered before the fork are already its own. */
    static int registered;
    if (!registered) {
        registered = 1;
        pthread_atfork(he_fork_prepare, he_fork_parent, he_fork_child);
    }
    he_active = 1;
    /* Last: from here on the range-close hooks look at libhe's records. */
    __atomic_store_n(&he_records_live, 1, __ATOMIC_RELEASE);
    HE_LOG(HE_LOG_DEBUG, "active: attempt delay %d ms, timeout %d ms, max attempts %d",
           he_cfg.attempt_delay_ms, he_cfg.connect_timeout_ms, he_cfg.max_attempts);
}

int64_t he_map_expiry(void) {
    return he_connector_now_ms(NULL) + (int64_t)he_cfg.map_ttl_s * 1000;
}

/* Set once he_init_once has run: after that, every hook's set-up check is
 * one load. */
static int he_ready;

/* Not pthread_once: a process that forks while another of its threads is
 * inside the initialisation leaves the child's once-control "in progress"
 * for good, and the child's first hook would wait on it forever.  Here the
 * child finds the initialising process is not itself and starts over. */
enum { HE_INIT_NONE = 0, HE_INIT_RUNNING, HE_INIT_DONE };
static int he_init_state;
static pid_t he_init_owner;

static void he_init_run(void) {
    for (;;) {
        int st = __atomic_load_n(&he_init_state, __ATOMIC_ACQUIRE);
        if (st == HE_INIT_DONE) {
            return;
        }
        int none = HE_INIT_NONE;
        if (st == HE_INIT_NONE &&
            __atomic_compare_exchange_n(&he_init_state, &none, HE_INIT_RUNNING, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&he_init_owner, getpid(), __ATOMIC_RELEASE);
            he_init_nwarnings = 0;
            he_init_once();
            __atomic_store_n(&he_init_state, HE_INIT_DONE, __ATOMIC_RELEASE);
            return;
        }
        pid_t owner = __atomic_load_n(&he_init_owner, __ATOMIC_ACQUIRE);
        int running = HE_INIT_RUNNING;
        if (owner != 0 && owner != getpid()) {
            __atomic_compare_exchange_n(&he_init_state, &running, HE_INIT_NONE, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE);
            continue;
        }
        sched_yield(); /* another thread is initialising: it takes microseconds */
    }
}

int he_init(void) {
    if (__builtin_expect(__atomic_load_n(&he_ready, __ATOMIC_ACQUIRE), 1)) {
        return he_active;
    }
    he_init_run();
    __atomic_store_n(&he_ready, 1, __ATOMIC_RELEASE);
    return he_active;
}

/* Connection history (RFC 8305 §4-5): what became of each destination
 * (address and port) in this network, remembered across races and shared
 * by the user's processes through a file (HE_HISTORY=user), so that a dead
 * address costs its delay once.
 *
 * The table (history/table.c) and its rules (history/rules.c) are pure;
 * this is the process's handle on them: which table, opened when the first
 * race needs it, and the network it belongs to (history/netid.c).  Looking
 * up and recording cost no system call. */
#ifndef HE_HISTORY_H
#define HE_HISTORY_H

#include "rules.h"
#include "table.h"

#include <stdint.h>

enum he_hist_mode {
    HE_HISTORY_OFF = 0, /* as if libhe had no history */
    HE_HISTORY_PROCESS, /* this process's own memory */
    HE_HISTORY_USER,    /* a file shared by the user's processes (the default) */
};

/* Slots in a table libhe makes: 256 KiB, fixed at creation. */
#define HE_HIST_SLOTS_DEFAULT 4096
/* How often a racing process checks that its network is still the one
 * its entries were learned in. */
#define HE_HIST_NETID_EVERY_MS 60000

/* Set once by he_init; does no I/O.  file: HE_HISTORY_FILE, NULL for the
 * default place.  close_fn: libc's close (libhe's own close hook must not
 * see the history's descriptors); NULL for the plain close(). */
void he_hist_configure(enum he_hist_mode mode, const char *file, const struct he_hist_conf *conf,
                       int (*close_fn)(int));
/* How history/ closes its descriptors (he_hist_configure's close_fn). */
int he_hist_close(int fd);
/* Called by a race before it plans: opens the table on first use (a few
 * system calls, once; whatever fails leaves process-only history and at
 * most one warning) and refreshes the network's identity now and then.
 * Returns 1 when a table is in use. */
int he_hist_ready(int64_t now_ms);
const struct he_hist_conf *he_hist_conf(void);
/* The seconds the entries are stamped with: never 0 (which means "never"). */
uint32_t he_hist_secs(int64_t now_ms);

/* The entry for a:port, or for a's /24 or /64 (port 0).  Returns 0 or
 * -ENOENT (also when no table is in use). */
int he_hist_find(const struct he_addr *a, uint16_t port, struct he_hist_entry *out);
int he_hist_find_prefix(const struct he_addr *a, struct he_hist_entry *out);
/* Takes one attempt's outcome.  A connect also gives its prefix an RTT.
 * At most one success per destination and second is written: a tight
 * connect loop does not keep a shared cache line busy. */
void he_hist_record(const struct he_addr *a, uint16_t port, enum he_hist_outcome o, uint32_t rtt_us,
                    int64_t now_ms);

/* For the he-history command and tests: the table in use (NULL: none). */
struct he_hist_table *he_hist_table(void);
/* The identity of the network this process is in: the boot, the network
 * namespace and its set of local addresses (history/netid.c). */
uint64_t he_hist_netid_now(void);
uint64_t he_hist_netid(void);

/* A child forked while its parent was opening the table opens its own. */
void he_hist_fork_child(void);

/* history/file.c: the user's shared table. */
/* The file libhe uses: override, else $XDG_RUNTIME_DIR/libhe/history when
 * XDG_RUNTIME_DIR is the user's, else /tmp/libhe-UID/history.  Returns 0,
 * -EINVAL for a relative override, or -ENAMETOOLONG. */
int he_hist_file_path(const char *override, char *path, size_t len);
/* Maps the table at path, making it (and its directory, 0700) when absent.
 * Returns 0 with *mem, *size set, or -errno with why (for the one warning)
 * filled. */
int he_hist_file_map(const char *path, int create, void **mem, size_t *size, char *why,
                     size_t whylen);
/* Empties the table at path for every process using it (--forget): in
 * place when it is a table libhe would use, else by making a new one in
 * its stead.  Returns 0 or -errno with why filled. */
int he_hist_file_reset(const char *path, char *why, size_t whylen);
uint64_t he_hist_random_seed(void);

#endif

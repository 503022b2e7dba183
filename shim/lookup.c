/* libhe's own answers to the program's lookups, ahead of libc's:
 *   1. HE_HOSTS, a hosts file of the user's, for the names it holds;
 *   2. with HE_RESOLVE=cares, c-ares: A and AAAA in parallel, an A answer
 *      given after the Resolution Delay when AAAA is lost (RFC 8305 §3).
 * Anything these cannot answer exactly as libc would is left to libc
 * (HE_LOOKUP_PASS). */
#include "lookup.h"

#include "../common/log.h"
#include "../resolver/hosts.h"
#include "../resolver/learn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HE_HOSTS answers do not change while the program runs: they stay fresh
 * for a day, and connect() never asks DNS about them. */
#define HE_LOOKUP_HOSTS_TTL_MS (24LL * 3600 * 1000)

static struct he_hosts *he_lookup_hosts;
static int he_lookup_nss_other; /* nsswitch.conf lists sources besides files and dns */

/* Reads HE_HOSTS once (he_init): one warning for a file that cannot be
 * read, one for its garbage lines. */
static void he_lookup_load_hosts(void) {
    if (he_cfg.hosts_file == NULL) {
        return;
    }
    struct he_hosts_stats st;
    memset(&st, 0, sizeof st);
    int rc = he_hosts_load(he_cfg.hosts_file, &he_lookup_hosts, &st);
    if (rc != 0) {
        HE_LOG(HE_LOG_WARN, "HE_HOSTS=\"%s\" cannot be read (%s); using no hosts file of libhe's",
               he_cfg.hosts_file, strerror(-rc));
        he_lookup_hosts = NULL;
        return;
    }
    if (st.bad_lines > 0) {
        HE_LOG(HE_LOG_WARN, "HE_HOSTS=\"%s\" line %d: %s; skipped it%s", he_cfg.hosts_file,
               st.first_bad_line, st.first_bad_why ? st.first_bad_why : "not an address and names",
               st.bad_lines > 1 ? " and every other such line" : "");
    }
    if (st.capped_lines > 0) {
        HE_LOG(HE_LOG_WARN, "HE_HOSTS=\"%s\" line %d: a name holds at most %d addresses; the rest "
               "are ignored", he_cfg.hosts_file, st.first_capped_line, HE_HOSTS_MAX_ADDRS);
    }
}

/* Whether the hosts line of /etc/nsswitch.conf names a source c-ares does
 * not know (mdns, ldap, myhostname, ...): names it cannot find then go to
 * libc, which may. */
static void he_lookup_read_nsswitch(void) {
    FILE *f = fopen("/etc/nsswitch.conf", "re");
    if (f == NULL) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " \t");
        if (strncmp(p, "hosts:", 6) != 0) {
            continue;
        }
        for (char *tok = strtok(p + 6, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
            if (strcmp(tok, "files") != 0 && strcmp(tok, "dns") != 0) {
                he_lookup_nss_other = 1;
            }
        }
    }
    fclose(f);
}

void he_lookup_setup(void) {
    he_lookup_load_hosts();
    if (he_cfg.resolve_cares) {
        he_lookup_read_nsswitch();
    }
}

/* ------------------------------------------------------------------------ */
/* c-ares, waited for here                                                     */

/* Runs the lookup until the answer is complete (both families, or A with
 * the Resolution Delay over), and copies what came into *feed.  Returns 0,
 * or -errno when no lookup could run. */
static int he_lookup_wait(const char *name, int fams, struct he_feed *feed) {
    struct he_dns *d;
    int64_t now = he_connector_now_ms(NULL);
    int rc = he_dns_start(he_refresh_conf(), name, fams, now, &d);
    if (rc != 0) {
        return rc;
    }
    struct pollfd pfd[16];
    while (!he_feed_complete(he_dns_feed(d), now)) {
        int n = he_dns_pollfds(d, pfd, 16);
        int t = he_dns_timeout_ms(d, now);
        if (n == 0 && t < 0) {
            break; /* nothing out and nothing due: c-ares gave up */
        }
        if (poll(pfd, (nfds_t)n, t) < 0 && errno != EINTR) {
            break;
        }
        now = he_connector_now_ms(NULL);
        he_dns_process(d, pfd, n, now);
    }
    *feed = *he_dns_feed(d);
    he_dns_free(d);
    return 0;
}

/* What the families' outcomes mean to getaddrinfo: 0 when some address
 * came, else an EAI_* code as glibc gives it. */
static int he_lookup_status(const struct he_feed *feed) {
    int nodata = 0, notfound = 0, asked = 0;
    for (int i = 0; i < 2; i++) {
        const struct he_feed_family *ff = &feed->fam[i];
        if (ff->state == HE_FEED_UNASKED) {
            continue;
        }
        asked++;
        if (ff->state == HE_FEED_ANSWERED && ff->count > 0) {
            return 0;
        }
        nodata += ff->state == HE_FEED_ANSWERED;
        notfound += ff->state == HE_FEED_FAILED && ff->status == -ENOENT;
    }
    if (notfound == asked) {
        return EAI_NONAME;
    }
    if (nodata + notfound == asked) {
        return EAI_NODATA;
    }
    return EAI_AGAIN;
}

int he_lookup_cares(const char *name, int fams, struct he_lookup_result *out) {
    struct he_feed feed;
    memset(out, 0, sizeof *out);
    if (he_lookup_wait(name, fams, &feed) != 0) {
        return HE_LOOKUP_PASS;
    }
    int status = he_lookup_status(&feed);
    if (status == EAI_NONAME && he_lookup_nss_other) {
        return HE_LOOKUP_PASS; /* perhaps mdns or ldap knows it */
    }
    int64_t now = he_connector_now_ms(NULL);
    /* glibc's order before sorting: A answers, then AAAA. */
    for (int i = 0; i < 2; i++) {
        const struct he_feed_family *ff = &feed.fam[i];
        if (ff->state != HE_FEED_ANSWERED) {
            continue;
        }
        memcpy(&out->addrs[out->count], ff->addrs, (size_t)ff->count * sizeof ff->addrs[0]);
        out->count += ff->count;
        int ttl = ff->ttl_s < 1 ? 1 : ff->ttl_s;
        int64_t exp = ff->ttl_s < 0 || ff->count == 0 ? he_map_expiry() : now + ttl * 1000LL;
        he_memo_learn(he_memo, name, i == 0 ? HE_MEMO_FAM_V4 : HE_MEMO_FAM_V6, ff->addrs,
                      ff->count, he_thread_id(), exp);
    }
    return status;
}

int he_lookup_hosts_find(const char *name, struct he_lookup_result *out) {
    memset(out, 0, sizeof *out);
    if (he_lookup_hosts == NULL || !he_hosts_has(he_lookup_hosts, name)) {
        return HE_LOOKUP_PASS;
    }
    out->count = he_hosts_find(he_lookup_hosts, name, AF_UNSPEC, out->addrs, HE_MEMO_MAX_ADDRS);
    if (out->count > 0) {
        he_memo_learn(he_memo, name, HE_MEMO_FAM_ALL, out->addrs, out->count, he_thread_id(),
                      he_connector_now_ms(NULL) + HE_LOOKUP_HOSTS_TTL_MS);
    }
    return 0;
}

/* libhe's own answers to the program's lookups, ahead of libc's:
 *   1. HE_HOSTS, a hosts file of the user's, for the names it holds;
 *   2. with HE_RESOLVE=cares, c-ares: A and AAAA in parallel, an A answer
 *      given after the Resolution Delay when AAAA is lost (RFC 8305 §3).
 * Anything these cannot answer exactly as libc would is left to libc
 * (HE_LOOKUP_PASS). */
#include "lookup.h"

#include "../common/log.h"
#include "../resolver/answer.h"
#include "../resolver/hosts.h"
#include "../resolver/learn.h"
#include "../resolver/sort.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* HE_HOSTS answers do not change while the program runs: they stay fresh
 * for a day, and connect() never asks DNS about them. */
#define HE_LOOKUP_HOSTS_TTL_MS (24LL * 3600 * 1000)

static struct he_hosts *he_lookup_hosts;
static int he_lookup_nss_other;              /* nsswitch.conf lists sources besides files and dns */
static struct he_hosts *he_lookup_etc_hosts; /* /etc/hosts as it was at start */

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
               he_cfg.hosts_file, rc == -ENODEV ? "not a regular file" : strerror(-rc));
        he_lookup_hosts = NULL;
        return;
    }
    if (st.bad_lines > 0) {
        HE_LOG(HE_LOG_WARN, "HE_HOSTS=\"%s\" line %d: %s; skipped it%s", he_cfg.hosts_file,
               st.first_bad_line, st.first_bad_why ? st.first_bad_why : "not an address and names",
               st.bad_lines > 1 ? " and every other such line" : "");
    }
    if (st.capped_lines > 0) {
        HE_LOG(HE_LOG_WARN,
               "HE_HOSTS=\"%s\" line %d: a name holds at most %d addresses; the rest "
               "are ignored",
               he_cfg.hosts_file, st.first_capped_line, HE_HOSTS_MAX_ADDRS);
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

static void he_lookup_setup_sort(void);

void he_lookup_setup(void) {
    he_lookup_load_hosts();
    if (he_cfg.resolve_cares) {
        he_lookup_read_nsswitch();
        /* Names there are libc's: its files backend answers them without
         * DNS, with quirks of its own (aliases, ::1 as 127.0.0.1). */
        if (he_hosts_load("/etc/hosts", &he_lookup_etc_hosts, NULL) != 0) {
            he_lookup_etc_hosts = NULL;
        }
    }
    if (he_cfg.resolve_cares || he_cfg.hosts_file) {
        he_lookup_setup_sort();
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

enum he_lookup_status he_lookup_cares(const char *name, int fams, struct he_lookup_result *out,
                                      int *eai) {
    struct he_feed feed;
    out->count = 0;
    out->via_cname = 0;
    if (he_lookup_wait(name, fams, &feed) != 0) {
        return HE_LOOKUP_PASS;
    }
    int status = he_lookup_status(&feed);
    *eai = status;
    if (status == EAI_NONAME && he_lookup_nss_other) {
        return HE_LOOKUP_PASS; /* perhaps mdns or ldap knows it */
    }
    if (status == EAI_NODATA) {
        /* glibc says EAI_NONAME instead when the name is a CNAME, which a
         * NODATA answer does not show: it answers again itself. */
        return HE_LOOKUP_PASS;
    }
    int64_t now = he_connector_now_ms(NULL);
    /* glibc's order before sorting: A answers, then AAAA. */
    for (int i = 0; i < 2; i++) {
        const struct he_feed_family *ff = &feed.fam[i];
        if (ff->state != HE_FEED_ANSWERED) {
            continue;
        }
        out->via_cname |= ff->via_cname;
        memcpy(&out->addrs[out->count], ff->addrs, (size_t)ff->count * sizeof ff->addrs[0]);
        out->count += ff->count;
    }
    he_refresh_learn(name, &feed, now);
    return status == 0 ? HE_LOOKUP_ANSWERED : HE_LOOKUP_FAILED;
}

int he_lookup_hosts_addrs(const char *name, struct he_addr *out, int max) {
    if (he_lookup_hosts == NULL) {
        return 0;
    }
    int n = he_hosts_find(he_lookup_hosts, name, AF_UNSPEC, out, max);
    return n > 0 ? n : 0;
}

enum he_lookup_status he_lookup_hosts_find(const char *name, struct he_lookup_result *out) {
    if (he_lookup_hosts == NULL || !he_hosts_has(he_lookup_hosts, name)) {
        return HE_LOOKUP_PASS;
    }
    out->via_cname = 0;
    out->count = he_hosts_find(he_lookup_hosts, name, AF_UNSPEC, out->addrs, HE_MEMO_MAX_ADDRS);
    if (out->count > 0) {
        he_memo_learn(he_memo, name, HE_MEMO_FAM_ALL, out->addrs, out->count, he_thread_id(),
                      he_connector_now_ms(NULL) + HE_LOOKUP_HOSTS_TTL_MS);
    }
    return HE_LOOKUP_ANSWERED;
}

/* ------------------------------------------------------------------------ */
/* getaddrinfo answers                                                        */

static struct he_sort_policy *he_lookup_policy; /* /etc/gai.conf, read once */

static void he_lookup_setup_sort(void) {
    if (he_sort_policy_load("/etc/gai.conf", &he_lookup_policy) != 0) {
        he_lookup_policy = NULL; /* glibc's defaults */
    }
}

/* AI_ADDRCONFIG as glibc applies it: only families the host has an address
 * of, loopback aside.  Returns 0, or EAI_NONAME when none is left. */
static int he_lookup_addrconfig(struct he_answer_plan *plan) {
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0) {
        return 0;
    }
    int has4 = 0, has6 = 0;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr == NULL) {
            continue;
        }
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct sockaddr_in *sin = (const void *)i->ifa_addr;
            has4 |= sin->sin_addr.s_addr != htonl(INADDR_LOOPBACK);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const void *)i->ifa_addr;
            has6 |= !IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
        }
    }
    freeifaddrs(ifs);
    if (plan->family == AF_UNSPEC && has4 != has6) {
        plan->family = has4 ? AF_INET : AF_INET6;
    } else if ((plan->family == AF_INET && !has4) || (plan->family == AF_INET6 && !has6)) {
        return EAI_NONAME;
    }
    return 0;
}

static int he_lookup_fams(const struct he_answer_plan *plan) {
    switch (plan->family) {
    case AF_INET:
        return HE_MEMO_FAM_V4;
    case AF_INET6:
        return (plan->flags & AI_V4MAPPED) ? HE_MEMO_FAM_ALL : HE_MEMO_FAM_V6;
    default:
        return HE_MEMO_FAM_ALL;
    }
}

static int he_lookup_is_number(const char *s) {
    if (s == NULL || *s == '\0') {
        return 1;
    }
    return strspn(s, "0123456789") == strlen(s);
}

/* What c-ares cannot answer exactly as glibc would. */
static int he_lookup_cares_can(const char *node, const char *service,
                               const struct addrinfo *hints) {
    int flags = hints ? hints->ai_flags : 0;
    size_t len = strlen(node);
    return he_cfg.resolve_cares && !he_resolv_sortlist() &&
           !he_hosts_has(he_lookup_etc_hosts, node) &&
           !(flags & (AI_CANONNAME | AI_IDN | AI_CANONIDN)) && he_lookup_is_number(service) &&
           !(len > 6 && strcasecmp(node + len - 6, ".local") == 0) &&
           !(len > 7 && strcasecmp(node + len - 7, ".local.") == 0);
}

/* Orders and lays out the answer: ANSWERED with *res, FAILED with *eai,
 * or PASS. */
static enum he_lookup_status he_lookup_build(const struct he_lookup_result *lr,
                                             const struct he_answer_plan *plan,
                                             struct addrinfo **res, int *eai) {
    struct he_addr sel[2 * HE_MEMO_MAX_ADDRS];
    int n = he_answer_select(lr->addrs, lr->count, plan, sel);
    if (n == 0) {
        *eai = lr->count > 0 ? EAI_NODATA : EAI_NONAME;
        return HE_LOOKUP_FAILED;
    }
    struct he_sort_sys sys = {.libc = &he_real, .port = plan->nserv > 0 ? plan->serv[0].port : 0};
    int rc = he_sort_rfc6724(sel, n, plan->nserv > 0 ? plan->nserv : 1, he_lookup_policy,
                             he_sort_source_udp, &sys);
    he_sort_sys_finish(&sys);
    if (rc != 0) {
        return HE_LOOKUP_PASS; /* an order glibc itself does not pin down */
    }
    *eai = he_answer_build(sel, n, plan, res);
    return *eai == 0 ? HE_LOOKUP_ANSWERED : HE_LOOKUP_FAILED;
}

/* Whether libhe answers any lookup itself; without HE_HOSTS or
 * HE_RESOLVE=cares every lookup is libc's, at the cost of this test. */
static int he_lookup_own_answers(void) {
    return he_lookup_hosts != NULL || he_cfg.resolve_cares;
}

/* The answer's plan from the hints: 0, or *eai. */
static int he_lookup_plan(const struct addrinfo *hints, const char *service,
                          struct he_answer_plan *plan, int *eai) {
    *eai = he_answer_plan(hints, service, plan);
    if (*eai == 0 && (plan->flags & AI_ADDRCONFIG)) {
        *eai = he_lookup_addrconfig(plan);
    }
    return *eai;
}

/* HE_HOSTS's canonical name for AI_CANONNAME: ANSWERED, or FAILED with
 * *eai (and no answer). */
static enum he_lookup_status he_lookup_canon(const char *node, struct addrinfo **res, int *eai) {
    *eai = he_answer_canonname(*res, he_hosts_canonical(he_lookup_hosts, node));
    if (*eai != 0) {
        he_real.freeaddrinfo(*res);
        *res = NULL;
        return HE_LOOKUP_FAILED;
    }
    return HE_LOOKUP_ANSWERED;
}

enum he_lookup_status he_lookup_getaddrinfo(const char *node, const char *service,
                                            const struct addrinfo *hints, struct addrinfo **res,
                                            int *eai) {
    *eai = 0;
    if (!he_lookup_own_answers() || node == NULL || (hints && (hints->ai_flags & AI_NUMERICHOST)) ||
        he_learn_is_numeric(node)) {
        return HE_LOOKUP_PASS;
    }
    struct he_lookup_result lr;
    int from_hosts = he_lookup_hosts_find(node, &lr) == HE_LOOKUP_ANSWERED;
    if (!from_hosts && !he_lookup_cares_can(node, service, hints)) {
        return HE_LOOKUP_PASS;
    }
    struct he_answer_plan plan;
    if (he_lookup_plan(hints, service, &plan, eai) != 0) {
        return HE_LOOKUP_FAILED;
    }
    enum he_lookup_status st = HE_LOOKUP_ANSWERED;
    if (!from_hosts) {
        st = he_lookup_cares(node, he_lookup_fams(&plan), &lr, eai);
    }
    if (st == HE_LOOKUP_ANSWERED) {
        st = he_lookup_build(&lr, &plan, res, eai);
    }
    if (st == HE_LOOKUP_ANSWERED && from_hosts && hints && (hints->ai_flags & AI_CANONNAME)) {
        st = he_lookup_canon(node, res, eai);
    }
    /* A name HE_HOSTS holds without the family asked for is libc's. */
    if (from_hosts && st == HE_LOOKUP_FAILED && (*eai == EAI_NODATA || *eai == EAI_NONAME)) {
        return HE_LOOKUP_PASS;
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* gethostbyname* answers                                                     */

enum he_lookup_status he_lookup_hostent(const char *name, int af, struct hostent *ret, char *buf,
                                        size_t buflen, struct hostent **result, int *h_errnop,
                                        int *rc_out) {
    *rc_out = 0;
    if (!he_lookup_own_answers() || name == NULL || he_learn_is_numeric(name) ||
        (af != AF_INET && af != AF_INET6)) {
        return HE_LOOKUP_PASS;
    }
    struct he_lookup_result lr;
    const char *h_name = name;
    int eai = 0;
    if (he_lookup_hosts_find(name, &lr) == HE_LOOKUP_ANSWERED) {
        h_name = he_hosts_canonical(he_lookup_hosts, name);
    } else if (!he_cfg.resolve_cares || he_resolv_sortlist() ||
               he_hosts_has(he_lookup_etc_hosts, name) ||
               he_lookup_cares(name, af == AF_INET ? HE_MEMO_FAM_V4 : HE_MEMO_FAM_V6, &lr, &eai) !=
                   HE_LOOKUP_ANSWERED ||
               lr.via_cname) {
        /* Errors are libc's to report, h_errno and all; so are names
         * behind a CNAME, whose chain glibc reports as h_name and
         * h_aliases. */
        return HE_LOOKUP_PASS;
    }
    int rc = he_answer_hostent(h_name ? h_name : name, lr.addrs, lr.count, af, ret, buf, buflen);
    if (rc == -ERANGE) {
        *result = NULL;
        *h_errnop = NETDB_INTERNAL;
        *rc_out = ERANGE;
        return HE_LOOKUP_FAILED;
    }
    if (rc != 0) {
        return HE_LOOKUP_PASS;
    }
    *result = ret;
    *h_errnop = 0;
    return HE_LOOKUP_ANSWERED;
}

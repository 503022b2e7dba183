/* libhe's configuration, read once from the environment.
 *
 * Every value has a default and a range.  A value that does not parse, or
 * lies outside its range, gets exactly one warning naming the variable and
 * the value used instead; it never aborts the program. */
#ifndef HE_CONFIG_H
#define HE_CONFIG_H

#include "../history/history.h"

/* HE_NAMESERVERS holds at most this many servers; each takes at most
 * HE_NAMESERVER_TEXT_MAX bytes as c-ares takes it (an item of under 80
 * bytes, brackets, ":port" and a comma). */
#define HE_NAMESERVERS_MAX 64
#define HE_NAMESERVER_TEXT_MAX 96

/* HE_BANNER_PORTS holds at most this many ports. */
#define HE_BANNER_PORTS_MAX 64

struct he_config {
    int disabled;            /* HE_DISABLE=1: every hook passes straight through */
    int attempt_delay_ms;    /* HE_ATTEMPT_DELAY_MS, RFC 8305 §5 */
    int connect_timeout_ms;  /* HE_CONNECT_TIMEOUT_MS, 0 = no deadline of libhe's own */
    int max_attempts;        /* HE_MAX_ATTEMPTS, the caller's attempt included */
    int rescue_wait_ms;      /* HE_RESCUE_WAIT_MS, 0 = a failed own non-blocking attempt is final */
    int banner_timeout_ms;   /* HE_BANNER_TIMEOUT_MS */
    int nbanner_ports;       /* HE_BANNER_PORTS: how many, 0 = off */
    unsigned short banner_ports[HE_BANNER_PORTS_MAX];
    int map_max;             /* HE_MAP_MAX, names held by the name memory */
    int log_level;           /* HE_LOG, enum he_log_level */
    const char *log_file;    /* HE_LOG_FILE, NULL = stderr */
    int map_ttl_s;           /* HE_MAP_TTL: freshness of an answer libc gave without TTL */
    int resolution_delay_ms; /* HE_RESOLUTION_DELAY_MS, RFC 8305 §3 */
    int resolve_cares;       /* HE_RESOLVE=cares: libhe answers the program's lookups */
    const char *hosts_file;  /* HE_HOSTS, NULL = none */
    /* HE_NAMESERVERS as c-ares takes it ("ip:port,[ip6]:port"), "" = the
     * system's resolv.conf. */
    char nameservers[HE_NAMESERVERS_MAX * HE_NAMESERVER_TEXT_MAX];
    int attempt_delay_set;    /* HE_ATTEMPT_DELAY_MS was given: it caps the RTT-derived delay */
    int min_attempt_delay_ms; /* HE_MIN_ATTEMPT_DELAY_MS: floor of the RTT-derived delay */
    enum he_hist_mode history; /* HE_HISTORY: off, process, user */
    const char *history_file; /* HE_HISTORY_FILE, NULL = the default place */
    int history_window_s;     /* HE_HISTORY_WINDOW_S: a first failure is believed this long */
    int history_window_max_s; /* HE_HISTORY_WINDOW_MAX_S: the doubling stops here */
    int stats;                /* HE_STATS=1: a summary line at exit (shim/exit.c) */
    int log_json;             /* HE_LOG_FORMAT=json: log lines as JSON objects */
};

/* RFC 8305 §5: "A simple implementation can have a fixed delay for how long
 * to wait before starting the next connection attempt. [...] the
 * RECOMMENDED value for a default delay is 250 milliseconds."  It also says
 * the delay should never be below 10 ms, and recommends keeping configured
 * values within 100 ms .. 2 s; libhe accepts 10 .. 2000. */
#define HE_ATTEMPT_DELAY_DEFAULT_MS 250
#define HE_ATTEMPT_DELAY_MIN_MS 10
#define HE_ATTEMPT_DELAY_MAX_MS 2000

/* RFC 8305 §3: after the A answer, wait this long for AAAA before using
 * it; "The RECOMMENDED value for the Resolution Delay is 50 milliseconds." */
#define HE_RESOLUTION_DELAY_DEFAULT_MS 50
#define HE_RESOLUTION_DELAY_MAX_MS 2000

/* A name learned from libc, which gives no TTL, is taken as fresh for this
 * long (seconds); after it connect() asks DNS again while it races. */
#define HE_MAP_TTL_DEFAULT_S 30
#define HE_MAP_TTL_MAX_S 86400

/* Connection history.  A first failure is believed 30 s, doubling with
 * each further one to 10 min: Chromium's broken-alternative memory in
 * spirit (minutes, doubling, capped), shorter because a failed address is
 * never dropped, only tried last.  A delay derived from RTTs is at least
 * 100 ms, RFC 8305 §5's recommended minimum. */
#define HE_HISTORY_WINDOW_DEFAULT_S 30
#define HE_HISTORY_WINDOW_MAX_DEFAULT_S 600
#define HE_HISTORY_WINDOW_LIMIT_S 86400
#define HE_MIN_ATTEMPT_DELAY_DEFAULT_MS 100

/* A non-blocking connect whose own attempt failed (refused) is rescued by
 * a sibling that connects within this long of the failure; the program's
 * read of the outcome waits at most that much.  RFC 8305 §5's recommended
 * Minimum Connection Attempt Delay, 100 ms: the longest a client is
 * expected to wait before trying another address anyway. */
#define HE_RESCUE_WAIT_DEFAULT_MS 100
#define HE_RESCUE_WAIT_MAX_MS 10000

/* Banner races (HE_BANNER_PORTS): ports where the server speaks first, so
 * that a connection proves a server only once it has said something.  The
 * well-known server-speaks-first ports: FTP control, SSH, SMTP, POP3, NNTP,
 * IMAP, SMTP submission (the server greets before STARTTLS), MySQL, VNC.
 * Not their TLS-wrapped twins (465, 563, 990, 993, 995): there the client
 * speaks first, its ClientHello, and the server says nothing until then. */
#define HE_BANNER_PORTS_DEFAULT "21,22,25,110,119,143,587,3306,5900"
/* Nothing has spoken this long after connect() was called: the first
 * attempt that connected wins.  A second: at the default attempt delay
 * (RFC 8305 §5, 250 ms) the next three addresses have started by then and
 * had time to greet; it bounds what a silent server costs a program that
 * would wait for its greeting anyway, and what a client-speaks-first
 * protocol on a listed port loses. */
#define HE_BANNER_TIMEOUT_DEFAULT_MS 1000
#define HE_BANNER_TIMEOUT_MAX_MS 60000

#define HE_CONNECT_TIMEOUT_MAX_MS (24 * 3600 * 1000)
#define HE_MAX_ATTEMPTS_DEFAULT 16
#define HE_MAX_ATTEMPTS_LIMIT 64
#define HE_MAP_MAX_DEFAULT 4096
#define HE_MAP_MAX_LIMIT 1000000

/* Looks a variable up; secure_getenv in the library, a table in tests. */
typedef const char *(*he_config_getenv_fn)(const char *name);
/* Receives each warning line (without prefix or newline). */
typedef void (*he_config_warn_fn)(const char *msg);

/* Fills *cfg from the environment seen through getenv_fn; warns through
 * warn_fn once per bad variable.  Returns the number of warnings. */
int he_config_parse(struct he_config *cfg, he_config_getenv_fn getenv_fn,
                    he_config_warn_fn warn_fn);

/* Whether port (host order) is one of cfg's banner ports. */
int he_config_banner_port(const struct he_config *cfg, unsigned port);

#endif

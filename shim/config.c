#include "config.h"

#include "../common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct he_config_ctx {
    he_config_getenv_fn get;
    he_config_warn_fn warn;
    int warnings;
};

static void he_config_warn(struct he_config_ctx *ctx, const char *name, const char *value,
                           const char *why, const char *used) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s=\"%.64s\" %s; using %s", name, value, why, used);
    ctx->warn(msg);
    ctx->warnings++;
}

/* Parses a whole decimal integer: an optional '-', digits, nothing else
 * (no spaces, no '+', no units).  Returns 0, -EINVAL for anything that is
 * not such a number, -ERANGE for one that does not fit a long. */
static int he_config_parse_long(const char *s, long *out) {
    const char *digits = s[0] == '-' ? s + 1 : s;
    if (*digits < '0' || *digits > '9') {
        return -EINVAL;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0') {
        return -EINVAL;
    }
    if (errno == ERANGE) {
        return -ERANGE;
    }
    *out = v;
    return 0;
}

/* What a number below a variable's range means: the floor, or a bad value
 * (the default) where the floor has a meaning a lower number cannot be
 * taken to share. */
enum he_config_below { HE_BELOW_CLAMPS = 0, HE_BELOW_IS_BAD };

/* Reads an integer variable into *out, clamping to [lo, hi] (below lo as
 * below says); keeps dflt when it is absent, empty-or-garbage (with a
 * warning).  Returns 1 when a value of the variable's was taken (clamped
 * or not), 0 when the default stands. */
static int he_config_int(struct he_config_ctx *ctx, const char *name, int *out, int dflt, long lo,
                         long hi, enum he_config_below below) {
    *out = dflt;
    const char *s = ctx->get(name);
    if (s == NULL) {
        return 0;
    }
    char used[32];
    long v = 0;
    int rc = he_config_parse_long(s, &v);
    if (rc == -EINVAL) {
        snprintf(used, sizeof used, "%d", dflt);
        he_config_warn(ctx, name, s, "is not a whole number", used);
        return 0;
    }
    int low = rc == -ERANGE ? s[0] == '-' : v < lo;
    if (low && below == HE_BELOW_IS_BAD) {
        char why[64];
        snprintf(used, sizeof used, "%d", dflt);
        snprintf(why, sizeof why, "is below %ld", lo);
        he_config_warn(ctx, name, s, why, used);
        return 0;
    }
    if (rc == -ERANGE || v < lo || v > hi) {
        long clamped = (rc == -ERANGE) ? (s[0] == '-' ? lo : hi) : (v < lo ? lo : hi);
        snprintf(used, sizeof used, "%ld", clamped);
        char why[64];
        snprintf(why, sizeof why, "is outside %ld..%ld", lo, hi);
        he_config_warn(ctx, name, s, why, used);
        *out = (int)clamped;
        return 1;
    }
    *out = (int)v;
    return 1;
}

static void he_config_level(struct he_config_ctx *ctx, int *out) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    *out = HE_LOG_WARN;
    const char *s = ctx->get("HE_LOG");
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = i;
            return;
        }
    }
    he_config_warn(ctx, "HE_LOG", s, "is not one of error|warn|info|debug", "warn");
}

static void he_config_disable(struct he_config_ctx *ctx, int *out) {
    *out = 0;
    const char *s = ctx->get("HE_DISABLE");
    if (s == NULL || strcmp(s, "0") == 0 || *s == '\0') {
        return;
    }
    if (strcmp(s, "1") == 0) {
        *out = 1;
        return;
    }
    /* Someone who sets HE_DISABLE at all most likely wants libhe off. */
    he_config_warn(ctx, "HE_DISABLE", s, "is not 0 or 1", "1 (disabled)");
    *out = 1;
}

static void he_config_resolve(struct he_config_ctx *ctx, int *out) {
    *out = 0;
    const char *s = ctx->get("HE_RESOLVE");
    if (s == NULL || *s == '\0' || strcasecmp(s, "libc") == 0) {
        return;
    }
    if (strcasecmp(s, "cares") == 0) {
        *out = 1;
        return;
    }
    he_config_warn(ctx, "HE_RESOLVE", s, "is not libc or cares", "libc");
}

/* A variable that is one of names (without case); *out is its index,
 * dflt when unset or empty, bad (with one warning) otherwise. */
static void he_config_choice(struct he_config_ctx *ctx, const char *var, const char *const *names,
                             int n, int dflt, int bad, int *out) {
    *out = dflt;
    const char *s = ctx->get(var);
    if (s == NULL || *s == '\0') {
        return;
    }
    for (int i = 0; i < n; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = i;
            return;
        }
    }
    char why[96];
    snprintf(why, sizeof why, "is not %s or %s", names[0], names[1]);
    he_config_warn(ctx, var, s, why, names[bad]);
    *out = bad;
}

/* HE_STATS=0|1 (someone who sets it at all most likely wants the
 * summary) and HE_LOG_FORMAT=text|json. */
static void he_config_report(struct he_config_ctx *ctx, struct he_config *cfg) {
    static const char *const stats[] = {"0", "1"}, *const formats[] = {"text", "json"};
    he_config_choice(ctx, "HE_STATS", stats, 2, 0, 1, &cfg->stats);
    he_config_choice(ctx, "HE_LOG_FORMAT", formats, 2, 0, 0, &cfg->log_json);
}

/* Appends one "ip[:port]" or "[ip6]:port" or "ip6" item to out as c-ares's
 * ares_set_servers_ports_csv takes it.  Returns 0 or -EINVAL. */
static int he_config_server(const char *item, size_t len, char *out, size_t room) {
    char buf[80], host[80];
    if (len == 0 || len >= sizeof buf) {
        return -EINVAL;
    }
    memcpy(buf, item, len);
    buf[len] = '\0';
    const char *port = NULL;
    int v6 = 0;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            return -EINVAL;
        }
        *close = '\0';
        snprintf(host, sizeof host, "%s", buf + 1);
        port = close[1] == ':' ? close + 2 : NULL;
        v6 = 1;
    } else if (strchr(buf, ':') != strrchr(buf, ':')) {
        snprintf(host, sizeof host, "%s", buf); /* a bare IPv6 address */
        v6 = 1;
    } else {
        char *colon = strchr(buf, ':');
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
        snprintf(host, sizeof host, "%s", buf);
    }
    unsigned char bin[16];
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, bin) != 1) {
        return -EINVAL;
    }
    long p = 53;
    if (port && (he_config_parse_long(port, &p) != 0 || p < 1 || p > 65535)) {
        return -EINVAL;
    }
    size_t used = strlen(out);
    int n = snprintf(out + used, room - used, "%s%s%s%s:%ld", used ? "," : "", v6 ? "[" : "", host,
                     v6 ? "]" : "", p);
    return n > 0 && (size_t)n < room - used ? 0 : -EINVAL;
}

static size_t he_config_count_items(const char *s) {
    size_t n = 1;
    for (; *s; s++) {
        n += *s == ',';
    }
    return n;
}

/* HE_NAMESERVERS=ip[:port],...: all or nothing, at most
 * HE_NAMESERVERS_MAX servers. */
static void he_config_nameservers(struct he_config_ctx *ctx, char *out, size_t room) {
    out[0] = '\0';
    const char *s = ctx->get("HE_NAMESERVERS");
    if (s == NULL || *s == '\0') {
        return;
    }
    if (he_config_count_items(s) > HE_NAMESERVERS_MAX) {
        char why[64];
        snprintf(why, sizeof why, "lists too many servers (more than %d)", HE_NAMESERVERS_MAX);
        he_config_warn(ctx, "HE_NAMESERVERS", s, why, "the system's resolv.conf");
        return;
    }
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        if (he_config_server(p, len, out, room) != 0) {
            out[0] = '\0';
            he_config_warn(ctx, "HE_NAMESERVERS", s, "is not a list of ip[:port] or [ip6]:port",
                           "the system's resolv.conf");
            return;
        }
        if (p[len] == '\0') {
            return;
        }
        p += len + 1;
    }
}

/* HE_HISTORY=off|process|user: history/history.h's modes, in order. */
static void he_config_history(struct he_config_ctx *ctx, enum he_hist_mode *out) {
    static const char *const names[] = {"off", "process", "user"};
    *out = HE_HISTORY_USER;
    const char *s = ctx->get("HE_HISTORY");
    if (s == NULL || *s == '\0') {
        return;
    }
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum he_hist_mode)i;
            return;
        }
    }
    he_config_warn(ctx, "HE_HISTORY", s, "is not one of off|process|user", "user");
}

/* The history's variables: its mode and file, the failure windows, the
 * floor of the delay derived from RTTs. */
static void he_config_history_all(struct he_config_ctx *ctx, struct he_config *cfg) {
    he_config_history(ctx, &cfg->history);
    const char *file = ctx->get("HE_HISTORY_FILE");
    cfg->history_file = (file && *file) ? file : NULL;
    he_config_int(ctx, "HE_HISTORY_WINDOW_S", &cfg->history_window_s, HE_HISTORY_WINDOW_DEFAULT_S,
                  1, HE_HISTORY_WINDOW_LIMIT_S, HE_BELOW_CLAMPS);
    he_config_int(ctx, "HE_HISTORY_WINDOW_MAX_S", &cfg->history_window_max_s,
                  HE_HISTORY_WINDOW_MAX_DEFAULT_S, 1, HE_HISTORY_WINDOW_LIMIT_S, HE_BELOW_CLAMPS);
    if (cfg->history_window_max_s < cfg->history_window_s) {
        cfg->history_window_max_s = cfg->history_window_s;
    }
    he_config_int(ctx, "HE_MIN_ATTEMPT_DELAY_MS", &cfg->min_attempt_delay_ms,
                  HE_MIN_ATTEMPT_DELAY_DEFAULT_MS, HE_ATTEMPT_DELAY_MIN_MS, HE_ATTEMPT_DELAY_MAX_MS,
                  HE_BELOW_CLAMPS);
}

/* One entry of HE_BANNER_PORTS: a port number, 1..65535.  Returns it, or
 * 0 (with a warning naming the entry) for anything else. */
static unsigned he_config_port_item(struct he_config_ctx *ctx, const char *item, size_t len) {
    char buf[16];
    long v = 0;
    if (len < sizeof buf) {
        memcpy(buf, item, len);
        buf[len] = '\0';
    }
    if (len >= sizeof buf || he_config_parse_long(buf, &v) != 0 || v < 1 || v > 65535) {
        char entry[80];
        snprintf(entry, sizeof entry, "%.*s", (int)(len < 64 ? len : 64), item);
        he_config_warn(ctx, "HE_BANNER_PORTS", entry, "is not a port (1..65535)",
                       "the other entries");
        return 0;
    }
    return (unsigned)v;
}

/* HE_BANNER_PORTS: ports separated by commas or spaces; empty: none. */
static void he_config_banner_ports(struct he_config_ctx *ctx, struct he_config *cfg) {
    const char *s = ctx->get("HE_BANNER_PORTS");
    if (s == NULL) {
        s = HE_BANNER_PORTS_DEFAULT;
    }
    cfg->nbanner_ports = 0;
    while (*s != '\0') {
        size_t len = strcspn(s, ", \t");
        unsigned port = len > 0 ? he_config_port_item(ctx, s, len) : 0;
        if (port != 0 && !he_config_banner_port(cfg, port)) {
            if (cfg->nbanner_ports == HE_BANNER_PORTS_MAX) {
                he_config_warn(ctx, "HE_BANNER_PORTS", s, "has more than 64 ports", "the first 64");
                return;
            }
            cfg->banner_ports[cfg->nbanner_ports++] = (unsigned short)port;
        }
        s += len;
        s += strspn(s, ", \t");
    }
}

int he_config_banner_port(const struct he_config *cfg, unsigned port) {
    for (int i = 0; i < cfg->nbanner_ports; i++) {
        if (cfg->banner_ports[i] == port) {
            return 1;
        }
    }
    return 0;
}

int he_config_parse(struct he_config *cfg, he_config_getenv_fn getenv_fn,
                    he_config_warn_fn warn_fn) {
    struct he_config_ctx ctx = {getenv_fn, warn_fn, 0};
    memset(cfg, 0, sizeof *cfg);
    he_config_disable(&ctx, &cfg->disabled);
    cfg->attempt_delay_set = he_config_int(&ctx, "HE_ATTEMPT_DELAY_MS", &cfg->attempt_delay_ms,
                                           HE_ATTEMPT_DELAY_DEFAULT_MS, HE_ATTEMPT_DELAY_MIN_MS,
                                           HE_ATTEMPT_DELAY_MAX_MS, HE_BELOW_CLAMPS);
    he_config_int(&ctx, "HE_CONNECT_TIMEOUT_MS", &cfg->connect_timeout_ms, 0, 0,
                  HE_CONNECT_TIMEOUT_MAX_MS, HE_BELOW_CLAMPS);
    /* 1 turns racing off on purpose, more than the limit clearly asks for
     * many; 0 or less says nothing clear (off? unlimited?). */
    he_config_int(&ctx, "HE_MAX_ATTEMPTS", &cfg->max_attempts, HE_MAX_ATTEMPTS_DEFAULT, 1,
                  HE_MAX_ATTEMPTS_LIMIT, HE_BELOW_IS_BAD);
    he_config_int(&ctx, "HE_RESCUE_WAIT_MS", &cfg->rescue_wait_ms, HE_RESCUE_WAIT_DEFAULT_MS, 0,
                  HE_RESCUE_WAIT_MAX_MS, HE_BELOW_CLAMPS);
    he_config_int(&ctx, "HE_BANNER_TIMEOUT_MS", &cfg->banner_timeout_ms,
                  HE_BANNER_TIMEOUT_DEFAULT_MS, 1, HE_BANNER_TIMEOUT_MAX_MS, HE_BELOW_CLAMPS);
    he_config_banner_ports(&ctx, cfg);
    he_config_int(&ctx, "HE_MAP_MAX", &cfg->map_max, HE_MAP_MAX_DEFAULT, 1, HE_MAP_MAX_LIMIT,
                  HE_BELOW_CLAMPS);
    he_config_level(&ctx, &cfg->log_level);
    const char *file = getenv_fn("HE_LOG_FILE");
    cfg->log_file = (file && *file) ? file : NULL;
    he_config_int(&ctx, "HE_MAP_TTL", &cfg->map_ttl_s, HE_MAP_TTL_DEFAULT_S, 0, HE_MAP_TTL_MAX_S,
                  HE_BELOW_CLAMPS);
    he_config_int(&ctx, "HE_RESOLUTION_DELAY_MS", &cfg->resolution_delay_ms,
                  HE_RESOLUTION_DELAY_DEFAULT_MS, 0, HE_RESOLUTION_DELAY_MAX_MS, HE_BELOW_CLAMPS);
    he_config_resolve(&ctx, &cfg->resolve_cares);
    const char *hosts = getenv_fn("HE_HOSTS");
    cfg->hosts_file = (hosts && *hosts) ? hosts : NULL;
    he_config_nameservers(&ctx, cfg->nameservers, sizeof cfg->nameservers);
    he_config_history_all(&ctx, cfg);
    he_config_report(&ctx, cfg);
    return ctx.warnings;
}

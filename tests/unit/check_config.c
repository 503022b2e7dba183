/* Unit tests for the environment parser (shim/config.c), through a fake
 * getenv and a warning collector. */
#include "../../common/log.h"
#include "../../shim/config.h"

#include "he_check.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The fake environment and the warnings                                      */

#define ENV_MAX 16
#define WARN_MAX 32

static struct { const char *name, *value; } fake_env[ENV_MAX];
static int fake_env_n;
static int getenv_calls;

static char warnings[WARN_MAX][1024];
static int nwarnings;

static void env_reset(void) {
    fake_env_n = 0;
    nwarnings = 0;
    getenv_calls = 0;
}

static void env_set(const char *name, const char *value) {
    ck_assert_int_lt(fake_env_n, ENV_MAX);
    fake_env[fake_env_n].name = name;
    fake_env[fake_env_n].value = value;
    fake_env_n++;
}

static const char *fake_getenv(const char *name) {
    getenv_calls++;
    for (int i = 0; i < fake_env_n; i++) {
        if (strcmp(fake_env[i].name, name) == 0) {
            return fake_env[i].value;
        }
    }
    return NULL;
}

static void collect_warning(const char *msg) {
    ck_assert_int_lt(nwarnings, WARN_MAX);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strlen(msg) < sizeof warnings[0], "warning of %zu bytes", strlen(msg));
    strcpy(warnings[nwarnings++], msg);
}

static int parse(struct he_config *cfg) {
    memset(cfg, 0x5a, sizeof *cfg);
    return he_config_parse(cfg, fake_getenv, collect_warning);
}

/* How many warnings name var: "VAR=..." at the start. */
static int warnings_for(const char *var) {
    int n = 0;
    size_t len = strlen(var);
    for (int i = 0; i < nwarnings; i++) {
        if (strncmp(warnings[i], var, len) == 0 && warnings[i][len] == '=') {
            n++;
        }
    }
    return n;
}

static const char *warning_for(const char *var) {
    size_t len = strlen(var);
    for (int i = 0; i < nwarnings; i++) {
        if (strncmp(warnings[i], var, len) == 0 && warnings[i][len] == '=') {
            return warnings[i];
        }
    }
    return NULL;
}

/* The value of the field var sets. */
static long field(const struct he_config *cfg, const char *var) {
    if (strcmp(var, "HE_DISABLE") == 0) {
        return cfg->disabled;
    }
    if (strcmp(var, "HE_ATTEMPT_DELAY_MS") == 0) {
        return cfg->attempt_delay_ms;
    }
    if (strcmp(var, "HE_CONNECT_TIMEOUT_MS") == 0) {
        return cfg->connect_timeout_ms;
    }
    if (strcmp(var, "HE_MAX_ATTEMPTS") == 0) {
        return cfg->max_attempts;
    }
    if (strcmp(var, "HE_MAP_MAX") == 0) {
        return cfg->map_max;
    }
    if (strcmp(var, "HE_LOG") == 0) {
        return cfg->log_level;
    }
    if (strcmp(var, "HE_MAP_TTL") == 0) {
        return cfg->map_ttl_s;
    }
    if (strcmp(var, "HE_RESOLUTION_DELAY_MS") == 0) {
        return cfg->resolution_delay_ms;
    }
    if (strcmp(var, "HE_RESOLVE") == 0) {
        return cfg->resolve_cares;
    }
    if (strcmp(var, "HE_HISTORY") == 0) {
        return cfg->history;
    }
    if (strcmp(var, "HE_HISTORY_WINDOW_S") == 0) {
        return cfg->history_window_s;
    }
    if (strcmp(var, "HE_HISTORY_WINDOW_MAX_S") == 0) {
        return cfg->history_window_max_s;
    }
    if (strcmp(var, "HE_MIN_ATTEMPT_DELAY_MS") == 0) {
        return cfg->min_attempt_delay_ms;
    }
    if (strcmp(var, "HE_STATS") == 0) {
        return cfg->stats;
    }
    if (strcmp(var, "HE_LOG_FORMAT") == 0) {
        return cfg->log_json;
    }
    if (strcmp(var, "HE_RESCUE_WAIT_MS") == 0) {
        return cfg->rescue_wait_ms;
    }
    if (strcmp(var, "HE_BANNER_TIMEOUT_MS") == 0) {
        return cfg->banner_timeout_ms;
    }
    ck_abort_msg("no field for %s", var);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Defaults                                                                   */

static void assert_defaults_except(const struct he_config *cfg, const char *except) {
    static const struct {
        const char *var;
        long want;
    } defaults[] = {
        {"HE_DISABLE", 0},
        {"HE_ATTEMPT_DELAY_MS", HE_ATTEMPT_DELAY_DEFAULT_MS},
        {"HE_CONNECT_TIMEOUT_MS", 0},
        {"HE_MAX_ATTEMPTS", HE_MAX_ATTEMPTS_DEFAULT},
        {"HE_MAP_MAX", HE_MAP_MAX_DEFAULT},
        {"HE_LOG", HE_LOG_WARN},
        {"HE_MAP_TTL", HE_MAP_TTL_DEFAULT_S},
        {"HE_RESOLUTION_DELAY_MS", HE_RESOLUTION_DELAY_DEFAULT_MS},
        {"HE_RESOLVE", 0},
        {"HE_HISTORY", HE_HISTORY_USER},
        {"HE_HISTORY_WINDOW_S", HE_HISTORY_WINDOW_DEFAULT_S},
        {"HE_HISTORY_WINDOW_MAX_S", HE_HISTORY_WINDOW_MAX_DEFAULT_S},
        {"HE_MIN_ATTEMPT_DELAY_MS", HE_MIN_ATTEMPT_DELAY_DEFAULT_MS},
        {"HE_STATS", 0},
        {"HE_LOG_FORMAT", 0},
        {"HE_RESCUE_WAIT_MS", HE_RESCUE_WAIT_DEFAULT_MS},
        {"HE_BANNER_TIMEOUT_MS", HE_BANNER_TIMEOUT_DEFAULT_MS},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (except != NULL && strcmp(defaults[i].var, except) == 0) {
            continue;
        }
        ck_assert_msg(field(cfg, defaults[i].var) == defaults[i].want,
                      "%s is %ld, want the default %ld", defaults[i].var,
                      field(cfg, defaults[i].var), defaults[i].want);
    }
}

START_TEST(test_defaults_when_unset) {
    env_reset();
    struct he_config cfg;
    ck_assert_int_eq(parse(&cfg), 0);
    ck_assert_int_eq(nwarnings, 0);
    assert_defaults_except(&cfg, NULL);
    ck_assert_int_eq(cfg.attempt_delay_ms, 250);
    ck_assert_int_eq(cfg.max_attempts, 16);
    ck_assert_int_eq(cfg.map_max, 4096);
    ck_assert_ptr_null(cfg.log_file);
    ck_assert_int_gt(getenv_calls, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* One variable at a time                                                     */

struct var_row {
    const char *var;
    const char *value;
    long want;        /* the field */
    int want_warn;    /* 0 or 1 */
    const char *used; /* what the warning says it uses instead */
};

static const struct var_row var_rows[] = {
    /* good values */
    {"HE_ATTEMPT_DELAY_MS", "300", 300, 0, NULL},
    {"HE_ATTEMPT_DELAY_MS", "10", 10, 0, NULL},
    {"HE_ATTEMPT_DELAY_MS", "2000", 2000, 0, NULL},
    {"HE_ATTEMPT_DELAY_MS", "0250", 250, 0, NULL},
    {"HE_RESCUE_WAIT_MS", "0", 0, 0, NULL},
    {"HE_RESCUE_WAIT_MS", "250", 250, 0, NULL},
    {"HE_RESCUE_WAIT_MS", "-1", 0, 1, "0"},
    {"HE_RESCUE_WAIT_MS", "20000", 10000, 1, "10000"},
    {"HE_RESCUE_WAIT_MS", "soon", 100, 1, "100"},
    {"HE_BANNER_TIMEOUT_MS", "2500", 2500, 0, NULL},
    {"HE_BANNER_TIMEOUT_MS", "0", 1, 1, "1"},
    {"HE_BANNER_TIMEOUT_MS", "", 1000, 1, "1000"},
    {"HE_CONNECT_TIMEOUT_MS", "5000", 5000, 0, NULL},
    {"HE_CONNECT_TIMEOUT_MS", "0", 0, 0, NULL},
    {"HE_CONNECT_TIMEOUT_MS", "86400000", 86400000, 0, NULL},
    {"HE_MAX_ATTEMPTS", "1", 1, 0, NULL},
    {"HE_MAX_ATTEMPTS", "4", 4, 0, NULL},
    {"HE_MAX_ATTEMPTS", "64", 64, 0, NULL},
    {"HE_MAP_MAX", "1", 1, 0, NULL},
    {"HE_MAP_MAX", "100", 100, 0, NULL},
    {"HE_MAP_MAX", "1000000", 1000000, 0, NULL},
    {"HE_MAP_TTL", "0", 0, 0, NULL},
    {"HE_MAP_TTL", "86400", 86400, 0, NULL},
    {"HE_RESOLUTION_DELAY_MS", "0", 0, 0, NULL},
    {"HE_RESOLUTION_DELAY_MS", "2000", 2000, 0, NULL},
    {"HE_RESOLVE", "cares", 1, 0, NULL},
    {"HE_RESOLVE", "CARES", 1, 0, NULL},
    {"HE_RESOLVE", "libc", 0, 0, NULL},
    {"HE_RESOLVE", "", 0, 0, NULL},
    {"HE_RESOLVE", "dns", 0, 1, "libc"},
    {"HE_STATS", "1", 1, 0, NULL},
    {"HE_STATS", "0", 0, 0, NULL},
    {"HE_STATS", "", 0, 0, NULL},
    {"HE_STATS", "yes", 1, 1, "1"},
    {"HE_LOG_FORMAT", "json", 1, 0, NULL},
    {"HE_LOG_FORMAT", "JSON", 1, 0, NULL},
    {"HE_LOG_FORMAT", "text", 0, 0, NULL},
    {"HE_LOG_FORMAT", "", 0, 0, NULL},
    {"HE_LOG_FORMAT", "xml", 0, 1, "text"},
    {"HE_HISTORY", "off", 0, 0, NULL},
    {"HE_HISTORY", "PROCESS", 1, 0, NULL},
    {"HE_HISTORY", "user", 2, 0, NULL},
    {"HE_HISTORY", "", 2, 0, NULL},
    {"HE_HISTORY", "0", 2, 1, "user"},
    {"HE_HISTORY", "shared", 2, 1, "user"},
    {"HE_HISTORY_WINDOW_S", "5", 5, 0, NULL},
    {"HE_HISTORY_WINDOW_S", "0", 1, 1, "1"},
    {"HE_HISTORY_WINDOW_S", "1m", 30, 1, "30"},
    {"HE_HISTORY_WINDOW_MAX_S", "3600", 3600, 0, NULL},
    {"HE_HISTORY_WINDOW_MAX_S", "86401", 86400, 1, "86400"},
    {"HE_MIN_ATTEMPT_DELAY_MS", "10", 10, 0, NULL},
    {"HE_MIN_ATTEMPT_DELAY_MS", "5", 10, 1, "10"},
    {"HE_MIN_ATTEMPT_DELAY_MS", "2001", 2000, 1, "2000"},
    {"HE_MAP_TTL", "-1", 0, 1, "0"},
    {"HE_MAP_TTL", "86401", 86400, 1, "86400"},
    {"HE_MAP_TTL", "30s", 30, 1, "30"},
    {"HE_RESOLUTION_DELAY_MS", "2001", 2000, 1, "2000"},
    {"HE_RESOLUTION_DELAY_MS", "fast", 50, 1, "50"},
    /* clamped */
    {"HE_ATTEMPT_DELAY_MS", "1", 10, 1, "10"},
    {"HE_ATTEMPT_DELAY_MS", "9", 10, 1, "10"},
    {"HE_ATTEMPT_DELAY_MS", "0", 10, 1, "10"},
    {"HE_ATTEMPT_DELAY_MS", "-1", 10, 1, "10"},
    {"HE_ATTEMPT_DELAY_MS", "-0", 10, 1, "10"},
    {"HE_ATTEMPT_DELAY_MS", "2001", 2000, 1, "2000"},
    {"HE_ATTEMPT_DELAY_MS", "5000", 2000, 1, "2000"},
    {"HE_ATTEMPT_DELAY_MS", "99999999999999999999", 2000, 1, "2000"},
    {"HE_ATTEMPT_DELAY_MS", "-99999999999999999999", 10, 1, "10"},
    {"HE_ATTEMPT_DELAY_MS", "4294967546", 2000, 1, "2000"}, /* 2^32 + 250 */
    {"HE_CONNECT_TIMEOUT_MS", "-1", 0, 1, "0"},
    {"HE_CONNECT_TIMEOUT_MS", "86400001", 86400000, 1, "86400000"},
    /* 0 and below say nothing clear: the default, like a bad value */
    {"HE_MAX_ATTEMPTS", "0", 16, 1, "16"},
    {"HE_MAX_ATTEMPTS", "-5", 16, 1, "16"},
    {"HE_MAX_ATTEMPTS", "-99999999999999999999", 16, 1, "16"},
    {"HE_MAX_ATTEMPTS", "65", 64, 1, "64"},
    {"HE_MAX_ATTEMPTS", "1000", 64, 1, "64"},
    {"HE_MAP_MAX", "0", 1, 1, "1"},
    {"HE_MAP_MAX", "2000000", 1000000, 1, "1000000"},
    /* not a whole number: the default */
    {"HE_ATTEMPT_DELAY_MS", "", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", " 5", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "\t5", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "5 ", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "5ms", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "+300", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "0x10", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "nan", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "inf", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "3.5", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "1e3", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "-", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "--5", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "3 00", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "300\n", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "300; rm -rf /", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "fast", 250, 1, "250"},
    {"HE_CONNECT_TIMEOUT_MS", "", 0, 1, "0"},
    {"HE_CONNECT_TIMEOUT_MS", "5s", 0, 1, "0"},
    {"HE_MAX_ATTEMPTS", "", 16, 1, "16"},
    {"HE_MAX_ATTEMPTS", "four", 16, 1, "16"},
    {"HE_MAP_MAX", "4k", 4096, 1, "4096"},
    /* log level, without case */
    {"HE_LOG", "error", HE_LOG_ERROR, 0, NULL},
    {"HE_LOG", "warn", HE_LOG_WARN, 0, NULL},
    {"HE_LOG", "info", HE_LOG_INFO, 0, NULL},
    {"HE_LOG", "debug", HE_LOG_DEBUG, 0, NULL},
    {"HE_LOG", "DEBUG", HE_LOG_DEBUG, 0, NULL},
    {"HE_LOG", "Info", HE_LOG_INFO, 0, NULL},
    {"HE_LOG", "ERROR", HE_LOG_ERROR, 0, NULL},
    {"HE_LOG", "verbose", HE_LOG_WARN, 1, "warn"},
    {"HE_LOG", "", HE_LOG_WARN, 1, "warn"},
    {"HE_LOG", "3", HE_LOG_WARN, 1, "warn"},
    {"HE_LOG", "debug ", HE_LOG_WARN, 1, "warn"},
    {"HE_LOG", "warning", HE_LOG_WARN, 1, "warn"},
    /* disable */
    {"HE_DISABLE", "1", 1, 0, NULL},
    {"HE_DISABLE", "0", 0, 0, NULL},
    {"HE_DISABLE", "", 0, 0, NULL},
    {"HE_DISABLE", "yes", 1, 1, "1"},
    {"HE_DISABLE", "true", 1, 1, "1"},
    {"HE_DISABLE", "2", 1, 1, "1"},
    {"HE_DISABLE", " 0", 1, 1, "1"},
};

#define VAR_ROWS (int)(sizeof var_rows / sizeof var_rows[0])

/* value, printable, for failure messages: control characters as \ooo */
static const char *printable(const char *value, char *buf, size_t len) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p && o + 5 < len; p++) {
        if (*p < 0x20 || *p >= 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\%03o", *p);
        } else {
            buf[o++] = (char)*p;
        }
    }
    buf[o] = '\0';
    return buf;
}

static void check_var_row(const struct var_row *row) {
    char shown[128];
    printable(row->value, shown, sizeof shown);
    env_reset();
    env_set(row->var, row->value);
    struct he_config cfg;
    int rc = parse(&cfg);
    ck_assert_msg(field(&cfg, row->var) == row->want, "%s=\"%s\": %ld, want %ld", row->var, shown,
                  field(&cfg, row->var), row->want);
    ck_assert_msg(rc == row->want_warn, "%s=\"%s\": returned %d, want %d", row->var, shown, rc,
                  row->want_warn);
    ck_assert_msg(nwarnings == row->want_warn, "%s=\"%s\": %d warnings, want %d", row->var, shown,
                  nwarnings, row->want_warn);
    if (row->want_warn) {
        const char *w = warning_for(row->var);
        ck_assert_msg(w != NULL, "%s=\"%s\": the warning does not name it: %s", row->var, shown,
                      warnings[0]);
        char used[64];
        snprintf(used, sizeof used, "using %s", row->used);
        const char *at = strstr(w, used);
        ck_assert_msg(at != NULL, "%s=\"%s\": the warning does not say \"%s\": %s", row->var, shown,
                      used, w);
        /* "using 10" must not be the start of "using 100". */
        char after = at[strlen(used)];
        ck_assert_msg(after == '\0' || after == ' ' || after == ')',
                      "%s=\"%s\": the warning says something else: %s", row->var, shown, w);
    }
    assert_defaults_except(&cfg, row->var);
    ck_assert_ptr_null(cfg.log_file);
}

START_TEST(test_one_variable) {
    check_var_row(&var_rows[_i]);
}
END_TEST

/* strtol skips every isspace() character, not only ' ' and '\t': a value
 * beginning with a newline, a carriage return, a vertical tab or a form
 * feed must be refused like " 5" is. */
static const struct var_row leading_space_rows[] = {
    {"HE_ATTEMPT_DELAY_MS", "\n300", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "\r300", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "\v300", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "\f300", 250, 1, "250"},
    {"HE_MAX_ATTEMPTS", "\n4", 16, 1, "16"},
};

START_TEST(test_leading_whitespace_refused) {
    check_var_row(&leading_space_rows[_i]);
}
END_TEST

/* A number too big for a long followed by junk is not a whole number: the
 * default, as for "5ms", not the top of the range. */
static const struct var_row overflow_junk_rows[] = {
    {"HE_ATTEMPT_DELAY_MS", "99999999999999999999ms", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", " 99999999999999999999", 250, 1, "250"},
    {"HE_ATTEMPT_DELAY_MS", "+99999999999999999999", 250, 1, "250"},
    {"HE_MAX_ATTEMPTS", "99999999999999999999 attempts", 16, 1, "16"},
};

START_TEST(test_overflow_with_junk_is_garbage) {
    check_var_row(&overflow_junk_rows[_i]);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Long values                                                                */

START_TEST(test_long_values) {
    enum { LEN = 10 * 1024 };
    static const struct {
        char fill;
        long want;
        const char *used;
    } rows[] = {
        {'7', 2000, "using 2000"}, /* all digits: too big, the top */
        {'x', 250, "using 250"},   /* garbage: the default */
        {' ', 250, "using 250"},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        char *big = malloc(LEN + 1);
        ck_assert_ptr_nonnull(big);
        memset(big, rows[r].fill, LEN);
        big[LEN] = '\0';
        env_reset();
        env_set("HE_ATTEMPT_DELAY_MS", big);
        struct he_config cfg;
        ck_assert_int_eq(parse(&cfg), 1);
        ck_assert_int_eq(nwarnings, 1);
        ck_assert_int_eq(cfg.attempt_delay_ms, rows[r].want);
        ck_assert_msg(strncmp(warnings[0], "HE_ATTEMPT_DELAY_MS=", 20) == 0, "%s", warnings[0]);
        ck_assert_msg(strstr(warnings[0], rows[r].used) != NULL, "fill '%c': %s", rows[r].fill,
                      warnings[0]);
        /* The value is quoted shortened, not 10 KB of it. */
        ck_assert_msg(strlen(warnings[0]) < 200, "warning of %zu bytes", strlen(warnings[0]));
        free(big);
    }

    /* A long log file name is taken as is. */
    char *path = malloc(LEN + 1);
    ck_assert_ptr_nonnull(path);
    memset(path, 'p', LEN);
    path[0] = '/';
    path[LEN] = '\0';
    env_reset();
    env_set("HE_LOG_FILE", path);
    struct he_config cfg;
    ck_assert_int_eq(parse(&cfg), 0);
    ck_assert_ptr_eq(cfg.log_file, path);
    free(path);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Several at once, the log file                                              */

/* HE_BANNER_PORTS: a list; every bad entry its own warning, the good ones
 * kept; empty turns banner races off. */
static int banner_ports(const char *value, int *nwarn) {
    env_reset();
    if (value != NULL) {
        env_set("HE_BANNER_PORTS", value);
    }
    struct he_config cfg;
    parse(&cfg);
    *nwarn = warnings_for("HE_BANNER_PORTS");
    int n = cfg.nbanner_ports;
    if (value != NULL && strcmp(value, "22, 2222") == 0) {
        ck_assert(he_config_banner_port(&cfg, 22));
        ck_assert(he_config_banner_port(&cfg, 2222));
        ck_assert(!he_config_banner_port(&cfg, 25));
    }
    if (value == NULL) {
        ck_assert(he_config_banner_port(&cfg, 22) && he_config_banner_port(&cfg, 25) &&
                  he_config_banner_port(&cfg, 3306));
        /* TLS-wrapped: the client speaks first. */
        ck_assert(!he_config_banner_port(&cfg, 465) && !he_config_banner_port(&cfg, 993) &&
                  !he_config_banner_port(&cfg, 443));
    }
    return n;
}

START_TEST(test_banner_ports) {
    int w;
    ck_assert_int_eq(banner_ports(NULL, &w), 9);
    ck_assert_int_eq(w, 0);
    ck_assert_int_eq(banner_ports("", &w), 0);
    ck_assert_int_eq(w, 0);
    ck_assert_int_eq(banner_ports("22, 2222", &w), 2);
    ck_assert_int_eq(w, 0);
    ck_assert_int_eq(banner_ports("22,ssh,70000,0,25,22", &w), 2);
    ck_assert_int_eq(w, 3);
    ck_assert_ptr_nonnull(strstr(warning_for("HE_BANNER_PORTS"), "\"ssh\""));
    char many[600] = "";
    for (int p = 1; p <= 70; p++) {
        snprintf(many + strlen(many), sizeof many - strlen(many), "%d,", p);
    }
    ck_assert_int_eq(banner_ports(many, &w), HE_BANNER_PORTS_MAX);
    ck_assert_int_eq(w, 1);
}
END_TEST

START_TEST(test_one_warning_per_bad_variable) {
    env_reset();
    env_set("HE_DISABLE", "please");
    env_set("HE_ATTEMPT_DELAY_MS", "5ms");
    env_set("HE_CONNECT_TIMEOUT_MS", "-5");
    env_set("HE_MAX_ATTEMPTS", "1000");
    env_set("HE_MAP_MAX", "lots");
    env_set("HE_LOG", "loud");
    env_set("HE_LOG_FILE", "");
    struct he_config cfg;
    ck_assert_int_eq(parse(&cfg), 6);
    ck_assert_int_eq(nwarnings, 6);
    const char *vars[] = {"HE_DISABLE",      "HE_ATTEMPT_DELAY_MS", "HE_CONNECT_TIMEOUT_MS",
                          "HE_MAX_ATTEMPTS", "HE_MAP_MAX",          "HE_LOG"};
    for (int i = 0; i < 6; i++) {
        ck_assert_msg(warnings_for(vars[i]) == 1, "%d warnings for %s", warnings_for(vars[i]),
                      vars[i]);
    }
    ck_assert_int_eq(cfg.disabled, 1);
    ck_assert_int_eq(cfg.attempt_delay_ms, 250);
    ck_assert_int_eq(cfg.connect_timeout_ms, 0);
    ck_assert_int_eq(cfg.max_attempts, 64);
    ck_assert_int_eq(cfg.map_max, 4096);
    ck_assert_int_eq(cfg.log_level, HE_LOG_WARN);
    ck_assert_ptr_null(cfg.log_file);
    /* The value is quoted. */
    ck_assert_ptr_nonnull(strstr(warning_for("HE_ATTEMPT_DELAY_MS"), "\"5ms\""));
    ck_assert_ptr_nonnull(strstr(warning_for("HE_MAP_MAX"), "\"lots\""));
}
END_TEST

/* HE_NAMESERVERS becomes c-ares's "ip:port,[ip6]:port" form, or nothing
 * (with one warning) when any item does not parse. */
static const struct {
    const char *value, *want;
    int warn;
} ns_rows[] = {
    {"198.51.100.53", "198.51.100.53:53", 0},
    {"198.51.100.53:5353", "198.51.100.53:5353", 0},
    {"2001:db8::53", "[2001:db8::53]:53", 0},
    {"[2001:db8::53]:5353,192.0.2.1", "[2001:db8::53]:5353,192.0.2.1:53", 0},
    {"", "", 0},
    {"dns.example", "", 1},
    {"192.0.2.1:0", "", 1},
    {"192.0.2.1:65536", "", 1},
    {"192.0.2.1,", "", 1},
    {",192.0.2.1", "", 1},
    {"[2001:db8::53", "", 1},
    {"[2001:db8::53]x", "", 1},
    {"192.0.2.1:53:53", "", 1},
    {"192.0.2.1;rm -rf /", "", 1},
};

START_TEST(test_nameservers) {
    env_reset();
    env_set("HE_NAMESERVERS", ns_rows[_i].value);
    struct he_config cfg;
    ck_assert_int_eq(parse(&cfg), ns_rows[_i].warn);
    ck_assert_str_eq(cfg.nameservers, ns_rows[_i].want);
    if (ns_rows[_i].warn) {
        ck_assert_int_eq(warnings_for("HE_NAMESERVERS"), 1);
    }
}
END_TEST

/* Reproducer: 37 or more servers overflowed a 512-byte buffer and the
 * whole list was refused as "not a list".  Up to HE_NAMESERVERS_MAX are
 * taken, IPv6 in brackets with a port being the longest form; one more is
 * refused as too many. */
static void ns_list(char *out, size_t room, int n, int v6) {
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t used = strlen(out);
        snprintf(out + used, room - used,
                 v6 ? "%s[2001:db8:ffff:ffff:ffff:ffff:ffff:%x]:65535" : "%s198.51.100.%d",
                 i ? "," : "", i + 1);
    }
}

static const struct {
    int n, v6, warn;
} ns_many_rows[] = {{37, 0, 0},
                    {HE_NAMESERVERS_MAX, 0, 0},
                    {HE_NAMESERVERS_MAX, 1, 0},
                    {HE_NAMESERVERS_MAX + 1, 0, 1},
                    {HE_NAMESERVERS_MAX + 1, 1, 1}};

START_TEST(test_nameservers_many) {
    static char list[HE_NAMESERVERS_MAX * 64];
    ns_list(list, sizeof list, ns_many_rows[_i].n, ns_many_rows[_i].v6);
    env_reset();
    env_set("HE_NAMESERVERS", list);
    struct he_config cfg;
    ck_assert_int_eq(parse(&cfg), ns_many_rows[_i].warn);
    if (ns_many_rows[_i].warn) {
        ck_assert_str_eq(cfg.nameservers, "");
        ck_assert_ptr_nonnull(strstr(warning_for("HE_NAMESERVERS"), "too many"));
        return;
    }
    int commas = 0;
    for (const char *p = cfg.nameservers; *p; p++) {
        commas += *p == ',';
    }
    ck_assert_int_eq(commas + 1, ns_many_rows[_i].n);
    ck_assert_ptr_nonnull(strstr(cfg.nameservers, ns_many_rows[_i].v6 ? "]:65535" : ".1:53"));
}
END_TEST

START_TEST(test_all_good) {
    env_reset();
    env_set("HE_DISABLE", "0");
    env_set("HE_ATTEMPT_DELAY_MS", "100");
    env_set("HE_CONNECT_TIMEOUT_MS", "3000");
    env_set("HE_MAX_ATTEMPTS", "8");
    env_set("HE_MAP_MAX", "512");
    env_set("HE_LOG", "Debug");
    env_set("HE_LOG_FILE", "/tmp/libhe.log");
    struct he_config cfg;
    ck_assert_int_eq(parse(&cfg), 0);
    ck_assert_int_eq(nwarnings, 0);
    ck_assert_int_eq(cfg.disabled, 0);
    ck_assert_int_eq(cfg.attempt_delay_ms, 100);
    ck_assert_int_eq(cfg.connect_timeout_ms, 3000);
    ck_assert_int_eq(cfg.max_attempts, 8);
    ck_assert_int_eq(cfg.map_max, 512);
    ck_assert_int_eq(cfg.log_level, HE_LOG_DEBUG);
    ck_assert_str_eq(cfg.log_file, "/tmp/libhe.log");
}
END_TEST

/* The history's settings: a maximum window below the first is raised to
 * it; HE_ATTEMPT_DELAY_MS given or not (it caps the RTT-derived delay only
 * when given); the file as given. */
START_TEST(test_history_settings) {
    struct he_config cfg;
    env_reset();
    ck_assert_int_eq(parse(&cfg), 0);
    ck_assert_int_eq(cfg.attempt_delay_set, 0);
    ck_assert_ptr_null(cfg.history_file);
    env_set("HE_HISTORY_WINDOW_S", "120");
    env_set("HE_HISTORY_WINDOW_MAX_S", "60");
    env_set("HE_ATTEMPT_DELAY_MS", "250");
    env_set("HE_HISTORY_FILE", "/run/x/history");
    ck_assert_int_eq(parse(&cfg), 0);
    ck_assert_int_eq(cfg.history_window_s, 120);
    ck_assert_int_eq(cfg.history_window_max_s, 120);
    ck_assert_int_eq(cfg.attempt_delay_set, 1);
    ck_assert_str_eq(cfg.history_file, "/run/x/history");
    /* A value that does not parse is no explicit delay. */
    env_reset();
    env_set("HE_ATTEMPT_DELAY_MS", "fast");
    ck_assert_int_eq(parse(&cfg), 1);
    ck_assert_int_eq(cfg.attempt_delay_set, 0);
}
END_TEST

START_TEST(test_log_file) {
    struct he_config cfg;
    env_reset();
    env_set("HE_LOG_FILE", "");
    ck_assert_int_eq(parse(&cfg), 0);
    ck_assert_ptr_null(cfg.log_file);

    env_reset();
    ck_assert_int_eq(parse(&cfg), 0);
    ck_assert_ptr_null(cfg.log_file);

    static const char path[] = "/var/log/app/he.log";
    env_reset();
    env_set("HE_LOG_FILE", path);
    ck_assert_int_eq(parse(&cfg), 0);
    ck_assert_ptr_eq(cfg.log_file, path);
    ck_assert_int_eq(nwarnings, 0);
}
END_TEST

START_TEST(test_parse_is_repeatable) {
    /* Parsing twice gives the same, and does not remember the last run. */
    env_reset();
    env_set("HE_MAX_ATTEMPTS", "3");
    struct he_config a, b;
    ck_assert_int_eq(parse(&a), 0);
    env_reset();
    ck_assert_int_eq(parse(&b), 0);
    ck_assert_int_eq(a.max_attempts, 3);
    ck_assert_int_eq(b.max_attempts, HE_MAX_ATTEMPTS_DEFAULT);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *config_suite(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults_when_unset);
    tcase_add_loop_test(tc, test_one_variable, 0, VAR_ROWS);
    tcase_add_test(tc, test_banner_ports);
    tcase_add_loop_test(tc, test_leading_whitespace_refused, 0,
                        (int)(sizeof leading_space_rows / sizeof leading_space_rows[0]));
    tcase_add_loop_test(tc, test_overflow_with_junk_is_garbage, 0,
                        (int)(sizeof overflow_junk_rows / sizeof overflow_junk_rows[0]));
    tcase_add_test(tc, test_long_values);
    tcase_add_test(tc, test_one_warning_per_bad_variable);
    tcase_add_loop_test(tc, test_nameservers, 0, (int)(sizeof ns_rows / sizeof ns_rows[0]));
    tcase_add_loop_test(tc, test_nameservers_many, 0,
                        (int)(sizeof ns_many_rows / sizeof ns_many_rows[0]));
    tcase_add_test(tc, test_all_good);
    tcase_add_test(tc, test_history_settings);
    tcase_add_test(tc, test_log_file);
    tcase_add_test(tc, test_parse_is_repeatable);
    suite_add_tcase(s, tc);
    return s;
}

HE_CHECK_MAIN(config_suite)

#include "config.h"

#include "../common/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Reads an integer variable into *out, clamping to [lo, hi]; keeps dflt
 * when it is absent, empty-or-garbage (with a warning). */
static void he_config_int(struct he_config_ctx *ctx, const char *name, int *out, int dflt, long lo,
                          long hi) {
    *out = dflt;
    const char *s = ctx->get(name);
    if (s == NULL) {
        return;
    }
    char used[32];
    long v = 0;
    int rc = he_config_parse_long(s, &v);
    if (rc == -EINVAL) {
        snprintf(used, sizeof used, "%d", dflt);
        he_config_warn(ctx, name, s, "is not a whole number", used);
        return;
    }
    if (rc == -ERANGE || v < lo || v > hi) {
        long clamped = (rc == -ERANGE) ? (s[0] == '-' ? lo : hi) : (v < lo ? lo : hi);
        snprintf(used, sizeof used, "%ld", clamped);
        char why[64];
        snprintf(why, sizeof why, "is outside %ld..%ld", lo, hi);
        he_config_warn(ctx, name, s, why, used);
        *out = (int)clamped;
        return;
    }
    *out = (int)v;
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

int he_config_parse(struct he_config *cfg, he_config_getenv_fn getenv_fn,
                    he_config_warn_fn warn_fn) {
    struct he_config_ctx ctx = {getenv_fn, warn_fn, 0};
    memset(cfg, 0, sizeof *cfg);
    he_config_disable(&ctx, &cfg->disabled);
    he_config_int(&ctx, "HE_ATTEMPT_DELAY_MS", &cfg->attempt_delay_ms, HE_ATTEMPT_DELAY_DEFAULT_MS,
                  HE_ATTEMPT_DELAY_MIN_MS, HE_ATTEMPT_DELAY_MAX_MS);
    he_config_int(&ctx, "HE_CONNECT_TIMEOUT_MS", &cfg->connect_timeout_ms, 0, 0,
                  HE_CONNECT_TIMEOUT_MAX_MS);
    he_config_int(&ctx, "HE_MAX_ATTEMPTS", &cfg->max_attempts, HE_MAX_ATTEMPTS_DEFAULT, 1,
                  HE_MAX_ATTEMPTS_LIMIT);
    he_config_int(&ctx, "HE_MAP_MAX", &cfg->map_max, HE_MAP_MAX_DEFAULT, 1, HE_MAP_MAX_LIMIT);
    he_config_level(&ctx, &cfg->log_level);
    const char *file = getenv_fn("HE_LOG_FILE");
    cfg->log_file = (file && *file) ? file : NULL;
    return ctx.warnings;
}

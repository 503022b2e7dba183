/* libFuzzer target: the configuration parser with hostile environments.
 *
 * The input is split at NUL bytes into the values of the HE_* variables, in
 * the order of he_fuzz_vars; a missing part leaves the variable unset.  The
 * parser must never crash, must warn at most once per variable (once per
 * entry for HE_BANNER_PORTS, a list), and must always produce values
 * inside their documented ranges. */
#include "../../shim/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const he_fuzz_vars[] = {
    "HE_DISABLE",
    "HE_ATTEMPT_DELAY_MS",
    "HE_CONNECT_TIMEOUT_MS",
    "HE_MAX_ATTEMPTS",
    "HE_MAP_MAX",
    "HE_LOG",
    "HE_LOG_FILE",
    "HE_MAP_TTL",
    "HE_RESOLUTION_DELAY_MS",
    "HE_RESOLVE",
    "HE_HOSTS",
    "HE_NAMESERVERS",
    "HE_STATS",
    "HE_LOG_FORMAT",
    "HE_RESCUE_WAIT_MS",
    "HE_BANNER_TIMEOUT_MS",
    "HE_BANNER_PORTS",
};
#define HE_FUZZ_NVARS (sizeof he_fuzz_vars / sizeof he_fuzz_vars[0])

static char *he_fuzz_values[HE_FUZZ_NVARS];

static const char *he_fuzz_getenv(const char *name) {
    for (size_t i = 0; i < HE_FUZZ_NVARS; i++) {
        if (strcmp(name, he_fuzz_vars[i]) == 0) {
            return he_fuzz_values[i];
        }
    }
    return NULL;
}

static void he_fuzz_warn(const char *msg) {
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *p = copy, *end = copy + size;
    for (size_t i = 0; i < HE_FUZZ_NVARS; i++) {
        he_fuzz_values[i] = p <= end ? p : NULL;
        p += p <= end ? strlen(p) + 1 : 0;
    }
    struct he_config cfg;
    int warnings = he_config_parse(&cfg, he_fuzz_getenv, he_fuzz_warn);
    /* HE_BANNER_PORTS: a warning per entry at most, entries split at
     * commas, spaces and tabs; every port kept is 1..65535. */
    const char *ports = he_fuzz_values[HE_FUZZ_NVARS - 1];
    int entries = 1;
    for (const char *c = ports; c != NULL && *c != '\0'; c++) {
        entries += *c == ',' || *c == ' ' || *c == '\t';
    }
    int ports_ok = cfg.nbanner_ports >= 0 && cfg.nbanner_ports <= HE_BANNER_PORTS_MAX;
    for (int i = 0; ports_ok && i < cfg.nbanner_ports; i++) {
        ports_ok = cfg.banner_ports[i] != 0;
    }
    if (warnings < 0 || warnings > (int)HE_FUZZ_NVARS - 1 + entries || !ports_ok ||
        cfg.rescue_wait_ms < 0 || cfg.rescue_wait_ms > HE_RESCUE_WAIT_MAX_MS ||
        cfg.banner_timeout_ms < 1 || cfg.banner_timeout_ms > HE_BANNER_TIMEOUT_MAX_MS ||
        cfg.attempt_delay_ms < HE_ATTEMPT_DELAY_MIN_MS ||
        cfg.attempt_delay_ms > HE_ATTEMPT_DELAY_MAX_MS || cfg.connect_timeout_ms < 0 ||
        cfg.max_attempts < 1 || cfg.max_attempts > HE_MAX_ATTEMPTS_LIMIT || cfg.map_max < 1 ||
        cfg.map_max > HE_MAP_MAX_LIMIT || cfg.log_level < 0 || cfg.log_level > 3 ||
        cfg.map_ttl_s < 0 || cfg.map_ttl_s > HE_MAP_TTL_MAX_S || cfg.resolution_delay_ms < 0 ||
        cfg.resolution_delay_ms > HE_RESOLUTION_DELAY_MAX_MS ||
        memchr(cfg.nameservers, '\0', sizeof cfg.nameservers) == NULL ||
        (cfg.stats != 0 && cfg.stats != 1) || (cfg.log_json != 0 && cfg.log_json != 1)) {
        abort();
    }
    free(copy);
    return 0;
}

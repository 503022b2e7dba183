/* libFuzzer target: the HE_FAULTS parser with hostile values.
 *
 * The input, cut at its first NUL, is the value.  The parser must never
 * crash; every rule it keeps must be in range (mode, port, count, chance,
 * a name in lower case of [a-z0-9._-]); kept plus left-out entries must be
 * the value's non-blank comma-separated entries (up to the cap); and every
 * kept rule's own address or name must match a rule. */
#include "../../faults/fault.h"
#include "../../faults/spec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void he_fuzz_check(int ok) {
    if (!ok) {
        abort();
    }
}

static int he_fuzz_warnings;

static void he_fuzz_warn(void *ctx, const char *msg) {
    (void)ctx;
    he_fuzz_check(strncmp(msg, "HE_FAULTS: entry '", 18) == 0 && strlen(msg) < 600);
    he_fuzz_warnings++;
}

static int he_fuzz_entries(const char *text) {
    int n = 0;
    for (const char *p = text; *p != '\0';) {
        size_t len = strcspn(p, ",");
        for (size_t i = 0; i < len; i++) {
            if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
                n++;
                break;
            }
        }
        p += len + (p[len] == ',');
    }
    return n;
}

static void he_fuzz_rule(const struct he_fault_spec *spec, const struct he_fault_rule *r) {
    he_fuzz_check(r->mode >= HE_FAULT_DROP && r->mode < HE_FAULT_MODES);
    he_fuzz_check(r->mode == HE_FAULT_DELAY
                      ? r->delay_ms >= 1 && r->delay_ms <= HE_FAULT_DELAY_MAX_MS
                      : r->delay_ms == 0);
    he_fuzz_check(r->port >= 0 && r->port <= 65535);
    he_fuzz_check(r->count >= 0 && r->count <= 1000000000);
    he_fuzz_check(r->permyriad >= 0 && r->permyriad <= HE_FAULT_ALWAYS);
    he_fuzz_check(r->nresolved == 0 && r->attempts == 0 && r->injected == 0);
    size_t len = strnlen(r->name, sizeof r->name);
    he_fuzz_check(len < sizeof r->name);
    for (size_t i = 0; i < len; i++) {
        char c = r->name[i];
        he_fuzz_check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                      c == '_');
    }
    he_fuzz_check(len == 0 || (r->name[0] != '.' && r->name[len - 1] != '.'));
    if (len == 0) {
        he_fuzz_check(r->addr.family == AF_INET || r->addr.family == AF_INET6);
    }
    int port = r->port != 0 ? r->port : 1;
    he_fuzz_check(he_fault_match(spec, &r->addr, port, len > 0 ? r->name : NULL) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    static struct he_fault_spec spec;
    he_fuzz_warnings = 0;
    int bad = he_fault_parse(text, &spec, he_fuzz_warn, NULL);
    he_fuzz_check(bad == he_fuzz_warnings);
    he_fuzz_check(spec.n >= 0 && spec.n <= HE_FAULT_RULES_MAX);
    he_fuzz_check(spec.n + bad == he_fuzz_entries(text));
    int names = 0;
    for (int i = 0; i < spec.n; i++) {
        he_fuzz_rule(&spec, &spec.rule[i]);
        names += spec.rule[i].name[0] != '\0';
    }
    he_fuzz_check(names == spec.names);
    uint64_t seed;
    if (he_fault_parse_seed(text, &seed) == 0) {
        he_fuzz_check(text[0] >= '0' && text[0] <= '9');
    }
    free(text);
    return 0;
}

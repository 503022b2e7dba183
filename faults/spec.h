/* HE_FAULTS: which destinations a test makes dead, refusing, unreachable,
 * silent or closing, parsed (faults/fault.h realises them).
 *
 * Pure: no hooks, no logging, no system call.  The grammar:
 *
 *   HE_FAULTS = ENTRY *( "," ENTRY )     blanks around entries are ignored
 *   ENTRY     = TARGET "=" MODE [MODIFIER [MODIFIER]]
 *   TARGET    = IPV4 [":" PORT] | IPV6 | "[" IPV6 "]" [":" PORT]
 *             | NAME [":" PORT]           a name: every address it has
 *   MODE      = "drop" | "refuse" | "unreach" | "silent" | "close"
 *             | "delay:" MS               connects after MS (1..600000)
 *   MODIFIER  = "*" COUNT                 only the first COUNT attempts
 *             | "@" PERCENT "%"           each attempt with this chance
 *
 * PORT is 1..65535 (none: every port), COUNT 1..1000000000, PERCENT 0..100
 * with at most two decimals.  A name is matched without case and without
 * one trailing dot, as HE_HOSTS names are.  An entry that does not parse is
 * left out with one warning naming it; the others apply. */
#ifndef HE_FAULT_SPEC_H
#define HE_FAULT_SPEC_H

#include "../common/addr.h"

#include <stdint.h>

#define HE_FAULT_RULES_MAX 64
#define HE_FAULT_NAME_MAX 255
/* Addresses a named rule is resolved to (faults/fault.h). */
#define HE_FAULT_NAME_ADDRS 16
/* PERCENT is kept in hundredths of a percent. */
#define HE_FAULT_ALWAYS 10000

enum he_fault_mode {
    HE_FAULT_NONE = 0,
    HE_FAULT_DROP,    /* SYNs vanish: the connect never completes */
    HE_FAULT_REFUSE,  /* an RST: ECONNREFUSED */
    HE_FAULT_UNREACH, /* EHOSTUNREACH at once, as from an unreachable route */
    HE_FAULT_SILENT,  /* connects; the server never sends a byte */
    HE_FAULT_CLOSE,   /* connects; the server closes at once */
    HE_FAULT_DELAY,   /* connects to the real address, after delay_ms */
};
#define HE_FAULT_MODES (HE_FAULT_DELAY + 1)
/* delay:MS takes 1 ms .. 10 min. */
#define HE_FAULT_DELAY_MAX_MS 600000

struct he_fault_rule {
    char name[HE_FAULT_NAME_MAX + 1]; /* lower case, no trailing dot; "" for an address */
    struct he_addr addr;              /* the address, when name is "" */
    int port;                         /* host order; 0: every port */
    enum he_fault_mode mode;
    int delay_ms;  /* delay:MS */
    long count;    /* *COUNT: attempts faulted at most; 0: no limit */
    int permyriad; /* @PERCENT in 1/10000; HE_FAULT_ALWAYS without one */
    /* A name's addresses (faults/fault.c fills them), and the rule's
     * counters, changed with atomics. */
    struct he_addr resolved[HE_FAULT_NAME_ADDRS];
    int nresolved;
    unsigned long attempts, injected;
};

struct he_fault_spec {
    int n;
    int names; /* rules with a name */
    struct he_fault_rule rule[HE_FAULT_RULES_MAX];
};

/* Receives one line per entry left out (without prefix or newline). */
typedef void (*he_fault_warn_fn)(void *ctx, const char *msg);

/* Parses text (NULL or "" is no faults) into *spec.  Returns the number of
 * entries left out; warn (may be NULL) hears each. */
int he_fault_parse(const char *text, struct he_fault_spec *spec, he_fault_warn_fn warn, void *ctx);

/* HE_FAULTS_SEED: a decimal (leading zeros allowed, never octal) or
 * 0x-hexadecimal 64-bit number.  0 or -EINVAL. */
int he_fault_parse_seed(const char *text, uint64_t *seed);

const char *he_fault_mode_name(enum he_fault_mode mode);

#endif

#include "spec.h"

#include "../resolver/hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An entry longer than this is left out whole (no address, name, port and
 * modifiers together come near it). */
#define HE_FAULT_ENTRY_MAX 400

static const char *const he_fault_modes[] = {
    [HE_FAULT_NONE] = "none",       [HE_FAULT_DROP] = "drop",     [HE_FAULT_REFUSE] = "refuse",
    [HE_FAULT_UNREACH] = "unreach", [HE_FAULT_SILENT] = "silent", [HE_FAULT_CLOSE] = "close",
    [HE_FAULT_DELAY] = "delay",
};

const char *he_fault_mode_name(enum he_fault_mode mode) {
    if ((unsigned)mode >= sizeof he_fault_modes / sizeof he_fault_modes[0]) {
        return "?";
    }
    return he_fault_modes[mode];
}

static int he_fault_is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A decimal number of 1..max digits' worth, whole text. */
static int he_fault_number(const char *s, size_t len, long max, long *out) {
    if (len == 0 || len > 10) {
        return -EINVAL;
    }
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -EINVAL;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) {
        return -ERANGE;
    }
    *out = v;
    return 0;
}

/* An IPv4 or IPv6 address, whole text; IPv4-mapped becomes IPv4. */
static int he_fault_address(const char *s, size_t len, int v6, struct he_addr *out) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof buf) {
        return -EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (!v6 && inet_pton(AF_INET, buf, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        sl = sizeof(struct sockaddr_in);
    } else if (v6 && inet_pton(AF_INET6, buf, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        sl = sizeof(struct sockaddr_in6);
    } else {
        return -EINVAL;
    }
    return he_addr_from_sockaddr(out, (struct sockaddr *)&ss, sl);
}

/* A host name as HE_HOSTS takes one (he_hosts_name_valid), one trailing
 * dot allowed, kept in lower case without it.  A last label of digits
 * only is a mistyped address, not a name. */
static const char *he_fault_name(const char *s, size_t len, char *out) {
    len -= len > 0 && s[len - 1] == '.';
    if (len == 0 || len > HE_FAULT_NAME_MAX) {
        return len == 0 ? "empty target" : "name longer than 255 characters";
    }
    if (!he_hosts_name_valid(s, len)) {
        return s[0] == '.' || s[len - 1] == '.' || memmem(s, len, "..", 2) != NULL
                   ? "empty label in the name"
                   : "not an address or a host name";
    }
    size_t last = len;
    while (last > 0 && s[last - 1] != '.') {
        last--;
    }
    if (strspn(s + last, "0123456789") >= len - last) {
        return "not a valid address";
    }
    for (size_t i = 0; i < len; i++) {
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    }
    out[len] = '\0';
    return NULL;
}

static const char *he_fault_port(const char *s, size_t len, struct he_fault_rule *r) {
    long port;
    if (he_fault_number(s, len, 65535, &port) != 0 || port == 0) {
        return "port is not 1..65535";
    }
    r->port = (int)port;
    return NULL;
}

/* TARGET: an address, a bracketed IPv6 address or a name, each but a bare
 * IPv6 address with an optional ":PORT". */
static const char *he_fault_target(const char *s, size_t len, struct he_fault_rule *r) {
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL) {
            return "'[' without ']'";
        }
        size_t alen = (size_t)(close - s) - 1, rest = len - alen - 2;
        if (he_fault_address(s + 1, alen, 1, &r->addr) != 0) {
            return "not an IPv6 address inside [ ]";
        }
        if (rest == 0) {
            return NULL;
        }
        if (close[1] != ':') {
            return "text after ']' is not :PORT";
        }
        return he_fault_port(close + 2, rest - 1, r);
    }
    const char *colon = memchr(s, ':', len);
    if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) != NULL) {
        return he_fault_address(s, len, 1, &r->addr) == 0 ? NULL : "not an IPv6 address";
    }
    size_t hlen = colon != NULL ? (size_t)(colon - s) : len;
    if (colon != NULL) {
        const char *why = he_fault_port(colon + 1, len - hlen - 1, r);
        if (why != NULL) {
            return why;
        }
    }
    if (he_fault_address(s, hlen, 0, &r->addr) == 0) {
        return NULL;
    }
    return he_fault_name(s, hlen, r->name);
}

/* "30%", "12.5%", "0.25%": hundredths of a percent. */
static const char *he_fault_percent(const char *s, size_t len, int *out) {
    if (len < 2 || s[len - 1] != '%') {
        return "@ needs a percentage such as @30%";
    }
    len--;
    const char *dot = memchr(s, '.', len);
    size_t ilen = dot != NULL ? (size_t)(dot - s) : len;
    size_t flen = dot != NULL ? len - ilen - 1 : 0;
    long whole, frac = 0;
    if (he_fault_number(s, ilen, 100, &whole) != 0 || (dot != NULL && flen == 0) || flen > 2 ||
        (flen > 0 && he_fault_number(dot + 1, flen, 99, &frac) != 0)) {
        return "percentage is not 0..100 with at most two decimals";
    }
    long v = whole * 100 + (flen == 1 ? frac * 10 : frac);
    if (v > HE_FAULT_ALWAYS) {
        return "percentage is over 100";
    }
    *out = (int)v;
    return NULL;
}

/* MODE and its modifiers. */
static const char *he_fault_mode(const char *s, size_t len, struct he_fault_rule *r) {
    size_t mlen = strcspn(s, "*@");
    mlen = mlen < len ? mlen : len;
    size_t wlen = strcspn(s, ":*@");
    wlen = wlen < mlen ? wlen : mlen;
    r->mode = HE_FAULT_NONE;
    for (int m = HE_FAULT_DROP; m < HE_FAULT_MODES; m++) {
        if (strlen(he_fault_modes[m]) == wlen && memcmp(s, he_fault_modes[m], wlen) == 0) {
            r->mode = (enum he_fault_mode)m;
        }
    }
    if (r->mode == HE_FAULT_NONE) {
        return "mode is not one of drop, refuse, unreach, silent, close, delay:MS";
    }
    long ms = 0;
    if (r->mode == HE_FAULT_DELAY &&
        (wlen == mlen ||
         he_fault_number(s + wlen + 1, mlen - wlen - 1, HE_FAULT_DELAY_MAX_MS, &ms) != 0 ||
         ms == 0)) {
        return "delay needs :MS, 1..600000";
    }
    if (r->mode != HE_FAULT_DELAY && wlen != mlen) {
        return "only delay takes :MS";
    }
    r->delay_ms = (int)ms;
    r->count = 0;
    r->permyriad = HE_FAULT_ALWAYS;
    int seen_count = 0, seen_percent = 0;
    size_t i = mlen;
    while (i < len) {
        char kind = s[i++];
        size_t vlen = strcspn(s + i, "*@");
        vlen = vlen < len - i ? vlen : len - i;
        if (kind == '*' && !seen_count++) {
            if (he_fault_number(s + i, vlen, 1000000000, &r->count) != 0 || r->count == 0) {
                return "*COUNT is not 1..1000000000";
            }
        } else if (kind == '@' && !seen_percent++) {
            const char *why = he_fault_percent(s + i, vlen, &r->permyriad);
            if (why != NULL) {
                return why;
            }
        } else {
            return "a modifier is given twice";
        }
        i += vlen;
    }
    return NULL;
}

static const char *he_fault_entry(const char *s, size_t len, struct he_fault_rule *r) {
    memset(r, 0, sizeof *r);
    if (len > HE_FAULT_ENTRY_MAX) {
        return "entry longer than 400 characters";
    }
    if (memchr(s, '\0', len) != NULL) {
        return "NUL byte";
    }
    const char *eq = memchr(s, '=', len);
    if (eq == NULL) {
        return "no '=MODE'";
    }
    size_t tlen = (size_t)(eq - s);
    while (tlen > 0 && he_fault_is_blank(s[tlen - 1])) {
        tlen--;
    }
    const char *m = eq + 1;
    size_t mlen = len - (size_t)(m - s);
    while (mlen > 0 && he_fault_is_blank(*m)) {
        m++, mlen--;
    }
    const char *why = he_fault_target(s, tlen, r);
    return why != NULL ? why : he_fault_mode(m, mlen, r);
}

static void he_fault_warn(he_fault_warn_fn warn, void *ctx, const char *entry, size_t len,
                          const char *why) {
    if (warn == NULL) {
        return;
    }
    char msg[600];
    int shown = len > 80 ? 80 : (int)len;
    char safe[81];
    for (int i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)entry[i];
        safe[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    safe[shown] = '\0';
    snprintf(msg, sizeof msg, "HE_FAULTS: entry '%s%s' left out: %s", safe, len > 80 ? "..." : "",
             why);
    warn(ctx, msg);
}

int he_fault_parse(const char *text, struct he_fault_spec *spec, he_fault_warn_fn warn, void *ctx) {
    spec->n = spec->names = 0;
    int bad = 0;
    if (text == NULL) {
        return 0;
    }
    const char *p = text;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *s = p;
        p += len + (p[len] == ',');
        while (len > 0 && he_fault_is_blank(*s)) {
            s++, len--;
        }
        while (len > 0 && he_fault_is_blank(s[len - 1])) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        if (spec->n == HE_FAULT_RULES_MAX) {
            he_fault_warn(warn, ctx, s, len, "more than 64 entries");
            bad++;
            continue;
        }
        struct he_fault_rule *r = &spec->rule[spec->n];
        const char *why = he_fault_entry(s, len, r);
        if (why != NULL) {
            he_fault_warn(warn, ctx, s, len, why);
            bad++;
            continue;
        }
        spec->names += r->name[0] != '\0';
        spec->n++;
    }
    return bad;
}

int he_fault_parse_seed(const char *text, uint64_t *seed) {
    if (text == NULL || *text < '0' || *text > '9') { /* strtoull would skip blanks, take signs */
        return -EINVAL;
    }
    /* Decimal, or hexadecimal after 0x: never octal (042 is 42). */
    int hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    if (hex && !((text[2] >= '0' && text[2] <= '9') || (text[2] >= 'a' && text[2] <= 'f') ||
                 (text[2] >= 'A' && text[2] <= 'F'))) {
        return -EINVAL;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(hex ? text + 2 : text, &end, hex ? 16 : 10);
    if (errno != 0 || *end != '\0') {
        return -EINVAL;
    }
    *seed = v;
    return 0;
}

#include "hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One address of one name, chained in file order. */
struct he_hosts_node {
    struct he_addr addr;
    uint32_t next; /* index into nodes, HE_HOSTS_NONE at the end */
};

struct he_hosts_name {
    uint32_t off;   /* into text, NUL-terminated, spelled as first seen */
    uint32_t len;   /* without the trailing dot */
    uint32_t hash;  /* of the case-folded name */
    uint32_t canon; /* index of the name gethostbyname calls canonical */
    uint32_t head, tail;
    uint32_t naddrs;
};

struct he_hosts {
    char *text; /* the names, each NUL-terminated */
    size_t text_len, text_cap;
    struct he_hosts_name *names;
    uint32_t nnames, names_cap;
    struct he_hosts_node *nodes;
    uint32_t nnodes, nodes_cap;
    uint32_t *slots; /* open addressing: name index + 1, 0 when empty */
    uint32_t slots_mask;
};

#define HE_HOSTS_NONE UINT32_MAX
#define HE_HOSTS_SLOTS_MIN 64u

static const uint8_t he_hosts_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ASCII only: a locale's tolower must not decide which names match. */
static unsigned char he_hosts_fold(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* FNV-1a of the folded name. */
static uint32_t he_hosts_hash(const char *name, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= he_hosts_fold((unsigned char)name[i]);
        h *= 16777619u;
    }
    return h;
}

static int he_hosts_same(const char *a, const char *b, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (he_hosts_fold((unsigned char)a[i]) != he_hosts_fold((unsigned char)b[i])) {
            return 0;
        }
    }
    return 1;
}

/* Grows *arr to hold at least need elements of size each; doubles so that
 * n appends cost O(n).  Returns 0 or -ENOMEM. */
static int he_hosts_grow(void **arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) {
        return 0;
    }
    size_t ncap = *cap < 16 ? 16 : *cap;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / size) {
            return -ENOMEM;
        }
        ncap *= 2;
    }
    void *p = realloc(*arr, ncap * size);
    if (p == NULL) {
        return -ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

/* The same for the uint32_t capacities of the table's arrays; the caps on
 * input size and names keep them far below UINT32_MAX. */
static int he_hosts_grow32(void **arr, uint32_t *cap, uint32_t need, size_t size) {
    size_t c = *cap;
    int rc = he_hosts_grow(arr, &c, need, size);
    if (rc == 0) {
        *cap = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The name index                                                             */

/* Returns the slot holding name, or the empty slot where it would go. */
static uint32_t he_hosts_slot(const struct he_hosts *h, const char *name, size_t len,
                              uint32_t hash) {
    uint32_t i = hash & h->slots_mask;
    for (;;) {
        uint32_t v = h->slots[i];
        if (v == 0) {
            return i;
        }
        const struct he_hosts_name *e = &h->names[v - 1];
        if (e->hash == hash && e->len == len && he_hosts_same(h->text + e->off, name, len)) {
            return i;
        }
        i = (i + 1) & h->slots_mask;
    }
}

/* Doubles the index when it is half full.  Returns 0 or -ENOMEM. */
static int he_hosts_rehash(struct he_hosts *h) {
    size_t nslots = (size_t)h->slots_mask + 1;
    if (h->slots != NULL && ((size_t)h->nnames + 1) * 2 <= nslots) {
        return 0;
    }
    nslots = h->slots == NULL ? HE_HOSTS_SLOTS_MIN : nslots * 2;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL) {
        return -ENOMEM;
    }
    free(h->slots);
    h->slots = slots;
    h->slots_mask = (uint32_t)(nslots - 1);
    for (uint32_t n = 0; n < h->nnames; n++) {
        const struct he_hosts_name *e = &h->names[n];
        h->slots[he_hosts_slot(h, h->text + e->off, e->len, e->hash)] = n + 1;
    }
    return 0;
}

/* The index of name (len characters, no trailing dot), or HE_HOSTS_NONE. */
static uint32_t he_hosts_lookup(const struct he_hosts *h, const char *name, size_t len) {
    if (h == NULL || h->slots == NULL) {
        return HE_HOSTS_NONE;
    }
    uint32_t v = h->slots[he_hosts_slot(h, name, len, he_hosts_hash(name, len))];
    return v == 0 ? HE_HOSTS_NONE : v - 1;
}

/* Finds or adds name.  Returns 0 and its index in *idx (HE_HOSTS_NONE when
 * the table is full), -ENOMEM.  *added tells whether it is new. */
static int he_hosts_intern(struct he_hosts *h, const char *name, size_t len, uint32_t *idx,
                           int *added) {
    *added = 0;
    int rc = he_hosts_rehash(h);
    if (rc != 0) {
        return rc;
    }
    uint32_t hash = he_hosts_hash(name, len);
    uint32_t slot = he_hosts_slot(h, name, len, hash);
    if (h->slots[slot] != 0) {
        *idx = h->slots[slot] - 1;
        return 0;
    }
    if (h->nnames >= HE_HOSTS_MAX_NAMES) {
        *idx = HE_HOSTS_NONE;
        return 0;
    }
    if (he_hosts_grow32((void **)&h->names, &h->names_cap, h->nnames + 1, sizeof *h->names) != 0 ||
        he_hosts_grow((void **)&h->text, &h->text_cap, h->text_len + len + 1, 1) != 0) {
        return -ENOMEM;
    }
    struct he_hosts_name *e = &h->names[h->nnames];
    memset(e, 0, sizeof *e);
    e->off = (uint32_t)h->text_len;
    e->len = (uint32_t)len;
    e->hash = hash;
    e->canon = h->nnames;
    e->head = e->tail = HE_HOSTS_NONE;
    memcpy(h->text + h->text_len, name, len);
    h->text[h->text_len + len] = '\0';
    h->text_len += len + 1;
    h->slots[slot] = h->nnames + 1;
    *idx = h->nnames++;
    *added = 1;
    return 0;
}

/* Appends addr to name n unless it has it.  Returns 0, 1 when the name is
 * full and the address dropped, -ENOMEM. */
static int he_hosts_add_addr(struct he_hosts *h, uint32_t n, const struct he_addr *addr) {
    struct he_hosts_name *e = &h->names[n];
    for (uint32_t i = e->head; i != HE_HOSTS_NONE; i = h->nodes[i].next) {
        if (he_addr_equal(&h->nodes[i].addr, addr)) {
            return 0;
        }
    }
    if (e->naddrs >= HE_HOSTS_MAX_ADDRS) {
        return 1;
    }
    if (he_hosts_grow32((void **)&h->nodes, &h->nodes_cap, h->nnodes + 1, sizeof *h->nodes) != 0) {
        return -ENOMEM;
    }
    uint32_t i = h->nnodes++;
    h->nodes[i].addr = *addr;
    h->nodes[i].next = HE_HOSTS_NONE;
    if (e->tail == HE_HOSTS_NONE) {
        e->head = i;
    } else {
        h->nodes[e->tail].next = i;
    }
    e->tail = i;
    e->naddrs++;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                      */

static int he_hosts_is_blank(char c) {
    return c == ' ' || c == '\t';
}

/* The next field of line[0..len) from *pos: returns its length (0 at the
 * end of the line) and its start in *field. */
static size_t he_hosts_field(const char *line, size_t len, size_t *pos, const char **field) {
    size_t i = *pos;
    while (i < len && he_hosts_is_blank(line[i])) {
        i++;
    }
    size_t start = i;
    while (i < len && !he_hosts_is_blank(line[i])) {
        i++;
    }
    *pos = i;
    *field = line + start;
    return i - start;
}

/* The length of a name field without its one trailing dot. */
static size_t he_hosts_name_len(const char *name, size_t len) {
    return len > 0 && name[len - 1] == '.' ? len - 1 : len;
}

int he_hosts_name_valid(const char *name, size_t len) {
    if (len == 0 || name[0] == '.' || name[len - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '.' && i + 1 < len && name[i + 1] == '.') {
            return 0;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* Parses an address field into *out.  Returns NULL, or why it is bad. */
static const char *he_hosts_parse_addr(const char *field, size_t len, struct he_addr *out) {
    char buf[INET6_ADDRSTRLEN];
    memset(out, 0, sizeof *out);
    if (memchr(field, '%', len) != NULL) {
        return "address with a scope id";
    }
    if (len >= sizeof buf) {
        return "address does not parse";
    }
    memcpy(buf, field, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out->bytes) == 1) {
        out->family = AF_INET;
        return NULL;
    }
    if (inet_pton(AF_INET6, buf, out->bytes) != 1) {
        return "address does not parse";
    }
    if (memcmp(out->bytes, he_hosts_v4mapped, sizeof he_hosts_v4mapped) == 0) {
        memmove(out->bytes, out->bytes + 12, 4);
        memset(out->bytes + 4, 0, 12);
        out->family = AF_INET;
    } else {
        out->family = AF_INET6;
    }
    return NULL;
}

/* Checks a line with its comment and line ending removed.  Returns NULL and
 * the address in *addr when it is good, or why it is bad. */
static const char *he_hosts_check_line(const char *line, size_t len, struct he_addr *addr) {
    size_t pos = 0;
    const char *field;
    size_t flen = he_hosts_field(line, len, &pos, &field);
    const char *why = he_hosts_parse_addr(field, flen, addr);
    if (why != NULL) {
        return why;
    }
    int names = 0;
    while ((flen = he_hosts_field(line, len, &pos, &field)) > 0) {
        size_t nlen = he_hosts_name_len(field, flen);
        if (nlen > HE_HOSTS_NAME_MAX) {
            return "name too long";
        }
        if (!he_hosts_name_valid(field, nlen)) {
            return "bad name";
        }
        names++;
    }
    return names == 0 ? "no name" : NULL;
}

/* Gives addr to every name of a good line.  Returns 0, 1 when a cap
 * dropped something, -ENOMEM. */
static int he_hosts_apply_line(struct he_hosts *h, const char *line, size_t len,
                               const struct he_addr *addr) {
    size_t pos = 0;
    const char *field;
    he_hosts_field(line, len, &pos, &field); /* the address */
    uint32_t first = HE_HOSTS_NONE;
    int capped = 0, nth = 0;
    size_t flen;
    while ((flen = he_hosts_field(line, len, &pos, &field)) > 0) {
        uint32_t idx;
        int added;
        int rc = he_hosts_intern(h, field, he_hosts_name_len(field, flen), &idx, &added);
        if (rc != 0) {
            return rc;
        }
        if (nth++ == 0) {
            first = idx;
        }
        if (idx == HE_HOSTS_NONE) {
            capped = 1;
            continue;
        }
        if (added && first != HE_HOSTS_NONE) {
            h->names[idx].canon = first;
        }
        rc = he_hosts_add_addr(h, idx, addr);
        if (rc < 0) {
            return rc;
        }
        capped |= rc;
    }
    return capped;
}

/* Parses one line (without its LF).  Returns 0, 1 when it is bad (*why
 * says why), 2 when a cap dropped something, -ENOMEM. */
static int he_hosts_line(struct he_hosts *h, const char *line, size_t len, const char **why) {
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len > HE_HOSTS_LINE_MAX) {
        *why = "line too long";
        return 1;
    }
    if (memchr(line, '\0', len) != NULL) {
        *why = "NUL byte";
        return 1;
    }
    const char *hash = memchr(line, '#', len);
    if (hash != NULL) {
        len = (size_t)(hash - line);
    }
    size_t pos = 0;
    const char *field;
    if (he_hosts_field(line, len, &pos, &field) == 0) {
        return 0; /* blank or only a comment */
    }
    struct he_addr addr;
    *why = he_hosts_check_line(line, len, &addr);
    if (*why != NULL) {
        return 1;
    }
    int rc = he_hosts_apply_line(h, line, len, &addr);
    return rc == 1 ? 2 : rc;
}

/* ------------------------------------------------------------------------ */
/* API                                                                        */

void he_hosts_free(struct he_hosts *h) {
    if (h == NULL) {
        return;
    }
    free(h->text);
    free(h->names);
    free(h->nodes);
    free(h->slots);
    free(h);
}

static void he_hosts_count(int *count, int *first, int lineno) {
    if ((*count)++ == 0) {
        *first = lineno;
    }
}

int he_hosts_parse(const char *text, size_t len, struct he_hosts **out, struct he_hosts_stats *st) {
    struct he_hosts_stats s;
    memset(&s, 0, sizeof s);
    *out = NULL;
    if (st != NULL) {
        *st = s;
    }
    if (len > HE_HOSTS_MAX_BYTES) {
        return -EFBIG;
    }
    struct he_hosts *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return -ENOMEM;
    }
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *lf = memchr(line, '\n', len - pos);
        size_t llen = lf != NULL ? (size_t)(lf - line) : len - pos;
        pos += llen + (lf != NULL);
        s.lines++;
        const char *why = NULL;
        int rc = he_hosts_line(h, line, llen, &why);
        if (rc < 0) {
            he_hosts_free(h);
            return rc;
        }
        if (rc == 1) {
            if (s.bad_lines == 0) {
                s.first_bad_why = why;
            }
            he_hosts_count(&s.bad_lines, &s.first_bad_line, s.lines);
        } else if (rc == 2) {
            he_hosts_count(&s.capped_lines, &s.first_capped_line, s.lines);
        }
    }
    s.names = (int)h->nnames;
    if (st != NULL) {
        *st = s;
    }
    *out = h;
    return 0;
}

/* Reads all of fd, a regular file of size bytes, into a new buffer.
 * Returns 0, -errno of read, -EFBIG past HE_HOSTS_MAX_BYTES, -ENOMEM. */
static int he_hosts_read_all(int fd, uint64_t size, char **buf, size_t *len) {
    if (size > HE_HOSTS_MAX_BYTES) {
        return -EFBIG;
    }
    /* +1: the read that sees EOF needs room (the file may also have grown
     * since fstat). */
    size_t cap = size > 0 ? (size_t)size + 1 : 4096;
    char *b = NULL;
    size_t n = 0, bcap = 0;
    for (;;) {
        if (n == bcap) {
            if (bcap > HE_HOSTS_MAX_BYTES) {
                free(b);
                return -EFBIG;
            }
            size_t want = bcap == 0 ? cap : bcap * 2;
            want = want > HE_HOSTS_MAX_BYTES + 1 ? HE_HOSTS_MAX_BYTES + 1 : want;
            char *nb = realloc(b, want);
            if (nb == NULL) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
            bcap = want;
        }
        ssize_t r = read(fd, b + n, bcap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int err = errno;
            free(b);
            return -err;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    if (n > HE_HOSTS_MAX_BYTES) {
        free(b);
        return -EFBIG;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* Only a regular file is read: a FIFO, a terminal or /dev/stdin would
 * block or take bytes that are the program's.  Returns 0, -EISDIR for a
 * directory, -ENODEV for anything else that is not a regular file, or the
 * -errno of fstat. */
static int he_hosts_check_regular(int fd, uint64_t *size) {
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        return -errno;
    }
    if (S_ISDIR(sb.st_mode)) {
        return -EISDIR;
    }
    *size = sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
    return S_ISREG(sb.st_mode) ? 0 : -ENODEV;
}

int he_hosts_load(const char *path, struct he_hosts **out, struct he_hosts_stats *st) {
    *out = NULL;
    if (st != NULL) {
        memset(st, 0, sizeof *st);
    }
    if (path == NULL) {
        return -EINVAL;
    }
    /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait for
     * one, inside the program's first hooked call. */
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return -errno;
    }
    uint64_t size = 0;
    int rc = he_hosts_check_regular(fd, &size);
    char *buf = NULL;
    size_t len = 0;
    if (rc == 0) {
        rc = he_hosts_read_all(fd, size, &buf, &len);
    }
    close(fd);
    if (rc != 0) {
        return rc;
    }
    rc = he_hosts_parse(buf, len, out, st);
    free(buf);
    return rc;
}

/* The index of name as a caller spells it, or HE_HOSTS_NONE. */
static uint32_t he_hosts_find_name(const struct he_hosts *h, const char *name) {
    if (name == NULL) {
        return HE_HOSTS_NONE;
    }
    size_t len = he_hosts_name_len(name, strlen(name));
    if (len == 0 || len > HE_HOSTS_NAME_MAX) {
        return HE_HOSTS_NONE;
    }
    return he_hosts_lookup(h, name, len);
}

int he_hosts_find(const struct he_hosts *h, const char *name, int family, struct he_addr *out,
                  int max) {
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
        return -EAFNOSUPPORT;
    }
    if (max < 0) {
        return -EINVAL;
    }
    uint32_t n = he_hosts_find_name(h, name);
    if (n == HE_HOSTS_NONE) {
        return 0;
    }
    int count = 0;
    for (uint32_t i = h->names[n].head; i != HE_HOSTS_NONE && count < max; i = h->nodes[i].next) {
        const struct he_addr *a = &h->nodes[i].addr;
        if (family == AF_UNSPEC || a->family == family) {
            out[count++] = *a;
        }
    }
    return count;
}

int he_hosts_has(const struct he_hosts *h, const char *name) {
    return he_hosts_find_name(h, name) != HE_HOSTS_NONE;
}

const char *he_hosts_canonical(const struct he_hosts *h, const char *name) {
    uint32_t n = he_hosts_find_name(h, name);
    if (n == HE_HOSTS_NONE) {
        return NULL;
    }
    return h->text + h->names[h->names[n].canon].off;
}

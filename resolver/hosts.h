/* The HE_HOSTS file: names a test or a user pins to addresses, in
 * /etc/hosts format, consulted before libc's resolver.
 *
 * Pure: no hooks, no logging, no global state.  A parsed table is immutable,
 * so any number of threads may query it at once without a lock.
 *
 * Format, as glibc's files backend reads it: one "ADDR NAME [ALIAS...]" per
 * line, fields separated by spaces or tabs, '#' starts a comment anywhere,
 * blank lines ignored, a CR before the LF tolerated.  Names are compared
 * without case and without one trailing dot.  A name on several lines gets
 * the addresses of all of them, in file order, duplicates removed: that is
 * how a test gives a name several addresses.  IPv4-mapped IPv6 addresses
 * become IPv4, as in struct he_addr.
 *
 * A bad line is skipped whole and counted; nothing on it is used.  Bad: a
 * line longer than HE_HOSTS_LINE_MAX bytes (whatever it holds) or holding a
 * NUL byte; an address inet_pton does not take, or with a scope id ("%eth0");
 * no name; a name of more than HE_HOSTS_NAME_MAX characters (not counting a
 * trailing dot), with a character outside [A-Za-z0-9._-] or with an empty
 * label ("a..b", ".a", "a.." where one trailing dot is allowed).  A good line
 * whose address a name cannot take because of a cap (HE_HOSTS_MAX_ADDRS per
 * name, HE_HOSTS_MAX_NAMES names) is counted apart, as capped; the rest of
 * the line is used. */
#ifndef HE_HOSTS_H
#define HE_HOSTS_H

#include "../common/addr.h"
#include "memo.h"

#include <stddef.h>

#define HE_HOSTS_MAX_BYTES (1024 * 1024)
#define HE_HOSTS_LINE_MAX 4096
#define HE_HOSTS_NAME_MAX 255
#define HE_HOSTS_MAX_ADDRS HE_MEMO_MAX_ADDRS
#define HE_HOSTS_MAX_NAMES 65536

struct he_hosts;

/* What parsing met, for the caller's single warning.  Lines are numbered
 * from 1; first_* is 0 when there was none. */
struct he_hosts_stats {
    int lines; /* lines read, bad ones included */
    int names; /* distinct names held */
    int bad_lines;
    int first_bad_line;
    const char *first_bad_why; /* static text saying what was wrong, NULL if none */
    int capped_lines;          /* good lines with an address some name could not take */
    int first_capped_line;
};

/* Whether name[0..len) (without its trailing dot) is a host name: letters,
 * digits, '_' and '-' in labels separated by single dots.  An empty label
 * ("a..b", ".a", "a..") would make a name that no query spells.  Also
 * HE_FAULTS's names (faults/spec.c). */
int he_hosts_name_valid(const char *name, size_t len);

/* Parses text[0..len), which may hold NUL bytes and needs no terminator.
 * Returns 0 and a new table in *out (empty for an empty text), -EFBIG when
 * len exceeds HE_HOSTS_MAX_BYTES, -ENOMEM.  st may be NULL; it is filled on
 * success and zeroed otherwise.  *out is NULL on failure. */
int he_hosts_parse(const char *text, size_t len, struct he_hosts **out, struct he_hosts_stats *st);

/* Reads path (open O_RDONLY|O_CLOEXEC|O_NONBLOCK, fstat, read) and parses
 * it, if it is a regular file.  Returns 0, the -errno of open or read
 * (-ENOENT, -EACCES...), -EISDIR for a directory, -ENODEV for anything else
 * that is not a regular file (a FIFO, a device, a terminal), -EFBIG when the
 * file holds more than HE_HOSTS_MAX_BYTES, -EINVAL for a NULL path,
 * -ENOMEM. */
int he_hosts_load(const char *path, struct he_hosts **out, struct he_hosts_stats *st);

/* Copies to out[0..max) the addresses of name for family (AF_UNSPEC,
 * AF_INET or AF_INET6), in file order, without duplicates.  Returns how
 * many it copied: 0 when name is absent or has no address of that family
 * (he_hosts_has tells which).  -EAFNOSUPPORT for another family, -EINVAL
 * for a negative max.  out may be NULL when max is 0. */
int he_hosts_find(const struct he_hosts *h, const char *name, int family, struct he_addr *out,
                  int max);

/* 1 when name is in the table (with an address of some family), else 0.
 * A NULL table holds nothing. */
int he_hosts_has(const struct he_hosts *h, const char *name);

/* The canonical name for name, as glibc's gethostbyname gives it in h_name:
 * the first name on the first line that holds name, spelled as there
 * (without a trailing dot), or name's own first spelling when that first
 * name could not be held (HE_HOSTS_MAX_NAMES).  NULL when name is absent.
 * Lives as long as h. */
const char *he_hosts_canonical(const struct he_hosts *h, const char *name);

void he_hosts_free(struct he_hosts *h);

#endif

/* Socket options the caller set before connect(), replayed on siblings so
 * that after a splice the fd differs only in its peer. */
#ifndef HE_OPTIONS_H
#define HE_OPTIONS_H

#include <stddef.h>

#define HE_OPTIONS_MAX 48
#define HE_OPTION_VALUE_MAX 32

struct he_option_value {
    int index; /* into the table of known options */
    unsigned len;
    unsigned char value[HE_OPTION_VALUE_MAX];
};

/* The options on which the caller's socket differs from a fresh one. */
struct he_options {
    int count;
    struct he_option_value v[HE_OPTIONS_MAX];
};

/* Compares the caller's socket with fresh, a new socket of the same family,
 * type and protocol, and records every known option on which they differ.
 * Then applies them to fresh and reads them back.  Returns 0, or -ENOTSUP
 * when an option cannot be read or reproduced (the race must not happen). */
int he_options_capture(struct he_options *o, int caller, int fresh);

/* Applies captured options to another sibling.  Returns 0 or -errno. */
int he_options_apply(const struct he_options *o, int fd);

#endif

/* Logging: one line per call, prefixed "libhe[pid]", never to stdout.
 *
 * The level and destination are set once at initialisation.  A line goes to
 * HE_LOG_FILE (opened non-blocking, appended and closed for each line, so
 * that a program which closes every fd above 2 at start-up cannot make
 * libhe write into one of its own files, and a FIFO without a reader never
 * holds the program) or else to stderr.  When HE_LOG_FILE cannot be opened,
 * the line goes to stderr and one warning says why.  Stderr is written only
 * while fd 2 holds the file it held when libhe was loaded: never when it
 * was closed then, and never into a socket or file the program has since
 * put on fd 2.  No write raises SIGPIPE in the program; a line that cannot
 * be written is dropped.  Safe to call from any thread; holds no lock, so a
 * signal handler that siglongjmps out of it leaves nothing held. */
#ifndef HE_LOG_H
#define HE_LOG_H

#include <stddef.h>

enum he_log_level {
    HE_LOG_ERROR = 0,
    HE_LOG_WARN = 1,
    HE_LOG_INFO = 2,
    HE_LOG_DEBUG = 3,
};

extern int he_log_level;
/* HE_LOG_FORMAT=json: every line is one JSON object (he_log_write's as
 * {"event":"log",...}); see README, "Log lines as JSON". */
extern int he_log_json;

/* Where lines go: path NULL means stderr.  The string must outlive the
 * process (it comes from the environment). */
void he_log_setup(int level, const char *path);
void he_log_setup_json(int json);

void he_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes line[0..len) and a newline, whatever the level, as one write to
 * where lines go.  For lines made whole by their caller (a JSON event,
 * the summary). */
void he_log_line(const char *line, size_t len);

/* Appends printf's output to buf[*used..room), cut rather than
 * overflowing: *used never passes room - 1, so calls can follow each
 * other without checking. */
void he_log_appendf(char *buf, size_t room, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends s to buf[*used..room) as a JSON string (quotes included),
 * cutting it rather than overflowing; *used stays below room. */
void he_log_json_str(char *buf, size_t room, size_t *used, const char *s);

#define HE_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= he_log_level) {                                                             \
            he_log_write((level), __VA_ARGS__);                                                    \
        }                                                                                          \
    } while (0)

#endif

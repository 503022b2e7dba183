#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int he_log_level = HE_LOG_WARN;
static const char *he_log_path;

static const char *const he_log_names[] = {"error", "warn", "info", "debug"};

void he_log_setup(int level, const char *path) {
    he_log_level = level;
    he_log_path = (path && *path) ? path : NULL;
}

/* Writes the whole line with one write(2) so that lines from several threads
 * or processes sharing the file do not interleave.  Preserves errno: the
 * hooks call this on paths where errno must be what libc left. */
void he_log_write(int level, const char *fmt, ...) {
    int saved = errno;
    char line[1024];
    int n = snprintf(line, sizeof line, "libhe[%d] %s: ", (int)getpid(),
                     he_log_names[level < 0   ? 0
                                  : level > 3 ? 3
                                              : level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) {
        len = sizeof line - 2;
    }
    line[len++] = '\n';
    int fd = 2;
    if (he_log_path) {
        fd = open(he_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    }
    if (fd >= 0) {
        ssize_t w = write(fd, line, len);
        (void)w;
        if (fd != 2) {
            close(fd);
        }
    }
    errno = saved;
}

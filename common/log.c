#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int he_log_level = HE_LOG_WARN;
int he_log_json;
static const char *he_log_path;

static const char *const he_log_names[] = {"error", "warn", "info", "debug"};

/* What fd 2 was when libhe was loaded.  A program started with stderr
 * closed (`2>&-`, daemons) gets its first socket or file on fd 2; a line
 * written there would land in the program's own data.  So libhe writes to
 * fd 2 only while it still holds the same file it held at load time. */
static int he_log_stderr_known;
static dev_t he_log_stderr_dev;
static ino_t he_log_stderr_ino;

/* Runs when the dynamic loader loads libhe, before the program's main.  (The
 * constructors of the libraries the program links run earlier; one that
 * opens a file while fd 2 is closed would have it taken for stderr.) */
__attribute__((constructor)) static void he_log_note_stderr(void) {
    int saved = errno;
    struct stat sb;
    if (fstat(2, &sb) == 0) {
        he_log_stderr_dev = sb.st_dev;
        he_log_stderr_ino = sb.st_ino;
        he_log_stderr_known = 1;
    }
    errno = saved;
}

/* 1 when fd 2 still holds what it held at load time. */
static int he_log_stderr_same(void) {
    struct stat sb;
    return he_log_stderr_known && fstat(2, &sb) == 0 && sb.st_dev == he_log_stderr_dev &&
           sb.st_ino == he_log_stderr_ino;
}

static int he_log_file_warned;

void he_log_setup(int level, const char *path) {
    he_log_level = level;
    he_log_path = (path && *path) ? path : NULL;
    __atomic_store_n(&he_log_file_warned, 0, __ATOMIC_RELAXED);
}

void he_log_setup_json(int json) {
    he_log_json = json;
}

/* write(2) that can raise no signal in the program: a pipe whose reader
 * has gone would otherwise kill it with SIGPIPE.  SIGPIPE is blocked for the
 * write; one the write raised (and that was not already pending) is taken
 * off the thread again.  The line is dropped on any error. */
static void he_log_write_quiet(int fd, const char *buf, size_t len) {
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigemptyset(&pending);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EPIPE && !was_pending) {
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Opens HE_LOG_FILE for one line: non-blocking, so that a FIFO without a
 * reader fails at once (ENXIO) instead of holding the program.  Returns the
 * fd or -1; the first failure says so once, on stderr. */
static int he_log_open_file(void) {
    int fd =
        open(he_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
    if (fd >= 0 || __atomic_exchange_n(&he_log_file_warned, 1, __ATOMIC_RELAXED)) {
        return fd;
    }
    char msg[512];
    int n = snprintf(msg, sizeof msg,
                     "libhe[%d] warn: HE_LOG_FILE=\"%.200s\" cannot be opened for writing "
                     "(%s); logging to stderr\n",
                     (int)getpid(), he_log_path, strerror(errno));
    if (n > 0 && he_log_stderr_same()) {
        he_log_write_quiet(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    }
    return -1;
}

/* Writes the whole line with one write(2) so that lines from several threads
 * or processes sharing the file do not interleave. */
static void he_log_emit(const char *line, size_t len) {
    int fd = he_log_path ? he_log_open_file() : -1;
    if (fd >= 0) {
        he_log_write_quiet(fd, line, len);
        close(fd);
    } else if (he_log_stderr_same()) {
        he_log_write_quiet(2, line, len);
    }
}

void he_log_appendf(char *buf, size_t room, size_t *used, const char *fmt, ...) {
    if (*used + 1 >= room) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, room - *used, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *used = *used + (size_t)n < room - 1 ? *used + (size_t)n : room - 1;
    }
}

void he_log_json_str(char *buf, size_t room, size_t *used, const char *s) {
    static const char hex[] = "0123456789abcdef";
    size_t u = *used;
    if (u + 3 > room) {
        return;
    }
    buf[u++] = '"';
    for (; *s != '\0' && u + 8 < room; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[u++] = '\\';
            buf[u++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(buf + u, "\\u00", 4);
            buf[u + 4] = hex[c >> 4];
            buf[u + 5] = hex[c & 15];
            u += 6;
        } else {
            buf[u++] = (char)c;
        }
    }
    buf[u++] = '"';
    buf[u] = '\0';
    *used = u;
}

void he_log_line(const char *line, size_t len) {
    int saved = errno;
    char buf[4096];
    if (len > sizeof buf - 1) {
        len = sizeof buf - 1;
    }
    memcpy(buf, line, len);
    buf[len++] = '\n';
    he_log_emit(buf, len);
    errno = saved;
}

static const char *he_log_name(int level) {
    return he_log_names[level < 0 ? 0 : level > 3 ? 3 : level];
}

/* Preserves errno: the hooks call this on paths where errno must be what
 * libc left. */
void he_log_write(int level, const char *fmt, ...) {
    int saved = errno;
    char msg[1024], line[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0) {
        msg[0] = '\0';
    }
    size_t len;
    if (he_log_json) {
        int n = snprintf(line, sizeof line,
                         "{\"event\":\"log\",\"pid\":%d,\"level\":\"%s\",\"msg\":", (int)getpid(),
                         he_log_name(level));
        len = (size_t)n;
        he_log_json_str(line, sizeof line - 2, &len, msg);
        line[len++] = '}';
    } else {
        int n =
            snprintf(line, sizeof line, "libhe[%d] %s: %s", (int)getpid(), he_log_name(level), msg);
        len = n < 0 ? 0 : (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    }
    line[len++] = '\n';
    he_log_emit(line, len);
    errno = saved;
}

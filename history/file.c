/* The user's shared history file (history/history.h): where it lives, the
 * checks before it is trusted, and how it is made so that no process ever
 * sees it half made. */
#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HE_HIST_FILE_NAME "history"

uint64_t he_hist_random_seed(void) {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32 ^
               (uint64_t)ts.tv_sec;
    }
    return seed | 1;
}

/* A directory the user may keep the file in: its own, 0700. */
static int he_hist_dir_ok(const struct stat *st) {
    return S_ISDIR(st->st_mode) && st->st_uid == geteuid() && (st->st_mode & 0777) == 0700;
}

int he_hist_file_path(const char *override, char *path, size_t len) {
    int n;
    if (override != NULL && *override != '\0') {
        /* Relative, it would name a file in each process's own working
         * directory. */
        if (override[0] != '/') {
            return -EINVAL;
        }
        n = snprintf(path, len, "%s", override);
    } else {
        const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
        struct stat st;
        if (xdg != NULL && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == geteuid()) {
            n = snprintf(path, len, "%s/libhe/" HE_HIST_FILE_NAME, xdg);
        } else {
            n = snprintf(path, len, "/tmp/libhe-%u/" HE_HIST_FILE_NAME, (unsigned)geteuid());
        }
    }
    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* Opens path's directory, making it 0700 when absent, and checks it.
 * *base points at the file's name within path. */
static int he_hist_open_dir(const char *path, int create, const char **base, char *why,
                            size_t whylen) {
    char dir[4096] = ".";
    const char *slash = strrchr(path, '/');
    *base = slash == NULL ? path : slash + 1;
    if (slash != NULL) {
        size_t dlen = slash == path ? 1 : (size_t)(slash - path); /* "/history": "/" */
        if (dlen >= sizeof dir) {
            snprintf(why, whylen, "its directory's name is too long");
            return -ENAMETOOLONG;
        }
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    }
    if (create && mkdir(dir, 0700) == 0) {
        chmod(dir, 0700); /* whatever the umask took away */
    } else if (create && errno != EEXIST) {
        int e = errno;
        snprintf(why, whylen, "cannot make %s (%s)", dir, strerror(e));
        return -e;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) != 0) {
        int e = errno;
        if (dfd >= 0) {
            he_hist_close(dfd);
        }
        snprintf(why, whylen, "cannot open %s (%s)", dir, strerror(e));
        return -e;
    }
    if (!he_hist_dir_ok(&st)) {
        he_hist_close(dfd);
        snprintf(why, whylen, "%s is not a directory of this user's with mode 0700", dir);
        return -EPERM;
    }
    return dfd;
}

/* Makes a full-size, empty table under a temporary name and links it to
 * base: another process doing the same at once either wins the link or
 * finds this one's file, never a half-made one.  Returns 0 or -errno. */
static int he_hist_create(int dfd, const char *base, char *why, size_t whylen) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".new.%d.%llx", (int)getpid(),
             (unsigned long long)he_hist_random_seed());
    int fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(why, whylen, "cannot create it (%s)", strerror(e));
        return -e;
    }
    size_t size = he_hist_table_size(HE_HIST_SLOTS_DEFAULT);
    struct he_hist_header h;
    he_hist_header_make(&h, HE_HIST_SLOTS_DEFAULT, he_hist_random_seed());
    /* fallocate, not ftruncate: a full tmpfs must fail here, not raise
     * SIGBUS at a store into the mapping later. */
    int rc = fchmod(fd, 0600) != 0                                    ? errno
             : posix_fallocate(fd, 0, (off_t)size) != 0               ? ENOSPC
             : pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h       ? errno
             : linkat(dfd, tmp, dfd, base, 0) != 0 && errno != EEXIST ? errno
                                                                      : 0;
    he_hist_close(fd);
    unlinkat(dfd, tmp, 0);
    if (rc != 0) {
        snprintf(why, whylen, "cannot create it (%s)", strerror(rc));
        return -rc;
    }
    return 0;
}

/* The file as found: the user's own regular file, 0600, a table whose
 * stated size it holds.  Returns its table size, or -errno. */
static long he_hist_check_file(int fd, char *why, size_t whylen) {
    struct stat st;
    struct he_hist_header h;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 07777) != 0600) {
        snprintf(why, whylen, "it is not a regular file of this user's with mode 0600");
        return -EPERM;
    }
    int rc = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h
                 ? he_hist_header_check(&h, (size_t)st.st_size)
                 : -EBADMSG;
    if (rc == -EBADMSG) {
        snprintf(why, whylen, "it is not a libhe history file");
        return rc;
    }
    if (rc != 0) {
        snprintf(why, whylen, "its header is of another version or size");
        return -EPROTO;
    }
    return (long)h.total_size; /* at most HE_HIST_SLOTS_MAX slots: it fits */
}

int he_hist_file_map(const char *path, int create, void **mem, size_t *size, char *why,
                     size_t whylen) {
    const char *base;
    int dfd = he_hist_open_dir(path, create, &base, why, whylen);
    if (dfd < 0) {
        return dfd;
    }
    int fd = openat(dfd, base, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        int rc = he_hist_create(dfd, base, why, whylen);
        if (rc != 0) {
            he_hist_close(dfd);
            return rc;
        }
        fd = openat(dfd, base, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    }
    int e = errno;
    he_hist_close(dfd);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open it (%s)", e == ELOOP ? "a symbolic link" : strerror(e));
        return -e;
    }
    long total = he_hist_check_file(fd, why, whylen);
    if (total < 0) {
        he_hist_close(fd);
        return (int)total;
    }
    /* No more than the header states, which fstat showed the file holds:
     * a mapping past a file's end raises SIGBUS. */
    void *m = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    e = errno;
    he_hist_close(fd);
    if (m == MAP_FAILED) {
        snprintf(why, whylen, "cannot map it (%s)", strerror(e));
        return -e;
    }
    *mem = m;
    *size = (size_t)total;
    return 0;
}

/* Clears the table at path in place: every process that has it mapped
 * sees it empty.  Returns 0, or -errno when it is not a table to use. */
static int he_hist_file_clear(const char *path, char *why, size_t whylen) {
    void *mem;
    size_t size;
    struct he_hist_table t;
    int rc = he_hist_file_map(path, 0, &mem, &size, why, whylen);
    if (rc != 0) {
        return rc;
    }
    if ((rc = he_hist_table_open(&t, mem, size)) == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        /* A slot a live writer holds this instant keeps that one entry. */
        he_hist_table_clear(&t, (uint32_t)ts.tv_sec + 1);
    }
    munmap(mem, size);
    return rc;
}

int he_hist_file_reset(const char *path, char *why, size_t whylen) {
    if (he_hist_file_clear(path, why, whylen) == 0) {
        return 0;
    }
    const char *base;
    int dfd = he_hist_open_dir(path, 1, &base, why, whylen);
    if (dfd < 0) {
        return dfd;
    }
    if (unlinkat(dfd, base, 0) != 0 && errno != ENOENT) {
        int e = errno;
        he_hist_close(dfd);
        snprintf(why, whylen, "cannot remove it (%s)", strerror(e));
        return -e;
    }
    int rc = he_hist_create(dfd, base, why, whylen);
    he_hist_close(dfd);
    return rc;
}

/* Which network this process is in (RFC 8305 §4: history "MUST NOT be
 * used across different network interfaces and SHOULD be flushed whenever
 * a device changes the network to which it is attached").  Entries carry
 * the identity they were learned under; an entry of another identity is
 * not used, and is the first to be evicted.  The identity is the boot (a
 * file on disk may outlive it, and the times in it are of its clock), the
 * network namespace (its inode and its cookie), and the set of local
 * addresses. */
#include "history.h"

#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

static uint64_t he_netid_mix(uint64_t h, uint64_t v) {
    return he_mix64(h ^ (v + 0x9e3779b97f4a7c15ull));
}

static uint64_t he_netid_boot(void) {
    char id[64] = {0};
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, id, sizeof id - 1) < 0) {
            id[0] = '\0';
        }
        he_hist_close(fd);
    }
    uint64_t h = 0;
    for (size_t i = 0; id[i] != '\0'; i++) {
        h = he_netid_mix(h, (unsigned char)id[i]);
    }
    return h;
}

/* The local addresses, combined so that their order does not matter. */
static uint64_t he_netid_addrs(void) {
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) {
        return 0;
    }
    uint64_t sum = 0;
    for (const struct ifaddrs *i = list; i != NULL; i = i->ifa_next) {
        struct he_addr a;
        if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP) ||
            he_addr_from_sockaddr(&a, i->ifa_addr,
                                  i->ifa_addr->sa_family == AF_INET6
                                      ? sizeof(struct sockaddr_in6)
                                      : sizeof(struct sockaddr_in)) != 0) {
            continue;
        }
        a.scope = 0;
        sum += he_netid_mix(a.family, he_addr_hash(&a));
    }
    freeifaddrs(list);
    return sum;
}

/* The network namespace's cookie (Linux 5.14), which the kernel never
 * gives two namespaces in one boot; its inode number, which /proc shows,
 * is reused as soon as the namespace is gone, so one test lab after
 * another (he-lab, unshare -n) would read the last one's history.  Asked
 * of a socket made and closed with raw system calls: no hook of libhe's,
 * and no sanitizer's, sees a descriptor that lives for two calls.  0 on
 * an older kernel. */
static uint64_t he_netid_netns_cookie(void) {
    int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
        cookie = 0;
    }
    syscall(SYS_close, fd);
    return cookie;
}

uint64_t he_hist_netid_now(void) {
    uint64_t h = he_netid_boot();
    struct stat st;
    if (stat("/proc/self/ns/net", &st) == 0) {
        h = he_netid_mix(h, (uint64_t)st.st_dev);
        h = he_netid_mix(h, (uint64_t)st.st_ino);
    }
    h = he_netid_mix(h, he_netid_netns_cookie());
    h = he_netid_mix(h, he_netid_addrs());
    return h | 1; /* never 0: a zero netid is an empty slot's */
}

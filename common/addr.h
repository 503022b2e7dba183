/* An IP address without a port, as the name memory and the race see it.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are normalised to plain IPv4
 * so that an AF_INET6 socket connecting to a mapped address finds the name
 * that taught the IPv4 address. */
#ifndef HE_ADDR_H
#define HE_ADDR_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

struct he_addr {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t pad[3];
    uint32_t scope;    /* IPv6 scope id, 0 otherwise */
    uint8_t bytes[16]; /* IPv4 in the first 4 bytes, rest zero */
};

/* Returns 0 and fills *out from an AF_INET/AF_INET6 sockaddr of at least
 * its family's size; -EAFNOSUPPORT for other families, -EINVAL when short. */
int he_addr_from_sockaddr(struct he_addr *out, const struct sockaddr *sa, socklen_t len);

/* Builds the sockaddr a socket of family sock_family uses to reach a at
 * port (network order): IPv4 on an AF_INET6 socket becomes ::ffff:a.b.c.d.
 * Returns the length, or 0 if the socket cannot carry the address. */
socklen_t he_addr_to_sockaddr(const struct he_addr *a, int sock_family, in_port_t port,
                              struct sockaddr_storage *out);

/* The port (network order) of an AF_INET or AF_INET6 sockaddr, and setting
 * it; the caller has checked the family and length (he_addr_from_sockaddr). */
in_port_t he_sockaddr_port(const struct sockaddr *sa);
void he_sockaddr_set_port(struct sockaddr *sa, in_port_t port);

int he_addr_equal(const struct he_addr *a, const struct he_addr *b);

/* Whether a is a loopback address: 127.0.0.0/8 (and so ::ffff:127.0.0.0/104,
 * normalised to IPv4) or ::1. */
int he_addr_is_loopback(const struct he_addr *a);

/* MurmurHash3's 64-bit finaliser: every input bit reaches every output
 * bit.  The one mixer libhe's hashes (addresses, the history's slots and
 * network identity) are built from. */
static inline uint64_t he_mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}
uint32_t he_addr_hash(const struct he_addr *a);

/* Formats without port into buf (INET6_ADDRSTRLEN + 12 is enough). */
const char *he_addr_format(const struct he_addr *a, char *buf, size_t len);

#define HE_ADDR_STRLEN (INET6_ADDRSTRLEN + 12)

#endif

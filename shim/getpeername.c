/* getpeername(2): a connection HE_FAULTS sent to its silent or close
 * sink names the faulted address as its peer, as a real silent or closing
 * server there would (faults/fault.h he_fault_peer); everything else is
 * libc's answer. */
#include "hook.h"

#include "../faults/fault.h"

#include <string.h>

HE_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len) {
    const struct he_libc *sys = he_real_get();
    if (!__atomic_load_n(&he_fault_on, __ATOMIC_ACQUIRE) || addr == NULL || len == NULL) {
        return sys->getpeername(fd, addr, len);
    }
    struct sockaddr_storage got;
    socklen_t got_len = sizeof got;
    if (sys->getpeername(fd, (struct sockaddr *)&got, &got_len) != 0) {
        return -1;
    }
    if (!he_fault_peer(fd, (struct sockaddr *)&got, got_len, addr, len)) {
        memcpy(addr, &got, *len < got_len ? *len : got_len);
        *len = got_len;
    }
    return 0;
}

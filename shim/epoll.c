/* epoll_ctl(2): every registration the program makes is remembered
 * (racer/fdmap.h), so that a non-blocking race's splice can carry the
 * fd's registrations over to the winning socket.  A registration made
 * before connect() counts as much as one made after. */
#include "hook.h"

#include "../racer/background.h"
#include "../racer/fdmap.h"

#include <sys/epoll.h>

HE_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
    if (!he_init() || he_fdmap_held()) {
        return he_real.epoll_ctl(epfd, op, fd, ev);
    }
    return he_bg_epoll_ctl(epfd, op, fd, ev);
}

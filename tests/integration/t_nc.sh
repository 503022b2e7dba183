#!/bin/bash
# netcat-openbsd (Debian 1.219) without -w: getaddrinfo, then each address
# in order; prints what the server sends until it closes.
#
# nc is not a blocking-connect client: it creates every socket with
# SOCK_NONBLOCK, calls connect() (EINPROGRESS) and waits in poll() -- with
# no timeout at all unless -w is given.  libhe only takes over blocking
# connects, so for nc the dead-first names are out of its reach (dead6,
# dead4, dead3x and alldead would each hang for the kernel's ~2 min SYN
# timeout, with or without libhe) and are not run.  What nc can show is
# that libhe leaves such a connect alone: with -w 1, nc's own poll timeout
# moves it past the dead address, exactly as without libhe.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

client() { HE_CMD=(nc "$1" "$LAB_PORT_WHOAMI"); }

he_standard_cases nc plain healthy refuse

# Non-blocking connect to a dead-first name: nc gives up on 198.51.100.20
# after its 1 s -w and reaches .10; libhe must neither race nor disturb it.
nc_case_nonblocking() {
    he_run nc -w 1 dead4.test "$LAB_PORT_WHOAMI"
    check_reached "$HE_LIVE"
    expect_under_ms "$HE_RACE_MS"
}
he_case nc/dead4-nonblocking nc_case_nonblocking

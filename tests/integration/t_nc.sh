#!/bin/bash
# netcat-openbsd (Debian 1.219) without -w: getaddrinfo, then each address
# in order; prints what the server sends until it closes.
#
# nc is not a blocking-connect client: it creates every socket with
# SOCK_NONBLOCK, calls connect() (EINPROGRESS) and waits in poll() -- with
# no timeout at all unless -w is given.  libhe races such connects from its
# helper thread (DESIGN.md); t_nb_programs.sh has nc -w 30 on the
# dead-first names.  Here: the plain cases, and -w 1 on dead4.test, where
# either libhe's race (250 ms) or nc's own poll timeout (1 s) moves it past
# the dead address.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

client() { HE_CMD=(nc "$1" "$LAB_PORT_WHOAMI"); }

he_standard_cases nc plain healthy refuse

# Non-blocking connect to a dead-first name: libhe's sibling wins before
# nc's 1 s -w would give up on 198.51.100.20.
nc_case_nonblocking() {
    he_run nc -w 1 dead4.test "$LAB_PORT_WHOAMI"
    check_reached "$HE_LIVE"
    expect_under_ms "$HE_RACE_MS"
}
he_case nc/dead4-nonblocking nc_case_nonblocking

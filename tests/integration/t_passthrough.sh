#!/bin/bash
# The promise "a connect libhe does not race is untouched" -- same return
# value, same errno, no extra blocking.  progs/passthrough.c makes the
# connects libhe must leave alone (a literal address nobody resolved, UDP,
# AF_UNIX, bad arguments, a connected socket, TCP Fast Open, non-blocking, a
# fixed local port, the wrong family) against dead4.test's addresses and
# prints one line per case, with how long it blocked, coarsely.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# Three of the cases wait out a 300 ms SO_SNDTIMEO on a dead address; the
# rest return at once.
PT_MIN_MS=850
PT_MAX_MS=1800

passthrough_case_identical() {
    local plain plain_ms
    he_run --plain "$HE_BIN/passthrough" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_over_ms "$PT_MIN_MS"
    expect_under_ms "$PT_MAX_MS"
    plain=$HE_OUT
    plain_ms=$HE_MS
    he_run "$HE_BIN/passthrough" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    if [ "$HE_OUT" != "$plain" ]; then
        he_fail "differs from the plain run: $(he_oneline "$(diff <(echo "$plain") <(echo "$HE_OUT") | grep '^[<>]')")"
    fi
    cmp -s <(echo "$plain") "$HE_CASE_DIR/stdout" ||
        he_fail "stdout not byte-identical to the plain run; $(he_ctx)"
    expect_over_ms "$PT_MIN_MS"
    expect_under_ms "$PT_MAX_MS"
    [ $((HE_MS - plain_ms)) -lt 300 ] ||
        he_fail "took $HE_MS ms, the plain run $plain_ms ms; $(he_ctx)"
    # Only the connect-live case may reach a server, once per run.
    expect_log_count whoami 2
}
he_case passthrough/identical passthrough_case_identical

# connect() again on a socket a race connected (spliced from a sibling, or
# the caller's own attempt after libhe waited for it): -1/EISCONN both
# times, as on a socket the kernel connected.
PY_AGAIN='
import errno, socket, sys
ai = socket.getaddrinfo(sys.argv[1], int(sys.argv[2]), socket.AF_INET, socket.SOCK_STREAM)
s = socket.socket()
s.connect(ai[int(sys.argv[3])][4])
for i in range(2):
    try:
        s.connect(ai[-1][4])
        print("again rc=0")
    except OSError as e:
        print("again", errno.errorcode.get(e.errno, e.errno))
sys.stdout.write(s.recv(4096).decode())
'
passthrough_case_again() {
    he_run /usr/bin/python3 -c "$PY_AGAIN" dead4.test "$LAB_PORT_WHOAMI" "$1"
    expect_rc 0
    expect_reached "$HE_LIVE"
    [ "$(grep -c '^again EISCONN$' <<<"$HE_OUT")" -eq 2 ] ||
        he_fail "wanted EISCONN for both connects again; $(he_ctx)"
}
# dead4.test's first address: the live .10 is spliced in.
he_case passthrough/isconn-after-splice passthrough_case_again 0
# dead4.test's second address, live: raced, and the caller's own attempt wins.
he_case passthrough/isconn-after-own-win passthrough_case_again 1

# HE_DISABLE=1: no race, so SO_SNDTIMEO 500 on dead4.test expires
# (-1/EINPROGRESS) as without libhe; without HE_DISABLE the race connects.
passthrough_case_disable() {
    he_run --env HE_DISABLE=1 "$HE_BIN/conn_modes" sndtimeo dead4.test "$LAB_PORT_WHOAMI" 500
    expect_rc 1
    grep -q '^result rc=-1 errno=EINPROGRESS ' <<<"$HE_OUT" || he_fail "wanted EINPROGRESS; $(he_ctx)"
    expect_over_ms 450
    expect_under_ms 1200
    expect_log_quiet whoami
    [ -z "$HE_ERR" ] || he_fail "libhe wrote to stderr; $(he_ctx)"
    he_run "$HE_BIN/conn_modes" sndtimeo dead4.test "$LAB_PORT_WHOAMI" 500
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
}
he_case passthrough/he-disable passthrough_case_disable

#!/bin/bash
# Deadlines on a raced connect (the promise "the program sees the error
# it would have seen"): the caller's SO_SNDTIMEO ends it with EINPROGRESS, as the kernel does, and shortens the attempt
# delay so that every address starts before it; HE_CONNECT_TIMEOUT_MS ends
# it with ETIMEDOUT.  progs/conn_modes.c prints
# "result rc=R errno=E ms=M", M timing the connect() call alone.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# SO_SNDTIMEO 600 ms, every address dead: -1/EINPROGRESS at 600 ms, with
# libhe as without.
deadline_case_sndtimeo_alldead() {
    he_run "$@" "$HE_BIN/conn_modes" sndtimeo alldead.test "$LAB_PORT_WHOAMI" 600
    expect_no_fdleak
    expect_rc 1
    expect_result EINPROGRESS 580 900
    expect_over_ms 500
    expect_under_ms 1200
    expect_log_quiet whoami
}
he_case deadline/sndtimeo-alldead deadline_case_sndtimeo_alldead
he_case deadline/sndtimeo-alldead-plain deadline_case_sndtimeo_alldead --plain

# A generous SO_SNDTIMEO does not get in the way: dead4.test is raced as
# usual, paced at the attempt delay.
deadline_case_sndtimeo_dead4() {
    he_run "$HE_BIN/conn_modes" sndtimeo dead4.test "$LAB_PORT_WHOAMI" 2000
    expect_no_fdleak
    expect_rc 0
    expect_result 0 $((HE_DELAY_MS * 9 / 10)) 1000
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    expect_under_ms "$HE_RACE_MS"
}
he_case deadline/sndtimeo-dead4 deadline_case_sndtimeo_dead4

# SO_SNDTIMEO 400 ms, three dead addresses ahead of the live one: at the
# attempt delay (250 ms) the live one would start at 750 ms, after the
# deadline; shortened so that all start before it, it connects in time.
deadline_case_sndtimeo_dead3x() {
    he_run "$HE_BIN/conn_modes" sndtimeo dead3x.test "$LAB_PORT_WHOAMI" 400
    expect_no_fdleak
    expect_rc 0
    expect_result 0 0 399
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    expect_under_ms 1000
}
he_case deadline/sndtimeo-dead3x deadline_case_sndtimeo_dead3x

# No SO_SNDTIMEO, HE_CONNECT_TIMEOUT_MS=700: -1/ETIMEDOUT at 700 ms.
deadline_case_he_timeout() {
    he_run --env HE_CONNECT_TIMEOUT_MS=700 \
        "$HE_BIN/conn_modes" sndtimeo alldead.test "$LAB_PORT_WHOAMI" 0
    expect_no_fdleak
    expect_rc 1
    expect_result ETIMEDOUT 680 1000
    expect_under_ms 1500
    expect_log_quiet whoami
}
he_case deadline/he-timeout-alldead deadline_case_he_timeout

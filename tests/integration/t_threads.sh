#!/bin/bash
# progs/threads_race.c: many threads resolving and racing at once (make
# check-tsan runs the cases whose names contain "threads").  Every connect
# must succeed, each exactly once at the server, and no fd may be left.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# THREADS threads x ROUNDS connects to NAME within BUDGET ms.
threads_case() {
    local threads=$1 rounds=$2 name=$3 budget=$4
    he_run "$HE_BIN/threads_race" "$threads" "$rounds" "$name" "$LAB_PORT_WHOAMI"
    expect_no_fdleak
    expect_rc 0
    grep -qE "^result threads=$threads rounds=$rounds failures=0 fds_before=([0-9]+) fds_after=\\1\$" <<<"$HE_OUT" ||
        he_fail "wanted no failure and no fd left; $(he_ctx)"
    expect_log_count whoami $((threads * rounds))
    expect_under_ms "$budget"
}

# 16 threads, 4 races each at 250 ms: about 1 s if they run side by side.
he_case threads/dead4 threads_case 16 4 dead4.test 3000
# 8 threads, 20 connects each, refused first address: no waiting at all.
he_case threads/refuse threads_case 8 20 refuse.test "$HE_FAST_MS"

# Reproducer: threads taking turns between two names that share a dead
# first address (dead4.test and dead3x.test share .20), so that each name
# is resolved again and again by other threads between a thread's own
# resolve and connect.  Some connects once went unraced and waited out the
# kernel's SYN timeout (11 of 3,200 here); each connect now has a 3 s
# SO_SNDTIMEO, so such a connect fails, and the slowest connect must stay
# near dead3x.test's three attempt delays (750 ms).
threads_case_shared() {
    local threads=$1 rounds=$2 worst
    HE_RUN_TIMEOUT_S=30 he_run "$HE_BIN/shared_stress" "$threads" "$rounds" "$LAB_PORT_WHOAMI" 3000 \
        dead4.test dead3x.test
    expect_no_fdleak
    expect_rc 0
    grep -qE "^result connects=$((threads * rounds)) failures=0 worst_ms=[0-9]+\$" <<<"$HE_OUT" ||
        he_fail "wanted every connect raced; $(he_ctx)"
    worst=${HE_OUT##*worst_ms=}
    [ "$worst" -lt 2000 ] || he_fail "slowest connect took $worst ms, wanted under 2000; $(he_ctx)"
    expect_log_count whoami $((threads * rounds))
}
he_case threads/shared-address threads_case_shared 32 6

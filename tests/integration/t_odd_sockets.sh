#!/bin/bash
# Sockets with state libhe cannot carry over to a sibling are not raced
# (the promises "after a splice the fd differs only in its peer" and
# "it fails safe"): a socket filter (SO_GET_FILTER counts instructions,
# which libhe once misread, overrunning its stack or missing the filter), and
# a socket re-bound to a fixed port after libhe left it connecting.
# progs/odd_sockets.c connects to dead4.test's dead first address with a
# 600 ms SO_SNDTIMEO: -1/EINPROGRESS at 600 ms, as without libhe.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

odd_filter() {
    local n=$1
    shift
    he_run "$@" "$HE_BIN/odd_sockets" filter dead4.test "$LAB_PORT_WHOAMI" "$n"
    expect_rc 1
    expect_result EINPROGRESS 580 1000
    grep -qx "filter $n" <<<"$HE_OUT" || he_fail "filter of $n not kept; $(he_ctx)"
    expect_log_quiet whoami
}
he_case odd/filter-1 odd_filter 1
he_case odd/filter-8 odd_filter 8
he_case odd/filter-8-plain odd_filter 8 --plain

odd_rebind() {
    he_run "$@" "$HE_BIN/odd_sockets" rebind dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 1
    expect_result EINPROGRESS 580 1000
    grep -qx "port 45678" <<<"$HE_OUT" || he_fail "fixed port lost; $(he_ctx)"
    expect_log_quiet whoami
}
he_case odd/rebind-fixed-port odd_rebind
he_case odd/rebind-fixed-port-plain odd_rebind --plain

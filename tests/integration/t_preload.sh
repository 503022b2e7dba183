#!/bin/bash
# Together with other preload libraries (RELIABILITY, last paragraph): a
# preloaded allocator before and after libhe, and libfaketime, whose clock
# libhe's pacing then follows.  python3 create_connection on dead-first
# names, as in t_python3.sh.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

PY='
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
print(s.recv(100).decode().strip())
'
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
FAKETIME=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

preload_case() {
    local preload=$1 name=$2
    shift 2
    [ -f "${preload%% *}" ] || he_fail "not installed: ${preload%% *} (make deps)"
    he_run --env "LD_PRELOAD=$preload" "$@" /usr/bin/python3 -c "$PY" "$name" "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
}

# Sanitizer runtimes must come first and alone: these cases run only in
# the ordinary build.
if [ -z "${HE_SAN:-}" ]; then
    he_case preload/jemalloc-first preload_case "$JEMALLOC $HE_LIB" dead4.test
    he_case preload/jemalloc-after preload_case "$HE_LIB $JEMALLOC" dead3x.test
    # Frozen wall clock: pacing uses CLOCK_MONOTONIC, which still runs.
    he_case preload/faketime-absolute preload_case "$FAKETIME $HE_LIB" dead4.test \
        --env "FAKETIME=@2030-01-01 00:00:00"
    # Time ten times faster: 3 x 250 ms of fake time is 75 ms of real time.
    faketime_fast() {
        preload_case "$FAKETIME $HE_LIB" dead3x.test --env "FAKETIME=+0 x10"
        expect_under_ms 500
    }
    he_case preload/faketime-fast faketime_fast
fi

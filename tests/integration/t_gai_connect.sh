#!/bin/bash
# progs/gai_connect.c: the textbook getaddrinfo loop, plus an fd-leak check
# around each resolve/connect/close round.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

client() { HE_CMD=("$HE_BIN/gai_connect" "$1" "$LAB_PORT_WHOAMI"); }

check_reached() {
    expect_no_fdleak
    expect_rc 0
    expect_reached "$1"
}

# All addresses failed: exit 1 exactly (not 3, a leak, nor 2, no name).
check_failed() {
    expect_no_fdleak
    expect_rc 1
    expect_not_reached
}

he_standard_cases gai_connect "${HE_ALL_KINDS[@]}"

# Many rounds in one process: no fd may survive a round, whichever way the
# race went.  N rounds of NAME within BUDGET ms.
gai_case_rounds() {
    he_run "$HE_BIN/gai_connect" -n "$1" "$2" "$LAB_PORT_WHOAMI"
    check_reached "$HE_LIVE"
    [ "$(grep -c "^reached $HE_LIVE\$" <<<"$HE_OUT")" -eq "$1" ] ||
        he_fail "wanted $1 replies; $(he_ctx)"
    expect_under_ms "$3"
}
he_case gai_connect/rounds-refuse gai_case_rounds 20 refuse.test "$HE_FAST_MS"
he_case gai_connect/rounds-dead4 gai_case_rounds 4 dead4.test $((4 * HE_RACE_MS))
# A sibling that fails after it started (.30 refuses the second attempt)
# must be closed: this leaked one socket per connect once.
he_case gai_connect/rounds-sibling-refused gai_case_rounds 4 deadrefuse.test $((4 * HE_RACE_MS))

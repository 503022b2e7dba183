#!/bin/bash
# progs/ghbn_connect.c: gethostbyname, then each h_addr_list entry in
# order, plus an fd-leak check around each round.
#
# No dead6 case: gethostbyname returns IPv4 only, so dead6.test is just
# 198.51.100.10 to this program and the case would repeat "healthy".
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

client() { HE_CMD=("$HE_BIN/ghbn_connect" "$1" "$LAB_PORT_WHOAMI"); }

check_reached() {
    expect_no_fdleak
    expect_rc 0
    expect_reached "$1"
}

check_failed() {
    expect_no_fdleak
    expect_rc 1
    expect_not_reached
}

he_standard_cases ghbn_connect plain healthy dead4 dead3x refuse alldead

# Many rounds in one process, as for gai_connect.
ghbn_case_rounds() {
    he_run "$HE_BIN/ghbn_connect" -n "$1" "$2" "$LAB_PORT_WHOAMI"
    check_reached "$HE_LIVE"
    [ "$(grep -c "^reached $HE_LIVE\$" <<<"$HE_OUT")" -eq "$1" ] ||
        he_fail "wanted $1 replies; $(he_ctx)"
    expect_under_ms "$3"
}
he_case ghbn_connect/rounds-refuse ghbn_case_rounds 20 refuse.test "$HE_FAST_MS"
he_case ghbn_connect/rounds-dead4 ghbn_case_rounds 4 dead4.test $((4 * HE_RACE_MS))

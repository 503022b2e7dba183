#!/bin/bash
# fork after and during races (the promise "it survives fork"), with
# progs/fork_after.c:
# the child of a process that raced uses the spliced fd it inherited and
# races on its own; children forked while another thread races work too.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# Connect (a race), fork: the child reads the reply from the inherited fd,
# then resolves and races itself.
# Without history, both pay the attempt delay; with it (the default), the
# child knows what its parent learned and does not.
fork_case_after() {
    he_run --env "HE_HISTORY=$1" "$HE_BIN/fork_after" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    [ "$(grep -cxF "reached $HE_LIVE" <<<"$HE_OUT")" -eq 2 ] ||
        he_fail "wanted two 'reached $HE_LIVE' lines; $(he_ctx)"
    expect_log_count whoami 2
    if [ "$1" = off ]; then
        # Two races one after the other.
        expect_over_ms $((2 * HE_DELAY_MS * 9 / 10))
    else
        expect_under_ms $((HE_DELAY_MS * 3 / 2))
    fi
    expect_under_ms "$HE_RACE_MS"
}
he_case fork/after-race fork_case_after off
he_case fork/after-race-history fork_case_after user

# The same, then four children forked while a thread of the parent races
# connects to dead4.test over and over (atfork: no lock inherited held).
# Without history: with it, each of that thread's races takes a
# millisecond instead of the attempt delay, so the thread is inside
# getaddrinfo much of the time, and a child forked while it holds glibc's
# own __check_pf lock (which fork does not reset) hangs in its getaddrinfo
# -- glibc's, not libhe's (seen: the child waits in __check_pf).
fork_case_during() {
    he_run --env HE_HISTORY=off "$HE_BIN/fork_after" -t 4 dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    [ "$(grep -cxF "reached $HE_LIVE" <<<"$HE_OUT")" -eq 6 ] ||
        he_fail "wanted six 'reached $HE_LIVE' lines; $(he_ctx)"
    grep -qE '^background ok=[1-9][0-9]* failed=0$' <<<"$HE_OUT" ||
        he_fail "the racing thread failed; $(he_ctx)"
    expect_under_ms 4000
}
he_case fork/during-race fork_case_during

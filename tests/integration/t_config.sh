#!/bin/bash
# libhe's environment variables: a bad value gets exactly one warning
# (naming the variable and the value used) and never stops the program; by
# default a successful race is silent; HE_LOG_FILE takes the log lines; and
# libhe never writes to stdout.  The client is progs/gai_connect.c.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

GAI=("$HE_BIN/gai_connect")

# These cases are about the defaults: whatever the run passes through
# (run.sh forwards HE_LOG, HE_ATTEMPT_DELAY_MS, ...) is dropped here.
unset HE_DISABLE HE_ATTEMPT_DELAY_MS HE_CONNECT_TIMEOUT_MS HE_MAX_ATTEMPTS HE_MAP_MAX \
    HE_LOG HE_LOG_FILE

# stderr is exactly one line, which names VAR and says "using USED".
expect_one_warning() {
    local var=$1 used=$2
    [ "$(grep -c . <<<"$HE_ERR")" -eq 1 ] || he_fail "wanted exactly one line on stderr; $(he_ctx)"
    [[ $HE_ERR == *"$var"* && $HE_ERR == *"using $used"* ]] ||
        he_fail "wanted a warning naming $var and 'using $used'; $(he_ctx)"
}

expect_stdout_clean() {
    ! grep -q libhe <<<"$HE_OUT" || he_fail "libhe wrote to stdout; $(he_ctx)"
}

# Not a number: the default (250) is used, and the race still paces at it.
config_case_delay_garbage() {
    he_run --env HE_ATTEMPT_DELAY_MS=abc "${GAI[@]}" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_one_warning HE_ATTEMPT_DELAY_MS 250
    expect_stdout_clean
    expect_over_ms 225
    expect_under_ms "$HE_RACE_MS"
}
he_case config/delay-not-a-number config_case_delay_garbage

# Below the 10 ms floor: clamped to 10, so dead3x.test (three dead ahead of
# the live address) connects after about 30 ms instead of 750.
config_case_delay_low() {
    he_run --env HE_ATTEMPT_DELAY_MS=5 "${GAI[@]}" dead3x.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_one_warning HE_ATTEMPT_DELAY_MS 10
    expect_stdout_clean
    expect_under_ms 400
}
he_case config/delay-clamped config_case_delay_low

# Default settings: a successful race says nothing at all.
config_case_quiet() {
    he_run "${GAI[@]}" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    [ -z "$HE_ERR" ] || he_fail "wanted no stderr output; $(he_ctx)"
    expect_stdout_clean
    expect_over_ms 225 # it was a race
}
he_case config/quiet-by-default config_case_quiet

# HE_LOG=info with HE_LOG_FILE: one line for the race, in the file; nothing
# on stderr or stdout.
config_case_log_file() {
    local log=$HE_CASE_DIR/libhe.log
    he_run --env HE_LOG=info --env "HE_LOG_FILE=$log" "${GAI[@]}" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    [ -z "$HE_ERR" ] || he_fail "wanted nothing on stderr; $(he_ctx)"
    expect_stdout_clean
    [ -f "$log" ] || he_fail "no log file written; $(he_ctx)"
    [ "$(grep -c "race dead4\\.test: winner 198\\.51\\.100\\.10 " "$log")" -eq 1 ] ||
        he_fail "wanted one 'race dead4.test: winner $HE_LIVE' line in the log: '$(he_oneline "$(cat "$log")")'"
}
he_case config/log-file config_case_log_file

# HE_LOG=debug to stderr: stdout still only the program's.
config_case_debug_stdout() {
    he_run --env HE_LOG=debug "${GAI[@]}" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    [ "$HE_OUT" = "reached $HE_LIVE" ] || he_fail "stdout is not just the reply; $(he_ctx)"
    grep -q 'race dead4.test: winner' <<<"$HE_ERR" || he_fail "no race logged on stderr; $(he_ctx)"
}
he_case config/debug-not-on-stdout config_case_debug_stdout

# HE_MAX_ATTEMPTS=1: racing off, connect() passes straight through: the
# dead first address holds it until its 500 ms SO_SNDTIMEO, as without
# libhe; no race line is logged even at debug level.
config_case_one_attempt() {
    he_run --env HE_MAX_ATTEMPTS=1 --env HE_LOG=debug \
        "$HE_BIN/conn_modes" sndtimeo dead4.test "$LAB_PORT_WHOAMI" 500
    expect_rc 1
    expect_result EINPROGRESS 480 900
    ! grep -q "race " <<<"$HE_ERR" || he_fail "libhe raced; $(he_ctx)"
    expect_log_quiet whoami
}
he_case config/max-attempts-one config_case_one_attempt

#!/bin/bash
# scripts/he-run, the wrapper: runs a command with libhe appended to
# LD_PRELOAD and HE_* set from its options, and passes the command's exit
# status through.  The cases point it at the library under test with
# HE_RUN_LIB (and put a sanitizer runtime, if any, in LD_PRELOAD first, as
# a user would have to); he-run/finds-build-lib checks it finds
# ../build/libhe.so next to itself without help.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

HE_RUN_SCRIPT=$(realpath "$HE_IT_DIR/../../scripts/he-run")
# The sanitizer runtime run.sh preloads ahead of libhe, if any.
SAN_RT=
[[ $HE_PRELOAD == *" "* ]] && SAN_RT=${HE_PRELOAD% *}
# A command that prints the LD_PRELOAD it got.
# shellcheck disable=SC2016 # expanded by the inner shell
SHOW_PRELOAD=(/bin/sh -c 'printf "%s\n" "$LD_PRELOAD"')
# A harmless library someone already preloads.
OTHER_LIB=$(realpath /lib/x86_64-linux-gnu/libm.so.6 2>/dev/null || echo /lib/x86_64-linux-gnu/libm.so.6)

PY='
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
sys.stdout.write(s.recv(4096).decode())
'

# he-run ARGS... without the harness's LD_PRELOAD, at the library under test.
herun() {
    he_run --plain --env "HE_RUN_LIB=$HE_LIB" ${SAN_RT:+--env "LD_PRELOAD=$SAN_RT"} \
        /bin/sh "$HE_RUN_SCRIPT" "$@"
}

herun_case_python() {
    herun --log info -- /usr/bin/python3 -c "$PY" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    grep -q "race dead4\\.test: winner 198\\.51\\.100\\.10 " <<<"$HE_ERR" ||
        he_fail "wanted the race logged on stderr; $(he_ctx)"
    expect_over_ms $((HE_DELAY_MS * 9 / 10))
    expect_under_ms "$HE_RACE_MS"
}
he_case he-run/python-dead4 herun_case_python

# --fault adds HE_FAULTS entries, after what the variable holds: with
# HE_MAX_ATTEMPTS=1 the program itself sees each fault (a live address
# refused, another unreachable).
herun_case_fault() {
    local py='
import socket, sys
for a in sys.argv[1:]:
    try:
        socket.create_connection((a, '"$LAB_PORT_WHOAMI"'), timeout=2).close()
        print(a, "connected")
    except OSError as e:
        print(a, e.errno)
'
    he_run --plain --env "HE_RUN_LIB=$HE_LIB" ${SAN_RT:+--env "LD_PRELOAD=$SAN_RT"} \
        --env "HE_FAULTS=${LAB_LIVE4[0]}=refuse" --env HE_MAX_ATTEMPTS=1 \
        /bin/sh "$HE_RUN_SCRIPT" --fault "${LAB_LIVE4[1]}=unreach" -- \
        /usr/bin/python3 -c "$py" "${LAB_LIVE4[0]}" "${LAB_LIVE4[1]}"
    expect_rc 0
    [ "$HE_OUT" = "${LAB_LIVE4[0]} 111
${LAB_LIVE4[1]} 113" ] || he_fail "wanted the first refused, the second unreachable; $(he_ctx)"
}
he_case he-run/fault herun_case_fault

# A preload already there stays, first; libhe is appended once.
herun_case_keeps_preload() {
    local lib
    lib=$(realpath "$HE_LIB")
    he_run --plain --env "HE_RUN_LIB=$HE_LIB" --env "LD_PRELOAD=${SAN_RT:+$SAN_RT }$OTHER_LIB" \
        /bin/sh "$HE_RUN_SCRIPT" "${SHOW_PRELOAD[@]}"
    expect_rc 0
    [ "$HE_OUT" = "${SAN_RT:+$SAN_RT }$OTHER_LIB $lib" ] ||
        he_fail "wanted LD_PRELOAD '${SAN_RT:+$SAN_RT }$OTHER_LIB $lib'; $(he_ctx)"
    # Already in LD_PRELOAD: not added twice.
    he_run --plain --env "HE_RUN_LIB=$HE_LIB" --env "LD_PRELOAD=${SAN_RT:+$SAN_RT }$lib" \
        /bin/sh "$HE_RUN_SCRIPT" "${SHOW_PRELOAD[@]}"
    [ "$HE_OUT" = "${SAN_RT:+$SAN_RT }$lib" ] || he_fail "libhe preloaded twice; $(he_ctx)"
    # And the program works with both libraries in front of it.
    he_run --plain --env "HE_RUN_LIB=$HE_LIB" --env "LD_PRELOAD=${SAN_RT:+$SAN_RT }$OTHER_LIB" \
        /bin/sh "$HE_RUN_SCRIPT" /usr/bin/python3 -c "$PY" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_over_ms $((HE_DELAY_MS * 9 / 10))
}
he_case he-run/keeps-preload herun_case_keeps_preload

# Next to its build tree, he-run finds ../build/libhe.so by itself.
herun_case_finds_lib() {
    he_run --plain ${SAN_RT:+--env "LD_PRELOAD=$SAN_RT"} --env HE_RUN_LIB= \
        /bin/sh "$HE_RUN_SCRIPT" "${SHOW_PRELOAD[@]}"
    expect_rc 0
    [ "$HE_OUT" = "${SAN_RT:+$SAN_RT }$(realpath "$HE_IT_DIR/../../build/libhe.so")" ] ||
        he_fail "wanted $(realpath "$HE_IT_DIR/../../build/libhe.so") preloaded; $(he_ctx)"
}
he_case he-run/finds-build-lib herun_case_finds_lib

herun_case_help() {
    herun --help
    expect_rc 0
    [[ $HE_OUT == "Usage: he-run "* ]] || he_fail "wanted the usage on stdout; $(he_ctx)"
    [ -z "$HE_ERR" ] || he_fail "wanted nothing on stderr; $(he_ctx)"
}
he_case he-run/help herun_case_help

herun_case_version() {
    herun --version
    expect_rc 0
    [[ $HE_OUT =~ ^he-run\ \(libhe\)\ [^[:space:]]+$ ]] || he_fail "wanted 'he-run (libhe) VERSION'; $(he_ctx)"
}
he_case he-run/version herun_case_version

# No command: usage on stderr, exit 2; an unknown option likewise.
herun_case_no_command() {
    herun
    expect_rc 2
    [[ $HE_ERR == *"Usage: he-run"* ]] || he_fail "wanted the usage on stderr; $(he_ctx)"
    [ -z "$HE_OUT" ] || he_fail "wanted nothing on stdout; $(he_ctx)"
    herun --log info --
    expect_rc 2
    herun --no-such-option true
    expect_rc 2
}
he_case he-run/no-command herun_case_no_command

# The command's exit status is he-run's: it execs the command.
herun_case_status() {
    herun /bin/sh -c 'exit 7'
    expect_rc 7
    herun -- /bin/sh -c 'exit 0'
    expect_rc 0
    herun --log info -- /bin/false
    expect_rc 1
}
he_case he-run/exit-status herun_case_status

# --delay 50: dead3x.test's three dead addresses cost 3 x 50 ms, not 3 x 250.
herun_case_delay() {
    local default_ms
    unset HE_ATTEMPT_DELAY_MS # the real default, whatever the run passes
    herun -- /usr/bin/python3 -c "$PY" dead3x.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    default_ms=$HE_MS
    herun --delay 50 -- /usr/bin/python3 -c "$PY" dead3x.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_under_ms 500
    [ "$HE_MS" -lt $((default_ms - 400)) ] ||
        he_fail "--delay 50 took $HE_MS ms, the default $default_ms ms; $(he_ctx)"
}
he_case he-run/delay herun_case_delay

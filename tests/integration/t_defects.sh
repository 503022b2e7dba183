#!/bin/bash
# Reproducers for defects a hostile probe found in libhe's own I/O: its log
# lines and the files its variables name.  Each case is named after what
# broke; the fixed behaviour is:
#   - a log line that cannot be written (stderr a pipe nobody reads) is
#     dropped silently: no SIGPIPE reaches the program;
#   - libhe never writes to fd 2 if fd 2 was closed when libhe was loaded
#     (the program's own socket may get that number later);
#   - HE_HOSTS is read only if it is a regular file: a FIFO or /dev/stdin
#     (the program's own input) gets one warning and is ignored;
#   - HE_LOG_FILE naming a FIFO without a reader never blocks the program:
#     the lines go to stderr, with one warning; a FIFO with a reader works.
# The clients are progs/gai_connect.c (getaddrinfo first) and
# progs/literal_connect.c (no lookup: connect() is libhe's first hook); the
# record server (servers.py) logs exactly what a connection carried.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

GAI=("$HE_BIN/gai_connect")
LIT=("$HE_BIN/literal_connect")

# Default configuration except the variable under test: whatever the run
# passes through (run.sh forwards HE_LOG, ...) is dropped here.
unset HE_DISABLE HE_ATTEMPT_DELAY_MS HE_CONNECT_TIMEOUT_MS HE_MAX_ATTEMPTS HE_MAP_MAX \
    HE_LOG HE_LOG_FILE HE_MAP_TTL HE_RESOLUTION_DELAY_MS HE_RESOLVE HE_NAMESERVERS HE_HOSTS

# A case whose old failure is a hang: the program is killed sooner than
# the usual 6 s (the fixed program takes well under a second).
HANG_TIMEOUT_S=3

# stderr has exactly one line naming VAR (and maybe others not naming it).
expect_one_warning_naming() {
    [ "$(grep -c "$1" <<<"$HE_ERR")" -eq 1 ] ||
        he_fail "wanted exactly one line naming $1 on stderr; $(he_ctx)"
}

# Exit 0; a death by signal is named (SIGPIPE is what most of these were).
expect_clean_exit() {
    if [ "$HE_RC" -gt 128 ] && [ "$HE_RC" -lt 160 ]; then
        he_fail "killed by SIG$(kill -l "$((HE_RC - 128))"); $(he_ctx)"
    fi
    expect_rc 0
}

# stdout has the line "fd N": the client's socket got descriptor N.
expect_fd() {
    grep -qxF "fd $1" <<<"$HE_OUT" ||
        he_fail "the client's socket is not fd $1 (the case's premise); $(he_ctx)"
}

# The record server got exactly the bytes WANT (a Python bytes repr) on
# the one connection of this case.
expect_recorded() {
    local want=$1 got
    he_log_wait record '^got ' ||
        he_fail "record server logged nothing: '$(he_oneline "$(he_log_new record)")'; $(he_ctx)"
    got=$(he_log_new record | grep '^got ')
    [ "$got" = "got $want" ] ||
        he_fail "the server received bytes the program did not send: '$(he_oneline "$got")', wanted 'got $want'; $(he_ctx)"
}

# he_run with the program's stderr a pipe whose read end is already
# closed.  Python's subprocess puts SIGPIPE back to its default in the
# child; a child killed by a signal is reported as "killed by SIGNAME" on
# the wrapper's stderr and exit 128+N, as a shell would.
# shellcheck disable=SC2016 # Python
PY_BROKEN_STDERR='
import os, signal, subprocess, sys
r, w = os.pipe()
os.close(r)
rc = subprocess.run(sys.argv[1:], stderr=w).returncode
if rc < 0:
    print("killed by %s" % signal.Signals(-rc).name, file=sys.stderr)
    sys.exit(128 - rc)
sys.exit(rc)
'
run_broken_stderr() {
    he_run --plain "$@" /usr/bin/python3 -c "$PY_BROKEN_STDERR" \
        env "LD_PRELOAD=$HE_PRELOAD" "${GAI[@]}" dead4.test "$LAB_PORT_WHOAMI"
}

# he_run with the program's stderr closed (2>&-), so that its first new
# descriptor is 2.  HE_ERR is empty.
run_stderr_closed() {
    local t0
    he_run_opts "$@"
    shift "$HE_RUN_SHIFT"
    : >"$HE_CASE_DIR/stderr"
    t0=$(he_now_us)
    timeout -k 1 "$HE_RUN_TIMEOUT_S" env "${HE_RUN_ENVS[@]}" "$@" \
        >"$HE_CASE_DIR/stdout" 2>&- </dev/null
    HE_RC=$?
    he_run_done "$t0"
}

# he_run with the program's stdin a pipe carrying TEXT (then EOF).
run_stdin_text() {
    local text=$1 t0
    shift
    he_run_opts "$@"
    shift "$HE_RUN_SHIFT"
    t0=$(he_now_us)
    printf '%s' "$text" |
        timeout -k 1 "$HE_RUN_TIMEOUT_S" env "${HE_RUN_ENVS[@]}" "$@" \
            >"$HE_CASE_DIR/stdout" 2>"$HE_CASE_DIR/stderr"
    HE_RC=$?
    he_run_done "$t0"
}

# ---------------------------------------------------------------- SIGPIPE

# stderr a pipe nobody reads, HE_LOG=info: the race line cannot be written,
# and must be dropped, not kill the program with SIGPIPE.
defects_sigpipe_race_line() {
    run_broken_stderr --env HE_LOG=info
    expect_clean_exit
    expect_reached "$HE_LIVE"
    expect_under_ms "$HE_RACE_MS"
}
he_case defects/sigpipe-from-race-log-line defects_sigpipe_race_line

# The same with the default level and a bad variable, whose warning is
# written when libhe starts (at the first getaddrinfo).
defects_sigpipe_config_warning() {
    run_broken_stderr --env HE_MAP_TTL=x
    expect_clean_exit
    expect_reached "$HE_LIVE"
    expect_under_ms "$HE_RACE_MS"
}
he_case defects/sigpipe-from-config-warning defects_sigpipe_config_warning

# ---------------------------------------------------------------- fd 2 reused

# stderr closed, so gai_connect's socket is fd 2; HE_LOG=info: the race
# line must not be written into the program's connection (the winner was
# spliced onto fd 2 before the line is written).
defects_fd2_race_line() {
    run_stderr_closed --env HE_LOG=info "${GAI[@]}" dead4.test "$LAB_PORT_RECORD"
    expect_clean_exit
    expect_reached "$HE_LIVE"
    expect_recorded "0 b''"
    expect_under_ms "$HE_RACE_MS"
}
he_case defects/race-log-line-into-socket-on-fd2 defects_fd2_race_line

# stderr closed and a bad variable, with a client whose first hooked call
# is connect() on its socket, fd 2: the warning libhe writes as it starts
# must not go into that socket (old: write to the unconnected socket,
# SIGPIPE, the program dies before it connects).  The server gets only the
# program's "hello".
defects_fd2_config_warning() {
    run_stderr_closed --env HE_MAP_TTL=x "${LIT[@]}" "$HE_LIVE" "$LAB_PORT_RECORD" hello
    expect_fd 2
    expect_clean_exit
    expect_reached "$HE_LIVE"
    expect_recorded "5 b'hello'"
    expect_under_ms "$HE_FAST_MS"
}
he_case defects/config-warning-into-socket-on-fd2 defects_fd2_config_warning

# ---------------------------------------------------------------- HE_HOSTS

# HE_HOSTS names a FIFO no one writes to: opening it would block forever in
# the program's first hooked call, here connect() to a literal address.  It
# is not a regular file: one warning, ignored.
defects_hosts_fifo() {
    local HE_RUN_TIMEOUT_S=$HANG_TIMEOUT_S fifo=$HE_CASE_DIR/hosts.fifo
    mkfifo "$fifo" || he_fail "mkfifo $fifo failed"
    he_run --env "HE_HOSTS=$fifo" "${LIT[@]}" "$HE_LIVE" "$LAB_PORT_WHOAMI"
    expect_clean_exit
    expect_reached "$HE_LIVE"
    expect_one_warning_naming HE_HOSTS
    [ "$(grep -c . <<<"$HE_ERR")" -eq 1 ] || he_fail "wanted nothing else on stderr; $(he_ctx)"
    expect_under_ms "$HE_FAST_MS"
}
he_case defects/hosts-fifo-hangs defects_hosts_fifo

# HE_HOSTS=/dev/stdin with stdin a pipe: libhe must not read the program's
# own input.  literal_connect connects, then copies its stdin to stdout:
# all of the text must come out.  A pipe is not a regular file: one
# warning, ignored.
defects_hosts_stdin() {
    local text
    text=$'first line of the program\'s input\n198.51.100.99 not-a-hosts-file.test\nlast line\n'
    run_stdin_text "$text" --env HE_HOSTS=/dev/stdin "${LIT[@]}" "$HE_LIVE" "$LAB_PORT_WHOAMI"
    expect_clean_exit
    expect_reached "$HE_LIVE"
    sed '1,/^reached /d' "$HE_CASE_DIR/stdout" | cmp -s - <(printf '%s' "$text") ||
        he_fail "the program did not get its whole stdin back; $(he_ctx)"
    expect_one_warning_naming HE_HOSTS
    [ "$(grep -c . <<<"$HE_ERR")" -eq 1 ] || he_fail "wanted nothing else on stderr; $(he_ctx)"
    expect_under_ms "$HE_FAST_MS"
}
he_case defects/hosts-stdin-eats-program-input defects_hosts_stdin

# ---------------------------------------------------------------- HE_LOG_FILE

# HE_LOG_FILE names a FIFO nobody reads: opening it for the race line
# would block connect() forever.  The lines go to stderr instead, after one
# warning naming HE_LOG_FILE.
defects_log_fifo_no_reader() {
    local HE_RUN_TIMEOUT_S=$HANG_TIMEOUT_S fifo=$HE_CASE_DIR/log.fifo
    mkfifo "$fifo" || he_fail "mkfifo $fifo failed"
    he_run --env HE_LOG=info --env "HE_LOG_FILE=$fifo" "${GAI[@]}" dead4.test "$LAB_PORT_WHOAMI"
    expect_clean_exit
    expect_reached "$HE_LIVE"
    expect_one_warning_naming HE_LOG_FILE
    [ "$(grep -c "race dead4\\.test: winner 198\\.51\\.100\\.10 " <<<"$HE_ERR")" -eq 1 ] ||
        he_fail "wanted the race line on stderr; $(he_ctx)"
    expect_under_ms "$HE_RACE_MS"
}
he_case defects/log-file-fifo-without-reader-hangs defects_log_fifo_no_reader

# The same FIFO with a reader (the case holds it open, so libhe's open
# finds one at once): the race line arrives there, nothing on stderr.  Not
# a reproducer: it guards the fix against refusing FIFOs altogether.
defects_log_fifo_reader() {
    local HE_RUN_TIMEOUT_S=$HANG_TIMEOUT_S fifo=$HE_CASE_DIR/log.fifo line lines=()
    mkfifo "$fifo" || he_fail "mkfifo $fifo failed"
    exec 3<>"$fifo" # read and write: never blocks, and is a reader from now on
    he_run --env HE_LOG=info --env "HE_LOG_FILE=$fifo" "${GAI[@]}" dead4.test "$LAB_PORT_WHOAMI" 3>&-
    while IFS= read -r -t 0.2 line <&3; do
        lines+=("$line")
    done
    exec 3>&-
    expect_clean_exit
    expect_reached "$HE_LIVE"
    [ -z "$HE_ERR" ] || he_fail "wanted nothing on stderr; $(he_ctx)"
    [ "$(printf '%s\n' "${lines[@]}" | grep -c "race dead4\\.test: winner 198\\.51\\.100\\.10 ")" -eq 1 ] ||
        he_fail "wanted one race line in the FIFO, got '$(he_oneline "$(printf '%s\n' "${lines[@]}")")'; $(he_ctx)"
    expect_under_ms "$HE_RACE_MS"
}
he_case defects/log-file-fifo-with-reader defects_log_fifo_reader

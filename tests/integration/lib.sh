# shellcheck shell=bash
# Helpers shared by the t_*.sh test files.  A test file is run by run.sh as
# its own bash process, inside the lab, and looks like:
#
#   . "$HE_IT_DIR/lib.sh"
#   client() { HE_CMD=(some-program "$1" "$LAB_PORT_WHOAMI"); }
#   he_standard_cases myprog plain healthy dead4 ...
#   he_case myprog/special my_case_function
#
# Cases
#   he_case NAME FUNC [ARGS...]   runs FUNC ARGS in a subshell if NAME (or
#       the file's name) matches the run's PATTERN; prints and records
#       "PASS NAME (X ms)" or "FAIL NAME: reason".  X is the elapsed time of
#       the case's last he_run, else of the whole case.
#   he_fail REASON                 ends the current case as failed.
#   Each case runs with XDG_RUNTIME_DIR=$HE_CASE_DIR/run, so that its
#   programs share a connection history of their own, empty at the start.
#
# Running programs
#   he_run [--plain] [--env VAR=VALUE]... CMD [ARGS...]
#       runs CMD with stdin from /dev/null, under libhe
#       (LD_PRELOAD=$HE_PRELOAD, i.e. HE_LIB after any sanitizer runtime)
#       unless --plain, killed after HE_RUN_TIMEOUT_S; sets HE_RC, HE_MS,
#       HE_OUT, HE_ERR.  A timeout, ld.so refusing the preload, or a
#       sanitizer report fails the case at once.
#   he_run_bg [--plain] [--env VAR=VALUE]... CMD [ARGS...]
#       starts CMD the same way but returns at once, for a program the case
#       changes the world under while it runs (one at a time per case);
#   he_bg_wait_out REGEX [SECONDS]
#       waits (default 3 s) until its stdout has a line matching REGEX,
#       failing the case if it ends or the time passes first;
#   he_bg_go NAME
#       creates $HE_CASE_DIR/go.NAME, a file the program polls for (the
#       case passes it the path) to go on to its next step;
#   he_run_wait
#       waits for it to end, then sets HE_RC... and checks as he_run does.
#       HE_MS is the whole run.  A case that fails before he_run_wait
#       kills the program (dns_case does; see below).
#
# Expectations (each fails the case with the run's details)
#   expect_rc N, expect_rc_nonzero, expect_under_ms MS, expect_over_ms MS,
#   expect_reached ADDR   (stdout has the line "reached ADDR"),
#   expect_not_reached    (stdout has no "reached" line),
#   expect_no_fdleak      (stderr has no FDLEAK report),
#   expect_log SERVER ADDR   (SERVER.log got "reached ADDR" during this case)
#   expect_log_ident SERVER ADDR  (banner server read a client ident there)
#   expect_log_quiet SERVER  (SERVER.log got no "reached" during this case)
#   expect_log_count SERVER N (SERVER.log got exactly N "reached" lines)
#   expect_result ERRNO MIN MAX  (progs/conn_modes.c's "result rc=R errno=E
#                         ms=M" line says -1/ERRNO, or a connection for 0,
#                         after MIN..MAX ms of connect())
#
# DNS (lab.sh's header describes the lab's dnsmasq; its helpers, dns_set,
# dns_query_count, dns_drop_aaaa, dns_down, lab_kill, ..., are listed above
# their code at the end of lab.sh)
#   dns_case NAME FUNC [ARGS...]  he_case for a case that needs the lab's
#       DNS: fails at once, saying why, if dnsmasq is not there; starts and
#       ends (however it ends) with dns_reset (no drops, DNS up, no killed
#       addresses), and kills a background program left running.
#
# Environment from run.sh: HE_IT_DIR HE_LIB HE_PRELOAD HE_WORK HE_BIN
# HE_RESULTS HE_PATTERN LAB_LOG_DIR.

set -u

# shellcheck source=lab.sh
. "$HE_IT_DIR/lab.sh" # addresses, ports and the name table

# The address every reachable name must end up at.
HE_LIVE=${LAB_LIVE4[0]}

# Time budgets, in ms, measured around the whole client program.
HE_FAST_MS=1000    # nothing dead in the way: healthy, refuse, plain
HE_RACE_MS=2000    # dead addresses first: 250 ms pacing each, plus slack
HE_ALLDEAD_MS=3000 # everything dead, libhe deadline below, per connect()
HE_ALLDEAD_DEADLINE_MS=1000
# RFC 8305 pacing: libhe's attempt delay (honouring an override in the
# environment), of which a dead-first name must wait at least 90% per dead
# address ahead of the live one.  Sooner means libhe did not pace its
# attempts, or the address was not dead.
HE_DELAY_MS=${HE_ATTEMPT_DELAY_MS:-250}
# With the connection history (on by default), once a case has connected
# to an address of the lab's /24, a later race's delay comes from its RTT:
# at least this (HE_MIN_ATTEMPT_DELAY_MS), never above HE_DELAY_MS.
HE_MIN_DELAY_MS=${HE_MIN_ATTEMPT_DELAY_MS:-100}
# No single run may take longer than this; the longest budget is 3 s.
HE_RUN_TIMEOUT_S=${HE_RUN_TIMEOUT_S:-6}

# Lines by which ASan, LSan, UBSan and TSan announce a finding.
HE_SANITIZER_RE='ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:'

HE_TEST_FILE=$(basename "$0" .sh)
HE_CASE_DIR=
HE_CMD=()
HE_RC=
HE_MS=
HE_OUT=
HE_ERR=

# ---------------------------------------------------------------- cases

# Is case NAME part of this run?  PATTERN (an extended regex) may match the
# case name ("python3/dead4") or the test file ("t_python3").
he_selected() {
    [ -z "${HE_PATTERN:-}" ] || [[ $1 =~ $HE_PATTERN ]] || [[ $HE_TEST_FILE =~ $HE_PATTERN ]]
}

he_now_us() {
    local t=$EPOCHREALTIME
    echo "${t//[.,]/}"
}

# Remembers how long each server log is, so expectations only look at what
# this case produced.
he_log_mark() {
    local f
    for f in "$LAB_LOG_DIR"/*.log; do
        # shellcheck disable=SC2094 # reads the log, writes the mark
        wc -l <"$f" >"$HE_CASE_DIR/mark.$(basename "$f" .log)"
    done
}

he_case() {
    local name=$1 rc t0 ms reason
    shift
    he_selected "$name" || return 0
    HE_CASE_DIR=$HE_WORK/cases/${name//\//_}
    rm -rf "$HE_CASE_DIR"
    mkdir -p "$HE_CASE_DIR"
    he_log_mark
    # Each case starts with an empty connection history, in the place
    # libhe picks by default ($XDG_RUNTIME_DIR/libhe): what one case
    # taught libhe must not change what another sees.
    mkdir -m 0700 "$HE_CASE_DIR/run"
    t0=$(he_now_us)
    (export XDG_RUNTIME_DIR=$HE_CASE_DIR/run && "$@")
    rc=$?
    ms=$((($(he_now_us) - t0) / 1000))
    [ -s "$HE_CASE_DIR/ms" ] && ms=$(<"$HE_CASE_DIR/ms")
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name ($ms ms)" | tee -a "$HE_RESULTS"
    else
        reason=$(cat "$HE_CASE_DIR/reason" 2>/dev/null)
        echo "FAIL $name: ${reason:-case ended with status $rc and no reason}" | tee -a "$HE_RESULTS"
    fi
}

he_fail() {
    printf '%s\n' "$*" >"$HE_CASE_DIR/reason"
    exit 1
}

# ---------------------------------------------------------------- running

# Squeezes text onto one bounded line for a failure reason.
he_oneline() {
    local s=${1//$'\r'/}
    s=${s//$'\n'/ | }
    [ ${#s} -gt 300 ] && s="${s:0:300}..."
    printf '%s' "$s"
}

# What the last run did, for failure reasons.
he_ctx() {
    printf "exit %s after %s ms; stdout '%s'; stderr '%s'" "$HE_RC" "$HE_MS" \
        "$(he_oneline "$HE_OUT")" "$(he_oneline "$HE_ERR")"
}

# he_run's and he_run_bg's options (--plain, --env VAR=VALUE) into
# HE_RUN_ENVS, the arguments of env(1); HE_RUN_SHIFT is how many they took.
he_run_opts() {
    HE_RUN_ENVS=("LD_PRELOAD=$HE_PRELOAD")
    HE_RUN_SHIFT=0
    while [ $# -gt 0 ]; do
        case $1 in
        --plain) HE_RUN_ENVS[0]=-uLD_PRELOAD ;;
        --env) HE_RUN_ENVS+=("$2") && shift && HE_RUN_SHIFT=$((HE_RUN_SHIFT + 1)) ;;
        *) break ;;
        esac
        shift
        HE_RUN_SHIFT=$((HE_RUN_SHIFT + 1))
    done
}

he_run() {
    local t0
    he_run_opts "$@"
    shift "$HE_RUN_SHIFT"
    t0=$(he_now_us)
    # env, not the shell, applies LD_PRELOAD, so timeout(1) itself runs
    # without libhe.
    timeout -k 1 "$HE_RUN_TIMEOUT_S" env "${HE_RUN_ENVS[@]}" "$@" \
        >"$HE_CASE_DIR/stdout" 2>"$HE_CASE_DIR/stderr" </dev/null
    HE_RC=$?
    he_run_done "$t0"
}

HE_BG_PID=
HE_BG_T0=

he_run_bg() {
    he_run_opts "$@"
    shift "$HE_RUN_SHIFT"
    [ -z "$HE_BG_PID" ] || he_fail "he_run_bg: a background program is already running"
    : >"$HE_CASE_DIR/stdout"
    HE_BG_T0=$(he_now_us)
    timeout -k 1 "$HE_RUN_TIMEOUT_S" env "${HE_RUN_ENVS[@]}" "$@" \
        >"$HE_CASE_DIR/stdout" 2>"$HE_CASE_DIR/stderr" </dev/null &
    HE_BG_PID=$!
}

he_bg_wait_out() {
    local regex=$1 end=$(($(he_now_us) + ${2:-3} * 1000000))
    while [ "$(he_now_us)" -lt "$end" ]; do
        grep -qE "$regex" "$HE_CASE_DIR/stdout" && return 0
        kill -0 "$HE_BG_PID" 2>/dev/null || break
        sleep 0.01
    done
    grep -qE "$regex" "$HE_CASE_DIR/stdout" && return 0
    he_run_wait_quiet kill
    he_fail "waited for '$regex' in vain; $(he_ctx)"
}

he_bg_go() {
    : >"$HE_CASE_DIR/go.$1"
}

# he_run_wait without its checks: collects the program's results (killing
# it first if KILL is given).
he_run_wait_quiet() {
    [ -n "$HE_BG_PID" ] || return 0
    [ -n "${1:-}" ] && kill "$HE_BG_PID" 2>/dev/null
    wait "$HE_BG_PID"
    HE_RC=$?
    HE_BG_PID=
    HE_MS=$((($(he_now_us) - HE_BG_T0) / 1000))
    HE_OUT=$(<"$HE_CASE_DIR/stdout")
    HE_ERR=$(<"$HE_CASE_DIR/stderr")
}

he_run_wait() {
    [ -n "$HE_BG_PID" ] || he_fail "he_run_wait: no background program"
    wait "$HE_BG_PID"
    HE_RC=$?
    HE_BG_PID=
    he_run_done "$HE_BG_T0"
}

# The end of he_run and he_run_wait: the program ended with HE_RC, having
# started at T0 (he_now_us).
he_run_done() {
    local t0=$1
    HE_MS=$((($(he_now_us) - t0) / 1000))
    echo "$HE_MS" >"$HE_CASE_DIR/ms"
    HE_OUT=$(<"$HE_CASE_DIR/stdout")
    HE_ERR=$(<"$HE_CASE_DIR/stderr")
    if [ "$HE_RC" -eq 124 ] || [ "$HE_RC" -eq 137 ]; then
        he_fail "killed after ${HE_RUN_TIMEOUT_S} s (hung); $(he_ctx)"
    fi
    if [[ $HE_ERR == *"cannot be preloaded"* ]]; then
        he_fail "ld.so did not preload $HE_PRELOAD: $(he_oneline "$HE_ERR")"
    fi
    if grep -qE "$HE_SANITIZER_RE" <<<"$HE_ERR"; then
        he_fail "sanitizer report: $(he_oneline "$(grep -m 3 -E "$HE_SANITIZER_RE" <<<"$HE_ERR")")"
    fi
}

# ---------------------------------------------------------------- expectations

expect_rc() {
    [ "$HE_RC" -eq "$1" ] || he_fail "wanted exit $1; $(he_ctx)"
}

expect_rc_nonzero() {
    [ "$HE_RC" -ne 0 ] || he_fail "wanted a failure; $(he_ctx)"
}

expect_under_ms() {
    [ "$HE_MS" -lt "$1" ] || he_fail "took $HE_MS ms, budget $1 ms; $(he_ctx)"
}

expect_over_ms() {
    [ "$HE_MS" -ge "$1" ] || he_fail "took only $HE_MS ms, at least $1 ms expected; $(he_ctx)"
}

expect_reached() {
    grep -qxF "reached $1" <<<"$HE_OUT" || he_fail "wanted 'reached $1'; $(he_ctx)"
}

expect_not_reached() {
    ! grep -q '^reached' <<<"$HE_OUT" || he_fail "wanted no server reached; $(he_ctx)"
}

expect_no_fdleak() {
    ! grep -q 'FDLEAK' <<<"$HE_ERR" || he_fail "fd leak; $(he_ctx)"
}

expect_result() {
    local want=$1 min=$2 max=$3 line ms
    line=$(grep -m 1 '^result ' <<<"$HE_OUT")
    if [ "$want" = 0 ]; then
        [[ $line == "result rc=0 errno=0 "* ]] || he_fail "wanted a connection; $(he_ctx)"
    else
        [[ $line == "result rc=-1 errno=$want "* ]] || he_fail "wanted -1/$want; $(he_ctx)"
    fi
    ms=${line##*ms=}
    if ! [[ $ms =~ ^[0-9]+$ ]] || [ "$ms" -lt "$min" ] || [ "$ms" -gt "$max" ]; then
        he_fail "connect() took '$ms' ms, wanted $min..$max; $(he_ctx)"
    fi
}

# Prints what SERVER logged since the case started.
he_log_new() {
    local mark
    mark=$(<"$HE_CASE_DIR/mark.$1")
    tail -n "+$((mark + 1))" "$LAB_LOG_DIR/$1.log"
}

# Waits up to 2 s for SERVER to log a line matching the regex.
he_log_wait() {
    local server=$1 regex=$2 i
    for ((i = 0; i < 40; i++)); do
        he_log_new "$server" | grep -qE "$regex" && return 0
        sleep 0.05
    done
    return 1
}

expect_log() {
    he_log_wait "$1" "^reached $2\$" ||
        he_fail "$1 server did not log 'reached $2' (it logged '$(he_oneline "$(he_log_new "$1")")'); $(he_ctx)"
}

expect_log_ident() {
    he_log_wait "$1" "^ident $2 SSH-2\\.0-" ||
        he_fail "$1 server got no client identification at $2 (it logged '$(he_oneline "$(he_log_new "$1")")'); $(he_ctx)"
}

expect_log_count() {
    local n
    n=$(he_log_new "$1" | grep -c '^reached')
    [ "$n" -eq "$2" ] ||
        he_fail "$1 server was reached $n times, wanted $2: '$(he_oneline "$(he_log_new "$1")")'; $(he_ctx)"
}

expect_log_quiet() {
    ! he_log_new "$1" | grep -q '^reached' ||
        he_fail "$1 server was reached: '$(he_oneline "$(he_log_new "$1")")'; $(he_ctx)"
}

# ---------------------------------------------------------------- standard cases
#
# A test file defines client NAME, which sets HE_CMD to the command line
# that connects to NAME, and may override check_reached ADDR and
# check_failed to say how success and failure show for its program, and
# HE_SERVER, the lab server its client talks to.

HE_SERVER=whoami

check_reached() {
    expect_rc 0
    expect_reached "$1"
}

check_failed() {
    expect_rc_nonzero
    expect_not_reached
}

# NAME reached HE_LIVE under libhe within BUDGET ms, after at least MIN ms.
he_case_reach() {
    local name=$1 budget=$2 min=${3:-0}
    client "$name"
    he_run "${HE_CMD[@]}"
    check_reached "$HE_LIVE"
    # One connection reached a server: the winner, and no duplicate of it.
    expect_log_count "$HE_SERVER" 1
    expect_under_ms "$budget"
    expect_over_ms "$min"
}

# How long libhe must pace before reaching the live address of NAME: one
# attempt delay per dead address listed ahead of it, less 10%.
he_pacing_ms() {
    local a n=0
    for a in ${LAB_NAMES[$1]}; do
        [ "$a" = "$HE_LIVE" ] && break
        n=$((n + 1))
    done
    echo $((n * HE_DELAY_MS * 9 / 10))
}

# The lab alone: healthy.test without libhe.
he_case_plain() {
    client healthy.test
    he_run --plain "${HE_CMD[@]}"
    check_reached "$HE_LIVE"
    expect_log_count "$HE_SERVER" 1
    expect_under_ms "$HE_FAST_MS"
}

# Every address dead: the program must give up, libhe's own deadline
# bounding each connect().
he_case_alldead() {
    client alldead.test
    he_run --env "HE_CONNECT_TIMEOUT_MS=$HE_ALLDEAD_DEADLINE_MS" "${HE_CMD[@]}"
    check_failed
    expect_log_quiet "$HE_SERVER"
    expect_under_ms "$HE_ALLDEAD_MS"
}

# he_standard_cases PROG KIND...  with KIND one of plain healthy dead6
# dead4 dead3x refuse alldead; cases are named PROG/KIND.
he_standard_cases() {
    local prog=$1 kind
    shift
    for kind in "$@"; do
        case $kind in
        plain) he_case "$prog/plain" he_case_plain ;;
        healthy | refuse) he_case "$prog/$kind" he_case_reach "$kind.test" "$HE_FAST_MS" ;;
        dead6 | dead4 | dead3x)
            he_case "$prog/$kind" he_case_reach "$kind.test" "$HE_RACE_MS" "$(he_pacing_ms "$kind.test")"
            ;;
        alldead) he_case "$prog/alldead" he_case_alldead ;;
        *) echo "he_standard_cases: unknown kind '$kind'" >&2 && exit 2 ;;
        esac
    done
}

# Every kind, for programs that resolve with getaddrinfo.
# shellcheck disable=SC2034 # used by the test files
HE_ALL_KINDS=(plain healthy dead6 dead4 dead3x refuse alldead)

# ---------------------------------------------------------------- DNS cases

# getaddrinfo only (python3, SOCK_STREAM):  PY_GAI NAME FAMILY(0|4|6) ->
# the addresses on one line (or "error EAI"), then "ms=N" for the call;
# gai_ms gives that figure from the last run.
# shellcheck disable=SC2034 # used by the test files
PY_GAI='
import socket, sys, time
fam = {"0": socket.AF_UNSPEC, "4": socket.AF_INET, "6": socket.AF_INET6}[sys.argv[2]]
t = time.monotonic()
try:
    res = socket.getaddrinfo(sys.argv[1], 7000, fam, socket.SOCK_STREAM)
    print(" ".join(a[4][0] for a in res))
except socket.gaierror as e:
    print("error", e.errno)
print("ms=%d" % ((time.monotonic() - t) * 1000))
'
gai_ms() { sed -n 's/^ms=//p' <<<"$HE_OUT"; }

dns_case() {
    local name=$1
    shift
    he_case "$name" dns_case_run "$@"
}

dns_case_run() {
    dns_require
    trap dns_case_cleanup EXIT
    dns_reset
    "$@"
}

dns_case_cleanup() {
    he_run_wait_quiet kill
    HE_CASE_DIR='' dns_reset >/dev/null 2>&1
}

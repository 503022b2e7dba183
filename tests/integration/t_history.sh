#!/bin/bash
# Connection history (README, "Connection history"): a dead or refusing
# first address costs its attempt delay once, not in every connect of every
# process; an address DNS moved away from is rescued with the defaults.
#
# Every case here runs with the default configuration unless its name says
# otherwise, and (lib.sh) with an empty history of its own in the default
# place, $XDG_RUNTIME_DIR/libhe/history.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# curl and the JVM hang with a sanitizer runtime preloaded ahead of libhe
# (t_nb_programs.sh says why): their cases are skipped then.
HIST_SAN=
[[ $HE_PRELOAD == *" "* ]] && HIST_SAN="the sanitizer runtime run.sh preloads hangs it, libhe or not"

# he_case, or a SKIP line under a sanitizer: hist_case_unsan NAME FUNC ARGS...
hist_case_unsan() {
    if [ -z "$HIST_SAN" ]; then
        he_case "$@"
    elif he_selected "$1"; then
        echo "SKIP $1: $HIST_SAN" | tee -a "$HE_RESULTS"
    fi
}

# A warm connect takes the healthy time plus at most this (the issue's
# bound; the real figures are in make bench).
HIST_WARM_MS=100

# python3 NAME PORT COUNT TIMEOUT: COUNT connects in one process with
# socket.create_connection, blocking (TIMEOUT "-") or with a timeout (the
# non-blocking path).  Per connect: "ms=N" (create_connection alone), then
# the server's "reached ADDR".
HIST_PY='
import socket, sys, time
name, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for _ in range(count):
    t = time.monotonic()
    try:
        s = socket.create_connection((name, port), None if timeout == "-" else float(timeout))
    except OSError as e:
        print("ms=%d" % ((time.monotonic() - t) * 1000))
        print("error %r" % (e,))
        sys.exit(1)
    print("ms=%d" % ((time.monotonic() - t) * 1000), flush=True)
    s.settimeout(3)
    print(s.makefile().readline().strip(), flush=True)
    s.close()
'

# perl NAME PORT COUNT TIMEOUT: the same with IO::Socket::IP (blocking, or
# its Timeout, which connects non-blocking).
HIST_PL='
use strict; use warnings;
use IO::Socket::IP; use Time::HiRes qw(time);
my ($name, $port, $count, $timeout) = @ARGV;
$| = 1;
for (1 .. $count) {
    my $t = time;
    my $s = IO::Socket::IP->new(PeerHost => $name, PeerPort => $port,
                                ($timeout eq "-" ? () : (Timeout => $timeout)));
    printf "ms=%d\n", (time - $t) * 1000;
    if (!$s) { print "error $@\n"; exit 1; }
    my $line = <$s>;
    print $line;
}
'

# python3 NAME PORT: a program that tries one address only, non-blocking,
# as Java'"'"'s Socket.connect(addr, timeout) does: the first address
# getaddrinfo gives, a socket with a timeout, one connect().
HIST_PY_ONE='
import socket, sys, time
name, port = sys.argv[1], int(sys.argv[2])
addr = socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(3)
t = time.monotonic()
try:
    s.connect(addr)
except OSError as e:
    print("ms=%d" % ((time.monotonic() - t) * 1000))
    print("error %r" % (e,))
    sys.exit(1)
print("ms=%d" % ((time.monotonic() - t) * 1000))
print(s.makefile().readline().strip())
'

# The client commands: hist_cmd PROG NAME COUNT into HE_CMD.
hist_cmd() {
    local url="http://$2:$LAB_PORT_HTTP/" i
    case $1 in
    python3) HE_CMD=(/usr/bin/python3 -c "$HIST_PY" "$2" "$LAB_PORT_WHOAMI" "$3" -) ;;
    python3-timeout) HE_CMD=(/usr/bin/python3 -c "$HIST_PY" "$2" "$LAB_PORT_WHOAMI" "$3" 3) ;;
    perl) HE_CMD=(perl -e "$HIST_PL" "$2" "$LAB_PORT_WHOAMI" "$3" -) ;;
    perl-timeout) HE_CMD=(perl -e "$HIST_PL" "$2" "$LAB_PORT_WHOAMI" "$3" 3) ;;
    curl)
        # One transfer per URL, each on a new connection (HTTP/1.0 closes);
        # -w prints its connect time, which hist_ms turns into ms=N.
        HE_CMD=(curl -q -s --noproxy '*' --connect-timeout 5 -w '\ntime_connect=%{time_connect}\n')
        for ((i = 0; i < $3; i++)); do HE_CMD+=("$url"); done
        ;;
    esac
}

# The connect times of the last run, one per line, in ms.
hist_ms() {
    sed -n -e 's/^ms=//p' -e 's/^time_connect=//p' <<<"$HE_OUT" |
        awk '{ if ($1 ~ /\./) printf "%d\n", $1 * 1000; else print $1 }'
}

hist_expect_reached() {
    local n
    n=$(grep -c "reached $HE_LIVE" <<<"$HE_OUT")
    [ "$n" -eq "$1" ] || he_fail "wanted $1 replies from $HE_LIVE, got $n; $(he_ctx)"
}

# he-history shows ADDR (on the whoami port) as refused.
hist_expect_refused() {
    local table
    table=$("$HE_HISTORY_CLI" 2>&1)
    grep -qE "^$1 +$LAB_PORT_WHOAMI +refused " <<<"$table" ||
        he_fail "he-history does not show $1 refused: $(he_oneline "$table")"
}

# The cold connect paid for the dead address(es) (70%: curl starts IPv4
# itself 200 ms after a dead IPv6 address); refused ones cost
# nothing even cold (a hard failure starts the next attempt at once).
hist_expect_cold() {
    local name=$1 ms=$2 dead
    case $name in
    dead3x.test) dead=3 ;;
    refuse.test) return 0 ;;
    *) dead=1 ;;
    esac
    [ "$ms" -ge $((dead * HE_DELAY_MS * 7 / 10)) ] ||
        he_fail "cold connect took only $ms ms; was the address not dead? $(he_ctx)"
}

# The warm connect: at most a healthy connect plus HIST_WARM_MS.  The
# healthy figure is the same program's connect to healthy.test measured
# right after (history off: it must not teach the case's history), so that
# a loaded machine slows both alike; at least 0.
hist_expect_warm() {
    local ms=$1 out=$HE_OUT err=$HE_ERR rc=$HE_RC took=$HE_MS healthy=0
    if [ -n "${HIST_HEALTHY_CMD+x}" ]; then
        he_run --env HE_HISTORY=off "${HIST_HEALTHY_CMD[@]}"
        healthy=$(hist_ms | head -n 1)
        HE_OUT=$out HE_ERR=$err HE_RC=$rc HE_MS=$took
    fi
    [ "$ms" -le $((${healthy:-0} + HIST_WARM_MS)) ] ||
        he_fail "warm connect took $ms ms, more than healthy ${healthy:-0} + $HIST_WARM_MS; $(he_ctx)"
    echo "warm $ms healthy $healthy" >"$HE_CASE_DIR/warm_ms"
}

# Two connects to NAME with PROG, MODE one-process (both in one process)
# or two-processes (one in each of two processes run one after the other):
# the first is cold, the second warm.
hist_case_twice() {
    local prog=$1 name=$2 mode=$3 runs=2 i ms=()
    hist_cmd "$prog" healthy.test 1
    HIST_HEALTHY_CMD=("${HE_CMD[@]}")
    hist_cmd "$prog" "$name" 1
    if [ "$mode" = one-process ]; then
        hist_cmd "$prog" "$name" 2
        runs=1
    fi
    for ((i = 0; i < runs; i++)); do
        he_run "${HE_CMD[@]}"
        expect_rc 0
        hist_expect_reached $((2 / runs))
        mapfile -t -O "${#ms[@]}" ms < <(hist_ms)
    done
    [ "${#ms[@]}" -eq 2 ] || he_fail "wanted two connect times; $(he_ctx)"
    hist_expect_cold "$name" "${ms[0]}"
    hist_expect_warm "${ms[1]}"
}

for prog in python3 python3-timeout perl perl-timeout curl; do
    for name in dead4.test dead3x.test dead6.test refuse.test; do
        run=he_case
        [ "$prog" = curl ] && run=hist_case_unsan
        for mode in one-process two-processes; do
            "$run" "history/$prog/$name/$mode" hist_case_twice "$prog" "$name" "$mode"
        done
    done
done

# A program that tries only the first address, non-blocking, against a
# refusing first address: rescued after the refusal the first time
# (racer/rescue.c), and the history learns the refusal; the next time its
# socket goes to the sibling at once, without one.
hist_case_refused_single() {
    he_run --env HE_LOG=info /usr/bin/python3 -c "$HIST_PY_ONE" refuse.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    hist_expect_reached 1
    grep -q "own attempt failed; rescued" <<<"$HE_ERR" || he_fail "wanted a rescue first; $(he_ctx)"
    hist_expect_refused "${LAB_REFUSE4[0]}"
    he_run --env HE_LOG=info /usr/bin/python3 -c "$HIST_PY_ONE" refuse.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    hist_expect_reached 1
    hist_expect_warm "$(hist_ms)"
    grep -q "history: own address refused [0-9]* s ago: sibling first" <<<"$HE_ERR" ||
        he_fail "wanted the history's log line; $(he_ctx)"
}
he_case history/refused-single-address/python3-timeout hist_case_refused_single

# Java: Socket.connect(addr, timeout) to the first address only (what
# Java programs do).  Dead first: raced cold, warm the next time.  Refused
# first: rescued after the refusal cold (racer/rescue.c), sent to the
# sibling at once the next time, in the same process and in the next one.
HIST_JAVA_DIR=$HE_WORK/java
hist_java() {
    command -v javac >/dev/null || he_fail "no javac (Debian: openjdk-17-jdk-headless)"
    if [ ! -e "$HIST_JAVA_DIR/Connect.class" ]; then
        mkdir -p "$HIST_JAVA_DIR" &&
            javac -d "$HIST_JAVA_DIR" "$HE_IT_DIR/java/Connect.java" >"$HE_CASE_DIR/javac" 2>&1 ||
            he_fail "javac failed: $(he_oneline "$(cat "$HE_CASE_DIR/javac")")"
    fi
    HE_CMD=(java -Xshare:auto -XX:TieredStopAtLevel=1 -cp "$HIST_JAVA_DIR" Connect "$1"
        "$LAB_PORT_WHOAMI" "$2")
}

hist_case_java_dead4() {
    hist_java dead4.test 2
    he_run "${HE_CMD[@]}"
    expect_rc 0
    hist_expect_reached 2
    mapfile -t ms < <(hist_ms)
    hist_expect_cold dead4.test "${ms[0]}"
    hist_expect_warm "${ms[1]}"
    hist_java dead4.test 1
    he_run "${HE_CMD[@]}"
    expect_rc 0
    hist_expect_warm "$(hist_ms)"
}
hist_case_unsan history/java/dead4.test hist_case_java_dead4

hist_case_java_refused() {
    hist_java refuse.test 1
    he_run --env HE_LOG=info "${HE_CMD[@]}"
    expect_rc 0
    hist_expect_reached 1
    grep -q "own attempt failed; rescued" <<<"$HE_ERR" || he_fail "wanted a rescue first; $(he_ctx)"
    hist_java refuse.test 2
    he_run "${HE_CMD[@]}"
    expect_rc 0
    hist_expect_reached 2
    mapfile -t ms < <(hist_ms)
    hist_expect_warm "${ms[0]}"
    hist_expect_warm "${ms[1]}"
}
hist_case_unsan history/java/refuse.test hist_case_java_refused

# HE_HISTORY=off is libhe as it was: every process pays the delay.
hist_case_off() {
    local ms
    hist_cmd python3 dead4.test 2
    he_run --env HE_HISTORY=off "${HE_CMD[@]}"
    expect_rc 0
    hist_expect_reached 2
    mapfile -t ms < <(hist_ms)
    hist_expect_cold dead4.test "${ms[0]}"
    hist_expect_cold dead4.test "${ms[1]}"
    [ ! -e "$XDG_RUNTIME_DIR/libhe" ] || he_fail "HE_HISTORY=off made $XDG_RUNTIME_DIR/libhe"
}
he_case history/off hist_case_off

# HE_HISTORY=process: the second connect of a process is warm, the next
# process is cold again, and no file is made.
hist_case_process() {
    local ms
    hist_cmd python3 dead4.test 2
    he_run --env HE_HISTORY=process "${HE_CMD[@]}"
    expect_rc 0
    mapfile -t ms < <(hist_ms)
    hist_expect_cold dead4.test "${ms[0]}"
    hist_expect_warm "${ms[1]}"
    he_run --env HE_HISTORY=process "${HE_CMD[@]}"
    mapfile -t ms < <(hist_ms)
    hist_expect_cold dead4.test "${ms[0]}"
    [ ! -e "$XDG_RUNTIME_DIR/libhe" ] || he_fail "HE_HISTORY=process made $XDG_RUNTIME_DIR/libhe"
}
he_case history/process hist_case_process

# The file is where the README says, the user's, 0600 in a 0700 directory.
hist_case_file() {
    hist_cmd python3 dead4.test 1
    he_run "${HE_CMD[@]}"
    expect_rc 0
    local f=$XDG_RUNTIME_DIR/libhe/history
    [ "$(stat -c '%F %a %u' "$f" 2>&1)" = "regular file 600 $(id -u)" ] ||
        he_fail "history file: $(stat -c '%F %a %u' "$f" 2>&1)"
    [ "$(stat -c '%a' "$XDG_RUNTIME_DIR/libhe")" = 700 ] || he_fail "directory not 0700"
}
he_case history/file-in-xdg-runtime-dir hist_case_file

# What is planted at the history's path is not used, the program works,
# and says so once at most.  hist_case_planted KIND
hist_case_planted() {
    local dir=$XDG_RUNTIME_DIR/libhe f=$XDG_RUNTIME_DIR/libhe/history warnings
    mkdir -m 0700 "$dir"
    case $1 in
    symlink)
        head -c 300000 /dev/zero >"$HE_CASE_DIR/target" && chmod 0600 "$HE_CASE_DIR/target"
        ln -s "$HE_CASE_DIR/target" "$f"
        ;;
    foreign-owner)
        head -c 300000 /dev/zero >"$f" && chmod 0600 "$f" && chown 4242 "$f"
        ;;
    mode-0666)
        head -c 300000 /dev/zero >"$f" && chmod 0666 "$f"
        ;;
    garbage)
        head -c 300000 /dev/urandom >"$f" && chmod 0600 "$f"
        ;;
    truncated)
        # A real history file, cut short.
        hist_cmd python3 healthy.test 1
        he_run "${HE_CMD[@]}"
        truncate -s 1000 "$f"
        ;;
    foreign-dir)
        chmod 0755 "$dir"
        ;;
    esac
    local before
    before=$(stat -c '%s %Y %a' "$f" "$HE_CASE_DIR/target" 2>/dev/null)
    hist_cmd python3 dead4.test 2
    he_run "${HE_CMD[@]}"
    expect_rc 0
    hist_expect_reached 2
    warnings=$(grep -c "libhe.*history file .* not used" <<<"$HE_ERR")
    [ "$warnings" -le 1 ] || he_fail "wanted one warning at most, got $warnings; $(he_ctx)"
    [ "$warnings" -eq 1 ] || he_fail "wanted the warning; $(he_ctx)"
    # Not used: left as it was (the second connect is warm all the same,
    # from the process's own history).
    [ "$(stat -c '%s %Y %a' "$f" "$HE_CASE_DIR/target" 2>/dev/null)" = "$before" ] ||
        he_fail "the planted file was changed"
    mapfile -t ms < <(hist_ms)
    hist_expect_warm "${ms[1]}"
}
for kind in symlink foreign-owner mode-0666 garbage truncated foreign-dir; do
    he_case "history/planted-$kind" hist_case_planted "$kind"
done

# An address that failed comes back: within its window it is raced at
# once beside the sibling that worked (and may win: it is learned good
# again); after the window it is first again.  multi.test is .10 .11.
hist_case_revived() {
    local window=$1
    lab_kill "$HE_LIVE"
    hist_cmd python3 multi.test 1
    he_run ${window:+--env HE_HISTORY_WINDOW_S=$window} "${HE_CMD[@]}"
    expect_rc 0
    grep -q "reached ${LAB_LIVE4[1]}" <<<"$HE_OUT" || he_fail "wanted .11 while .10 is dead; $(he_ctx)"
    lab_revive
    he_run ${window:+--env HE_HISTORY_WINDOW_S=$window} "${HE_CMD[@]}"
    expect_rc 0
    grep -q "^reached " <<<"$HE_OUT" || he_fail "wanted a connection; $(he_ctx)"
    hist_expect_warm "$(hist_ms)"
    [ -n "$window" ] || return 0
    sleep "$window.1"
    he_run --env HE_HISTORY_WINDOW_S="$window" "${HE_CMD[@]}"
    expect_rc 0
    hist_expect_reached 1
    hist_expect_warm "$(hist_ms)"
}
dns_case history/revived hist_case_revived ""
dns_case history/revived/window-2s hist_case_revived 2

# The stale-IP rescue with the default configuration: a long-running
# program resolved svc, keeps its address, DNS moves svc and the old
# address dies; the program's next connect (by IP, 2.5 s later, well
# within HE_MAP_TTL) is raced against DNS's new answer.
hist_case_stale_ip() {
    local go=$HE_CASE_DIR/go.round1
    dns_set svc.dns.test "${LAB_LIVE4[1]}" || he_fail "dns_set failed"
    he_run_bg /usr/bin/python3 "$HE_IT_DIR/../../bench/rescue.py" svc.dns.test \
        "$LAB_PORT_WHOAMI" "$go" 4
    he_bg_wait_out '^round0 ' 3
    dns_set svc.dns.test "$HE_LIVE" || he_fail "dns_set failed"
    lab_kill "${LAB_LIVE4[1]}"
    sleep 2.5
    touch "$go"
    he_run_wait
    grep -qE "^round1 [0-9.]+ $HE_LIVE reached_$HE_LIVE\$" <<<"$HE_OUT" ||
        he_fail "round 1 did not reach the new address; $(he_ctx)"
    local ms
    ms=$(awk '$1 == "round1" { printf "%d", $2 }' <<<"$HE_OUT")
    [ "$ms" -le 1000 ] || he_fail "round 1 took $ms ms; $(he_ctx)"
}
dns_case history/stale-ip-rescue hist_case_stale_ip

# he-history (he-run --history) shows what was learned; --forget empties
# it, and the next process is cold again.
hist_case_cli() {
    [ -x "$HE_HISTORY_CLI" ] || he_fail "he-history not built: $HE_HISTORY_CLI"
    hist_cmd python3 dead4.test 1
    he_run "${HE_CMD[@]}"
    local table
    table=$("$HE_HISTORY_CLI" 2>&1)
    grep -qE "^${LAB_DEAD4[0]} +$LAB_PORT_WHOAMI +timed out +last \\([0-9]+ s more\\) +1 " <<<"$table" ||
        he_fail "he-history does not show ${LAB_DEAD4[0]} timed out: $(he_oneline "$table")"
    grep -qE "^$HE_LIVE +$LAB_PORT_WHOAMI +connected +good " <<<"$table" ||
        he_fail "he-history does not show $HE_LIVE connected: $(he_oneline "$table")"
    "$HE_HISTORY_CLI" --forget >/dev/null || he_fail "he-history --forget failed"
    table=$("$HE_HISTORY_CLI" 2>&1)
    grep -q "^# 0 shown" <<<"$table" || he_fail "not emptied: $(he_oneline "$table")"
    he_run "${HE_CMD[@]}"
    hist_expect_cold dead4.test "$(hist_ms)"
}
he_case history/he-history hist_case_cli

# What the history must never do.  Each case first teaches libhe that an
# address refuses, then checks a connect that must not be sent elsewhere.
# python3 MODE: getaddrinfo(NAME) (so libhe knows the name), then one
# socket of MODE to ADDR:PORT; prints "peer ADDR" or "error ...".
#   udp        a UDP socket: connect() only sets its peer
#   fixed      a TCP socket bound to a fixed local port
#   nb-listen  a non-blocking TCP socket, after this process started
#              listening on ADDR:PORT itself
HIST_PY_MUST='
import errno, select, socket, sys
mode, name, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)
if mode == "nb-listen":
    lsn = socket.socket()
    lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsn.bind((addr, port))
    lsn.listen(8)
kind = socket.SOCK_DGRAM if mode == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
if mode == "fixed":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 47123))
try:
    if mode == "nb-listen":
        s.setblocking(False)
        rc = s.connect_ex((addr, port))
        if rc == errno.EINPROGRESS:
            select.select([], [s], [], 3)
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if rc:
            raise OSError(rc, "connect")
    else:
        s.connect((addr, port))
    print("peer", s.getpeername()[0])
except OSError as e:
    print("error", e.errno)
'

# Learn that NAME's first address refuses: a non-blocking connect to it,
# refused (and rescued by the sibling).
hist_learn_refused() {
    he_run /usr/bin/python3 -c "$HIST_PY_ONE" "$1" "$LAB_PORT_WHOAMI"
    hist_expect_refused "${LAB_REFUSE4[0]}"
}

# A UDP socket's connect() is not sent to a sibling: promise "UDP as without libhe".
hist_case_udp() {
    hist_learn_refused refuse.test
    he_run /usr/bin/python3 -c "$HIST_PY_MUST" udp refuse.test "${LAB_REFUSE4[0]}" "$LAB_PORT_WHOAMI"
    grep -qx "peer ${LAB_REFUSE4[0]}" <<<"$HE_OUT" || he_fail "UDP peer moved; $(he_ctx)"
}
he_case history/never/udp hist_case_udp

# A socket bound to a fixed port cannot race, so it keeps its address.
hist_case_fixed() {
    hist_learn_refused refuse.test
    he_run /usr/bin/python3 -c "$HIST_PY_MUST" fixed refuse.test "${LAB_REFUSE4[0]}" \
        "$LAB_PORT_WHOAMI"
    grep -qx "error 111" <<<"$HE_OUT" || he_fail "wanted its own refusal; $(he_ctx)"
}
he_case history/never/fixed-port hist_case_fixed

# A non-blocking socket sent to the sibling, which refuses at once, goes
# to its own address after all (which listens now): lo.test is 127.0.0.2
# (refused the first time) and 127.0.0.3 (nobody there).
hist_case_nb_fallback() {
    local hosts=$HE_CASE_DIR/hosts port=47124
    printf '127.0.0.2 lo.test\n127.0.0.3 lo.test\n' >"$hosts"
    he_run --env "HE_HOSTS=$hosts" /usr/bin/python3 -c "$HIST_PY_ONE" lo.test "$port"
    grep -q "ConnectionRefusedError" <<<"$HE_OUT" || he_fail "wanted a refusal first; $(he_ctx)"
    he_run --env "HE_HOSTS=$hosts" --env HE_LOG=info /usr/bin/python3 -c "$HIST_PY_MUST" \
        nb-listen lo.test 127.0.0.2 "$port"
    grep -qx "peer 127.0.0.2" <<<"$HE_OUT" || he_fail "wanted its own address; $(he_ctx)"
}
he_case history/never/lose-a-live-own-address hist_case_nb_fallback

# A relative HE_HISTORY_FILE would name a file in every process's working
# directory: not used, one warning, the program works.
hist_case_relative() {
    hist_cmd python3 dead4.test 2
    (cd "$HE_CASE_DIR" && mkdir -m 0700 rel &&
        he_run --env HE_HISTORY_FILE=rel/history "${HE_CMD[@]}" && echo "$HE_ERR" >err &&
        echo "$HE_OUT" >out && [ ! -e rel/history ]) || he_fail "a relative file was made or the run failed"
    HE_OUT=$(<"$HE_CASE_DIR/out") HE_ERR=$(<"$HE_CASE_DIR/err")
    hist_expect_reached 2
    [ "$(grep -c "history file rel/history not used: HE_HISTORY_FILE is not an absolute path" \
        <<<"$HE_ERR")" -eq 1 ] || he_fail "wanted one warning; $(he_ctx)"
}
he_case history/relative-file hist_case_relative

# The default place without XDG_RUNTIME_DIR (root in CI, cron, ssh without
# a login session): /tmp/libhe-UID/history, 0600 in a 0700 directory,
# shared by the next process.  A tmpfs of the case's own is mounted on
# /tmp/libhe-UID (in a mount namespace of its own), so that the machine's
# history there is never touched; the mount point, when the case has to
# make it, is made 0700 (what libhe accepts) and removed afterwards.
hist_case_tmp_default() {
    local uid dir made= ms
    uid=$(id -u)
    dir=/tmp/libhe-$uid
    if [ ! -e "$dir" ]; then
        mkdir -m 0700 "$dir" && made=1
    fi
    hist_cmd python3 dead4.test 1
    # shellcheck disable=SC2016 # the inner shell's
    he_run unshare -m sh -c 'mount -t tmpfs -o mode=0700 tmpfs "$0" || exit 9
        unset XDG_RUNTIME_DIR
        "$@" && "$@" || exit 8
        stat -c "file %F %a %u" "$0/history"
        stat -c "dir %a %u" "$0"' "$dir" "${HE_CMD[@]}"
    [ -z "$made" ] || rmdir "$dir"
    expect_rc 0
    hist_expect_reached 2
    grep -qx "file regular file 600 $uid" <<<"$HE_OUT" || he_fail "history file; $(he_ctx)"
    grep -qx "dir 700 $uid" <<<"$HE_OUT" || he_fail "history directory; $(he_ctx)"
    mapfile -t ms < <(hist_ms)
    hist_expect_cold dead4.test "${ms[0]}"
    hist_expect_warm "${ms[1]}"
}
he_case history/file-in-tmp-without-xdg hist_case_tmp_default

# Two network namespaces one after the other (a test lab run after
# another): the kernel gives the second the first one's inode number, but
# not its cookie; what the first learned must not be used in the second.
# Each has 203.0.113.20 dead (SYNs dropped) and .21 live on its lo; the
# program connects twice per namespace: cold (the delay), then warm.
hist_case_next_netns() {
    local script='
        ip link set lo up && ip addr add 203.0.113.20/32 dev lo && ip addr add 203.0.113.21/32 dev lo &&
            iptables -A INPUT -d 203.0.113.20 -p tcp --syn -j DROP || exit 3
        stat -L -c "netns %i" /proc/self/ns/net
        /usr/bin/python3 -c "
import socket
s = socket.socket(); s.bind((\"203.0.113.21\", 7308)); s.listen(8)
open(\"$1/ready\", \"w\").close()
while True:
    c, _ = s.accept(); c.close()" &
        for i in $(seq 50); do [ -e "$1/ready" ] && break; sleep 0.05; done
        rm -f "$1/ready"
        for i in 1 2; do
            env LD_PRELOAD="$2" /usr/bin/python3 -c "
import socket, time
t = time.monotonic()
socket.create_connection((\"lab2.test\", 7308)).close()
print(\"connect\", int((time.monotonic() - t) * 1000))"
        done
        kill $!'
    printf '203.0.113.20 lab2.test\n203.0.113.21 lab2.test\n' >"$HE_CASE_DIR/hosts"
    local run out1 out2
    for run in 1 2; do
        he_run --plain --env "HE_HOSTS=$HE_CASE_DIR/hosts" unshare -n /bin/bash -c "$script" \
            _ "$HE_CASE_DIR" "$HE_PRELOAD"
        expect_rc 0
        [ "$run" = 1 ] && out1=$HE_OUT || out2=$HE_OUT
        # The kernel frees a namespace a moment after its last process
        # ends; only then is its inode number given again.
        [ "$run" = 1 ] && sleep 1
    done
    local cold1 warm1 cold2
    cold1=$(sed -n '2s/^connect //p' <<<"$out1")
    warm1=$(sed -n '3s/^connect //p' <<<"$out1")
    cold2=$(sed -n '2s/^connect //p' <<<"$out2")
    [ -n "$cold2" ] && [ "$cold1" -ge $((HE_DELAY_MS * 9 / 10)) ] && [ "$warm1" -lt $((HE_DELAY_MS / 2)) ] ||
        he_fail "wanted a cold then a warm connect in the first namespace: '$out1' / '$out2'"
    # The second namespace starts cold: its history is not the first's.
    [ "$cold2" -ge $((HE_DELAY_MS * 9 / 10)) ] ||
        he_fail "the second namespace used the first's history ($(head -1 <<<"$out1"), $(head -1 <<<"$out2")): '$out2'"
}
he_case history/next-netns-starts-cold hist_case_next_netns

#!/bin/bash
# Refused-first rescue for non-blocking programs that try one address
# (issue 13, part 2; README, "A refused first address, non-blocking").  A
# program that connects non-blocking to a name's first address and waits
# in poll, select or epoll learns of that address's RST from the kernel
# before libhe could connect any sibling.  With libhe's defaults the
# outcome the program reads is held back while the name's other addresses
# are raced, all of them started within HE_RESCUE_WAIT_MS (100 ms; the
# attempt delay shortened, never below 10 ms): a sibling that connects is
# spliced onto the fd (same number, epoll registrations carried) and the
# program reads SO_ERROR 0 (or EISCONN from a second connect(), Perl's
# IO::Socket), with the sibling as its peer; if none does within the
# bound, the program gets its own address's ECONNREFUSED, and the fd is
# never spliced afterwards.  HE_RESCUE_WAIT_MS=0 is the old behaviour.
#
# Two ways the RST comes, two paths in libhe, both tested:
#   - in the lab, within connect() (the round trip is microseconds):
#     libhe sees the refusal before connect() returns;
#   - a round trip later, over a real network, when the program already
#     waits: its read of the outcome, getsockopt(SO_ERROR) or a second
#     connect(), is what waits.  late-rst/* make the lab's RST 1 s late
#     (see there).
#
# Names (lab.sh): refuse.test .30 (RST) then .10 (live); refdeadlive.test
# .30, .20 (DROP), .10: rescued before the 250 ms attempt delay, which
# shows the shortened schedule; refdead.test .30, .20: nothing to rescue
# with, ECONNREFUSED after ~100 ms; refuse6.test 2001:db8:1::30 then .10;
# rst.dns.test (DNS, set here) .46 then .10, for late-rst/*.
#
# Programs, each run under libhe with the defaults and, where it shows
# something, --plain (the single-address ones then fail: the cases can
# fail).  Every libhe run here starts with an empty connection history
# (lib.sh; a second run in a case gets a fresh one), so a rescue is this
# feature's, not the history's ("own address refused: sibling first"), and
# where libhe's info log is on, its race line must name the winner (attempt
# numbers count the program's own address as 1) and say "rescued":
#   java/*            java/Connect.java, Socket.connect(addr, 3000) to the
#                     first address (NioSocketImpl: connect, poll(0),
#                     poll(timeout), then Net.pollConnectNow: poll(0),
#                     SO_ERROR, and POLLHUP in that poll's revents is
#                     ENOTCONN even when SO_ERROR reads 0); its own "ms=N"
#   java-httpclient/* java/HttpGet.java, java.net.http with
#                     connectTimeout(3 s): InetSocketAddress resolves the
#                     first address only; the selector thread connects,
#                     waits in epoll, finishConnect reads SO_ERROR.  It
#                     retries a refused connect once (strace: two connects
#                     to .30 without libhe), which the history would
#                     rescue: the libhe run must log its first connect's
#                     rescue, and one connection.
#   python3-cc/*      nb/create_connection.py under an audit hook that
#                     prints each socket.connect: create_connection tries
#                     the next address itself, so rescued means ONE
#                     connect() call, to the first address.
#   nb/*              progs/nb_connect.c (first address, poll or epoll,
#                     SO_ERROR): the fd replaced, its peer .10, the epoll
#                     registration carried, one connection.  A program
#                     whose wait reported the refusal (POLLERR|POLLHUP
#                     besides POLLOUT) before SO_ERROR read 0 makes
#                     nb_connect complain of exactly that; rs_clean lets
#                     that one complaint pass.
#   perl-inet/*       nb/io_socket_inet.pl, IO::Socket::INET with Timeout:
#                     connect, select, connect again (no SO_ERROR; the
#                     plain case checks that with strace).
#   curl/*, node/*    their own Happy Eyeballs: plain and libhe in one
#                     case; libhe reaches the live address, at most
#                     RS_SLACK_MS slower, with one connection (no rescued
#                     one thrown away beside the program's own).
#   late-loop/*       progs/late_loop.c: one epoll loop, a 10 ms timerfd,
#                     100 refused-first connects, one per tick: how late
#                     the ticks run while libhe holds the outcome (figures
#                     on a NOTE line in the results); with HE_HISTORY=off,
#                     600 (two every 5 ms), each a rescue.
#
# Java, curl and node hang with a sanitizer runtime preloaded ahead of
# libhe (t_nb_programs.sh): those cases print SKIP then, as do node's when
# node is missing.  late-rst/* need the lab's DNS (dns_case).
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

NB=$HE_IT_DIR/nb
PY=/usr/bin/python3
NB_DATA=0x1234abcd5678ef09
# HE_RESCUE_WAIT_MS, libhe's default unless the run sets it.
RS_WAIT_MS=${HE_RESCUE_WAIT_MS:-100}
# A refused first address rescued by a live sibling, which starts as soon
# as the program's own attempt fails: the connect within this.
RS_FAST_MS=300
# Nothing to rescue with: the program gets its error after about
# RS_WAIT_MS, at least this and at most that (plus run.sh's slack).
RS_HOLD_MIN_MS=$((RS_WAIT_MS * 6 / 10))
RS_HOLD_MAX_MS=$((RS_WAIT_MS * 6))
# curl and node under libhe: at most this much slower than without.
RS_SLACK_MS=50
# late_loop: the worst timer lateness allowed under libhe.
RS_LATE_MS=50
RS_SAN=
[[ $HE_PRELOAD == *" "* ]] && RS_SAN="the sanitizer runtime run.sh preloads (${HE_PRELOAD% *}) hangs it, libhe or not"

# ---------------------------------------------------------------- helpers

# SKIP line for case NAME (if selected): REASON.
rs_skip() {
    he_selected "$1" || return 0
    echo "SKIP $1: $2" | tee -a "$HE_RESULTS"
}

# he_case, or SKIP under a sanitizer: rs_case_unsan NAME FUNC [ARGS...]
rs_case_unsan() {
    if [ -n "$RS_SAN" ]; then
        rs_skip "$1" "$RS_SAN"
    else
        he_case "$@"
    fi
}

# A second libhe run in a case: a connection history of its own, empty,
# in the default place (XDG_RUNTIME_DIR), so that what the first run
# learned does not rescue it.  Sets RS_FRESH (he_run options).
rs_fresh() {
    local d=$HE_CASE_DIR/run.$1
    mkdir -m 0700 "$d" || he_fail "cannot make $d"
    RS_FRESH=(--env "XDG_RUNTIME_DIR=$d")
}

# The program printed the line LINE.
rs_has() {
    grep -qxF "$1" <<<"$HE_OUT" || he_fail "wanted '$1'; $(he_ctx)"
}

# The program's own connect time: "ms=N", else curl's time_connect.
rs_ms() {
    local ms
    ms=$(sed -n 's/^ms=//p' <<<"$HE_OUT" | tail -n 1)
    [ -n "$ms" ] || ms=$(awk -F= '/^time_connect=/ { printf "%d", $2 * 1000 }' <<<"$HE_OUT")
    [[ $ms =~ ^[0-9]+$ ]] || he_fail "no connect time (ms=N) in the output; $(he_ctx)"
    echo "$ms"
}

# rs_expect_ms MIN MAX: the program's own connect time in MIN..MAX-1.
rs_expect_ms() {
    local ms
    ms=$(rs_ms) || exit 1
    if [ "$ms" -lt "$1" ] || [ "$ms" -ge "$2" ]; then
        he_fail "connect took $ms ms, wanted $1..$(($2 - 1)); $(he_ctx)"
    fi
}

# libhe's info line for NAME's race: the live address won, attempt N
# (the program's own address is attempt 1), and the race's note mentions
# the rescue.
rs_expect_race() {
    local name=$1 n=$2
    grep -qF "race $name: winner $HE_LIVE (attempt $n) " <<<"$HE_ERR" ||
        he_fail "wanted libhe to log 'race $name: winner $HE_LIVE (attempt $n)'; $(he_ctx)"
    grep -F "race $name" <<<"$HE_ERR" | grep -qi "rescu" ||
        he_fail "wanted libhe's race line for $name to mention the rescue; $(he_ctx)"
}

# The value of "NAME V" in late_loop's output, into RS_LATE_FIGURE.
rs_late_figure() {
    RS_LATE_FIGURE=$(sed -n "s/^$1 //p" <<<"$HE_OUT")
    [[ $RS_LATE_FIGURE =~ ^[0-9]+\.[0-9]+$ ]] || he_fail "no '$1' figure; $(he_ctx)"
}

# ---------------------------------------------------------------- Java

RS_JAVA_DIR=$HE_WORK/java-rescue
# rs_java CLASS ARGS...: HE_CMD for a class of java/, compiled once per run.
rs_java() {
    local class=$1
    shift
    command -v javac >/dev/null || he_fail "no javac (Debian: openjdk-17-jdk-headless)"
    if [ ! -e "$RS_JAVA_DIR/$class.class" ]; then
        mkdir -p "$RS_JAVA_DIR" || he_fail "cannot make $RS_JAVA_DIR"
        javac -d "$RS_JAVA_DIR" "$HE_IT_DIR/java/$class.java" >"$HE_CASE_DIR/javac" 2>&1 ||
            he_fail "javac failed: $(he_oneline "$(cat "$HE_CASE_DIR/javac")")"
    fi
    HE_CMD=(java -Xshare:auto -XX:TieredStopAtLevel=1 -cp "$RS_JAVA_DIR" "$class" "$@")
}

# Socket.connect(addr, 3000) to NAME's first address, rescued by the live
# one (attempt ATTEMPT) within MAX ms.
rs_java_rescued() {
    local name=$1 attempt=$2 max=$3
    rs_java Connect "$name" "$LAB_PORT_WHOAMI" 1
    he_run --env HE_LOG=info "${HE_CMD[@]}"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    rs_expect_ms 0 "$max"
    rs_expect_race "$name" "$attempt"
}
rs_case_unsan rescue/java/refuse rs_java_rescued refuse.test 2 "$RS_FAST_MS"
# Sooner than one attempt delay: .10 started early, not after .20's 250 ms.
rs_case_unsan rescue/java/refdeadlive rs_java_rescued refdeadlive.test 3 "$HE_DELAY_MS"

# Nothing to rescue with: ConnectException, after about RS_WAIT_MS.
rs_java_refdead() {
    rs_java Connect refdead.test "$LAB_PORT_WHOAMI" 1
    he_run "${HE_CMD[@]}"
    expect_rc 1
    grep -q '^error java.net.ConnectException' <<<"$HE_OUT" ||
        he_fail "wanted a ConnectException; $(he_ctx)"
    expect_log_quiet whoami
    rs_expect_ms "$RS_HOLD_MIN_MS" "$RS_HOLD_MAX_MS"
}
rs_case_unsan rescue/java/refdead rs_java_refdead

# Without libhe: refused, at once.
rs_java_plain() {
    rs_java Connect refuse.test "$LAB_PORT_WHOAMI" 1
    he_run --plain "${HE_CMD[@]}"
    expect_rc 1
    grep -q '^error java.net.ConnectException: Connection refused' <<<"$HE_OUT" ||
        he_fail "wanted 'Connection refused'; $(he_ctx)"
    expect_log_quiet whoami
    rs_expect_ms 0 "$RS_FAST_MS"
}
rs_case_unsan rescue/java/refuse-plain rs_java_plain

# java.net.http: status 200 from the live address, one connection, its
# first connect rescued (not a retry sent to .10 by the history: see the
# header).
rs_httpclient() {
    rs_java HttpGet "http://refuse.test:$LAB_PORT_HTTP/"
    he_run --env HE_LOG=info "${HE_CMD[@]}"
    expect_rc 0
    rs_has "status 200"
    expect_reached "$HE_LIVE"
    expect_log_count http 1
    rs_expect_race refuse.test 2
}
rs_case_unsan rescue/java-httpclient/refuse rs_httpclient

rs_httpclient_plain() {
    rs_java HttpGet "http://refuse.test:$LAB_PORT_HTTP/"
    he_run --plain "${HE_CMD[@]}"
    expect_rc 1
    grep -q '^error java.net.ConnectException' <<<"$HE_OUT" ||
        he_fail "wanted a ConnectException; $(he_ctx)"
    expect_log_quiet http
}
rs_case_unsan rescue/java-httpclient/refuse-plain rs_httpclient_plain

# ---------------------------------------------------------------- Python

# create_connection.py with an audit hook printing "audit connect ADDR"
# for each socket.connect (the program itself is unchanged).
# shellcheck disable=SC2016 # Python, not shell
RS_PY_AUDIT='
import runpy, sys
sys.addaudithook(lambda e, a: e == "socket.connect" and print("audit connect %s" % (a[1],), flush=True))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'
rs_py_cc() {
    HE_CMD=("$PY" -c "$RS_PY_AUDIT" "$NB/create_connection.py" refuse.test "$LAB_PORT_WHOAMI" 3)
}

# Rescued on the first address: one connect() call, to .30; one
# connection reached the server, .10.
rs_py_rescued() {
    rs_py_cc
    he_run --env HE_LOG=info "${HE_CMD[@]}"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    [ "$(grep '^audit connect ' <<<"$HE_OUT")" = "audit connect ('${LAB_REFUSE4[0]}', $LAB_PORT_WHOAMI)" ] ||
        he_fail "wanted one connect() call, to the first address; $(he_ctx)"
    rs_expect_ms 0 "$RS_FAST_MS"
    rs_expect_race refuse.test 2
}
he_case rescue/python3-cc/refuse rs_py_rescued

# Without libhe create_connection moves on to .10 itself: two calls.
rs_py_plain() {
    rs_py_cc
    he_run --plain "${HE_CMD[@]}"
    expect_rc 0
    expect_reached "$HE_LIVE"
    [ "$(grep -c '^audit connect ' <<<"$HE_OUT")" -eq 2 ] ||
        he_fail "wanted two connect() calls, .30 then .10; $(he_ctx)"
}
he_case rescue/python3-cc/refuse-plain rs_py_plain

# ---------------------------------------------------------------- C: nb_connect

# None of nb_connect's own checks failed but the one a rescue may trip:
# "connected, but the wait reported 0x..., not EPOLLOUT alone" (the
# program's own socket was refused and woke it with POLLERR|POLLHUP, then
# SO_ERROR read 0 on the sibling spliced meanwhile: what a rescue in the
# read of the outcome looks like); no descriptor left.  Exit 0, or 4
# (NB_EXIT_CHECK) when that was its only complaint.
rs_clean() {
    local others
    others=$(grep -E '^(MISMATCH|REPLACED)' <<<"$HE_ERR" |
        grep -vE '^MISMATCH connected, but the wait reported 0x[0-9a-f]+, not EPOLLOUT alone$')
    [ -z "$others" ] || he_fail "$(he_oneline "$others"); $(he_ctx)"
    expect_no_fdleak
    if [ "$HE_RC" -ne 0 ] &&
        ! { [ "$HE_RC" -eq 4 ] && grep -q '^MISMATCH connected, but the wait reported' <<<"$HE_ERR"; }; then
        he_fail "wanted exit 0; $(he_ctx)"
    fi
}

# nb_connect -s: libhe's helper thread has gone (as many threads as at
# the start).
rs_settled() {
    local start
    start=$(sed -n 's/^threads_start //p' <<<"$HE_OUT")
    [ -n "$start" ] || he_fail "no threads_start line; $(he_ctx)"
    rs_has "threads $start"
}

# rs_result WHAT MIN MAX: "result WHAT ms=M", M in MIN..MAX (the time to
# the end of the wait, before SO_ERROR is read).
rs_result() {
    local line ms
    line=$(grep -m 1 '^result ' <<<"$HE_OUT")
    [[ $line == "result $1 ms="* ]] || he_fail "wanted 'result $1'; $(he_ctx)"
    ms=${line##*ms=}
    if ! [[ $ms =~ ^[0-9]+$ ]] || [ "$ms" -lt "$2" ] || [ "$ms" -gt "$3" ]; then
        he_fail "the wait ended after '$ms' ms, wanted $2..$3; $(he_ctx)"
    fi
}

# What a rescued fd shows (t_nonblocking.sh's nb_connected, except that
# the wait may also have reported the refusal): PEER as its peer, a second
# connect() 0 or EISCONN, then EISCONN; with epoll, one registration with
# the program's events and data, which MOD and DEL then find, and nothing
# left after the DEL.
rs_connected() {
    local mode=$1 peer=$2
    rs_has "so_error 0"
    rs_has "peer $peer"
    rs_has "socket replaced"
    grep -qxE 'second_connect rc=(0 errno=0|-1 errno=EISCONN)' <<<"$HE_OUT" ||
        he_fail "wanted 0 or EISCONN from a second connect(); $(he_ctx)"
    rs_has "third_connect rc=-1 errno=EISCONN"
    case $mode in
    epoll)
        grep -qE "^epoll_events ([A-Z|]*\\|)?EPOLLOUT(\\|[A-Z|]*)? data=$NB_DATA\$" <<<"$HE_OUT" ||
            he_fail "wanted EPOLLOUT with data $NB_DATA from epoll_wait; $(he_ctx)"
        rs_has "epoll_regs 1"
        rs_has "epoll_mod ok"
        rs_has "epoll_del ok"
        rs_has "epoll_after_del events=0"
        ;;
    poll)
        grep -qE '^revents ([A-Z|]*\|)?POLLOUT(\|[A-Z|]*)?$' <<<"$HE_OUT" ||
            he_fail "wanted POLLOUT; $(he_ctx)"
        ;;
    esac
}

# rs_nb_rescued MODE NAME PEER ATTEMPT: nb_connect waits in MODE for NAME
# over HTTP (a write and a read through the spliced fd); rescued by the
# live address, attempt ATTEMPT, with PEER as the fd's peer; one
# connection reached the http server; nothing left once libhe's helper
# has gone (-s), and its info line says how the race went.
rs_nb_rescued() {
    local mode=$1 name=$2 peer=$3 attempt=$4
    he_run --env HE_LOG=info "$HE_BIN/nb_connect" -m "$mode" -g -s -t "$HE_RACE_MS" \
        "$name" "$LAB_PORT_HTTP"
    rs_clean
    rs_result connected 0 "$HE_RACE_MS"
    rs_connected "$mode" "$peer"
    expect_reached "$HE_LIVE"
    expect_log_count http 1
    rs_settled
    rs_expect_race "$name" "$attempt"
}
for mode in epoll poll; do
    he_case "rescue/nb/refuse-$mode" rs_nb_rescued "$mode" refuse.test "$HE_LIVE" 2
    he_case "rescue/nb/refdeadlive-$mode" rs_nb_rescued "$mode" refdeadlive.test "$HE_LIVE" 3
done
# An AF_INET6 socket refused by 2001:db8:1::30: the IPv4 sibling is
# spliced on as ::ffff:198.51.100.10 (as for dead6.test in
# t_nonblocking.sh).
he_case rescue/nb/refuse6-poll rs_nb_rescued poll refuse6.test "::ffff:$HE_LIVE" 2

# refdead.test, nothing live: ECONNREFUSED, held about RS_WAIT_MS (the
# whole run, a few ms without the hold); then, with a history of its own,
# -k 400: the failed socket stays on the fd, never spliced later.
rs_nb_refdead() {
    local mode=$1
    he_run "$HE_BIN/nb_connect" -m "$mode" -t "$HE_RACE_MS" refdead.test "$LAB_PORT_WHOAMI"
    rs_clean_failed
    if [ "$HE_MS" -lt "$RS_HOLD_MIN_MS" ] || [ "$HE_MS" -ge "$RS_HOLD_MAX_MS" ]; then
        he_fail "the run took $HE_MS ms, wanted $RS_HOLD_MIN_MS..$((RS_HOLD_MAX_MS - 1)) (held about $RS_WAIT_MS ms); $(he_ctx)"
    fi
    rs_fresh k
    he_run "${RS_FRESH[@]}" "$HE_BIN/nb_connect" -m "$mode" -k 400 -s -t "$HE_RACE_MS" \
        refdead.test "$LAB_PORT_WHOAMI"
    rs_clean_failed
    rs_has "after_failure same peer=no"
    rs_settled
    expect_log_quiet whoami
}

# nb_connect's refused connect: no complaint, exit 1, ECONNREFUSED seen
# when the wait ended, nothing reached.
rs_clean_failed() {
    ! grep -qE '^(MISMATCH|REPLACED)' <<<"$HE_ERR" ||
        he_fail "$(grep -m 1 -E '^(MISMATCH|REPLACED)' <<<"$HE_ERR"); $(he_ctx)"
    expect_no_fdleak
    expect_rc 1
    rs_result error=ECONNREFUSED 0 "$RS_FAST_MS"
    rs_has "so_error ECONNREFUSED"
    expect_not_reached
}
for mode in epoll poll; do
    he_case "rescue/nb/refdead-$mode" rs_nb_refdead "$mode"
done

# close_range over libhe's numbers while a stand-in is on the fd
# (refdead.test: it stays ~100 ms, the bound): the stand-in and its
# listener are libhe's, kept out of the range like the race's dup, so the
# program still gets its own ECONNREFUSED at the bound.  (A stand-in
# closed under the race left the fd's SO_ERROR to a stale socket: ~1 s.)
RS_CLOSERANGE_PY='
import errno, os, select, socket, sys, time
port = int(sys.argv[1])
socket.getaddrinfo("refdead.test", port, socket.AF_INET, socket.SOCK_STREAM)
s = socket.socket()
s.setblocking(False)
t0 = time.monotonic()
s.connect_ex(("198.51.100.30", port))
os.closerange(s.fileno() + 1, 65536)
select.select([], [s], [], 2)
err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
print("so_error %s" % errno.errorcode.get(err, err))
print("ms=%d" % ((time.monotonic() - t0) * 1000))
'
rs_closerange() {
    he_run "$PY" -c "$RS_CLOSERANGE_PY" "$LAB_PORT_WHOAMI"
    expect_rc 0
    rs_has "so_error ECONNREFUSED"
    rs_expect_ms 60 600
}
he_case rescue/closerange-during-standin rs_closerange

# HE_RESCUE_WAIT_MS=0: the old behaviour.  late_loop's one connect: its
# SO_ERROR says ECONNREFUSED at once (not held); nb_connect -k 400 (a
# fresh history): refused, never spliced later, nothing logged.
rs_nb_off() {
    he_run --env HE_RESCUE_WAIT_MS=0 "$HE_BIN/late_loop" -n 1 refuse.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    rs_has "connects 1 connected 0 refused 1 other 0"
    rs_late_figure connect_max_ms
    awk -v m="$RS_LATE_FIGURE" -v max="$RS_HOLD_MIN_MS" 'BEGIN { exit !(m < max) }' ||
        he_fail "SO_ERROR took $RS_LATE_FIGURE ms, wanted under $RS_HOLD_MIN_MS (not held); $(he_ctx)"
    rs_fresh k
    he_run "${RS_FRESH[@]}" --env HE_RESCUE_WAIT_MS=0 "$HE_BIN/nb_connect" -m poll -k 400 -s \
        -t "$HE_RACE_MS" refuse.test "$LAB_PORT_WHOAMI"
    rs_clean_failed
    rs_has "after_failure same peer=no"
    rs_settled
    case ${HE_LOG:-} in info | debug) ;; *)
        ! grep -qE '^libhe\[[0-9]+\] (info|debug):' <<<"$HE_ERR" ||
            he_fail "libhe logged below its default level (HE_LOG unset); $(he_ctx)"
        ;;
    esac
}
he_case rescue/nb/refuse-off rs_nb_off

# ---------------------------------------------------------------- Perl

rs_perl() { HE_CMD=(/usr/bin/perl "$NB/io_socket_inet.pl" refuse.test "$LAB_PORT_WHOAMI" 3); }

rs_perl_rescued() {
    rs_perl
    he_run --env HE_LOG=info "${HE_CMD[@]}"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    rs_expect_ms 0 "$RS_FAST_MS"
    rs_expect_race refuse.test 2
}
he_case rescue/perl-inet/refuse rs_perl_rescued

# Without libhe: "Connection refused", from the second connect(): strace
# shows perl's own thread connecting twice on one fd to .30 and never
# reading SO_ERROR, the pattern the rescue above has to hold.
rs_perl_plain() {
    local trace=$HE_CASE_DIR/strace connects
    command -v strace >/dev/null || he_fail "no strace (Debian: strace)"
    rs_perl
    he_run --plain strace -f -qq -o "$trace" -e trace=connect,getsockopt "${HE_CMD[@]}"
    expect_rc 1
    grep -q '^error IO::Socket::INET: connect: Connection refused' <<<"$HE_OUT" ||
        he_fail "wanted 'Connection refused'; $(he_ctx)"
    expect_log_quiet whoami
    # "FD ADDR RESULT" for each connect() to the whoami port.
    connects=$(sed -nE "s/^[0-9]+ +connect\(([0-9]+), .*inet_addr\(\"([0-9.]+)\"\).*htons\($LAB_PORT_WHOAMI\).* = (-1 )?([A-Z0-9]+).*/\1 \2 \4/p; s/^[0-9]+ +connect\(([0-9]+), .*htons\($LAB_PORT_WHOAMI\).*inet_addr\(\"([0-9.]+)\"\).* = (-1 )?([A-Z0-9]+).*/\1 \2 \4/p" "$trace")
    if [ "$(awk '{ print $2, $3 }' <<<"$connects" | paste -sd ,)" != \
        "${LAB_REFUSE4[0]} EINPROGRESS,${LAB_REFUSE4[0]} ECONNREFUSED" ] ||
        [ "$(awk '{ print $1 }' <<<"$connects" | sort -u | wc -l)" -ne 1 ]; then
        he_fail "wanted connect() twice on one fd to ${LAB_REFUSE4[0]} (EINPROGRESS, ECONNREFUSED): '$(he_oneline "$connects")' in $(he_oneline "$(grep -v AF_UNIX "$trace")")"
    fi
    ! grep -q 'SO_ERROR' "$trace" ||
        he_fail "perl read SO_ERROR: $(he_oneline "$(grep SO_ERROR "$trace")")"
}
he_case rescue/perl-inet/refuse-plain rs_perl_plain

# ---------------------------------------------------------------- curl, node

# rs_compare NAME SERVER: HE_CMD (set by the caller) run --plain, then
# under libhe (with RS_COMPARE_ENV's he_run options; each run after the
# command RS_COMPARE_ARM): libhe reaches the live address, one
# connection, and its connect (the program's own measure) is at most
# RS_SLACK_MS slower than the plain one (or than the whole plain run, if
# that failed).
RS_COMPARE_ENV=()
RS_COMPARE_ARM=:
rs_compare() {
    local name=$1 server=$2 plain
    "$RS_COMPARE_ARM"
    he_run --plain "${HE_CMD[@]}"
    if [ "$HE_RC" -eq 0 ] && grep -qxF "reached $HE_LIVE" <<<"$HE_OUT"; then
        plain=$(rs_ms) || exit 1
    else
        plain=$HE_MS
    fi
    he_log_mark
    "$RS_COMPARE_ARM"
    he_run --env HE_LOG=info "${RS_COMPARE_ENV[@]}" "${HE_CMD[@]}"
    expect_rc 0
    expect_reached "$HE_LIVE"
    echo "plain $plain ms, libhe $(rs_ms) ms" >"$HE_CASE_DIR/compare"
    [ "$(rs_ms)" -le $((plain + RS_SLACK_MS)) ] ||
        he_fail "connected after $(rs_ms) ms under libhe, $plain ms without; $(he_ctx)"
    expect_log_count "$server" "${RS_COMPARE_CONNS:-1}"
}

rs_curl() {
    command -v curl >/dev/null || he_fail "curl not installed"
    HE_CMD=(curl -q -s --noproxy '*' --connect-timeout 3 -w '\ntime_connect=%{time_connect}\n'
        "http://$1:$LAB_PORT_HTTP/")
    rs_compare "$1" http
}

RS_NODE=$(command -v node || command -v nodejs)
rs_node() {
    HE_CMD=("$RS_NODE" "$NB/node_connect.js" "$1" "$LAB_PORT_WHOAMI")
    rs_compare "$1" whoami
}

rs_node_missing() {
    [ -n "$RS_SAN" ] && {
        echo "$RS_SAN"
        return
    }
    [ -n "$RS_NODE" ] || echo "node not installed (Debian: nodejs)"
}

node_reason=$(rs_node_missing)
for name in refuse refdeadlive; do
    rs_case_unsan "rescue/curl/$name" rs_curl "$name.test"
    if [ -n "$node_reason" ]; then
        rs_skip "rescue/node/$name" "$node_reason"
    else
        he_case "rescue/node/$name" rs_node "$name.test"
    fi
done

# ---------------------------------------------------------------- late RST
#
# In the lab an RST is back before connect() returns, and libhe then makes
# the program wait in connect() itself; over a real network it comes a
# round trip later, when the program already waits in poll/select/epoll,
# and the wait is in its read of the outcome (SO_ERROR, a second connect).
# These cases make the RST late: rst.dns.test is .46 (a spare address)
# then .10, and in hesrv the first SYN to .46 is dropped, its
# retransmission (the kernel's, one initial RTO, 1 s, later) refused.
# HE_ATTEMPT_DELAY_MS=2000 keeps libhe from starting .10 as for a dead
# first address before that, so what is raced is the refusal.
RS_RST_ADDR=${LAB_SPARE4[6]}
RS_RST_NAME=rst.dns.test
RS_RST_ENV=(--env HE_ATTEMPT_DELAY_MS=2000 --env HE_LOG=info)
# The connect ends when the RST comes, about 1 s after connect(), or up
# to RS_HOLD_MAX_MS later.
RS_RST_MIN_MS=900
RS_RST_MAX_MS=$((1000 + RS_HOLD_MAX_MS))

# (Re)arms the late RST with fresh counters: the next SYN to .46 is
# dropped, the one after refused, and so on in pairs.  Every run starts
# with it, whatever the last left of a pair.  dns_case flushes HE_KILL at
# the end.
rs_rst_arm() {
    if ! lab_srv iptables -F HE_KILL ||
        ! lab_srv iptables -A HE_KILL -p tcp -d "$RS_RST_ADDR" --syn \
            -m statistic --mode nth --every 2 --packet 0 -j DROP ||
        ! lab_srv iptables -A HE_KILL -p tcp -d "$RS_RST_ADDR" --syn \
            -j REJECT --reject-with tcp-reset; then
        he_fail "cannot arm the late RST (iptables statistic match in $LAB_NETNS)"
    fi
}

rs_rst_setup() {
    dns_set "$RS_RST_NAME" "$RS_RST_ADDR" "$HE_LIVE" || he_fail "dns_set $RS_RST_NAME failed"
    rs_rst_arm
}

# dns_case, or SKIP under a sanitizer (Java, curl).
rs_dns_case_unsan() {
    if [ -n "$RS_SAN" ]; then
        rs_skip "$1" "$RS_SAN"
    else
        dns_case "$@"
    fi
}

# Without libhe: ECONNREFUSED about 1 s after connect() returned (the
# set-up works: the RST is late).
rs_rst_plain() {
    rs_rst_setup
    he_run --plain "$HE_BIN/nb_connect" -m poll -t "$HE_RACE_MS" "$RS_RST_NAME" "$LAB_PORT_WHOAMI"
    rs_clean_failed_late
    rs_has "connect rc=-1 errno=EINPROGRESS"
}
# rs_clean_failed with the late RST's time.
rs_clean_failed_late() {
    ! grep -qE '^(MISMATCH|REPLACED)' <<<"$HE_ERR" ||
        he_fail "$(grep -m 1 -E '^(MISMATCH|REPLACED)' <<<"$HE_ERR"); $(he_ctx)"
    expect_rc 1
    rs_result error=ECONNREFUSED "$RS_RST_MIN_MS" "$RS_RST_MAX_MS"
    expect_not_reached
}
dns_case rescue/late-rst/plain rs_rst_plain

# nb_connect in MODE: rescued in its SO_ERROR read (the wait may report
# the refusal: rs_clean), as the lab cases above.
rs_rst_nb() {
    local mode=$1
    rs_rst_setup
    he_run "${RS_RST_ENV[@]}" "$HE_BIN/nb_connect" -m "$mode" -g -s -t "$HE_RACE_MS" \
        "$RS_RST_NAME" "$LAB_PORT_HTTP"
    rs_clean
    rs_result connected "$RS_RST_MIN_MS" "$RS_RST_MAX_MS"
    rs_connected "$mode" "$HE_LIVE"
    expect_reached "$HE_LIVE"
    expect_log_count http 1
    rs_settled
    rs_expect_race "$RS_RST_NAME" 2
}
for mode in poll epoll; do
    dns_case "rescue/late-rst/nb-$mode" rs_rst_nb "$mode"
done

# The same late refusal with libhe's defaults, as users run it: the
# attempt delay (250 ms) comes before the refusal (1 s), so the ordinary
# race has the live sibling on the fd by then -- a rescue either way, one
# connection, well before the refusal.
rs_rst_nb_defaults() {
    rs_rst_setup
    he_run --env HE_LOG=info "$HE_BIN/nb_connect" -m poll -g -s -t "$HE_RACE_MS" \
        "$RS_RST_NAME" "$LAB_PORT_HTTP"
    rs_clean
    rs_result connected "$((HE_DELAY_MS * 9 / 10))" "$RS_RST_MIN_MS"
    rs_connected poll "$HE_LIVE"
    expect_reached "$HE_LIVE"
    expect_log_count http 1
    rs_settled
    grep -qF "race $RS_RST_NAME: winner $HE_LIVE (attempt 2) " <<<"$HE_ERR" ||
        he_fail "wanted libhe to log the race won by $HE_LIVE; $(he_ctx)"
}
dns_case rescue/late-rst/nb-poll-defaults rs_rst_nb_defaults

# Java decides from its own poll: POLLHUP there is ENOTCONN even when
# SO_ERROR then reads 0 (Net.pollConnect).  A refusal that comes after
# connect() returned is therefore not rescued for Java (README, Limits):
# the connect fails, as without libhe, at the refusal (plus at most the
# hold), with "Connection refused" or, when the rescue was made,
# "Transport endpoint is not connected"; it never hangs and never
# "succeeds" on a dead fd.
rs_rst_java() {
    rs_rst_setup
    rs_java Connect "$RS_RST_NAME" "$LAB_PORT_WHOAMI" 1
    he_run "${RS_RST_ENV[@]}" "${HE_CMD[@]}"
    expect_rc 1
    grep -qE "error java.net.(Connect|Socket)Exception: (Connection refused|.*not connected)" \
        <<<"$HE_OUT" || he_fail "wanted a refusal or 'not connected'; $(he_ctx)"
    rs_expect_ms "$RS_RST_MIN_MS" "$RS_RST_MAX_MS"
}
rs_dns_case_unsan rescue/late-rst/java rs_rst_java

# The programs of the lab cases above that read SO_ERROR (or connect()
# again) for the outcome, rescued from the late RST on their first
# connect: the live address reached once, about 1 s after connect().

rs_rst_python() {
    rs_rst_setup
    HE_CMD=("$PY" -c "$RS_PY_AUDIT" "$NB/create_connection.py" "$RS_RST_NAME" "$LAB_PORT_WHOAMI" 3)
    he_run "${RS_RST_ENV[@]}" "${HE_CMD[@]}"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    [ "$(grep '^audit connect ' <<<"$HE_OUT")" = "audit connect ('$RS_RST_ADDR', $LAB_PORT_WHOAMI)" ] ||
        he_fail "wanted one connect() call, to the first address; $(he_ctx)"
    rs_expect_ms "$RS_RST_MIN_MS" "$RS_RST_MAX_MS"
    rs_expect_race "$RS_RST_NAME" 2
}
dns_case rescue/late-rst/python3-cc rs_rst_python

rs_rst_perl() {
    rs_rst_setup
    he_run "${RS_RST_ENV[@]}" /usr/bin/perl "$NB/io_socket_inet.pl" "$RS_RST_NAME" \
        "$LAB_PORT_WHOAMI" 3
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    rs_expect_ms "$RS_RST_MIN_MS" "$RS_RST_MAX_MS"
    rs_expect_race "$RS_RST_NAME" 2
}
dns_case rescue/late-rst/perl-inet rs_rst_perl

# curl, plain then under libhe (rs_compare, each run with the RST armed
# afresh): no slower.  curl takes POLLERR from its poll as the failure
# (SO_ERROR only for the message), so a late refusal is not rescued for it
# (README, Limits): libhe's winner is thrown away, and the server sees it
# beside curl's own next connection.
rs_rst_curl() {
    command -v curl >/dev/null || he_fail "curl not installed"
    rs_rst_setup
    HE_CMD=(curl -q -s --noproxy '*' --connect-timeout 3 -w '\ntime_connect=%{time_connect}\n'
        "http://$RS_RST_NAME:$LAB_PORT_HTTP/")
    RS_COMPARE_ENV=("${RS_RST_ENV[@]}")
    RS_COMPARE_ARM=rs_rst_arm
    RS_COMPARE_CONNS=2
    rs_compare "$RS_RST_NAME" http
}
rs_dns_case_unsan rescue/late-rst/curl rs_rst_curl

# ---------------------------------------------------------------- event loop

# rs_late_run NAME COUNT PARALLEL TICK [he_run OPTIONS]: late_loop's
# COUNT connects to refuse.test, PARALLEL at a time, a tick every TICK ms,
# -v; its results kept as
# NAME (rs_late_use), its "worst/p99" lateness in RS_LATE[NAME].
declare -A RS_LATE=()
rs_late_run() {
    local name=$1 count=$2 parallel=$3 tick=$4 worst p99 reached
    shift 4
    he_log_mark
    he_run "$@" "$HE_BIN/late_loop" -v -n "$count" -p "$parallel" -i "$tick" refuse.test \
        "$LAB_PORT_WHOAMI"
    reached=$(he_log_new whoami | grep -c '^reached')
    worst=$(sed -n 's/^lateness_worst_ms //p' <<<"$HE_OUT")
    p99=$(sed -n 's/^lateness_p99_ms //p' <<<"$HE_OUT")
    RS_LATE[$name]=${worst:-?}/${p99:-?}
    printf 'HE_RC=%q HE_MS=%q HE_OUT=%q HE_ERR=%q reached=%q\n' "$HE_RC" "$HE_MS" "$HE_OUT" \
        "$HE_ERR" "$reached" >"$HE_CASE_DIR/late.$name"
}

# rs_late_use NAME: a kept run's results as the last run's; its server
# connections in RS_REACHED.
rs_late_use() {
    local reached
    # shellcheck disable=SC1090 # written by rs_late_run
    . "$HE_CASE_DIR/late.$1"
    RS_REACHED=$reached
}

# rs_late_check NAME COUNT CONNECTED [MAX_MS]: of the kept run's COUNT
# connects, CONNECTED connected and the others were refused, each
# connected one reached the server once, and (MAX_MS) no tick ran MAX_MS
# late or more.  A failure lists the connects that ended otherwise, and
# how many rescues libhe logged (HE_LOG=info).
rs_late_check() {
    local name=$1 count=$2 connected=$3 max=${4:-} worst odd rescues
    rs_late_use "$name"
    expect_rc 0
    if ! grep -qxF "connects $count connected $connected refused $((count - connected)) other 0" \
        <<<"$HE_OUT"; then
        odd=$(grep -E '^connect [0-9]+ ' <<<"$HE_OUT" |
            grep -v " $([ "$connected" -gt 0 ] && echo connected || echo ECONNREFUSED) ")
        rescues=$(grep -c 'rescued by a sibling' <<<"$HE_ERR")
        he_fail "wanted $connected of $count connected, the rest refused: $(grep '^connects ' <<<"$HE_OUT"); the others: $(he_oneline "$odd"); libhe logged $rescues rescues, the server $RS_REACHED connections"
    fi
    [ "$RS_REACHED" -eq "$connected" ] ||
        he_fail "the whoami server was reached $RS_REACHED times, wanted $connected; $(he_ctx)"
    [ -n "$max" ] || return 0
    rs_late_figure lateness_worst_ms
    worst=$RS_LATE_FIGURE
    awk -v w="$worst" -v max="$max" 'BEGIN { exit !(w < max) }' ||
        he_fail "a tick ran $worst ms late, wanted under $max; $(he_ctx)"
}

# 100 refused-first connects in one epoll loop ticking every 10 ms, one
# started per tick: all refused without libhe; all connected under libhe
# (the first rescued, the history then sending the others' sockets to
# .10), one connection each, and no tick RS_LATE_MS late.  The figures go
# to the results as a NOTE line, whatever the outcome.
rs_late_loop() {
    rs_late_run plain 100 1 10 --plain
    rs_late_run lib 100 1 10 --env HE_LOG=info
    echo "NOTE rescue/late-loop/refuse: tick lateness worst/p99 ms: plain ${RS_LATE[plain]}, libhe ${RS_LATE[lib]}" |
        tee -a "$HE_RESULTS"
    rs_late_check plain 100 0
    rs_late_check lib 100 100 "$RS_LATE_MS"
}
he_case rescue/late-loop/refuse rs_late_loop

# HE_HISTORY=off: every connect a rescue, 600 of them, two every 5 ms
# (not more at once: the lab's whoami server, one Python thread per
# connection, overflows its accept queue with 8 every 2 ms, and its SYNs
# then wait 1 s).  Each must be connected, once: a rescue that libhe logs
# but the program reads as refused has left it a connected socket that it
# closes.
rs_late_loop_off() {
    rs_late_run off 600 2 5 --env HE_LOG=info --env HE_HISTORY=off
    echo "NOTE rescue/late-loop/refuse-history-off: tick lateness worst/p99 ms: libhe ${RS_LATE[off]}" |
        tee -a "$HE_RESULTS"
    rs_late_check off 600 600 "$RS_LATE_MS"
}
he_case rescue/late-loop/refuse-history-off rs_late_loop_off

# One refdead.test connect in late_loop: refused, its SO_ERROR read
# about RS_WAIT_MS after connect().
rs_late_refdead() {
    he_run "$HE_BIN/late_loop" -n 1 refdead.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    rs_has "connects 1 connected 0 refused 1 other 0"
    rs_late_figure connect_max_ms
    awk -v m="$RS_LATE_FIGURE" -v lo="$RS_HOLD_MIN_MS" -v hi="$RS_HOLD_MAX_MS" \
        'BEGIN { exit !(m >= lo && m < hi) }' ||
        he_fail "SO_ERROR after $RS_LATE_FIGURE ms, wanted $RS_HOLD_MIN_MS..$RS_HOLD_MAX_MS; $(he_ctx)"
}
he_case rescue/late-loop/refdead rs_late_refdead

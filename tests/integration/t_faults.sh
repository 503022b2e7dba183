#!/bin/bash
# HE_FAULTS (README, "Testing failover: HE_FAULTS"; faults/spec.h for the
# grammar, faults/fault.h for what a fault does): an address made dead,
# refusing, unreachable, silent, closing or slow (delay:MS) for one
# program, without privileges, the real destination never contacted (but
# by delay, after MS).
#
# Programs: nb/fault_conn.py (python3: the first address only, blocking
# with an alarm, settimeout, or epoll; one or more connects in one process,
# each on a new socket or retrying on one, then a read), perl
# IO::Socket::IP with Timeout (F_PL below), curl, and progs/nb_connect.c
# (C, non-blocking, epoll).  The lab's whoami and http
# servers log every connection, so a faulted run must leave them quiet: a
# connection that got through to a live address would be logged.
#
#   faults/own/PROG/MODE    HE_MAX_ATTEMPTS=1 (nothing raced): what the
#       program itself sees from a faulted live address, next to what it
#       sees from the lab's real counterpart: a dead address (iptables DROP)
#       for drop, a refusing one (REJECT tcp-reset) for refuse, a route of
#       type unreachable (added here, in the client namespace, for
#       203.0.113.7 and 2001:db8:ffff::7) for unreach.  Same error class,
#       both within the same bounds.  silent and close have no counterpart
#       in the lab: connected, then a read that times out, or gets EOF.
#       delay (delay:300, the programs' limits 2 s) neither: connected to
#       the real address (the server says so, getpeername says so) after
#       300 ms, not sooner, well within 1 s.
#       py-timeout-v6: the same on IPv6 (the ::1 sinks).
#   faults/delay/connect-again  connect() again on a delayed socket
#   faults/delay/sndtimeo  a blocking connect with SO_SNDTIMEO (100 ms)
#       shorter than the delay: EINPROGRESS at SO_SNDTIMEO, as from the
#       lab's dead address, then writable at the delay, SO_ERROR 0, the
#       real peer.
#   faults/race/PROG/MODE   racing on (the defaults): multi.test (.10 then
#       .11, both live) with .10 faulted.  drop: every program reaches .11
#       after the attempt delay.  refuse: every program reaches .11 at
#       once (a non-blocking one through libhe's rescue).  unreach:
#       blocking programs, and those that try every address (perl, curl),
#       reach .11 at once; a non-blocking program that tries the first
#       address only gets EHOSTUNREACH from connect() itself, and its next
#       connect in the same process goes to .11 (the process's history).
#       Each next to the real dead4.test / refuse.test, which
#       must give the same.  (unreach has no real counterpart here: glibc's
#       RFC 6724 rule 1 puts an unroutable address after the others, so no
#       name can have one first.)  py-block-v6: an IPv6 first address
#       faulted, an IPv4 second (HE_HOSTS).
#   faults/race/py-*/delayMS  multi.test's first address slow: delay:100,
#       the blocking program's own attempt connects before the attempt
#       delay; delay:600, it is rescued by .11 at the attempt delay, and
#       the late connection to .10 is never made.  py-timeout/delay600:
#       a known limitation (README, Limits), asserted as it is today: a
#       non-blocking connect held by delay is not raced, and connects to
#       .10 late.
#   faults/no-traffic/v4|v6  in a namespace of its own with only lo up,
#       where any real connect fails with ENETUNREACH: a faulted TEST-NET
#       address behaves as its mode says (a drop times out, silent even
#       connects), so nothing was sent towards it.
#   faults/count*, faults/seed*, faults/bad-*, faults/name/*, faults/port,
#       faults/history-private, faults/loopback, faults/silent-many: the
#       modifiers (a connect that starts nothing not counted), the
#       warnings, named rules, port rules, the per-process history, a
#       faulted loopback address, more silent connections in one process
#       than the sink's queue holds.
#
# nb/fault_conn.py, made for these cases, prints one "connect ..." and one
# "read ..." line per connect and an "outcomes" line; f_outcome reads every
# program's output into the same few variables.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

F_PY=$HE_IT_DIR/nb/fault_conn.py
F_LIVE=${LAB_LIVE4[0]}  # 198.51.100.10, multi.test's first address
F_LIVE2=${LAB_LIVE4[1]} # 198.51.100.11, its second
F_LIVE6=${LAB_LIVE6[0]}
F_UNREACH4=203.0.113.7
F_UNREACH6=2001:db8:ffff::7
# The programs' own connect timeout (and read timeout) in faults/own, ms.
F_LIMIT_MS=500
# curl's --max-time there: a silent server costs it this much.
F_CURL_MAX_MS=1000
# delay:MS in faults/own, and the programs' limits there (their connect
# and read timeouts, curl's --connect-timeout and --max-time): far longer,
# so that the delay alone decides; a delayed connect must end within
# F_SLOW_MAX_MS.
F_SLOW_MS=300
F_SLOW_LIMIT_MS=2000
F_SLOW_MAX_MS=1000
# How late a timeout may end (sanitizers, a loaded machine).
F_LATE_MS=1000
# A refusal, an unreachable route, a loopback connect or an EOF: within
# the call, so well within this.
F_FAST_MS=300
# A drop's timeout, real or faulted, may differ by this much.
F_DIFF_MS=400

# curl hangs with the sanitizer runtime run.sh preloads ahead of libhe
# (t_loopback.sh, t_history.sh): its cases are skipped then.
F_SAN=
[[ $HE_PRELOAD == *" "* ]] && F_SAN="the sanitizer runtime run.sh preloads hangs it, libhe or not"

# he_case, or a SKIP line for curl under a sanitizer: f_case NAME FUNC ARGS...
f_case() {
    if [[ $1 == */curl/* ]] && [ -n "$F_SAN" ]; then
        he_selected "$1" && echo "SKIP $1: $F_SAN" | tee -a "$HE_RESULTS"
        return 0
    fi
    he_case "$@"
}

# perl HOST PORT TIMEOUT READ_S: IO::Socket::IP with Timeout (non-blocking
# connects, every address in turn), then a read of READ_S; prints the
# lines nb/fault_conn.py prints ($@ in place of the errno's name).
# shellcheck disable=SC2016 # Perl
F_PL='
use strict; use warnings;
use IO::Socket::IP; use IO::Select; use Time::HiRes qw(time);
my ($host, $port, $timeout, $read_s) = @ARGV;
$| = 1;
my $t = time;
my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Timeout => $timeout);
my $ms = int((time - $t) * 1000);
if (!$s) { my $e = $@; $e =~ s/\s+$//; print "connect error=$e ms=$ms\n"; exit 1; }
printf "connect ok ms=%d peer=%s\n", $ms, $s->peerhost;
$t = time;
if (!IO::Select->new($s)->can_read($read_s)) { printf "read timeout ms=%d\n", (time - $t) * 1000; exit 0; }
my $n = sysread($s, my $buf, 4096);
if (!defined $n) { print "read error=$!\n"; }
elsif ($n == 0) { printf "read eof ms=%d\n", (time - $t) * 1000; }
else { print "read data ", (split /\n/, $buf)[0], "\n"; }
'

# The unreachable routes of faults/own's real counterparts, in the client
# namespace (no packet is ever sent on them); gone when this file ends.
f_routes() {
    if ! ip route replace unreachable "$F_UNREACH4/32" ||
        ! ip -6 route replace unreachable "$F_UNREACH6/128"; then
        he_fail "cannot add the unreachable routes"
    fi
}
trap 'ip route del "$F_UNREACH4/32" 2>/dev/null; ip -6 route del "$F_UNREACH6/128" 2>/dev/null' EXIT

# Seconds for the programs' arguments: f_secs MS.
f_secs() {
    printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# f_cmd PROG TARGET LIMIT_MS [COUNT]: HE_CMD for PROG connecting to TARGET
# (an address or a name) with a connect timeout (and a read timeout) of
# LIMIT_MS; COUNT connects for the python3 programs.  curl's whole transfer
# gets F_CURL_MAX_MS, or LIMIT_MS if longer.
f_cmd() {
    local prog=$1 target=$2 limit=$3 count=${4:-1} host=$2 secs max=$F_CURL_MAX_MS
    secs=$(f_secs "$limit")
    [ "$limit" -gt "$max" ] && max=$limit
    [[ $target == *:* ]] && host="[$target]"
    case $prog in
    py-block | py-timeout | py-epoll)
        HE_CMD=(/usr/bin/python3 "$F_PY" "${prog#py-}:$secs" "$target" "$LAB_PORT_WHOAMI" "$count" "$secs")
        ;;
    perl) HE_CMD=(perl -e "$F_PL" "$target" "$LAB_PORT_WHOAMI" "$secs" "$secs") ;;
    curl)
        HE_CMD=(curl -sS -v --noproxy '*' --connect-timeout "$secs" --max-time "$(f_secs "$max")"
            -w '\ncurl_connect=%{time_connect} curl_total=%{time_total}\n' "http://$host:$LAB_PORT_HTTP/")
        ;;
    c-epoll) HE_CMD=("$HE_BIN/nb_connect" -m epoll -t "$limit" "$target" "$LAB_PORT_WHOAMI") ;;
    *) he_fail "f_cmd: unknown program $prog" ;;
    esac
}

# What the run is, for failure reasons ("fault on ...", "real ...").
F_WHICH=

# An error text of perl's or curl's as an errno name.
f_errno() {
    case $1 in
    *"Connection refused"*) echo ECONNREFUSED ;;
    *"No route to host"*) echo EHOSTUNREACH ;;
    *"Network is unreachable"*) echo ENETUNREACH ;;
    *"Connection timed out"* | *"Timeout was reached"*) echo timeout ;;
    *) echo "$1" ;;
    esac
}

# The lines of stderr about HE_FAULTS entries.
f_warnings() {
    grep -F 'HE_FAULTS: ' <<<"$HE_ERR"
}

# Seconds with decimals (curl's -w) as whole ms.
f_s2ms() {
    awk -v s="$1" 'BEGIN { printf "%d\n", s * 1000 }'
}

# What the last run of PROG saw, its first connect:
#   F_CLASS    ok, timeout, or the errno's name
#   F_MS       how long that connect took
#   F_READ     what a read then got: data, eof, silence (timed out), none
#   F_READ_MS  how long the read took
#   F_PEER     the address it reached (the server's "reached" line)
f_outcome() {
    local prog=$1 line connect total
    F_CLASS='' F_MS=0 F_READ=none F_READ_MS=0 F_PEER=''
    case $prog in
    py-* | perl)
        line=$(grep -m 1 '^connect ' <<<"$HE_OUT")
        case $line in
        "connect ok "*) F_CLASS=ok ;;
        "connect timeout "*) F_CLASS=timeout ;;
        "connect error="*)
            F_CLASS=${line#connect error=}
            F_CLASS=$(f_errno "${F_CLASS% ms=*}")
            ;;
        *) he_fail "$F_WHICH: no 'connect' line; $(he_ctx)" ;;
        esac
        [[ $line =~ ms=([0-9]+) ]] && F_MS=${BASH_REMATCH[1]}
        line=$(grep -m 1 '^read ' <<<"$HE_OUT")
        case $line in
        "read data reached "*) F_READ=data F_PEER=${line#read data reached } ;;
        "read data "*) F_READ=data ;;
        "read eof "*) F_READ=eof ;;
        "read timeout "*) F_READ=silence ;;
        "read error"*) F_READ=error ;;
        esac
        [[ $line =~ ms=([0-9]+) ]] && F_READ_MS=${BASH_REMATCH[1]}
        ;;
    curl)
        line=$(grep -m 1 '^curl_connect=' <<<"$HE_OUT")
        [[ $line =~ ^curl_connect=([0-9.]+)\ curl_total=([0-9.]+)$ ]] ||
            he_fail "$F_WHICH: no -w line from curl; $(he_ctx)"
        connect=$(f_s2ms "${BASH_REMATCH[1]}")
        total=$(f_s2ms "${BASH_REMATCH[2]}")
        F_MS=$total
        if grep -q '^\* Connected to ' <<<"$HE_ERR"; then
            F_CLASS=ok F_MS=$connect F_READ_MS=$((total - connect))
            case $HE_RC in
            0)
                F_READ=data
                F_PEER=$(sed -n 's/^reached //p' <<<"$HE_OUT" | head -n 1)
                ;;
            28) F_READ=silence ;;
            52) F_READ=eof ;;
            *) F_READ=error ;;
            esac
        elif [ "$HE_RC" -eq 28 ]; then
            F_CLASS=timeout
        elif [ "$HE_RC" -eq 7 ]; then
            F_CLASS=$(f_errno "$HE_ERR")
        else
            F_CLASS="curl-exit-$HE_RC"
        fi
        ;;
    c-epoll)
        line=$(grep -m 1 '^result ' <<<"$HE_OUT")
        case $line in
        "result connected "*) F_CLASS=ok ;;
        "result timeout "*) F_CLASS=timeout ;;
        "result error="*)
            F_CLASS=${line#result error=}
            F_CLASS=${F_CLASS% ms=*}
            ;;
        *) he_fail "$F_WHICH: no 'result' line; $(he_ctx)" ;;
        esac
        [[ $line =~ ms=([0-9]+) ]] && F_MS=${BASH_REMATCH[1]}
        F_PEER=$(sed -n 's/^reached //p' <<<"$HE_OUT" | head -n 1)
        [ -n "$F_PEER" ] && F_READ=data
        ;;
    esac
}

# f_between WHAT VALUE MIN MAX
f_between() {
    if [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
        he_fail "$F_WHICH: $1 $2 ms, wanted $3..$4 ms; $(he_ctx)"
    fi
}

f_want_class() {
    [ "$F_CLASS" = "$1" ] || he_fail "$F_WHICH: wanted $1, got '$F_CLASS'; $(he_ctx)"
}

# What MODE must look like to PROG connecting with faults/own's limits
# (F_LIMIT_MS, and F_READ_LIMIT_MS for the read if set).
f_expect_own() {
    local prog=$1 mode=$2 read_limit=${F_READ_LIMIT_MS:-$F_LIMIT_MS}
    [ "$prog" = curl ] && read_limit=$F_CURL_MAX_MS
    f_outcome "$prog"
    case $mode in
    drop)
        f_want_class timeout
        f_between "the connect took" "$F_MS" $((F_LIMIT_MS * 9 / 10)) $((F_LIMIT_MS + F_LATE_MS))
        ;;
    refuse | unreach)
        f_want_class "$([ "$mode" = refuse ] && echo ECONNREFUSED || echo EHOSTUNREACH)"
        f_between "the connect took" "$F_MS" 0 "$F_FAST_MS"
        [ "$prog" != c-epoll ] || [ "$mode" != unreach ] ||
            grep -qx 'connect rc=-1 errno=EHOSTUNREACH' <<<"$HE_OUT" ||
            he_fail "$F_WHICH: wanted EHOSTUNREACH from connect() itself; $(he_ctx)"
        ;;
    silent)
        f_want_class ok
        f_between "the connect took" "$F_MS" 0 "$F_FAST_MS"
        [ "$F_READ" = silence ] || he_fail "$F_WHICH: wanted a read that times out, got '$F_READ'; $(he_ctx)"
        f_between "the read took" "$F_READ_MS" $((read_limit * 9 / 10)) $((read_limit + F_LATE_MS))
        ;;
    close)
        f_want_class ok
        f_between "the connect took" "$F_MS" 0 "$F_FAST_MS"
        [ "$F_READ" = eof ] || he_fail "$F_WHICH: wanted end-of-file, got '$F_READ'; $(he_ctx)"
        f_between "the read took" "$F_READ_MS" 0 "$F_FAST_MS"
        ;;
    delay)
        # The real server's answer, after the delay (less 10%), not later
        # than F_SLOW_MAX_MS.
        f_want_class ok
        f_between "the connect took" "$F_MS" $((F_SLOW_MS * 9 / 10)) "$F_SLOW_MAX_MS"
        [ "$F_READ" = data ] || he_fail "$F_WHICH: wanted the server's answer, got '$F_READ'; $(he_ctx)"
        ;;
    esac
}

# The address getpeername gave PROG on its connected socket is ADDR (curl
# says only what it was given).
f_want_getpeername() {
    local prog=$1 addr=$2
    case $prog in
    py-* | perl)
        grep -qE "^connect ok ms=[0-9]+ peer=$addr\$" <<<"$HE_OUT" ||
            he_fail "$F_WHICH: getpeername did not give $addr; $(he_ctx)"
        ;;
    c-epoll)
        grep -qx "peer $addr" <<<"$HE_OUT" || he_fail "$F_WHICH: getpeername did not give $addr; $(he_ctx)"
        ;;
    esac
}

# faults/own/PROG/MODE: PROG against the lab's real counterpart of MODE
# (FAMILY 4 or 6), then against the live address with the fault; nothing
# raced.
f_case_own() {
    local prog=$1 mode=$2 fam=$3 live=$F_LIVE real='' real_ms='' spec fault=$2 limit=$F_LIMIT_MS
    local server=whoami
    [ "$prog" = curl ] && server=http
    [ "$mode" = delay ] && fault=delay:$F_SLOW_MS limit=$F_SLOW_LIMIT_MS
    if [ "$fam" = 6 ]; then
        live=$F_LIVE6
        case $mode in
        drop) real=${LAB_DEAD6[0]} ;;
        refuse) real=${LAB_REFUSE6[0]} ;;
        unreach) real=$F_UNREACH6 ;;
        esac
    else
        case $mode in
        drop) real=${LAB_DEAD4[0]} ;;
        refuse) real=${LAB_REFUSE4[0]} ;;
        unreach) real=$F_UNREACH4 ;;
        esac
    fi
    [ "$mode" = unreach ] && f_routes
    if [ -n "$real" ]; then
        F_WHICH="real $mode address $real"
        f_cmd "$prog" "$real" "$F_LIMIT_MS"
        he_run --env HE_MAX_ATTEMPTS=1 "${HE_CMD[@]}"
        f_expect_own "$prog" "$mode"
        real_ms=$F_MS
    fi
    he_log_mark
    spec=$live
    [ "$fam" = 6 ] && spec="[$live]"
    F_WHICH="HE_FAULTS=$spec=$fault"
    f_cmd "$prog" "$live" "$limit"
    he_run --env HE_MAX_ATTEMPTS=1 --env "HE_FAULTS=$spec=$fault" "${HE_CMD[@]}"
    f_expect_own "$prog" "$mode"
    if [ "$mode" = drop ]; then
        [ $((F_MS > real_ms ? F_MS - real_ms : real_ms - F_MS)) -le "$F_DIFF_MS" ] ||
            he_fail "$F_WHICH: timed out after $F_MS ms, the real dead address after $real_ms ms; $(he_ctx)"
    fi
    if [ "$mode" = delay ]; then
        # The entry was taken, and the real address reached: by one
        # connection, the program's, on the socket it made.
        [ -z "$(f_warnings)" ] || he_fail "$F_WHICH: a warning; $(he_ctx)"
        [ "$F_PEER" = "$live" ] || he_fail "$F_WHICH: wanted $live reached, got '$F_PEER'; $(he_ctx)"
        f_want_getpeername "$prog" "$live"
        expect_log_count "$server" 1
        expect_log "$server" "$live"
        return
    fi
    if [ "$mode" = silent ] || [ "$mode" = close ]; then
        # getpeername names the faulted address, as a real silent or
        # closing server there would be named (not libhe's sink).
        f_want_getpeername "$prog" "$live"
    fi
    # The live address itself was never contacted.
    expect_log_quiet whoami
    expect_log_quiet http
}

for prog in py-block py-timeout py-epoll perl curl c-epoll; do
    for mode in drop refuse unreach silent close delay; do
        # nb_connect reads until EOF: it would wait out a silent server,
        # and has nothing to show for close that python3's epoll does not.
        [ "$prog" = c-epoll ] && [[ $mode == silent || $mode == close ]] && continue
        f_case "faults/own/$prog/$mode" f_case_own "$prog" "$mode" 4
    done
done
for mode in drop refuse unreach silent close delay; do
    f_case "faults/own/py-timeout-v6/$mode" f_case_own py-timeout "$mode" 6
done

# A blocking connect with SO_SNDTIMEO: ADDR PORT SNDTIMEO_S WAIT_S.  Prints
# what connect() gave ("connect rc=0|errno=E ms=M"), then, unless it
# connected, what select() for writing within WAIT_S gave ("writable
# ms=M" or "not-writable ms=M", from the start), "so_error E|0", and
# "peer ADDR" (getpeername, or "peer error=E") and the server's line.
# shellcheck disable=SC2016 # Python
F_PY_SNDTIMEO='
import errno, select, socket, struct, sys, time
addr, port, snd, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(snd), int(snd % 1 * 1e6)))
ms = lambda: int((time.monotonic() - t) * 1000)
t = time.monotonic()
rc = s.connect_ex((addr, port))
print("connect %s ms=%d" % ("rc=0" if rc == 0 else "errno=" + errno.errorcode.get(rc, str(rc)), ms()))
if rc != 0:
    w = select.select([], [s], [], wait)[1]
    print("%s ms=%d" % ("writable" if w else "not-writable", ms()))
    print("so_error", errno.errorcode.get(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0))
try:
    print("peer", s.getpeername()[0])
    s.settimeout(1)
    print(s.recv(100).decode().strip())
except OSError as e:
    print("peer error=%s" % errno.errorcode.get(e.errno, str(e.errno)))
'

# The value of "WORD ... ms=M" in the last run's output: f_line_ms WORD.
f_line_ms() {
    sed -n "s/^$1 .*ms=\([0-9]*\).*/\1/p" <<<"$HE_OUT" | head -n 1
}

# faults/delay/sndtimeo: SO_SNDTIMEO 100 ms, delay:300.  The lab's dead
# address first: connect() gives EINPROGRESS at SO_SNDTIMEO, as libhe's
# must, and the socket never becomes writable.
f_case_delay_sndtimeo() {
    local ms
    F_WHICH="SO_SNDTIMEO 100 ms, the real dead ${LAB_DEAD4[0]}"
    he_run --env HE_MAX_ATTEMPTS=1 /usr/bin/python3 -c "$F_PY_SNDTIMEO" "${LAB_DEAD4[0]}" "$LAB_PORT_WHOAMI" 0.1 0.4
    grep -q '^connect errno=EINPROGRESS ' <<<"$HE_OUT" || he_fail "$F_WHICH: wanted EINPROGRESS; $(he_ctx)"
    f_between "connect() took" "$(f_line_ms connect)" 90 "$F_FAST_MS"
    grep -q '^not-writable ' <<<"$HE_OUT" || he_fail "$F_WHICH: the socket became writable; $(he_ctx)"
    F_WHICH="SO_SNDTIMEO 100 ms, HE_FAULTS=$F_LIVE=delay:$F_SLOW_MS"
    he_run --env HE_MAX_ATTEMPTS=1 --env "HE_FAULTS=$F_LIVE=delay:$F_SLOW_MS" \
        /usr/bin/python3 -c "$F_PY_SNDTIMEO" "$F_LIVE" "$LAB_PORT_WHOAMI" 0.1 2
    grep -q '^connect errno=EINPROGRESS ' <<<"$HE_OUT" ||
        he_fail "$F_WHICH: wanted EINPROGRESS from connect(); $(he_ctx)"
    # At SO_SNDTIMEO, well before the delay's end.
    f_between "connect() took" "$(f_line_ms connect)" 90 $((F_SLOW_MS * 8 / 10))
    grep -q '^writable ' <<<"$HE_OUT" || he_fail "$F_WHICH: the socket never became writable; $(he_ctx)"
    ms=$(f_line_ms writable)
    f_between "becoming writable took" "$ms" $((F_SLOW_MS * 9 / 10)) "$F_SLOW_MAX_MS"
    grep -qx 'so_error 0' <<<"$HE_OUT" || he_fail "$F_WHICH: wanted SO_ERROR 0; $(he_ctx)"
    grep -qx "peer $F_LIVE" <<<"$HE_OUT" || he_fail "$F_WHICH: getpeername did not give $F_LIVE; $(he_ctx)"
    grep -qx "reached $F_LIVE" <<<"$HE_OUT" || he_fail "$F_WHICH: no answer from $F_LIVE; $(he_ctx)"
    expect_log_count whoami 1
}
he_case faults/delay/sndtimeo f_case_delay_sndtimeo

# faults/delay/connect-again: connect() again on a delayed blocking socket
# answers as the kernel does: EALREADY while the attempt is in flight (at
# SO_SNDTIMEO), EISCONN once connected; and on a socket whose blocking
# connect returned 0, EISCONN every time.
f_case_delay_again() {
    local py='
import errno, socket, struct, sys, time
addr = (sys.argv[1], int(sys.argv[2]))
name = lambda rc: errno.errorcode.get(rc, str(rc))
s = socket.socket(); s.connect(addr)
print("connected", name(s.connect_ex(addr)), name(s.connect_ex(addr)))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 100000))
print("pending", name(s.connect_ex(addr)), name(s.connect_ex(addr)))
time.sleep(0.4)
print("later", name(s.connect_ex(addr)))
'
    he_run --env HE_MAX_ATTEMPTS=1 --env "HE_FAULTS=${LAB_LIVE4[0]}=delay:300" \
        /usr/bin/python3 -c "$py" "${LAB_LIVE4[0]}" "$LAB_PORT_WHOAMI"
    expect_rc 0
    [ "$HE_OUT" = "connected EISCONN EISCONN
pending EINPROGRESS EALREADY
later EISCONN" ] || he_fail "wanted the kernel's answers; $(he_ctx)"
}
he_case faults/delay/connect-again f_case_delay_again

# ---------------------------------------------------------------- racing

# Whether libhe can rescue PROG from MODE on multi.test's first address:
# always from a drop and a refusal (a non-blocking first-address program
# waits for the rescue: README, "A refused first address, non-blocking");
# from an unreachable address only when the program's connect is blocking
# or the program tries the other addresses itself (a non-blocking
# connect() fails at once with EHOSTUNREACH, the program's answer).
f_rescued() {
    case $2 in drop | refuse) return 0 ;; esac
    case $1 in py-block | perl | curl) return 0 ;; esac
    return 1
}

# f_expect_race PROG MODE LIVE: a run of PROG on a name whose first address
# is MODE (faulted or real) and whose second is LIVE.
f_expect_race() {
    local prog=$1 mode=$2 live=$3 min=0 max=$F_FAST_MS err
    err=$([ "$mode" = unreach ] && echo EHOSTUNREACH || echo ECONNREFUSED)
    # A drop: the sibling starts after the attempt delay (libhe's pacing:
    # at least 90% of it), and connects at once.
    [ "$mode" = drop ] && min=$((HE_DELAY_MS * 9 / 10)) max=$((HE_DELAY_MS + F_LATE_MS))
    # curl's figures include its own start, and a refused first address
    # costs it about 200 ms (its Happy Eyeballs timer) before its second.
    [ "$prog" = curl ] && max=$((max + F_LATE_MS))
    f_outcome "$prog"
    if f_rescued "$prog" "$mode"; then
        f_want_class ok
        [ "$F_PEER" = "$live" ] || he_fail "$F_WHICH: wanted $live reached, got '$F_PEER'; $(he_ctx)"
        f_between "the connect took" "$F_MS" "$min" "$max"
        case $prog in
        py-*)
            grep -qx "outcomes ok,ok" <<<"$HE_OUT" || he_fail "$F_WHICH: wanted two connections; $(he_ctx)"
            [ "$(grep -c "^read data reached $live\$" <<<"$HE_OUT")" -eq 2 ] ||
                he_fail "$F_WHICH: wanted both connections to $live; $(he_ctx)"
            ;;
        esac
    else
        f_want_class "$err"
        f_between "the connect took" "$F_MS" 0 "$F_FAST_MS"
        case $prog in
        py-*)
            # Refused once, rescued from then on (the process's history
            # sends the next socket to the sibling).
            grep -qx "outcomes $err,ok" <<<"$HE_OUT" ||
                he_fail "$F_WHICH: wanted $err, then a connection; $(he_ctx)"
            grep -qx "read data reached $live" <<<"$HE_OUT" ||
                he_fail "$F_WHICH: wanted the second connect to reach $live; $(he_ctx)"
            ;;
        esac
    fi
}

# How many connections PROG makes to the live address in f_case_race.
f_race_count() {
    case $1 in
    py-*) f_rescued "$1" "$2" && echo 2 || echo 1 ;;
    *) f_rescued "$1" "$2" && echo 1 || echo 0 ;;
    esac
}

# f_race_cmd PROG NAME: HE_CMD for the racing cases (3 s limits: the
# program's own timeout never decides; two connects for python3).
f_race_cmd() {
    f_cmd "$1" "$2" 3000 2
}

# faults/race/PROG/MODE: multi.test with its first address faulted, and
# the lab's real counterpart name.
f_case_race() {
    local prog=$1 mode=$2 real='' server=whoami n
    [ "$prog" = curl ] && server=http
    n=$(f_race_count "$prog" "$mode")
    case $mode in
    drop) real=dead4.test ;;
    refuse) real=refuse.test ;;
    esac
    if [ -n "$real" ]; then
        # The process's own history, as with HE_FAULTS.
        F_WHICH="real $real"
        f_race_cmd "$prog" "$real"
        he_run --env HE_HISTORY=process "${HE_CMD[@]}"
        f_expect_race "$prog" "$mode" "$F_LIVE"
        expect_log_count "$server" "$n"
    fi
    he_log_mark
    F_WHICH="HE_FAULTS=$F_LIVE=$mode, multi.test"
    f_race_cmd "$prog" multi.test
    he_run --env "HE_FAULTS=$F_LIVE=$mode" "${HE_CMD[@]}"
    f_expect_race "$prog" "$mode" "$F_LIVE2"
    # Only the second address was reached: every attempt at the first,
    # the program's and libhe's, was faulted.
    expect_log_count "$server" "$n"
    ! he_log_new "$server" | grep -qx "reached $F_LIVE" ||
        he_fail "$F_WHICH: the faulted $F_LIVE was reached; $(he_ctx)"
}

for prog in py-block py-timeout py-epoll perl curl c-epoll; do
    for mode in drop refuse unreach; do
        f_case "faults/race/$prog/$mode" f_case_race "$prog" "$mode"
    done
done

# An IPv6 first address faulted (the ::1 sinks), IPv4 second: a name of
# HE_HOSTS's.
f_case_race6() {
    local mode=$1 hosts=$HE_CASE_DIR/hosts
    printf '%s\tv6first.test\n%s\tv6first.test\n' "$F_LIVE6" "$F_LIVE" >"$hosts"
    F_WHICH="HE_FAULTS=[$F_LIVE6]=$mode, v6first.test"
    f_race_cmd py-block v6first.test
    he_run --env "HE_HOSTS=$hosts" --env "HE_FAULTS=[$F_LIVE6]=$mode" "${HE_CMD[@]}"
    f_expect_race py-block "$mode" "$F_LIVE"
    expect_log_count whoami 2
}
for mode in drop refuse unreach; do
    he_case "faults/race/py-block-v6/$mode" f_case_race6 "$mode"
done

# faults/race/PROG/delayMS: multi.test, its first address slow (delay:MS),
# racing on, one connect: WINNER reached after MIN..MAX ms; the program
# stays 0.6 s longer, so that a late connection to the delayed address,
# were it made after all, would be in the server's log.
f_case_race_delay() {
    local prog=$1 ms=$2 winner=$3 min=$4 max=$5
    F_WHICH="HE_FAULTS=$F_LIVE=delay:$ms, $prog to multi.test"
    he_run --env "HE_FAULTS=$F_LIVE=delay:$ms" /usr/bin/python3 "$F_PY" --linger 0.6 "${prog#py-}:3" \
        multi.test "$LAB_PORT_WHOAMI" 1 1
    f_outcome "$prog"
    f_want_class ok
    [ "$F_PEER" = "$winner" ] || he_fail "$F_WHICH: wanted $winner reached, got '$F_PEER'; $(he_ctx)"
    f_want_getpeername "$prog" "$winner"
    f_between "the connect took" "$F_MS" "$min" "$max"
    # One connection, the winner's.
    expect_log_count whoami 1
    expect_log whoami "$winner"
}
# The program's own attempt, 100 ms late, wins before the sibling starts.
he_case faults/race/py-block/delay100 f_case_race_delay py-block 100 "$F_LIVE" 90 $((HE_DELAY_MS + F_LATE_MS))
# 600 ms late: .11, started after the attempt delay, wins.
he_case faults/race/py-block/delay600 f_case_race_delay py-block 600 "$F_LIVE2" \
    $((HE_DELAY_MS * 9 / 10)) $((HE_DELAY_MS + F_LATE_MS))
# Known limitation (README, Limits), asserted as it is today, not as what
# it should be: a non-blocking connect held by delay is not raced, so
# settimeout's connects to the slow .10, 600 ms late.  Lifting the
# limitation makes this case fail: it should then expect .11, as above.
he_case faults/race/py-timeout/delay600-unraced f_case_race_delay py-timeout 600 "$F_LIVE" \
    540 $((600 + F_LATE_MS))

# ---------------------------------------------------------------- no traffic

# faults/no-traffic/FAMILY: a namespace of the case's own, only lo up, no
# route anywhere but loopback.  Without HE_FAULTS a connect (settimeout(1))
# to a TEST-NET address fails at once with ENETUNREACH (the check can
# fail); with it, the address behaves as its mode says (a drop times out,
# not ENETUNREACH), though no packet could leave.
f_case_no_traffic() {
    local addr=$1 spec=$1 mode envs
    [[ $addr == *:* ]] && spec="[$addr]"
    for mode in none drop refuse silent close; do
        F_WHICH="$addr in a namespace with only lo, HE_FAULTS=$spec=$mode"
        envs=()
        [ "$mode" = none ] && F_WHICH="$addr in a namespace with only lo, no HE_FAULTS"
        [ "$mode" = none ] || envs=(--env "HE_FAULTS=$spec=$mode")
        # shellcheck disable=SC2016 # the inner shell's
        he_run "${envs[@]}" unshare -n /bin/bash -c 'ip link set lo up || exit 3; exec "$@"' _ \
            /usr/bin/python3 "$F_PY" timeout:1 "$addr" 80 1 0.3
        [ "$HE_RC" -ne 3 ] || he_fail "cannot bring lo up in a new namespace; $(he_ctx)"
        case $mode in
        none)
            f_outcome py-timeout
            f_want_class ENETUNREACH
            ;;
        *) F_LIMIT_MS=1000 F_READ_LIMIT_MS=300 f_expect_own py-timeout "$mode" ;;
        esac
    done
}
he_case faults/no-traffic/v4 f_case_no_traffic 192.0.2.1
he_case faults/no-traffic/v6 f_case_no_traffic 2001:db8::1

# ---------------------------------------------------------------- modifiers

# *N: the first N new attempts only, then the real address.
f_case_count() {
    F_WHICH="HE_FAULTS=$F_LIVE=refuse*2"
    he_run --env HE_MAX_ATTEMPTS=1 --env "$F_WHICH" /usr/bin/python3 "$F_PY" timeout:1 "$F_LIVE" \
        "$LAB_PORT_WHOAMI" 3
    grep -qx "outcomes ECONNREFUSED,ECONNREFUSED,ok" <<<"$HE_OUT" ||
        he_fail "wanted refused, refused, connected; $(he_ctx)"
    grep -qx "read data reached $F_LIVE" <<<"$HE_OUT" ||
        he_fail "the third connect did not reach $F_LIVE; $(he_ctx)"
    expect_log_count whoami 1
}
he_case faults/count f_case_count

# The same modifier with libhe's defaults (racing on): refuse*1 on the
# first address of multi.test.  The first connect is rescued by the second
# address, the second finds the count used up (or the history sends it to
# the second address): both connect, and the summary counts one fault.
f_case_count_defaults() {
    local py='
import socket, sys
for i in range(2):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    print("connected", s.getpeername()[0]); s.close()
'
    F_WHICH="HE_FAULTS=${LAB_LIVE4[0]}=refuse*1"
    he_run --env HE_STATS=1 --env "$F_WHICH" /usr/bin/python3 -c "$py" multi.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    [ "$(grep -c '^connected ' <<<"$HE_OUT")" = 2 ] || he_fail "$F_WHICH: wanted two connects; $(he_ctx)"
    grep -qx "connected ${LAB_LIVE4[1]}" <<<"$(head -1 <<<"$HE_OUT")" ||
        he_fail "$F_WHICH: wanted the first rescued by ${LAB_LIVE4[1]}; $(he_ctx)"
    grep -qE "summary: races 2, own [01], rescued [12], failed 0, left 0, dead_wait_ms [0-9]+, faults 1$" \
        <<<"$HE_ERR" || he_fail "$F_WHICH: wanted two races, no failure, one fault; $(he_ctx)"
}
he_case faults/count-defaults f_case_count_defaults

# The same with drop*1, blocking: the first connect waits out the
# program's alarm, the second connects.
f_case_count_drop() {
    F_WHICH="HE_FAULTS=$F_LIVE=drop*1"
    he_run --env HE_MAX_ATTEMPTS=1 --env "$F_WHICH" /usr/bin/python3 "$F_PY" \
        "block:$(f_secs "$F_LIMIT_MS")" "$F_LIVE" "$LAB_PORT_WHOAMI" 2
    grep -qx "outcomes timeout,ok" <<<"$HE_OUT" || he_fail "wanted a timeout, then a connection; $(he_ctx)"
    grep -qx "read data reached $F_LIVE" <<<"$HE_OUT" || he_fail "the second connect did not reach $F_LIVE; $(he_ctx)"
    expect_log_count whoami 1
}
he_case faults/count-drop f_case_count_drop

# *N with a program that retries on the socket it has (settimeout, so
# SO_ERROR is read after each failure): the connect() after a refusal only
# reports that the attempt ended (ECONNABORTED) and starts nothing, so it
# is not one of the N.  The lab's real refusing address gives the same
# three, then a refusal on a new socket; refuse*2 gives the refusals, and
# the new socket connects.
f_case_count_reuse() {
    F_WHICH="the real refusing ${LAB_REFUSE4[0]}, one socket for three connects"
    he_run --env HE_MAX_ATTEMPTS=1 /usr/bin/python3 "$F_PY" reuse:1:3 "${LAB_REFUSE4[0]}" "$LAB_PORT_WHOAMI" 4
    grep -qx "outcomes ECONNREFUSED,ECONNABORTED,ECONNREFUSED,ECONNREFUSED" <<<"$HE_OUT" ||
        he_fail "$F_WHICH: wanted refused, aborted, refused, refused; $(he_ctx)"
    F_WHICH="HE_FAULTS=$F_LIVE=refuse*2, one socket for three connects"
    he_run --env HE_MAX_ATTEMPTS=1 --env "HE_FAULTS=$F_LIVE=refuse*2" /usr/bin/python3 "$F_PY" reuse:1:3 \
        "$F_LIVE" "$LAB_PORT_WHOAMI" 4
    grep -qx "outcomes ECONNREFUSED,ECONNABORTED,ECONNREFUSED,ok" <<<"$HE_OUT" ||
        he_fail "$F_WHICH: wanted refused, aborted, refused, then a connection; $(he_ctx)"
    grep -qx "read data reached $F_LIVE" <<<"$HE_OUT" ||
        he_fail "$F_WHICH: the fourth connect did not reach $F_LIVE; $(he_ctx)"
    expect_log_count whoami 1
}
he_case faults/count-reuse f_case_count_reuse

# @P%: 20 connects in one process; the outcomes, as one word.
f_pattern() {
    sed -n 's/^outcomes //p' <<<"$HE_OUT" | sed -e 's/ECONNREFUSED/R/g' -e 's/ok/o/g' -e 's/,//g'
}

f_run_chances() {
    he_run --env HE_MAX_ATTEMPTS=1 --env "HE_FAULTS=$F_LIVE=refuse@50%" "$@" \
        /usr/bin/python3 "$F_PY" block:1 "$F_LIVE" "$LAB_PORT_WHOAMI" 20 1
    [[ $(f_pattern) =~ ^[Ro]{20}$ ]] || he_fail "wanted 20 outcomes, refused or connected; $(he_ctx)"
}

# The same seed gives the same sequence; another seed another one; each
# connection counted was a real one (the server logged it).
f_case_seed() {
    local a b c oks
    f_run_chances --env HE_FAULTS_SEED=42
    a=$(f_pattern)
    [[ $a == *R* && $a == *o* ]] || he_fail "wanted both outcomes in '$a' (seed 42); $(he_ctx)"
    grep -q "faults: chances drawn with HE_FAULTS_SEED=42 " <<<"$HE_ERR" ||
        he_fail "libhe did not name the seed; $(he_ctx)"
    oks=${a//R/}
    expect_log_count whoami "${#oks}"
    f_run_chances --env HE_FAULTS_SEED=42
    b=$(f_pattern)
    [ "$a" = "$b" ] || he_fail "seed 42 gave '$a', then '$b'"
    f_run_chances --env HE_FAULTS_SEED=0x2a
    [ "$(f_pattern)" = "$a" ] || he_fail "seed 0x2a (42) gave '$(f_pattern)', 42 gave '$a'"
    # Leading zeros: decimal still, never octal (042 is not 34).
    f_run_chances --env HE_FAULTS_SEED=042
    [ "$(f_pattern)" = "$a" ] || he_fail "seed 042 gave '$(f_pattern)', 42 gave '$a'"
    f_run_chances --env HE_FAULTS_SEED=43
    c=$(f_pattern)
    [ "$a" != "$c" ] || he_fail "seeds 42 and 43 gave the same '$a'"
    echo "42: $a, 43: $c" >"$HE_CASE_DIR/patterns"
    # 09 (no octal number) is 9: taken without a warning, 9's sequence.
    f_run_chances --env HE_FAULTS_SEED=9
    a=$(f_pattern)
    f_run_chances --env HE_FAULTS_SEED=09
    ! grep -q 'HE_FAULTS_SEED=09 is not a number' <<<"$HE_ERR" || he_fail "HE_FAULTS_SEED=09 refused; $(he_ctx)"
    [ "$(f_pattern)" = "$a" ] || he_fail "seed 09 gave '$(f_pattern)', 9 gave '$a'"
}
he_case faults/seed f_case_seed

# Without HE_FAULTS_SEED libhe picks one and logs it; giving it back
# replays the run.
f_case_seed_replay() {
    local a seed
    f_run_chances
    a=$(f_pattern)
    seed=$(sed -n 's/.*faults: chances drawn with HE_FAULTS_SEED=\([0-9]*\) .*/\1/p' <<<"$HE_ERR")
    [ -n "$seed" ] || he_fail "libhe did not log the seed it picked; $(he_ctx)"
    f_run_chances --env "HE_FAULTS_SEED=$seed"
    [ "$(f_pattern)" = "$a" ] || he_fail "seed $seed gave '$a', then '$(f_pattern)' when given back"
}
he_case faults/seed-replay f_case_seed_replay

# ---------------------------------------------------------------- bad input

f_case_bad_entry() {
    local w
    F_WHICH="HE_FAULTS=nonsense,$F_LIVE=refuse"
    he_run --env HE_MAX_ATTEMPTS=1 --env "$F_WHICH" /usr/bin/python3 "$F_PY" timeout:1 "$F_LIVE" \
        "$LAB_PORT_WHOAMI"
    w=$(f_warnings)
    [ "$(grep -c . <<<"$w")" -eq 1 ] || he_fail "wanted exactly one warning; $(he_ctx)"
    grep -qE "^libhe\\[[0-9]+\\] warn: HE_FAULTS: entry 'nonsense' left out: .+" <<<"$w" ||
        he_fail "the warning does not name 'nonsense'; $(he_ctx)"
    # The good entry applies.
    f_outcome py-timeout
    f_want_class ECONNREFUSED
    expect_log_quiet whoami
}
he_case faults/bad-entry f_case_bad_entry

# Several bad entries, blanks around them, a bad seed: one warning each,
# the good entry (the last) applies.
f_case_bad_entries() {
    local w e
    F_WHICH="several bad HE_FAULTS entries"
    he_run --env HE_MAX_ATTEMPTS=1 --env HE_FAULTS_SEED=banana \
        --env "HE_FAULTS=bogus.test=drop*0, $F_LIVE=explode,$F_LIVE:99999=drop ,[$F_LIVE6=drop, $F_LIVE=refuse " \
        /usr/bin/python3 "$F_PY" timeout:1 "$F_LIVE" "$LAB_PORT_WHOAMI"
    w=$(f_warnings)
    [ "$(grep -c . <<<"$w")" -eq 4 ] || he_fail "wanted four warnings; $(he_ctx)"
    for e in "bogus.test=drop*0" "$F_LIVE=explode" "$F_LIVE:99999=drop" "[$F_LIVE6=drop"; do
        [ "$(grep -cF "HE_FAULTS: entry '$e' left out: " <<<"$w")" -eq 1 ] ||
            he_fail "wanted one warning naming '$e'; $(he_ctx)"
    done
    grep -q 'HE_FAULTS_SEED=banana is not a number' <<<"$HE_ERR" ||
        he_fail "no warning about HE_FAULTS_SEED=banana; $(he_ctx)"
    f_outcome py-timeout
    f_want_class ECONNREFUSED
    expect_log_quiet whoami
}
he_case faults/bad-entries f_case_bad_entries

# delay's :MS: missing, 0, not a number, over 600000, or on another mode:
# one warning each.  delay:600000 (on another port) is taken; the last
# entry applies.
f_case_bad_delay() {
    local w e bad=("$F_LIVE=delay" "$F_LIVE=delay:0" "$F_LIVE=delay:x" "$F_LIVE=drop:5" "$F_LIVE=delay:600001")
    F_WHICH="bad delay entries"
    he_run --env HE_MAX_ATTEMPTS=1 \
        --env "HE_FAULTS=$(printf '%s,' "${bad[@]}")$F_LIVE:$LAB_PORT_BANNER=delay:600000,$F_LIVE=refuse" \
        /usr/bin/python3 "$F_PY" timeout:1 "$F_LIVE" "$LAB_PORT_WHOAMI"
    w=$(f_warnings)
    [ "$(grep -c . <<<"$w")" -eq ${#bad[@]} ] || he_fail "wanted ${#bad[@]} warnings; $(he_ctx)"
    for e in "${bad[@]}"; do
        [ "$(grep -cF "HE_FAULTS: entry '$e' left out: " <<<"$w")" -eq 1 ] ||
            he_fail "wanted one warning naming '$e'; $(he_ctx)"
    done
    f_outcome py-timeout
    f_want_class ECONNREFUSED
    expect_log_quiet whoami
}
he_case faults/bad-delay f_case_bad_delay

# ---------------------------------------------------------------- names and ports

# f_run_target PROG TARGET [ENV...]: one run of PROG (1 s limits) at
# TARGET, its outcome in F_*.
f_run_target() {
    local prog=$1 target=$2 envs=() e
    shift 2
    for e in "$@"; do envs+=(--env "$e"); done
    f_cmd "$prog" "$target" 1000
    he_run "${envs[@]}" "${HE_CMD[@]}"
    f_outcome "$prog"
}

# NAME=refuse, the name from the lab's /etc/hosts (libc): every address of
# it refuses, through libhe's race (both addresses tried) or the program's
# own loop, and an address of it the program never looked up by name
# refuses too; an address it does not have still connects.
f_case_name_libc() {
    local prog
    for prog in py-block perl curl; do
        [ "$prog" = curl ] && [ -n "$F_SAN" ] && continue
        F_WHICH="HE_FAULTS=multi.test=refuse, $prog to multi.test"
        f_run_target "$prog" multi.test HE_FAULTS=multi.test=refuse
        f_want_class ECONNREFUSED
    done
    F_WHICH="HE_FAULTS=multi.test=refuse, to $F_LIVE2"
    f_run_target py-block "$F_LIVE2" HE_FAULTS=multi.test=refuse
    f_want_class ECONNREFUSED
    expect_log_quiet whoami
    expect_log_quiet http
    F_WHICH="HE_FAULTS=multi.test=refuse, to $F_LIVE6"
    f_run_target py-block "$F_LIVE6" HE_FAULTS=multi.test=refuse
    f_want_class ok
    [ "$F_PEER" = "$F_LIVE6" ] || he_fail "$F_WHICH: wanted $F_LIVE6 reached; $(he_ctx)"
}
he_case faults/name/etc-hosts f_case_name_libc

# NAME=refuse for a name only HE_HOSTS has.
f_case_name_hosts() {
    local hosts=$HE_CASE_DIR/hosts
    printf '%s\tonlyhere.test\n%s\tonlyhere.test\n' "$F_LIVE" "$F_LIVE2" >"$hosts"
    F_WHICH="HE_FAULTS=onlyhere.test=refuse, to onlyhere.test"
    f_run_target py-block onlyhere.test "HE_HOSTS=$hosts" HE_FAULTS=onlyhere.test=refuse
    f_want_class ECONNREFUSED
    F_WHICH="HE_FAULTS=onlyhere.test=refuse, to $F_LIVE2"
    f_run_target py-timeout "$F_LIVE2" "HE_HOSTS=$hosts" HE_FAULTS=onlyhere.test=refuse
    f_want_class ECONNREFUSED
    expect_log_quiet whoami
    F_WHICH="HE_FAULTS=onlyhere.test=refuse, to $F_LIVE6"
    f_run_target py-block "$F_LIVE6" "HE_HOSTS=$hosts" HE_FAULTS=onlyhere.test=refuse
    f_want_class ok
    # Without the rule the name works: the check above can fail.
    F_WHICH="HE_HOSTS only, to onlyhere.test"
    f_run_target py-block onlyhere.test "HE_HOSTS=$hosts"
    f_want_class ok
}
he_case faults/name/he-hosts f_case_name_hosts

# A named rule also covers an address the program resolves the name to
# after libhe resolved it (at the program's first connect): a DNS name
# moved from .40 to .41 in between.  Both refuse.
# shellcheck disable=SC2016 # Python
F_PY_MOVED='
import errno, os, socket, sys, time
first, name, port, go, old = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def attempt(addr):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect((addr, port))
        data = s.recv(100).decode().strip()
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
    return "ok " + data
print("first", attempt(first), flush=True)
print("waiting", flush=True)
while not os.path.exists(go):
    time.sleep(0.01)
addr = socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
print("resolved", addr)
print("moved", attempt(addr))
print("old", attempt(old))
'

f_moved_run() {
    local name=moved.dns.test old=${LAB_SPARE4[0]} new=${LAB_SPARE4[1]}
    rm -f "$HE_CASE_DIR/go.moved"
    dns_set "$name" "$old"
    he_run_bg "$@" /usr/bin/python3 -c "$F_PY_MOVED" "$F_LIVE6" "$name" "$LAB_PORT_WHOAMI" \
        "$HE_CASE_DIR/go.moved" "$old"
    he_bg_wait_out '^waiting$'
    dns_set "$name" "$new"
    he_bg_go moved
    he_run_wait
    grep -qx "first ok reached $F_LIVE6" <<<"$HE_OUT" || he_fail "$F_WHICH: the first connect failed; $(he_ctx)"
    grep -qx "resolved $new" <<<"$HE_OUT" || he_fail "$F_WHICH: the name did not move to $new; $(he_ctx)"
}

f_case_name_moved() {
    local old=${LAB_SPARE4[0]} new=${LAB_SPARE4[1]}
    F_WHICH="no HE_FAULTS"
    f_moved_run
    grep -qx "moved ok reached $new" <<<"$HE_OUT" || he_fail "$F_WHICH: $new did not answer; $(he_ctx)"
    grep -qx "old ok reached $old" <<<"$HE_OUT" || he_fail "$F_WHICH: $old did not answer; $(he_ctx)"
    he_log_mark
    F_WHICH="HE_FAULTS=moved.dns.test=refuse"
    f_moved_run --env HE_FAULTS=moved.dns.test=refuse
    grep -qx "moved ECONNREFUSED" <<<"$HE_OUT" ||
        he_fail "$F_WHICH: the address the program resolved the name to was not refused; $(he_ctx)"
    grep -qx "old ECONNREFUSED" <<<"$HE_OUT" ||
        he_fail "$F_WHICH: the address libhe resolved the name to was not refused; $(he_ctx)"
    expect_log_count whoami 1
    dns_set moved.dns.test
}
dns_case faults/name/dns-moved f_case_name_moved

# ADDR:PORT and [ADDR6]:PORT: that port only; the banner server's port on
# the same address still answers.
f_case_port() {
    local a spec
    for a in "$F_LIVE" "$F_LIVE6"; do
        spec=$a
        [[ $a == *:* ]] && spec="[$a]"
        F_WHICH="HE_FAULTS=$spec:$LAB_PORT_WHOAMI=refuse, port $LAB_PORT_WHOAMI"
        he_run --env HE_MAX_ATTEMPTS=1 --env "HE_FAULTS=$spec:$LAB_PORT_WHOAMI=refuse" \
            /usr/bin/python3 "$F_PY" timeout:1 "$a" "$LAB_PORT_WHOAMI" 1 0.2
        f_outcome py-timeout
        f_want_class ECONNREFUSED
        F_WHICH="HE_FAULTS=$spec:$LAB_PORT_WHOAMI=refuse, port $LAB_PORT_BANNER"
        he_run --env HE_MAX_ATTEMPTS=1 --env "HE_FAULTS=$spec:$LAB_PORT_WHOAMI=refuse" \
            /usr/bin/python3 "$F_PY" timeout:1 "$a" "$LAB_PORT_BANNER" 1 1
        f_outcome py-timeout
        f_want_class ok
        grep -qx "read data SSH-2.0-test" <<<"$HE_OUT" || he_fail "$F_WHICH: no banner; $(he_ctx)"
    done
    expect_log_quiet whoami
}
he_case faults/port f_case_port

# ---------------------------------------------------------------- history

# With HE_FAULTS and no HE_HISTORY (or an empty one) the history is the
# process's own: the user's file ($XDG_RUNTIME_DIR/libhe/history, lib.sh
# gives each case its own) is not made.  A race without faults makes it,
# and so does HE_HISTORY=user with faults: the check can fail.
f_case_history() {
    # shellcheck disable=SC2031 # he_case sets it for the case
    local file=$XDG_RUNTIME_DIR/libhe/history
    F_WHICH="HE_FAULTS=$F_LIVE=drop, racing"
    f_race_cmd py-block multi.test
    he_run --env "HE_FAULTS=$F_LIVE=drop" "${HE_CMD[@]}"
    f_expect_race py-block drop "$F_LIVE2"
    [ ! -e "$file" ] || he_fail "$F_WHICH: the user's history file was made; $(he_ctx)"
    # An empty HE_HISTORY is no HE_HISTORY.
    F_WHICH="HE_FAULTS=$F_LIVE=drop, racing, HE_HISTORY empty"
    he_run --env "HE_FAULTS=$F_LIVE=drop" --env HE_HISTORY= "${HE_CMD[@]}"
    f_expect_race py-block drop "$F_LIVE2"
    [ ! -e "$file" ] || he_fail "$F_WHICH: the user's history file was made; $(he_ctx)"
    F_WHICH="dead4.test, no faults"
    f_race_cmd py-block dead4.test
    he_run "${HE_CMD[@]}"
    [ -e "$file" ] || he_fail "$F_WHICH: a race without faults made no history file; $(he_ctx)"
    rm -f "$file"
    F_WHICH="HE_FAULTS=$F_LIVE=drop, HE_HISTORY=user"
    f_race_cmd py-block multi.test
    he_run --env "HE_FAULTS=$F_LIVE=drop" --env HE_HISTORY=user "${HE_CMD[@]}"
    [ -e "$file" ] || he_fail "$F_WHICH: HE_HISTORY=user was not honoured; $(he_ctx)"
}
he_case faults/history-private f_case_history

# ---------------------------------------------------------------- loopback

# A faulted loopback address is raced like any other (libhe's loopback
# fast path would leave it to the kernel, and ::1:7000, where nobody
# listens, would refuse at once): lonet.test is ::1 then 198.51.100.10; a
# drop on ::1 costs the attempt delay, and the lab's server is reached, for
# a blocking and a non-blocking program.  Nothing raced, a dropped
# 127.0.0.1 times out as a dead address does.
f_case_loopback() {
    local prog
    for prog in py-block py-timeout; do
        F_WHICH="HE_FAULTS=[::1]=drop, $prog to lonet.test"
        f_cmd "$prog" lonet.test 3000
        he_run --env "HE_FAULTS=[::1]=drop" --env HE_LOG=info "${HE_CMD[@]}"
        f_outcome "$prog"
        f_want_class ok
        [ "$F_PEER" = "$F_LIVE" ] || he_fail "$F_WHICH: wanted $F_LIVE reached; $(he_ctx)"
        f_between "the connect took" "$F_MS" $((HE_DELAY_MS * 9 / 10)) $((HE_DELAY_MS + F_LATE_MS))
        grep -q "fault: ::1 port $LAB_PORT_WHOAMI: drop" <<<"$HE_ERR" ||
            he_fail "$F_WHICH: libhe logged no fault on ::1; $(he_ctx)"
    done
    F_WHICH="HE_FAULTS=127.0.0.1=drop, HE_MAX_ATTEMPTS=1"
    f_cmd py-timeout 127.0.0.1 "$F_LIMIT_MS"
    he_run --env HE_FAULTS=127.0.0.1=drop --env HE_MAX_ATTEMPTS=1 "${HE_CMD[@]}"
    f_expect_own py-timeout drop
}
he_case faults/loopback f_case_loopback

# ---------------------------------------------------------------- many silent

# silent's connections are accepted by libhe and held until the program
# closes its end: more sequential connects in one process than the sink's
# queue holds (4097 got through before) all connect, each closed at once.
F_SILENT_N=4300
f_case_silent_many() {
    local n
    F_WHICH="HE_FAULTS=$F_LIVE=silent, $F_SILENT_N connects"
    he_run --env HE_MAX_ATTEMPTS=1 --env "HE_FAULTS=$F_LIVE=silent" /usr/bin/python3 "$F_PY" --no-read --stop \
        timeout:0.5 "$F_LIVE" "$LAB_PORT_WHOAMI" "$F_SILENT_N"
    n=$(grep -c '^connect ok ' <<<"$HE_OUT")
    [ "$n" -eq "$F_SILENT_N" ] ||
        he_fail "$F_WHICH: $n connected, then '$(grep -v '^connect ok ' <<<"$HE_OUT" | head -n 1 | cut -c 1-80)'; exit $HE_RC after $HE_MS ms"
    expect_rc 0
    expect_log_quiet whoami
}
he_case faults/silent-many f_case_silent_many

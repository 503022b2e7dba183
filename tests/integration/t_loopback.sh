#!/bin/bash
# The loopback fast path (DESIGN.md, "Loopback"): a connect to 127.0.0.0/8
# or ::1 is made exactly as the program asked; only when it fails hard
# (refused, unreachable, address not available) does libhe try the name's
# other addresses, on the program's own socket.
#
# Servers on loopback, in the client's own namespace (servers.py --at):
#   7301 whoami, 7311 http  on ::1 and 127.0.0.1   (healthy: ::1 answers)
#   7300 whoami, 7310 http  on 127.0.0.1 only      (::1 refuses)
#   7302, 7312              nobody                 (both refuse)
# localhost is ::1 then 127.0.0.1 (the lab's gai.conf puts ::1 first, as
# glibc's default table does); lonet.test is ::1 then 198.51.100.10, a
# loopback name whose second address is not loopback (the lab's whoami and
# http servers, in hesrv).
#
# Programs: python3 connecting to the first address only, blocking and with
# a timeout (non-blocking + poll); perl IO::Socket::IP with a timeout; curl
# (its own Happy Eyeballs); node with autoSelectFamily; a C program with
# epoll (progs/nb_connect.c); Java's Socket.connect(addr, timeout) with
# -Djava.net.preferIPv6Addresses=true (Java puts IPv4 first by default).
# Each scenario:
#   healthy     reaches ::1; libhe says nothing (HE_LOG=info)
#   refused     reaches 127.0.0.1; for programs that try one address, libhe's
#               line "loopback ::1: Connection refused; trying its other
#               addresses" shows who rescued them
#   allrefused  the program's own ECONNREFUSED, as without libhe
#   lonet       reaches 198.51.100.10
. "$HE_IT_DIR/lib.sh"

LO_READY=$HE_WORK/lo-servers.ready
/usr/bin/python3 "$HE_IT_DIR/servers.py" --log-dir "$LAB_LOG_DIR" --ready-file "$LO_READY" \
    --at "whoami@[::1]:7301" --at "whoami@127.0.0.1:7301" --at "http@[::1]:7311" \
    --at "http@127.0.0.1:7311" --at "whoami@127.0.0.1:7300" --at "http@127.0.0.1:7310" \
    >"$HE_WORK/lo-servers.out" 2>&1 &
LO_PID=$!
trap 'kill $LO_PID 2>/dev/null' EXIT
for ((i = 0; i < 100; i++)); do
    [ -s "$LO_READY" ] && break
    sleep 0.05
done

LO_JAVA_DIR=$HE_WORK/java-lo

# lo_cmd PROG NAME PORT: HE_CMD for PROG connecting to NAME's whoami (or,
# for curl, http) server at PORT (the http port is PORT + 10, 8080 for the
# lab's).
lo_cmd() {
    local prog=$1 name=$2 port=$3 http=$(($3 + 10))
    [ "$port" = "$LAB_PORT_WHOAMI" ] && http=$LAB_PORT_HTTP
    case $prog in
    py-block) HE_CMD=(/usr/bin/python3 "$HE_IT_DIR/nb/first_addr.py" block "$name" "$port") ;;
    py-timeout) HE_CMD=(/usr/bin/python3 "$HE_IT_DIR/nb/first_addr.py" timeout "$name" "$port") ;;
    perl) HE_CMD=(perl "$HE_IT_DIR/nb/io_socket_ip.pl" "$name" "$port" 3) ;;
    curl) HE_CMD=(curl -sS --max-time 3 "http://$name:$http/") ;;
    node) HE_CMD=(node "$HE_IT_DIR/nb/node_connect.js" "$name" "$port") ;;
    c-epoll) HE_CMD=("$HE_BIN/nb_connect" -m epoll "$name" "$port") ;;
    java)
        command -v javac >/dev/null || he_fail "no javac (Debian: openjdk-17-jdk-headless)"
        if [ ! -e "$LO_JAVA_DIR/Connect.class" ]; then
            mkdir -p "$LO_JAVA_DIR" &&
                javac -d "$LO_JAVA_DIR" "$HE_IT_DIR/java/Connect.java" >"$HE_CASE_DIR/javac" 2>&1 ||
                he_fail "javac failed: $(he_oneline "$(cat "$HE_CASE_DIR/javac")")"
        fi
        HE_CMD=(java -Xshare:auto -XX:TieredStopAtLevel=1 -Djava.net.preferIPv6Addresses=true
            -cp "$LO_JAVA_DIR" Connect "$name" "$port" 1)
        ;;
    esac
}

# Programs that try only the first address: without libhe they fail when
# it refuses, so libhe's line must show it stepped in.
lo_first_only() {
    case $1 in py-block | py-timeout | c-epoll | java) return 0 ;; esac
    return 1
}

lo_expect_said() {
    grep -q "race $1: loopback ::1: Connection refused; trying its other addresses" <<<"$HE_ERR" ||
        he_fail "libhe did not say it tried the other addresses; $(he_ctx)"
}

lo_expect_quiet() {
    ! grep -q "libhe.*info" <<<"$HE_ERR" || he_fail "libhe raced a healthy loopback connect; $(he_ctx)"
}

lo_expect_refused() {
    expect_rc_nonzero
    expect_not_reached
    case $1 in
    py-*) grep -qx "error 111" <<<"$HE_OUT" ;;
    perl) grep -q "Connection refused" <<<"$HE_OUT" ;;
    curl) [ "$HE_RC" -eq 7 ] ;;
    node) grep -qx "error ECONNREFUSED" <<<"$HE_OUT" ;;
    c-epoll) grep -qE "^(result error|connect rc=-1 errno)=ECONNREFUSED" <<<"$HE_OUT" ;;
    java) grep -q "ConnectException: Connection refused" <<<"$HE_OUT" ;;
    esac || he_fail "wanted the program's own refusal; $(he_ctx)"
}

lo_case() {
    local scenario=$1 prog=$2
    case $scenario in
    healthy)
        lo_cmd "$prog" localhost 7301
        he_run --env HE_LOG=info "${HE_CMD[@]}"
        if [ "$prog" = curl ]; then
            # curl resolves "localhost" itself, IPv4 first.
            expect_rc 0
            grep -qxE "reached (::1|127\.0\.0\.1)" <<<"$HE_OUT" || he_fail "not reached; $(he_ctx)"
        else
            check_reached ::1
        fi
        lo_expect_quiet
        ;;
    refused)
        lo_cmd "$prog" localhost 7300
        he_run --env HE_LOG=info "${HE_CMD[@]}"
        check_reached 127.0.0.1
        if lo_first_only "$prog"; then
            lo_expect_said localhost
        fi
        ;;
    allrefused)
        lo_cmd "$prog" localhost 7302
        he_run --env HE_LOG=info "${HE_CMD[@]}"
        lo_expect_refused "$prog"
        ;;
    lonet)
        lo_cmd "$prog" lonet.test "$LAB_PORT_WHOAMI"
        he_run --env HE_LOG=info "${HE_CMD[@]}"
        check_reached "${LAB_LIVE4[0]}"
        if lo_first_only "$prog"; then
            lo_expect_said lonet.test
        fi
        ;;
    esac
    expect_under_ms 3000
}

# curl hangs under the sanitizer runtime run.sh preloads for make
# check-asan/check-tsan, libhe or not (as in t_history.sh).
LO_SAN=
[[ $HE_PRELOAD == *" "* ]] && LO_SAN="the sanitizer runtime run.sh preloads hangs it, libhe or not"

for prog in py-block py-timeout perl curl node c-epoll java; do
    for scenario in healthy refused allrefused lonet; do
        if [ "$prog" = curl ] && [ -n "$LO_SAN" ]; then
            he_selected "loopback/$prog/$scenario" &&
                echo "SKIP loopback/$prog/$scenario: $LO_SAN" | tee -a "$HE_RESULTS"
            continue
        fi
        he_case "loopback/$prog/$scenario" lo_case "$scenario" "$prog"
    done
done

# The system calls of COUNT healthy connects to localhost (::1 answers),
# as strace sees them between the program's markers, one name per line.
lo_trace() {
    local out=$HE_CASE_DIR/strace.$1
    shift
    strace -f -qq -o "$out" -E "LD_PRELOAD=$HE_PRELOAD" "$@" >/dev/null 2>&1 ||
        he_fail "strace $* failed"
    sed -n '/write(-1, "BEGIN"/,/write(-1, "END"/p' "$out" | sed -E 's/^[0-9]+ +//; s/\(.*//'
}

# A healthy connect to a loopback name makes exactly the program's own
# system calls (blocking), or those and one zero-timeout poll per connect
# (non-blocking: whether the connect, decided already, was refused).
# Counted, never timed.
lo_case_syscalls() {
    local nb=$1 n=20 plain lib extra
    command -v strace >/dev/null || he_fail "no strace (Debian: strace)"
    HE_PRELOAD= lo_trace plain "$HE_BIN/lo_syscalls" $nb localhost 7301 $n >/dev/null
    plain=$(HE_PRELOAD= lo_trace plain "$HE_BIN/lo_syscalls" $nb localhost 7301 $n)
    lib=$(lo_trace lib "$HE_BIN/lo_syscalls" $nb localhost 7301 $n)
    [ "$(grep -c '^connect$' <<<"$plain")" -eq "$n" ] || he_fail "plain run: not $n connects: $(he_oneline "$plain")"
    if [ -z "$nb" ]; then
        [ "$plain" = "$lib" ] ||
            he_fail "libhe's calls differ: $(diff <(echo "$plain") <(echo "$lib") | grep '^[<>]' | head -n 5 | tr '\n' ' ')"
    else
        extra=$(diff <(echo "$plain") <(echo "$lib") | grep '^[<>]' | sort | uniq -c | sed 's/^ *//')
        [ "$extra" = "$n > poll" ] || [ -z "$extra" ] ||
            he_fail "libhe added more than one poll per connect: $(he_oneline "$extra")"
        [ "$(grep -c '^poll$' <<<"$lib")" -le $((2 * n)) ] || he_fail "too many polls"
    fi
}
he_case loopback/syscalls/blocking lo_case_syscalls ""
he_case loopback/syscalls/nonblocking lo_case_syscalls -n

# A non-blocking socket whose ::1 attempt was refused, and every other
# address too, is the program's to use again: connected to [::1]:7301
# (live) afterwards, it must work.  Linux leaves an AF_INET6 socket that
# tried an IPv4-mapped address unable to connect over IPv6, so libhe tries
# 127.0.0.1 on a socket of its own, never the program's.
lo_case_reuse() {
    he_run --env HE_LOG=info /usr/bin/python3 "$HE_IT_DIR/nb/first_addr.py" timeout localhost 7302 7301
    grep -qx "error 111" <<<"$HE_OUT" || he_fail "wanted the refusal first; $(he_ctx)"
    grep -qx "reached ::1" <<<"$HE_OUT" || he_fail "the socket could not be used again; $(he_ctx)"
    lo_expect_said localhost
}
he_case loopback/reuse-after-refusal lo_case_reuse

# The program's SO_SNDTIMEO bounds a blocking rescue: ::1 refuses and
# lodrop.test's other address, 127.0.0.9, drops SYNs (iptables, in the
# client's namespace): the race ends at the 800 ms SO_SNDTIMEO with the
# program's own ECONNREFUSED (which it would have had at once), instead of
# waiting out the kernel's SYN retries.
lo_case_sndtimeo() {
    local hosts=$HE_CASE_DIR/hosts
    printf '::1 lodrop.test\n127.0.0.9 lodrop.test\n' >"$hosts"
    iptables -C INPUT -d 127.0.0.9 -p tcp --dport 7306 -j DROP 2>/dev/null ||
        iptables -A INPUT -d 127.0.0.9 -p tcp --dport 7306 -j DROP ||
        he_fail "iptables DROP 127.0.0.9 failed"
    he_run --env "HE_HOSTS=$hosts" --env HE_LOG=info "$HE_BIN/conn_modes" sndtimeo lodrop.test 7306 800
    expect_result ECONNREFUSED 750 1500
    grep -q "race lodrop.test: loopback ::1: Connection refused; trying" <<<"$HE_ERR" ||
        he_fail "libhe did not try 127.0.0.9; $(he_ctx)"
}
he_case loopback/sndtimeo-bounds-the-rescue lo_case_sndtimeo

# ::1 where IPv6 is off: connect() says EADDRNOTAVAIL (or ENETUNREACH),
# and 127.0.0.1 must be tried, blocking and non-blocking.  In a network
# namespace of the case's own (IPv6 disabled on its lo), with a server on
# 127.0.0.1:7307 there; the program picks localhost's IPv6 address.
lo_case_no_ipv6() {
    local mode=$1
    he_run --env HE_LOG=info unshare -n /bin/bash -c '
        ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 || exit 3
        /usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.bind((\"127.0.0.1\", 7307)); s.listen(4)
open(\"$1/ready\", \"w\").close()
c, _ = s.accept(); c.sendall(b\"reached 127.0.0.1\\n\"); c.close(); time.sleep(0.2)" &
        for i in $(seq 50); do [ -e "$1/ready" ] && break; sleep 0.05; done
        exec /usr/bin/python3 "$2" "$3" localhost 7307' \
        _ "$HE_CASE_DIR" "$HE_IT_DIR/nb/first_addr.py" "$mode"
    check_reached 127.0.0.1
    grep -q "race localhost: loopback ::1: .*; trying its other addresses" <<<"$HE_ERR" ||
        he_fail "libhe did not step in; $(he_ctx)"
}
he_case loopback/no-ipv6/blocking lo_case_no_ipv6 block6
he_case loopback/no-ipv6/nonblocking lo_case_no_ipv6 timeout6

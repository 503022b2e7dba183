#!/bin/bash
# Non-blocking connects (DESIGN.md).  progs/nb_connect.c resolves a name (so
# libhe learns it), makes a non-blocking socket, connect()s to the first
# address (-1/EINPROGRESS) and waits in poll, select or epoll, the way
# event-driven programs do; its header lists what it prints.  With libhe, a
# dead first address is raced in the background: a sibling that wins is
# spliced onto the program's fd, which then wakes writable, SO_ERROR 0, the
# winner as its peer, an epoll registration carried over with the
# program's events and data.  What libhe cannot change stays as without it:
# a refused first address (the kernel has told the program already), every
# address dead (the program's own timeout), no descriptor to spare.  And
# whatever the program does to the fd mid-race (close, dup2, close_range,
# closefrom, fork), libhe never splices onto a number that no longer holds
# the caller's socket and leaves nothing behind; progs/nb_stress.c does that
# from many threads at once (the promise "it never splices onto an fd
# that no longer holds the caller's socket").
#
# The dead-first cases talk HTTP to the lab's http server (nb_connect -g),
# so that a write as well as a read goes through the spliced fd; the others
# read the whoami server.  Cases with nb_connect -s wait, at the end, until
# libhe's helper thread (which lingers about a second when idle) is gone:
# they take about a second longer.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

NB_DATA=0x1234abcd5678ef09
# A sibling's win comes one attempt delay per dead address ahead of the
# live one (at least 90% of it, as he_pacing_ms says), and at most this
# much later.
NB_SLACK_MS=750
# The caller's own attempt connects or is refused within this (the lab
# answers in well under 1 ms; room for sanitizers).
NB_OWN_MS=300
# alldead, EMFILE: nb_connect's own wait timeout, and how late it may end.
NB_TIMEOUT_MS=1000
NB_TIMEOUT_LATE_MS=500

# Dead addresses listed ahead of the live one in NAME.
nb_dead_ahead() {
    local a n=0
    for a in ${LAB_NAMES[$1]}; do
        [ "$a" = "$HE_LIVE" ] && break
        n=$((n + 1))
    done
    echo "$n"
}

# The program printed the line LINE.
nb_has() {
    grep -qxF "$1" <<<"$HE_OUT" || he_fail "wanted '$1'; $(he_ctx)"
}

# nb_result WHAT MIN MAX: "result WHAT ms=M" (WHAT: connected, timeout,
# error=ERRNO) with M, the time from connect() to the end of the wait, in
# MIN..MAX.
nb_result() {
    local line ms
    line=$(grep -m 1 '^result ' <<<"$HE_OUT")
    [[ $line == "result $1 ms="* ]] || he_fail "wanted 'result $1'; $(he_ctx)"
    ms=${line##*ms=}
    if ! [[ $ms =~ ^[0-9]+$ ]] || [ "$ms" -lt "$2" ] || [ "$ms" -gt "$3" ]; then
        he_fail "the connect ended after '$ms' ms, wanted $2..$3; $(he_ctx)"
    fi
}

# None of the program's own checks failed, and no descriptor was left.
nb_clean() {
    ! grep -qE '^(MISMATCH|REPLACED)' <<<"$HE_ERR" ||
        he_fail "$(grep -m 1 -E '^(MISMATCH|REPLACED)' <<<"$HE_ERR"); $(he_ctx)"
    expect_no_fdleak
}

# A run without HE_LOG=info: libhe logged nothing below its default level
# (warn), unless the whole test run asked for more.
nb_no_info() {
    case ${HE_LOG:-} in info | debug) return 0 ;; esac
    ! grep -qE '^libhe\[[0-9]+\] (info|debug):' <<<"$HE_ERR" ||
        he_fail "libhe logged below its default level (HE_LOG unset); $(he_ctx)"
}

# After -s: libhe's helper thread has gone (the threads are as many as at
# the start: one, or two with a sanitizer runtime's own).
nb_settled() {
    local start
    start=$(sed -n 's/^threads_start //p' <<<"$HE_OUT")
    [ -n "$start" ] || he_fail "no threads_start line; $(he_ctx)"
    nb_has "threads $start"
}

# What a connected fd must show, whoever won: PEER as its peer; connect()
# again gives the kernel's answers for a socket whose non-blocking connect
# has completed (0 the first time, as Linux gives, or EISCONN, which the
# contract promises after a splice), then EISCONN; with epoll (MODE), one
# registration (its events and data checked by the program), which MOD and
# DEL then find.
nb_connected() {
    local mode=$1 peer=$2
    nb_has "so_error 0"
    nb_has "peer $peer"
    grep -qxE 'second_connect rc=(0 errno=0|-1 errno=EISCONN)' <<<"$HE_OUT" ||
        he_fail "wanted 0 or EISCONN from a second connect(); $(he_ctx)"
    nb_has "third_connect rc=-1 errno=EISCONN"
    case $mode in
    epoll | epollet | oneshot | epollpre)
        grep -qE "^epoll_events ([A-Z|]*\\|)?EPOLLOUT(\\|[A-Z|]*)? data=$NB_DATA\$" <<<"$HE_OUT" ||
            he_fail "wanted EPOLLOUT with data $NB_DATA from epoll_wait; $(he_ctx)"
        nb_has "epoll_regs 1"
        nb_has "epoll_mod ok"
        nb_has "epoll_del ok"
        ;;
    poll) grep -qE '^revents (POLLIN\|)?POLLOUT$' <<<"$HE_OUT" || he_fail "wanted POLLOUT; $(he_ctx)" ;;
    select) nb_has "select isset=1" ;;
    esac
}

# nb_case_race MODE NAME PEER [FLAGS...]: a dead-first NAME, waited for in
# MODE: a sibling wins after the attempt delay(s) and is spliced on: the
# socket is another one, its peer PEER (the live address, in the socket's
# family), the request and reply go through it, the http server sees one
# connection.  With -s (the program ends only once libhe's helper thread
# has, so its log line has been written) libhe's info line names the winner.
nb_case_race() {
    local mode=$1 name=$2 peer=$3 dead min max
    shift 3
    dead=$(nb_dead_ahead "$name")
    min=$((dead * HE_DELAY_MS * 9 / 10))
    max=$((dead * HE_DELAY_MS + NB_SLACK_MS))
    he_run --env HE_LOG=info "$HE_BIN/nb_connect" -m "$mode" -g -t "$HE_RACE_MS" "$@" \
        "$name" "$LAB_PORT_HTTP"
    nb_clean
    nb_result connected "$min" "$max"
    expect_rc 0
    nb_connected "$mode" "$peer"
    nb_has "socket replaced"
    expect_reached "$HE_LIVE"
    expect_log_count http 1
    if [[ " $* " == *" -s "* ]]; then
        nb_settled
        grep -qF "race $name: winner $HE_LIVE (attempt $((dead + 1))) " <<<"$HE_ERR" ||
            he_fail "wanted libhe to log attempt $((dead + 1)) ($HE_LIVE) as the winner; $(he_ctx)"
    fi
}

# Every wait mechanism, dead first address.
he_case nonblocking/dead4-poll nb_case_race poll dead4.test "$HE_LIVE" -s
he_case nonblocking/dead4-select nb_case_race select dead4.test "$HE_LIVE"
he_case nonblocking/dead4-epoll nb_case_race epoll dead4.test "$HE_LIVE" -s
he_case nonblocking/dead4-epollet nb_case_race epollet dead4.test "$HE_LIVE"
he_case nonblocking/dead4-epoll-oneshot nb_case_race oneshot dead4.test "$HE_LIVE"
# Registered before connect(), EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, as nginx.
he_case nonblocking/dead4-epoll-before nb_case_race epollpre dead4.test "$HE_LIVE" -s
# O_NONBLOCK set with fcntl() rather than SOCK_NONBLOCK.
he_case nonblocking/dead4-fcntl nb_case_race epollet dead4.test "$HE_LIVE" -f
# An AF_INET6 socket connecting to the dead 2001:db8:1::20 (AF_UNSPEC
# resolution, socket in the first address's family): the IPv4 sibling wins
# as the mapped ::ffff:198.51.100.10.
he_case nonblocking/dead6-poll nb_case_race poll dead6.test "::ffff:$HE_LIVE" -s
he_case nonblocking/dead6-epoll-before nb_case_race epollpre dead6.test "::ffff:$HE_LIVE"
# An AF_INET6 socket connecting to dead4.test's IPv4 addresses as
# ::ffff:198.51.100.20.
he_case nonblocking/dead4-mapped-select nb_case_race select dead4.test "::ffff:$HE_LIVE" -6

# nb_case_own MODE [FLAGS...]: healthy.test: the caller's own attempt
# connects at once; nothing is changed.
nb_case_own() {
    local mode=$1
    shift
    he_run "$HE_BIN/nb_connect" -m "$mode" -g -s "$@" healthy.test "$LAB_PORT_HTTP"
    nb_clean
    nb_no_info
    nb_result connected 0 "$NB_OWN_MS"
    expect_rc 0
    nb_connected "$mode" "$HE_LIVE"
    nb_has "socket same"
    expect_reached "$HE_LIVE"
    expect_log_count http 1
    nb_settled
}
he_case nonblocking/healthy-poll nb_case_own poll
he_case nonblocking/healthy-epoll-before nb_case_own epollpre

# The program's own expectations hold without libhe, for every mechanism:
# a failure above is libhe's doing.
nb_case_baseline() {
    local args mode peer
    for args in "-m poll" "-m select" "-m epoll" "-m epollet" "-m oneshot" "-m epollpre" \
        "-m poll -f" "-m select -6"; do
        # shellcheck disable=SC2086 # split on purpose
        he_run --plain "$HE_BIN/nb_connect" $args -g -s healthy.test "$LAB_PORT_HTTP"
        nb_clean
        [ "$HE_RC" -eq 0 ] || he_fail "nb_connect $args without libhe: $(he_ctx)"
        mode=${args#-m }
        peer=$HE_LIVE
        [[ $args == *-6 ]] && peer=::ffff:$HE_LIVE
        nb_connected "${mode%% *}" "$peer"
        nb_has "socket same"
        nb_settled
    done
}
he_case nonblocking/baseline nb_case_baseline

# After a splice the program holds the winner's file, which the helper
# thread's epoll had watched: the helper must stop watching it, or it is
# told "writable" for ever and spins.  The process's CPU time while it
# sleeps 0.9 s after the splice (the helper lives about a second more)
# was 0.9 s before the fix, 0 after.
NB_SPIN_PY='
import os, select, socket, sys, time
socket.getaddrinfo("dead4.test", int(sys.argv[1]))
s = socket.socket()
s.setblocking(False)
s.connect_ex(("198.51.100.20", int(sys.argv[1])))
select.select([], [s], [], 3)
t0 = os.times()
time.sleep(0.9)
t1 = os.times()
print("peer", s.getpeername()[0])
print("idle_cpu_ms", round((t1.user + t1.system - t0.user - t0.system) * 1000))
'
nb_case_no_spin() {
    he_run /usr/bin/python3 -c "$NB_SPIN_PY" "$LAB_PORT_WHOAMI"
    expect_rc 0
    nb_has "peer $HE_LIVE"
    local cpu
    cpu=$(sed -n 's/^idle_cpu_ms //p' <<<"$HE_OUT")
    [ -n "$cpu" ] && [ "$cpu" -le 200 ] ||
        he_fail "the process used ${cpu:-?} ms of CPU while idle after the splice; $(he_ctx)"
}
he_case nonblocking/no-spin-after-splice nb_case_no_spin

# refuse.test: the caller's own attempt is refused at once (within
# connect() over the lab's veth).  Under libhe the sibling rescues it
# (racer/rescue.c): connect() waits for it, and the program's first look
# at the fd finds the winner, writable, nothing but POLLOUT/EPOLLOUT.
nb_case_refuse_rescued() {
    local mode=$1
    he_run "$HE_BIN/nb_connect" -m "$mode" -s -t "$HE_RACE_MS" refuse.test "$LAB_PORT_WHOAMI"
    nb_clean
    nb_no_info
    nb_result connected 0 "$NB_OWN_MS"
    expect_rc 0
    nb_connected "$mode" "$HE_LIVE"
    nb_has "socket replaced"
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    nb_settled
}
he_case nonblocking/refuse-poll nb_case_refuse_rescued poll
he_case nonblocking/refuse-epoll nb_case_refuse_rescued epoll

# Without libhe, or with HE_RESCUE_WAIT_MS=0: the program sees
# ECONNREFUSED, and the fd keeps that refused socket (checked 400 ms
# later, past the attempt delay: no sibling was spliced onto a socket
# whose failure the program has already seen).
nb_case_refuse() {
    local mode=$1
    shift
    he_run "$@" "$HE_BIN/nb_connect" -m "$mode" -k 400 -s -t "$HE_RACE_MS" refuse.test \
        "$LAB_PORT_WHOAMI"
    nb_clean
    nb_no_info
    nb_result error=ECONNREFUSED 0 "$NB_OWN_MS"
    expect_rc 1
    nb_has "so_error ECONNREFUSED"
    nb_has "after_failure same peer=no"
    expect_not_reached
    nb_settled
}
he_case nonblocking/refuse-poll-no-rescue nb_case_refuse poll --env HE_RESCUE_WAIT_MS=0
he_case nonblocking/refuse-poll-plain nb_case_refuse poll --plain

# alldead.test: nothing answers; the program's own timeout expires as
# without libhe, and closing the fd then leaves nothing of the race (with
# epoll: close-mid-race-epoll).
nb_case_alldead() {
    local mode=$1
    shift
    he_run "$@" "$HE_BIN/nb_connect" -m "$mode" -s -t "$NB_TIMEOUT_MS" alldead.test \
        "$LAB_PORT_WHOAMI"
    nb_clean
    nb_no_info
    nb_result timeout "$NB_TIMEOUT_MS" $((NB_TIMEOUT_MS + NB_TIMEOUT_LATE_MS))
    expect_rc 1
    expect_not_reached
    expect_log_quiet whoami
    nb_settled
}
he_case nonblocking/alldead-poll nb_case_alldead poll

# nb_case_midrace ACTION MODE [MS NAME]: MS (100) ms into a race for NAME
# (dead4.test, whose sibling is due at 250 ms), the program closes its fd
# (close, dup2 of /dev/null onto it, close_range, closefrom) and opens
# /dev/null on the freed number; 1.5 s later that number (every number,
# after closefrom) must still hold /dev/null, the epoll instance no
# registration for it, and no connection may have reached the server: the
# race was cancelled, siblings running or to come included.
nb_case_midrace() {
    local action=$1 mode=$2 at=${3:-100} name=${4:-dead4.test} intact
    he_run "$HE_BIN/nb_connect" -m "$mode" -s -a "$action@$at" "$name" "$LAB_PORT_WHOAMI"
    nb_clean
    nb_no_info
    expect_rc 0
    grep -qE "^action $action at=[0-9]+ reused=yes\$" <<<"$HE_OUT" ||
        he_fail "wanted /dev/null on the fd's number after the $action; $(he_ctx)"
    intact=$(grep -c '^intact fd=' <<<"$HE_OUT")
    [ "$intact" -eq "$([ "$action" = closefrom ] && echo 4 || echo 1)" ] ||
        he_fail "not every /dev/null was intact; $(he_ctx)"
    [ "$mode" = poll ] || nb_has "epoll_regs 0"
    expect_log_quiet whoami
    nb_settled
}
he_case nonblocking/close-mid-race nb_case_midrace close poll
he_case nonblocking/close-mid-race-epoll nb_case_midrace close epoll
he_case nonblocking/dup2-mid-race nb_case_midrace dup2 poll
he_case nonblocking/close_range-mid-race nb_case_midrace close_range poll
he_case nonblocking/closefrom-mid-race nb_case_midrace closefrom epollpre
# dead3x.test at 400 ms: a sibling (.21) running, .22 and the live .10 to
# come at 500 and 750 ms.
he_case nonblocking/close-mid-race-siblings nb_case_midrace close poll 400 dead3x.test

# fork 400 ms into a dead3x.test race (siblings .21 running, .22 and the
# live .10 to come): the child has one thread and exactly the parent's
# descriptors from before connect() (none of the race's); the parent still
# gets the winner, attempt 4.
nb_case_fork() {
    local mode=$1
    he_run --env HE_LOG=info "$HE_BIN/nb_connect" -m "$mode" -s -a fork@400 -t "$HE_RACE_MS" \
        dead3x.test "$LAB_PORT_WHOAMI"
    nb_clean
    grep -qE '^child fds=([0-9]+) want=\1 threads=1$' <<<"$HE_OUT" ||
        he_fail "the child inherited more than the program's own descriptors, or threads; $(he_ctx)"
    nb_has "child exit 0"
    nb_result connected $((3 * HE_DELAY_MS * 9 / 10)) $((3 * HE_DELAY_MS + NB_SLACK_MS))
    expect_rc 0
    nb_connected "$mode" "$HE_LIVE"
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    grep -qF "race dead3x.test: winner $HE_LIVE (attempt 4) " <<<"$HE_ERR" ||
        he_fail "wanted libhe to log attempt 4 ($HE_LIVE) as the winner; $(he_ctx)"
    nb_settled
}
he_case nonblocking/fork-mid-race nb_case_fork poll

# Out of descriptors: room for the program's socket only.  libhe cannot
# open anything for a race, so the program's own attempt goes on alone: its
# own timeout on the dead address, as without libhe; no crash, no leak.
nb_case_emfile() {
    he_run "$@" "$HE_BIN/nb_connect" -e -s -t "$NB_TIMEOUT_MS" dead4.test "$LAB_PORT_WHOAMI"
    nb_clean
    nb_no_info
    grep -q '^emfile fd=' <<<"$HE_OUT" || he_fail "no EMFILE set-up; $(he_ctx)"
    nb_result timeout "$NB_TIMEOUT_MS" $((NB_TIMEOUT_MS + NB_TIMEOUT_LATE_MS))
    expect_rc 1
    expect_log_quiet whoami
    nb_settled
}
he_case nonblocking/emfile nb_case_emfile
he_case nonblocking/emfile-plain nb_case_emfile --plain

# "It never splices onto an fd that no longer holds the caller's socket":
# connector threads looping connect/wait/close on
# dead4.test while opener threads loop open("/dev/null")/check/close on
# the same numbers; no /dev/null may ever be replaced, no socket replaced
# sooner than its own race could have won (-r), nothing left behind.
# Races must actually have been won in the poll()ing loops ("connected"),
# or the run proved nothing.  Named "threads" so that make check-tsan runs
# them too.
nb_case_stress() {
    local delay=$1
    shift
    # Without history: its check that a splice is the connect's own race's
    # relies on the attempt delay, which history shortens.
    he_run --env "HE_ATTEMPT_DELAY_MS=$delay" --env HE_HISTORY=off "$HE_BIN/nb_stress" "$@" \
        -d 1500 dead4.test "$LAB_PORT_WHOAMI"
    nb_clean
    nb_no_info
    expect_rc 0
    grep -qE '^stress connects=[1-9][0-9]* connected=[1-9][0-9]* opens=[1-9][0-9]*$' <<<"$HE_OUT" ||
        he_fail "wanted connects, connections won and opens; $(he_ctx)"
    nb_settled
}
# The default attempt delay: connects poll 120% of it (300 ms) or sleep
# 0..300 ms; a socket replaced within 80% of the delay after its connect()
# was not its own race's winner.
he_case nonblocking/threads-stress nb_case_stress "$HE_DELAY_MS" -w $((HE_DELAY_MS * 6 / 5)) \
    -r $((HE_DELAY_MS * 8 / 10))
# A 10 ms attempt delay: a splice every few ms, closes all around them.
he_case nonblocking/threads-stress-fast nb_case_stress 10 -w 20

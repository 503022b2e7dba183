#!/bin/bash
# Banner-aware racing (issue 13): for protocols where the server speaks
# first (SSH, SMTP, FTP, ...), a completed handshake does not prove a
# server is there.  A listener that never accept()s, a wedged server that
# accepts and never speaks, one that accepts and closes: each completes
# the handshake, so an ordinary race would hand it to the program, which
# then waits for a banner that never comes (or reads EOF).  On a port in
# HE_BANNER_PORTS (default 21,22,25,110,119,143,587,3306,5900) libhe's
# winner is the first attempt that has received a byte (a MSG_PEEK: the
# program still reads the whole banner itself):
#   - one that closes (EOF or RST) before a byte fails hard, as a refusal:
#     the next address starts at once, and the history learns "refused";
#   - one that is connected but silent stays in the race, the next address
#     starting on the usual schedule (the 250 ms attempt delay);
#   - if nothing has spoken HE_BANNER_TIMEOUT_MS (1000) after connect(),
#     the first that connected wins: what the program had without libhe.
# A blocking connect() returns when the winner is decided.  A non-blocking
# one is writable at its own handshake (that cannot be hidden); libhe goes
# on racing while it is silent and splices a sibling that speaks first
# onto the program's fd, but only while the program has neither written
# to nor read from its socket, so a program waiting for EPOLLIN wakes with
# the sibling's banner.  A port not in the list races as before: the first
# handshake wins.
#
# The lab (lab.sh's header): on port 22, 198.51.100.10 greets at once
# ("SSH-2.0-lab"), .40 never accepts, .41 accepts and closes, .42 and .43
# accept and stay silent, .44 greets 2 s after the accept; on port 2022
# (not in the list) .42 is silent and .10 greets.  All of them log to
# greet.log ("reached ADDR" at the accept, "ident ADDR LINE" for what a
# client wrote).  Names: bnoaccept.test (.40 .10), bclose.test (.41 .10),
# bsilent.test (.42 .10), bsilent2.test (.42 .43), bslow.test (.44, then
# the dead .20).
#
# Programs: ssh (blocking connect to each address in turn; the lab's
# greeter is no sshd: ssh exits 255, but the greeter logs ssh's
# identification line, which proves ssh talked to it); python3's
# socket.create_connection without a timeout (nb/banner_read.py); Perl's
# IO::Socket::INET, blocking (nb/banner_inet.pl); a C epoll client,
# non-blocking, first address only, waiting for EPOLLIN
# (progs/banner_epoll.c).  Each reads the server's first line with a
# timeout of its own and prints "peer ADDR", the outcome ("banner LINE",
# "eof", "timeout", "error ERRNO") and banner_ms, the time from before
# the connect to the outcome.  The --plain cases show the failure each
# scenario gives without libhe (a timeout of the program's own, kept short,
# or EOF at once).
#
# libhe runs with its defaults everywhere (HE_LOG=info only adds its race
# line, which the cases check), except in the case about HE_BANNER_PORTS.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

BAN_PORT=$LAB_PORT_GREET
BAN_GREETER=${LAB_LIVE4[0]}
# The programs' own read timeout (s): where the banner is expected (it is
# due after one attempt delay), and where the wait must expire.
BAN_WAIT_S=2
BAN_EXPIRE_S=1
# The greeter's banner, behind a silent first address, comes one attempt
# delay after connect() (at least 90% of it, as he_pacing_ms says), and
# within this; behind a closing one, before the attempt delay.
BAN_MS=1000
BAN_PACED_MS=$((HE_DELAY_MS * 9 / 10))
# HE_BANNER_TIMEOUT_MS (1000): when nothing has spoken, the first that
# connected wins this long after connect().
BAN_TIMEOUT_MIN_MS=900
BAN_TIMEOUT_MAX_MS=1600
# A slow greeter's banner under libhe: no later than without it, plus this.
BAN_SLACK_MS=100
# ssh's whole run (its start-up included) when the greeter is reached.
BAN_SSH_MS=$HE_RACE_MS
# An ssh that waits for a banner forever is killed after this (s): the
# case then fails as "hung", without waiting lib.sh's 6 s.
BAN_SSH_HANG_S=3

# ban_cmd PROG NAME PORT TIMEOUT [plain]: HE_CMD for PROG reading NAME's
# banner at PORT, giving up after TIMEOUT seconds.  ssh has no timeout
# of its own (a blocking connect, as t_ssh.sh), except plain: its
# ConnectTimeout also bounds the banner exchange.
ban_cmd() {
    local prog=$1 name=$2 port=$3 t=$4 plain=${5:-}
    case $prog in
    py) HE_CMD=(/usr/bin/python3 "$HE_IT_DIR/nb/banner_read.py" "$name" "$port" "$t") ;;
    perl) HE_CMD=(perl "$HE_IT_DIR/nb/banner_inet.pl" "$name" "$port" "$t") ;;
    c-epoll) HE_CMD=("$HE_BIN/banner_epoll" -t "$((t * 1000))" "$name" "$port") ;;
    ssh)
        HE_CMD=(ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null)
        [ -z "$plain" ] || HE_CMD+=(-o "ConnectTimeout=$t")
        HE_CMD+=(-p "$port" "$name" true)
        ;;
    *) he_fail "ban_cmd: unknown program $prog" ;;
    esac
}

# The program printed the line LINE.
ban_has() {
    grep -qxF "$1" <<<"$HE_OUT" || he_fail "wanted '$1'; $(he_ctx)"
}

# ban_ms_in KEY MIN MAX: the program's "KEY=N" line has N in MIN..MAX.
ban_ms_in() {
    local ms
    ms=$(sed -n "s/^$1=//p" <<<"$HE_OUT" | head -n 1)
    if ! [[ $ms =~ ^[0-9]+$ ]] || [ "$ms" -lt "$2" ] || [ "$ms" -gt "$3" ]; then
        he_fail "$1 '$ms', wanted $2..$3 ms; $(he_ctx)"
    fi
}

ban_ms() {
    sed -n "s/^$1=//p" <<<"$HE_OUT" | head -n 1
}

# ban_reached ADDR N: ADDR's server (greet.log) accepted N connections
# during this case.
ban_reached() {
    local n
    [ "$2" -eq 0 ] || he_log_wait greet "^reached $1\$"
    n=$(he_log_new greet | grep -cxF "reached $1")
    [ "$n" -eq "$2" ] ||
        he_fail "$1 accepted $n connections, wanted $2 (greet.log: '$(he_oneline "$(he_log_new greet)")'); $(he_ctx)"
}

# libhe's race line for NAME names WINNER, and REST (a regex) after it,
# e.g. the loser's state.
ban_race_line() {
    local re="race ${1//./\\.}: winner ${2//./\\.} .*${3//./\\.}"
    grep -qE "$re" <<<"$HE_ERR" || he_fail "no race line matching '$re'; $(he_ctx)"
}

# ---------------------------------------------------------------- a greeter second

# What each first address shows before it would speak: its loser state in
# the race line.
declare -A BAN_STATE=([noaccept]=silent [close]=closed [silent]=silent)

# ban_case_greeter PROG KIND: bKIND.test's first address (noaccept, close,
# silent) is passed over and PROG gets the greeter's banner, from
# 198.51.100.10: one attempt delay after connect() behind a silent one, at
# once behind one that closed.
ban_case_greeter() {
    local prog=$1 kind=$2 name=b$2.test first min=$BAN_PACED_MS max=$BAN_MS
    first=${LAB_NAMES[$name]%% *}
    [ "$kind" != close ] || { min=0 && max=$((BAN_PACED_MS - 1)); }
    ban_cmd "$prog" "$name" "$BAN_PORT" "$BAN_WAIT_S"
    if [ "$prog" = ssh ]; then
        HE_RUN_TIMEOUT_S=$BAN_SSH_HANG_S he_run --env HE_LOG=info "${HE_CMD[@]}"
        expect_rc 255
        expect_log_ident greet "$BAN_GREETER"
        expect_under_ms "$BAN_SSH_MS"
    else
        he_run --env HE_LOG=info "${HE_CMD[@]}"
        expect_rc 0
        ban_has "banner SSH-2.0-lab"
        ban_has "peer $BAN_GREETER"
        ban_ms_in banner_ms "$min" "$max"
        # The non-blocking program's own socket went to the first
        # address: the greeter's connection was spliced onto its fd.
        [ "$prog" != c-epoll ] || ban_has "socket replaced"
    fi
    ban_reached "$BAN_GREETER" 1
    ban_race_line "$name" "$BAN_GREETER" "$first ${BAN_STATE[$kind]}"
}

# A non-blocking program whose own attempt reaches the accept-and-close
# server first (README, "Banner-aware racing"): when the EOF comes after
# connect() returned, the program has the fd and may be reading it, so it
# sees that EOF itself (the documented limit); when it is there within
# connect() (often, over the lab's veth), the program has seen nothing and
# is rescued as from a refusal.  Either outcome, never a mix: an EOF on a
# replaced socket, or the greeter's banner on the closer's.
ban_case_close_nb() {
    ban_cmd c-epoll bclose.test "$BAN_PORT" "$BAN_WAIT_S"
    he_run "${HE_CMD[@]}"
    if grep -qx eof <<<"$HE_OUT"; then
        expect_rc 1
        ban_has "peer ${LAB_SPARE4[1]}"
        ban_has "socket same"
    else
        expect_rc 0
        ban_has "banner SSH-2.0-lab"
        ban_has "peer $BAN_GREETER"
        ban_has "socket replaced"
    fi
    ban_ms_in banner_ms 0 "$BAN_MS"
}

# ban_case_plain PROG KIND: without libhe, PROG is stuck with the first
# address: silent until its own timeout, or EOF at once (close).
ban_case_plain() {
    local prog=$1 kind=$2 name=b$2.test first
    first=${LAB_NAMES[$name]%% *}
    ban_cmd "$prog" "$name" "$BAN_PORT" "$BAN_EXPIRE_S" plain
    he_run --plain "${HE_CMD[@]}"
    if [ "$prog" = ssh ]; then
        expect_rc 255
        if [ "$kind" = close ]; then
            expect_under_ms "$HE_FAST_MS"
        else
            [[ $HE_ERR == *"timed out during banner exchange"* ]] ||
                he_fail "wanted ssh's banner timeout; $(he_ctx)"
        fi
        # ssh's identification went to the silent server.
        [ "$kind" != silent ] || expect_log_ident greet "$first"
    else
        expect_rc 1
        ban_has "peer $first"
        if [ "$kind" = close ]; then
            ban_has eof
            expect_under_ms "$HE_FAST_MS"
        else
            ban_has timeout
        fi
    fi
    ban_reached "$BAN_GREETER" 0
}

for kind in noaccept close silent; do
    for prog in ssh py perl c-epoll; do
        if [ "$prog/$kind" = c-epoll/close ]; then
            he_case "banner/c-epoll/close" ban_case_close_nb
        else
            he_case "banner/$prog/$kind" ban_case_greeter "$prog" "$kind"
        fi
        he_case "banner/$prog/$kind-plain" ban_case_plain "$prog" "$kind"
    done
done

# ---------------------------------------------------------------- nothing better

# A slow greeter (its banner 2 s after the accept), then a dead address:
# nothing speaks by the banner time, so the first that connected wins and
# the program gets the slow banner, no later than without libhe.  The
# blocking connect() returns at the banner time.
ban_case_slow() {
    local prog=$1 slow=${LAB_SPARE4[4]} plain_ms
    ban_cmd "$prog" bslow.test "$BAN_PORT" 3
    he_run --plain "${HE_CMD[@]}"
    expect_rc 0
    ban_has "banner SSH-2.0-lab"
    ban_has "peer $slow"
    plain_ms=$(ban_ms banner_ms)
    he_run --env HE_LOG=info "${HE_CMD[@]}"
    expect_rc 0
    ban_has "banner SSH-2.0-lab"
    ban_has "peer $slow"
    ban_ms_in banner_ms 0 "$((plain_ms + BAN_SLACK_MS))"
    if [ "$prog" = py ]; then
        ban_ms_in connect_ms "$BAN_TIMEOUT_MIN_MS" "$BAN_TIMEOUT_MAX_MS"
    else
        ban_has "socket same"
    fi
    # The dead address was raced, and lost when the banner time came.
    ban_race_line bslow.test "$slow" "${LAB_DEAD4[0]} cancelled"
}
he_case banner/py/slow-greeter ban_case_slow py
he_case banner/c-epoll/slow-greeter ban_case_slow c-epoll

# Two silent servers: libhe tries both, nothing speaks, and at the banner
# time the first that connected (.42) wins; the program's read then times
# out as without libhe.
ban_case_silent2() {
    local prog=$1 s1=${LAB_SPARE4[2]} s2=${LAB_SPARE4[3]}
    ban_cmd "$prog" bsilent2.test "$BAN_PORT" "$BAN_EXPIRE_S"
    # The non-blocking program's wait starts at connect(): past the banner
    # time.
    [ "$prog" != c-epoll ] || ban_cmd "$prog" bsilent2.test "$BAN_PORT" "$BAN_WAIT_S"
    he_run --env HE_LOG=info "${HE_CMD[@]}"
    expect_rc 1
    ban_has timeout
    ban_has "peer $s1"
    if [ "$prog" = py ]; then
        ban_ms_in connect_ms "$BAN_TIMEOUT_MIN_MS" "$BAN_TIMEOUT_MAX_MS"
    else
        ban_has "socket same"
    fi
    # libhe did race the second one while the first was silent.
    ban_reached "$s2" 1
    ban_race_line bsilent2.test "$s1" "$s2 silent"
}
he_case banner/py/two-silent ban_case_silent2 py
he_case banner/c-epoll/two-silent ban_case_silent2 c-epoll

ban_case_silent2_plain() {
    ban_cmd py bsilent2.test "$BAN_PORT" "$BAN_EXPIRE_S"
    he_run --plain "${HE_CMD[@]}"
    expect_rc 1
    ban_has timeout
    ban_has "peer ${LAB_SPARE4[2]}"
    ban_ms_in connect_ms 0 "$((BAN_PACED_MS - 1))"
    ban_reached "${LAB_SPARE4[3]}" 0
}
he_case banner/py/two-silent-plain ban_case_silent2_plain

# ---------------------------------------------------------------- as before

# A port not in HE_BANNER_PORTS (2022): the first handshake wins at once,
# silent or not, and the greeter behind it is never tried.
ban_case_offlist() {
    local prog=$1
    ban_cmd "$prog" bsilent.test "$LAB_PORT_GREET_OFF" "$BAN_EXPIRE_S"
    he_run "${HE_CMD[@]}"
    expect_rc 1
    ban_has timeout
    ban_has "peer ${LAB_SPARE4[2]}"
    if [ "$prog" = py ]; then
        ban_ms_in connect_ms 0 "$((BAN_PACED_MS - 1))"
    else
        ban_has "socket same"
    fi
    ban_reached "$BAN_GREETER" 0
}
he_case banner/py/port-not-listed ban_case_offlist py
he_case banner/c-epoll/port-not-listed ban_case_offlist c-epoll

# HE_BANNER_PORTS empty turns the feature off: the never-accepting first
# address wins its handshake at once, and the read times out as without
# libhe.
ban_case_off() {
    ban_cmd py bnoaccept.test "$BAN_PORT" "$BAN_EXPIRE_S"
    he_run --env HE_BANNER_PORTS= "${HE_CMD[@]}"
    expect_rc 1
    ban_has timeout
    ban_has "peer ${LAB_SPARE4[0]}"
    ban_ms_in connect_ms 0 "$((BAN_PACED_MS - 1))"
    ban_reached "$BAN_GREETER" 0
}
he_case banner/py/HE_BANNER_PORTS-empty ban_case_off

# A non-blocking program that writes before it reads is never spliced:
# it said its piece to the silent server (.42 logs it), and its fd keeps
# that connection however long it then waits (past the attempt delay and
# the banner time).
ban_case_write_first() {
    local s1=${LAB_SPARE4[2]}
    HE_CMD=("$HE_BIN/banner_epoll" -w -t 1500 bsilent.test "$BAN_PORT")
    he_run "${HE_CMD[@]}"
    expect_rc 1
    ban_has "peer_before $s1"
    ban_has "wrote 22"
    ban_has timeout
    ban_has "peer $s1"
    ban_has "socket same"
    he_log_wait greet "^ident $s1 SSH-2\\.0-banner_epoll\$" ||
        he_fail "the silent server did not get the program's line: '$(he_oneline "$(he_log_new greet)")'; $(he_ctx)"
    ! he_log_new greet | grep -q "^ident $BAN_GREETER " ||
        he_fail "the greeter got the program's line: '$(he_oneline "$(he_log_new greet)")'; $(he_ctx)"
}
he_case banner/c-epoll/write-first ban_case_write_first

# ---------------------------------------------------------------- history

# An address that closed before a word is learned as refused: he-history
# shows it, and the next connect, even a non-blocking one (which the
# first time may have read the EOF, see banner/c-epoll/close), goes to the
# greeter at once.
ban_case_learned() {
    local table closer=${LAB_SPARE4[1]}
    [ -x "$HE_HISTORY_CLI" ] || he_fail "he-history not built: $HE_HISTORY_CLI"
    ban_cmd py bclose.test "$BAN_PORT" "$BAN_WAIT_S"
    he_run "${HE_CMD[@]}"
    expect_rc 0
    ban_has "peer $BAN_GREETER"
    table=$("$HE_HISTORY_CLI" 2>&1)
    grep -qE "^${closer//./\\.} +$BAN_PORT +refused " <<<"$table" ||
        he_fail "he-history does not show $closer refused: $(he_oneline "$table")"
    ban_cmd c-epoll bclose.test "$BAN_PORT" "$BAN_WAIT_S"
    he_run "${HE_CMD[@]}"
    expect_rc 0
    ban_has "banner SSH-2.0-lab"
    ban_has "peer $BAN_GREETER"
    ban_ms_in banner_ms 0 "$((BAN_PACED_MS - 1))"
}
he_case banner/history/closed-learned-refused ban_case_learned

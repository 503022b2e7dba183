#!/bin/bash
# Signals during a raced connect (the promises: no fd leaked,
# the error the program would have seen, no lock held across a wait), with
# progs/conn_modes.c ("result rc=R errno=E ms=M", M timing connect() alone)
# and wget, whose --connect-timeout is SIGALRM plus siglongjmp.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# alarm() at 500 ms, handler without SA_RESTART, every address dead:
# -1/EINTR at 500 ms, with libhe as without.
signals_case_alarm() {
    he_run "$@" "$HE_BIN/conn_modes" alarm alldead.test "$LAB_PORT_WHOAMI" 500
    expect_no_fdleak
    expect_rc 1
    expect_result EINTR 480 800
    expect_under_ms 1500
    expect_log_quiet whoami
}
he_case signals/alarm-eintr signals_case_alarm
he_case signals/alarm-eintr-plain signals_case_alarm --plain

# EINTR, then connect() again on the same socket (the classic EINTR loop):
# the kernel goes on waiting for the connection in flight, and so must
# libhe: it races the name again instead of answering EALREADY at once.
# A 1000 ms SO_SNDTIMEO guards the second call.  Without history the
# second race waits out the rest of the attempt delay; with it (the
# default), an alarm after 150 ms (an attempt that long without an answer
# counts as timed out; one of 100 ms is borderline) taught libhe that the
# address times out, and the sibling starts at once.
signals_case_retry_dead4() {
    local alarm_ms=100
    [ "$1" = off ] || alarm_ms=150
    he_run --env "HE_HISTORY=$1" "$HE_BIN/conn_modes" retry dead4.test "$LAB_PORT_WHOAMI" \
        "$alarm_ms"
    grep -qx "first rc=-1 errno=EINTR" <<<"$HE_OUT" || he_fail "wanted EINTR first; $(he_ctx)"
    expect_rc 0
    if [ "$1" = off ]; then
        expect_result 0 200 600
    else
        expect_result 0 0 100
    fi
    expect_reached "$HE_LIVE"
}
he_case signals/retry-after-eintr signals_case_retry_dead4 user
he_case signals/retry-after-eintr-no-history signals_case_retry_dead4 off

# Everything dead: the second call waits for its guard and says EALREADY,
# with libhe as without.
signals_case_retry_alldead() {
    he_run "$@" "$HE_BIN/conn_modes" retry alldead.test "$LAB_PORT_WHOAMI" 100
    grep -qx "first rc=-1 errno=EINTR" <<<"$HE_OUT" || he_fail "wanted EINTR first; $(he_ctx)"
    expect_rc 1
    expect_result EALREADY 950 1300
    expect_log_quiet whoami
}
he_case signals/retry-alldead signals_case_retry_alldead
he_case signals/retry-alldead-plain signals_case_retry_alldead --plain

# SIGALRM every 50 ms, handler with SA_RESTART: the kernel would restart
# connect(), so the race goes on through the signals and wins.
signals_case_restart() {
    local alarms envs=()
    # ASan's own SIGSEGV/SIGBUS/SIGFPE handlers lack SA_RESTART, and then
    # any signal ends a race with EINTR (README, Limits): keep them out.
    if [ "${HE_SAN:-}" = asan ]; then
        envs=(--env "ASAN_OPTIONS=${ASAN_OPTIONS:-}:handle_segv=0:handle_sigbus=0:handle_sigfpe=0")
    fi
    he_run "${envs[@]}" "$HE_BIN/conn_modes" restart dead4.test "$LAB_PORT_WHOAMI" 50
    expect_no_fdleak
    expect_rc 0
    expect_result 0 $((HE_DELAY_MS * 9 / 10)) 1000
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    expect_under_ms "$HE_RACE_MS"
    alarms=$(sed -n 's/^alarms //p' <<<"$HE_OUT")
    [ "${alarms:-0}" -ge 2 ] || he_fail "only '${alarms}' signals arrived during connect; $(he_ctx)"
}
he_case signals/restart signals_case_restart

# Ten times: SIGALRM at 300 ms (a sibling is running by then) siglongjmps
# out of connect() to alldead.test and the program closes its fd.  The
# stranded siblings must be closed by the next call into libhe (a
# getaddrinfo, from a deeper frame than the connect was): no fd is left.
# Then the same process connects to dead6.test, from a helper function, with
# no timer: it must be raced and won as usual, so no lock was left held and
# libhe did not stay switched off.  (dead6.test shares no address with
# alldead.test: see t_shared.sh for names that do.)
signals_case_longjmp() {
    he_run "$HE_BIN/conn_modes" longjmp alldead.test "$LAB_PORT_WHOAMI" 10 dead6.test
    expect_no_fdleak
    grep -qE '^result rounds=10 fds_before=([0-9]+) fds_after=\1$' <<<"$HE_OUT" ||
        he_fail "wanted 10 rounds and the fd count unchanged; $(he_ctx)"
    expect_rc 0
    grep -q '^then rc=0 errno=0 ' <<<"$HE_OUT" || he_fail "the connect after the rounds failed; $(he_ctx)"
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    # 10 x 300 ms, then one race.
    expect_under_ms 4500
}
he_case signals/longjmp signals_case_longjmp

WGET=(wget --no-config --no-proxy -q -t 1 -O -)

# wget --connect-timeout=0.4 on alldead.test: each address is abandoned by
# siglongjmp after 0.4 s, and wget gives up.
signals_case_wget_alldead() {
    he_run "${WGET[@]}" --connect-timeout=0.4 "http://alldead.test:$LAB_PORT_HTTP/"
    expect_rc_nonzero
    expect_not_reached
    expect_log_quiet http
    expect_over_ms 350
    expect_under_ms 2000
}
he_case signals/wget-timeout-alldead signals_case_wget_alldead

# wget --connect-timeout=3 on dead4.test: the race wins long before wget's
# alarm.
signals_case_wget_dead4() {
    he_run "${WGET[@]}" --connect-timeout=3 "http://dead4.test:$LAB_PORT_HTTP/"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count http 1
    expect_over_ms $((HE_DELAY_MS * 9 / 10))
    expect_under_ms "$HE_RACE_MS"
}
he_case signals/wget-timeout-dead4 signals_case_wget_dead4

# Perl's alarm() timeout idiom around a connect: the die in the SIGALRM
# handler (perl's handlers have no SA_RESTART) must fire on time through
# libhe's race, as without it.
# shellcheck disable=SC2016 # Perl, not shell, variables
PERL_ALARM='
use IO::Socket::INET;
my $s = eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 1;
    my $c = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1], Proto => "tcp");
    alarm 0;
    $c;
};
if ($@ eq "timeout\n") { print "timeout\n"; exit 3; }
die "connect: $@ $!\n" unless $s;
print while <$s>;
'
signals_case_perl_alarm() {
    he_run "$@" /usr/bin/perl -e "$PERL_ALARM" alldead.test "$LAB_PORT_WHOAMI"
    expect_rc 3
    grep -qx timeout <<<"$HE_OUT" || he_fail "wanted the alarm to fire; $(he_ctx)"
    expect_over_ms 900
    expect_under_ms 1800
    expect_log_quiet whoami
}
he_case signals/perl-alarm-alldead signals_case_perl_alarm
he_case signals/perl-alarm-alldead-plain signals_case_perl_alarm --plain

# The same idiom where a sibling is live: connected well before the alarm.
signals_case_perl_alarm_dead4() {
    he_run /usr/bin/perl -e "$PERL_ALARM" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_under_ms 900
}
he_case signals/perl-alarm-dead4 signals_case_perl_alarm_dead4

#!/bin/bash
# libhe's own DNS (c-ares), with unmodified python3 and perl against the
# lab's dnsmasq (lab.sh's header; helpers at the end of lab.sh):
#
#   - a name's memory expires (c-ares TTL, or HE_MAP_TTL seconds for what
#     the program's own getaddrinfo taught) or is partial (one family, or
#     from gethostbyname); a connect to such an address starts the caller's
#     attempt at once and asks DNS again from inside the race, and the new
#     answers join it and update the memory;
#   - HE_RESOLVE=cares answers getaddrinfo itself, a lost AAAA costing the
#     50 ms Resolution Delay instead of glibc's timeouts;
#   - HE_HOSTS, a hosts file consulted first; HE_NAMESERVERS, the servers
#     libhe's own queries go to;
#   - a DNS server that is down makes nothing worse than without libhe.
#
# Long-running programs are started with he_run_bg and told to go on
# (he_bg_go) after the case has changed DNS and killed addresses under them.
# Names used here are each case's own (dns_set); spare addresses
# 198.51.100.40-.47 are the ones that move and die.
# A failing case here typically hangs in a connect() to a dead address
# until he_run's limit: keep that short, unless the run asks for longer.
HE_RUN_TIMEOUT_S=${HE_RUN_TIMEOUT_S:-5}
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

S=("${LAB_SPARE4[@]}")
PORT=$LAB_PORT_WHOAMI

# The python3 program of a long-running client:
#   PY_ROUNDS NAME PORT FAMILY(0|4|6) GO ROUNDS
# resolves NAME once (getaddrinfo, SOCK_STREAM), prints "resolved ADDR...",
# then connects ROUNDS+1 times to the first address, by number
# (socket.connect((ip, port)) on a blocking socket), printing
# "round N <the server's reply: reached ADDR> ms=M" (M: connect and reply)
# or "round N error ERRNO ms=M".  Before round N>0 it prints "waiting N"
# and waits for the file GO.N.
PY_ROUNDS='
import os, socket, sys, time
name, port, fam, go, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
family = {"0": socket.AF_UNSPEC, "4": socket.AF_INET, "6": socket.AF_INET6}[fam]
res = socket.getaddrinfo(name, port, family, socket.SOCK_STREAM)
print("resolved", " ".join(a[4][0] for a in res), flush=True)
for r in range(rounds + 1):
    if r:
        print("waiting %d" % r, flush=True)
        while not os.path.exists("%s.%d" % (go, r)):
            time.sleep(0.005)
    t = time.monotonic()
    s = socket.socket(res[0][0], socket.SOCK_STREAM)
    try:
        s.connect(res[0][4])
        reply = s.makefile().readline().strip()
    except OSError as e:
        reply = "error %s" % e.errno
    finally:
        s.close()
    print("round %d %s ms=%d" % (r, reply, (time.monotonic() - t) * 1000), flush=True)
'

# The same in perl, IO::Socket::INET to the first address by number:
#   PL_ROUNDS gai|ghbn NAME PORT GO ROUNDS
# resolving with Socket::getaddrinfo (AF_UNSPEC) or gethostbyname.
# shellcheck disable=SC2016 # Perl
PL_ROUNDS='
use strict; use warnings;
use Socket qw(getaddrinfo getnameinfo inet_ntoa AF_INET SOCK_STREAM NI_NUMERICHOST NIx_NOSERV);
use IO::Socket::INET; use Time::HiRes qw(time sleep);
my ($mode, $name, $port, $go, $rounds) = @ARGV;
$| = 1;
my @addrs;
if ($mode eq "ghbn") {
    my @h = gethostbyname($name) or die "gethostbyname $name failed\n";
    @addrs = map { inet_ntoa($_) } @h[4 .. $#h];
} else {
    my ($err, @res) = getaddrinfo($name, $port, {socktype => SOCK_STREAM});
    die "getaddrinfo $name: $err\n" if $err;
    @addrs = map { (getnameinfo($_->{addr}, NI_NUMERICHOST, NIx_NOSERV))[1] }
             grep { $_->{family} == AF_INET } @res;
}
print "resolved @addrs\n";
for my $r (0 .. $rounds) {
    if ($r) { print "waiting $r\n"; sleep 0.005 until -e "$go.$r"; }
    my $t = time;
    my $s = IO::Socket::INET->new(PeerAddr => $addrs[0], PeerPort => $port, Proto => "tcp");
    my $reply = $s ? scalar(<$s>) : undef;
    $reply = "error " . ($! + 0) unless defined $reply;
    chomp $reply;
    printf "round %d %s ms=%d\n", $r, $reply, (time - $t) * 1000;
}
'

# Python's create_connection (getaddrinfo, then each address in order):
#   PY_CONNECT NAME PORT -> the server's reply, or "error ..." and exit 1.
PY_CONNECT='
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
except socket.gaierror as e:
    print("error gai", e.errno)
    sys.exit(1)
print(s.makefile().readline().strip())
'

GO() { echo "$HE_CASE_DIR/go"; }

# The ms= figure of round N.
round_ms() { sed -n "s/^round $1 .* ms=\\([0-9]*\\)\$/\\1/p" "$HE_CASE_DIR/stdout"; }

# Round N of the background program reached ADDR within MAX ms.
expect_round() {
    local n=$1 addr=$2 max=$3 line ms
    line=$(grep -m 1 "^round $n " "$HE_CASE_DIR/stdout")
    HE_OUT=$(<"$HE_CASE_DIR/stdout")
    HE_ERR=$(<"$HE_CASE_DIR/stderr")
    [[ $line == "round $n reached $addr ms="* ]] ||
        he_fail "round $n: wanted 'reached $addr', got '$line'; output '$(he_oneline "$HE_OUT")'; stderr '$(he_oneline "$HE_ERR")'"
    ms=$(round_ms "$n")
    [ "$ms" -le "$max" ] || he_fail "round $n took $ms ms, budget $max ms; output '$(he_oneline "$HE_OUT")'"
}

# Starts a PY_ROUNDS / PL_ROUNDS client with ROUNDS later rounds and waits
# for its round 0.
start_rounds() {
    local rounds=$1
    shift
    he_run_bg "$@"
    if [ "$rounds" -gt 0 ]; then
        he_bg_wait_out '^waiting 1$'
    else
        he_bg_wait_out '^round 0 '
    fi
}

# Sleeps until a memory learned from glibc with HE_MAP_TTL=1 has expired
# (and, past 2 s, what c-ares learned with dnsmasq's TTL of 2 s).
expire() { sleep "${1:-1.2}"; }

# ---------------------------------------------------------------- rescue

# A long-running python3 resolved stale.dns.test once and keeps connecting
# to that address.  DNS moves the name to a live address and the old one
# dies.  Once its memory has expired (HE_MAP_TTL=1), the next connect to
# the old address asks DNS from inside the race and reaches the new
# address: within the attempt delay plus a DNS round trip, ~1.5 s at most.
# Without libhe it hangs (the kernel's SYN timeout).
dns_stale_rescue() {
    local old=${S[0]} new=${S[1]} q0
    dns_set stale.dns.test "$old"
    start_rounds 1 --env HE_MAP_TTL=1 --env HE_LOG=debug /usr/bin/python3 -c "$PY_ROUNDS" stale.dns.test "$PORT" 0 "$(GO)" 1
    expect_round 0 "$old" 1000
    dns_set stale.dns.test "$new"
    lab_kill "$old"
    expire
    q0=$(dns_query_count stale.dns.test A)
    he_bg_go 1
    he_run_wait
    expect_rc 0
    expect_round 1 "$new" 1500
    [ "$(dns_query_count stale.dns.test A)" -gt "$q0" ] ||
        he_fail "libhe sent no A query for stale.dns.test; $(he_ctx)"
    # c-ares made its sockets through libc, never through libhe's hooks:
    # the refresh reports how often a hook was entered from inside it.
    grep -q "refresh stale.dns.test: .*hook re-entries from c-ares: 0$" "$HE_CASE_DIR/stderr" ||
        he_fail "no refresh line with 0 hook re-entries; $(he_ctx)"
    round_ms 1 >"$HE_CASE_DIR/ms"
}
dns_case dns/stale-rescue dns_stale_rescue

# Perl, same story, but the name keeps its (now dead) address and gains a
# live sibling: the refreshed answer joins the race.  It also updates the
# memory: with DNS down, another connect to the dead address still races
# the sibling, from memory.
dns_expired_adds_sibling() {
    local old=${S[2]} sib=${S[3]}
    dns_set sib.dns.test "$old"
    start_rounds 2 --env HE_MAP_TTL=1 --env HE_LOG=debug /usr/bin/perl -e "$PL_ROUNDS" gai sib.dns.test "$PORT" "$(GO)" 2
    expect_round 0 "$old" 1000
    dns_set sib.dns.test "$old" "$sib"
    lab_kill "$old"
    expire
    he_bg_go 1
    he_bg_wait_out '^waiting 2$' 4
    expect_round 1 "$sib" 1500
    # Two addresses in the answer: c-ares would sort them with sockets of
    # its own unless told not to; none may go through libhe's hooks.
    grep -q "refresh sib.dns.test: A answered (2).*hook re-entries from c-ares: 0$" \
        "$HE_CASE_DIR/stderr" || he_fail "no refresh of 2 with 0 hook re-entries; $(he_ctx)"
    dns_down
    he_bg_go 2
    he_run_wait
    expect_rc 0
    expect_round 2 "$sib" 1000
}
dns_case dns/expired-adds-sibling dns_expired_adds_sibling

# Partial memory, one family: python3 asked for AF_INET6 only and got the
# dead IPv6 address; the name also has a live IPv4 one.  The memory is
# fresh (default HE_MAP_TTL) but knows one family, so the connect asks DNS
# and races the IPv4 address (as ::ffff:a.b.c.d on the AF_INET6 socket).
dns_partial_family() {
    local v6=${LAB_SPARE6[4]} v4=${S[4]}
    dns_set part.dns.test "$v6" "$v4"
    lab_kill "$v6"
    he_run /usr/bin/python3 -c "$PY_ROUNDS" part.dns.test "$PORT" 6 "$(GO)" 0
    expect_rc 0
    grep -qx "resolved $v6" <<<"$HE_OUT" || he_fail "python did not resolve to just $v6; $(he_ctx)"
    expect_round 0 "$v4" 1500
}
dns_case dns/partial-family dns_partial_family

# gethostbyname: perl resolved with gethostbyname (IPv4 only, no TTL).
# Its AF_INET socket has no use for IPv6, so the IPv4 list counts as whole
# to it, fresh for HE_MAP_TTL (1 s here); then, after DNS adds a sibling and
# the first address dies, the next connect asks DNS and reaches the sibling.
dns_ghbn_partial() {
    local old=${S[5]} sib=${S[6]}
    dns_set ghbn.dns.test "$old"
    start_rounds 1 --env HE_MAP_TTL=1 /usr/bin/perl -e "$PL_ROUNDS" ghbn ghbn.dns.test "$PORT" "$(GO)" 1
    expect_round 0 "$old" 1000
    dns_set ghbn.dns.test "$old" "$sib"
    lab_kill "$old"
    sleep 1.1
    he_bg_go 1
    he_run_wait
    expect_rc 0
    expect_round 1 "$sib" 1500
}
dns_case dns/ghbn-partial dns_ghbn_partial

# A fresh memory (just resolved, HE_MAP_TTL default) sends no query: not
# for a plain connect, not for a race.  Compared with the same program
# without libhe (glibc's own A and AAAA queries).
dns_fresh_no_query() {
    local q0 plain_n he_n
    dns_set fresh.dns.test "${S[7]}"
    q0=$(dns_query_count fresh.dns.test)
    he_run --plain /usr/bin/python3 -c "$PY_ROUNDS" fresh.dns.test "$PORT" 0 "$(GO)" 0
    expect_rc 0
    expect_round 0 "${S[7]}" 1000
    sleep 0.2
    plain_n=$(($(dns_query_count fresh.dns.test) - q0))
    q0=$(dns_query_count fresh.dns.test)
    he_run /usr/bin/python3 -c "$PY_ROUNDS" fresh.dns.test "$PORT" 0 "$(GO)" 0
    expect_rc 0
    expect_round 0 "${S[7]}" 1000
    sleep 0.2
    he_n=$(($(dns_query_count fresh.dns.test) - q0))
    [ "$he_n" -eq "$plain_n" ] ||
        he_fail "connect: $he_n queries under libhe, $plain_n without: $(he_oneline "$(he_log_new dnsmasq | grep fresh.dns.test)")"
    # A race: dead4.dns.test is a dead address, then a live one.
    q0=$(dns_query_count dead4.dns.test)
    he_run --plain /usr/bin/python3 -c "$PY_GAI" dead4.dns.test 0
    sleep 0.2
    plain_n=$(($(dns_query_count dead4.dns.test) - q0))
    q0=$(dns_query_count dead4.dns.test)
    he_run /usr/bin/python3 -c "$PY_CONNECT" dead4.dns.test "$PORT"
    expect_rc 0
    expect_reached "$HE_LIVE"
    # The connects above taught the history the /24's RTT: the delay is
    # derived from it.
    expect_over_ms $((HE_MIN_DELAY_MS * 9 / 10))
    sleep 0.2
    he_n=$(($(dns_query_count dead4.dns.test) - q0))
    [ "$he_n" -eq "$plain_n" ] ||
        he_fail "race: $he_n queries under libhe, $plain_n without: $(he_oneline "$(he_log_new dnsmasq | grep dead4.dns.test)")"
}
dns_case dns/fresh-no-query dns_fresh_no_query

# ---------------------------------------------------------------- HE_RESOLVE=cares

# lost6.dns.test has A and AAAA, and its AAAA queries are dropped.  Plain
# glibc needs 3 s (t_dns_lab.sh's dns_lab/lost-aaaa-glibc); libhe with
# HE_RESOLVE=cares returns the A answer after the 50 ms Resolution Delay.
dns_lost_aaaa_cares() {
    dns_drop_aaaa lost6.dns.test
    he_run --env HE_RESOLVE=cares /usr/bin/python3 -c "$PY_GAI" lost6.dns.test 0
    expect_rc 0
    [ "$(head -n 1 <<<"$HE_OUT")" = "${LAB_DNS_NAMES[lost6.dns.test]%% *}" ] ||
        he_fail "wanted just the A answer; $(he_ctx)"
    [ "$(gai_ms)" -lt 500 ] || he_fail "getaddrinfo took $(gai_ms) ms, budget 500; $(he_ctx)"
    gai_ms >"$HE_CASE_DIR/ms"
}
dns_case dns/lost-aaaa-cares dns_lost_aaaa_cares

# The same lookup without the drop: both answers, in glibc's order.
dns_cares_both() {
    he_run --plain /usr/bin/python3 -c "$PY_GAI" lost6.dns.test 0
    local want
    want=$(head -n 1 <<<"$HE_OUT")
    he_run --env HE_RESOLVE=cares /usr/bin/python3 -c "$PY_GAI" lost6.dns.test 0
    expect_rc 0
    [ "$(head -n 1 <<<"$HE_OUT")" = "$want" ] || he_fail "wanted '$want' as glibc; $(he_ctx)"
    [ "$(gai_ms)" -lt 500 ] || he_fail "getaddrinfo took $(gai_ms) ms; $(he_ctx)"
}
dns_case dns/cares-both-families dns_cares_both

# ---------------------------------------------------------------- server down

# The server does not answer at all: resolving fails the way it does
# without libhe, and no later (plain glibc: its 1 s timeout), with or
# without HE_RESOLVE=cares.
dns_down_resolve() {
    local plain_out plain_ms
    dns_down
    he_run --plain /usr/bin/python3 -c "$PY_CONNECT" a4.dns.test "$PORT"
    expect_rc 1
    plain_out=$HE_OUT plain_ms=$HE_MS
    he_run /usr/bin/python3 -c "$PY_CONNECT" a4.dns.test "$PORT"
    [ "$HE_OUT" = "$plain_out" ] || he_fail "without libhe: '$plain_out'; $(he_ctx)"
    expect_under_ms $((plain_ms + 500))
    he_run --env HE_RESOLVE=cares /usr/bin/python3 -c "$PY_CONNECT" a4.dns.test "$PORT"
    [ "$HE_OUT" = "$plain_out" ] || he_fail "HE_RESOLVE=cares: without libhe '$plain_out'; $(he_ctx)"
    expect_under_ms $((plain_ms + 500))
}
dns_case dns/server-down-resolve dns_down_resolve

# The memory expired and the server is down: a connect to the (live) old
# address must be as quick as ever, the refresh that cannot succeed
# neither holding it up nor the program's exit.
dns_down_stale() {
    local a=${S[0]} t0 ms
    dns_set down.dns.test "$a"
    start_rounds 1 --env HE_MAP_TTL=1 /usr/bin/python3 -c "$PY_ROUNDS" down.dns.test "$PORT" 0 "$(GO)" 1
    expect_round 0 "$a" 1000
    dns_down
    expire
    t0=$(he_now_us)
    he_bg_go 1
    he_run_wait
    ms=$((($(he_now_us) - t0) / 1000))
    expect_rc 0
    expect_round 1 "$a" 200
    [ "$ms" -lt 500 ] || he_fail "the program took $ms ms to finish after its last round; $(he_ctx)"
}
dns_case dns/server-down-stale dns_down_stale

# ---------------------------------------------------------------- HE_HOSTS
#
# HE_HOSTS answers the program's lookups ahead of anything else, with or
# without HE_RESOLVE=cares: each case runs both ways, the second named
# NAME-cares.  HH_ENV is the run's extra environment.

# HE_HOSTS gives hh.dns.test (not in DNS) three addresses, the first dead:
# create_connection gets them all, in file order, and is rescued.
dns_he_hosts_rescue() {
    local f=$HE_CASE_DIR/he_hosts
    printf '%s\thh.dns.test\n' "${LAB_DEAD4[0]}" "$HE_LIVE" "${LAB_LIVE4[1]}" >"$f"
    he_run --plain /usr/bin/python3 -c "$PY_CONNECT" hh.dns.test "$PORT"
    expect_rc 1 # the lab: not in DNS
    he_run "${HH_ENV[@]}" --env "HE_HOSTS=$f" /usr/bin/python3 -c "$PY_CONNECT" hh.dns.test "$PORT"
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_over_ms $((HE_DELAY_MS * 9 / 10))
    expect_under_ms "$HE_RACE_MS"
    [ -z "$HE_ERR" ] || he_fail "wanted nothing on stderr; $(he_ctx)"
}

# An alias on an HE_HOSTS line resolves like the line's first name.
dns_he_hosts_alias() {
    local f=$HE_CASE_DIR/he_hosts
    printf '%s\thh.dns.test hh-alias.dns.test\n' "${LAB_LIVE4[1]}" >"$f"
    he_run "${HH_ENV[@]}" --env "HE_HOSTS=$f" /usr/bin/python3 -c "$PY_GAI" hh-alias.dns.test 0
    [ "$(head -n 1 <<<"$HE_OUT")" = "${LAB_LIVE4[1]}" ] || he_fail "wanted ${LAB_LIVE4[1]}; $(he_ctx)"
}

# A line that is not an address gets exactly one warning naming the file
# and the line (however many lookups), and the other lines still count.
dns_he_hosts_garbage() {
    local f=$HE_CASE_DIR/he_hosts
    printf '%s\n' "# comment" "not-an-address hh.dns.test" "$HE_LIVE hh.dns.test" >"$f"
    he_run "${HH_ENV[@]}" --env "HE_HOSTS=$f" /usr/bin/python3 -c "$PY_CONNECT" hh.dns.test "$PORT"
    expect_rc 0
    expect_reached "$HE_LIVE"
    he_run "${HH_ENV[@]}" --env "HE_HOSTS=$f" /usr/bin/python3 -c "$PY_GAI
socket.getaddrinfo('hh.dns.test', 80)
socket.getaddrinfo('a4.dns.test', 80)" hh.dns.test 0
    expect_rc 0
    [ "$(grep -c . <<<"$HE_ERR")" -eq 1 ] || he_fail "wanted exactly one line on stderr; $(he_ctx)"
    if [[ $HE_ERR != *"$f"* ]] || ! grep -qE '(:| line )2([^0-9]|$)' <<<"$HE_ERR"; then
        he_fail "wanted a warning naming $f and line 2; $(he_ctx)"
    fi
}

# Names HE_HOSTS does not have fall through to the normal resolution:
# /etc/hosts, DNS, NXDOMAIN, exactly as glibc answers them.
dns_he_hosts_fallthrough() {
    local f=$HE_CASE_DIR/he_hosts name want
    printf '%s\thh.dns.test\n' "${LAB_LIVE4[1]}" >"$f"
    for name in healthy.test dead6.test a4.dns.test both.dns.test cname.dns.test nx.dns.test; do
        he_run --plain /usr/bin/python3 -c "$PY_GAI" "$name" 0
        want=$(head -n 1 <<<"$HE_OUT")
        he_run "${HH_ENV[@]}" --env "HE_HOSTS=$f" /usr/bin/python3 -c "$PY_GAI" "$name" 0
        [ "$(head -n 1 <<<"$HE_OUT")" = "$want" ] || he_fail "$name: wanted '$want'; $(he_ctx)"
    done
}

for kind in rescue alias garbage fallthrough; do
    HH_ENV=()
    dns_case "dns/he-hosts-$kind" "dns_he_hosts_$kind"
    HH_ENV=(--env HE_RESOLVE=cares)
    dns_case "dns/he-hosts-$kind-cares" "dns_he_hosts_$kind"
done

# ---------------------------------------------------------------- HE_NAMESERVERS

ALT_NS=$LAB_DNS4:$LAB_DNS_ALT_PORT

# alt.dns.test exists only on the alt server (port 5353); resolv.conf
# names the main one.  HE_RESOLVE=cares with HE_NAMESERVERS finds it.
dns_nameservers_alt() {
    local n0
    he_run --plain /usr/bin/python3 -c "$PY_GAI" alt.dns.test 0
    [[ $HE_OUT == error* ]] || he_fail "the lab: alt.dns.test should be unknown to resolv.conf's server; $(he_ctx)"
    n0=$(dns_query_count --alt alt.dns.test)
    he_run --env HE_RESOLVE=cares --env "HE_NAMESERVERS=$ALT_NS" /usr/bin/python3 -c "$PY_GAI" alt.dns.test 0
    expect_rc 0
    [ "$(head -n 1 <<<"$HE_OUT")" = "${LAB_DNS_ALT_NAMES[alt.dns.test]}" ] || he_fail "wanted ${LAB_DNS_ALT_NAMES[alt.dns.test]}; $(he_ctx)"
    [ "$(dns_query_count --alt alt.dns.test)" -gt "$n0" ] || he_fail "the alt server was not asked; $(he_ctx)"
}
dns_case dns/nameservers-alt dns_nameservers_alt

# resolv.conf's server is down; HE_NAMESERVERS points at the alt one, so
# lookups stay quick and right.
dns_nameservers_main_down() {
    dns_down
    he_run --env HE_RESOLVE=cares --env "HE_NAMESERVERS=$ALT_NS" /usr/bin/python3 -c "$PY_GAI" both.dns.test 0
    expect_rc 0
    [ "$(head -n 1 <<<"$HE_OUT")" = "2001:db8:1::10 198.51.100.10 198.51.100.11" ] || he_fail "wrong answer; $(he_ctx)"
    [ "$(gai_ms)" -lt 500 ] || he_fail "took $(gai_ms) ms; $(he_ctx)"
}
dns_case dns/nameservers-main-down dns_nameservers_main_down

# libhe's own refresh queries (no HE_RESOLVE) go to HE_NAMESERVERS too:
# the stale rescue with resolv.conf's server down.
dns_nameservers_refresh() {
    local old=${S[2]} new=${S[3]} n0
    dns_set nsr.dns.test "$old"
    start_rounds 1 --env HE_MAP_TTL=1 --env "HE_NAMESERVERS=$ALT_NS" \
        /usr/bin/python3 -c "$PY_ROUNDS" nsr.dns.test "$PORT" 0 "$(GO)" 1
    expect_round 0 "$old" 1000
    dns_down
    dns_set nsr.dns.test "$new"
    lab_kill "$old"
    expire
    n0=$(dns_query_count --alt nsr.dns.test)
    he_bg_go 1
    he_run_wait
    expect_rc 0
    expect_round 1 "$new" 1500
    [ "$(dns_query_count --alt nsr.dns.test)" -gt "$n0" ] || he_fail "the alt server was not asked; $(he_ctx)"
}
dns_case dns/nameservers-refresh dns_nameservers_refresh

# ---------------------------------------------------------------- fds

# Forty stale races of every kind in one python3 process, then an idle
# moment: /proc/self/fd has what it had before the first race.
#   round 1  all 8 memories expired, addresses live, DNS fine
#   round 2  4 names' AAAA queries lost (addresses live); the other 4
#            moved to a live address, their old ones dead (rescues)
#   round 3  DNS down, every address live again, 3 connects per name
PY_FDS='
import os, socket, sys, time
port, go, reps = int(sys.argv[1]), sys.argv[2], [int(n) for n in sys.argv[3].split(",")]
names = sys.argv[4:]
addrs = [socket.getaddrinfo(n, port, socket.AF_UNSPEC, socket.SOCK_STREAM)[0][4] for n in names]
def fds():
    out = {}
    for f in os.listdir("/proc/self/fd"):
        try:
            out[f] = os.readlink("/proc/self/fd/" + f)
        except OSError:
            pass  # the directory stream of listdir
    return out
before = fds()
for r, rep in enumerate(reps, 1):
    print("waiting %d" % r, flush=True)
    while not os.path.exists("%s.%d" % (go, r)):
        time.sleep(0.005)
    got = []
    for a in addrs:
        for _ in range(rep):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.connect(a)
                got.append(s.makefile().readline().strip().replace("reached ", ""))
            except OSError as e:
                got.append("error-%d" % e.errno)
            finally:
                s.close()
    print("round %d %s" % (r, " ".join(got)), flush=True)
time.sleep(1.5)
after = fds()
extra = sorted("%s->%s" % (f, t) for f, t in after.items() if before.get(f) != t)
print("fds before=%d after=%d" % (len(before), len(after)) + "".join(" " + e for e in extra), flush=True)
'
dns_no_fd_leak() {
    local HE_RUN_TIMEOUT_S=$((HE_RUN_TIMEOUT_S > 14 ? HE_RUN_TIMEOUT_S : 14)) names=() i want
    for i in 0 1 2 3 4 5 6 7; do
        names+=("leak$i.dns.test")
        dns_set "leak$i.dns.test" "${S[i]}"
    done
    he_run_bg --env HE_MAP_TTL=1 /usr/bin/python3 -c "$PY_FDS" "$PORT" "$(GO)" 1,1,3 "${names[@]}"
    he_bg_wait_out '^waiting 1$'
    expire
    he_bg_go 1
    he_bg_wait_out '^waiting 2$' 4
    want="round 1 ${S[*]}"
    grep -qx "$want" "$HE_CASE_DIR/stdout" || he_fail "wanted '$want'; got '$(he_oneline "$(cat "$HE_CASE_DIR/stdout")")'"
    for i in 0 1 2 3; do
        dns_drop_aaaa "leak$i.dns.test"
    done
    for i in 4 5 6 7; do
        dns_set "leak$i.dns.test" "$HE_LIVE"
        lab_kill "${S[i]}"
    done
    expire 2.2
    he_bg_go 2
    he_bg_wait_out '^waiting 3$' 5
    want="round 2 ${S[*]:0:4} $HE_LIVE $HE_LIVE $HE_LIVE $HE_LIVE"
    grep -qx "$want" "$HE_CASE_DIR/stdout" || he_fail "wanted '$want'; got '$(he_oneline "$(cat "$HE_CASE_DIR/stdout")")'"
    lab_revive
    dns_undrop
    dns_down
    expire 2.2
    he_bg_go 3
    he_run_wait
    expect_rc 0
    want="round 3"
    for i in 0 1 2 3 4 5 6 7; do
        want+=" ${S[i]} ${S[i]} ${S[i]}"
    done
    grep -qx "$want" <<<"$HE_OUT" || he_fail "wanted '$want'; $(he_ctx)"
    local fdline
    fdline=$(grep '^fds ' <<<"$HE_OUT")
    if ! [[ $fdline =~ ^fds\ before=([0-9]+)\ after=([0-9]+)$ ]] ||
        [ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[2]}" ]; then
        he_fail "fd leak (fd->target new or changed after the races): '$fdline'; $(he_ctx)"
    fi
}
dns_case dns/no-fd-leak dns_no_fd_leak

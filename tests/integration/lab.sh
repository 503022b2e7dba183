# shellcheck shell=bash
# The hermetic network for libhe's integration tests.  Sourced by run.sh,
# which has already unshared a private network and mount namespace; nothing
# here touches the host's network or files.
#
#   client (our namespace)              server netns "hesrv"
#   lo, he0 ------------- veth ----------- he1, lo
#   198.51.100.1/32                       live    198.51.100.10, .11   2001:db8:1::10
#   2001:db8:1::1/64                      dead    198.51.100.20-.23    2001:db8:1::20  (DROP)
#   route 198.51.100.0/24 dev he0         refuse  198.51.100.30        2001:db8:1::30  (RST)
#                                         spare   198.51.100.40-.47    2001:db8:1::40-::47
#                                         dns     198.51.100.53        2001:db8:1::53  (53, 5353)
#
# Why the client's IPv4 address is a /32 plus a device route rather than a
# /24: glibc's getaddrinfo sorts results by RFC 6724, and its rule 9
# (longest matching prefix) is applied to IPv4 destinations that lie in the
# source address's own subnet.  With 198.51.100.1/24, .10 shares more
# leading bits with .1 than .20 or .30 do, so "dead4.test" would come back
# as .10 first and the dead address would never be tried.  A /32 puts every
# destination outside the source's subnet, which turns rule 9 off for IPv4
# and leaves /etc/hosts order alone.  (For IPv6, glibc's rule 9 ignores
# prefix lengths; see lab_resolver for dead6v6.test.  Rule 6 puts
# 2001:db8::/32, precedence 40, ahead of IPv4, precedence 10 in glibc's
# table, as dead6.test and refuse6.test need.)
#
# Servers (servers.py) run in hesrv, never in the client namespace: RFC 6724
# would sort local addresses first.
#
# Spare addresses 198.51.100.40-.47 and 2001:db8:1::40-::47 answer like the
# live ones until a case kills them (lab_kill ADDR..., DROP like the dead
# ones) and come back with lab_revive; DNS cases move names onto them.
#
# Servers that speak first, for banner-aware racing (t_banner.sh): a second
# servers.py in hesrv (--at, log $LAB_LOG_DIR/greet.log) listens on port 22
# (LAB_PORT_GREET, in HE_BANNER_PORTS' default list) of single addresses:
#
#   198.51.100.10  greet        "SSH-2.0-lab" at once (the live greeter)
#   198.51.100.40  noaccept     listens, never accepts
#   198.51.100.41  acceptclose  accepts, closes without a byte
#   198.51.100.42  silent       accepts, never speaks
#   198.51.100.43  silent
#   198.51.100.44  slowgreet    its banner 2 s after the accept
#
# and on port 2022 (LAB_PORT_GREET_OFF, in no list): 198.51.100.42 silent,
# 198.51.100.10 greet.  Nothing else listens on these ports: the other
# addresses refuse them (the dead ones drop them).  (servers.py's
# header describes each kind.)
#
# DNS.  dnsmasq (Debian's dnsmasq-base) runs in hesrv on 198.51.100.53 and
# 2001:db8:1::53, port 53, and a second instance on the same addresses,
# port 5353 (the "alt" server, for HE_NAMESERVERS):
#
#   dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts
#           --addn-hosts=$HE_WORK/dns/hosts --local=/#/ --local-ttl=2
#           --no-round-robin --bind-interfaces
#           --listen-address=198.51.100.53 --listen-address=2001:db8:1::53
#           --log-queries --log-facility=$LAB_LOG_DIR/dnsmasq.log ...
#
# It answers only from its hosts file ($LAB_DNS_HOSTS, generated from
# LAB_DNS_NAMES below and what dns_set changes; the alt server also reads
# $LAB_DNS_HOSTS_ALT, names only it knows), with a TTL of 2 s, a name's
# addresses always in the order given (lab_dns_render says how); every
# other name, in any domain, is NXDOMAIN (--local=/#/), never forwarded
# anywhere.  CNAMEs come from LAB_DNS_CNAMES.  DNS names live under
# dns.test and are not in the lab's /etc/hosts, which keeps the *.test
# names the other cases use: nsswitch is "hosts: files dns", so those
# never reach DNS (files answers first).  (glibc still sorts what DNS
# answers by RFC 6724: IPv6 ahead of IPv4 here, see above.)  Query logs:
# $LAB_LOG_DIR/dnsmasq.log and dnsmasq-alt.log, dnsmasq's own messages in
# *.log.out next to them.
#
# The lab's /etc/resolv.conf is
#
#   nameserver 198.51.100.53
#   options timeout:1 attempts:1
#
# one server, glibc's smallest timeout (whole seconds) and a single try, so
# a lost query costs a case 1 s, not glibc's default 5 s x 2 attempts.
# Measured with Debian 12's glibc 2.36: when the AAAA query of an AF_UNSPEC
# getaddrinfo is lost, it returns the A answer after 3.0 s: 1 s waiting for
# the parallel A+AAAA pair, then two more rounds that ask A and AAAA one
# after the other (single-request fallback), each losing its AAAA after
# another 1 s.  An AF_INET6 lookup fails (EAI_AGAIN) after 1 s, and with
# the server down an AF_UNSPEC lookup fails after 1 s.
#
# The lab's DNS is driven by the helpers at the end of this file (dns_set,
# dns_query_count, dns_drop_aaaa, dns_down, ...; see there).  If dnsmasq
# cannot start, the lab still comes up for the other tests but says so on
# stderr, and every DNS case fails with the reason (dns_require).
#
# Uses: HE_WORK (scratch dir), HE_IT_DIR (this directory).
# Sets: LAB_LOG_DIR, LAB_SERVER_PID, LAB_GREET_PID, LAB_DNS_PID,
# LAB_DNS_ALT_PID.
#
# The benchmarks (bench/run) build the same lab: they source this file,
# add their own names to LAB_NAMES and LAB_DNS_NAMES, their own live
# server addresses to LAB_EXTRA4, set LAB_RESOLV_OPTIONS and
# LAB_RESOLV_LINES, and call lab_setup.  The defaults below are the tests'.

LAB_NETNS=hesrv
LAB_CLIENT4=198.51.100.1
LAB_CLIENT6=2001:db8:1::1
LAB_LIVE4=(198.51.100.10 198.51.100.11)
LAB_LIVE6=(2001:db8:1::10)
LAB_DEAD4=(198.51.100.20 198.51.100.21 198.51.100.22 198.51.100.23)
LAB_DEAD6=(2001:db8:1::20)
LAB_REFUSE4=(198.51.100.30)
LAB_REFUSE6=(2001:db8:1::30)
LAB_SPARE4=(198.51.100.40 198.51.100.41 198.51.100.42 198.51.100.43
    198.51.100.44 198.51.100.45 198.51.100.46 198.51.100.47)
LAB_SPARE6=(2001:db8:1::40 2001:db8:1::41 2001:db8:1::42 2001:db8:1::43
    2001:db8:1::44 2001:db8:1::45 2001:db8:1::46 2001:db8:1::47)
# More live IPv4 addresses in hesrv (198.51.100.0/24; the benchmarks'
# stale-address scenarios need some); none for the tests.
LAB_EXTRA4=()
# resolv.conf's options line, and lines after it (see lab_resolver).
LAB_RESOLV_OPTIONS="timeout:1 attempts:1"
LAB_RESOLV_LINES=
LAB_DNS4=198.51.100.53
LAB_DNS6=2001:db8:1::53
LAB_DNS_PORT=53
LAB_DNS_ALT_PORT=5353
LAB_PORT_WHOAMI=7000
LAB_PORT_HTTP=8080
LAB_PORT_BANNER=2222
LAB_PORT_RECORD=7001
LAB_PORT_GREET=22
LAB_PORT_GREET_OFF=2022

# Names, in the order getaddrinfo must return their addresses.  t_lab.sh
# checks that it does; /etc/hosts is generated from this table.
declare -A LAB_NAMES=(
    [healthy.test]="198.51.100.10"
    [multi.test]="198.51.100.10 198.51.100.11"
    [dead6.test]="2001:db8:1::20 198.51.100.10"
    [dead6v6.test]="2001:db8:1::20 2001:db8:1::10"
    [dead4.test]="198.51.100.20 198.51.100.10"
    [dead3x.test]="198.51.100.20 198.51.100.21 198.51.100.22 198.51.100.10"
    [refuse.test]="198.51.100.30 198.51.100.10"
    [refuse6.test]="2001:db8:1::30 198.51.100.10"
    [alldead.test]="198.51.100.20 198.51.100.21"
    [deadrefuse.test]="198.51.100.20 198.51.100.30 198.51.100.10"
    [refdeadlive.test]="198.51.100.30 198.51.100.20 198.51.100.10"
    [refdead.test]="198.51.100.30 198.51.100.20"
    [lonet.test]="::1 198.51.100.10"
    # Banner-aware racing (t_banner.sh), port 22: a first address whose
    # handshake completes but that never speaks, or closes, before the
    # live greeter; two silent servers; a slow greeter before a dead one.
    [bnoaccept.test]="198.51.100.40 198.51.100.10"
    [bclose.test]="198.51.100.41 198.51.100.10"
    [bsilent.test]="198.51.100.42 198.51.100.10"
    [bsilent2.test]="198.51.100.42 198.51.100.43"
    [bslow.test]="198.51.100.44 198.51.100.20"
)

# DNS names (dnsmasq's hosts file, never /etc/hosts), in file order.  Cases
# add their own names with dns_set; these are the fixed ones.
declare -A LAB_DNS_NAMES=(
    [a4.dns.test]="198.51.100.10"
    [a6.dns.test]="2001:db8:1::10"
    [both.dns.test]="198.51.100.10 198.51.100.11 2001:db8:1::10"
    [lost6.dns.test]="198.51.100.10 2001:db8:1::10"
    [dead4.dns.test]="198.51.100.20 198.51.100.10"
    [dead6.dns.test]="2001:db8:1::20 198.51.100.10"
)
# Aliases: NAME is a CNAME for the target (a name above).
declare -A LAB_DNS_CNAMES=(
    [cname.dns.test]=both.dns.test
    [cname4.dns.test]=a4.dns.test
)
# Names only the alt server (port 5353) knows.
# shellcheck disable=SC2034 # used through lab_dns_hosts_file's nameref
declare -A LAB_DNS_ALT_NAMES=(
    [alt.dns.test]="198.51.100.11"
)

lab_die() {
    echo "lab: $*" >&2
    exit 1
}

# Runs a command in the server namespace.
lab_srv() {
    ip netns exec "$LAB_NETNS" "$@"
}

# The server netns.  `ip netns add` bind-mounts the new namespace onto a
# file in /run/netns; a tmpfs there (in our private mount namespace) keeps
# that file off the host and makes it vanish with us.
lab_netns() {
    mkdir -p /run/netns || lab_die "cannot create /run/netns"
    mount -t tmpfs -o mode=0755 he-netns /run/netns || lab_die "cannot mount tmpfs on /run/netns"
    ip netns add "$LAB_NETNS" || lab_die "ip netns add $LAB_NETNS failed"
}

lab_links() {
    local a
    ip link set lo up
    ip link add he0 type veth peer name he1 netns "$LAB_NETNS" || lab_die "cannot create veth pair"
    ip addr add "$LAB_CLIENT4/32" dev he0
    ip -6 addr add "$LAB_CLIENT6/64" dev he0 nodad
    ip link set he0 up
    ip route add 198.51.100.0/24 dev he0 src "$LAB_CLIENT4"

    lab_srv ip link set lo up
    for a in "${LAB_LIVE4[@]}" "${LAB_DEAD4[@]}" "${LAB_REFUSE4[@]}" "${LAB_SPARE4[@]}" "$LAB_DNS4" \
        "${LAB_EXTRA4[@]}"; do
        lab_srv ip addr add "$a/24" dev he1 || lab_die "cannot add $a"
    done
    for a in "${LAB_LIVE6[@]}" "${LAB_DEAD6[@]}" "${LAB_REFUSE6[@]}" "${LAB_SPARE6[@]}" "$LAB_DNS6"; do
        lab_srv ip -6 addr add "$a/64" dev he1 nodad || lab_die "cannot add $a"
    done
    lab_srv ip link set he1 up
}

# Dead addresses silently drop TCP (a SYN to them is never answered);
# refusing ones answer it with RST.  Only TCP: ARP, ND and ICMP still work,
# so the addresses look perfectly reachable to the client's kernel.
lab_firewall() {
    local a chain
    for a in "${LAB_DEAD4[@]}"; do
        lab_srv iptables -A INPUT -p tcp -d "$a" -j DROP || lab_die "iptables DROP $a failed"
    done
    for a in "${LAB_DEAD6[@]}"; do
        lab_srv ip6tables -A INPUT -p tcp -d "$a" -j DROP || lab_die "ip6tables DROP $a failed"
    done
    for a in "${LAB_REFUSE4[@]}"; do
        lab_srv iptables -A INPUT -p tcp -d "$a" -j REJECT --reject-with tcp-reset ||
            lab_die "iptables REJECT $a failed"
    done
    for a in "${LAB_REFUSE6[@]}"; do
        lab_srv ip6tables -A INPUT -p tcp -d "$a" -j REJECT --reject-with tcp-reset ||
            lab_die "ip6tables REJECT $a failed"
    done
    # Chains the cases fill and flush: HE_KILL (lab_kill), HE_DNS_DROP
    # (dns_drop_aaaa), HE_DNS_DOWN (dns_down).
    for a in iptables ip6tables; do
        for chain in HE_KILL HE_DNS_DROP HE_DNS_DOWN; do
            if ! lab_srv "$a" -N "$chain" || ! lab_srv "$a" -I INPUT -j "$chain"; then
                lab_die "$a: cannot create chain $chain"
            fi
        done
    done
}

# Bind-mounts $HE_WORK/etc/NAME over /etc/NAME in our mount namespace.
lab_etc_file() {
    local name=$1 src=$HE_WORK/etc/$1
    mount --bind "$src" "/etc/$name" || lab_die "cannot bind-mount /etc/$name"
}

# Name resolution that only ever reads our /etc/hosts.
lab_resolver() {
    local name a
    mkdir -p "$HE_WORK/etc"
    {
        echo "# libhe integration lab (bind-mounted by lab.sh)"
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost ip6-loopback"
        # One line per address: glibc's files backend returns every line
        # that names the host, in file order.
        for name in $(printf '%s\n' "${!LAB_NAMES[@]}" | sort); do
            for a in ${LAB_NAMES[$name]}; do
                printf '%s\t%s\n' "$a" "$name"
            done
        done
    } >"$HE_WORK/etc/hosts"
    # The lab's dnsmasq (lab_dns); nothing else answers DNS in this
    # namespace, and no query can leave it.  One server, one try, glibc's
    # shortest timeout: see the header.
    {
        printf 'nameserver %s\noptions %s\n' "$LAB_DNS4" "$LAB_RESOLV_OPTIONS"
        [ -z "$LAB_RESOLV_LINES" ] || printf '%s\n' "$LAB_RESOLV_LINES"
    } >"$HE_WORK/etc/resolv.conf"
    printf 'hosts: files dns\nnetworks: files\n' >"$HE_WORK/etc/nsswitch.conf"
    printf 'multi on\n' >"$HE_WORK/etc/host.conf"
    # glibc's default precedence table, whatever the host's /etc/gai.conf
    # says, plus one line for dead6v6.test.  Its two addresses share the
    # client's /64, and for IPv6 glibc applies RFC 6724 rule 9 (longest
    # matching prefix) to whole addresses: ::10 shares more leading bits
    # with the client's ::1 than ::20 does, and would come first.  A higher
    # precedence (rule 6, ahead of rule 9) keeps hosts-file order.  Any
    # precedence line replaces the whole default table, so it is written
    # out; IPv4 (::ffff:0:0/96) stays at 10, below 2001:db8::/32's 40.
    {
        echo "precedence ::1/128 50"
        echo "precedence ::/0 40"
        echo "precedence 2002::/16 30"
        echo "precedence ::/96 20"
        echo "precedence ::ffff:0:0/96 10"
        echo "precedence ${LAB_DEAD6[0]}/128 45"
    } >"$HE_WORK/etc/gai.conf"
    # A bind mount needs an existing target, and creating one would change
    # the host's /etc (only mounts are private), so an absent optional file
    # is left absent: for these, absent means the same defaults as ours
    # (except dead6v6.test's order without gai.conf: t_lab.sh says so).
    lab_etc_file hosts
    lab_etc_file nsswitch.conf
    for name in resolv.conf host.conf gai.conf; do
        if [ -e "/etc/$name" ]; then
            lab_etc_file "$name"
        fi
    done
}

lab_servers() {
    local ready=$HE_WORK/servers.ready i
    LAB_LOG_DIR=$HE_WORK/log
    mkdir -p "$LAB_LOG_DIR"
    # ip itself, not the lab_srv function, so that $! is the server's pid
    # (ip netns exec execs it) rather than a subshell's.
    ip netns exec "$LAB_NETNS" /usr/bin/python3 "$HE_IT_DIR/servers.py" \
        --log-dir "$LAB_LOG_DIR" --ready-file "$ready" \
        --whoami-port "$LAB_PORT_WHOAMI" --http-port "$LAB_PORT_HTTP" \
        --banner-port "$LAB_PORT_BANNER" --record-port "$LAB_PORT_RECORD" \
        >"$LAB_LOG_DIR/servers.out" 2>&1 &
    LAB_SERVER_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ -s "$ready" ] && break
        kill -0 "$LAB_SERVER_PID" 2>/dev/null ||
            lab_die "servers.py exited: $(tail -n 5 "$LAB_LOG_DIR/servers.out")"
        sleep 0.05
    done
    [ -s "$ready" ] || lab_die "servers.py not ready after 5 s"
    lab_greet_servers
}

# The servers that speak first (see the header), one more servers.py.
lab_greet_servers() {
    local ready=$HE_WORK/greet.ready i g=$LAB_PORT_GREET o=$LAB_PORT_GREET_OFF
    ip netns exec "$LAB_NETNS" /usr/bin/python3 "$HE_IT_DIR/servers.py" \
        --log-dir "$LAB_LOG_DIR" --ready-file "$ready" --at-log greet \
        --at "greet@${LAB_LIVE4[0]}:$g" --at "noaccept@${LAB_SPARE4[0]}:$g" \
        --at "acceptclose@${LAB_SPARE4[1]}:$g" --at "silent@${LAB_SPARE4[2]}:$g" \
        --at "silent@${LAB_SPARE4[3]}:$g" --at "slowgreet@${LAB_SPARE4[4]}:$g" \
        --at "silent@${LAB_SPARE4[2]}:$o" --at "greet@${LAB_LIVE4[0]}:$o" \
        >"$LAB_LOG_DIR/greet.out" 2>&1 &
    LAB_GREET_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ -s "$ready" ] && return 0
        kill -0 "$LAB_GREET_PID" 2>/dev/null ||
            lab_die "servers.py (greet) exited: $(tail -n 5 "$LAB_LOG_DIR/greet.out")"
        sleep 0.05
    done
    lab_die "servers.py (greet) not ready after 5 s"
}

# ---------------------------------------------------------------- DNS

LAB_DNS_DIR=$HE_WORK/dns
LAB_DNS_HOSTS=$LAB_DNS_DIR/hosts
LAB_DNS_HOSTS_ALT=$LAB_DNS_DIR/hosts.alt

# A DNS client for the lab's own checks (never for the cases' programs):
#   python3 -c "$LAB_DNS_QUERY_PY" SERVER PORT NAME TYPE...
# asks SERVER:PORT (UDP, 1 s timeout) for each TYPE (A, AAAA) of NAME and
# prints one line per answer address ("A 198.51.100.10"), "TYPE rcode N"
# for an error rcode, "TYPE timeout" if no answer came.
# shellcheck disable=SC2016 # Python
LAB_DNS_QUERY_PY='
import random, socket, struct, sys
server, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TYPES = {"A": 1, "AAAA": 28}
def skip_name(d, i):
    while True:
        n = d[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n
for t in sys.argv[4:]:
    tid = random.randrange(65536)
    q = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", TYPES[t], 1)
    s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        s.sendto(q, (server, port))
        while True:
            d = s.recv(4096)
            if d[:2] == q[:2]:
                break
    except OSError:
        print(t, "timeout")
        continue
    rcode, an = d[3] & 15, struct.unpack(">H", d[6:8])[0]
    if rcode:
        print(t, "rcode", rcode)
        continue
    i = skip_name(d, 12) + 4
    for _ in range(an):
        i = skip_name(d, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", d[i:i + 10])
        i += 10
        if rtype == 1:
            print("A", socket.inet_ntop(socket.AF_INET, d[i:i + rdlen]))
        elif rtype == 28:
            print("AAAA", socket.inet_ntop(socket.AF_INET6, d[i:i + rdlen]))
        i += rdlen
'

# Writes a hosts-format file from an associative array's name (NAME ->
# addresses), one line per address, names sorted.
lab_dns_hosts_file() {
    local -n table=$1
    local name a
    for name in $(printf '%s\n' "${!table[@]}" | sort); do
        for a in ${table[$name]}; do
            printf '%s\t%s\n' "$a" "$name"
        done
    done
}

# Regenerates $LAB_DNS_HOSTS from $LAB_DNS_DIR/names (the name lines,
# which dns_set edits).  dnsmasq (2.90, with --no-round-robin) answers a
# name's addresses in file order only if all of them, or none, appeared
# earlier in its files: an address's first line gets its PTR record, and
# those lines come first.  So the file starts with one anchor line per
# address, ADDR ptr-ADDR.dns.test, and every real line is a repeat.
lab_dns_render() {
    local a
    {
        echo "# libhe integration lab: dnsmasq's hosts file (lab.sh, dns_set)"
        awk '!/^#/ && NF { print $1 }' "$LAB_DNS_DIR/names" "$LAB_DNS_HOSTS_ALT" |
            awk '!seen[$0]++' | while read -r a; do
            printf '%s\tptr-%s.dns.test\n' "$a" "${a//[.:]/-}"
        done
        cat "$LAB_DNS_DIR/names"
    } >"$LAB_DNS_HOSTS.tmp" && mv -f "$LAB_DNS_HOSTS.tmp" "$LAB_DNS_HOSTS"
}

# Starts one dnsmasq in hesrv on PORT, reading the hosts FILES, logging to
# LOG; sets LAB_DNS_STARTED to its pid.  setpriv makes it die with us even if we are killed
# before lab_teardown; ip netns exec and setpriv exec, so $! is dnsmasq.
lab_dns_start() {
    local port=$1 log=$2 name args=() f
    shift 2
    for f in "$@"; do
        args+=("--addn-hosts=$f")
    done
    for name in "${!LAB_DNS_CNAMES[@]}"; do
        args+=("--cname=$name,${LAB_DNS_CNAMES[$name]}")
    done
    ip netns exec "$LAB_NETNS" setpriv --pdeathsig TERM -- /usr/sbin/dnsmasq \
        --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --local=/#/ \
        --local-ttl=2 --no-round-robin --port="$port" --bind-interfaces \
        --listen-address="$LAB_DNS4" --listen-address="$LAB_DNS6" \
        --user=root --group=root --pid-file= --log-queries --log-facility="$log" \
        "${args[@]}" >>"$log.out" 2>&1 </dev/null &
    LAB_DNS_STARTED=$!
}

# Waits up to 5 s until the server at PORT answers A for a4.dns.test.
lab_dns_wait() {
    local port=$1 pid=$2 i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        [ "$(lab_srv /usr/bin/python3 -c "$LAB_DNS_QUERY_PY" "$LAB_DNS4" "$port" a4.dns.test A 2>&1)" = "A ${LAB_DNS_NAMES[a4.dns.test]}" ] &&
            return 0
        sleep 0.1
    done
    return 1
}

# Marks the lab's DNS as unusable, loudly; the DNS cases fail with REASON.
lab_dns_broken() {
    echo "lab: WARNING: the lab's DNS is not available, every DNS case will fail: $*" >&2
    printf '%s\n' "$*" >"$LAB_DNS_DIR/broken"
}

lab_dns() {
    local out
    mkdir -p "$LAB_DNS_DIR"
    rm -f "$LAB_DNS_DIR/broken"
    lab_dns_hosts_file LAB_DNS_NAMES >"$LAB_DNS_DIR/names"
    lab_dns_hosts_file LAB_DNS_ALT_NAMES >"$LAB_DNS_HOSTS_ALT"
    lab_dns_render
    if [ "$(cat /etc/resolv.conf 2>/dev/null)" != "$(cat "$HE_WORK/etc/resolv.conf")" ]; then
        lab_dns_broken "/etc/resolv.conf is not the lab's (the host has none to bind-mount over?)"
        return 0
    fi
    if [ ! -x /usr/sbin/dnsmasq ]; then
        lab_dns_broken "/usr/sbin/dnsmasq not installed (Debian package dnsmasq-base; make deps)"
        return 0
    fi
    lab_dns_start "$LAB_DNS_PORT" "$LAB_LOG_DIR/dnsmasq.log" "$LAB_DNS_HOSTS"
    LAB_DNS_PID=$LAB_DNS_STARTED
    lab_dns_start "$LAB_DNS_ALT_PORT" "$LAB_LOG_DIR/dnsmasq-alt.log" \
        "$LAB_DNS_HOSTS" "$LAB_DNS_HOSTS_ALT"
    LAB_DNS_ALT_PID=$LAB_DNS_STARTED
    export LAB_DNS_PID LAB_DNS_ALT_PID
    echo "$LAB_DNS_PID" >"$LAB_DNS_DIR/main.pid"
    echo "$LAB_DNS_ALT_PID" >"$LAB_DNS_DIR/alt.pid"
    if ! lab_dns_wait "$LAB_DNS_PORT" "$LAB_DNS_PID" ||
        ! lab_dns_wait "$LAB_DNS_ALT_PORT" "$LAB_DNS_ALT_PID"; then
        out=$(tail -n 3 "$LAB_LOG_DIR"/dnsmasq*.out 2>/dev/null)
        lab_dns_broken "dnsmasq does not answer: ${out//$'\n'/ | }"
        return 0
    fi
}

# One connection to each live address from the client side proves routing
# and primes the neighbour caches, so no test case pays for ARP/ND.  These
# connections show up in whoami.log; test cases only look at lines logged
# after they start.
lab_probe() {
    local a line
    for a in "${LAB_LIVE4[@]}" "${LAB_LIVE6[@]}"; do
        # shellcheck disable=SC2016 # $1, $2 are the inner shell's
        line=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -n 1 <&3' _ "$a" "$LAB_PORT_WHOAMI" 2>&1)
        [ "$line" = "reached $a" ] || lab_die "probe of $a:$LAB_PORT_WHOAMI got '$line'"
    done
}

# Builds the whole lab.  Must run inside run.sh's private namespaces.
lab_setup() {
    mount --make-rprivate / || lab_die "cannot make mounts private"
    lab_netns
    lab_links
    lab_firewall
    lab_resolver
    lab_servers
    lab_dns
    lab_probe
}

# Stops the servers.  Everything else (netns, veth, mounts, iptables rules)
# disappears with our namespaces.
lab_teardown() {
    if [ -n "${LAB_SERVER_PID:-}" ]; then
        kill "$LAB_SERVER_PID" 2>/dev/null
        wait "$LAB_SERVER_PID" 2>/dev/null
        LAB_SERVER_PID=
    fi
    local pid
    for pid in "${LAB_GREET_PID:-}" "${LAB_DNS_PID:-}" "${LAB_DNS_ALT_PID:-}"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    LAB_GREET_PID='' LAB_DNS_PID='' LAB_DNS_ALT_PID=
}

# ---------------------------------------------------------------- DNS helpers
#
# For the test files (lib.sh sources this file) and `run.sh --exec`.  Each
# fails through he_fail inside a case, else returns 1 with a message.
#
#   dns_require            the lab's DNS is up (else the case fails, saying
#                          why: dnsmasq missing, not answering, died)
#   dns_set NAME [ADDR...] NAME now has exactly ADDRs, answered in that
#                          order (none: NXDOMAIN), on both servers: rewrites
#                          NAME's lines in $LAB_DNS_DIR/names, regenerates
#                          $LAB_DNS_HOSTS, SIGHUPs dnsmasq, and waits (up to
#                          3 s per server) until both answer the new A and
#                          AAAA lists, in order.  Its own queries come from
#                          hesrv, so dns_query_count does not count them.
#   dns_query_count [--alt] [NAME [TYPE]]
#                          how many queries (for NAME, of TYPE: A, AAAA, ...)
#                          the main (or alt) server has logged from the
#                          client namespace since the lab started.  Dropped
#                          queries (dns_drop_aaaa, dns_down) never get there.
#   dns_drop_aaaa NAME     the client's AAAA queries for NAME (to either
#                          server, UDP or TCP) vanish: an iptables string
#                          match in hesrv on the QNAME's wire bytes followed
#                          by QTYPE 28.  Also drops them for any name ending
#                          in .NAME.  A queries still get answered.
#   dns_undrop             undoes every dns_drop_aaaa.
#   dns_down [--all]       the main server (with --all, the alt one too)
#                          stops answering the client: its UDP and TCP
#                          queries are dropped.
#   dns_up                 undoes dns_down.
#   lab_kill ADDR...       ADDRs (spare ones, normally) drop TCP like the
#                          dead addresses.
#   lab_revive             every killed address is live again.
#   dns_reset              dns_undrop, dns_up, lab_revive in one go.
#
# E.g. `run.sh --exec bash`, then: `. $HE_IT_DIR/lab.sh; dns_set x.dns.test
# 198.51.100.40; getent ahosts x.dns.test; dns_query_count x.dns.test`.

lab_helper_fail() {
    if [ -n "${HE_CASE_DIR:-}" ] && declare -F he_fail >/dev/null; then
        he_fail "$*"
    fi
    echo "lab: $*" >&2
    return 1
}

dns_require() {
    local which pid
    if [ -e "$LAB_DNS_DIR/broken" ]; then
        lab_helper_fail "lab DNS unavailable: $(cat "$LAB_DNS_DIR/broken")" || return
    fi
    for which in main alt; do
        pid=$(cat "$LAB_DNS_DIR/$which.pid" 2>/dev/null)
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
            lab_helper_fail "lab DNS unavailable: the $which dnsmasq (pid '$pid') is not running:" \
                "$(tail -n 2 "$LAB_LOG_DIR/dnsmasq${which/main/}.log.out" 2>/dev/null)" || return
        fi
    done
    return 0
}

# NAME's A and AAAA answers from the server at PORT, one "TYPE ADDR" line
# each in the server's order, A first; "TYPE timeout" if it did not answer.
lab_dns_answers() {
    local port=$1 name=$2
    lab_srv /usr/bin/python3 -c "$LAB_DNS_QUERY_PY" "$LAB_DNS4" "$port" "$name" A AAAA 2>&1 |
        grep -E '^(A|AAAA) ([0-9a-f.:]+|timeout)$'
}

dns_set() {
    local name=$1 a want got port i names=$LAB_DNS_DIR/names
    shift
    dns_require || return
    awk -v n="$name" '$2 != n' "$names" >"$names.tmp" || return
    for a in "$@"; do
        printf '%s\t%s\n' "$a" "$name"
    done >>"$names.tmp"
    mv -f "$names.tmp" "$names" && lab_dns_render || return
    want=$(for a in "$@"; do [[ $a == *:* ]] || echo "A $a"; done
        for a in "$@"; do [[ $a == *:* ]] && echo "AAAA $a"; done)
    kill -HUP "$(cat "$LAB_DNS_DIR/main.pid")" "$(cat "$LAB_DNS_DIR/alt.pid")"
    for port in "$LAB_DNS_PORT" "$LAB_DNS_ALT_PORT"; do
        for ((i = 0; i < 30; i++)); do
            got=$(lab_dns_answers "$port" "$name")
            [ "$got" = "$want" ] && break
            sleep 0.1
        done
        [ "$got" = "$want" ] ||
            lab_helper_fail "dns_set $name $*: the server on port $port answers '${got//$'\n'/, }'" || return
    done
}

dns_query_count() {
    local log=$LAB_LOG_DIR/dnsmasq.log name='[^ ]+' type='[A-Z0-9]+'
    if [ "${1:-}" = --alt ]; then
        log=$LAB_LOG_DIR/dnsmasq-alt.log
        shift
    fi
    [ $# -gt 0 ] && name=${1//./\\.}
    [ $# -gt 1 ] && type=$2
    grep -cE "query\\[$type\\] $name from ($LAB_CLIENT4|$LAB_CLIENT6)\$" "$log"
}

# NAME as DNS wire bytes (length-prefixed labels, root label), in hex.
lab_dns_wire_hex() {
    local label hex=
    local -a labels
    IFS=. read -ra labels <<<"${1%.}"
    for label in "${labels[@]}"; do
        hex+=$(printf '%02x' "${#label}")
        hex+=$(printf '%s' "$label" | od -An -tx1 | tr -d ' \n')
    done
    printf '%s00' "$hex"
}

dns_drop_aaaa() {
    local hex ipt proto
    hex=$(lab_dns_wire_hex "$1")001c
    for ipt in iptables ip6tables; do
        for proto in udp tcp; do
            lab_srv "$ipt" -A HE_DNS_DROP ! -i lo -p "$proto" \
                -m string --algo bm --icase --hex-string "|$hex|" -j DROP ||
                lab_helper_fail "dns_drop_aaaa $1: $ipt failed" || return
        done
    done
}

dns_undrop() {
    lab_srv iptables -F HE_DNS_DROP && lab_srv ip6tables -F HE_DNS_DROP
}

# shellcheck disable=SC2120 # --all is optional
dns_down() {
    local ports=("$LAB_DNS_PORT") port proto
    [ "${1:-}" = --all ] && ports+=("$LAB_DNS_ALT_PORT")
    for port in "${ports[@]}"; do
        for proto in udp tcp; do
            { lab_srv iptables -A HE_DNS_DOWN ! -i lo -p "$proto" -d "$LAB_DNS4" --dport "$port" -j DROP &&
                lab_srv ip6tables -A HE_DNS_DOWN ! -i lo -p "$proto" -d "$LAB_DNS6" --dport "$port" -j DROP; } ||
                lab_helper_fail "dns_down: iptables failed" || return
        done
    done
}

dns_up() {
    lab_srv iptables -F HE_DNS_DOWN && lab_srv ip6tables -F HE_DNS_DOWN
}

lab_kill() {
    local a ipt
    for a in "$@"; do
        ipt=iptables
        [[ $a == *:* ]] && ipt=ip6tables
        lab_srv "$ipt" -A HE_KILL -p tcp -d "$a" -j DROP || lab_helper_fail "lab_kill $a failed" || return
    done
}

lab_revive() {
    lab_srv iptables -F HE_KILL && lab_srv ip6tables -F HE_KILL
}

dns_reset() {
    # shellcheck disable=SC2016 # the inner shell's
    lab_srv sh -c 'for t in iptables ip6tables; do
        for c in HE_KILL HE_DNS_DROP HE_DNS_DOWN; do $t -F $c || exit 1; done
    done' || lab_helper_fail "dns_reset: iptables failed"
}

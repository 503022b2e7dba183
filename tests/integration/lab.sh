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
# Uses: HE_WORK (scratch dir), HE_IT_DIR (this directory).
# Sets: LAB_LOG_DIR, LAB_SERVER_PID.

LAB_NETNS=hesrv
LAB_CLIENT4=198.51.100.1
LAB_CLIENT6=2001:db8:1::1
LAB_LIVE4=(198.51.100.10 198.51.100.11)
LAB_LIVE6=(2001:db8:1::10)
LAB_DEAD4=(198.51.100.20 198.51.100.21 198.51.100.22 198.51.100.23)
LAB_DEAD6=(2001:db8:1::20)
LAB_REFUSE4=(198.51.100.30)
LAB_REFUSE6=(2001:db8:1::30)
LAB_PORT_WHOAMI=7000
LAB_PORT_HTTP=8080
LAB_PORT_BANNER=2222

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
    for a in "${LAB_LIVE4[@]}" "${LAB_DEAD4[@]}" "${LAB_REFUSE4[@]}"; do
        lab_srv ip addr add "$a/24" dev he1 || lab_die "cannot add $a"
    done
    for a in "${LAB_LIVE6[@]}" "${LAB_DEAD6[@]}" "${LAB_REFUSE6[@]}"; do
        lab_srv ip -6 addr add "$a/64" dev he1 nodad || lab_die "cannot add $a"
    done
    lab_srv ip link set he1 up
}

# Dead addresses silently drop TCP (a SYN to them is never answered);
# refusing ones answer it with RST.  Only TCP: ARP, ND and ICMP still work,
# so the addresses look perfectly reachable to the client's kernel.
lab_firewall() {
    local a
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
    # Nothing listens on 127.0.0.1:53 in this namespace, so a stray DNS
    # query fails at once instead of leaving the machine.
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$HE_WORK/etc/resolv.conf"
    printf 'hosts: files\nnetworks: files\n' >"$HE_WORK/etc/nsswitch.conf"
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
        --banner-port "$LAB_PORT_BANNER" \
        >"$LAB_LOG_DIR/servers.out" 2>&1 &
    LAB_SERVER_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ -s "$ready" ] && break
        kill -0 "$LAB_SERVER_PID" 2>/dev/null ||
            lab_die "servers.py exited: $(tail -n 5 "$LAB_LOG_DIR/servers.out")"
        sleep 0.05
    done
    [ -s "$ready" ] || lab_die "servers.py not ready after 5 s"
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
}

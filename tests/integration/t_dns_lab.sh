#!/bin/bash
# The lab's DNS itself, without libhe (lab.sh's header describes it): the
# names resolve through dnsmasq, /etc/hosts names never reach it, the
# helpers do what they say (dns_set moves a name, dns_query_count counts,
# dns_drop_aaaa makes glibc slow, dns_down makes it fail, lab_kill kills an
# address).  If these fail, every t_dns*.sh failure is suspect; if dnsmasq
# is missing they all fail, saying so.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

gai() {
    he_run --plain /usr/bin/python3 -c "$PY_GAI" "$1" "${2:-0}"
}

# Line 1 of the last run's output (the addresses), and its "ms=" figure.
gai_addrs() { head -n 1 <<<"$HE_OUT"; }

expect_addrs() {
    [ "$(gai_addrs)" = "$1" ] || he_fail "wanted '$1'; $(he_ctx)"
}

# Every fixed DNS name resolves to its addresses (as a set: glibc sorts
# them), CNAMEs to their target's.
dns_lab_names() {
    local name want got
    for name in "${!LAB_DNS_NAMES[@]}" "${!LAB_DNS_CNAMES[@]}"; do
        want=${LAB_DNS_NAMES[$name]:-${LAB_DNS_NAMES[${LAB_DNS_CNAMES[$name]:-}]:-}}
        gai "$name"
        got=$(gai_addrs | tr ' ' '\n' | sort | xargs)
        want=$(tr ' ' '\n' <<<"$want" | sort | xargs)
        [ "$got" = "$want" ] || he_fail "$name resolved to '$got', wanted '$want'; $(he_ctx)"
    done
}
dns_case dns_lab/names dns_lab_names

# A name dnsmasq does not know is NXDOMAIN, at once.
dns_lab_nxdomain() {
    gai nx.dns.test
    expect_addrs "error $(/usr/bin/python3 -c 'import socket; print(socket.EAI_NONAME)')"
    [ "$(gai_ms)" -lt 500 ] || he_fail "NXDOMAIN took $(gai_ms) ms; $(he_ctx)"
}
dns_case dns_lab/nxdomain dns_lab_nxdomain

# /etc/hosts names never reach DNS, and DNS names are not in /etc/hosts.
dns_lab_hosts_first() {
    local n0
    ! grep -q 'dns\.test' /etc/hosts || he_fail "/etc/hosts has dns.test names"
    n0=$(dns_query_count)
    gai healthy.test
    expect_addrs "$HE_LIVE"
    gai dead6.test
    expect_addrs "${LAB_NAMES[dead6.test]}"
    [ "$(dns_query_count)" -eq "$n0" ] || he_fail "resolving /etc/hosts names queried DNS: $(he_log_new dnsmasq | tail -n 4)"
}
dns_case dns_lab/hosts-file-first dns_lab_hosts_first

# One AF_UNSPEC getaddrinfo is one A and one AAAA query, from the client.
dns_lab_count() {
    local a0 q0
    q0=$(dns_query_count a4.dns.test)
    a0=$(dns_query_count a4.dns.test AAAA)
    gai a4.dns.test
    expect_addrs "${LAB_DNS_NAMES[a4.dns.test]}"
    if [ "$(dns_query_count a4.dns.test)" -ne $((q0 + 2)) ] ||
        [ "$(dns_query_count a4.dns.test AAAA)" -ne $((a0 + 1)) ]; then
        he_fail "wanted 2 more queries (one AAAA) for a4.dns.test; log: $(he_oneline "$(he_log_new dnsmasq)")"
    fi
}
dns_case dns_lab/query-count dns_lab_count

# dns_set moves a name at once (no cache in the way), in the order given;
# with no address the name is gone.
dns_lab_set() {
    local a=${LAB_SPARE4[0]} b=${LAB_SPARE4[1]} c=${LAB_DEAD4[0]}
    dns_set move.dns.test "$a"
    gai move.dns.test
    expect_addrs "$a"
    dns_set move.dns.test "$b" "$c" "$a"
    gai move.dns.test 4
    expect_addrs "$b $c $a"
    dns_set move.dns.test "$a" "$b" "$c"
    gai move.dns.test 4
    expect_addrs "$a $b $c"
    dns_set move.dns.test
    gai move.dns.test
    [[ $(gai_addrs) == error* ]] || he_fail "move.dns.test still resolves; $(he_ctx)"
}
dns_case dns_lab/set-moves dns_lab_set

# With the AAAA query dropped, glibc waits out its resolver timeout and
# returns the A answer: 3 x 1 s here (lab.sh's header).  Other names,
# and the name's A query, are untouched.
dns_lab_lost_aaaa() {
    local a0
    dns_drop_aaaa lost6.dns.test
    gai both.dns.test
    [ "$(gai_ms)" -lt 500 ] || he_fail "both.dns.test got slow too; $(he_ctx)"
    a0=$(dns_query_count lost6.dns.test AAAA)
    gai lost6.dns.test
    expect_addrs "${LAB_DNS_NAMES[lost6.dns.test]%% *}"
    [ "$(gai_ms)" -ge 2500 ] || he_fail "glibc was not held up by the lost AAAA; $(he_ctx)"
    [ "$(dns_query_count lost6.dns.test AAAA)" -eq "$a0" ] || he_fail "an AAAA query got through"
    gai_ms >"$HE_CASE_DIR/ms"
}
dns_case dns_lab/lost-aaaa-glibc dns_lab_lost_aaaa

# dns_down: the main server stops answering, glibc fails after its 1 s
# timeout; the alt server (port 5353) still answers; dns_up undoes it.
dns_lab_down() {
    dns_down
    gai a4.dns.test
    [[ $(gai_addrs) == error* ]] || he_fail "resolved with the server down; $(he_ctx)"
    if [ "$(gai_ms)" -lt 900 ] || [ "$(gai_ms)" -ge 2000 ]; then
        he_fail "wanted a ~1 s timeout; $(he_ctx)"
    fi
    he_run --plain /usr/bin/python3 -c "$LAB_DNS_QUERY_PY" "$LAB_DNS4" "$LAB_DNS_ALT_PORT" a4.dns.test A
    [ "$HE_OUT" = "A ${LAB_DNS_NAMES[a4.dns.test]}" ] || he_fail "the alt server does not answer; $(he_ctx)"
    dns_up
    gai a4.dns.test
    expect_addrs "${LAB_DNS_NAMES[a4.dns.test]}"
}
dns_case dns_lab/down-up dns_lab_down

# alt.dns.test: only the alt server knows it.
dns_lab_alt() {
    local n0
    n0=$(dns_query_count --alt alt.dns.test)
    he_run --plain /usr/bin/python3 -c "$LAB_DNS_QUERY_PY" "$LAB_DNS4" "$LAB_DNS_ALT_PORT" alt.dns.test A
    [ "$HE_OUT" = "A ${LAB_DNS_ALT_NAMES[alt.dns.test]}" ] || he_fail "alt server: $(he_ctx)"
    [ "$(dns_query_count --alt alt.dns.test)" -eq $((n0 + 1)) ] || he_fail "alt query not counted"
    he_run --plain /usr/bin/python3 -c "$LAB_DNS_QUERY_PY" "$LAB_DNS4" "$LAB_DNS_PORT" alt.dns.test A
    [ "$HE_OUT" = "A rcode 3" ] || he_fail "main server: $(he_ctx)"
    he_run --plain /usr/bin/python3 -c "$LAB_DNS_QUERY_PY" "$LAB_DNS6" "$LAB_DNS_ALT_PORT" alt.dns.test A
    [ "$HE_OUT" = "A ${LAB_DNS_ALT_NAMES[alt.dns.test]}" ] || he_fail "alt server over IPv6: $(he_ctx)"
}
dns_case dns_lab/alt-server dns_lab_alt

# lab_kill makes a spare address swallow SYNs; lab_revive brings it back.
dns_lab_kill() {
    local a=${LAB_SPARE4[2]}
    # shellcheck disable=SC2016 # $1, $2 are the inner shell's
    local probe='timeout 0.5 bash -c "exec 3<>/dev/tcp/$1/$2 && head -n 1 <&3"; echo "status $?"'
    he_run --plain bash -c "$probe" _ "$a" "$LAB_PORT_WHOAMI"
    [ "$HE_OUT" = $'reached '"$a"$'\nstatus 0' ] || he_fail "spare $a not live; $(he_ctx)"
    lab_kill "$a"
    he_run --plain bash -c "$probe" _ "$a" "$LAB_PORT_WHOAMI"
    [ "$HE_OUT" = "status 124" ] || he_fail "killed $a still answers; $(he_ctx)"
    lab_revive
    he_run --plain bash -c "$probe" _ "$a" "$LAB_PORT_WHOAMI"
    [ "$HE_OUT" = $'reached '"$a"$'\nstatus 0' ] || he_fail "revived $a not live; $(he_ctx)"
}
dns_case dns_lab/kill-revive dns_lab_kill

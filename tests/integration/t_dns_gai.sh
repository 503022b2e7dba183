#!/bin/bash
# Differential: the resolver functions answer exactly as glibc does, byte
# for byte in progs/gai_diff.c's dump (every entry's family, socktype,
# protocol, address, port, canonical name; EAI_* codes; hostent fields and
# h_errno), for names from /etc/hosts and from the lab's dnsmasq (A only,
# AAAA only, both, CNAMEs, NXDOMAIN), numeric hosts and NULL, across
# families, socket types, services and AI_* flags:
#
#   dns/gai-diff-default   libhe in front of glibc (no HE_RESOLVE)
#   dns/gai-diff-cares     libhe answering itself (HE_RESOLVE=cares)
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

HE_RUN_TIMEOUT_S=$((HE_RUN_TIMEOUT_S > 20 ? HE_RUN_TIMEOUT_S : 20))

QUERIES=$HE_WORK/gai_diff.queries

gai_queries() {
    local names=(healthy.test multi.test dead6.test dead6v6.test refuse.test localhost nx.test
        a4.dns.test a6.dns.test both.dns.test dead6.dns.test cname.dns.test cname4.dns.test
        nx.dns.test 198.51.100.10 2001:db8:1::10 ::ffff:198.51.100.10)
    local flags=(0 V4MAPPED "V4MAPPED|ALL" CANONNAME ADDRCONFIG "ADDRCONFIG|V4MAPPED"
        "CANONNAME|V4MAPPED|ALL" NUMERICHOST)
    local fams=(UNSPEC INET INET6) n f fl s st
    for n in "${names[@]}"; do
        for f in "${fams[@]}"; do
            for fl in "${flags[@]}"; do
                echo "gai $n 7000 $f STREAM $fl"
            done
        done
    done
    for n in healthy.test both.dns.test a6.dns.test cname4.dns.test nx.dns.test; do
        for f in "${fams[@]}"; do
            for st in 0 STREAM DGRAM; do
                for s in - 7000 http nosuchservice; do
                    for fl in 0 NUMERICSERV; do
                        echo "gai $n $s $f $st $fl"
                    done
                done
            done
        done
    done
    for f in "${fams[@]}"; do
        echo "gai - 7000 $f STREAM PASSIVE"
        echo "gai - http $f 0 0"
        echo "gai - - $f 0 0"
    done
    for n in "${names[@]}"; do
        echo "ghbn $n"
        echo "ghbn_r $n"
        for f in INET INET6; do
            echo "ghbn2 $n $f"
            echo "ghbn2_r $n $f"
        done
    done
}
gai_queries >"$QUERIES"

# Runs gai_diff on every query plain, then with ENV... under libhe, and
# wants identical output.
gai_diff_same() {
    local plain=$HE_CASE_DIR/plain.out envs=() e
    for e in "$@"; do
        envs+=(--env "$e")
    done
    he_run --plain "$HE_BIN/gai_diff" "@$QUERIES"
    expect_rc 0
    cp "$HE_CASE_DIR/stdout" "$plain"
    [ "$(grep -c '^>' "$plain")" -eq "$(grep -c . "$QUERIES")" ] ||
        he_fail "gai_diff did not answer every query; $(he_ctx)"
    he_run "${envs[@]}" "$HE_BIN/gai_diff" "@$QUERIES"
    expect_rc 0
    [ -z "$HE_ERR" ] || he_fail "wanted nothing on stderr; $(he_ctx)"
    diff -u "$plain" "$HE_CASE_DIR/stdout" >"$HE_CASE_DIR/diff" ||
        he_fail "$(/usr/bin/python3 -c "$PY_BLOCKDIFF" "$plain" "$HE_CASE_DIR/stdout") (all: $HE_CASE_DIR/diff with HE_IT_KEEP=1)"
}

# Names the queries whose answers differ: "N of M queries differ: QUERY:
# glibc ANSWER / libhe ANSWER; ..." (the first 4).
PY_BLOCKDIFF='
import sys
def blocks(path):
    out, key = {}, None
    order = []
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("> "):
            key = line[2:]
            order.append(key)
            out[key] = []
        elif key is not None:
            out[key].append(line.strip())
    return order, out
order, a = blocks(sys.argv[1])
_, b = blocks(sys.argv[2])
bad = [k for k in order if a.get(k) != b.get(k)]
print("%d of %d queries differ: " % (len(bad), len(order)) + "; ".join(
    "%s: glibc %s / libhe %s" % (k, ", ".join(a[k]) or "-", ", ".join(b.get(k) or ["(missing)"]))
    for k in bad[:4]))
'


gai_diff_default() {
    gai_diff_same
}
dns_case dns/gai-diff-default gai_diff_default

# First proof that libhe answers (HE_RESOLVE=cares is in effect): with the
# AAAA query lost it answers at once where glibc takes 3 s.  Then the
# comparison.
gai_diff_cares() {
    dns_drop_aaaa lost6.dns.test
    he_run --env HE_RESOLVE=cares "$HE_BIN/gai_diff" "gai lost6.dns.test 7000 UNSPEC STREAM 0"
    [ "$HE_MS" -lt 1000 ] ||
        he_fail "HE_RESOLVE=cares is not in effect: a lost AAAA held getaddrinfo up; $(he_ctx)"
    dns_undrop
    gai_diff_same HE_RESOLVE=cares
}
dns_case dns/gai-diff-cares gai_diff_cares

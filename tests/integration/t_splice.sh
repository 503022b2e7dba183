#!/bin/bash
# The promise "after a splice the fd differs only in its peer".
# progs/splice_props.c sets options (TCP_NODELAY, keepalive, buffers,
# SO_MARK, TCP_USER_TIMEOUT, IP_TOS/IPV6_TCLASS, SO_PRIORITY, SO_LINGER,
# SO_RCVTIMEO, TCP_CONGESTION, SO_BINDTODEVICE), optionally binds a local
# address with port 0, connects to a dead-first name and compares: family
# (SO_DOMAIN), FD_CLOEXEC, status flags, every option, the local address.
# It prints "domain D", "local A", "peer A" and the server's reply.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# splice_props [FLAGS...] NAME LOCAL, checked for: exit 0, no MISMATCH, the
# live address reached once (no duplicate connection), a paced race.
#   $1 domain wanted, $2 peer wanted, $3 local wanted, $4 address the
#   server saw, then splice_props' arguments.
splice_case() {
    local domain=$1 peer=$2 local=$3 reached=$4 name
    shift 4
    name=${*: -2:1}
    # HE_CONNECT_TIMEOUT_MS: a race that does not happen (or finds no
    # sibling to start) ends with ETIMEDOUT and libhe's account of it,
    # instead of a connect() left on the dead address for good.  Long enough
    # not to shorten the attempt delay.
    he_run --env HE_CONNECT_TIMEOUT_MS=1500 --env HE_LOG=info \
        "$HE_BIN/splice_props" "${@:1:$#-2}" "$name" "$LAB_PORT_WHOAMI" "${*: -1}"
    ! grep -q MISMATCH <<<"$HE_ERR" || he_fail "properties changed by the splice; $(he_ctx)"
    expect_no_fdleak
    expect_rc 0
    expect_reached "$reached"
    grep -qxF "domain $domain" <<<"$HE_OUT" || he_fail "wanted domain $domain; $(he_ctx)"
    grep -qxF "peer $peer" <<<"$HE_OUT" || he_fail "wanted peer $peer; $(he_ctx)"
    grep -qxF "local $local" <<<"$HE_OUT" || he_fail "wanted local $local; $(he_ctx)"
    grep -qF "race $name: winner $reached (attempt 2) " <<<"$HE_ERR" ||
        he_fail "wanted libhe to log attempt 2 ($reached) as the winner; $(he_ctx)"
    # The spliced connection, and the reference one splice_props makes to
    # compare segment sizes with.
    expect_log_count whoami 2
    expect_under_ms "$HE_RACE_MS"
    # At least one attempt delay: the dead address came first, so what
    # connected was a sibling, spliced.
    expect_over_ms $((HE_DELAY_MS * 9 / 10))
}

# The same checks without libhe and without a race: the program's own
# expectations hold on an untouched socket (IP_TOS resetting SO_PRIORITY,
# buffer doubling, ...), so a failure above is the splice's doing.
splice_case_baseline() {
    local args
    for args in "healthy.test $LAB_CLIENT4" "-x healthy.test $LAB_CLIENT4" \
        "-n healthy.test $LAB_CLIENT4" "-6 healthy.test -" \
        "-6 ${LAB_LIVE6[0]} $LAB_CLIENT6" "-6 -n ${LAB_LIVE6[0]} $LAB_CLIENT6"; do
        # shellcheck disable=SC2086 # split on purpose
        set -- $args
        he_run --plain "$HE_BIN/splice_props" "${@:1:$#-1}" "$LAB_PORT_WHOAMI" "${*: -1}"
        if [ "$HE_RC" -ne 0 ] || grep -q MISMATCH <<<"$HE_ERR"; then
            he_fail "splice_props $args without libhe: $(he_ctx)"
        fi
    done
}

he_case splice/baseline splice_case_baseline

# IPv4, bound to the client's address with port 0 as `ssh -b`, `curl
# --interface` or `wget --bind-address` do (the kernel picks the port at
# bind time), close-on-exec on: all kept.
he_case splice/dead4-bound splice_case AF_INET "$HE_LIVE" "$LAB_CLIENT4" "$HE_LIVE" \
    dead4.test "$LAB_CLIENT4"
# The same socket created without SOCK_CLOEXEC: close-on-exec stays off.
he_case splice/dead4-bound-nocloexec splice_case AF_INET "$HE_LIVE" "$LAB_CLIENT4" "$HE_LIVE" \
    -x dead4.test "$LAB_CLIENT4"
# Bound with IP_BIND_ADDRESS_NO_PORT (the port stays 0 until connect).
he_case splice/dead4-bound-noport splice_case AF_INET "$HE_LIVE" "$LAB_CLIENT4" "$HE_LIVE" \
    -n dead4.test "$LAB_CLIENT4"
# Not bound, no SOCK_CLOEXEC: close-on-exec off, apart from any bind.
he_case splice/dead4-nocloexec splice_case AF_INET "$HE_LIVE" "$LAB_CLIENT4" "$HE_LIVE" \
    -x dead4.test -
# An AF_INET6 socket whose winner is the IPv4 sibling: still AF_INET6
# (SO_DOMAIN), its peer the mapped ::ffff:198.51.100.10.  (This is why ssh
# on dead6.test says "Connection closed by 198.51.100.10": the socket is
# AF_INET6 with that mapped peer, and ssh un-maps it for display.)
he_case splice/dead6-mapped splice_case AF_INET6 "::ffff:$HE_LIVE" "::ffff:$LAB_CLIENT4" "$HE_LIVE" \
    -6 dead6.test -
# IPv6 only, bound to the client's IPv6 address with port 0: the v6 bind is
# replayed on the v6 sibling.
he_case splice/dead6v6-bound splice_case AF_INET6 "${LAB_LIVE6[0]}" "$LAB_CLIENT6" "${LAB_LIVE6[0]}" \
    -6 dead6v6.test "$LAB_CLIENT6"
he_case splice/dead6v6-bound-noport splice_case AF_INET6 "${LAB_LIVE6[0]}" "$LAB_CLIENT6" \
    "${LAB_LIVE6[0]}" -6 -n dead6v6.test "$LAB_CLIENT6"

# Reproducer: two sockets bound with port 0 on numbers 256 apart (100 and
# 356).  libhe's bind notes once lived in 256 slots by fd number, so the
# second bind took the first one's slot: fd 100's port looked fixed, and
# its connect to dead4.test was not raced (EINPROGRESS at its 2 s
# SO_SNDTIMEO).  Each fd's record now keeps its own note: both are raced.
splice_case_bind_pair() {
    he_run "$HE_BIN/bind_pair" dead4.test "$LAB_PORT_WHOAMI" 100 356
    expect_rc 0
    grep -qxF "fd100 reached $HE_LIVE" <<<"$HE_OUT" || he_fail "fd 100 was not raced; $(he_ctx)"
    grep -qxF "fd356 reached $HE_LIVE" <<<"$HE_OUT" || he_fail "fd 356 was not raced; $(he_ctx)"
    expect_log_count whoami 2
    expect_under_ms "$HE_RACE_MS"
}
he_case splice/bound-port0-fds-256-apart splice_case_bind_pair

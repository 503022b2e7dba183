#!/bin/bash
# An AF_INET6 socket with IPV6_V6ONLY cannot carry IPv4: refuse6.test's IPv4
# sibling (198.51.100.10) must not be raced for it, so the refused first
# address (2001:db8:1::30) gives ConnectionRefusedError, as without libhe.
# Without IPV6_V6ONLY the same socket races the sibling as
# ::ffff:198.51.100.10 and reaches it.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

PY='
import socket, sys
v6only, name, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
first = socket.getaddrinfo(name, port, socket.AF_UNSPEC, socket.SOCK_STREAM)[0]
assert first[0] == socket.AF_INET6, first
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
try:
    s.connect(first[4])
except OSError as e:
    print(type(e).__name__)
    sys.exit(1)
print("peer", s.getpeername()[0])
sys.stdout.write(s.recv(4096).decode())
'

v6only_case() {
    he_run "$@" /usr/bin/python3 -c "$PY" 1 refuse6.test "$LAB_PORT_WHOAMI"
    expect_rc 1
    [ "$HE_OUT" = ConnectionRefusedError ] || he_fail "wanted ConnectionRefusedError; $(he_ctx)"
    expect_log_quiet whoami
    expect_under_ms "$HE_FAST_MS"
}
he_case v6only/refuse6 v6only_case
he_case v6only/refuse6-plain v6only_case --plain

v6only_case_dual() {
    he_run /usr/bin/python3 -c "$PY" 0 refuse6.test "$LAB_PORT_WHOAMI"
    expect_rc 0
    grep -qxF "peer ::ffff:$HE_LIVE" <<<"$HE_OUT" || he_fail "wanted peer ::ffff:$HE_LIVE; $(he_ctx)"
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    expect_under_ms "$HE_FAST_MS"
}
he_case v6only/dual-stack-refuse6 v6only_case_dual

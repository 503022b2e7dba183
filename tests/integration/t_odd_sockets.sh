#!/bin/bash
# Sockets with state libhe cannot carry over to a sibling are not raced
# (the promises "after a splice the fd differs only in its peer" and
# "it fails safe"): a socket filter (SO_GET_FILTER counts instructions,
# which libhe once misread, overrunning its stack or missing the filter), and
# a socket re-bound to a fixed port after libhe left it connecting, and
# sockets bound where libhe's bind hook cannot see it (glibc's
# bindresvport, the bind system call made directly): libhe must not take
# them for fresh, unbound sockets (shim/socket.c).
# progs/odd_sockets.c connects to dead4.test's dead first address with a
# 600 ms SO_SNDTIMEO: -1/EINPROGRESS at 600 ms, as without libhe.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

odd_filter() {
    local n=$1
    shift
    he_run "$@" "$HE_BIN/odd_sockets" filter dead4.test "$LAB_PORT_WHOAMI" "$n"
    expect_rc 1
    expect_result EINPROGRESS 580 1000
    grep -qx "filter $n" <<<"$HE_OUT" || he_fail "filter of $n not kept; $(he_ctx)"
    expect_log_quiet whoami
}
he_case odd/filter-1 odd_filter 1
he_case odd/filter-8 odd_filter 8
he_case odd/filter-8-plain odd_filter 8 --plain

odd_rebind() {
    he_run "$@" "$HE_BIN/odd_sockets" rebind dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 1
    expect_result EINPROGRESS 580 1000
    grep -qx "port 45678" <<<"$HE_OUT" || he_fail "fixed port lost; $(he_ctx)"
    expect_log_quiet whoami
}
he_case odd/rebind-fixed-port odd_rebind
he_case odd/rebind-fixed-port-plain odd_rebind --plain

# Bound without libhe's bind hook seeing it: the reserved port (or 20001,
# outside the ephemeral range) is kept, nothing raced.
odd_unseen() {
    local mode=$1
    shift
    he_run "$@" "$HE_BIN/odd_sockets" "$mode" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 1
    expect_result EINPROGRESS 580 1000
    local port
    port=$(sed -n 's/^port //p' <<<"$HE_OUT")
    if [ "$mode" = resvport ]; then
        [ -n "$port" ] && [ "$port" -ge 512 ] && [ "$port" -le 1023 ] ||
            he_fail "reserved port lost; $(he_ctx)"
    else
        [ "$port" = 20001 ] || he_fail "fixed port lost; $(he_ctx)"
    fi
    expect_log_quiet whoami
}
he_case odd/bindresvport odd_unseen resvport
he_case odd/bindresvport-plain odd_unseen resvport --plain
he_case odd/raw-bind-syscall odd_unseen rawbind

# Fresh sockets (shim/socket.c): libhe skips reading the options of a
# socket it saw made and never saw set up.  An option set where those
# bits cannot see it must still reach the winner:
#   dup        set through a dup of the socket, which was then closed
#   after      set on a non-blocking socket after its connect() returned
#              EINPROGRESS, before the first sibling started
# dead4.test: the first address is dead, the sibling wins and is spliced.
ODD_PY='
import os, select, socket, sys
mode = sys.argv[1]
ai = socket.getaddrinfo("dead4.test", int(sys.argv[2]), socket.AF_INET, socket.SOCK_STREAM)[0]
s = socket.socket(ai[0], ai[1])
if mode == "dup":
    d = socket.socket(fileno=os.dup(s.fileno()))
    d.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    d.close()
    s.settimeout(3)
    s.connect(ai[4])
else:
    s.setblocking(False)
    try:
        s.connect(ai[4])
    except BlockingIOError:
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    p = select.poll()
    p.register(s, select.POLLOUT)
    p.poll(3000)
    print("so_error %d" % s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
print("keepalive %d" % s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
print("peer " + s.getpeername()[0])
'
odd_fresh_option() {
    he_run /usr/bin/python3 -c "$ODD_PY" "$1" "$LAB_PORT_WHOAMI"
    expect_rc 0
    grep -qx "peer ${LAB_LIVE4[0]}" <<<"$HE_OUT" || he_fail "not rescued; $(he_ctx)"
    grep -qx "keepalive 1" <<<"$HE_OUT" || he_fail "SO_KEEPALIVE lost in the splice; $(he_ctx)"
}
he_case odd/fresh/option-through-a-dup odd_fresh_option dup
he_case odd/fresh/option-after-connect odd_fresh_option after

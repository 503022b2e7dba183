#!/bin/sh
# failover-check.sh: the steps the CI examples run once libhe is installed
# (github-actions.yml, gitlab-ci.yml), and `make check` runs too
# (tests/check-deb.sh), so that they cannot rot.
#
# A client connects to svc.test, which HE_HOSTS gives two addresses: first
# 127.0.0.2, made dead by a fault (--fault 127.0.0.2=drop: its SYNs go
# unanswered, as from a host that is down), then 127.0.0.3, where a tiny
# server started here listens.  Without libhe the client would sit in its
# 10 s connect timeout on the dead address first; with libhe the second
# address is raced after the attempt delay (250 ms) and the client is
# rescued.  The JSON summary libhe writes at exit must say so: a rescue, no
# failure, the fault injected, and little time lost.
#
# Why two loopback addresses: getaddrinfo sorts a name's addresses (RFC
# 6724, as glibc does, HE_HOSTS's answers too), and a loopback address goes
# before any other (rule 8, the smaller scope), so a TEST-NET address next
# to 127.0.0.1 would be second and never tried.  127.0.0.2 and 127.0.0.3
# tie on every rule and keep the file's order.  Any 127.0.0.0/8 address
# works on Linux without set-up.
#
# Needs: he-run (HE_RUN names it; default: the one on PATH), python3, jq.
# HE_RUN_LIB, when set, is passed on to he-run (a library not where he-run
# was installed to look).  To test your own client, replace the python3
# client below with it, and the server with yours.
set -eu

he_run=${HE_RUN:-he-run}
for tool in "$he_run" python3 jq; do
    command -v "$tool" >/dev/null 2>&1 || { echo "failover-check: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The server: 127.0.0.3, a port of the kernel's choosing, "hello" to each
# connection.  It writes its port once it listens.
python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.3", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    c.sendall(b"hello\n")
    c.close()
' "$work/port" &
server_pid=$!
i=0
while [ ! -s "$work/port" ]; do
    i=$((i + 1))
    [ $i -le 100 ] || { echo "failover-check: the server did not start" >&2; exit 1; }
    sleep 0.05
done
port=$(cat "$work/port")

# The name: the dead address first, then the live one.
printf '127.0.0.2 svc.test\n127.0.0.3 svc.test\n' > "$work/hosts"

# The client, under libhe, with the fault; libhe's lines (the race at
# --log info, the summary) go to the log file as JSON, the client's own
# output to stdout.
HE_HOSTS=$work/hosts HE_LOG_FILE=$work/libhe.json \
    "$he_run" --fault 127.0.0.2=drop --summary --json --log info -- \
    python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
print("client got:", c.recv(100).decode().strip(), "from", c.getpeername()[0])
' svc.test "$port"

echo "libhe's log:"
cat "$work/libhe.json"

# The assertion: rescued at least once, nothing failed, the fault was
# injected, and less than 2 s lost to the dead address.
jq -e 'select(.event == "summary")
       | .rescued >= 1 and .failed == 0 and .faults >= 1 and .dead_wait_ms < 2000' \
    "$work/libhe.json" >/dev/null || {
    echo "failover-check: FAIL: the summary does not show the rescue" >&2
    exit 1
}
echo "failover-check: ok: $(jq -c 'select(.event == "summary")' "$work/libhe.json")"

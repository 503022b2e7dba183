#!/bin/bash
# scripts/he-lab, the hermetic network for a whole process tree (he-lab(1)):
# COMMAND runs in a network and mount namespace of its own where each
# --host NAME resolves, in the order given, to live addresses (on the
# namespace's lo: a server COMMAND starts binds them), dead ones (SYNs
# dropped) and refusing ones (RST).  he-lab runs as a user would start it,
# outside libhe (he_run --plain); the cases that want libhe put it in
# COMMAND's LD_PRELOAD, or in he-lab's own (passed on to COMMAND).
#
# Inside the lab, SERVED (below) starts a whoami server ("reached ADDR",
# the address it was reached at) on the addresses and ports given, then
# runs the client: PY_CLIENT (python3) or progs/lab_connect.c linked
# statically (LD_PRELOAD means nothing to it).
#
#   he-lab/python       python3: live reached, dead times out at its 1 s
#                       timeout, refuse ECONNREFUSED at once, the run.sh
#                       lab's own address unreachable (ENETUNREACH)
#   he-lab/static       the static C client (gcc -static): a name's dead,
#                       refusing and live addresses tried in order
#   he-lab/ipv6         live6, dead6, refuse6
#   he-lab/libhe        python3 under libhe (LD_PRELOAD in COMMAND): a dead
#                       first address costs the attempt delay, not 1 s
#   he-lab/libhe-outer  the same with LD_PRELOAD set on he-lab itself
#   he-lab/port         --port 8080: dead and refusing on 8080 only; on 8081
#                       the same addresses reach the server
#   he-lab/order        getaddrinfo gives each name's addresses in the order
#                       given, across families; localhost resolves, the run.sh
#                       lab's names do not, and are still there afterwards
#   he-lab/isolated     COMMAND's children (a grandchild, a setsid one) are
#                       in the lab's network namespace, which has only lo
#   he-lab/status       COMMAND's exit status, stdin, stdout and stderr
#   he-lab/nft          HE_LAB_FIREWALL=nft: the same dead/refuse via nft
#                       (SKIP when nft is not installed)
#   he-lab/unprivileged as nobody: user namespaces (SKIP when run.sh itself
#                       runs unprivileged: no uid 65534 to become)
#   he-lab/env-userns   as nobody where user namespaces are disabled (a
#                       user namespace of the case's own, its
#                       user.max_user_namespaces set to 0): exit 2, the
#                       reason and what to do; COMMAND never runs
#   he-lab/env-messages the other reasons, forced (HE_LAB_UNSHARE=false,
#                       HE_LAB_PROC_SYS): root in a container, Ubuntu's
#                       AppArmor restriction
#   he-lab/help, he-lab/version, he-lab/usage
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

HE_LAB_SCRIPT=$(realpath "$HE_IT_DIR/../../scripts/he-lab")
LAB_CONNECT_SRC=$HE_IT_DIR/progs/lab_connect.c
# The addresses he-lab gives (he-lab(1), THE NETWORK): the first live,
# dead and refusing address of each family.
LIVE4=203.0.113.1 DEAD4=203.0.113.101 REFUSE4=203.0.113.201
LIVE6=2001:db8:113::1 DEAD6=2001:db8:113::101 REFUSE6=2001:db8:113::201
NOBODY=65534

# python3 SERVES...: a whoami server on each ADDR PORT pair (one list,
# split by the shell), "reached <local address>" to each connection;
# writes its first argument, a file, when it listens.
PY_SERVER='
import socket, sys, threading
ready, serves = sys.argv[1], sys.argv[2].split()
def serve(s):
    while True:
        c, _ = s.accept()
        c.sendall(("reached %s\n" % c.getsockname()[0]).encode())
        c.close()
for addr, port in zip(serves[0::2], serves[1::2]):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
open(ready, "w").write("ready\n")
threading.Event().wait()
'

# bash -c "$SERVED" _ PY_SERVER "ADDR PORT ..." CMD...: CMD with that
# server running (it stops when CMD ends); exit status CMD's, 99 if the
# server did not start.
# shellcheck disable=SC2016 # the inner shell's
SERVED='
ready=$(mktemp) || exit 99
/usr/bin/python3 -c "$1" "$ready" "$2" &
srv=$!
shift 2
for _ in $(seq 300); do
    [ -s "$ready" ] && break
    kill -0 "$srv" 2>/dev/null || break
    sleep 0.01
done
if [ ! -s "$ready" ]; then
    echo "SERVED: the server did not start" >&2
    kill "$srv" 2>/dev/null
    rm -f "$ready"
    exit 99
fi
rm -f "$ready"
"$@"
rc=$?
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
exit $rc
'

# python3 NAME:PORT...: one create_connection each (timeout 1 s), in
# order; a line each: "NAME:PORT reached ADDR ms=N", "NAME:PORT timeout
# ms=N" or "NAME:PORT errno E ms=N".
PY_CLIENT='
import socket, sys, time
for target in sys.argv[1:]:
    name, port = target.rsplit(":", 1)
    t = time.monotonic()
    try:
        s = socket.create_connection((name, int(port)), timeout=1)
        out = s.recv(100).decode().strip()
        s.close()
    except socket.timeout:
        out = "timeout"
    except OSError as e:
        out = "errno %d" % e.errno
    print(target, out, "ms=%d" % ((time.monotonic() - t) * 1000), flush=True)
'

# he-lab ARGS... as a user starts it: no LD_PRELOAD of the harness's.
helab() {
    he_run --plain /bin/sh "$HE_LAB_SCRIPT" "$@"
}

# helab_served SERVES [he_run options] HE-LAB-ARGS... -- CMD...: CMD in the
# lab, with the whoami server on SERVES ("ADDR PORT ...").
helab_served() {
    local serves=$1 opts=() args=()
    shift
    while [ "$1" = --env ]; do
        opts+=("$1" "$2")
        shift 2
    done
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        args+=("$1")
        shift
    done
    shift
    he_run --plain "${opts[@]}" /bin/sh "$HE_LAB_SCRIPT" "${args[@]}" -- \
        /bin/bash -c "$SERVED" _ "$PY_SERVER" "$serves" "$@"
}

# expect_line REGEX: stdout has a whole line matching REGEX.
expect_line() {
    grep -qE "^$1\$" <<<"$HE_OUT" || he_fail "wanted a line '$1'; $(he_ctx)"
}

# expect_client TARGET OUTCOME MIN MAX: PY_CLIENT's line for TARGET says
# OUTCOME ("reached ADDR", "timeout", "errno E") after MIN..MAX ms.
expect_client() {
    local target=$1 want=$2 min=$3 max=$4 line ms
    line=$(grep -m 1 -F "$target " <<<"$HE_OUT")
    [[ $line == "$target $want ms="* ]] || he_fail "wanted '$target $want'; $(he_ctx)"
    ms=${line##*ms=}
    if [ "$ms" -lt "$min" ] || [ "$ms" -gt "$max" ]; then
        he_fail "$target: $want after $ms ms, wanted $min..$max; $(he_ctx)"
    fi
}

# A dead address against a 1 s client timeout, and anything else.
DEAD_MIN=900 DEAD_MAX=1800 QUICK_MAX=500

# ---------------------------------------------------------------- clients

helab_case_python() {
    helab_served "$LIVE4 8080" \
        --host live.test=live --host dead.test=dead --host refuse.test=refuse -- \
        /usr/bin/python3 -c "$PY_CLIENT" live.test:8080 dead.test:8080 refuse.test:8080 \
        "$HE_LIVE:$LAB_PORT_WHOAMI"
    expect_rc 0
    expect_client live.test:8080 "reached $LIVE4" 0 "$QUICK_MAX"
    expect_client dead.test:8080 timeout "$DEAD_MIN" "$DEAD_MAX"
    expect_client refuse.test:8080 "errno 111" 0 "$QUICK_MAX"
    # The run.sh lab's live address, next door: no route from the lab.
    expect_client "$HE_LIVE:$LAB_PORT_WHOAMI" "errno 101" 0 "$QUICK_MAX"
    expect_log_quiet whoami
}
he_case he-lab/python helab_case_python

# gcc -static progs/lab_connect.c into the case directory.
build_static_client() {
    local out
    out=$(gcc -O1 -Wall -Wextra -static -o "$HE_CASE_DIR/lab_connect" "$LAB_CONNECT_SRC" 2>&1) ||
        he_fail "gcc -static failed (glibc's static libc.a is in Debian's libc6-dev): $(he_oneline "$out")"
    if readelf -l "$HE_CASE_DIR/lab_connect" | grep -q 'Requesting program interpreter'; then
        he_fail "gcc -static built a dynamic program"
    fi
}

helab_case_static() {
    build_static_client
    # LD_PRELOAD=libhe for the client, which cannot honour it: what it
    # gets is the kernel's answer, each address in turn.
    helab_served "0.0.0.0 8080" --host api.test=dead,refuse,live -- \
        env "LD_PRELOAD=$HE_PRELOAD" "$HE_CASE_DIR/lab_connect" api.test 8080 1000
    expect_rc 0
    [ "$HE_OUT" = "$DEAD4 timeout
$REFUSE4 ECONNREFUSED
$LIVE4 connected reached $LIVE4" ] || he_fail "wanted dead (timeout), refuse (ECONNREFUSED), then live; $(he_ctx)"
    expect_over_ms "$DEAD_MIN"
}
he_case he-lab/static helab_case_static

helab_case_ipv6() {
    helab_served ":: 8080" \
        --host live.test=live6 --host dead.test=dead6 --host refuse.test=refuse6 -- \
        /usr/bin/python3 -c "$PY_CLIENT" live.test:8080 dead.test:8080 refuse.test:8080
    expect_rc 0
    expect_client live.test:8080 "reached $LIVE6" 0 "$QUICK_MAX"
    expect_client dead.test:8080 timeout "$DEAD_MIN" "$DEAD_MAX"
    expect_client refuse.test:8080 "errno 111" 0 "$QUICK_MAX"
}
he_case he-lab/ipv6 helab_case_ipv6

# libhe rescues python3 from api.test's dead first address after the
# attempt delay (the client's own timeout, 1 s, would be hit without it).
helab_case_libhe() {
    helab_served "0.0.0.0 8080" --host api.test=dead,live -- \
        env "LD_PRELOAD=$HE_PRELOAD" HE_LOG=info /usr/bin/python3 -c "$PY_CLIENT" api.test:8080
    expect_rc 0
    expect_client api.test:8080 "reached $LIVE4" $((HE_DELAY_MS * 9 / 10)) 1000
    grep -q "race api\\.test: winner $LIVE4 " <<<"$HE_ERR" || he_fail "wanted libhe's race line; $(he_ctx)"
}
he_case he-lab/libhe helab_case_libhe

# LD_PRELOAD on he-lab itself: its setup runs without it, COMMAND with it.
helab_case_libhe_outer() {
    helab_served "0.0.0.0 8080" --env "LD_PRELOAD=$HE_PRELOAD" --env HE_LOG=info \
        --host api.test=dead6,live -- /usr/bin/python3 -c "$PY_CLIENT" api.test:8080
    expect_rc 0
    expect_client api.test:8080 "reached $LIVE4" $((HE_DELAY_MS * 9 / 10)) 1000
    grep -q "race api\\.test: winner $LIVE4 " <<<"$HE_ERR" || he_fail "wanted libhe's race line; $(he_ctx)"
}
he_case he-lab/libhe-outer helab_case_libhe_outer

# --port 8080: only port 8080 of the dead and refusing addresses is dead or
# refusing; the server listens on every address, both ports.
helab_case_port() {
    helab_served "0.0.0.0 8080 0.0.0.0 8081" \
        --port 8080 --host dead.test=dead --host refuse.test=refuse -- \
        /usr/bin/python3 -c "$PY_CLIENT" dead.test:8080 refuse.test:8080 dead.test:8081 refuse.test:8081
    expect_rc 0
    expect_client dead.test:8080 timeout "$DEAD_MIN" "$DEAD_MAX"
    expect_client refuse.test:8080 "errno 111" 0 "$QUICK_MAX"
    expect_client dead.test:8081 "reached $DEAD4" 0 "$QUICK_MAX"
    expect_client refuse.test:8081 "reached $REFUSE4" 0 "$QUICK_MAX"
}
he_case he-lab/port helab_case_port

# ---------------------------------------------------------------- the lab

# STREAM addresses of NAME, space-separated, as getaddrinfo orders them.
# shellcheck disable=SC2016 # the inner shell's
AHOSTS='for n; do printf "%s:" "$n"; getent ahosts "$n" | awk '\''$2 == "STREAM" { printf " %s", $1 }'\''; echo; done'

helab_case_order() {
    helab --host api.test=dead,live6,refuse,live,dead6 --host v4.test=refuse,dead,live \
        --host v6.test=live6,refuse6 --host Mixed.Test=live -- \
        /bin/bash -c "$AHOSTS" _ api.test v4.test v6.test mixed.test localhost healthy.test
    expect_rc 0
    expect_line "v4.test: 203.0.113.202 203.0.113.102 203.0.113.2"
    expect_line "v6.test: 2001:db8:113::2 $REFUSE6"
    expect_line "mixed.test: 203.0.113.3"
    expect_line "localhost: (::1 127.0.0.1|127.0.0.1 ::1)"
    # The run.sh lab's names are gone: the host's /etc/hosts is hidden.
    expect_line "healthy.test:"
    if [ -e /etc/gai.conf ]; then
        expect_line "api.test: $DEAD4 $LIVE6 $REFUSE4 $LIVE4 $DEAD6"
    else
        # No gai.conf to bind-mount: RFC 6724's default precedence puts
        # IPv6 first (he-lab(1)).
        expect_line "api.test: $LIVE6 $DEAD6 $DEAD4 $REFUSE4 $LIVE4"
    fi
    # And here, outside, nothing changed.
    he_run --plain /bin/bash -c "$AHOSTS" _ healthy.test api.test
    expect_line "healthy.test: ${LAB_NAMES[healthy.test]}"
    expect_line "api.test:"
}
he_case he-lab/order helab_case_order

# Every process COMMAND starts, however, is in the lab's network
# namespace, which has lo and nothing else.
helab_case_isolated() {
    local outside
    outside=$(readlink /proc/self/ns/net)
    # shellcheck disable=SC2016 # the inner shell's
    helab --host a.test=live -- /bin/sh -c '
        readlink /proc/self/ns/net
        sh -c "sh -c \"echo grandchild \$(readlink /proc/self/ns/net)\""
        setsid sh -c "echo setsid \$(readlink /proc/self/ns/net)" </dev/null | cat
        ip -o link show | awk "{ print \"link\", \$2 }"'
    expect_rc 0
    local inside
    inside=$(head -n 1 <<<"$HE_OUT")
    if [[ $inside != net:* ]] || [ "$inside" = "$outside" ]; then
        he_fail "COMMAND is in '$inside', wanted a network namespace other than $outside; $(he_ctx)"
    fi
    grep -qxF "grandchild $inside" <<<"$HE_OUT" || he_fail "wanted the grandchild in $inside; $(he_ctx)"
    grep -qxF "setsid $inside" <<<"$HE_OUT" || he_fail "wanted the setsid child in $inside; $(he_ctx)"
    [ "$(grep -c '^link ' <<<"$HE_OUT")" = 1 ] || he_fail "wanted one network interface; $(he_ctx)"
    expect_line "link lo:"
}
he_case he-lab/isolated helab_case_isolated

# COMMAND's exit status is he-lab's; stdin, stdout and stderr are COMMAND's.
helab_case_status() {
    helab --host a.test=dead -- /bin/sh -c 'echo out; echo err >&2; exit 7'
    expect_rc 7
    if [ "$HE_OUT" != out ] || [ "$HE_ERR" != err ]; then
        he_fail "wanted 'out' on stdout, 'err' on stderr; $(he_ctx)"
    fi
    helab -- /bin/false
    expect_rc 1
    helab -- /no/such/program
    expect_rc 127
    # shellcheck disable=SC2016 # the inner shell's
    he_run --plain /bin/sh -c 'printf "line 1\nline 2\n" | /bin/sh "$1" --host a.test=live -- wc -l' _ "$HE_LAB_SCRIPT"
    expect_rc 0
    [ "$(tr -d ' ' <<<"$HE_OUT")" = 2 ] || he_fail "wanted COMMAND to read he-lab's stdin; $(he_ctx)"
}
he_case he-lab/status helab_case_status

helab_case_nft() {
    # shellcheck disable=SC2016 # the inner shell's
    helab_served "0.0.0.0 8080" --env HE_LAB_FIREWALL=nft \
        --host live.test=live --host dead.test=dead --host refuse.test=refuse6 -- \
        /bin/sh -c 'iptables -S INPUT | grep -c "^-A"; /usr/bin/python3 -c "$0" "$@"' "$PY_CLIENT" \
        live.test:8080 dead.test:8080 refuse.test:8080
    expect_rc 0
    expect_line 0 # no iptables rules: nft's
    expect_client live.test:8080 "reached $LIVE4" 0 "$QUICK_MAX"
    expect_client dead.test:8080 timeout "$DEAD_MIN" "$DEAD_MAX"
    expect_client refuse.test:8080 "errno 111" 0 "$QUICK_MAX"
}
if command -v nft >/dev/null || [ -x /usr/sbin/nft ]; then
    he_case he-lab/nft helab_case_nft
elif he_selected he-lab/nft; then
    echo "SKIP he-lab/nft: nft is not installed (Debian package nftables)" | tee -a "$HE_RESULTS"
fi

# ---------------------------------------------------------------- privileges

# Can this run become uid 65534?  Not when run.sh itself runs unprivileged
# (unshare -r maps one uid only).
NOBODY_OK=
setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups true 2>/dev/null && NOBODY_OK=1

# A copy of he-lab that uid 65534 can read (the checkout may not be, and
# HE_WORK is root's alone), in HELAB_PUBLIC; removed when the case ends.
public_copy() {
    HELAB_PUBLIC=$(mktemp -d /tmp/he-lab-test.XXXXXX) || he_fail "mktemp failed"
    trap 'rm -rf "$HELAB_PUBLIC"' EXIT
    chmod 755 "$HELAB_PUBLIC"
    cp "$HE_LAB_SCRIPT" "$HELAB_PUBLIC/he-lab" || he_fail "cannot copy he-lab"
    chmod 755 "$HELAB_PUBLIC/he-lab"
}

# As nobody, with a PATH without sbin: he-lab makes a user namespace, and
# finds ip and iptables by itself.  Where the kernel does not let nobody
# make one, it must say so (exit 2).
helab_case_unprivileged() {
    public_copy
    if ! setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups \
        unshare --user --map-root-user --net --mount true 2>/dev/null; then
        he_run --plain setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups -- \
            env PATH=/usr/bin:/bin HOME=/ /bin/sh "$HELAB_PUBLIC/he-lab" --host a.test=live -- echo ran
        expect_rc 2
        [[ $HE_ERR == "he-lab: cannot build the lab: "* ]] || he_fail "wanted the reason; $(he_ctx)"
        return
    fi
    he_run --plain setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups -- \
        env PATH=/usr/bin:/bin HOME=/ /bin/sh "$HELAB_PUBLIC/he-lab" \
        --host live.test=live --host dead.test=dead --host refuse.test=refuse -- \
        /bin/bash -c "$SERVED" _ "$PY_SERVER" "$LIVE4 8080" \
        /usr/bin/python3 -c "$PY_CLIENT" live.test:8080 dead.test:8080 refuse.test:8080
    expect_rc 0
    expect_client live.test:8080 "reached $LIVE4" 0 "$QUICK_MAX"
    expect_client dead.test:8080 timeout "$DEAD_MIN" "$DEAD_MAX"
    expect_client refuse.test:8080 "errno 111" 0 "$QUICK_MAX"
}

# Stage 1, in a new user namespace: wait until the case has mapped uid 0
# and 65534 into it, then exec stage 2 (the namespace's capabilities come
# with an exec as a mapped uid 0).  $0 stage 2, $1 the directory, then the
# command.
# shellcheck disable=SC2016 # the inner shell's
ENV_STAGE1='echo $$ >"$1/pid"
while [ ! -e "$1/mapped" ]; do sleep 0.01; done
stage2=$0
shift
exec /bin/sh -c "$stage2" stage2 "$@"'
# Stage 2: no more user namespaces in this one, then the command as nobody.
# shellcheck disable=SC2016 # the inner shell's
ENV_STAGE2='echo 0 >/proc/sys/user/max_user_namespaces || exit 98
exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"'
# Writes uid_map and gid_map of process $1, each in one write(2).
# shellcheck disable=SC2016 # python
MAP_PY='
import sys
for f in ("uid_map", "gid_map"):
    with open("/proc/%s/%s" % (sys.argv[1], f), "w") as fh:
        fh.write("0 0 1\n65534 65534 1\n")
'

# Where nobody may not make user namespaces: a user namespace of the
# case's own whose user.max_user_namespaces is 0 (the host's is untouched).
helab_case_env_userns() {
    local i pid
    public_copy
    he_run_bg --plain unshare --user -- /bin/sh -c "$ENV_STAGE1" "$ENV_STAGE2" "$HELAB_PUBLIC" \
        /bin/sh "$HELAB_PUBLIC/he-lab" --host api.test=dead,live -- echo ran
    for ((i = 0; i < 300; i++)); do
        [ -s "$HELAB_PUBLIC/pid" ] && break
        sleep 0.01
    done
    pid=$(cat "$HELAB_PUBLIC/pid" 2>/dev/null)
    [ -n "$pid" ] || {
        he_run_wait_quiet kill
        he_fail "the user namespace did not start; $(he_ctx)"
    }
    /usr/bin/python3 -c "$MAP_PY" "$pid" 2>"$HE_CASE_DIR/map.err" || {
        he_run_wait_quiet kill
        he_fail "cannot map uids into the case's user namespace: $(cat "$HE_CASE_DIR/map.err")"
    }
    : >"$HELAB_PUBLIC/mapped"
    he_run_wait
    [ "$HE_RC" != 98 ] || he_fail "could not set user.max_user_namespaces in the case's namespace; $(he_ctx)"
    expect_rc 2
    [ -z "$HE_OUT" ] || he_fail "COMMAND ran, or something went to stdout; $(he_ctx)"
    [[ $HE_ERR == *"he-lab: cannot build the lab: user namespaces are disabled (user.max_user_namespaces = 0; "* ]] ||
        he_fail "wanted the reason; $(he_ctx)"
    [[ $HE_ERR == *"run he-lab as root (sudo he-lab ...), or allow them: sudo sysctl -w user.max_user_namespaces="* ]] ||
        he_fail "wanted what to do; $(he_ctx)"
    [ "$(cat /proc/sys/user/max_user_namespaces)" != 0 ] || he_fail "the host's user.max_user_namespaces changed"
}

if [ -n "$NOBODY_OK" ]; then
    he_case he-lab/unprivileged helab_case_unprivileged
    he_case he-lab/env-userns helab_case_env_userns
else
    for c in he-lab/unprivileged he-lab/env-userns; do
        he_selected "$c" &&
            echo "SKIP $c: cannot become uid $NOBODY here (run.sh runs unprivileged)" | tee -a "$HE_RESULTS"
    done
fi

# The other reasons, forced: unshare fails (HE_LAB_UNSHARE=false), the
# sysctls read from a directory of the case's (HE_LAB_PROC_SYS).
helab_case_env_messages() {
    # Root that cannot make namespaces: a container's.
    he_run --plain --env HE_LAB_UNSHARE=false /bin/sh "$HE_LAB_SCRIPT" --host a.test=live -- echo ran
    expect_rc 2
    [ -z "$HE_OUT" ] || he_fail "COMMAND ran; $(he_ctx)"
    [[ $HE_ERR == "he-lab: cannot build the lab: root cannot create network and mount namespaces here"* ]] ||
        he_fail "wanted the reason; $(he_ctx)"
    [[ $HE_ERR == *"--privileged"*"--cap-add SYS_ADMIN --cap-add NET_ADMIN"* ]] ||
        he_fail "wanted what to do in a container; $(he_ctx)"
    [ -n "$NOBODY_OK" ] || return 0
    # Ubuntu 24.04's AppArmor restriction, for a user.
    public_copy
    mkdir -p "$HELAB_PUBLIC/sys/kernel" "$HELAB_PUBLIC/sys/user"
    echo 1 >"$HELAB_PUBLIC/sys/kernel/apparmor_restrict_unprivileged_userns"
    echo 1000 >"$HELAB_PUBLIC/sys/user/max_user_namespaces"
    chmod -R a+rX "$HELAB_PUBLIC/sys"
    he_run --plain --env HE_LAB_UNSHARE=false --env "HE_LAB_PROC_SYS=$HELAB_PUBLIC/sys" \
        setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups -- \
        /bin/sh "$HELAB_PUBLIC/he-lab" --host a.test=live -- echo ran
    expect_rc 2
    [[ $HE_ERR == *"AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, the default on Ubuntu 24.04;"* ]] ||
        he_fail "wanted the AppArmor reason; $(he_ctx)"
    [[ $HE_ERR == *"sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"* ]] ||
        he_fail "wanted what to do; $(he_ctx)"
    # Debian's switch, before both.
    echo 0 >"$HELAB_PUBLIC/sys/kernel/unprivileged_userns_clone"
    chmod a+r "$HELAB_PUBLIC/sys/kernel/unprivileged_userns_clone"
    he_run --plain --env HE_LAB_UNSHARE=false --env "HE_LAB_PROC_SYS=$HELAB_PUBLIC/sys" \
        setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups -- \
        /bin/sh "$HELAB_PUBLIC/he-lab" --host a.test=live -- echo ran
    expect_rc 2
    [[ $HE_ERR == *"(kernel.unprivileged_userns_clone = 0;"*"sudo sysctl -w kernel.unprivileged_userns_clone=1"* ]] ||
        he_fail "wanted Debian's switch; $(he_ctx)"
}
he_case he-lab/env-messages helab_case_env_messages

# ---------------------------------------------------------------- the command

helab_case_help() {
    helab --help
    expect_rc 0
    [[ $HE_OUT == "Usage: he-lab "* ]] || he_fail "wanted the usage on stdout; $(he_ctx)"
    [ -z "$HE_ERR" ] || he_fail "wanted nothing on stderr; $(he_ctx)"
}
he_case he-lab/help helab_case_help

helab_case_version() {
    helab --version
    expect_rc 0
    [[ $HE_OUT =~ ^he-lab\ \(libhe\)\ [^[:space:]]+$ ]] || he_fail "wanted 'he-lab (libhe) VERSION'; $(he_ctx)"
}
he_case he-lab/version helab_case_version

# Each usage error: exit 2, a line on stderr saying what is wrong, and
# COMMAND not run.
helab_usage_error() {
    local want=$1
    shift
    helab "$@"
    expect_rc 2
    [ -z "$HE_OUT" ] || he_fail "wanted nothing on stdout for '$*'; $(he_ctx)"
    [[ $HE_ERR == *"$want"* ]] || he_fail "wanted '$want' for '$*'; $(he_ctx)"
}

helab_case_usage() {
    helab_usage_error "Usage: he-lab"
    helab_usage_error "Usage: he-lab" --host a.test=live --
    helab_usage_error "unknown option --nope" --nope echo ran
    helab_usage_error "--host needs a value" --host
    helab_usage_error "wanted NAME=KIND" --host a.test -- echo ran
    helab_usage_error "wanted NAME=KIND" --host a.test=live,,dead -- echo ran
    helab_usage_error "wanted NAME=KIND" --host a.test= -- echo ran
    helab_usage_error "unknown kind 'alive'" --host a.test=alive -- echo ran
    helab_usage_error "not a host name" --host 'a b=live' -- echo ran
    helab_usage_error "looks like an IPv4 address" --host 192.0.2.1=live -- echo ran
    helab_usage_error "given twice" --host a.test=live --host A.test=dead -- echo ran
    helab_usage_error "localhost is 127.0.0.1" --host localhost=dead -- echo ran
    helab_usage_error "--port 0: wanted a TCP port" --port 0 --host a.test=dead -- echo ran
    helab_usage_error "--port 65536: wanted a TCP port" --port 65536 -- echo ran
    helab_usage_error "--port http: wanted a TCP port" --port=http -- echo ran
    helab_usage_error "too many refuse addresses (at most 54)" \
        --host "a.test=$(printf 'refuse,%.0s' {1..54})refuse" -- echo ran
    he_run --plain --env HE_LAB_FIREWALL=pf /bin/sh "$HE_LAB_SCRIPT" --host a.test=dead -- echo ran
    expect_rc 2
    [[ $HE_ERR == *"HE_LAB_FIREWALL=pf: wanted iptables or nft"* ]] || he_fail "wanted HE_LAB_FIREWALL refused; $(he_ctx)"
}
he_case he-lab/usage helab_case_usage

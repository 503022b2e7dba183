#!/bin/bash
# The lab itself, without libhe: names resolve to all their addresses in the
# order the other cases rely on, dead addresses swallow SYNs, refusing ones
# answer with RST.  If these fail, every other failure is suspect.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# getaddrinfo (through getent ahosts) returns NAME's addresses in table order.
# (dead6v6 relies on the precedence line lab.sh writes to gai.conf, and so
# on the host having an /etc/gai.conf to bind-mount it over.)
lab_case_order() {
    local name=$1 want=${LAB_NAMES[$1]} got
    he_run --plain getent ahosts "$name"
    got=$(awk '$2 == "STREAM" { printf "%s%s", sep, $1; sep = " " }' <<<"$HE_OUT")
    [ "$got" = "$want" ] || he_fail "getent ahosts $name gave '$got', wanted '$want'"
}

# A TCP connect to ADDR neither succeeds nor fails within 500 ms.  (The
# inner timeout reports through stdout: he_run treats its own 124 as a hang.)
lab_case_dead() {
    # shellcheck disable=SC2016 # $1, $2 are the inner shell's
    he_run --plain bash -c 'timeout 0.5 bash -c "exec 3<>/dev/tcp/$1/$2"; echo "status $?"' \
        _ "$1" "$LAB_PORT_WHOAMI"
    [ "$HE_OUT" = "status 124" ] || he_fail "connect did not hang; $(he_ctx)"
}

# A TCP connect to ADDR is refused at once.
lab_case_refuse() {
    # shellcheck disable=SC2016 # $1, $2 are the inner shell's
    he_run --plain bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$LAB_PORT_WHOAMI"
    expect_rc_nonzero
    [[ $HE_ERR == *"Connection refused"* ]] || he_fail "not refused; $(he_ctx)"
    expect_under_ms 500
}

for name in $(printf '%s\n' "${!LAB_NAMES[@]}" | sort); do
    he_case "lab/order-${name%.test}" lab_case_order "$name"
done
he_case lab/dead4 lab_case_dead "${LAB_DEAD4[0]}"
he_case lab/dead6 lab_case_dead "${LAB_DEAD6[0]}"
he_case lab/refuse4 lab_case_refuse "${LAB_REFUSE4[0]}"
he_case lab/refuse6 lab_case_refuse "${LAB_REFUSE6[0]}"

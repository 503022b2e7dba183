#!/bin/bash
# OpenSSH's client without ConnectTimeout: getaddrinfo, then a blocking
# connect() to each address in order.  The lab's banner server is no SSH
# server: it sends a banner, reads ssh's identification line and closes, so
# ssh always fails (exit 255).  Success here means the banner server was
# reached at the live address, got ssh's identification through the
# connection, and ssh did not hang.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

HE_SERVER=banner

client() {
    HE_CMD=(ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        -p "$LAB_PORT_BANNER" "$1" true)
}

check_reached() {
    expect_rc 255
    expect_log banner "$1"
    expect_log_ident banner "$1"
}

he_standard_cases ssh "${HE_ALL_KINDS[@]}"

#!/bin/bash
# Python's socket.create_connection() without a timeout: getaddrinfo, then a
# blocking connect() to each address in order.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

PY='
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
'

client() { HE_CMD=(/usr/bin/python3 -c "$PY" "$1" "$LAB_PORT_WHOAMI"); }

he_standard_cases python3 "${HE_ALL_KINDS[@]}"

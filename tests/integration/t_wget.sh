#!/bin/bash
# wget fetching from the lab's HTTP server, which answers with
# "reached <addr>".  wget resolves with getaddrinfo and connects to each
# address in order with a blocking connect().
#
# -t 1: by default wget retries a timed-out connection up to 20 times with
# growing pauses, which would hide a libhe failure behind a later success and
# turn alldead into minutes.  --no-config --no-proxy: no wgetrc or proxy
# variable may send the request anywhere but the lab's server.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

HE_SERVER=http

client() { HE_CMD=(wget --no-config --no-proxy -q -t 1 -O - "http://$1:$LAB_PORT_HTTP/"); }

he_standard_cases wget "${HE_ALL_KINDS[@]}"

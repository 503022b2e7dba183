#!/bin/bash
# libhe integration tests.
#
#   tests/integration/run.sh [PATTERN]
#   tests/integration/run.sh --exec CMD [ARGS...]
#
# --exec runs CMD inside the lab instead of the tests (e.g. --exec bash for a
# shell; the helper programs are in $HE_BIN, the server logs in
# $LAB_LOG_DIR) and exits with its status.
#
# Runs every case of every t_*.sh, or only those whose case name (e.g.
# "python3/dead4") or file name (e.g. "t_python3") matches PATTERN, an
# extended regex.  Prints "PASS name (X ms)" or "FAIL name: reason" per case
# and finally "N passed, N failed"; exits 1 if any case failed (or none
# ran), 77 if this machine cannot host the lab.
#
# Environment:
#   HE_LIB            the library under test (default ../../build/libhe.so
#                     relative to this script)
#   HE_RUN_TIMEOUT_S  hard limit per client run (default 6)
#   HE_HISTORY_CLI    he-history (default: beside HE_LIB)
#   HE_SAN            asan|tsan|empty, as `make check-asan` passes it: the
#                     sanitizer runtime libhe links against is preloaded
#                     ahead of it (found with ldd either way)
#   HE_IT_KEEP=1      keep the scratch directory (logs, per-case output)
#   HE_LOG, HE_ATTEMPT_DELAY_MS, ...  passed through to libhe
#
# Adding tests: a t_NAME.sh file here is picked up by itself (lib.sh's
# header shows its shape), and so is a progs/NAME.c, built into $HE_BIN/NAME
# with gcc -O1 -Wall -Wextra -Werror.
#
# The script re-executes itself in a private network and mount namespace
# (unshare -nm as root, unshare -rnm otherwise), where lab.sh builds a
# two-namespace network, a private /etc/hosts and the servers.  Nothing
# outside those namespaces is touched, and nothing leaves them.

set -u
export LC_ALL=C

HE_IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export HE_IT_DIR

skip() {
    echo "SKIP: $*"
    exit 77
}

# ---------------------------------------------------------------- outside

if [ -z "${HE_IT_INSIDE:-}" ]; then
    HE_LIB=${HE_LIB:-$HE_IT_DIR/../../build/libhe.so}
    if [ ! -f "$HE_LIB" ]; then
        echo "run.sh: library under test not found: $HE_LIB (build it, or set HE_LIB)" >&2
        exit 2
    fi
    HE_LIB=$(realpath "$HE_LIB")
    HE_HISTORY_CLI=${HE_HISTORY_CLI:-$(dirname "$HE_LIB")/he-history}
    export HE_LIB HE_HISTORY_CLI HE_IT_INSIDE=1
    if [ "$(id -u)" -eq 0 ]; then
        flags=-nm
    else
        flags=-rnm
    fi
    unshare "$flags" true 2>/dev/null ||
        skip "cannot create private network+mount namespaces (unshare $flags failed)"
    exec unshare "$flags" -- /bin/bash "$HE_IT_DIR/run.sh" "$@"
fi

# ---------------------------------------------------------------- inside

HE_EXEC=()
if [ "${1:-}" = --exec ]; then
    shift
    HE_EXEC=("$@")
    [ ${#HE_EXEC[@]} -gt 0 ] || HE_EXEC=(bash)
    set --
fi
HE_PATTERN=${1:-}
export HE_PATTERN

for tool in ip iptables ip6tables gcc timeout getent /usr/bin/python3; do
    command -v "$tool" >/dev/null || skip "$tool not installed"
done

# What LD_PRELOAD gets.  A sanitized libhe needs its sanitizer runtime
# loaded first, before the (uninstrumented) program's own libraries.
HE_SAN_RT=$(ldd "$HE_LIB" 2>/dev/null | awk '$1 ~ /^lib[at]san\.so/ { print $3; exit }')
HE_PRELOAD=${HE_SAN_RT:+$HE_SAN_RT }$HE_LIB
export HE_PRELOAD
case ${HE_SAN:-} in
'') ;;
asan)
    # The interpreters and ssh leak by design; only libhe's errors count.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
    ;;
tsan) ;;
*)
    echo "run.sh: unknown HE_SAN '$HE_SAN'" >&2
    exit 2
    ;;
esac
if [ -n "${HE_SAN:-}" ] && [ -z "$HE_SAN_RT" ]; then
    echo "run.sh: HE_SAN=$HE_SAN but $HE_LIB links no sanitizer runtime" >&2
    exit 2
fi

HE_WORK=$(mktemp -d /tmp/libhe-it.XXXXXX) || exit 1
HE_BIN=$HE_WORK/bin
HE_RESULTS=$HE_WORK/results
export HE_WORK HE_BIN HE_RESULTS
: >"$HE_RESULTS"

# shellcheck source=lab.sh
. "$HE_IT_DIR/lab.sh"

cleanup() {
    lab_teardown
    if [ "${HE_IT_KEEP:-0}" = 1 ]; then
        echo "scratch directory kept: $HE_WORK" >&2
    else
        rm -rf "$HE_WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Builds each progs/NAME.c into $HE_BIN/NAME.
build_progs() {
    local src
    mkdir -p "$HE_BIN"
    for src in "$HE_IT_DIR"/progs/*.c; do
        gcc -O1 -Wall -Wextra -Werror -o "$HE_BIN/$(basename "$src" .c)" "$src" ||
            {
                echo "run.sh: cannot compile $src" >&2
                exit 1
            }
    done
}

# The library's identity, to notice a rebuild under our feet: the results
# of a run that straddles one mean little.
lib_stamp() {
    stat -L -c '%s %Y' "$HE_LIB" 2>/dev/null
}

build_progs
lib_stamp_start=$(lib_stamp)
lab_setup
export LAB_LOG_DIR

if [ ${#HE_EXEC[@]} -gt 0 ]; then
    "${HE_EXEC[@]}"
    exit
fi

for t in "$HE_IT_DIR"/t_*.sh; do
    /bin/bash "$t" ||
        echo "FAIL $(basename "$t" .sh): test file exited with status $?" | tee -a "$HE_RESULTS"
done

if [ "$(lib_stamp)" != "$lib_stamp_start" ]; then
    echo "run.sh: WARNING: $HE_LIB changed during the run; rerun for meaningful results" >&2
fi

passed=$(grep -c '^PASS' "$HE_RESULTS")
failed=$(grep -c '^FAIL' "$HE_RESULTS")
echo "$passed passed, $failed failed"
if [ "$((passed + failed))" -eq 0 ]; then
    echo "run.sh: no case matched '$HE_PATTERN'" >&2
    exit 1
fi
[ "$failed" -eq 0 ]

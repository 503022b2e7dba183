#!/bin/bash
# Out of descriptors (the promise "it stays bounded": at EMFILE it stops
# racing): with room for the caller's socket only, libhe cannot open a
# sibling, so it stops racing and the caller's own attempt goes on: the
# result is the kernel's, as without libhe.
# progs/emfile.c connects with a 600 ms SO_SNDTIMEO to dead4.test's first
# (dead) address.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

emfile_case() {
    he_run "$@" "$HE_BIN/emfile" dead4.test "$LAB_PORT_WHOAMI"
    expect_rc 1
    expect_result EINPROGRESS 580 1000
    expect_under_ms 1500
    expect_log_quiet whoami
}
he_case emfile/no-sibling emfile_case
he_case emfile/no-sibling-plain emfile_case --plain

#!/bin/bash
# The race against the thread's and the process's life: pthread_cancel in
# the middle of a race, and fork while another thread is inside libhe
# (the promises "it never leaks an fd or a socket" and "it survives fork").
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

# Cancelled at 400 ms, a sibling started at 250 ms: it must be closed, and
# the caller's socket blocking again, as without libhe.
lifecycle_cancel() {
    he_run "$@" "$HE_BIN/cancel_race" alldead.test "$LAB_PORT_WHOAMI"
    expect_no_fdleak
    expect_rc 0
    grep -q "nonblock=0" <<<"$HE_OUT" || he_fail "socket left non-blocking; $(he_ctx)"
}
# Not under AddressSanitizer: cancellation unwinds instrumented frames
# without their epilogues, and gcc 12's ASan then reports the stale redzones
# (even its own __asan_handle_no_return does), a known false positive.
if [ "${HE_SAN:-}" != asan ]; then
    he_case lifecycle/cancel-mid-race lifecycle_cancel
    he_case lifecycle/cancel-mid-race-plain lifecycle_cancel --plain
fi

# Forks while another thread is in bind(): no child inherits a held lock.
lifecycle_fork_bind() {
    he_run "$HE_BIN/fork_bind" 1000
    expect_rc 0
    grep -q "hung=0" <<<"$HE_OUT" || he_fail "a child hung; $(he_ctx)"
}
# Not under AddressSanitizer: there a forked child now and then hangs in a
# futex with every signal unblocked -- inside the sanitizer runtime, not in
# libhe's lock, which is only ever waited for with all signals blocked.
if [ "${HE_SAN:-}" != asan ]; then
    he_case lifecycle/fork-while-binding-threads lifecycle_fork_bind
fi

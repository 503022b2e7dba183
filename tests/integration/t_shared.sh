#!/bin/bash
# An address two names share (RELIABILITY 7): the name this thread resolved
# most recently decides which siblings are raced; when the thread resolved
# neither, libhe does not race.  198.51.100.20 belongs to dead4.test (with
# the live .10) and to alldead.test (with the dead .21).
#
# The python3 client resolves names (in this thread, or each in a thread of
# its own), then connects a blocking socket with SO_SNDTIMEO 600 ms to
# 198.51.100.20 and prints "connected" and the server's reply, or the errno
# name.  Without a race, 600 ms pass and connect() fails with EINPROGRESS.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

PY='
import errno, socket, struct, sys, threading
how, names = sys.argv[1], sys.argv[2:]
port = int(names.pop())
def resolve(name):
    socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)
if how == "threads":
    for name in names:
        t = threading.Thread(target=resolve, args=(name,))
        t.start()
        t.join()
else:
    for name in names:
        resolve(name)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 600000))
try:
    s.connect(("198.51.100.20", port))
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
    sys.exit(1)
print("connected")
sys.stdout.write(s.recv(4096).decode())
'

shared_run() { he_run /usr/bin/python3 -c "$PY" "$@" "$LAB_PORT_WHOAMI"; }

# alldead.test, then dead4.test: dead4.test's siblings, so .10 wins.
shared_case_recent_wins() {
    shared_run here alldead.test dead4.test
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    expect_over_ms $((HE_DELAY_MS * 9 / 10))
    expect_under_ms "$HE_RACE_MS"
}
he_case shared/recent-wins shared_case_recent_wins

# dead4.test, then alldead.test: alldead.test's siblings (.21, dead), so
# nothing connects before SO_SNDTIMEO.
shared_case_recent_wins_reverse() {
    shared_run here dead4.test alldead.test
    expect_rc 1
    [ "$HE_OUT" = EINPROGRESS ] || he_fail "wanted EINPROGRESS; $(he_ctx)"
    expect_log_quiet whoami
    expect_under_ms 1500
}
he_case shared/recent-wins-reverse shared_case_recent_wins_reverse

# Each name resolved by another thread: ambiguous for this one, no race.
shared_case_ambiguous() {
    shared_run threads dead4.test alldead.test
    expect_rc 1
    [ "$HE_OUT" = EINPROGRESS ] || he_fail "wanted EINPROGRESS (no race); $(he_ctx)"
    expect_log_quiet whoami
    expect_under_ms 1500
}
he_case shared/ambiguous-elsewhere shared_case_ambiguous

# Only one name holds the address: raced whichever thread resolved it.
shared_case_other_thread_unique() {
    shared_run threads dead4.test
    expect_rc 0
    expect_reached "$HE_LIVE"
    expect_log_count whoami 1
    expect_under_ms "$HE_RACE_MS"
}
he_case shared/unique-other-thread shared_case_other_thread_unique

#!/bin/bash
# An address two names share (README, "How it works", name memory): the
# name this thread resolved most recently decides which siblings are raced;
# when the thread resolved neither, libhe does not race, unless the names
# are aliases (the same addresses).  198.51.100.20 belongs to dead4.test
# (with the live .10), to dead3x.test (with .21, .22 and .10) and to
# alldead.test (with the dead .21).
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

# Several threads, each running the steps given to it in order: "T:resolve:
# NAME" (getaddrinfo, AF_INET) or "T:connect" (the blocking SO_SNDTIMEO
# 600 ms connect to 198.51.100.20 above), one step at a time across all
# threads.  Each connect prints "T reached ADDR" or "T ERRNO".
PY_STEPS='
import errno, queue, socket, struct, sys, threading
port, steps = int(sys.argv[1]), sys.argv[2:]
queues = {}
def serve(q):
    for fn, done in iter(q.get, None):
        fn()
        done.set()
def run(who, fn):
    if who not in queues:
        queues[who] = queue.Queue()
        threading.Thread(target=serve, args=(queues[who],)).start()
    done = threading.Event()
    queues[who].put((fn, done))
    done.wait()
def resolve(name):
    socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)
def connect(who):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 600000))
    try:
        s.connect(("198.51.100.20", port))
        print(who, s.recv(4096).decode().strip(), flush=True)
    except OSError as e:
        print(who, errno.errorcode.get(e.errno, e.errno), flush=True)
    s.close()
for step in steps:
    who, op, *arg = step.split(":")
    run(who, (lambda n=arg[0]: resolve(n)) if op == "resolve" else (lambda w=who: connect(w)))
for q in queues.values():
    q.put(None)
'

steps_run() { he_run /usr/bin/python3 -c "$PY_STEPS" "$LAB_PORT_WHOAMI" "$@"; }

expect_line() {
    grep -qxF "$1" <<<"$HE_OUT" || he_fail "wanted the line '$1'; $(he_ctx)"
}

# Reproducer: thread A resolves dead4.test; thread B resolves dead3x.test
# (which shares the dead .20) and then dead4.test.  dead4.test's record then
# named only B as its resolver, so A found no name of its own for .20 and
# its connect was not raced (a full SYN timeout in a real program).  The
# name A resolved most recently is dead4.test, whoever resolved it since.
shared_case_interleaved() {
    steps_run A:resolve:dead4.test B:resolve:dead3x.test B:resolve:dead4.test A:connect B:connect
    expect_rc 0
    expect_line "A reached $HE_LIVE"
    expect_line "B reached $HE_LIVE"
    expect_log_count whoami 2
    expect_under_ms 3000
}
he_case shared/interleaved-resolvers shared_case_interleaved

# The same order, but B's last name is alldead.test: A's connect races
# dead4.test's siblings, B's races alldead.test's (all dead: the timeout).
shared_case_interleaved_own() {
    steps_run A:resolve:dead4.test B:resolve:dead4.test B:resolve:alldead.test A:connect B:connect
    expect_rc 0
    expect_line "A reached $HE_LIVE"
    expect_line "B EINPROGRESS"
    expect_log_count whoami 1
    expect_under_ms 3000
}
he_case shared/interleaved-own-name shared_case_interleaved_own

# Aliases: dead4.test (/etc/hosts) and dead4.dns.test (the lab's DNS) hold
# the same addresses.  Each is resolved by a thread of its own, and a third
# thread, which resolved neither, connects: racing either name races the
# same siblings, so the address is not ambiguous and the connect is raced.
shared_case_aliases() {
    steps_run A:resolve:dead4.test B:resolve:dead4.dns.test C:connect
    expect_rc 0
    expect_line "C reached $HE_LIVE"
    expect_log_count whoami 1
}
dns_case shared/aliases shared_case_aliases

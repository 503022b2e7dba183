#!/bin/bash
# The promise "libhe never writes to or closes an fd it does not own".  A
# python3 client closes every fd above 2 (as closefrom(3) does) before
# anything else, opens a file on the lowest free number and writes known
# bytes to it, then connects to dead4.test (a race, spliced) with libhe
# logging at debug level to another file.  Then it closes everything above
# 2 again -- now after libhe has initialised and raced, so any fd libhe kept
# is gone -- opens a second file and races again.  Both files must hold
# exactly the bytes written, still be open on the same numbers with the same
# offsets, and both connects must reach the live address.
# shellcheck source=lib.sh
. "$HE_IT_DIR/lib.sh"

PY='
import os, socket, sys
os.closerange(3, 65536)
work, port = sys.argv[1], int(sys.argv[2])

def opened(name, data):
    path = os.path.join(work, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data)
    return fd, path, data

def race():
    s = socket.create_connection(("dead4.test", port))
    reply = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    sys.stdout.write(reply.decode())
    sys.stdout.flush()

def check(fd, path, data):
    st = os.fstat(fd)
    if st.st_ino != os.stat(path).st_ino:
        sys.exit("fd %d no longer holds %s" % (fd, path))
    if os.lseek(fd, 0, os.SEEK_CUR) != len(data):
        sys.exit("fd %d offset moved" % fd)
    with open(path, "rb") as f:
        if f.read() != data:
            sys.exit("%s changed" % path)
    print("intact fd=%d" % fd)

one = opened("one", bytes(range(256)) * 16)
race()
check(*one)
os.closerange(3, 65536)
two = opened("two", b"libhe must not touch this\n" * 100)
race()
check(*two)
'

closefrom_case() {
    local log=$HE_CASE_DIR/libhe.log
    he_run --env HE_LOG=debug --env "HE_LOG_FILE=$log" \
        /usr/bin/python3 -c "$PY" "$HE_CASE_DIR" "$LAB_PORT_WHOAMI"
    expect_rc 0
    [ "$(grep -cxF "reached $HE_LIVE" <<<"$HE_OUT")" -eq 2 ] ||
        he_fail "wanted two 'reached $HE_LIVE' lines; $(he_ctx)"
    [ "$(grep -cx 'intact fd=3' <<<"$HE_OUT")" -eq 2 ] || he_fail "a file was disturbed; $(he_ctx)"
    expect_log_count whoami 2
    [ -z "$HE_ERR" ] || he_fail "libhe wrote to stderr despite HE_LOG_FILE; $(he_ctx)"
    [ "$(grep -c 'race dead4.test: winner' "$log" 2>/dev/null)" -eq 2 ] ||
        he_fail "wanted two races in $log: '$(he_oneline "$(cat "$log" 2>/dev/null)")'"
    expect_under_ms $((2 * HE_RACE_MS))
}
he_case closefrom/dead4 closefrom_case

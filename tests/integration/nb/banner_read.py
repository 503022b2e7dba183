# python3 banner_read.py NAME PORT TIMEOUT
# A client of a server-first protocol (SSH, SMTP, ...), as most are
# written: socket.create_connection((NAME, PORT)) without a timeout
# (getaddrinfo, then a blocking connect() to each address in turn until
# one connects), then the server's first line, read with a timeout of
# TIMEOUT seconds (settimeout after the connect).  Prints
#   connect_ms=N              create_connection alone
#   peer ADDR                 getpeername() of the connected socket
#   banner LINE | eof | timeout | error ERRNO   (ERRNO's name: ECONNRESET)
#   banner_ms=N               from before create_connection to the end of
#                             the read
# (or "error ERRNO" alone if no address connected).  Exit 0 for a banner
# line, 1 otherwise.
import errno
import socket
import sys
import time

name, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t0 = time.monotonic()


def ms():
    return int((time.monotonic() - t0) * 1000)


try:
    s = socket.create_connection((name, port))
except OSError as e:
    print("connect_ms=%d" % ms())
    print("error %s" % errno.errorcode.get(e.errno, e.errno))
    sys.exit(1)
print("connect_ms=%d" % ms())
peer = s.getpeername()[0]
print("peer " + (peer[7:] if peer.startswith("::ffff:") else peer), flush=True)
s.settimeout(timeout)
data = b""
outcome = None
try:
    while b"\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            outcome = "eof"
            break
        data += chunk
except socket.timeout:
    outcome = "timeout"
except OSError as e:
    outcome = "error %s" % errno.errorcode.get(e.errno, e.errno)
if b"\n" in data:
    outcome = "banner " + data.split(b"\n")[0].decode("ascii", "replace").strip()
print(outcome)
print("banner_ms=%d" % ms(), flush=True)
s.close()
sys.exit(0 if outcome.startswith("banner ") else 1)
